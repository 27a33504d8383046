// BrokerManager: see the header.
#include "controller/logic/broker_manager.h"

#include <algorithm>
#include <iterator>
#include <set>

#include <fmt/format.h>

namespace strand::controller {
namespace {

// Offline replicas one heartbeat may report (a broker holds at most a few thousand replicas).
constexpr int kOfflineReplicasMax = 100'000;
// Static setting digests one registration may carry (a node has about a hundred settings).
constexpr int kStaticSettingsMax = 1'000;
constexpr size_t kSettingNameBytesMax = 256;

v1::BrokerRegistrationChangeRecord* AddRegistrationChange(NodeId broker, int64_t epoch,
                                                          v1::MetadataBatch* batch) {
  auto* r = batch->add_records()->mutable_broker_registration_change();
  r->set_broker_id(broker.value());
  r->set_broker_epoch(epoch);
  return r;
}

}  // namespace

ControllerError BrokerManager::CheckRegistration(const v1::RegisterBrokerRequest& req) const {
  const NodeId id(req.broker_id());
  if (req.cluster_id() != config_.cluster_id) {
    return {KafkaError::kInconsistentClusterId,
            fmt::format("broker belongs to cluster '{}', this is '{}'", req.cluster_id(),
                        config_.cluster_id)};
  }
  const bool voter = std::find(config_.controller_ids.begin(), config_.controller_ids.end(), id) !=
                     config_.controller_ids.end();
  // A broker shares a controller's id only as the broker role of that controller's process.
  if (id.value() < 0 || voter != req.combined()) {
    return {KafkaError::kInvalidRequest,
            req.combined()
                ? fmt::format("node id {} is not a controller: only a controller's own process "
                              "registers a combined-mode broker",
                              id)
                : fmt::format("node id {} is invalid or belongs to a controller (a combined-mode "
                              "process, process.roles=broker,controller, says so)",
                              id)};
  }
  if (req.incarnation_id().empty() || req.listeners_size() == 0) {
    return {KafkaError::kInvalidRequest, "an incarnation id and a listener are required"};
  }
  // The digests go into the metadata log with the registration: bounded like any request.
  if (req.static_settings_size() > kStaticSettingsMax) {
    return {KafkaError::kInvalidRequest,
            fmt::format("{} static setting digests; at most {}", req.static_settings_size(),
                        kStaticSettingsMax)};
  }
  for (const v1::SettingDigest& d : req.static_settings()) {
    if (d.name().empty() || d.name().size() > kSettingNameBytesMax) {
      return {KafkaError::kInvalidRequest,
              fmt::format("a static setting name must have 1 to {} bytes", kSettingNameBytesMax)};
    }
  }
  return {};
}

ControllerResult<v1::RegisterBrokerResponse> BrokerManager::RegisterBroker(
    const v1::RegisterBrokerRequest& req, int64_t now_ms) {
  using Response = v1::RegisterBrokerResponse;
  if (ControllerError e = CheckRegistration(req); !e.ok()) return Refuse<Response>(e);
  const NodeId id(req.broker_id());
  ControllerResult<Response> out;
  if (const BrokerRegistration* old = image_.broker(id)) {
    if (old->incarnation_id == req.incarnation_id()) {
      out.response.set_broker_epoch(old->epoch);  // a retried registration: same answer
      return AnswerNow(std::move(out.response));
    }
    auto session = sessions_.all().find(id);
    if (session != sessions_.all().end() && session->second.stream_open &&
        session->second.deadline_ms > now_ms) {
      return Refuse<Response>(
          {KafkaError::kDuplicateBrokerRegistration,
           fmt::format("broker {} is registered by another live process (incarnation {}); "
                       "retry once it has stopped",
                       id, old->incarnation_id)});
    }
    // A restart: the old incarnation's leaderships and ISR seats go first.
    if (!old->fenced) AddFenceRecords(id, &out.records);
  }
  auto* r = out.records.add_records()->mutable_register_broker();
  r->set_broker_id(id.value());
  r->set_incarnation_id(req.incarnation_id());
  *r->mutable_listeners() = req.listeners();
  r->set_rack(req.rack());
  r->set_fenced(true);
  *r->mutable_static_settings() = req.static_settings();
  // The stream opens with the first heartbeat; until then a restarted process may replace it.
  out.after_append = [this, id, now_ms](uint64_t index) {
    sessions_.mutable_all()[id] = BrokerSession{
        image_.broker(id)->epoch, now_ms + config_.session_timeout_ms, false, 0, index};
  };
  out.complete = [this, id](Response* resp) {
    if (const BrokerRegistration* b = image_.broker(id)) resp->set_broker_epoch(b->epoch);
  };
  return out;
}

ControllerResult<v1::BrokerHeartbeatResponse> BrokerManager::Heartbeat(
    const v1::BrokerHeartbeatRequest& req, int64_t now_ms, bool earlier_appends_committed) {
  using Response = v1::BrokerHeartbeatResponse;
  if (ControllerError e =
          sessions_.CheckBrokerEpoch(req.broker_id(), req.broker_epoch(), req.incarnation_id());
      !e.ok()) {
    return Refuse<Response>(e);
  }
  if (req.offline_replicas_size() > kOfflineReplicasMax) {
    return Refuse<Response>({KafkaError::kInvalidRequest,
                             fmt::format("{} offline replicas; at most {} per heartbeat",
                                         req.offline_replicas_size(), kOfflineReplicasMax)});
  }
  const NodeId id(req.broker_id());
  BrokerSession& session = sessions_.mutable_all()[id];
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
  session.deadline_ms = now_ms + config_.session_timeout_ms;
  session.stream_open = true;
  session.metadata_offset = std::max(session.metadata_offset, req.metadata_offset());
  const BrokerRegistration* b = image_.broker(id);
  const bool caught_up = session.metadata_offset >= session.caught_up_offset;
  ControllerResult<Response> out;
  v1::MetadataBatch& batch = out.records;
  bool fenced = b->fenced;  // after these records
  if (req.want_shut_down()) {
    if (!b->in_controlled_shutdown) {
      AddRegistrationChange(id, b->epoch, &batch)->set_in_controlled_shutdown(true);
    }
    partitions_.AddLeaveRecords(id, &batch);
  } else if (req.want_fence() && !b->fenced) {
    AddFenceRecords(id, &batch);
    fenced = true;
  } else if (b->fenced && caught_up && !req.want_fence() && !b->in_controlled_shutdown) {
    AddRegistrationChange(id, b->epoch, &batch)->set_fence(v1::FENCE_CHANGE_UNFENCE);
    partitions_.AddReturnRecords(id, &batch);
    fenced = false;
  } else if (!b->fenced && !b->in_controlled_shutdown && first) {
    // The first heartbeat this controller sees in the broker's session (say, it just became
    // active): what the broker reported to a predecessor is unknown, so every partition it can
    // lead again and that has no leader gets it back (offline replicas excepted).
    partitions_.AddOfflineReplicaRecords(id, gone, {}, &batch);
    partitions_.AddReturnRecords(id, &batch);
  } else if (!b->fenced && !b->in_controlled_shutdown && (!gone.empty() || !back.empty())) {
    partitions_.AddOfflineReplicaRecords(id, gone, back, &batch);
  }
  out.response.set_is_fenced(fenced);
  out.response.set_is_caught_up(caught_up);
  // Shutdown is done once the broker leads nothing that someone else could lead, and the
  // records that moved its leaderships are committed (records appended now are not, yet).
  out.response.set_should_shut_down(req.want_shut_down() && batch.records_size() == 0 &&
                                    earlier_appends_committed &&
                                    !partitions_.LeadsMovablePartitions(id));
  if (batch.records_size() == 0) {
    session.reported = true;
    out.answer_now = true;
    return out;
  }
  out.after_append = [this, id](uint64_t) { sessions_.mutable_all()[id].reported = true; };
  out.not_appended = [this, id, previous = std::move(previous)] {
    sessions_.mutable_all()[id].offline = previous;
  };
  return out;
}

void BrokerManager::HeartbeatStreamClosed(NodeId broker, int64_t broker_epoch, int64_t now_ms) {
  auto& all = sessions_.mutable_all();
  auto it = all.find(broker);
  if (it == all.end() || it->second.epoch != broker_epoch) return;
  // A broken stream is a strong failure signal: fence soon unless the broker comes back.
  it->second.stream_open = false;
  it->second.deadline_ms = std::min(it->second.deadline_ms, now_ms + config_.stream_grace_ms);
}

std::vector<NodeId> BrokerManager::ExpiredBrokers(int64_t now_ms) const {
  std::vector<NodeId> expired;
  for (const auto& [id, session] : sessions_.all()) {
    const BrokerRegistration* b = image_.broker(id);
    if (b == nullptr || b->epoch != session.epoch || b->fenced) continue;
    if (session.deadline_ms <= now_ms) expired.push_back(id);
  }
  return expired;
}

v1::MetadataBatch BrokerManager::FenceRecords(NodeId broker) const {
  v1::MetadataBatch batch;
  AddFenceRecords(broker, &batch);
  return batch;
}

void BrokerManager::AddFenceRecords(NodeId broker, v1::MetadataBatch* batch) const {
  const BrokerRegistration* b = image_.broker(broker);
  auto* change = AddRegistrationChange(broker, b->epoch, batch);
  change->set_fence(v1::FENCE_CHANGE_FENCE);
  // A broker fenced after its controlled shutdown is simply fenced (stopped): as in KRaft, the
  // fence ends the shutdown, so that describe and the metrics show it fenced.
  if (b->in_controlled_shutdown) change->set_clear_controlled_shutdown(true);
  partitions_.AddLeaveRecords(broker, batch);
}

ControllerResult<admin::v1::UnregisterBrokerResponse> BrokerManager::UnregisterBroker(
    const admin::v1::UnregisterBrokerRequest& req) {
  using Response = admin::v1::UnregisterBrokerResponse;
  const BrokerRegistration* b = image_.broker(NodeId(req.broker_id()));
  if (b == nullptr) {
    return Refuse<Response>({KafkaError::kBrokerIdNotRegistered,
                             fmt::format("broker {} is not registered", req.broker_id())});
  }
  if (!b->fenced) {
    return Refuse<Response>(
        {KafkaError::kInvalidRequest,
         fmt::format("broker {} is running; shut it down before unregistering it",
                     req.broker_id())});
  }
  ControllerResult<Response> out;
  auto* r = out.records.add_records()->mutable_unregister_broker();
  r->set_broker_id(req.broker_id());
  r->set_broker_epoch(b->epoch);
  out.after_append = [this, id = NodeId(req.broker_id())](uint64_t) {
    sessions_.mutable_all().erase(id);
  };
  return out;
}

}  // namespace strand::controller
