#pragma once

// ServerSettings: the settings one strand-server process runs with, by Kafka's names, from three
// layers, each overriding the one before:
//   1. --config-file FILE   a Java-style properties file (common/properties.h), e.g. a
//                           Kubernetes ConfigMap's server.properties
//   2. the command line     --config NAME=VALUE (repeatable) and the named flags, each the same
//                           as its setting (--node-id is node.id, ...)
//   3. the environment      STRAND_<NAME> for every setting Strand knows: the name in upper case
//                           with '.' and '-' as '_' (STRAND_NODE_ID, STRAND_BROKER_RACK,
//                           STRAND_LISTENERS, ...), what a pod sets from its downward API
// The process's own settings (every other name is a listener, broker or static cluster setting,
// docs/configuration.md):
//   process.roles             controller | broker                             --roles
//   node.id                   this node's id                                   --node-id
//   controller.quorum.voters  id@host:port,... of every controller             --controller-quorum
//   log.dirs                  this node's data directory (one)                 --data-dir
//   broker.rack               a broker's rack                                  --rack
//   metrics.listen            host:port of /metrics (0.0.0.0:9190; empty: off) --metrics-listen
//   cluster.id                the cluster's identity; peers must agree         --cluster-id
//   strand.log.level          trace | debug | info | warn | error             --log-level
//   strand.node.id.base       node.id = base + $STRAND_POD_INDEX (a StatefulSet pod's index,
//                             from the apps.kubernetes.io/pod-index label), instead of node.id
// A name Strand does not know is refused, with the name and where it came from.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/properties.h"

namespace strand::server {

struct SettingsLayers {
  PropertyMap file;   // --config-file
  PropertyMap flags;  // --config and the named flags given
  // The environment (tests pass their own); null: none.
  std::function<std::optional<std::string>(const std::string& name)> getenv;
};

struct ServerSettings {
  std::map<std::string, std::string> values;  // every setting in force, by name
  std::map<std::string, std::string>
      origin;  // its layer: "--config-file", "command line", "$STRAND_X"

  // The value, or `fallback` when the setting is not given.
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  bool Has(const std::string& name) const { return values.count(name) != 0; }
};

// The process settings above, name -> meaning (for --help and the docs).
const std::map<std::string, std::string>& ProcessSettingNames();

// Whether Strand knows `name`: a process, listener, broker or static cluster setting.
bool IsKnownServerSetting(std::string_view name);

// STRAND_<NAME>: the environment variable that overrides `setting`.
std::string EnvironmentName(std::string_view setting);

// The layers merged; INVALID_ARGUMENT naming the setting and its origin for an unknown name,
// a malformed process setting or strand.node.id.base without a usable $STRAND_POD_INDEX.
absl::StatusOr<ServerSettings> ResolveServerSettings(const SettingsLayers& layers);

}  // namespace strand::server
