// QuorumController: topics (create, delete, add partitions), configs and reassignment.
#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>

#include "controller/logic/placement.h"
#include "controller/logic/quorum_controller.h"
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

// INVALID_CONFIG when a topic's own min.insync.replicas (`min_isr`; 0 when it sets none) is larger
// than `replication_factor`: the topic could never take an acks=all write. A cluster default
// above it is not checked (the topic takes acks=1 writes; acks=all answers NOT_ENOUGH_REPLICAS),
// as in Kafka.
ControllerError MinInsyncError(const std::string& topic, int64_t min_isr,
                               int64_t replication_factor) {
  if (min_isr <= replication_factor) return {};
  return {KafkaError::kInvalidConfig,
          fmt::format("min.insync.replicas={} is larger than the replication factor {} of topic "
                      "'{}': it could never take an acks=all write",
                      min_isr, replication_factor, topic)};
}

// The smallest replica set the topic's partitions will have (a reassignment's target).
int64_t MinReplicationFactor(const TopicImage& t) {
  int64_t out = std::numeric_limits<int64_t>::max();
  for (const PartitionState& p : t.partitions) {
    out = std::min<int64_t>(out, static_cast<int64_t>(p.replicas.size() -
                                                      p.removing_replicas.size()));
  }
  return t.partitions.empty() ? 0 : out;
}

std::map<NodeId, int64_t> ReplicasPerBroker(const std::vector<std::vector<NodeId>>& assignments) {
  std::map<NodeId, int64_t> out;
  for (const auto& replicas : assignments) {
    for (NodeId r : replicas) ++out[r];
  }
  return out;
}

std::vector<NodeId> Minus(const std::vector<NodeId>& a, const std::vector<NodeId>& b) {
  std::vector<NodeId> out;
  for (NodeId x : a) {
    if (std::find(b.begin(), b.end(), x) == b.end()) out.push_back(x);
  }
  return out;
}

}  // namespace

ControllerError QuorumController::ValidateNewTopic(const admin::v1::NewTopic& t,
                                                   int32_t* partitions,
                                                   int32_t* replication_factor) const {
  if (ControllerError e = ValidateTopicName(t.name()); !e.ok()) return e;
  if (working_.topic(t.name()) != nullptr) {
    return {KafkaError::kTopicAlreadyExists, fmt::format("topic '{}' already exists", t.name())};
  }
  if (const std::string* other = working_.TopicCollidingWith(t.name())) {
    return {KafkaError::kInvalidTopicException,
            fmt::format("topic '{}' collides with existing topic '{}' ('.' and '_' are "
                        "interchangeable in metric names)",
                        t.name(), *other)};
  }
  *partitions = t.partitions() != 0
                    ? t.partitions()
                    : static_cast<int32_t>(ConfigAsLong(ClusterConfig(working_, "num.partitions")));
  if (t.assignments_size() > 0) {
    if (t.partitions() != 0 && t.partitions() != t.assignments_size()) {
      return {KafkaError::kInvalidRequest, "partitions and replica assignments disagree"};
    }
    *partitions = t.assignments_size();
  }
  *replication_factor =
      t.replication_factor() != 0
          ? t.replication_factor()
          : static_cast<int32_t>(ConfigAsLong(ClusterConfig(working_, "default.replication.factor")));
  if (t.assignments_size() > 0) *replication_factor = t.assignments(0).replicas_size();
  if (*partitions < 1 || *partitions > config_.partitions_per_topic_max) {
    return {KafkaError::kInvalidPartitions,
            fmt::format("partitions must be between 1 and {}", config_.partitions_per_topic_max)};
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

ControllerError QuorumController::CheckPartitionLimits(const std::map<NodeId, int64_t>& added,
                                                       int64_t new_partitions) const {
  const int64_t cluster_max = ConfigAsLong(ClusterConfig(working_, "max.partitions"));
  const int64_t broker_max = ConfigAsLong(ClusterConfig(working_, "max.broker.partitions"));
  const auto total = static_cast<int64_t>(working_.partition_count());
  if (total + new_partitions > cluster_max) {
    return {KafkaError::kPolicyViolation,
            fmt::format("the cluster has {} partitions; {} more would pass max.partitions={}",
                        total, new_partitions, cluster_max)};
  }
  for (const auto& [broker, count] : added) {
    auto it = working_.replica_counts().find(broker);
    const int64_t hosted = it == working_.replica_counts().end() ? 0 : it->second;
    if (count > 0 && hosted + count > broker_max) {
      return {KafkaError::kPolicyViolation,
              fmt::format("broker {} hosts {} partition replicas; {} more would pass "
                          "max.broker.partitions={}",
                          broker, hosted, count, broker_max)};
    }
  }
  return {};
}

ControllerError QuorumController::PlanAssignments(const admin::v1::NewTopic& t, int32_t partitions,
                                                  int32_t replication_factor,
                                                  std::vector<std::vector<NodeId>>* out) {
  if (t.assignments_size() > 0) {
    for (int i = 0; i < t.assignments_size(); ++i) {
      std::vector<NodeId> replicas = ToNodeIds(t.assignments(i).replicas());
      const bool duplicates =
          std::set<NodeId>(replicas.begin(), replicas.end()).size() != replicas.size();
      bool any_active = false;
      for (NodeId r : replicas) {
        if (working_.broker(r) == nullptr) {
          return {KafkaError::kInvalidReplicaAssignment,
                  fmt::format("partition {}: broker {} is not registered", i, r)};
        }
        any_active = any_active || Eligible(r);
      }
      if (replicas.empty() || duplicates ||
          static_cast<int32_t>(replicas.size()) != replication_factor) {
        return {KafkaError::kInvalidReplicaAssignment,
                fmt::format("partition {}: replicas must be {} distinct brokers", i,
                            replication_factor)};
      }
      if (!any_active) {
        return {KafkaError::kInvalidReplicaAssignment,
                fmt::format("partition {}: every listed broker is fenced or shutting down", i)};
      }
      out->push_back(std::move(replicas));
    }
    return CheckPartitionLimits(ReplicasPerBroker(*out), partitions);
  }
  // Brokers already at max.broker.partitions take no more; if too few remain for the
  // replication factor, the limit check below names the full one.
  const int64_t broker_max = ConfigAsLong(ClusterConfig(working_, "max.broker.partitions"));
  std::vector<PlacementBroker> brokers, all;
  for (const auto& [id, b] : working_.brokers()) {
    if (!Eligible(id)) continue;
    all.push_back({id, b.rack});
    auto count = working_.replica_counts().find(id);
    if (count == working_.replica_counts().end() || count->second < broker_max) {
      brokers.push_back({id, b.rack});
    }
  }
  if (static_cast<int32_t>(brokers.size()) < replication_factor) brokers = all;
  PlacementLoad load{working_.replica_counts(), working_.preferred_leader_counts()};
  while (true) {
    auto placed = PlaceReplicas(partitions, replication_factor, brokers, load, random_.Next());
    if (!placed.ok()) {
      return {KafkaError::kInvalidReplicationFactor, std::string(placed.status().message())};
    }
    *out = *std::move(placed);
    ControllerError e = CheckPartitionLimits(ReplicasPerBroker(*out), partitions);
    if (e.ok() || e.code != KafkaError::kPolicyViolation) return e;
    // Placement balances each topic on its own: a broker near the limit got its even share and
    // would pass it. Place again without it, while enough brokers remain.
    std::vector<PlacementBroker> fewer;
    for (const PlacementBroker& b : brokers) {
      auto count = working_.replica_counts().find(b.id);
      const int64_t hosted = count == working_.replica_counts().end() ? 0 : count->second;
      const auto added = ReplicasPerBroker(*out);
      auto mine = added.find(b.id);
      if (mine == added.end() || hosted + mine->second <= broker_max) fewer.push_back(b);
    }
    if (fewer.size() == brokers.size() ||
        static_cast<int32_t>(fewer.size()) < replication_factor) {
      return e;
    }
    brokers = std::move(fewer);
  }
}

void QuorumController::AddPartitionRecords(const TopicId& id, int32_t first,
                                           const std::vector<std::vector<NodeId>>& assignments,
                                           v1::MetadataBatch* batch) const {
  for (size_t i = 0; i < assignments.size(); ++i) {
    std::vector<NodeId> isr;
    for (NodeId r : assignments[i]) {
      if (Eligible(r)) isr.push_back(r);
    }
    auto* p = batch->add_records()->mutable_partition();
    p->set_topic_id(id.Bytes());
    p->set_partition(first + static_cast<int32_t>(i));
    FromNodeIds(assignments[i], p->mutable_replicas());
    FromNodeIds(isr, p->mutable_isr());
    p->set_leader(isr.empty() ? -1 : isr.front().value());
    p->set_leader_epoch(0);
    p->set_partition_epoch(0);
  }
}

void QuorumController::CreateTopics(const admin::v1::CreateTopicsRequest& req,
                                    Done<admin::v1::CreateTopicsResponse> done) {
  // Each topic is its own batch, so later topics of the request see earlier ones (collisions,
  // placement load); Raft still carries them in one append and one fsync. The response goes out
  // once every batch has committed (or failed).
  auto resp = std::make_shared<admin::v1::CreateTopicsResponse>();
  auto outstanding = std::make_shared<int>(1);
  auto release = [resp, outstanding, done] {
    if (--*outstanding == 0) done(*resp);
  };
  std::set<std::string> seen;
  for (const admin::v1::NewTopic& t : req.topics()) {
    auto* result = resp->add_topics();
    result->set_name(t.name());
    const int index = resp->topics_size() - 1;
    int32_t partitions = 0, rf = 0;
    std::vector<std::vector<NodeId>> assignments;
    ControllerError e;
    if (!active_) {
      e = NotActive();
    } else if (req.topics_size() > config_.topics_per_request_max) {
      e = {KafkaError::kInvalidRequest,
           fmt::format("at most {} topics per request", config_.topics_per_request_max)};
    } else if (!seen.insert(t.name()).second) {
      e = {KafkaError::kInvalidRequest, fmt::format("topic '{}' is listed twice", t.name())};
    } else if (e = ValidateNewTopic(t, &partitions, &rf); e.ok()) {
      e = PlanAssignments(t, partitions, rf, &assignments);
    }
    if (e.ok() && !req.validate_only()) {
      const TopicId id = TopicId::Random(random_);
      result->set_topic_id(id.ToString());
      v1::MetadataBatch batch;
      auto* tr = batch.add_records()->mutable_topic();
      tr->set_name(t.name());
      tr->set_topic_id(id.Bytes());
      AddPartitionRecords(id, 0, assignments, &batch);
      for (const auto& [name, value] : t.configs()) {
        auto* c = batch.add_records()->mutable_config();
        c->set_resource_type(v1::TOPIC);
        c->set_resource_name(t.name());
        c->set_name(name);
        c->set_value(value);
      }
      ++*outstanding;
      absl::Status s = Commit(std::move(batch), [this, resp, index, release](bool committed) {
        if (!committed) SetError(NotActive(), resp->mutable_topics(index)->mutable_error());
        release();
      });
      if (!s.ok()) {
        --*outstanding;
        e = {KafkaError::kNotController, std::string(s.message())};
        result->clear_topic_id();
      }
    }
    SetError(e, result->mutable_error());
  }
  release();
}

void QuorumController::DeleteTopics(const admin::v1::DeleteTopicsRequest& req,
                                    Done<admin::v1::DeleteTopicsResponse> done) {
  admin::v1::DeleteTopicsResponse resp;
  v1::MetadataBatch batch;
  std::vector<int> written;
  std::set<std::string> seen;
  for (const std::string& name : req.names()) {
    auto* result = resp.add_topics();
    result->set_name(name);
    ControllerError e;
    const TopicImage* t = working_.topic(name);
    if (!active_) {
      e = NotActive();
    } else if (t == nullptr) {
      e = {KafkaError::kUnknownTopicOrPartition, fmt::format("topic '{}' does not exist", name)};
    } else if (seen.insert(name).second) {
      result->set_topic_id(t->id.ToString());
      batch.add_records()->mutable_remove_topic()->set_topic_id(t->id.Bytes());
      written.push_back(resp.topics_size() - 1);
    }
    SetError(e, result->mutable_error());
  }
  if (batch.records_size() == 0) return done(resp);
  auto finish = [this, done, resp, written](bool committed) mutable {
    if (!committed) {
      for (int i : written) SetError(NotActive(), resp.mutable_topics(i)->mutable_error());
    }
    done(resp);
  };
  if (absl::Status s = Commit(std::move(batch), finish); !s.ok()) {
    for (int i : written) {
      SetError({KafkaError::kNotController, std::string(s.message())},
               resp.mutable_topics(i)->mutable_error());
    }
    done(resp);
  }
}

void QuorumController::CreatePartitions(const admin::v1::CreatePartitionsRequest& req,
                                        Done<admin::v1::CreatePartitionsResponse> done) {
  admin::v1::CreatePartitionsResponse resp;
  auto reply = [&](ControllerError e) {
    SetError(e, resp.mutable_error());
    done(resp);
  };
  if (!active_) return reply(NotActive());
  const TopicImage* t = working_.topic(req.topic());
  if (t == nullptr) {
    return reply({KafkaError::kUnknownTopicOrPartition,
                  fmt::format("topic '{}' does not exist", req.topic())});
  }
  const auto current = static_cast<int32_t>(t->partitions.size());
  if (req.total_count() <= current) {
    return reply({KafkaError::kInvalidPartitions,
                  fmt::format("topic '{}' has {} partitions; the count can only grow",
                              req.topic(), current)});
  }
  const int32_t added = req.total_count() - current;
  if (req.total_count() > config_.partitions_per_topic_max) {
    return reply({KafkaError::kInvalidPartitions,
                  fmt::format("a topic has at most {} partitions",
                              config_.partitions_per_topic_max)});
  }
  if (req.assignments_size() > 0 && req.assignments_size() != added) {
    return reply({KafkaError::kInvalidReplicaAssignment,
                  fmt::format("{} assignments given for {} new partitions",
                              req.assignments_size(), added)});
  }
  admin::v1::NewTopic shape;
  *shape.mutable_assignments() = req.assignments();
  const auto rf = static_cast<int32_t>(t->partitions.front().replicas.size());
  std::vector<std::vector<NodeId>> assignments;
  if (ControllerError e = PlanAssignments(shape, added, rf, &assignments); !e.ok()) return reply(e);
  if (req.validate_only()) return reply({});
  v1::MetadataBatch batch;
  AddPartitionRecords(t->id, current, assignments, &batch);
  absl::Status s = Commit(std::move(batch), [this, done](bool committed) {
    admin::v1::CreatePartitionsResponse out;
    if (!committed) SetError(NotActive(), out.mutable_error());
    done(out);
  });
  if (!s.ok()) reply({KafkaError::kNotController, std::string(s.message())});
}

void QuorumController::AlterConfigs(const admin::v1::AlterConfigsRequest& req,
                                    Done<admin::v1::AlterConfigsResponse> done) {
  admin::v1::AlterConfigsResponse resp;
  auto reply = [&](ControllerError e) {
    SetError(e, resp.mutable_error());
    done(resp);
  };
  if (!active_) return reply(NotActive());
  ConfigResource resource;
  const bool topic = req.resource_type() == admin::v1::TOPIC;
  if (topic) {
    if (working_.topic(req.resource_name()) == nullptr) {
      return reply({KafkaError::kUnknownTopicOrPartition,
                    fmt::format("topic '{}' does not exist", req.resource_name())});
    }
    resource = {v1::TOPIC, req.resource_name()};
  } else if (req.resource_type() == admin::v1::BROKER) {
    const std::string& name = req.resource_name();
    const bool numeric = !name.empty() && std::all_of(name.begin(), name.end(), ::isdigit);
    if (!name.empty() && name != "cluster" && !numeric) {
      return reply({KafkaError::kInvalidRequest,
                    "broker resource name must be a broker id, \"cluster\" or empty"});
    }
    resource = {v1::BROKER, numeric ? name : ""};
  } else {
    return reply({KafkaError::kInvalidRequest, "resource type must be TOPIC or BROKER"});
  }
  v1::MetadataBatch batch;
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
    if (!valid.ok()) return reply({KafkaError::kInvalidConfig, std::string(valid.message())});
    if (topic && c.name() == "min.insync.replicas" && c.op() != admin::v1::DELETE) {
      const TopicImage* t = working_.topic(req.resource_name());
      if (ControllerError e =
              MinInsyncError(t->name, ConfigAsLong(c.value()), MinReplicationFactor(*t));
          !e.ok()) {
        return reply(e);
      }
    }
    auto* r = batch.add_records()->mutable_config();
    r->set_resource_type(resource.type);
    r->set_resource_name(resource.name);
    r->set_name(c.name());
    r->set_value(c.value());
    r->set_remove(c.op() == admin::v1::DELETE);
  }
  if (req.validate_only()) return reply({});
  absl::Status s = Commit(std::move(batch), [this, done](bool committed) {
    admin::v1::AlterConfigsResponse out;
    if (!committed) SetError(NotActive(), out.mutable_error());
    done(out);
  });
  if (!s.ok()) reply({KafkaError::kNotController, std::string(s.message())});
}

void QuorumController::AlterPartitionReassignments(
    const admin::v1::AlterPartitionReassignmentsRequest& req,
    Done<admin::v1::AlterPartitionReassignmentsResponse> done) {
  admin::v1::AlterPartitionReassignmentsResponse resp;
  v1::MetadataBatch batch;
  std::map<NodeId, int64_t> added_by_request;  // replicas the request's moves add per broker
  std::set<std::pair<std::string, int32_t>> seen;
  for (const admin::v1::Reassignment& ra : req.reassignments()) {
    auto* result = resp.add_results();
    *result->mutable_partition() = ra.partition();
    ControllerError e;
    const TopicImage* t = working_.topic(ra.partition().topic());
    const int32_t index = ra.partition().partition();
    const std::vector<NodeId> target = ToNodeIds(ra.replicas());
    if (!active_) {
      e = NotActive();
    } else if (!seen.emplace(ra.partition().topic(), index).second) {
      e = {KafkaError::kInvalidRequest, "the partition is listed twice"};
    } else if (t == nullptr || index < 0 || index >= static_cast<int32_t>(t->partitions.size())) {
      e = {KafkaError::kUnknownTopicOrPartition, "unknown partition"};
    } else {
      e = PlanReassignment(*t, index, target, &batch, &added_by_request);
    }
    SetError(e, result->mutable_error());
  }
  CommitAndAnswerResults(std::move(batch), std::move(resp), std::move(done));
}

ControllerError QuorumController::PlanReassignment(
    const TopicImage& t, int32_t index, const std::vector<NodeId>& target,
    v1::MetadataBatch* batch, std::map<NodeId, int64_t>* added_by_request) {
  const PartitionState& p = t.partitions[static_cast<size_t>(index)];
  if (target.empty()) {  // cancel: back to the original replicas
    if (!p.Reassigning()) {
      return {KafkaError::kNoReassignmentInProgress, "no reassignment in progress"};
    }
    PartitionState original = p;
    original.replicas = Minus(p.replicas, p.adding_replicas);
    original.isr.clear();
    for (NodeId m : p.isr) {
      if (original.IsReplica(m)) original.isr.push_back(m);
    }
    if (original.isr.empty()) {
      return {KafkaError::kInvalidReplicaAssignment,
              "cannot cancel: none of the original replicas is in sync any more"};
    }
    auto* r = batch->add_records()->mutable_partition_change();
    r->set_topic_id(t.id.Bytes());
    r->set_partition(index);
    r->set_set_replicas(true);
    FromNodeIds(original.replicas, r->mutable_replicas());
    r->set_set_isr(true);
    FromNodeIds(original.isr, r->mutable_isr());
    r->set_set_reassignment(true);
    if (!original.IsReplica(p.leader)) {
      r->set_leader(ChooseLeader(t.id, index, original, kNoNode).value());
    }
    return {};
  }
  if (p.Reassigning()) {
    return {KafkaError::kReassignmentInProgress,
            "a reassignment is in progress; cancel it first (empty replica list)"};
  }
  if (std::set<NodeId>(target.begin(), target.end()).size() != target.size()) {
    return {KafkaError::kInvalidReplicaAssignment, "the target lists a broker twice"};
  }
  for (NodeId r : target) {
    if (working_.broker(r) == nullptr) {
      return {KafkaError::kInvalidReplicaAssignment,
              fmt::format("broker {} is not registered", r)};
    }
  }
  if (target == p.replicas) return {};
  if (target.size() < p.replicas.size()) {
    const int64_t min_isr = ConfigAsLong(
        working_.config({v1::TOPIC, t.name}, "min.insync.replicas").value_or("0"));
    if (ControllerError e = MinInsyncError(t.name, min_isr, static_cast<int64_t>(target.size()));
        !e.ok()) {
      return e;
    }
  }
  const std::vector<NodeId> adding = Minus(target, p.replicas);
  std::map<NodeId, int64_t> added = *added_by_request;
  for (NodeId r : adding) ++added[r];
  if (ControllerError e = CheckPartitionLimits(added, 0); !e.ok()) return e;
  *added_by_request = std::move(added);
  const std::vector<NodeId> removing = Minus(p.replicas, target);
  std::vector<NodeId> all = target;
  for (NodeId r : removing) all.push_back(r);
  PartitionState next = p;
  next.replicas = all;
  next.adding_replicas = adding;
  next.removing_replicas = removing;
  if (adding.empty()) {
    // Only removals: nothing to catch up, finish at once if an in-sync replica remains.
    if (std::none_of(p.isr.begin(), p.isr.end(),
                     [&](NodeId m) { return std::find(target.begin(), target.end(), m) !=
                                            target.end(); })) {
      return {KafkaError::kInvalidReplicaAssignment, "no in-sync replica is in the target"};
    }
    TopicImage scratch = t;
    scratch.partitions[static_cast<size_t>(index)] = next;
    AddCompleteReassignment(scratch, index, p.isr, batch);
    return {};
  }
  auto* r = batch->add_records()->mutable_partition_change();
  r->set_topic_id(t.id.Bytes());
  r->set_partition(index);
  r->set_set_replicas(true);
  FromNodeIds(all, r->mutable_replicas());
  r->set_set_reassignment(true);
  FromNodeIds(adding, r->mutable_adding_replicas());
  FromNodeIds(removing, r->mutable_removing_replicas());
  return {};
}

}  // namespace strand::controller
