#include "controller/logic/config_manager.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "common/check.h"
#include "controller/state/config_defs.h"

namespace strand::controller {
namespace {

// The smallest replica set the topic's partitions will have (a reassignment's target).
int64_t MinReplicationFactor(const TopicImage& t) {
  int64_t out = std::numeric_limits<int64_t>::max();
  for (const PartitionState& p : t.partitions) {
    out = std::min<int64_t>(out,
                            static_cast<int64_t>(p.replicas.size() - p.removing_replicas.size()));
  }
  return t.partitions.empty() ? 0 : out;
}

// The resource an AlterConfigs request names, or why it names none.
ControllerError ResolveResource(const MetadataImage& image,
                                const admin::v1::AlterConfigsRequest& req, ConfigResource* out) {
  if (req.resource_type() == admin::v1::TOPIC) {
    if (image.topic(req.resource_name()) == nullptr) {
      return {KafkaError::kUnknownTopicOrPartition,
              fmt::format("topic '{}' does not exist", req.resource_name())};
    }
    *out = {v1::TOPIC, req.resource_name()};
    return {};
  }
  if (req.resource_type() == admin::v1::BROKER) {
    const std::string& name = req.resource_name();
    const bool numeric = !name.empty() && std::all_of(name.begin(), name.end(), ::isdigit);
    if (!name.empty() && name != "cluster" && !numeric) {
      return {KafkaError::kInvalidRequest,
              "broker resource name must be a broker id, \"cluster\" or empty"};
    }
    *out = {v1::BROKER, numeric ? name : ""};
    return {};
  }
  return {KafkaError::kInvalidRequest, "resource type must be TOPIC or BROKER"};
}

}  // namespace

ControllerError MinInsyncError(const std::string& topic, int64_t min_isr,
                               int64_t replication_factor) {
  if (min_isr <= replication_factor) return {};
  return {KafkaError::kInvalidConfig,
          fmt::format("min.insync.replicas={} is larger than the replication factor {} of topic "
                      "'{}': it could never take an acks=all write",
                      min_isr, replication_factor, topic)};
}

ControllerResult<admin::v1::AlterConfigsResponse> ConfigManager::AlterConfigs(
    const admin::v1::AlterConfigsRequest& req) const {
  using Response = admin::v1::AlterConfigsResponse;
  ConfigResource resource;
  if (ControllerError e = ResolveResource(image_, req, &resource); !e.ok()) {
    return Refuse<Response>(e);
  }
  const bool topic = resource.type == v1::TOPIC;
  ControllerResult<Response> out;
  for (const admin::v1::ConfigChange& c : req.changes()) {
    // A broker id names one broker: only settings a broker applies to itself (per_broker).
    absl::Status valid = topic                   ? ValidateTopicConfig(c.name(), c.value())
                         : resource.name.empty() ? ValidateClusterConfig(c.name(), c.value())
                                                 : ValidateBrokerConfig(c.name(), c.value());
    if (c.op() == admin::v1::DELETE) {
      const bool known = topic ? FindTopicConfig(c.name()) : FindClusterConfig(c.name());
      valid = known ? absl::OkStatus()
                    : absl::InvalidArgumentError(fmt::format("unknown config '{}'", c.name()));
    }
    if (!valid.ok()) {
      return Refuse<Response>({KafkaError::kInvalidConfig, std::string(valid.message())});
    }
    if (topic && c.name() == "min.insync.replicas" && c.op() != admin::v1::DELETE) {
      const TopicImage* t = image_.topic(req.resource_name());
      if (ControllerError e =
              MinInsyncError(t->name, ConfigAsLong(c.value()), MinReplicationFactor(*t));
          !e.ok()) {
        return Refuse<Response>(e);
      }
    }
    auto* r = out.records.add_records()->mutable_config();
    r->set_resource_type(resource.type);
    r->set_resource_name(resource.name);
    r->set_name(c.name());
    r->set_value(c.value());
    r->set_remove(c.op() == admin::v1::DELETE);
  }
  if (req.validate_only()) return AnswerNow(Response());
  return out;
}

std::string ConfigManager::ClusterConfig(const MetadataImage& image,
                                         const std::string& name) const {
  STRAND_CHECK_MSG(FindClusterConfig(name) != nullptr, "unknown cluster config {}", name);
  return EffectiveClusterConfig(image, name, static_configs_);
}

std::string ConfigManager::TopicConfig(const MetadataImage& image, const std::string& topic,
                                       const std::string& name) const {
  STRAND_CHECK_MSG(FindTopicConfig(name) != nullptr, "unknown topic config {}", name);
  return EffectiveTopicConfig(image, topic, name, static_configs_);
}

}  // namespace strand::controller
