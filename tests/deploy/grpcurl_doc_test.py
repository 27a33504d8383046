#!/usr/bin/python3
"""Every grpcurl command of docs/grpcurl.md works, in order, on a real cluster (issue 14).

Starts 3 controllers and 3 brokers with scripts/local-cluster.sh (the cluster `make run` starts,
on other ports), takes every grpcurl command from the fenced code blocks of docs/grpcurl.md in
the order they appear, replaces the documented addresses (`make run`'s: base port 9090, so
controller i at 127.0.0.1:9090+i and broker 100+n at 127.0.0.1:9100+n) by this cluster's, and
runs each with bash, `grpcurl` being tests/tools/grpcurl.py (grpcurl is not packaged for
Debian; set GRPCURL=/path/to/grpcurl to run the real one instead). The address replacement is
the only change made to a command. The group commands go to the group's coordinator, which
depends on placement: the documented coordinator's address (from the sample output after the
FindCoordinator command) is replaced by the one FindCoordinator names here.
The commands for an mTLS cluster (those with -cacert and no -plaintext) run afterwards against
a cluster started with --tls, from a directory where .run is that cluster's directory, so that
their .run/certs/... paths name its certificates, as after `make run TLS=1`.

Every command must exit 0, and most must also answer what the doc says they do (the checks
below: the topic created is listed and described, the record produced comes back from
FetchRecords, the group committed to is listed and described with its lag, the reassigned
partition ends up led by its new preferred replica, the deleted topic is gone). A read that
depends on the cluster settling (leaders elected, the offsets topic created) is repeated until
it answers so, for a bounded time. The doc must contain commands, a command for every check
and at least one mTLS command. Then grpcurl.py's own error paths: an unknown method or request
field (exit 1), a gRPC error (grpcurl's "ERROR:" block, exit 64 + code), and a server-streaming
call (Health/Watch until -max-time).

Every cluster is stopped by the PIDs local-cluster.sh recorded (`down`), also when the test is
killed: a watchdog process does it then. Takes about 25 s.

Usage: grpcurl_doc_test.py SOURCE_DIR BIN_DIR
Prints "N passed, M failed" and exits 0 only when every check passed.
"""
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from cluster_env import read_cluster_env  # noqa: E402  (tests/tools)

BASE_PORTS = [24000, 24400, 24800]  # tried in turn; no other test uses 24000-25199
DOC_BASE_PORT = 9090                # make run's RUN_PORT, which docs/grpcurl.md uses
COMMAND_TIMEOUT_S = 30
SETTLE_S = 40                       # how long a read may take to show the settled state
CLUSTER_TIMEOUT_S = 90


# ------------------------------------------------------------------------ the doc

def doc_commands(path):
    """[(command text, sample output or None, line number)] from the fenced code blocks: a
    command starts at a line beginning with "grpcurl", goes on while lines end with a backslash,
    and through a here-document when it has one. The output block shown right after a block
    whose last item is a command is that command's sample. Any other line in a ```sh block is an
    error (the test would not run it)."""
    lines = open(path, encoding="utf-8").read().split("\n")
    blocks = []  # (info, [(line number, text)])
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        indent, info = m.group(1), m.group(2)
        body, i = [], i + 1
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            line = lines[i][len(indent):] if lines[i].startswith(indent) else lines[i]
            body.append((i + 1, line))
            i += 1
        blocks.append((info, body))
        i += 1
    commands, problems = [], []
    previous_was_commands = False
    for info, body in blocks:
        if not any(text.lstrip().startswith("grpcurl ") for _, text in body):
            if previous_was_commands and commands and commands[-1][1] is None:
                commands[-1] = (commands[-1][0], "\n".join(t for _, t in body), commands[-1][2])
            previous_was_commands = False
            continue
        j = 0
        while j < len(body):
            number, text = body[j]
            stripped = text.strip()
            if not stripped or stripped.startswith("#"):
                j += 1
                continue
            if not stripped.startswith("grpcurl "):
                problems.append(f"docs/grpcurl.md:{number}: not a grpcurl command: {stripped}")
                j += 1
                continue
            parts = [text]
            while parts[-1].rstrip().endswith("\\") and j + 1 < len(body):
                j += 1
                parts.append(body[j][1])
            heredoc = re.search(r"<<-?\s*'?\"?(\w+)'?\"?", parts[0])
            if heredoc:
                terminator = heredoc.group(1)
                while j + 1 < len(body):
                    j += 1
                    parts.append(body[j][1])
                    if body[j][1].strip() == terminator:
                        break
            commands.append(("\n".join(parts), None, number))
            j += 1
        previous_was_commands = True
    return commands, problems


def documented_address(port):
    return f"127.0.0.1:{port}"


class Addresses:
    """The documented addresses -> this cluster's."""

    def __init__(self, base):
        self.base = base
        self.overrides = {}  # documented "host:port" -> actual

    def __call__(self, command):
        def replace(m):
            documented = m.group(0)
            if documented in self.overrides:
                return self.overrides[documented]
            port = int(m.group(1))
            if DOC_BASE_PORT < port < DOC_BASE_PORT + 400:
                return f"127.0.0.1:{self.base + port - DOC_BASE_PORT}"
            return documented
        return re.sub(r"127\.0\.0\.1:(\d+)", replace, command)


# ------------------------------------------------------------------------ checks per command

def as_json(out):
    """The JSON messages grpcurl printed, one after another."""
    decoder, values, pos = json.JSONDecoder(), [], 0
    while True:
        while pos < len(out) and out[pos].isspace():
            pos += 1
        if pos >= len(out):
            return values
        value, pos = decoder.raw_decode(out, pos)
        values.append(value)


def one(out):
    values = as_json(out)
    if len(values) != 1:
        raise AssertionError(f"expected one JSON message, got {len(values)}")
    return values[0]


def no_error(item, what):
    err = item.get("error") or {}
    if err.get("code", 0) != 0:
        raise AssertionError(f"{what}: error {err.get('name')}: {err.get('message')}")


def require(condition, message):
    if not condition:
        raise AssertionError(message)


class Context:
    def __init__(self):
        self.topic = None          # the topic CreateTopics made
        self.produced = []         # (partition, offset, key, value) of ProduceRecords
        self.group = None
        self.reassigned = {}       # (topic, partition) -> target replicas
        self.deleted_topics = []


def check_list(cmd, out, ctx):
    names = out.split()
    for s in ("grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
              "strand.admin.v1.AdminService", "strand.group.v1.GroupService"):
        require(s in names, f"{s} not listed")


def check_list_service(cmd, out, ctx):
    service = shlex.split(cmd)[-1]
    methods = out.split()
    require(methods and all(m.startswith(service + ".") for m in methods),
            f"methods of {service} expected, got {methods}")


def check_describe(cmd, out, ctx):
    symbol = shlex.split(cmd)[-1]
    require(out.startswith(f"{symbol} is a"), f"no '{symbol} is a ...' line")
    if "is a service" in out.split("\n")[0]:
        require("  rpc " in out, "a service without rpc lines")
    if "is a message" in out.split("\n")[0]:
        require(re.search(r"^  \S.* = \d+;$", out, re.M), "a message without fields")


def check_health(cmd, out, ctx):
    require(one(out).get("status") == "SERVING", "status is not SERVING")


def check_describe_cluster(cmd, out, ctx):
    c = one(out)
    no_error(c, "DescribeCluster")
    require(c.get("activeController", -1) > 0, "no active controller")
    require(len(c.get("controllers", [])) == 3, "not 3 controllers")
    states = [b.get("state") for b in c.get("brokers", [])]
    require(states == ["RUNNING"] * 3, f"brokers not all RUNNING: {states}")


def check_create_topics(cmd, out, ctx):
    topics = one(out).get("topics", [])
    require(topics, "no topic results")
    for t in topics:
        no_error(t, f"topic {t.get('name')}")
        require(t.get("topicId"), f"topic {t.get('name')} has no id")
    ctx.topic = ctx.topic or topics[0]["name"]


def check_list_topics(cmd, out, ctx):
    names = [t.get("name") for t in one(out).get("topics", [])]
    require(ctx.topic in names, f"{ctx.topic} not in {names}")


def check_describe_topics(cmd, out, ctx):
    topics = one(out).get("topics", [])
    mine = [t for t in topics if t.get("name") == ctx.topic]
    require(mine, f"{ctx.topic} not described")
    no_error(mine[0], ctx.topic)
    partitions = mine[0].get("partitions", [])
    require(partitions, "no partitions")
    for p in partitions:
        n = p.get("partition", 0)
        require(p.get("leader", -1) > 0, f"partition {n} has no leader")
        require(len(p.get("isr", [])) == len(p.get("replicas", [])) > 0,
                f"partition {n}: ISR {p.get('isr')} is not every replica {p.get('replicas')}")
        target = ctx.reassigned.get((ctx.topic, n))
        if target is not None:
            require(p.get("replicas") == target, f"partition {n}: replicas {p.get('replicas')}, "
                    f"not the reassignment's {target}")


def check_no_error(what):
    def check(cmd, out, ctx):
        no_error(one(out), what)
    return check


def check_describe_configs(cmd, out, ctx):
    configs = one(out).get("configs", [])
    dynamic = [c for c in configs if c.get("source") == "DYNAMIC_TOPIC_CONFIG"]
    require(dynamic, f"no DYNAMIC_TOPIC_CONFIG entry in {configs}")


def check_create_partitions(cmd, out, ctx):
    no_error(one(out), "CreatePartitions")


def check_produce(cmd, out, ctx):
    results = one(out).get("results", [])
    request = request_json(cmd)
    require(len(results) == len(request.get("records", [])), "not one result per record")
    for r, rec in zip(results, request["records"]):
        no_error(r, "a record")
        require(int(r.get("offset", "0")) >= 0, f"offset {r.get('offset')}")
        ctx.produced.append((r.get("partition", 0), int(r.get("offset", "0")),
                             rec.get("keyString"), rec.get("valueString")))


def check_fetch(cmd, out, ctx):
    request = request_json(cmd)
    m = one(out)
    no_error(m, "FetchRecords")
    got = {(r.get("partition", 0), int(r.get("offset", "0")), r.get("keyString"),
            r.get("valueString")) for r in m.get("records", [])}
    wanted = [p for p in ctx.produced if p[0] == request.get("partition", 0)]
    require(wanted, f"the doc produced nothing to partition {request.get('partition', 0)} "
            "before fetching it")
    missing = [p for p in wanted if p not in got]
    require(not missing, f"produced records not fetched: {missing}")


def check_find_coordinator(cmd, out, ctx):
    coordinators = one(out).get("coordinators", [])
    require(coordinators, "no coordinator")
    c = coordinators[0]
    no_error(c, "FindCoordinator")
    require(c.get("nodeId", -1) > 0 and c.get("port"), "no coordinator address")
    ctx.group = c.get("groupId")
    ctx.coordinator = f"{c.get('host')}:{c.get('port')}"


def check_offset_commit(cmd, out, ctx):
    m = one(out)
    no_error(m, "OffsetCommit")
    for t in m.get("topics", []):
        for p in t.get("partitions", []):
            no_error(p, f"{t.get('name')}-{p.get('partition', 0)}")


def check_list_groups(cmd, out, ctx):
    groups = [g.get("groupId") for g in one(out).get("groups", [])]
    require(ctx.group in groups, f"{ctx.group} not in {groups}")


def check_describe_groups(cmd, out, ctx):
    groups = one(out).get("groups", [])
    require(groups and groups[0].get("groupId") == ctx.group, f"{ctx.group} not described")
    no_error(groups[0], ctx.group)
    if request_json(cmd).get("includeOffsets"):
        offsets = groups[0].get("offsets", [])
        require(offsets, "no committed offsets")
        require(all(int(o.get("lag", "0")) >= 0 for o in offsets), f"unknown lag: {offsets}")


def check_offset_fetch(cmd, out, ctx):
    m = one(out)
    no_error(m, "OffsetFetch")
    offsets = [p for t in m.get("topics", []) for p in t.get("partitions", [])]
    require(offsets and all(int(p.get("offset", "-1")) >= 0 for p in offsets),
            f"no committed offset: {offsets}")


def check_offset_delete(cmd, out, ctx):
    check_offset_commit(cmd, out, ctx)


def check_delete_groups(cmd, out, ctx):
    groups = one(out).get("groups", [])
    require(groups, "no result")
    for g in groups:
        no_error(g, g.get("groupId"))


def check_reassign(cmd, out, ctx):
    results = one(out).get("results", [])
    require(results, "no results")
    for r in results:
        no_error(r, "reassignment")
    for ra in request_json(cmd).get("reassignments", []):
        p = ra.get("partition", {})
        ctx.reassigned[(p.get("topic"), p.get("partition", 0))] = ra.get("replicas")


def check_elect(cmd, out, ctx):
    results = one(out).get("results", [])
    require(results, "no results")
    for r in results:
        err = r.get("error") or {}
        require(err.get("code", 0) == 0 or err.get("name") == "ELECTION_NOT_NEEDED",
                f"election failed: {err}")


def check_delete_topics(cmd, out, ctx):
    topics = one(out).get("topics", [])
    require(topics, "no results")
    for t in topics:
        no_error(t, t.get("name"))
        ctx.deleted_topics.append(t.get("name"))


def request_json(cmd):
    """The JSON a command sends (-d '...', or the here-document of -d @)."""
    words = shlex.split(cmd.split("\n")[0].replace("\\", "")) if "<<" in cmd else shlex.split(cmd)
    if "-d" not in words:
        return {}
    data = words[words.index("-d") + 1]
    if data == "@":
        data = "\n".join(cmd.split("\n")[1:-1])
    return json.loads(data)


# (what, pattern on the command, check, repeat until it passes)
CHECKS = [
    ("list services", r" list\s*$", check_list, False),
    ("list a service's methods", r" list \S+\s*$", check_list_service, False),
    ("describe", r" describe \S+\s*$", check_describe, False),
    ("health check", r"grpc\.health\.v1\.Health/Check", check_health, True),
    ("describe cluster", r"AdminService/DescribeCluster", check_describe_cluster, True),
    ("create topics", r"AdminService/CreateTopics", check_create_topics, False),
    ("list topics", r"AdminService/ListTopics", check_list_topics, True),
    ("describe topics", r"AdminService/DescribeTopics", check_describe_topics, True),
    ("add partitions", r"AdminService/CreatePartitions", check_create_partitions, False),
    ("alter configs", r"AdminService/AlterConfigs", check_no_error("AlterConfigs"), False),
    ("describe configs", r"AdminService/DescribeConfigs", check_describe_configs, True),
    ("produce JSON records", r"BrokerService/ProduceRecords", check_produce, False),
    ("fetch JSON records", r"BrokerService/FetchRecords", check_fetch, True),
    ("find a group's coordinator", r"GroupService/FindCoordinator", check_find_coordinator,
     True),
    ("commit a group's offsets", r"GroupService/OffsetCommit", check_offset_commit, True),
    ("list groups", r"GroupService/ListGroups", check_list_groups, True),
    ("describe groups", r"GroupService/DescribeGroups", check_describe_groups, True),
    ("fetch a group's offsets", r"GroupService/OffsetFetch", check_offset_fetch, True),
    ("delete a group's offsets", r"GroupService/OffsetDelete", check_offset_delete, False),
    ("delete groups", r"GroupService/DeleteGroups", check_delete_groups, False),
    ("reassign partitions", r"AdminService/AlterPartitionReassignments", check_reassign, False),
    ("list reassignments", r"AdminService/ListPartitionReassignments",
     check_no_error("ListPartitionReassignments"), True),
    ("elect leaders", r"AdminService/ElectLeaders", check_elect, False),
    ("delete topics", r"AdminService/DeleteTopics", check_delete_topics, False),
]


def check_for(command):
    first = command.split("\n")[0]
    flat = command.replace("\\\n", " ")
    for what, pattern, check, repeat in CHECKS:
        if re.search(pattern, flat if "<<" not in command else first):
            return what, check, repeat
    return None, None, False


# ------------------------------------------------------------------------ the cluster

def ports_free(base):
    """PORT+1 .. PORT+399 can be bound (as the servers do: SO_REUSEADDR, so connections of an
    earlier cluster in TIME_WAIT do not count)."""
    for port in range(base + 1, base + 400):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True



class Cluster:
    """A local-cluster.sh cluster in DIR (its data, logs and, with TLS, certs/)."""

    def __init__(self, script, env, directory, tls=False):
        self.script, self.env, self.dir, self.tls = script, env, directory, tls
        self.base = None

    def up(self):
        last = None
        for base in BASE_PORTS:
            if not ports_free(base):
                last = f"ports {base + 1}-{base + 399} are not all free"
                continue
            up = subprocess.run([self.script, "up", "--controllers", "3", "--brokers", "3",
                                 "--dir", self.dir, "--base-port", str(base),
                                 "--timeout", str(CLUSTER_TIMEOUT_S)] +
                                (["--tls"] if self.tls else []),
                                env=self.env, capture_output=True, text=True,
                                timeout=CLUSTER_TIMEOUT_S + 60)
            if up.returncode == 0:
                self.base = base
                return read_cluster_env(os.path.join(self.dir, "cluster.env"))
            last = (f"local-cluster.sh up (base {base}) exit {up.returncode}:\n"
                    f"{up.stdout}{up.stderr}")
        raise RuntimeError(last)

    def down(self):
        """Stops the nodes by the PIDs in DIR/pids (nothing when it is not up)."""
        subprocess.run([self.script, "down", "--dir", self.dir], env=self.env,
                       capture_output=True, timeout=120)


def start_watchdog(script, env, top, dirs):
    """If this test dies without stopping its clusters (e.g. killed by ctest's timeout), runs
    local-cluster.sh down for DIRS (it signals the PIDs in each DIR/pids) and removes TOP, the
    test's temporary directory. Polls for this process for at most 15 min."""
    watch = ("for i in $(seq 900); do kill -0 \"$0\" 2>/dev/null || break; sleep 1; done; "
             "for d in \"${@:3}\"; do \"$1\" down --dir \"$d\" >/dev/null 2>&1; done; "
             "if ! kill -0 \"$0\" 2>/dev/null; then rm -rf \"$2\"; fi")
    return subprocess.Popen(["bash", "-c", watch, str(os.getpid()), script, top] + list(dirs),
                            env=env, start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ------------------------------------------------------------------------ main

class Results:
    def __init__(self):
        self.passed = self.failed = 0

    def ok(self, text):
        self.passed += 1
        print(f"ok   {text}", flush=True)

    def fail(self, text):
        self.failed += 1
        print(f"FAIL {text}", flush=True)


def run_shell(command, path_dir, timeout=COMMAND_TIMEOUT_S, cwd=None):
    env = dict(os.environ, PATH=f"{path_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    try:
        p = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=timeout, cwd=cwd)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        return -1, e.stdout or "", f"timed out after {timeout} s"


def is_tls(command):
    """A command for an mTLS cluster (`make run TLS=1`): it names the CA instead of -plaintext."""
    return "-cacert" in command and "-plaintext" not in command


def run_doc(commands, addresses, path_dir, results, cwd=None, coverage=True):
    ctx = Context()
    used = set()
    for text, sample, line in commands:
        what, check, repeat = check_for(text)
        command = addresses(text)
        label = f"docs/grpcurl.md:{line}: {text.splitlines()[0][:110]}"
        deadline = time.monotonic() + (SETTLE_S if repeat else 0)
        while True:
            rc, out, err = run_shell(command, path_dir, cwd=cwd)
            problem = None
            if rc != 0:
                problem = f"exit {rc}: {err.strip() or out.strip()}"
            elif check is not None:
                try:
                    check(text, out, ctx)
                except (AssertionError, ValueError, KeyError) as e:
                    problem = f"{what}: {e}\n--- output:\n{out}"
            if problem is None or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        if problem is not None:
            results.fail(f"{label}\n     {command}\n     {problem}")
            continue
        results.ok(label + (f"  [{what}]" if what else ""))
        if what:
            used.add(what)
        after = AFTER.get(what)
        if after is not None:
            problem = poll(lambda: after(ctx, addresses, path_dir))
            if problem is None:
                results.ok(f"  then: {AFTER_WHAT[what]}")
            else:
                results.fail(f"  then: {AFTER_WHAT[what]}: {problem}")
        if what == "find a group's coordinator":
            # The doc's coordinator address (its sample output) -> this cluster's coordinator.
            documented = documented_coordinator(sample)
            if documented is None:
                results.fail(f"{label}: no sample output with the coordinator's host and port "
                             "follows the FindCoordinator command")
            else:
                addresses.overrides[documented] = ctx.coordinator
                print(f"     the doc's coordinator {documented} is {ctx.coordinator} here",
                      flush=True)
    for what, _, _, _ in CHECKS if coverage else []:
        if what not in used:
            results.fail(f"the doc has no working command to {what}")
    return ctx


def poll(attempt, seconds=SETTLE_S):
    """Repeats ATTEMPT (None when satisfied, else what is wrong) for at most SECONDS."""
    deadline = time.monotonic() + seconds
    while True:
        problem = attempt()
        if problem is None or time.monotonic() >= deadline:
            return problem
        time.sleep(0.5)


def call(addresses, path_dir, documented, method, request):
    """One call with the grpcurl under test (to the cluster's node for a documented address)."""
    rc, out, err = run_shell(f"grpcurl -plaintext -d {shlex.quote(json.dumps(request))} "
                             f"{addresses(documented)} {method}", path_dir)
    if rc != 0:
        raise AssertionError(f"{method}: exit {rc}: {err.strip()}")
    return one(out)


def after_elect(ctx, addresses, path_dir):
    try:
        for (topic, partition), target in ctx.reassigned.items():
            d = call(addresses, path_dir, documented_address(DOC_BASE_PORT + 1),
                     "strand.admin.v1.AdminService/DescribeTopics", {"names": [topic]})
            p = [p for p in d["topics"][0].get("partitions", [])
                 if p.get("partition", 0) == partition][0]
            if p.get("leader") != target[0]:
                return f"{topic}-{partition}: leader {p.get('leader')}, not {target[0]}"
        return None if ctx.reassigned else "no partition was reassigned before the election"
    except (AssertionError, ValueError, KeyError, IndexError) as e:
        return str(e)


def after_delete_topics(ctx, addresses, path_dir):
    try:
        listed = call(addresses, path_dir, documented_address(DOC_BASE_PORT + 1),
                      "strand.admin.v1.AdminService/ListTopics", {})
        names = [t.get("name") for t in listed.get("topics", [])]
        left = [t for t in ctx.deleted_topics if t in names]
        return f"still listed: {left}" if left else None
    except (AssertionError, ValueError) as e:
        return str(e)


def after_delete_groups(ctx, addresses, path_dir):
    try:
        listed = call(addresses, path_dir, documented_address(DOC_BASE_PORT + 11),
                      "strand.group.v1.GroupService/ListGroups", {})
        names = [g.get("groupId") for g in listed.get("groups", [])]
        return f"{ctx.group} still listed" if ctx.group in names else None
    except (AssertionError, ValueError) as e:
        return str(e)


# What is checked after a command, with other calls.
AFTER = {"elect leaders": after_elect, "delete topics": after_delete_topics,
         "delete groups": after_delete_groups}
AFTER_WHAT = {"elect leaders": "each reassigned partition is led by its new first replica",
              "delete topics": "the deleted topics are no longer listed",
              "delete groups": "the deleted group is no longer listed"}


def documented_coordinator(sample):
    try:
        c = one(sample or "").get("coordinators", [{}])[0]
        return f"{c['host']}:{c['port']}"
    except (ValueError, AssertionError, KeyError, IndexError):
        return None


def self_checks(tool_cmd, broker, path_dir, results):
    """grpcurl.py's error paths and streaming, which the doc does not show."""
    rc, out, err = run_shell(f"{tool_cmd} -plaintext {broker} strand.admin.v1.AdminService/Nope",
                             path_dir)
    if rc == 1 and 'does not include a method named "Nope"' in err:
        results.ok("an unknown method: exit 1 and says so")
    else:
        results.fail(f"an unknown method: exit {rc}, stderr {err!r}")
    rc, out, err = run_shell(f"{tool_cmd} -plaintext -d '{{\"service\":\"no.such.Service\"}}' "
                             f"{broker} grpc.health.v1.Health/Check", path_dir)
    if rc == 64 + 5 and err.startswith("ERROR:\n  Code: NotFound\n  Message: "):
        results.ok("a gRPC error (health of an unknown service): grpcurl's ERROR block, exit 69")
    else:
        results.fail(f"a gRPC error: exit {rc}, stderr {err!r}")
    rc, out, err = run_shell(f"{tool_cmd} -plaintext -d '{{\"topicz\":\"x\"}}' "
                             f"{broker} strand.broker.v1.BrokerService/Metadata", path_dir)
    if rc == 1 and "topicz" in err:
        results.ok("an unknown request field: exit 1 naming it")
    else:
        results.fail(f"an unknown request field: exit {rc}, stderr {err!r}")
    rc, out, err = run_shell(f"{tool_cmd} -plaintext -max-time 2 -d '{{\"service\":\"\"}}' "
                             f"{broker} grpc.health.v1.Health/Watch", path_dir)
    try:
        statuses = [m.get("status") for m in as_json(out)]
    except ValueError:
        statuses = []
    if rc == 64 + 4 and statuses[:1] == ["SERVING"] and "DeadlineExceeded" in err:
        results.ok("a server stream (Health/Watch): SERVING, then DeadlineExceeded at -max-time")
    else:
        results.fail(f"Health/Watch: exit {rc}, stdout {out!r}, stderr {err!r}")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    source, bin_dir = (os.path.abspath(a) for a in sys.argv[1:])
    doc = os.path.join(source, "docs", "grpcurl.md")
    tool = os.path.join(source, "tests", "tools", "grpcurl.py")
    script = os.path.join(source, "scripts", "local-cluster.sh")
    results = Results()
    for path in (os.path.join(bin_dir, "strand-server"), os.path.join(bin_dir, "strand")):
        if not os.access(path, os.X_OK):
            print(f"FAIL {path} is missing (build first)")
            return 1
    commands, problems = doc_commands(doc)
    for p in problems:
        results.fail(p)
    if not commands:
        results.fail("docs/grpcurl.md has no grpcurl command")
        print(f"{results.passed} passed, {results.failed} failed")
        return 1
    print(f"{len(commands)} grpcurl commands in docs/grpcurl.md", flush=True)

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="strand-grpcurl-") as d:
        path_dir = os.path.join(d, "bin")
        os.mkdir(path_dir)
        shim = os.path.join(path_dir, "grpcurl")
        real = os.environ.get("GRPCURL")
        with open(shim, "w") as f:
            target = shlex.quote(real) if real else f"/usr/bin/python3 {shlex.quote(tool)}"
            f.write(f"#!/bin/sh\nexec {target} \"$@\"\n")
        os.chmod(shim, 0o755)
        env = dict(os.environ, STRAND_BIN_DIR=bin_dir)
        plain = Cluster(script, env, os.path.join(d, "cluster"))
        # The TLS commands run where .run is the TLS cluster's directory, as after
        # `make run TLS=1` in the repository: .run/certs/... are its certificates.
        tls_cwd = os.path.join(d, "tls-cwd")
        os.mkdir(tls_cwd)
        tls = Cluster(script, env, os.path.join(tls_cwd, ".run"), tls=True)
        watchdog = start_watchdog(script, env, d, [plain.dir, tls.dir])

        def on_signal(signum, _frame):
            plain.down()
            tls.down()
            sys.exit(128 + signum)

        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, on_signal)
        try:
            plain_commands = [c for c in commands if not is_tls(c[0])]
            tls_commands = [c for c in commands if is_tls(c[0])]
            try:
                nodes = plain.up()
                print(f"cluster up on base port {plain.base} in "
                      f"{time.monotonic() - started:.1f} s", flush=True)
                run_doc(plain_commands, Addresses(plain.base), path_dir, results)
                self_checks(f"/usr/bin/python3 {shlex.quote(tool)}",
                            nodes["STRAND_NODE_101_ADDR"], path_dir, results)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                results.fail(f"the cluster did not start: {e}")
            finally:
                plain.down()
            if tls_commands:
                try:
                    tls.up()
                    print(f"mTLS cluster up on base port {tls.base}", flush=True)
                    run_doc(tls_commands, Addresses(tls.base), path_dir, results, cwd=tls_cwd,
                            coverage=False)
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    results.fail(f"the mTLS cluster did not start: {e}")
            else:
                results.fail("docs/grpcurl.md has no command for an mTLS cluster (-cacert)")
        finally:
            plain.down()
            tls.down()
            if watchdog.poll() is None:
                watchdog.terminate()
                watchdog.wait(timeout=10)
    print(f"{results.passed} passed, {results.failed} failed "
          f"({time.monotonic() - started:.1f} s)")
    return 0 if results.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
