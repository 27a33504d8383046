#!/usr/bin/python3
"""A stand-in for grpcurl (github.com/fullstorydev/grpcurl), for tests.

grpcurl is not packaged for Debian, so the tests that check docs/grpcurl.md run its commands with
this instead. It takes the part of grpcurl's command line those commands use, and like grpcurl
it knows no .proto file: every service, method and message comes from the server's reflection
service (grpc.reflection.v1alpha, or v1), as FileDescriptorProtos that are loaded into a
descriptor pool; requests are parsed from JSON and responses printed as JSON with protobuf's
JSON mapping (lowerCamelCase names, enums by name, 64-bit integers as strings, default values
left out unless -emit-defaults).

    grpcurl.py [flags] ADDRESS list [SERVICE]
    grpcurl.py [flags] ADDRESS describe [SYMBOL]
    grpcurl.py [flags] ADDRESS SERVICE/METHOD      (or SERVICE.METHOD)

Flags (one or two dashes, "-flag value" or "-flag=value", before the address as in grpcurl):
    -plaintext           no TLS
    -d DATA              the request as JSON; "@" reads it from stdin. Several JSON objects one
                         after another are several requests (client streaming is not supported,
                         so a unary or server-streaming method takes at most one)
    -H 'NAME: VALUE'     a header (metadata) for every call, reflection included; repeatable
    -max-time SECONDS    deadline for the whole operation
    -connect-timeout SECONDS  (default 10)
    -emit-defaults       print fields that hold their default value too
    -cacert FILE, -cert FILE, -key FILE   TLS: the CA to trust, the client certificate and key
    -authority NAME, -servername NAME     the name the server's certificate must carry

Output and exit codes follow grpcurl's: a response (each message of a stream) as indented JSON
on stdout; a gRPC error as "ERROR:\\n  Code: <Name>\\n  Message: <details>" on stderr and exit
64 + the status code; a usage error exit 2; a failure before the call (cannot connect, unknown
service or method, bad request JSON) a message on stderr and exit 1.

Needs only Debian's python3-grpcio and python3-protobuf (run it with /usr/bin/python3).
"""
import json
import sys
import time

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

USAGE = """usage: grpcurl.py [flags] ADDRESS (list [SERVICE] | describe [SYMBOL] | SERVICE/METHOD)
flags: -plaintext -d DATA|@ -H 'NAME: VALUE' -max-time S -connect-timeout S -emit-defaults
       -cacert FILE -cert FILE -key FILE -authority NAME -servername NAME
(a subset of grpcurl's command line; see the docstring of tests/tools/grpcurl.py)"""

BOOL_FLAGS = {"plaintext", "emit-defaults"}
VALUE_FLAGS = {"d", "H", "max-time", "connect-timeout", "cacert", "cert", "key", "authority",
               "servername"}


class Failure(Exception):
    """Something went wrong before or around a call: printed, exit 1."""


class Usage(Exception):
    """A bad command line: printed with the usage, exit 2."""


# ------------------------------------------------------------------------ the command line

def parse_args(argv):
    opts = {"H": [], "connect-timeout": "10"}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg in ("-", "--"):
            if arg == "--":
                i += 1
            break
        name, has_value, value = arg.lstrip("-").partition("=")
        if name in ("h", "help"):
            print(USAGE)
            sys.exit(0)
        if name in BOOL_FLAGS:
            if has_value and value not in ("true", "false"):
                raise Usage(f"invalid boolean value {value!r} for flag -{name}")
            opts[name] = value != "false"
        elif name in VALUE_FLAGS:
            if not has_value:
                i += 1
                if i >= len(argv):
                    raise Usage(f"flag needs an argument: -{name}")
                value = argv[i]
            if name == "H":
                opts["H"].append(value)
            else:
                opts[name] = value
        else:
            raise Usage(f"flag provided but not defined: -{name}")
        i += 1
    rest = argv[i:]
    if not rest:
        raise Usage("too few arguments")
    address, rest = rest[0], rest[1:]
    if not rest:
        raise Usage("too few arguments")
    verb = rest[0]
    if verb in ("list", "describe"):
        if len(rest) > 2:
            raise Usage(f"too many arguments for {verb}")
        return opts, address, verb, (rest[1] if len(rest) == 2 else None)
    if len(rest) > 1:
        raise Usage("too many arguments")
    return opts, address, "invoke", verb


def seconds(opts, name):
    if name not in opts:
        return None
    try:
        value = float(opts[name])
    except ValueError:
        raise Usage(f"invalid value {opts[name]!r} for flag -{name}") from None
    if value <= 0:
        raise Usage(f"the value of -{name} must be positive")
    return value


def metadata_of(opts):
    headers = []
    for h in opts["H"]:
        name, colon, value = h.partition(":")
        if not colon or not name.strip():
            raise Usage(f"header {h!r} is not 'NAME: VALUE'")
        headers.append((name.strip().lower(), value.strip()))
    return headers


def open_channel(opts, address):
    authority = opts.get("authority") or opts.get("servername")
    options = [("grpc.ssl_target_name_override", authority)] if authority else []
    if opts.get("plaintext"):
        if any(k in opts for k in ("cacert", "cert", "key")):
            raise Usage("-plaintext does not go with -cacert, -cert or -key")
        return grpc.insecure_channel(address, options=options)
    if ("cert" in opts) != ("key" in opts):
        raise Usage("-cert and -key go together")

    def read(name):
        if name not in opts:
            return None
        try:
            with open(opts[name], "rb") as f:
                return f.read()
        except OSError as e:
            raise Failure(f"Failed to read {opts[name]}: {e.strerror}") from None

    creds = grpc.ssl_channel_credentials(root_certificates=read("cacert"),
                                         private_key=read("key"),
                                         certificate_chain=read("cert"))
    return grpc.secure_channel(address, creds, options=options)


# ------------------------------------------------------------------------ reflection

def reflection_file():
    """grpc/reflection/v1alpha/reflection.proto (the part this client sends and reads), built as
    a FileDescriptorProto: no generated code. v1 is the same with another package."""
    f = descriptor_pb2.FileDescriptorProto(name="strand_grpcurl_reflection.proto",
                                           package="reflection", syntax="proto3")
    T = descriptor_pb2.FieldDescriptorProto

    def message(name, *fields):
        m = f.message_type.add(name=name)
        for fname, number, ftype, label, type_name, oneof in fields:
            fd = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                fd.type_name = ".reflection." + type_name
            if oneof is not None:
                if not m.oneof_decl:
                    m.oneof_decl.add(name="message")
                fd.oneof_index = 0
        return m

    opt, rep = T.LABEL_OPTIONAL, T.LABEL_REPEATED
    message("Request",
            ("host", 1, T.TYPE_STRING, opt, None, None),
            ("file_by_filename", 3, T.TYPE_STRING, opt, None, 0),
            ("file_containing_symbol", 4, T.TYPE_STRING, opt, None, 0),
            ("list_services", 7, T.TYPE_STRING, opt, None, 0))
    message("FileDescriptorResponse", ("file_descriptor_proto", 1, T.TYPE_BYTES, rep, None, None))
    message("ServiceResponse", ("name", 1, T.TYPE_STRING, opt, None, None))
    message("ListServiceResponse",
            ("service", 1, T.TYPE_MESSAGE, rep, "ServiceResponse", None))
    message("ErrorResponse",
            ("error_code", 1, T.TYPE_INT32, opt, None, None),
            ("error_message", 2, T.TYPE_STRING, opt, None, None))
    message("Response",
            ("valid_host", 1, T.TYPE_STRING, opt, None, None),
            ("file_descriptor_response", 4, T.TYPE_MESSAGE, opt, "FileDescriptorResponse", 0),
            ("list_services_response", 6, T.TYPE_MESSAGE, opt, "ListServiceResponse", 0),
            ("error_response", 7, T.TYPE_MESSAGE, opt, "ErrorResponse", 0))
    return f


def message_class(desc):
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(desc.file.pool).GetPrototype(desc)


class Reflection:
    """The server's descriptors, fetched on demand through its reflection service."""

    METHODS = ["/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
               "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"]

    def __init__(self, channel, metadata, deadline):
        own = descriptor_pool.DescriptorPool()
        own.Add(reflection_file())
        self.Request = message_class(own.FindMessageTypeByName("reflection.Request"))
        self.Response = message_class(own.FindMessageTypeByName("reflection.Response"))
        self.channel, self.metadata, self.deadline = channel, metadata, deadline
        self.method = None          # the reflection method the server answers
        self.pool = descriptor_pool.DescriptorPool()
        self.files = {}             # name -> FileDescriptorProto, fetched
        self.added = set()          # names added to self.pool

    def ask(self, **request):
        """One request on its own stream (the server answers each in order anyway)."""
        methods = [self.method] if self.method else self.METHODS
        for i, method in enumerate(methods):
            call = self.channel.stream_stream(method,
                                              request_serializer=lambda m: m.SerializeToString(),
                                              response_deserializer=self.Response.FromString)
            try:
                responses = list(call(iter([self.Request(**request)]), metadata=self.metadata,
                                      timeout=self.deadline.remaining()))
            except grpc.RpcError as e:
                if e.code() == grpc.StatusCode.UNIMPLEMENTED and i + 1 < len(methods):
                    continue  # an older server: v1alpha only
                if e.code() == grpc.StatusCode.UNIMPLEMENTED:
                    raise Failure("server does not support the reflection API") from None
                raise
            self.method = method
            if not responses:
                raise Failure("the reflection service sent no answer")
            return responses[0]
        raise AssertionError("unreachable")

    def services(self):
        r = self.ask(list_services="*")
        if r.HasField("error_response"):
            raise Failure(f"reflection: {r.error_response.error_message}")
        return sorted(s.name for s in r.list_services_response.service)

    def _take(self, response):
        if response.HasField("error_response"):
            return False
        for raw in response.file_descriptor_response.file_descriptor_proto:
            fd = descriptor_pb2.FileDescriptorProto.FromString(raw)
            self.files.setdefault(fd.name, fd)
        return True

    def _add(self, name, seen=()):
        if name in self.added:
            return
        if name not in self.files:
            if not self._take(self.ask(file_by_filename=name)):
                raise Failure(f"reflection: the server does not know file {name!r}")
        fd = self.files[name]
        for dep in fd.dependency:
            if dep in seen:
                raise Failure(f"reflection: import cycle through {dep!r}")
            self._add(dep, seen + (name,))
        self.pool.Add(fd)
        self.added.add(name)

    def load_symbol(self, symbol):
        """Loads the file defining SYMBOL (and its imports); False when the server knows none."""
        r = self.ask(file_containing_symbol=symbol)
        if not self._take(r):
            return False
        # The file that defines the symbol: the first one the server sent that declares it.
        for raw in r.file_descriptor_response.file_descriptor_proto:
            self._add(descriptor_pb2.FileDescriptorProto.FromString(raw).name)
        return True

    def find(self, symbol):
        """(kind, descriptor) for a service, method, message or enum name, or None."""
        symbol = symbol.lstrip(".")
        candidates = [symbol]
        if "." in symbol:
            candidates.append(symbol.rsplit(".", 1)[0])  # a method: its service
        for candidate in candidates:
            if self.load_symbol(candidate):
                break
        lookups = [("service", self.pool.FindServiceByName),
                   ("message", self.pool.FindMessageTypeByName),
                   ("enum", self.pool.FindEnumTypeByName)]
        for kind, lookup in lookups:
            try:
                return kind, lookup(symbol)
            except KeyError:
                pass
        if "." in symbol:
            service_name, method_name = symbol.rsplit(".", 1)
            try:
                service = self.pool.FindServiceByName(service_name)
            except KeyError:
                return None
            method = service.methods_by_name.get(method_name)
            if method is not None:
                return "method", method
        return None

    def method_proto(self, method):
        """The MethodDescriptorProto of a loaded method (its streaming flags)."""
        fd = self.files[method.containing_service.file.name]
        for service in fd.service:
            if service.name == method.containing_service.name:
                for m in service.method:
                    if m.name == method.name:
                        return m
        raise Failure(f"no descriptor for method {method.full_name}")


class Deadline:
    """The end of the whole operation (-max-time), for each call's timeout."""

    def __init__(self, max_time):
        self.end = None if max_time is None else time.monotonic() + max_time

    def remaining(self):
        if self.end is None:
            return None
        return max(0.001, self.end - time.monotonic())


# ------------------------------------------------------------------------ describe

SCALARS = {
    descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE: "double",
    descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT: "float",
    descriptor_pb2.FieldDescriptorProto.TYPE_INT64: "int64",
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT64: "uint64",
    descriptor_pb2.FieldDescriptorProto.TYPE_INT32: "int32",
    descriptor_pb2.FieldDescriptorProto.TYPE_FIXED64: "fixed64",
    descriptor_pb2.FieldDescriptorProto.TYPE_FIXED32: "fixed32",
    descriptor_pb2.FieldDescriptorProto.TYPE_BOOL: "bool",
    descriptor_pb2.FieldDescriptorProto.TYPE_STRING: "string",
    descriptor_pb2.FieldDescriptorProto.TYPE_BYTES: "bytes",
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT32: "uint32",
    descriptor_pb2.FieldDescriptorProto.TYPE_SFIXED32: "sfixed32",
    descriptor_pb2.FieldDescriptorProto.TYPE_SFIXED64: "sfixed64",
    descriptor_pb2.FieldDescriptorProto.TYPE_SINT32: "sint32",
    descriptor_pb2.FieldDescriptorProto.TYPE_SINT64: "sint64",
}


def type_name(field):
    if field.message_type is not None:
        return "." + field.message_type.full_name
    if field.enum_type is not None:
        return "." + field.enum_type.full_name
    return SCALARS[field.type]


def field_line(field):
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        entry = field.message_type.fields_by_name
        key, value = entry["key"], entry["value"]
        return f"map<{type_name(key)}, {type_name(value)}> {field.name} = {field.number};"
    label = "repeated " if field.label == field.LABEL_REPEATED else ""
    return f"{label}{type_name(field)} {field.name} = {field.number};"


def describe_message(msg, indent=""):
    lines = [f"{indent}message {msg.name} {{"]
    inner = indent + "  "
    printed_oneofs = set()
    for field in sorted(msg.fields, key=lambda f: f.number):
        oneof = field.containing_oneof
        if oneof is not None:
            if oneof.name in printed_oneofs:
                continue
            printed_oneofs.add(oneof.name)
            lines.append(f"{inner}oneof {oneof.name} {{")
            for member in sorted(oneof.fields, key=lambda f: f.number):
                lines.append(f"{inner}  {field_line(member)}")
            lines.append(f"{inner}}}")
        else:
            lines.append(f"{inner}{field_line(field)}")
    for nested in msg.nested_types:
        if not nested.GetOptions().map_entry:
            lines.extend(describe_message(nested, inner))
    for enum in msg.enum_types:
        lines.extend(describe_enum(enum, inner))
    lines.append(f"{indent}}}")
    return lines


def describe_enum(enum, indent=""):
    lines = [f"{indent}enum {enum.name} {{"]
    for value in enum.values:
        lines.append(f"{indent}  {value.name} = {value.number};")
    lines.append(f"{indent}}}")
    return lines


def method_line(reflection, method):
    proto = reflection.method_proto(method)
    stream_in = "stream " if proto.client_streaming else ""
    stream_out = "stream " if proto.server_streaming else ""
    return (f"rpc {method.name} ( {stream_in}.{method.input_type.full_name} ) "
            f"returns ( {stream_out}.{method.output_type.full_name} );")


def describe(reflection, symbol):
    if symbol is None:
        out = []
        for name in reflection.services():
            out.extend(describe(reflection, name))
        return out
    found = reflection.find(symbol)
    if found is None:
        raise Failure(f"Symbol not found: {symbol}")
    kind, desc = found
    if kind == "service":
        lines = [f"{desc.full_name} is a service:", f"service {desc.name} {{"]
        for method in sorted(desc.methods, key=lambda m: m.name):
            lines.append("  " + method_line(reflection, method))
        return lines + ["}"]
    if kind == "method":
        return [f"{desc.full_name} is a method:", method_line(reflection, desc)]
    if kind == "message":
        return [f"{desc.full_name} is a message:"] + describe_message(desc)
    return [f"{desc.full_name} is an enum:"] + describe_enum(desc)


# ------------------------------------------------------------------------ invoke

def requests_from(data, message_cls, method_name):
    """The request messages in DATA: JSON objects one after another (none: one empty request)."""
    decoder = json.JSONDecoder()
    values, pos = [], 0
    while True:
        while pos < len(data) and data[pos].isspace():
            pos += 1
        if pos >= len(data):
            break
        try:
            value, pos = decoder.raw_decode(data, pos)
        except json.JSONDecodeError as e:
            raise Failure(f"Error invoking method \"{method_name}\": error getting request data: "
                          f"{e}") from None
        values.append(value)
    if not values:
        return [message_cls()]
    out = []
    for value in values:
        msg = message_cls()
        try:
            json_format.ParseDict(value, msg)
        except json_format.ParseError as e:
            raise Failure(f"Error invoking method \"{method_name}\": error getting request data: "
                          f"{e}") from None
        out.append(msg)
    return out


def print_message(msg, emit_defaults):
    text = json_format.MessageToJson(msg, including_default_value_fields=emit_defaults, indent=2)
    print(text, flush=True)


def invoke(reflection, target, opts, metadata, deadline):
    if "/" in target:
        service_name, _, method_name = target.rpartition("/")
    elif "." in target:
        service_name, _, method_name = target.rpartition(".")
    else:
        raise Failure(f"given method name \"{target}\" is not in expected format: "
                      "'service/method' or 'service.method'")
    service_name = service_name.lstrip(".")
    found = reflection.find(service_name)
    if found is None or found[0] != "service":
        raise Failure(f"Error invoking method \"{target}\": target server does not expose "
                      f"service \"{service_name}\"")
    service = found[1]
    method = service.methods_by_name.get(method_name)
    if method is None:
        raise Failure(f"Error invoking method \"{target}\": service \"{service_name}\" does not "
                      f"include a method named \"{method_name}\"")
    proto = reflection.method_proto(method)
    if proto.client_streaming:
        raise Failure(f"{method.full_name} is client streaming, which this tool does not call")
    data = opts.get("d", "")
    if data == "@":
        data = sys.stdin.read()
    request_cls = message_class(method.input_type)
    response_cls = message_class(method.output_type)
    requests = requests_from(data, request_cls, target)
    if len(requests) > 1:
        raise Failure(f"Error invoking method \"{target}\": method is not client-streaming but "
                      f"{len(requests)} request messages were given")
    path = f"/{service.full_name}/{method.name}"
    kwargs = dict(request_serializer=lambda m: m.SerializeToString(),
                  response_deserializer=response_cls.FromString)
    emit_defaults = bool(opts.get("emit-defaults"))
    if proto.server_streaming:
        call = reflection.channel.unary_stream(path, **kwargs)
        for response in call(requests[0], metadata=metadata, timeout=deadline.remaining()):
            print_message(response, emit_defaults)
    else:
        call = reflection.channel.unary_unary(path, **kwargs)
        print_message(call(requests[0], metadata=metadata, timeout=deadline.remaining()),
                      emit_defaults)


# ------------------------------------------------------------------------ main

def go_code_name(code):
    """grpc-go's name of a status code (grpcurl prints those): CANCELLED -> Canceled, ..."""
    if code == grpc.StatusCode.CANCELLED:
        return "Canceled"
    return "".join(part.capitalize() for part in code.name.split("_"))


def run(argv):
    try:
        opts, address, verb, arg = parse_args(argv)
        max_time = seconds(opts, "max-time")
        connect_timeout = seconds(opts, "connect-timeout")
        metadata = metadata_of(opts)
        channel = open_channel(opts, address)
    except Usage as e:
        print(e, file=sys.stderr)
        print(USAGE, file=sys.stderr)
        return 2
    except Failure as e:
        print(e, file=sys.stderr)
        return 1
    deadline = Deadline(max_time)
    try:
        wait = connect_timeout if max_time is None else min(connect_timeout, max_time)
        try:
            grpc.channel_ready_future(channel).result(timeout=wait)
        except grpc.FutureTimeoutError:
            raise Failure(f"Failed to dial target host \"{address}\": context deadline "
                          "exceeded") from None
        reflection = Reflection(channel, metadata, deadline)
        if verb == "list":
            if arg is None:
                names = reflection.services()
            else:
                found = reflection.find(arg)
                if found is None or found[0] != "service":
                    raise Failure(f"Failed to list methods for service \"{arg}\": Service not "
                                  f"found: {arg}")
                names = sorted(m.full_name for m in found[1].methods)
            for name in names:
                print(name)
        elif verb == "describe":
            for line in describe(reflection, arg):
                print(line)
        else:
            invoke(reflection, arg, opts, metadata, deadline)
        return 0
    except grpc.RpcError as e:
        sys.stdout.flush()
        print(f"ERROR:\n  Code: {go_code_name(e.code())}\n  Message: {e.details()}",
              file=sys.stderr)
        return 64 + e.code().value[0]
    except Failure as e:
        print(e, file=sys.stderr)
        return 1
    finally:
        channel.close()


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
