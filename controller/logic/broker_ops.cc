// QuorumController: broker registration, heartbeats and sessions, fencing, controlled shutdown,
// producer-id blocks. See the header.
#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "controller/logic/quorum_controller.h"

namespace strand::controller {
namespace {

// Offline replicas one heartbeat may report (a broker holds at most a few thousand replicas).
constexpr int kOfflineReplicasMax = 100'000;

v1::BrokerRegistrationChangeRecord* AddRegistrationChange(NodeId broker, int64_t epoch,
                                                          v1::MetadataBatch* batch) {
  auto* r = batch->add_records()->mutable_broker_registration_change();
  r->set_broker_id(broker.value());
  r->set_broker_epoch(epoch);
  return r;
}

}  // namespace

ControllerError QuorumController::CheckBrokerEpoch(int32_t broker_id, int64_t epoch,
                                                   const std::string& incarnation) const {
  const BrokerRegistration* b = working_.broker(NodeId(broker_id));
  if (b == nullptr) {
    return {KafkaError::kBrokerIdNotRegistered,
            fmt::format("broker {} is not registered", broker_id)};
  }
  if (b->epoch != epoch) {
    return {KafkaError::kStaleBrokerEpoch,
            fmt::format("broker {} epoch {} is stale; the registration has epoch {}", broker_id,
                        epoch, b->epoch)};
  }
  if (b->incarnation_id != incarnation) {
    // The epoch is no secret (it is a metadata offset); the incarnation id is: only the process
    // that registered and the controllers know it.
    return {KafkaError::kStaleBrokerEpoch,
            fmt::format("broker {}: the request's incarnation id does not match the "
                        "registration; only the registered process may speak for it",
                        broker_id)};
  }
  return {};
}

void QuorumController::RegisterBroker(const v1::RegisterBrokerRequest& req, int64_t now_ms,
                                      Done<v1::RegisterBrokerResponse> done) {
  v1::RegisterBrokerResponse resp;
  auto fail = [&](ControllerError e) {
    SetError(e, resp.mutable_error());
    done(resp);
  };
  if (!active_) return fail(NotActive());
  const NodeId id(req.broker_id());
  if (req.cluster_id() != config_.cluster_id) {
    return fail({KafkaError::kInconsistentClusterId,
                 fmt::format("broker belongs to cluster '{}', this is '{}'", req.cluster_id(),
                             config_.cluster_id)});
  }
  if (id.value() < 0 || std::find(config_.controller_ids.begin(), config_.controller_ids.end(),
                                  id) != config_.controller_ids.end()) {
    return fail({KafkaError::kInvalidRequest,
                 fmt::format("node id {} is invalid or belongs to a controller", id)});
  }
  if (req.incarnation_id().empty() || req.listeners_size() == 0) {
    return fail({KafkaError::kInvalidRequest, "an incarnation id and a listener are required"});
  }
  v1::MetadataBatch batch;
  if (const BrokerRegistration* old = working_.broker(id)) {
    if (old->incarnation_id == req.incarnation_id()) {
      resp.set_broker_epoch(old->epoch);  // a retried registration: same answer
      return done(resp);
    }
    auto session = sessions_.find(id);
    if (session != sessions_.end() && session->second.stream_open &&
        session->second.deadline_ms > now_ms) {
      return fail({KafkaError::kDuplicateBrokerRegistration,
                   fmt::format("broker {} is registered by another live process (incarnation "
                               "{}); retry once it has stopped",
                               id, old->incarnation_id)});
    }
    // A restart: the old incarnation's leaderships and ISR seats go first.
    if (!old->fenced) AddFenceRecords(id, &batch);
  }
  auto* r = batch.add_records()->mutable_register_broker();
  r->set_broker_id(id.value());
  r->set_incarnation_id(req.incarnation_id());
  *r->mutable_listeners() = req.listeners();
  r->set_rack(req.rack());
  r->set_fenced(true);
  absl::Status s = Commit(batch, [this, done, resp, id](bool committed) mutable {
    if (!committed) {
      SetError(NotActive(), resp.mutable_error());
    } else if (const BrokerRegistration* b = working_.broker(id)) {
      resp.set_broker_epoch(b->epoch);
    }
    done(resp);
  });
  if (!s.ok()) return fail({KafkaError::kNotController, std::string(s.message())});
  const BrokerRegistration* b = working_.broker(id);
  // The stream opens with the first heartbeat; until then a restarted process may replace it.
  sessions_[id] = Session{b->epoch, now_ms + config_.broker_session_timeout_ms, false, 0,
                          last_appended_index_};
}

v1::BrokerHeartbeatResponse QuorumController::Heartbeat(const v1::BrokerHeartbeatRequest& req,
                                                        int64_t now_ms) {
  v1::BrokerHeartbeatResponse resp;
  if (!active_) {
    SetError(NotActive(), resp.mutable_error());
    return resp;
  }
  const NodeId id(req.broker_id());
  if (ControllerError e =
          CheckBrokerEpoch(req.broker_id(), req.broker_epoch(), req.incarnation_id());
      !e.ok()) {
    SetError(e, resp.mutable_error());
    return resp;
  }
  if (req.offline_replicas_size() > kOfflineReplicasMax) {
    SetError({KafkaError::kInvalidRequest,
              fmt::format("{} offline replicas; at most {} per heartbeat",
                          req.offline_replicas_size(), kOfflineReplicasMax)},
             resp.mutable_error());
    return resp;
  }
  Session& session = sessions_[id];
  std::set<ReplicaKey> offline;
  for (const v1::ReplicaRef& r : req.offline_replicas()) {
    offline.emplace(r.topic_id(), r.partition());
  }
  std::set<ReplicaKey> gone, back;
  std::set_difference(offline.begin(), offline.end(), session.offline.begin(),
                      session.offline.end(), std::inserter(gone, gone.end()));
  std::set_difference(session.offline.begin(), session.offline.end(), offline.begin(),
                      offline.end(), std::inserter(back, back.end()));
  // The offline set takes effect before the records are generated (they must skip offline
  // replicas), and is rolled back if they cannot be appended, so the next heartbeat tries again.
  std::set<ReplicaKey> previous = std::exchange(session.offline, std::move(offline));
  const bool first = !session.reported;
  session.epoch = req.broker_epoch();
  session.deadline_ms = now_ms + config_.broker_session_timeout_ms;
  session.stream_open = true;
  session.metadata_offset = std::max(session.metadata_offset, req.metadata_offset());
  const BrokerRegistration* b = working_.broker(id);
  const bool caught_up = session.metadata_offset >= session.caught_up_offset;
  v1::MetadataBatch batch;
  if (req.want_shut_down()) {
    if (!b->in_controlled_shutdown) {
      AddRegistrationChange(id, b->epoch, &batch)->set_in_controlled_shutdown(true);
    }
    AddShutdownRecords(id, &batch);
  } else if (req.want_fence() && !b->fenced) {
    AddFenceRecords(id, &batch);
  } else if (b->fenced && caught_up && !req.want_fence() && !b->in_controlled_shutdown) {
    AddRegistrationChange(id, b->epoch, &batch)->set_fence(v1::FENCE_CHANGE_UNFENCE);
    AddReturnRecords(id, &batch);
  } else if (!b->fenced && !b->in_controlled_shutdown && first) {
    // The first heartbeat this controller sees in the broker's session (say, it just became
    // active): what the broker reported to a predecessor is unknown, so every partition it can
    // lead again and that has no leader gets it back (offline replicas excepted).
    AddOfflineReplicaRecords(id, gone, {}, &batch);
    AddReturnRecords(id, &batch);
  } else if (!b->fenced && !b->in_controlled_shutdown && (!gone.empty() || !back.empty())) {
    AddOfflineReplicaRecords(id, gone, back, &batch);
  }
  if (batch.records_size() > 0) {
    if (absl::Status s = Commit(std::move(batch), [](bool) {}); !s.ok()) {
      session.offline = std::move(previous);
      SetError({KafkaError::kNotController, std::string(s.message())}, resp.mutable_error());
      return resp;
    }
  }
  session.reported = true;
  b = working_.broker(id);
  resp.set_is_fenced(b->fenced);
  resp.set_is_caught_up(caught_up);
  // Shutdown is done once the broker leads nothing that someone else could lead, and the
  // records that moved its leaderships are committed.
  resp.set_should_shut_down(req.want_shut_down() && !LeadsMovablePartitions(id) &&
                            last_appended_index_ <= committed_index_);
  return resp;
}

void QuorumController::HeartbeatStreamClosed(NodeId broker, int64_t broker_epoch,
                                             int64_t now_ms) {
  auto it = sessions_.find(broker);
  if (!active_ || it == sessions_.end() || it->second.epoch != broker_epoch) return;
  // A broken stream is a strong failure signal: fence soon unless the broker comes back.
  it->second.stream_open = false;
  it->second.deadline_ms =
      std::min(it->second.deadline_ms, now_ms + config_.broker_stream_grace_ms);
}

void QuorumController::FenceExpiredBrokers(int64_t now_ms) {
  std::vector<NodeId> expired;
  for (auto& [id, session] : sessions_) {
    const BrokerRegistration* b = working_.broker(id);
    if (b == nullptr || b->epoch != session.epoch || b->fenced) continue;
    if (session.deadline_ms <= now_ms) expired.push_back(id);
  }
  // One batch (one Raft entry) per fenced broker, holding every partition change it causes.
  // Each is generated after the previous one is replayed, so that two brokers leaving at once
  // never produce changes computed from the same, outdated partition state.
  for (NodeId id : expired) {
    v1::MetadataBatch batch;
    AddFenceRecords(id, &batch);
    if (!Commit(std::move(batch), [](bool) {}).ok()) return;
  }
}

void QuorumController::AddFenceRecords(NodeId broker, v1::MetadataBatch* batch) {
  const BrokerRegistration* b = working_.broker(broker);
  AddRegistrationChange(broker, b->epoch, batch)->set_fence(v1::FENCE_CHANGE_FENCE);
  AddLeaveRecords(broker, batch);
}

void QuorumController::AddShutdownRecords(NodeId broker, v1::MetadataBatch* batch) {
  AddLeaveRecords(broker, batch);
}

void QuorumController::AllocateProducerIds(const v1::AllocateProducerIdsRequest& req,
                                           Done<v1::AllocateProducerIdsResponse> done) {
  v1::AllocateProducerIdsResponse resp;
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
  const int64_t start = working_.next_producer_id();
  v1::MetadataBatch batch;
  auto* r = batch.add_records()->mutable_producer_ids();
  r->set_broker_id(req.broker_id());
  r->set_broker_epoch(req.broker_epoch());
  r->set_next_producer_id(start + config_.producer_id_block_size);
  resp.set_producer_id_start(start);
  resp.set_producer_id_len(config_.producer_id_block_size);
  absl::Status s = Commit(batch, [this, done, resp](bool committed) mutable {
    if (!committed) {
      resp.Clear();
      SetError(NotActive(), resp.mutable_error());
    }
    done(resp);
  });
  if (!s.ok()) {
    resp.Clear();
    SetError({KafkaError::kNotController, std::string(s.message())}, resp.mutable_error());
    done(resp);
  }
}

void QuorumController::UnregisterBroker(const admin::v1::UnregisterBrokerRequest& req,
                                        Done<admin::v1::UnregisterBrokerResponse> done) {
  admin::v1::UnregisterBrokerResponse resp;
  auto reply = [&](ControllerError e) {
    SetError(e, resp.mutable_error());
    done(resp);
  };
  if (!active_) return reply(NotActive());
  const BrokerRegistration* b = working_.broker(NodeId(req.broker_id()));
  if (b == nullptr) {
    return reply({KafkaError::kBrokerIdNotRegistered,
                  fmt::format("broker {} is not registered", req.broker_id())});
  }
  if (!b->fenced) {
    return reply({KafkaError::kInvalidRequest,
                  fmt::format("broker {} is running; shut it down before unregistering it",
                              req.broker_id())});
  }
  v1::MetadataBatch batch;
  auto* r = batch.add_records()->mutable_unregister_broker();
  r->set_broker_id(req.broker_id());
  r->set_broker_epoch(b->epoch);
  sessions_.erase(NodeId(req.broker_id()));
  absl::Status s = Commit(batch, [this, done](bool committed) {
    admin::v1::UnregisterBrokerResponse out;
    if (!committed) SetError(NotActive(), out.mutable_error());
    done(out);
  });
  if (!s.ok()) reply({KafkaError::kNotController, std::string(s.message())});
}

}  // namespace strand::controller
