#pragma once

// The configuration settings Strand knows, by their Kafka names: every topic-level setting with
// its type, default, documentation and validator, and the cluster-level (broker) settings the
// controller uses. Values are strings on the wire and in records; Validate* turns a bad value
// into INVALID_CONFIG with a sentence saying what is allowed.
//
// Effective values follow Kafka's precedence. A cluster-level setting read by a broker: that
// broker's dynamic value (BROKER resource "<id>", for settings marked per_broker), else the
// cluster default set dynamically (BROKER resource ""), else the process's static setting, else
// the built-in default. A topic setting: the topic's dynamic value, else the same chain for its
// cluster-level synonym (retention.ms <- log.retention.ms).

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

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
  // Cluster-level settings a broker applies to itself, so that one broker may have its own
  // value (BROKER resource "<id>"). Settings only the controllers use, or that must agree
  // across the cluster (partition limits, leader rebalancing, min.insync.replicas), are not.
  bool per_broker = false;
  // When set, checks the value in place of the type's generic check (lists with their own
  // grammar, which may be empty); OK or INVALID_CONFIG's message.
  std::function<absl::Status(const ConfigDef&, std::string_view)> validator;
};

// A throttled-replicas list (leader.replication.throttled.replicas and
// follower.replication.throttled.replicas): "*" for every replica, else comma-separated
// "partition:brokerId" pairs; empty for none.
struct ThrottledReplicas {
  bool all = false;
  std::vector<std::pair<int32_t, int32_t>> replicas;  // (partition, broker id)

  // The partitions of the topic throttled on `broker`; `all` is handled by the caller.
  std::set<int32_t> PartitionsOn(int32_t broker) const;
};
absl::StatusOr<ThrottledReplicas> ParseThrottledReplicas(std::string_view value);

const std::vector<ConfigDef>& TopicConfigDefs();
const std::vector<ConfigDef>& ClusterConfigDefs();
const ConfigDef* FindTopicConfig(std::string_view name);
// Cluster-level settings: the controller's own plus every topic setting's synonym.
const ConfigDef* FindClusterConfig(std::string_view name);

// INVALID_CONFIG (as an InvalidArgument status) when `value` does not fit `def`.
absl::Status ValidateValue(const ConfigDef& def, std::string_view value);
absl::Status ValidateTopicConfig(std::string_view name, std::string_view value);
absl::Status ValidateClusterConfig(std::string_view name, std::string_view value);
// A value for one broker (BROKER resource "<id>"): a cluster-level setting marked per_broker.
absl::Status ValidateBrokerConfig(std::string_view name, std::string_view value);

class MetadataImage;

// The value in force for a cluster-level setting: on broker `broker_id` (when given) its own
// dynamic value if the setting is per_broker, else the dynamic cluster default, else the
// process's static setting, else the built-in default. The controllers pass no broker id.
std::string EffectiveClusterConfig(const MetadataImage& image, const std::string& name,
                                   const std::map<std::string, std::string>& static_configs,
                                   std::optional<int32_t> broker_id = std::nullopt);
// The value in force for a topic setting: the topic's own, else its cluster-level synonym's
// (on `broker_id`, as above).
std::string EffectiveTopicConfig(const MetadataImage& image, const std::string& topic,
                                 const std::string& name,
                                 const std::map<std::string, std::string>& static_configs,
                                 std::optional<int32_t> broker_id = std::nullopt);
// Every topic setting's value in force, by name.
std::map<std::string, std::string> EffectiveTopicConfigs(
    const MetadataImage& image, const std::string& topic,
    const std::map<std::string, std::string>& static_configs,
    std::optional<int32_t> broker_id = std::nullopt);

// Digests of a node's static cluster-level settings, by name: for every cluster setting, the
// FNV-1a 64 digest of the value in force from `static_configs` (else the built-in default), so
// that nodes can find settings given to one process and not the others without sending values.
using SettingDigests = std::map<std::string, uint64_t>;
SettingDigests StaticSettingDigests(const std::map<std::string, std::string>& static_configs);
// Names known to both `mine` and `theirs` whose digests differ, skipping settings that have a
// dynamic cluster-wide value in `image` (it overrides the static values everywhere) or, when
// `mine` are broker `broker_id`'s, a dynamic value for that broker.
std::vector<std::string> DifferingStaticSettings(const MetadataImage& image,
                                                 const SettingDigests& mine,
                                                 const SettingDigests& theirs,
                                                 std::optional<int32_t> broker_id = std::nullopt);

// Typed reads of an already validated value.
int64_t ConfigAsLong(std::string_view value);
bool ConfigAsBool(std::string_view value);

}  // namespace strand::controller
