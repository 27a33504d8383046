// PartitionManager: see the header.
#include "controller/logic/partition_manager.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "controller/state/config_defs.h"

namespace strand::controller {
namespace {

v1::PartitionChangeRecord* AddChange(const TopicId& id, int32_t partition,
                                     v1::MetadataBatch* batch) {
  auto* r = batch->add_records()->mutable_partition_change();
  r->set_topic_id(id.Bytes());
  r->set_partition(partition);
  return r;
}

void SetIsr(const std::vector<NodeId>& isr, v1::PartitionChangeRecord* r) {
  r->set_set_isr(true);
  FromNodeIds(isr, r->mutable_isr());
}

std::vector<NodeId> Without(const std::vector<NodeId>& ids, NodeId gone) {
  std::vector<NodeId> out;
  for (NodeId id : ids) {
    if (id != gone) out.push_back(id);
  }
  return out;
}

bool Contains(const std::vector<NodeId>& ids, NodeId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

std::vector<NodeId> Minus(const std::vector<NodeId>& a, const std::vector<NodeId>& b) {
  std::vector<NodeId> out;
  for (NodeId x : a) {
    if (!Contains(b, x)) out.push_back(x);
  }
  return out;
}

}  // namespace

NodeId PartitionManager::ChooseLeader(const TopicId& id, int32_t partition, const PartitionState& p,
                                      NodeId excluded) const {
  // Preferred order among the ISR, so leadership tends back to the preferred replica.
  for (NodeId r : p.replicas) {
    if (r != excluded && p.InIsr(r) && sessions_.Eligible(r, id, partition)) return r;
  }
  return kNoNode;
}

void PartitionManager::AddLeaveRecord(NodeId leaving, const TopicImage& t, int32_t index,
                                      v1::MetadataBatch* batch) const {
  const PartitionState& p = t.partitions[static_cast<size_t>(index)];
  const bool leads = p.leader == leaving;
  if (!leads && !p.InIsr(leaving)) return;
  // The last ISR member stays in the ISR: it holds every committed record, so it must be the
  // one elected when it comes back (KRaft semantics).
  std::vector<NodeId> isr = p.isr.size() > 1 ? Without(p.isr, leaving) : p.isr;
  NodeId leader = p.leader;
  if (leads) {
    PartitionState next = p;
    next.isr = isr;
    leader = ChooseLeader(t.id, index, next, leaving);
    if (leader == kNoNode &&
        ConfigAsBool(configs_.TopicConfig(t.name, "unclean.leader.election.enable"))) {
      for (NodeId r : p.replicas) {
        if (r != leaving && sessions_.Eligible(r, t.id, index)) {
          leader = r;  // unclean: an out-of-sync replica leads, with itself as the ISR
          isr = {r};
          unclean_elections_.fetch_add(1, std::memory_order_relaxed);
          break;
        }
      }
    }
  }
  if (isr == p.isr && leader == p.leader) return;
  auto* r = AddChange(t.id, index, batch);
  if (leader != p.leader) r->set_leader(leader.value());
  if (isr != p.isr) SetIsr(isr, r);
}

void PartitionManager::AddLeaveRecords(NodeId leaving, v1::MetadataBatch* batch) const {
  for (const auto& [name, t] : image_.topics()) {
    for (size_t i = 0; i < t.partitions.size(); ++i) {
      AddLeaveRecord(leaving, t, static_cast<int32_t>(i), batch);
    }
  }
}

void PartitionManager::AddReturnRecord(NodeId returning, const TopicImage& t, int32_t index,
                                       v1::MetadataBatch* batch) const {
  const PartitionState& p = t.partitions[static_cast<size_t>(index)];
  // (The caller knows the broker is live: it may be unfencing in this very batch.)
  if (p.leader != kNoNode || !p.InIsr(returning) ||
      sessions_.ReplicaOffline(returning, t.id, index)) {
    return;
  }
  // Every other ISR member is unavailable (else it would lead): the returning broker holds
  // every committed record, so it leads — a clean election.
  AddChange(t.id, index, batch)->set_leader(returning.value());
}

void PartitionManager::AddReturnRecords(NodeId returning, v1::MetadataBatch* batch) const {
  for (const auto& [name, t] : image_.topics()) {
    for (size_t i = 0; i < t.partitions.size(); ++i) {
      AddReturnRecord(returning, t, static_cast<int32_t>(i), batch);
    }
  }
}

void PartitionManager::AddOfflineReplicaRecords(NodeId broker, const std::set<ReplicaKey>& gone,
                                                const std::set<ReplicaKey>& back,
                                                v1::MetadataBatch* batch) const {
  for (const std::set<ReplicaKey>* keys : {&gone, &back}) {
    for (const auto& [id_bytes, partition] : *keys) {
      auto id = TopicId::FromBytes(id_bytes);
      const TopicImage* t = id ? image_.topic(*id) : nullptr;
      if (t == nullptr || partition < 0 ||
          partition >= static_cast<int32_t>(t->partitions.size()) ||
          !t->partitions[static_cast<size_t>(partition)].IsReplica(broker)) {
        continue;  // deleted or moved meanwhile
      }
      if (keys == &gone) {
        AddLeaveRecord(broker, *t, partition, batch);
      } else {
        AddReturnRecord(broker, *t, partition, batch);
      }
    }
  }
}

void PartitionManager::AddPartitionRecords(const TopicId& id, int32_t first,
                                           const std::vector<std::vector<NodeId>>& assignments,
                                           v1::MetadataBatch* batch) const {
  for (size_t i = 0; i < assignments.size(); ++i) {
    std::vector<NodeId> isr;
    for (NodeId r : assignments[i]) {
      if (sessions_.Eligible(r)) isr.push_back(r);
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

bool PartitionManager::LeadsMovablePartitions(NodeId broker) const {
  for (const auto& [name, t] : image_.topics()) {
    for (size_t i = 0; i < t.partitions.size(); ++i) {
      const PartitionState& p = t.partitions[i];
      if (p.leader == broker && ChooseLeader(t.id, static_cast<int32_t>(i), p, broker) != kNoNode) {
        return true;
      }
    }
  }
  return false;
}

ControllerError PartitionManager::CheckPartitionLimits(const std::map<NodeId, int64_t>& added,
                                                       int64_t new_partitions) const {
  const int64_t cluster_max = ConfigAsLong(configs_.ClusterConfig("max.partitions"));
  const int64_t broker_max = ConfigAsLong(configs_.ClusterConfig("max.broker.partitions"));
  const auto total = static_cast<int64_t>(image_.partition_count());
  if (total + new_partitions > cluster_max) {
    return {KafkaError::kPolicyViolation,
            fmt::format("the cluster has {} partitions; {} more would pass max.partitions={}",
                        total, new_partitions, cluster_max)};
  }
  for (const auto& [broker, count] : added) {
    auto it = image_.replica_counts().find(broker);
    const int64_t hosted = it == image_.replica_counts().end() ? 0 : it->second;
    if (count > 0 && hosted + count > broker_max) {
      return {KafkaError::kPolicyViolation,
              fmt::format("broker {} hosts {} partition replicas; {} more would pass "
                          "max.broker.partitions={}",
                          broker, hosted, count, broker_max)};
    }
  }
  return {};
}

void PartitionManager::FillPartitionState(const TopicId& id, int32_t partition,
                                          v1::PartitionState* out) const {
  out->set_topic_id(id.Bytes());
  out->set_partition(partition);
  if (const PartitionState* p = image_.partition(id, partition)) {
    out->set_leader(p->leader.value());
    out->set_leader_epoch(p->leader_epoch.value());
    out->set_partition_epoch(p->partition_epoch);
    FromNodeIds(p->isr, out->mutable_isr());
  }
}

ControllerError PartitionManager::CheckIsrChange(NodeId leader,
                                                 const v1::PartitionIsrChange& c) const {
  auto id = TopicId::FromBytes(c.topic_id());
  const PartitionState* p = id ? image_.partition(*id, c.partition()) : nullptr;
  const std::vector<NodeId> isr = ToNodeIds(c.new_isr());
  if (p == nullptr) return {KafkaError::kUnknownTopicOrPartition, "unknown topic id or partition"};
  if (p->leader != leader) {
    return {KafkaError::kNotLeaderOrFollower,
            fmt::format("broker {} does not lead partition {}", leader, c.partition())};
  }
  if (c.leader_epoch() < p->leader_epoch.value()) {
    return {KafkaError::kFencedLeaderEpoch,
            fmt::format("leader epoch {} is older than {}", c.leader_epoch(), p->leader_epoch)};
  }
  if (c.leader_epoch() > p->leader_epoch.value()) {
    return {KafkaError::kUnknownLeaderEpoch, "leader epoch from the future"};
  }
  if (c.partition_epoch() != p->partition_epoch) {
    return {KafkaError::kInvalidUpdateVersion,
            fmt::format("partition epoch {} is not the current {}", c.partition_epoch(),
                        p->partition_epoch)};
  }
  if (!Contains(isr, leader)) {
    return {KafkaError::kInvalidRequest, "the new ISR must contain the leader"};
  }
  ControllerError e;
  for (NodeId m : isr) {
    if (!p->IsReplica(m) || (!p->InIsr(m) && !sessions_.Eligible(m, *id, c.partition()))) {
      e = {KafkaError::kIneligibleReplica,
           fmt::format("broker {} cannot join the ISR (not a replica, fenced, shutting down, or "
                       "its replica is offline)",
                       m)};
      break;
    }
  }
  if (std::set<NodeId>(isr.begin(), isr.end()).size() != isr.size()) {
    e = {KafkaError::kInvalidRequest, "the new ISR lists a broker twice"};
  }
  return e;
}

ControllerResult<v1::AlterPartitionResponse> PartitionManager::AlterPartition(
    const v1::AlterPartitionRequest& req) const {
  if (ControllerError e =
          sessions_.CheckBrokerEpoch(req.broker_id(), req.broker_epoch(), req.incarnation_id());
      !e.ok()) {
    return Refuse<v1::AlterPartitionResponse>(e);
  }
  const NodeId leader(req.broker_id());
  ControllerResult<v1::AlterPartitionResponse> out;
  std::vector<ControllerError> errors;
  std::set<std::pair<std::string, int32_t>> seen;
  for (const v1::PartitionIsrChange& c : req.partitions()) {
    ControllerError e =
        seen.emplace(c.topic_id(), c.partition()).second
            ? CheckIsrChange(leader, c)
            : ControllerError{KafkaError::kInvalidRequest, "the partition is listed twice"};
    const std::vector<NodeId> isr = ToNodeIds(c.new_isr());
    if (e.ok()) {
      auto id = TopicId::FromBytes(c.topic_id());
      const TopicImage* t = image_.topic(*id);
      const PartitionState& p = t->partitions[static_cast<size_t>(c.partition())];
      if (isr != p.isr) {
        if (p.Reassigning() && std::all_of(p.adding_replicas.begin(), p.adding_replicas.end(),
                                           [&](NodeId a) { return Contains(isr, a); })) {
          AddCompleteReassignment(*t, c.partition(), isr, &out.records);
        } else {
          SetIsr(isr, AddChange(*id, c.partition(), &out.records));
        }
      }
    }
    errors.push_back(e);
  }
  // The answer is built once committed: refusals carry the partition's current state too, so a
  // leader whose proposal was refused at the partition epoch it knows learns that its expansion
  // did not happen, and stops holding the high watermark for the members it proposed.
  out.complete = [this, req, errors](v1::AlterPartitionResponse* resp) {
    for (int i = 0; i < req.partitions_size(); ++i) {
      auto* ps = resp->add_partitions();
      auto id = TopicId::FromBytes(req.partitions(i).topic_id());
      if (id && image_.partition(*id, req.partitions(i).partition()) != nullptr) {
        FillPartitionState(*id, req.partitions(i).partition(), ps);
      } else {
        ps->set_topic_id(req.partitions(i).topic_id());
        ps->set_partition(req.partitions(i).partition());
      }
      SetError(errors[static_cast<size_t>(i)], ps->mutable_error());
    }
  };
  return out;
}

void PartitionManager::AddCompleteReassignment(const TopicImage& t, int32_t index,
                                               const std::vector<NodeId>& isr,
                                               v1::MetadataBatch* batch) const {
  const PartitionState& p = t.partitions[static_cast<size_t>(index)];
  std::vector<NodeId> target = Minus(p.replicas, p.removing_replicas);
  std::vector<NodeId> new_isr;
  for (NodeId m : isr) {
    if (Contains(target, m)) new_isr.push_back(m);
  }
  PartitionState next = p;
  next.replicas = target;
  next.isr = new_isr;
  NodeId leader = Contains(target, p.leader) && sessions_.Eligible(p.leader, t.id, index)
                      ? p.leader
                      : ChooseLeader(t.id, index, next, kNoNode);
  auto* r = AddChange(t.id, index, batch);
  r->set_set_replicas(true);
  FromNodeIds(target, r->mutable_replicas());
  SetIsr(new_isr, r);
  r->set_set_reassignment(true);
  if (leader != p.leader) r->set_leader(leader.value());
}

ControllerError PartitionManager::ElectLeader(const admin::v1::ElectLeadersRequest& req,
                                              const TopicImage& t, int32_t index,
                                              admin::v1::ElectionResult* result,
                                              v1::MetadataBatch* batch) const {
  const PartitionState& p = t.partitions[static_cast<size_t>(index)];
  ControllerError e;
  NodeId leader = kNoNode;
  std::vector<NodeId> isr = p.isr;
  if (req.election_type() == admin::v1::PREFERRED) {
    const NodeId preferred = p.replicas.empty() ? kNoNode : p.replicas.front();
    if (p.leader == preferred) {
      e = {KafkaError::kElectionNotNeeded, "the preferred replica already leads"};
    } else if (!p.InIsr(preferred) || !sessions_.Eligible(preferred, t.id, index)) {
      e = {KafkaError::kPreferredLeaderNotAvailable,
           fmt::format("preferred replica {} is not in sync or not available", preferred)};
    } else {
      leader = preferred;
    }
  } else if (p.leader != kNoNode) {
    e = {KafkaError::kElectionNotNeeded, "the partition has a leader"};
  } else {
    leader = ChooseLeader(t.id, index, p, kNoNode);
    for (size_t i = 0; leader == kNoNode && i < p.replicas.size(); ++i) {
      if (sessions_.Eligible(p.replicas[i], t.id, index)) {
        leader = p.replicas[i];
        isr = {leader};  // unclean: may lose records the old ISR had acknowledged
        unclean_elections_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (leader == kNoNode) {
      e = {KafkaError::kEligibleLeadersNotAvailable, "no replica is on a live broker"};
    }
  }
  if (!e.ok()) {
    result->set_leader(p.leader.value());
    return e;
  }
  auto* r = AddChange(t.id, index, batch);
  r->set_leader(leader.value());
  if (isr != p.isr) SetIsr(isr, r);
  result->set_leader(leader.value());
  return e;
}

ControllerResult<admin::v1::ElectLeadersResponse> PartitionManager::ElectLeaders(
    const admin::v1::ElectLeadersRequest& req) const {
  std::vector<std::pair<std::string, int32_t>> targets;
  if (req.partitions_size() == 0) {
    for (const auto& [name, t] : image_.topics()) {
      for (size_t i = 0; i < t.partitions.size(); ++i) {
        targets.emplace_back(name, static_cast<int32_t>(i));
      }
    }
  } else {
    for (const auto& tp : req.partitions()) targets.emplace_back(tp.topic(), tp.partition());
  }
  ControllerResult<admin::v1::ElectLeadersResponse> out;
  std::set<std::pair<std::string, int32_t>> seen;
  for (const auto& [name, index] : targets) {
    auto* result = out.response.add_results();
    result->mutable_partition()->set_topic(name);
    result->mutable_partition()->set_partition(index);
    ControllerError e;
    const TopicImage* t = image_.topic(name);
    if (!seen.emplace(name, index).second) {
      e = {KafkaError::kInvalidRequest, "the partition is listed twice"};
    } else if (t == nullptr || index < 0 || index >= static_cast<int32_t>(t->partitions.size())) {
      e = {KafkaError::kUnknownTopicOrPartition,
           fmt::format("unknown partition {}-{}", name, index)};
    } else {
      e = ElectLeader(req, *t, index, result, &out.records);
    }
    SetError(e, result->mutable_error());
  }
  out.answer_now = out.records.records_size() == 0;
  return out;
}

ControllerResult<admin::v1::AlterPartitionReassignmentsResponse>
PartitionManager::AlterPartitionReassignments(
    const admin::v1::AlterPartitionReassignmentsRequest& req) const {
  ControllerResult<admin::v1::AlterPartitionReassignmentsResponse> out;
  std::map<NodeId, int64_t> added_by_request;  // replicas the request's moves add per broker
  std::set<std::pair<std::string, int32_t>> seen;
  for (const admin::v1::Reassignment& ra : req.reassignments()) {
    auto* result = out.response.add_results();
    *result->mutable_partition() = ra.partition();
    ControllerError e;
    const TopicImage* t = image_.topic(ra.partition().topic());
    const int32_t index = ra.partition().partition();
    if (!seen.emplace(ra.partition().topic(), index).second) {
      e = {KafkaError::kInvalidRequest, "the partition is listed twice"};
    } else if (t == nullptr || index < 0 || index >= static_cast<int32_t>(t->partitions.size())) {
      e = {KafkaError::kUnknownTopicOrPartition, "unknown partition"};
    } else {
      e = PlanReassignment(*t, index, ToNodeIds(ra.replicas()), &out.records, &added_by_request);
    }
    SetError(e, result->mutable_error());
  }
  out.answer_now = out.records.records_size() == 0;
  return out;
}

ControllerError PartitionManager::PlanCancelReassignment(const TopicImage& t, int32_t index,
                                                         v1::MetadataBatch* batch) const {
  const PartitionState& p = t.partitions[static_cast<size_t>(index)];
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
  auto* r = AddChange(t.id, index, batch);
  r->set_set_replicas(true);
  FromNodeIds(original.replicas, r->mutable_replicas());
  SetIsr(original.isr, r);
  r->set_set_reassignment(true);
  if (!original.IsReplica(p.leader)) {
    r->set_leader(ChooseLeader(t.id, index, original, kNoNode).value());
  }
  return {};
}

ControllerError PartitionManager::PlanReassignment(
    const TopicImage& t, int32_t index, const std::vector<NodeId>& target, v1::MetadataBatch* batch,
    std::map<NodeId, int64_t>* added_by_request) const {
  const PartitionState& p = t.partitions[static_cast<size_t>(index)];
  if (target.empty()) return PlanCancelReassignment(t, index, batch);
  if (p.Reassigning()) {
    return {KafkaError::kReassignmentInProgress,
            "a reassignment is in progress; cancel it first (empty replica list)"};
  }
  if (std::set<NodeId>(target.begin(), target.end()).size() != target.size()) {
    return {KafkaError::kInvalidReplicaAssignment, "the target lists a broker twice"};
  }
  for (NodeId r : target) {
    if (image_.broker(r) == nullptr) {
      return {KafkaError::kInvalidReplicaAssignment, fmt::format("broker {} is not registered", r)};
    }
  }
  if (target == p.replicas) return {};
  if (target.size() < p.replicas.size()) {
    const int64_t min_isr =
        ConfigAsLong(image_.config({v1::TOPIC, t.name}, "min.insync.replicas").value_or("0"));
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
  if (adding.empty()) {
    // Only removals: nothing to catch up, finish at once if an in-sync replica remains.
    if (std::none_of(p.isr.begin(), p.isr.end(), [&](NodeId m) { return Contains(target, m); })) {
      return {KafkaError::kInvalidReplicaAssignment, "no in-sync replica is in the target"};
    }
    TopicImage scratch = t;
    PartitionState& next = scratch.partitions[static_cast<size_t>(index)];
    next.replicas = all;
    next.adding_replicas = adding;
    next.removing_replicas = removing;
    AddCompleteReassignment(scratch, index, p.isr, batch);
    return {};
  }
  auto* r = AddChange(t.id, index, batch);
  r->set_set_replicas(true);
  FromNodeIds(all, r->mutable_replicas());
  r->set_set_reassignment(true);
  FromNodeIds(adding, r->mutable_adding_replicas());
  FromNodeIds(removing, r->mutable_removing_replicas());
  return {};
}

v1::MetadataBatch PartitionManager::RebalanceLeaders(int64_t now_ms) {
  v1::MetadataBatch batch;
  // The interval is read on every tick, so a dynamic change applies from the next tick rather
  // than after the old interval ran out.
  const int64_t interval_ms =
      1000 * ConfigAsLong(configs_.ClusterConfig("leader.imbalance.check.interval.seconds"));
  if (now_ms - last_rebalance_check_ms_ < interval_ms) return batch;
  last_rebalance_check_ms_ = now_ms;
  if (!ConfigAsBool(configs_.ClusterConfig("auto.leader.rebalance.enable"))) return batch;
  const int64_t percent =
      ConfigAsLong(configs_.ClusterConfig("leader.imbalance.per.broker.percentage"));
  // Per preferred leader: how many of its partitions are led by someone else.
  std::map<NodeId, std::pair<int64_t, int64_t>> imbalance;  // broker -> (preferred, not led)
  for (const auto& [name, t] : image_.topics()) {
    for (const PartitionState& p : t.partitions) {
      if (p.replicas.empty()) continue;
      auto& [preferred, not_led] = imbalance[p.replicas.front()];
      ++preferred;
      if (p.leader != p.replicas.front()) ++not_led;
    }
  }
  for (const auto& [name, t] : image_.topics()) {
    for (size_t i = 0; i < t.partitions.size(); ++i) {
      const PartitionState& p = t.partitions[i];
      if (p.replicas.empty() || p.leader == p.replicas.front()) continue;
      const NodeId preferred = p.replicas.front();
      const auto [total, not_led] = imbalance[preferred];
      if (not_led * 100 <= percent * total) continue;
      if (!p.InIsr(preferred) || !sessions_.Eligible(preferred, t.id, static_cast<int32_t>(i))) {
        continue;
      }
      AddChange(t.id, static_cast<int32_t>(i), &batch)->set_leader(preferred.value());
    }
  }
  return batch;
}

}  // namespace strand::controller
