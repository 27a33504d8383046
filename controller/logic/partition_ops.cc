// QuorumController: partition leadership — leader election when brokers leave, ISR changes from
// leaders (AlterPartition), manual elections, reassignment, preferred-leader rebalancing.
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "controller/logic/quorum_controller.h"
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

}  // namespace

bool QuorumController::Eligible(NodeId node) const {
  const BrokerRegistration* b = working_.broker(node);
  return b != nullptr && !b->fenced && !b->in_controlled_shutdown;
}

bool QuorumController::ReplicaOffline(NodeId node, const TopicId& id, int32_t partition) const {
  auto it = sessions_.find(node);
  return it != sessions_.end() && it->second.offline.count({id.Bytes(), partition}) > 0;
}

bool QuorumController::Eligible(NodeId node, const TopicId& id, int32_t partition) const {
  return Eligible(node) && !ReplicaOffline(node, id, partition);
}

NodeId QuorumController::ChooseLeader(const TopicId& id, int32_t partition,
                                      const PartitionState& p, NodeId excluded) const {
  // Preferred order among the ISR, so leadership tends back to the preferred replica.
  for (NodeId r : p.replicas) {
    if (r != excluded && p.InIsr(r) && Eligible(r, id, partition)) return r;
  }
  return kNoNode;
}

void QuorumController::AddLeaveRecord(NodeId leaving, const TopicImage& t, int32_t index,
                                      v1::MetadataBatch* batch) {
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
        ConfigAsBool(TopicConfig(working_, t.name, "unclean.leader.election.enable"))) {
      for (NodeId r : p.replicas) {
        if (r != leaving && Eligible(r, t.id, index)) {
          leader = r;  // unclean: an out-of-sync replica leads, with itself as the ISR
          isr = {r};
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

void QuorumController::AddLeaveRecords(NodeId leaving, v1::MetadataBatch* batch) {
  for (const auto& [name, t] : working_.topics()) {
    for (size_t i = 0; i < t.partitions.size(); ++i) {
      AddLeaveRecord(leaving, t, static_cast<int32_t>(i), batch);
    }
  }
}

void QuorumController::AddReturnRecord(NodeId returning, const TopicImage& t, int32_t index,
                                       v1::MetadataBatch* batch) {
  const PartitionState& p = t.partitions[static_cast<size_t>(index)];
  // (The caller knows the broker is live: it may be unfencing in this very batch.)
  if (p.leader != kNoNode || !p.InIsr(returning) || ReplicaOffline(returning, t.id, index)) {
    return;
  }
  // Every other ISR member is unavailable (else it would lead): the returning broker holds
  // every committed record, so it leads — a clean election.
  AddChange(t.id, index, batch)->set_leader(returning.value());
}

void QuorumController::AddReturnRecords(NodeId returning, v1::MetadataBatch* batch) {
  for (const auto& [name, t] : working_.topics()) {
    for (size_t i = 0; i < t.partitions.size(); ++i) {
      AddReturnRecord(returning, t, static_cast<int32_t>(i), batch);
    }
  }
}

void QuorumController::AddOfflineReplicaRecords(NodeId broker, const std::set<ReplicaKey>& gone,
                                                const std::set<ReplicaKey>& back,
                                                v1::MetadataBatch* batch) {
  for (const std::set<ReplicaKey>* keys : {&gone, &back}) {
    for (const auto& [id_bytes, partition] : *keys) {
      auto id = TopicId::FromBytes(id_bytes);
      const TopicImage* t = id ? working_.topic(*id) : nullptr;
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

bool QuorumController::LeadsMovablePartitions(NodeId broker) const {
  for (const auto& [name, t] : working_.topics()) {
    for (size_t i = 0; i < t.partitions.size(); ++i) {
      const PartitionState& p = t.partitions[i];
      if (p.leader == broker &&
          ChooseLeader(t.id, static_cast<int32_t>(i), p, broker) != kNoNode) {
        return true;
      }
    }
  }
  return false;
}

void QuorumController::FillPartitionState(const TopicId& id, int32_t partition,
                                          v1::PartitionState* out) const {
  out->set_topic_id(id.Bytes());
  out->set_partition(partition);
  if (const PartitionState* p = working_.partition(id, partition)) {
    out->set_leader(p->leader.value());
    out->set_leader_epoch(p->leader_epoch.value());
    out->set_partition_epoch(p->partition_epoch);
    FromNodeIds(p->isr, out->mutable_isr());
  }
}

void QuorumController::AlterPartition(const v1::AlterPartitionRequest& req,
                                      Done<v1::AlterPartitionResponse> done) {
  v1::AlterPartitionResponse resp;
  if (!active_) {
    SetError(NotActive(), resp.mutable_error());
    return done(resp);
  }
  if (ControllerError e =
          CheckBrokerEpoch(req.broker_id(), req.broker_epoch(), req.incarnation_id());
      !e.ok()) {
    SetError(e, resp.mutable_error());
    return done(resp);
  }
  const NodeId leader(req.broker_id());
  v1::MetadataBatch batch;
  std::vector<ControllerError> errors;
  std::set<std::pair<std::string, int32_t>> seen;
  for (const v1::PartitionIsrChange& c : req.partitions()) {
    if (!seen.emplace(c.topic_id(), c.partition()).second) {
      errors.push_back({KafkaError::kInvalidRequest, "the partition is listed twice"});
      continue;
    }
    auto id = TopicId::FromBytes(c.topic_id());
    const TopicImage* t = id ? working_.topic(*id) : nullptr;
    const PartitionState* p = id ? working_.partition(*id, c.partition()) : nullptr;
    ControllerError e;
    const std::vector<NodeId> isr = ToNodeIds(c.new_isr());
    if (p == nullptr) {
      e = {KafkaError::kUnknownTopicOrPartition, "unknown topic id or partition"};
    } else if (p->leader != leader) {
      e = {KafkaError::kNotLeaderOrFollower,
           fmt::format("broker {} does not lead partition {}", leader, c.partition())};
    } else if (c.leader_epoch() < p->leader_epoch.value()) {
      e = {KafkaError::kFencedLeaderEpoch, fmt::format("leader epoch {} is older than {}",
                                                       c.leader_epoch(), p->leader_epoch)};
    } else if (c.leader_epoch() > p->leader_epoch.value()) {
      e = {KafkaError::kUnknownLeaderEpoch, "leader epoch from the future"};
    } else if (c.partition_epoch() != p->partition_epoch) {
      e = {KafkaError::kInvalidUpdateVersion,
           fmt::format("partition epoch {} is not the current {}", c.partition_epoch(),
                       p->partition_epoch)};
    } else if (!Contains(isr, leader)) {
      e = {KafkaError::kInvalidRequest, "the new ISR must contain the leader"};
    } else {
      for (NodeId m : isr) {
        if (!p->IsReplica(m) || (!p->InIsr(m) && !Eligible(m, *id, c.partition()))) {
          e = {KafkaError::kIneligibleReplica,
               fmt::format("broker {} cannot join the ISR (not a replica, fenced, shutting "
                           "down, or its replica is offline)",
                           m)};
          break;
        }
      }
      if (std::set<NodeId>(isr.begin(), isr.end()).size() != isr.size()) {
        e = {KafkaError::kInvalidRequest, "the new ISR lists a broker twice"};
      }
    }
    if (e.ok() && isr != p->isr) {
      if (p->Reassigning() &&
          std::all_of(p->adding_replicas.begin(), p->adding_replicas.end(),
                      [&](NodeId a) { return Contains(isr, a); })) {
        AddCompleteReassignment(*t, c.partition(), isr, &batch);
      } else {
        SetIsr(isr, AddChange(*id, c.partition(), &batch));
      }
    }
    errors.push_back(e);
  }
  auto respond = [this, req, errors, done](bool committed) {
    v1::AlterPartitionResponse out;
    if (!committed) {
      SetError(NotActive(), out.mutable_error());
      return done(out);
    }
    for (int i = 0; i < req.partitions_size(); ++i) {
      auto* ps = out.add_partitions();
      auto id = TopicId::FromBytes(req.partitions(i).topic_id());
      // Refusals carry the current state too: a leader whose proposal was refused at the
      // partition epoch it knows learns that its expansion did not happen, and stops holding
      // the high watermark for the members it proposed.
      if (id && working_.partition(*id, req.partitions(i).partition()) != nullptr) {
        FillPartitionState(*id, req.partitions(i).partition(), ps);
      } else {
        ps->set_topic_id(req.partitions(i).topic_id());
        ps->set_partition(req.partitions(i).partition());
      }
      SetError(errors[static_cast<size_t>(i)], ps->mutable_error());
    }
    done(out);
  };
  if (absl::Status s = Commit(std::move(batch), respond); !s.ok()) {
    SetError({KafkaError::kNotController, std::string(s.message())}, resp.mutable_error());
    done(resp);
  }
}

void QuorumController::AddCompleteReassignment(const TopicImage& t, int32_t index,
                                               const std::vector<NodeId>& isr,
                                               v1::MetadataBatch* batch) {
  const PartitionState& p = t.partitions[static_cast<size_t>(index)];
  std::vector<NodeId> target;
  for (NodeId r : p.replicas) {
    if (!Contains(p.removing_replicas, r)) target.push_back(r);
  }
  std::vector<NodeId> new_isr;
  for (NodeId m : isr) {
    if (Contains(target, m)) new_isr.push_back(m);
  }
  PartitionState next = p;
  next.replicas = target;
  next.isr = new_isr;
  NodeId leader = Contains(target, p.leader) && Eligible(p.leader, t.id, index)
                      ? p.leader
                      : ChooseLeader(t.id, index, next, kNoNode);
  auto* r = AddChange(t.id, index, batch);
  r->set_set_replicas(true);
  FromNodeIds(target, r->mutable_replicas());
  SetIsr(new_isr, r);
  r->set_set_reassignment(true);
  if (leader != p.leader) r->set_leader(leader.value());
}

void QuorumController::ElectLeaders(const admin::v1::ElectLeadersRequest& req,
                                    Done<admin::v1::ElectLeadersResponse> done) {
  admin::v1::ElectLeadersResponse resp;
  std::vector<std::pair<std::string, int32_t>> targets;
  if (req.partitions_size() == 0) {
    for (const auto& [name, t] : working_.topics()) {
      for (size_t i = 0; i < t.partitions.size(); ++i) {
        targets.emplace_back(name, static_cast<int32_t>(i));
      }
    }
  } else {
    for (const auto& tp : req.partitions()) targets.emplace_back(tp.topic(), tp.partition());
  }
  v1::MetadataBatch batch;
  std::set<std::pair<std::string, int32_t>> seen;
  for (const auto& [name, index] : targets) {
    auto* result = resp.add_results();
    result->mutable_partition()->set_topic(name);
    result->mutable_partition()->set_partition(index);
    ControllerError e;
    const TopicImage* t = working_.topic(name);
    if (!active_) {
      e = NotActive();
    } else if (!seen.emplace(name, index).second) {
      e = {KafkaError::kInvalidRequest, "the partition is listed twice"};
    } else if (t == nullptr || index < 0 || index >= static_cast<int32_t>(t->partitions.size())) {
      e = {KafkaError::kUnknownTopicOrPartition, fmt::format("unknown partition {}-{}", name, index)};
    } else {
      const PartitionState& p = t->partitions[static_cast<size_t>(index)];
      NodeId leader = kNoNode;
      std::vector<NodeId> isr = p.isr;
      if (req.election_type() == admin::v1::PREFERRED) {
        const NodeId preferred = p.replicas.empty() ? kNoNode : p.replicas.front();
        if (p.leader == preferred) {
          e = {KafkaError::kElectionNotNeeded, "the preferred replica already leads"};
        } else if (!p.InIsr(preferred) || !Eligible(preferred, t->id, index)) {
          e = {KafkaError::kPreferredLeaderNotAvailable,
               fmt::format("preferred replica {} is not in sync or not available", preferred)};
        } else {
          leader = preferred;
        }
      } else if (p.leader != kNoNode) {
        e = {KafkaError::kElectionNotNeeded, "the partition has a leader"};
      } else {
        leader = ChooseLeader(t->id, index, p, kNoNode);
        for (size_t i = 0; leader == kNoNode && i < p.replicas.size(); ++i) {
          if (Eligible(p.replicas[i], t->id, index)) {
            leader = p.replicas[i];
            isr = {leader};  // unclean: may lose records the old ISR had acknowledged
          }
        }
        if (leader == kNoNode) {
          e = {KafkaError::kEligibleLeadersNotAvailable, "no replica is on a live broker"};
        }
      }
      if (e.ok()) {
        auto* r = AddChange(t->id, index, &batch);
        r->set_leader(leader.value());
        if (isr != p.isr) SetIsr(isr, r);
        result->set_leader(leader.value());
      } else {
        result->set_leader(p.leader.value());
      }
    }
    SetError(e, result->mutable_error());
  }
  CommitAndAnswerResults(std::move(batch), std::move(resp), std::move(done));
}

void QuorumController::RebalanceLeaders(int64_t now_ms) {
  // The interval is read on every tick, so a dynamic change applies from the next tick rather
  // than after the old interval ran out.
  const int64_t interval_ms =
      1000 * ConfigAsLong(ClusterConfig(working_, "leader.imbalance.check.interval.seconds"));
  if (now_ms - last_rebalance_check_ms_ < interval_ms) return;
  last_rebalance_check_ms_ = now_ms;
  if (!ConfigAsBool(ClusterConfig(working_, "auto.leader.rebalance.enable"))) return;
  const int64_t percent =
      ConfigAsLong(ClusterConfig(working_, "leader.imbalance.per.broker.percentage"));
  // Per preferred leader: how many of its partitions are led by someone else.
  std::map<NodeId, std::pair<int64_t, int64_t>> imbalance;  // broker -> (preferred, not led)
  for (const auto& [name, t] : working_.topics()) {
    for (const PartitionState& p : t.partitions) {
      if (p.replicas.empty()) continue;
      auto& [preferred, not_led] = imbalance[p.replicas.front()];
      ++preferred;
      if (p.leader != p.replicas.front()) ++not_led;
    }
  }
  v1::MetadataBatch batch;
  for (const auto& [name, t] : working_.topics()) {
    for (size_t i = 0; i < t.partitions.size(); ++i) {
      const PartitionState& p = t.partitions[i];
      if (p.replicas.empty() || p.leader == p.replicas.front()) continue;
      const NodeId preferred = p.replicas.front();
      const auto [total, not_led] = imbalance[preferred];
      if (not_led * 100 <= percent * total) continue;
      if (!p.InIsr(preferred) || !Eligible(preferred, t.id, static_cast<int32_t>(i))) continue;
      AddChange(t.id, static_cast<int32_t>(i), &batch)->set_leader(preferred.value());
    }
  }
  if (batch.records_size() > 0) (void)Commit(std::move(batch), [](bool) {});
}

}  // namespace strand::controller
