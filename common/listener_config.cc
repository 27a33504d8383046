#include "common/listener_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

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
  };
  return names;
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
  return c;
}

}  // namespace strand
