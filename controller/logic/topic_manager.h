#pragma once

// TopicManager: topics — create (name rules, defaults, replica placement within the partition
// limits), delete, and add partitions; the internal `__consumer_offsets` topic, created on a
// broker's request; and the refusal of clients' creates, deletes and added partitions of the
// reserved internal topics (common/internal_topics.h). Generates records against the working
// image; QuorumController appends them. Placement and topic ids draw from the controller's
// seeded Random, so the same requests in the same order give the same topics. Single-threaded,
// like the controller.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/random.h"
#include "controller/logic/broker_sessions.h"
#include "controller/logic/config_manager.h"
#include "controller/logic/controller_result.h"
#include "controller/logic/partition_manager.h"
#include "controller/state/metadata_image.h"
#include "proto/admin/v1/admin.pb.h"
#include "proto/controller/v1/controller.pb.h"

namespace strand::controller {

struct TopicLimits {
  int32_t topics_per_request_max = 10'000;
  int32_t partitions_per_topic_max = 100'000;
};

class TopicManager {
 public:
  // Every reference outlives this object.
  TopicManager(const MetadataImage& image, const BrokerSessions& sessions,
               const ConfigManager& configs, const PartitionManager& partitions, TopicLimits limits,
               Random& random)
      : image_(image),
        sessions_(sessions),
        configs_(configs),
        partitions_(partitions),
        limits_(limits),
        random_(random) {}

  // Topic `index` of a CreateTopics request, as its own batch: each topic is appended and
  // replayed before the next is planned, so later topics see earlier ones (name collisions,
  // placement load). `seen` collects the request's names so far (duplicates are refused).
  ControllerResult<admin::v1::TopicResult> CreateTopic(const admin::v1::CreateTopicsRequest& req,
                                                       int index, std::set<std::string>* seen);
  ControllerResult<admin::v1::DeleteTopicsResponse> DeleteTopics(
      const admin::v1::DeleteTopicsRequest& req) const;
  ControllerResult<admin::v1::CreatePartitionsResponse> CreatePartitions(
      const admin::v1::CreatePartitionsRequest& req);
  // A broker's request for `__consumer_offsets` (Kafka's auto-creation of the offsets topic):
  // created from offsets.topic.num.partitions and offsets.topic.replication.factor, compacted,
  // min.insync.replicas min(2, RF). NONE without records when it exists already (the answer
  // still waits for the commit of earlier appends, so the broker finds it in its metadata);
  // INVALID_REPLICATION_FACTOR while fewer live brokers than the factor are registered.
  ControllerResult<v1::CreateOffsetsTopicResponse> CreateOffsetsTopic(
      const v1::CreateOffsetsTopicRequest& req);

 private:
  ControllerError ValidateNewTopic(const admin::v1::NewTopic& t, int32_t* partitions,
                                   int32_t* replication_factor) const;
  ControllerError PlanAssignments(const admin::v1::NewTopic& t, int32_t partitions,
                                  int32_t replication_factor,
                                  std::vector<std::vector<NodeId>>* out);
  // The records of a new topic: the topic, its partitions, its configs.
  void AddTopicRecords(const std::string& name, const TopicId& id,
                       const std::vector<std::vector<NodeId>>& assignments,
                       const std::map<std::string, std::string>& configs,
                       v1::MetadataBatch* out) const;
  ControllerError CheckGivenAssignments(const admin::v1::NewTopic& t, int32_t partitions,
                                        int32_t replication_factor,
                                        std::vector<std::vector<NodeId>>* out) const;

  const MetadataImage& image_;
  const BrokerSessions& sessions_;
  const ConfigManager& configs_;
  const PartitionManager& partitions_;
  const TopicLimits limits_;
  Random& random_;
};

}  // namespace strand::controller
