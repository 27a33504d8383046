#pragma once

// The configuration settings Strand knows, by their Kafka names: every topic-level setting with
// its type, default, documentation and validator, and the cluster-level (broker) settings the
// controller uses. Values are strings on the wire and in records; Validate* turns a bad value
// into INVALID_CONFIG with a sentence saying what is allowed.
//
// Effective topic value: the topic's dynamic value, else the cluster default set dynamically
// (BROKER resource ""), else the static server setting, else the built-in default — each topic
// setting names its cluster-level synonym (retention.ms <- log.retention.ms).

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace strand::controller {

enum class ConfigType { kBoolean, kInt, kLong, kDouble, kString, kList };

struct ConfigDef {
  std::string name;
  ConfigType type;
  std::string default_value;
  std::string doc;
  // Range for numbers (inclusive); allowed values for strings and list items.
  std::optional<double> min;
  std::optional<double> max;
  std::vector<std::string> allowed;
  std::string cluster_synonym;  // topic settings: the cluster-level name of the default
};

const std::vector<ConfigDef>& TopicConfigDefs();
const std::vector<ConfigDef>& ClusterConfigDefs();
const ConfigDef* FindTopicConfig(std::string_view name);
// Cluster-level settings: the controller's own plus every topic setting's synonym.
const ConfigDef* FindClusterConfig(std::string_view name);

// INVALID_CONFIG (as an InvalidArgument status) when `value` does not fit `def`.
absl::Status ValidateValue(const ConfigDef& def, std::string_view value);
absl::Status ValidateTopicConfig(std::string_view name, std::string_view value);
absl::Status ValidateClusterConfig(std::string_view name, std::string_view value);

class MetadataImage;

// The value in force for a cluster-level setting: the dynamic cluster default, else the
// process's static setting, else the built-in default.
std::string EffectiveClusterConfig(const MetadataImage& image, const std::string& name,
                                   const std::map<std::string, std::string>& static_configs);
// The value in force for a topic setting: the topic's own, else its cluster-level synonym's.
std::string EffectiveTopicConfig(const MetadataImage& image, const std::string& topic,
                                 const std::string& name,
                                 const std::map<std::string, std::string>& static_configs);
// Every topic setting's value in force, by name.
std::map<std::string, std::string> EffectiveTopicConfigs(
    const MetadataImage& image, const std::string& topic,
    const std::map<std::string, std::string>& static_configs);

// Digests of a node's static cluster-level settings, by name: for every cluster setting, the
// FNV-1a 64 digest of the value in force from `static_configs` (else the built-in default), so
// that nodes can find settings given to one process and not the others without sending values.
using SettingDigests = std::map<std::string, uint64_t>;
SettingDigests StaticSettingDigests(const std::map<std::string, std::string>& static_configs);
// Names known to both `mine` and `theirs` whose digests differ, skipping settings that have a
// dynamic cluster-wide value in `image` (it overrides the static values everywhere).
std::vector<std::string> DifferingStaticSettings(const MetadataImage& image,
                                                 const SettingDigests& mine,
                                                 const SettingDigests& theirs);

// Typed reads of an already validated value.
int64_t ConfigAsLong(std::string_view value);
bool ConfigAsBool(std::string_view value);

}  // namespace strand::controller
