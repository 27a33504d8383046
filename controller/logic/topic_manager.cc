// TopicManager: see the header.
#include "controller/logic/topic_manager.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "common/internal_topics.h"
#include "controller/logic/placement.h"
#include "controller/state/config_defs.h"

namespace strand::controller {
namespace {

ControllerError ValidateTopicName(const std::string& name) {
  auto bad = [&](std::string why) {
    return ControllerError{KafkaError::kInvalidTopicException,
                           fmt::format("invalid topic name '{}': {}", name, why)};
  };
  if (name.empty()) return bad("empty");
  if (name == "." || name == "..") return bad("'.' and '..' are reserved");
  if (name.size() > 249) return bad("longer than 249 characters");
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return bad("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
  }
  return {};
}

// Clients may not create a reserved internal topic, nor a name that differs from one only by
// '.' against '_' (it would collide with it in metric names, and block its creation).
ControllerError ReservedNameError(const std::string& name) {
  if (IsReservedInternalTopic(name)) {
    return {KafkaError::kInvalidRequest,
            fmt::format("'{}' is an internal topic, created by the brokers", name)};
  }
  std::string underscored = name;
  std::replace(underscored.begin(), underscored.end(), '.', '_');
  if (underscored != name && IsReservedInternalTopic(underscored)) {
    return {KafkaError::kInvalidTopicException,
            fmt::format("topic '{}' collides with the internal topic '{}' ('.' and '_' are "
                        "interchangeable in metric names)",
                        name, underscored)};
  }
  return {};
}

// Kafka's settings of the offsets topic (GroupCoordinator.offsetsTopicConfigs and the default of
// offsets.topic.segment.bytes): compacted, so the last offset per (group, topic, partition) and
// the last state per group and member survive; 100 MiB segments, so compaction starts early;
// compression.type=producer keeps the coordinator's batches as written.
constexpr int64_t kOffsetsTopicSegmentBytes = 104'857'600;
// An offset commit (acks=all) is on two replicas before it is acknowledged, so it survives the
// loss of one; at replication factor 1, the one replica.
constexpr int32_t kOffsetsTopicMinInsyncReplicas = 2;

std::map<NodeId, int64_t> ReplicasPerBroker(const std::vector<std::vector<NodeId>>& assignments) {
  std::map<NodeId, int64_t> out;
  for (const auto& replicas : assignments) {
    for (NodeId r : replicas) ++out[r];
  }
  return out;
}

}  // namespace

ControllerError TopicManager::ValidateNewTopic(const admin::v1::NewTopic& t, int32_t* partitions,
                                               int32_t* replication_factor) const {
  if (ControllerError e = ValidateTopicName(t.name()); !e.ok()) return e;
  if (ControllerError e = ReservedNameError(t.name()); !e.ok()) return e;
  if (image_.topic(t.name()) != nullptr) {
    return {KafkaError::kTopicAlreadyExists, fmt::format("topic '{}' already exists", t.name())};
  }
  if (const std::string* other = image_.TopicCollidingWith(t.name())) {
    return {KafkaError::kInvalidTopicException,
            fmt::format("topic '{}' collides with existing topic '{}' ('.' and '_' are "
                        "interchangeable in metric names)",
                        t.name(), *other)};
  }
  *partitions = t.partitions() != 0
                    ? t.partitions()
                    : static_cast<int32_t>(ConfigAsLong(configs_.ClusterConfig("num.partitions")));
  if (t.assignments_size() > 0) {
    if (t.partitions() != 0 && t.partitions() != t.assignments_size()) {
      return {KafkaError::kInvalidRequest, "partitions and replica assignments disagree"};
    }
    *partitions = t.assignments_size();
  }
  *replication_factor = t.replication_factor() != 0
                            ? t.replication_factor()
                            : static_cast<int32_t>(ConfigAsLong(
                                  configs_.ClusterConfig("default.replication.factor")));
  if (t.assignments_size() > 0) *replication_factor = t.assignments(0).replicas_size();
  if (*partitions < 1 || *partitions > limits_.partitions_per_topic_max) {
    return {KafkaError::kInvalidPartitions,
            fmt::format("partitions must be between 1 and {}", limits_.partitions_per_topic_max)};
  }
  if (*replication_factor < 1) {
    return {KafkaError::kInvalidReplicationFactor, "replication factor must be at least 1"};
  }
  for (const auto& [name, value] : t.configs()) {
    if (absl::Status s = ValidateTopicConfig(name, value); !s.ok()) {
      return {KafkaError::kInvalidConfig, std::string(s.message())};
    }
  }
  const auto given = t.configs().find("min.insync.replicas");
  const int64_t min_isr = given == t.configs().end() ? 0 : ConfigAsLong(given->second);
  return MinInsyncError(t.name(), min_isr, *replication_factor);
}

ControllerError TopicManager::CheckGivenAssignments(const admin::v1::NewTopic& t,
                                                    int32_t partitions, int32_t replication_factor,
                                                    std::vector<std::vector<NodeId>>* out) const {
  for (int i = 0; i < t.assignments_size(); ++i) {
    std::vector<NodeId> replicas = ToNodeIds(t.assignments(i).replicas());
    const bool duplicates =
        std::set<NodeId>(replicas.begin(), replicas.end()).size() != replicas.size();
    bool any_active = false;
    for (NodeId r : replicas) {
      if (image_.broker(r) == nullptr) {
        return {KafkaError::kInvalidReplicaAssignment,
                fmt::format("partition {}: broker {} is not registered", i, r)};
      }
      any_active = any_active || sessions_.Eligible(r);
    }
    if (replicas.empty() || duplicates ||
        static_cast<int32_t>(replicas.size()) != replication_factor) {
      return {
          KafkaError::kInvalidReplicaAssignment,
          fmt::format("partition {}: replicas must be {} distinct brokers", i, replication_factor)};
    }
    if (!any_active) {
      return {KafkaError::kInvalidReplicaAssignment,
              fmt::format("partition {}: every listed broker is fenced or shutting down", i)};
    }
    out->push_back(std::move(replicas));
  }
  return partitions_.CheckPartitionLimits(ReplicasPerBroker(*out), partitions);
}

ControllerError TopicManager::PlanAssignments(const admin::v1::NewTopic& t, int32_t partitions,
                                              int32_t replication_factor,
                                              std::vector<std::vector<NodeId>>* out) {
  if (t.assignments_size() > 0)
    return CheckGivenAssignments(t, partitions, replication_factor, out);
  // Brokers already at max.broker.partitions take no more; if too few remain for the
  // replication factor, the limit check below names the full one.
  const int64_t broker_max = ConfigAsLong(configs_.ClusterConfig("max.broker.partitions"));
  auto hosted_by = [&](NodeId id) -> int64_t {
    auto count = image_.replica_counts().find(id);
    return count == image_.replica_counts().end() ? 0 : count->second;
  };
  std::vector<PlacementBroker> brokers, all;
  for (const auto& [id, b] : image_.brokers()) {
    if (!sessions_.Eligible(id)) continue;
    all.push_back({id, b.rack});
    if (hosted_by(id) < broker_max) brokers.push_back({id, b.rack});
  }
  if (static_cast<int32_t>(brokers.size()) < replication_factor) brokers = all;
  PlacementLoad load{image_.replica_counts(), image_.preferred_leader_counts()};
  while (true) {
    auto placed = PlaceReplicas(partitions, replication_factor, brokers, load, random_.Next());
    if (!placed.ok()) {
      return {KafkaError::kInvalidReplicationFactor, std::string(placed.status().message())};
    }
    *out = *std::move(placed);
    const auto added = ReplicasPerBroker(*out);
    ControllerError e = partitions_.CheckPartitionLimits(added, partitions);
    if (e.ok() || e.code != KafkaError::kPolicyViolation) return e;
    // Placement balances each topic on its own: a broker near the limit got its even share and
    // would pass it. Place again without it, while enough brokers remain.
    std::vector<PlacementBroker> fewer;
    for (const PlacementBroker& b : brokers) {
      auto mine = added.find(b.id);
      if (mine == added.end() || hosted_by(b.id) + mine->second <= broker_max) fewer.push_back(b);
    }
    if (fewer.size() == brokers.size() || static_cast<int32_t>(fewer.size()) < replication_factor) {
      return e;
    }
    brokers = std::move(fewer);
  }
}

ControllerResult<admin::v1::TopicResult> TopicManager::CreateTopic(
    const admin::v1::CreateTopicsRequest& req, int index, std::set<std::string>* seen) {
  const admin::v1::NewTopic& t = req.topics(index);
  ControllerResult<admin::v1::TopicResult> out;
  out.response.set_name(t.name());
  int32_t partitions = 0, rf = 0;
  std::vector<std::vector<NodeId>> assignments;
  ControllerError e;
  if (req.topics_size() > limits_.topics_per_request_max) {
    e = {KafkaError::kInvalidRequest,
         fmt::format("at most {} topics per request", limits_.topics_per_request_max)};
  } else if (!seen->insert(t.name()).second) {
    e = {KafkaError::kInvalidRequest, fmt::format("topic '{}' is listed twice", t.name())};
  } else if (e = ValidateNewTopic(t, &partitions, &rf); e.ok()) {
    e = PlanAssignments(t, partitions, rf, &assignments);
  }
  SetError(e, out.response.mutable_error());
  if (!e.ok() || req.validate_only()) {
    out.answer_now = true;
    return out;
  }
  const TopicId id = TopicId::Random(random_);
  out.response.set_topic_id(id.ToString());
  AddTopicRecords(t.name(), id, assignments,
                  std::map<std::string, std::string>(t.configs().begin(), t.configs().end()),
                  &out.records);
  return out;
}

void TopicManager::AddTopicRecords(const std::string& name, const TopicId& id,
                                   const std::vector<std::vector<NodeId>>& assignments,
                                   const std::map<std::string, std::string>& configs,
                                   v1::MetadataBatch* out) const {
  auto* tr = out->add_records()->mutable_topic();
  tr->set_name(name);
  tr->set_topic_id(id.Bytes());
  partitions_.AddPartitionRecords(id, 0, assignments, out);
  for (const auto& [config, value] : configs) {
    auto* c = out->add_records()->mutable_config();
    c->set_resource_type(v1::TOPIC);
    c->set_resource_name(name);
    c->set_name(config);
    c->set_value(value);
  }
}

ControllerResult<v1::CreateOffsetsTopicResponse> TopicManager::CreateOffsetsTopic(
    const v1::CreateOffsetsTopicRequest& req) {
  using Response = v1::CreateOffsetsTopicResponse;
  const std::string name(kConsumerOffsetsTopic);
  if (ControllerError e =
          sessions_.CheckBrokerEpoch(req.broker_id(), req.broker_epoch(), req.incarnation_id());
      !e.ok()) {
    return Refuse<Response>(e);
  }
  ControllerResult<Response> out;
  out.response.set_topic(name);
  // Already there (or appended and not yet committed): nothing to write; the answer waits for
  // the earlier appends to commit.
  if (image_.topic(name) != nullptr) return out;
  auto refuse = [&](const ControllerError& e) {
    ControllerResult<Response> refused = Refuse<Response>(e);
    refused.response.set_topic(name);
    return refused;
  };
  if (const std::string* other = image_.TopicCollidingWith(name)) {
    return refuse({KafkaError::kInvalidTopicException,
                   fmt::format("cannot create '{}': topic '{}' collides with it ('.' and '_' are "
                               "interchangeable in metric names)",
                               name, *other)});
  }
  const auto partitions =
      static_cast<int32_t>(ConfigAsLong(configs_.ClusterConfig("offsets.topic.num.partitions")));
  const auto rf = static_cast<int32_t>(
      ConfigAsLong(configs_.ClusterConfig("offsets.topic.replication.factor")));
  if (partitions < 1 || partitions > limits_.partitions_per_topic_max) {
    return refuse({KafkaError::kInvalidPartitions,
                   fmt::format("offsets.topic.num.partitions is {}; a topic has 1 to {} partitions",
                               partitions, limits_.partitions_per_topic_max)});
  }
  // Kafka's rule: never a smaller replication factor than configured. The group coordinator
  // answers COORDINATOR_NOT_AVAILABLE until enough brokers are alive.
  int32_t live = 0;
  for (const auto& [id, b] : image_.brokers()) live += sessions_.Eligible(id) ? 1 : 0;
  if (live < rf) {
    return refuse({KafkaError::kInvalidReplicationFactor,
                   fmt::format("cannot create '{}' yet: offsets.topic.replication.factor is {} "
                               "but only {} live broker(s) are registered",
                               name, rf, live)});
  }
  std::vector<std::vector<NodeId>> assignments;
  if (ControllerError e = PlanAssignments(admin::v1::NewTopic(), partitions, rf, &assignments);
      !e.ok()) {
    return refuse(e);
  }
  const std::map<std::string, std::string> configs = {
      {"cleanup.policy", "compact"},
      {"compression.type", "producer"},
      {"min.insync.replicas", std::to_string(std::min(kOffsetsTopicMinInsyncReplicas, rf))},
      {"segment.bytes", std::to_string(kOffsetsTopicSegmentBytes)},
  };
  AddTopicRecords(name, TopicId::Random(random_), assignments, configs, &out.records);
  return out;
}

ControllerResult<admin::v1::DeleteTopicsResponse> TopicManager::DeleteTopics(
    const admin::v1::DeleteTopicsRequest& req) const {
  ControllerResult<admin::v1::DeleteTopicsResponse> out;
  std::set<std::string> seen;
  for (const std::string& name : req.names()) {
    auto* result = out.response.add_topics();
    result->set_name(name);
    const TopicImage* t = image_.topic(name);
    if (IsReservedInternalTopic(name)) {
      SetError({KafkaError::kInvalidRequest,
                fmt::format("'{}' is an internal topic and cannot be deleted", name)},
               result->mutable_error());
    } else if (t == nullptr) {
      SetError(
          {KafkaError::kUnknownTopicOrPartition, fmt::format("topic '{}' does not exist", name)},
          result->mutable_error());
    } else if (seen.insert(name).second) {
      result->set_topic_id(t->id.ToString());
      out.records.add_records()->mutable_remove_topic()->set_topic_id(t->id.Bytes());
    }
  }
  out.answer_now = out.records.records_size() == 0;
  return out;
}

ControllerResult<admin::v1::CreatePartitionsResponse> TopicManager::CreatePartitions(
    const admin::v1::CreatePartitionsRequest& req) {
  using Response = admin::v1::CreatePartitionsResponse;
  if (IsReservedInternalTopic(req.topic())) {
    // Groups (and transactional ids) are placed by hashing over the partition count: a new
    // count would move every group's coordinator and lose track of its committed offsets.
    return Refuse<Response>(
        {KafkaError::kInvalidRequest,
         fmt::format("'{}' is an internal topic: its partition count cannot change (groups are "
                     "placed by hashing over it)",
                     req.topic())});
  }
  const TopicImage* t = image_.topic(req.topic());
  if (t == nullptr) {
    return Refuse<Response>({KafkaError::kUnknownTopicOrPartition,
                             fmt::format("topic '{}' does not exist", req.topic())});
  }
  const auto current = static_cast<int32_t>(t->partitions.size());
  if (req.total_count() <= current) {
    return Refuse<Response>({KafkaError::kInvalidPartitions,
                             fmt::format("topic '{}' has {} partitions; the count can only grow",
                                         req.topic(), current)});
  }
  const int32_t added = req.total_count() - current;
  if (req.total_count() > limits_.partitions_per_topic_max) {
    return Refuse<Response>(
        {KafkaError::kInvalidPartitions,
         fmt::format("a topic has at most {} partitions", limits_.partitions_per_topic_max)});
  }
  if (req.assignments_size() > 0 && req.assignments_size() != added) {
    return Refuse<Response>(
        {KafkaError::kInvalidReplicaAssignment,
         fmt::format("{} assignments given for {} new partitions", req.assignments_size(), added)});
  }
  admin::v1::NewTopic shape;
  *shape.mutable_assignments() = req.assignments();
  const auto rf = static_cast<int32_t>(t->partitions.front().replicas.size());
  std::vector<std::vector<NodeId>> assignments;
  if (ControllerError e = PlanAssignments(shape, added, rf, &assignments); !e.ok()) {
    return Refuse<Response>(e);
  }
  if (req.validate_only()) return AnswerNow(Response());
  ControllerResult<Response> out;
  partitions_.AddPartitionRecords(t->id, current, assignments, &out.records);
  return out;
}

}  // namespace strand::controller
