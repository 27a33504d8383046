#include "common/listener_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace strand {
namespace {

constexpr char kListeners[] = "listeners";
constexpr char kAdvertised[] = "advertised.listeners";
constexpr char kProtocolMap[] = "listener.security.protocol.map";
constexpr char kControllerNames[] = "controller.listener.names";
constexpr char kInterBrokerName[] = "inter.broker.listener.name";
constexpr char kKeystore[] = "ssl.keystore.location";
constexpr char kKeystoreType[] = "ssl.keystore.type";
constexpr char kTruststore[] = "ssl.truststore.location";
constexpr char kTruststoreType[] = "ssl.truststore.type";
constexpr char kClientAuth[] = "ssl.client.auth";
constexpr char kIdentification[] = "ssl.endpoint.identification.algorithm";
constexpr char kPrincipalRules[] = "ssl.principal.mapping.rules";
constexpr char kRefresh[] = "strand.ssl.refresh.interval.ms";
constexpr char kListenerPrefix[] = "listener.name.";
constexpr char kMaxConnections[] = "max.connections";
constexpr char kMaxConnectionsPerIp[] = "max.connections.per.ip";
constexpr char kMaxCreationRate[] = "max.connection.creation.rate";
constexpr char kThreadsMax[] = "strand.listener.threads.max";
constexpr char kMemoryMax[] = "strand.listener.memory.max.bytes";
constexpr const char* kPerListenerTls[] = {kKeystore,   kKeystoreType,    kTruststore,     kTruststoreType,
                                           kClientAuth, kIdentification, kPrincipalRules};

absl::Status Bad(std::string_view setting, const std::string& why) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", setting, why));
}

bool ValidName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

std::vector<std::string> SplitList(std::string_view value) {
  std::vector<std::string> out;
  for (absl::string_view item : absl::StrSplit(absl::string_view(value.data(), value.size()), ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (!item.empty()) out.emplace_back(item);
  }
  return out;
}

std::string Get(const std::map<std::string, std::string>& settings, const char* name,
                std::string fallback = "") {
  auto it = settings.find(name);
  return it == settings.end() ? fallback : it->second;
}

absl::StatusOr<std::map<std::string, SecurityProtocol>> ParseProtocolMap(std::string_view value) {
  std::map<std::string, SecurityProtocol> out;
  for (const std::string& item : SplitList(value)) {
    const size_t colon = item.find(':');
    const std::string name = absl::AsciiStrToUpper(item.substr(0, colon));
    const std::string protocol =
        colon == std::string::npos ? "" : absl::AsciiStrToUpper(item.substr(colon + 1));
    if (!ValidName(name)) return Bad(kProtocolMap, fmt::format("bad item '{}': expected NAME:PROTOCOL", item));
    SecurityProtocol p;
    if (protocol == "PLAINTEXT") {
      p = SecurityProtocol::kPlaintext;
    } else if (protocol == "SSL") {
      p = SecurityProtocol::kSsl;
    } else {
      return Bad(kProtocolMap, fmt::format("'{}': protocol '{}' is not PLAINTEXT or SSL (SASL is "
                                           "not supported)", item, protocol));
    }
    if (!out.emplace(name, p).second) return Bad(kProtocolMap, fmt::format("'{}' is listed twice", name));
  }
  return out;
}

bool Wildcard(const std::string& host) { return host.empty() || host == "0.0.0.0" || host == "::"; }

absl::StatusOr<std::string> ReadPem(const std::string& setting, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Bad(setting, fmt::format("cannot read '{}'", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A listener's TLS setting: listener.name.<name>.<setting>, else <setting>, else `fallback`.
// `from` says which was used (for errors).
std::string TlsSetting(const std::map<std::string, std::string>& settings, const std::string& listener,
                       const char* setting, const std::string& fallback, std::string* from) {
  const std::string prefixed =
      fmt::format("{}{}.{}", kListenerPrefix, absl::AsciiStrToLower(listener), setting);
  if (auto it = settings.find(prefixed); it != settings.end()) {
    *from = prefixed;
    return it->second;
  }
  *from = setting;
  return Get(settings, setting, fallback);
}

absl::StatusOr<ListenerTls> ParseListenerTls(const std::map<std::string, std::string>& settings,
                                             const std::string& listener, bool internal) {
  ListenerTls t;
  std::string from;
  for (const char* type : {kKeystoreType, kTruststoreType}) {
    const std::string v = absl::AsciiStrToUpper(TlsSetting(settings, listener, type, "PEM", &from));
    if (v != "PEM") return Bad(from, fmt::format("'{}': only PEM files are supported", v));
  }
  t.keystore_location = TlsSetting(settings, listener, kKeystore, "", &from);
  if (t.keystore_location.empty()) {
    return Bad(kKeystore, fmt::format("listener {} is SSL: give its key and certificate chain "
                                      "in {} (or {}{}.{})", listener, kKeystore, kListenerPrefix,
                                      absl::AsciiStrToLower(listener), kKeystore));
  }
  auto keystore = ReadPem(from, t.keystore_location);
  if (!keystore.ok()) return keystore.status();
  if (keystore->find("ENCRYPTED PRIVATE KEY") != std::string::npos) {
    return Bad(from, fmt::format("'{}' holds an encrypted private key: give it unencrypted (mode "
                                 "0600; on Kubernetes, a Secret)", t.keystore_location));
  }
  if (keystore->find("PRIVATE KEY-----") == std::string::npos ||
      keystore->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return Bad(from, fmt::format("'{}' must hold a PEM private key and the certificate chain",
                                 t.keystore_location));
  }
  const std::string auth = absl::AsciiStrToLower(TlsSetting(settings, listener, kClientAuth, "none", &from));
  if (auth == "none") {
    t.client_auth = ClientAuth::kNone;
  } else if (auth == "requested") {
    t.client_auth = ClientAuth::kRequested;
  } else if (auth == "required") {
    t.client_auth = ClientAuth::kRequired;
  } else {
    return Bad(from, fmt::format("'{}': expected none, requested or required", auth));
  }
  if (internal) {
    // Only cluster nodes may use the controller and replication planes: always ask who calls.
    if (t.client_auth != ClientAuth::kRequired && from != kClientAuth) {
      return Bad(from, fmt::format("listener {} carries the controller or replication plane, "
                                   "which always requires client certificates", listener));
    }
    t.client_auth = ClientAuth::kRequired;
  }
  t.truststore_location = TlsSetting(settings, listener, kTruststore, "", &from);
  if (t.truststore_location.empty() && (internal || t.client_auth != ClientAuth::kNone)) {
    return Bad(kTruststore, fmt::format("listener {} verifies peers' certificates: give the CA "
                                        "certificates in {}", listener, kTruststore));
  }
  if (!t.truststore_location.empty()) {
    auto truststore = ReadPem(from, t.truststore_location);
    if (!truststore.ok()) return truststore.status();
    if (truststore->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      return Bad(from, fmt::format("'{}' holds no PEM certificate", t.truststore_location));
    }
  }
  const std::string algorithm = absl::AsciiStrToLower(TlsSetting(settings, listener, kIdentification, "https", &from));
  if (algorithm != "https" && !algorithm.empty()) {
    return Bad(from, fmt::format("'{}': expected https or empty", algorithm));
  }
  t.verify_hostname = algorithm == "https";
  t.principal_mapping_rules = TlsSetting(settings, listener, kPrincipalRules, kDefaultPrincipalRules, &from);
  if (auto m = PrincipalMapper::Parse(t.principal_mapping_rules); !m.ok()) {
    return Bad(from, std::string(m.status().message()));
  }
  return t;
}

}  // namespace

std::string_view SecurityProtocolName(SecurityProtocol protocol) {
  return protocol == SecurityProtocol::kSsl ? "SSL" : "PLAINTEXT";
}

std::string PlaneNames(unsigned planes) {
  std::vector<std::string> names;
  if (planes & kControllerPlane) names.push_back("controller");
  if (planes & kReplicationPlane) names.push_back("replication");
  if (planes & kClientPlane) names.push_back("client");
  return names.empty() ? "none" : absl::StrJoin(names, "+");
}

std::string Endpoint::Address() const {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                             : fmt::format("{}:{}", host, port);
}

std::string Endpoint::ToString() const { return fmt::format("{}://{}", name, Address()); }

absl::StatusOr<std::vector<Endpoint>> ParseListenerList(
    std::string_view setting, std::string_view value,
    const std::map<std::string, SecurityProtocol>& protocols) {
  std::vector<Endpoint> out;
  std::set<std::string> names;
  std::set<std::string> addresses;
  for (const std::string& item : SplitList(value)) {
    const size_t scheme = item.find("://");
    const size_t colon = item.rfind(':');
    if (scheme == std::string::npos || colon == std::string::npos || colon < scheme + 3) {
      return Bad(setting, fmt::format("bad listener '{}': expected NAME://host:port, e.g. "
                                      "CLIENT://10.0.0.1:9092", item));
    }
    Endpoint e;
    e.name = absl::AsciiStrToUpper(item.substr(0, scheme));
    e.host = item.substr(scheme + 3, colon - scheme - 3);
    if (e.host.size() >= 2 && e.host.front() == '[' && e.host.back() == ']') {
      e.host = e.host.substr(1, e.host.size() - 2);
    }
    const std::string port = item.substr(colon + 1);
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), e.port);
    if (!ValidName(e.name) || ec != std::errc() || ptr != port.data() + port.size() ||
        e.port < 0 || e.port > 65535) {
      return Bad(setting, fmt::format("bad listener '{}': expected NAME://host:port with a port "
                                      "from 0 to 65535", item));
    }
    auto protocol = protocols.find(e.name);
    if (protocol == protocols.end()) {
      return Bad(setting, fmt::format("listener name {} has no security protocol: add {}:PLAINTEXT "
                                      "or {}:SSL to {}", e.name, e.name, e.name, kProtocolMap));
    }
    e.protocol = protocol->second;
    if (!names.insert(e.name).second) return Bad(setting, fmt::format("listener name {} is used twice", e.name));
    if (e.port != 0 && !addresses.insert(e.Address()).second) {
      return Bad(setting, fmt::format("{} is used by two listeners", e.Address()));
    }
    out.push_back(std::move(e));
  }
  return out;
}

const std::map<std::string, std::string>& ListenerSettingNames() {
  static const std::map<std::string, std::string> names = {
      {kListeners, "NAME://host:port,... this process binds (required)"},
      {kAdvertised, "NAME://host:port,... this process publishes, per listener name (default: "
                    "as bound)"},
      {kProtocolMap, "NAME:PROTOCOL,... PLAINTEXT or SSL per listener name (default: "
                     "PLAINTEXT:PLAINTEXT,SSL:SSL, controller listener names PLAINTEXT)"},
      {kControllerNames, "listener names of the controller plane (required)"},
      {kInterBrokerName, "a broker's listener for replication (default: PLAINTEXT)"},
      {kKeystore, "PEM file with this node's private key and certificate chain (SSL listeners)"},
      {kKeystoreType, "PEM (the only type)"},
      {kTruststore, "PEM file with the CA certificates peers must chain to"},
      {kTruststoreType, "PEM (the only type)"},
      {kClientAuth, "none (default), requested or required: client certificates on client "
                    "listeners (internal planes always require them)"},
      {kIdentification, "https (default: check the server's certificate names the host "
                        "dialled) or empty"},
      {kPrincipalRules, std::string("certificate subject -> principal, Kafka's RULE:... syntax "
                                    "(default: ") + kDefaultPrincipalRules + ")"},
      {kRefresh, "how often TLS keys, certificates and CAs are re-read, ms (default 60000)"},
      {kMaxConnections, "connections open at once on client listeners (default 10000)"},
      {kMaxConnectionsPerIp, "of them from one IP address (default 10000)"},
      {kMaxCreationRate, "new connections accepted per second on client listeners (default 1000)"},
      {kThreadsMax, "threads a client listener's blocking calls may use (default 256, at least 4)"},
      {kMemoryMax, "memory a client listener's connections may buffer, bytes (default 1 GiB, at "
                   "least 64 MiB)"},
  };
  return names;
}

bool IsListenerSetting(std::string_view key) {
  if (ListenerSettingNames().count(std::string(key))) return true;
  constexpr std::string_view prefix = kListenerPrefix;
  if (key.substr(0, prefix.size()) != prefix) return false;
  const std::string_view rest = key.substr(prefix.size());
  const size_t dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  const std::string_view setting = rest.substr(dot + 1);
  return std::any_of(std::begin(kPerListenerTls), std::end(kPerListenerTls),
                     [&](const char* s) { return setting == s; });
}

const ListenerTls* ListenerConfig::Tls(std::string_view name) const {
  auto it = tls.find(std::string(name));
  return it == tls.end() ? nullptr : &it->second;
}

unsigned ListenerConfig::PlanesOf(std::string_view name) const {
  if (IsControllerListenerName(name)) return kControllerPlane;
  if (!broker_role) return kClientPlane;
  if (name != inter_broker_listener_name) return kClientPlane;
  // The inter-broker listener carries clients too when it is the only other listener.
  const bool other_listener = std::any_of(listeners.begin(), listeners.end(), [&](const Endpoint& e) {
    return e.name != name && !IsControllerListenerName(e.name);
  });
  return other_listener ? kReplicationPlane : kReplicationPlane | kClientPlane;
}

const Endpoint* ListenerConfig::Bound(std::string_view name) const {
  for (const Endpoint& e : listeners) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

const Endpoint* ListenerConfig::Advertised(std::string_view name) const {
  for (const Endpoint& e : advertised) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

const Endpoint& ListenerConfig::ControllerListener() const {
  for (const Endpoint& e : advertised) {
    if (IsControllerListenerName(e.name)) return e;
  }
  return advertised.front();  // ParseListenerConfig guarantees one exists
}

bool ListenerConfig::IsControllerListenerName(std::string_view name) const {
  return std::find(controller_listener_names.begin(), controller_listener_names.end(), name) !=
         controller_listener_names.end();
}

absl::StatusOr<ListenerConfig> ParseListenerConfig(const std::map<std::string, std::string>& settings,
                                                   bool controller_role, bool broker_role) {
  ListenerConfig c;
  c.controller_role = controller_role;
  c.broker_role = broker_role;
  for (const std::string& name : SplitList(Get(settings, kControllerNames))) {
    const std::string upper = absl::AsciiStrToUpper(name);
    if (!ValidName(upper)) return Bad(kControllerNames, fmt::format("bad listener name '{}'", name));
    c.controller_listener_names.push_back(upper);
  }
  if (c.controller_listener_names.empty()) {
    return Bad(kControllerNames, "required: the listener name(s) of the controller plane, e.g. "
                                 "CONTROLLER");
  }
  // As Kafka does: when the map is not set, controller listener names default to PLAINTEXT.
  const bool map_given = settings.count(kProtocolMap) > 0;
  auto protocols = ParseProtocolMap(Get(settings, kProtocolMap, "PLAINTEXT:PLAINTEXT,SSL:SSL"));
  if (!protocols.ok()) return protocols.status();
  if (!map_given) {
    for (const std::string& name : c.controller_listener_names) {
      protocols->emplace(name, SecurityProtocol::kPlaintext);
    }
  }
  if (Get(settings, kListeners).empty()) {
    return Bad(kListeners, "required: NAME://host:port,... e.g. CONTROLLER://127.0.0.1:9093");
  }
  auto listeners = ParseListenerList(kListeners, Get(settings, kListeners), *protocols);
  if (!listeners.ok()) return listeners.status();
  c.listeners = *std::move(listeners);
  auto advertised = ParseListenerList(kAdvertised, Get(settings, kAdvertised), *protocols);
  if (!advertised.ok()) return advertised.status();
  for (const Endpoint& bound : c.listeners) {
    auto given = std::find_if(advertised->begin(), advertised->end(),
                              [&](const Endpoint& e) { return e.name == bound.name; });
    Endpoint e = given == advertised->end() ? bound : *given;
    if (Wildcard(e.host) || e.port == 0) {
      return Bad(given == advertised->end() ? kListeners : kAdvertised,
                 fmt::format("listener {} would be published as '{}', which nobody can connect to: "
                             "give it in {} with a reachable host and port",
                             e.name, e.Address(), kAdvertised));
    }
    c.advertised.push_back(std::move(e));
  }
  for (const Endpoint& e : *advertised) {
    if (c.Bound(e.name) == nullptr) {
      return Bad(kAdvertised, fmt::format("listener {} is not in {}", e.name, kListeners));
    }
  }
  const size_t controller_listeners = std::count_if(
      c.listeners.begin(), c.listeners.end(),
      [&](const Endpoint& e) { return c.IsControllerListenerName(e.name); });
  if (controller_listeners != 1) {
    return Bad(kListeners, fmt::format(
        "a {} binds exactly one listener named in {} ({}), found {}",
        controller_role ? "controller" : "broker", kControllerNames,
        absl::StrJoin(c.controller_listener_names, ","), controller_listeners));
  }
  if (broker_role) {
    c.inter_broker_listener_name = absl::AsciiStrToUpper(Get(settings, kInterBrokerName, "PLAINTEXT"));
    if (c.Bound(c.inter_broker_listener_name) == nullptr) {
      return Bad(kInterBrokerName, fmt::format("no listener is named {}: name one of {} (not a "
                                               "controller listener)",
                                               c.inter_broker_listener_name, kListeners));
    }
    if (c.IsControllerListenerName(c.inter_broker_listener_name)) {
      return Bad(kInterBrokerName, fmt::format("{} is a controller listener; replication needs its "
                                               "own listener", c.inter_broker_listener_name));
    }
  } else if (settings.count(kInterBrokerName)) {
    return Bad(kInterBrokerName, "only brokers replicate: remove it from a controller's settings");
  }
  for (const auto& [key, value] : settings) {
    if (key.rfind(kListenerPrefix, 0) != 0) continue;
    const std::string name = absl::AsciiStrToUpper(key.substr(std::strlen(kListenerPrefix),
                                                              key.find('.', std::strlen(kListenerPrefix)) -
                                                                  std::strlen(kListenerPrefix)));
    if (c.Bound(name) == nullptr) {
      return Bad(key, fmt::format("no listener is named {}", name));
    }
  }
  for (const Endpoint& e : c.listeners) {
    if (e.protocol != SecurityProtocol::kSsl) continue;
    const bool internal = (c.PlanesOf(e.name) & (kControllerPlane | kReplicationPlane)) != 0;
    auto t = ParseListenerTls(settings, e.name, internal);
    if (!t.ok()) return t.status();
    c.tls.emplace(e.name, *std::move(t));
  }
  struct Count {
    const char* name;
    int64_t* field;
    int64_t min;
  };
  for (const Count& n : {Count{kMaxConnections, &c.connection_limits.max_connections, 1},
                         Count{kMaxConnectionsPerIp, &c.connection_limits.max_connections_per_ip, 1},
                         Count{kMaxCreationRate, &c.connection_limits.max_connection_creation_rate, 1},
                         Count{kThreadsMax, &c.connection_limits.threads_max, 4},
                         Count{kMemoryMax, &c.connection_limits.memory_max_bytes, 64 << 20}}) {
    auto it = settings.find(n.name);
    if (it == settings.end()) continue;
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
    if (ec != std::errc() || ptr != it->second.data() + it->second.size() || v < n.min) {
      return Bad(n.name, n.min == 1 ? fmt::format("'{}': expected a positive count", it->second)
                                    : fmt::format("'{}': expected at least {}", it->second, n.min));
    }
    *n.field = v;
  }
  if (auto it = settings.find(kRefresh); it != settings.end()) {
    int ms = 0;
    auto [ptr, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), ms);
    if (ec != std::errc() || ptr != it->second.data() + it->second.size() || ms < 1000) {
      return Bad(kRefresh, fmt::format("'{}': expected milliseconds, at least 1000", it->second));
    }
    c.ssl_refresh_interval_s = (ms + 999) / 1000;
  }
  return c;
}

}  // namespace strand
