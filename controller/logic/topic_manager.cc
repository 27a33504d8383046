// TopicManager: see the header.
#include "controller/logic/topic_manager.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

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
  auto* tr = out.records.add_records()->mutable_topic();
  tr->set_name(t.name());
  tr->set_topic_id(id.Bytes());
  partitions_.AddPartitionRecords(id, 0, assignments, &out.records);
  for (const auto& [name, value] : t.configs()) {
    auto* c = out.records.add_records()->mutable_config();
    c->set_resource_type(v1::TOPIC);
    c->set_resource_name(t.name());
    c->set_name(name);
    c->set_value(value);
  }
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
    if (t == nullptr) {
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
