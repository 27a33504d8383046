// ServerSettings: see the header.
#include "tools/server_settings.h"

#include <cctype>
#include <set>

#include <fmt/format.h>

#include "absl/strings/numbers.h"
#include "broker/server/broker_config.h"
#include "common/listener_config.h"
#include "controller/state/config_defs.h"

namespace strand::server {
namespace {

constexpr char kPodIndexVariable[] = "STRAND_POD_INDEX";

// Every fixed name Strand knows (listener.name.<name>.* overrides aside).
const std::set<std::string>& KnownNames() {
  static const auto* names = [] {
    auto* out = new std::set<std::string>();
    for (const auto& [name, doc] : ProcessSettingNames()) out->insert(name);
    for (const auto& [name, doc] : ListenerSettingNames()) out->insert(name);
    for (const auto& [name, doc] : broker::BrokerSettingNames()) out->insert(name);
    for (const auto& def : controller::ClusterConfigDefs()) out->insert(def.name);
    for (const auto& def : controller::TopicConfigDefs()) {
      if (!def.cluster_synonym.empty()) out->insert(def.cluster_synonym);
    }
    out->insert("socket.request.max.bytes");
    return out;
  }();
  return *names;
}

bool IsNodeId(std::string_view value) {
  int64_t id = 0;
  return absl::SimpleAtoi(absl::string_view(value.data(), value.size()), &id) && id >= 0 &&
         id <= (int64_t{1} << 30);
}

}  // namespace

std::string ServerSettings::Get(const std::string& name, const std::string& fallback) const {
  auto it = values.find(name);
  return it == values.end() ? fallback : it->second;
}

const std::map<std::string, std::string>& ProcessSettingNames() {
  static const auto* names = new std::map<std::string, std::string>{
      {"process.roles", "controller or broker (--roles)"},
      {"node.id", "this node's id, unique across roles (--node-id)"},
      {"controller.quorum.voters", "id@host:port,... of every controller (--controller-quorum)"},
      {"log.dirs", "this node's data directory, one (--data-dir)"},
      {"broker.rack", "this broker's rack, for rack-aware placement and fetching (--rack)"},
      {"metrics.listen",
       "host:port of the plaintext Prometheus /metrics endpoint, 0.0.0.0:9190 by default; empty "
       "turns it off (--metrics-listen)"},
      {"cluster.id", "the cluster's identity; every node must agree (--cluster-id)"},
      {"strand.log.level", "trace, debug, info, warn or error (--log-level)"},
      {"strand.node.id.base",
       "node.id = this + $STRAND_POD_INDEX (a StatefulSet pod's index), instead of node.id"},
  };
  return *names;
}

bool IsKnownServerSetting(std::string_view name) {
  return KnownNames().count(std::string(name)) != 0 || IsListenerSetting(name);
}

std::string EnvironmentName(std::string_view setting) {
  std::string out = "STRAND_";
  for (char c : setting) {
    out += (c == '.' || c == '-') ? '_'
                                  : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

absl::StatusOr<ServerSettings> ResolveServerSettings(const SettingsLayers& layers) {
  ServerSettings out;
  auto take = [&](const PropertyMap& layer, const std::string& origin) -> absl::Status {
    for (const auto& [name, value] : layer) {
      if (!IsKnownServerSetting(name)) {
        return absl::InvalidArgumentError(fmt::format(
            "{} (from {}): unknown setting (docs/configuration.md lists them)", name, origin));
      }
      out.values[name] = value;
      out.origin[name] = origin;
    }
    return absl::OkStatus();
  };
  if (absl::Status s = take(layers.file, "--config-file"); !s.ok()) return s;
  if (absl::Status s = take(layers.flags, "the command line"); !s.ok()) return s;
  if (layers.getenv) {
    for (const std::string& name : KnownNames()) {
      const std::string variable = EnvironmentName(name);
      if (auto value = layers.getenv(variable)) {
        out.values[name] = *value;
        out.origin[name] = "$" + variable;
      }
    }
  }
  // A StatefulSet pod's id from its index.
  if (out.Has("strand.node.id.base")) {
    const std::string base = out.Get("strand.node.id.base");
    if (out.Has("node.id")) {
      return absl::InvalidArgumentError(
          fmt::format("node.id (from {}) and strand.node.id.base (from {}): give one of them",
                      out.origin["node.id"], out.origin["strand.node.id.base"]));
    }
    std::optional<std::string> index =
        layers.getenv ? layers.getenv(kPodIndexVariable) : std::nullopt;
    int64_t b = 0, i = 0;
    if (!absl::SimpleAtoi(base, &b) || b < 0) {
      return absl::InvalidArgumentError(
          fmt::format("strand.node.id.base={} (from {}): expected a non-negative integer", base,
                      out.origin["strand.node.id.base"]));
    }
    if (!index || !absl::SimpleAtoi(*index, &i) || i < 0) {
      return absl::InvalidArgumentError(fmt::format(
          "strand.node.id.base (from {}) needs ${} set to the pod's index (a non-negative "
          "integer; the downward API's metadata.labels['apps.kubernetes.io/pod-index']), got {}",
          out.origin["strand.node.id.base"], kPodIndexVariable,
          index ? "'" + *index + "'" : std::string("nothing")));
    }
    out.values["node.id"] = std::to_string(b + i);
    out.origin["node.id"] = fmt::format("strand.node.id.base + ${}", kPodIndexVariable);
  }
  if (out.Has("node.id") && !IsNodeId(out.Get("node.id"))) {
    return absl::InvalidArgumentError(fmt::format("node.id={} (from {}): expected 0 to {}",
                                                  out.Get("node.id"), out.origin["node.id"],
                                                  int64_t{1} << 30));
  }
  if (out.Has("log.dirs") && out.Get("log.dirs").find(',') != std::string::npos) {
    return absl::InvalidArgumentError(fmt::format(
        "log.dirs={} (from {}): one directory per node (several log directories are not "
        "supported yet)",
        out.Get("log.dirs"), out.origin["log.dirs"]));
  }
  return out;
}

}  // namespace strand::server
