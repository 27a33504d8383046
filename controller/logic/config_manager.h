#pragma once

// ConfigManager: dynamic configuration — AlterConfigs on topics, one broker or the cluster
// defaults — and the value in force of any setting (dynamic, else the process's static setting,
// else the built-in default). Generates records against the working image; QuorumController
// appends them. Single-threaded, like the controller.

#include <map>
#include <string>

#include "controller/logic/controller_result.h"
#include "controller/state/metadata_image.h"
#include "proto/admin/v1/admin.pb.h"

namespace strand::controller {

// INVALID_CONFIG when a topic's own min.insync.replicas (`min_isr`; 0 when it sets none) is larger
// than `replication_factor`: the topic could never take an acks=all write. A cluster default
// above it is not checked (the topic takes acks=1 writes; acks=all answers NOT_ENOUGH_REPLICAS),
// as in Kafka.
ControllerError MinInsyncError(const std::string& topic, int64_t min_isr,
                               int64_t replication_factor);

class ConfigManager {
 public:
  // `image`: the working image (outlives this); `static_configs`: the process's own settings.
  ConfigManager(const MetadataImage& image, std::map<std::string, std::string> static_configs)
      : image_(image), static_configs_(std::move(static_configs)) {}

  ControllerResult<admin::v1::AlterConfigsResponse> AlterConfigs(
      const admin::v1::AlterConfigsRequest& req) const;

  // Effective value of a cluster-level setting in `image`.
  std::string ClusterConfig(const MetadataImage& image, const std::string& name) const;
  // Effective value of a topic setting in `image`.
  std::string TopicConfig(const MetadataImage& image, const std::string& topic,
                          const std::string& name) const;
  // The same, in the working image.
  std::string ClusterConfig(const std::string& name) const { return ClusterConfig(image_, name); }
  std::string TopicConfig(const std::string& topic, const std::string& name) const {
    return TopicConfig(image_, topic, name);
  }

 private:
  const MetadataImage& image_;
  const std::map<std::string, std::string> static_configs_;
};

}  // namespace strand::controller
