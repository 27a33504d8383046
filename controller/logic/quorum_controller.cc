// QuorumController: leadership, the append-replay-complete cycle, configs. See the header.
#include "controller/logic/quorum_controller.h"

#include <memory>
#include <set>

#include <fmt/format.h>

#include "common/check.h"
#include "common/error_proto.h"
#include "controller/state/config_defs.h"
#include "controller/state/metadata_delta.h"

namespace strand::controller {

namespace {

// What every partition change the active controller writes must keep (ARCHITECTURE.md
// section 5): a leader is in the ISR, the ISR is made of replicas, and epochs only grow.
void CheckReplicationRules(const MetadataDelta& delta, const MetadataImage& image) {
  for (const auto& [id, t] : delta.topics) {
    const TopicImage* now = t.deleted ? nullptr : image.topic(id);
    if (now == nullptr) continue;
    for (const auto& [index, before] : t.partitions) {
      STRAND_CHECK(index >= 0 && index < static_cast<int32_t>(now->partitions.size()));
      const PartitionState& p = now->partitions[static_cast<size_t>(index)];
      STRAND_CHECK_MSG(p.leader == kNoNode || p.InIsr(p.leader),
                       "partition {}-{}: leader {} is not in the ISR", now->name, index, p.leader);
      for (NodeId m : p.isr) {
        STRAND_CHECK_MSG(p.IsReplica(m), "partition {}-{}: ISR member {} is no replica", now->name,
                         index, m);
      }
      if (!before) continue;
      STRAND_CHECK_MSG(p.leader_epoch >= before->leader_epoch,
                       "partition {}-{}: leader epoch went back from {} to {}", now->name, index,
                       before->leader_epoch, p.leader_epoch);
      STRAND_CHECK_MSG(p.partition_epoch > before->partition_epoch,
                       "partition {}-{}: partition epoch did not grow from {}", now->name, index,
                       before->partition_epoch);
    }
  }
}

// A response saying "not the active controller". Requests answered per item get one result per
// item they name, so a client can tell what happened to each.
template <typename Response, typename Request>
Response NotActiveResponse(const Request&, const ControllerError& e) {
  Response out;
  SetError(e, out.mutable_error());
  return out;
}

template <>
admin::v1::DeleteTopicsResponse NotActiveResponse(const admin::v1::DeleteTopicsRequest& req,
                                                  const ControllerError& e) {
  admin::v1::DeleteTopicsResponse out;
  for (const std::string& name : req.names()) {
    auto* r = out.add_topics();
    r->set_name(name);
    SetError(e, r->mutable_error());
  }
  return out;
}

template <>
admin::v1::ElectLeadersResponse NotActiveResponse(const admin::v1::ElectLeadersRequest& req,
                                                  const ControllerError& e) {
  admin::v1::ElectLeadersResponse out;
  for (const auto& tp : req.partitions()) {
    auto* r = out.add_results();
    *r->mutable_partition() = tp;
    SetError(e, r->mutable_error());
  }
  return out;
}

template <>
admin::v1::AlterPartitionReassignmentsResponse NotActiveResponse(
    const admin::v1::AlterPartitionReassignmentsRequest& req, const ControllerError& e) {
  admin::v1::AlterPartitionReassignmentsResponse out;
  for (const admin::v1::Reassignment& ra : req.reassignments()) {
    auto* r = out.add_results();
    *r->mutable_partition() = ra.partition();
    SetError(e, r->mutable_error());
  }
  return out;
}

}  // namespace

void SetError(const ControllerError& error, strand::common::v1::Error* out) {
  SetKafkaError(out, error.code, error.message);
}

QuorumController::QuorumController(ControllerConfig config, MetadataLog& log, uint64_t random_seed)
    : config_(std::move(config)),
      static_settings_(StaticSettingDigests(config_.static_configs)),
      log_(log),
      random_(random_seed),
      sessions_(working_),
      configs_(working_, config_.static_configs),
      partitions_(working_, sessions_, configs_),
      topics_(working_, sessions_, configs_, partitions_,
              TopicLimits{config_.topics_per_request_max, config_.partitions_per_topic_max},
              random_),
      brokers_(
          working_, sessions_, partitions_,
          BrokerManagerConfig{config_.cluster_id, config_.controller_ids,
                              config_.broker_session_timeout_ms, config_.broker_stream_grace_ms}),
      producer_ids_(working_, sessions_, config_.producer_id_block_size) {}

void QuorumController::BecomeActive(const MetadataImage& committed, uint64_t term,
                                    int64_t now_ms) {
  BecomeStandby();
  working_ = committed;
  active_ = true;
  term_ = term;
  committed_index_ = committed.offset();
  last_appended_index_ = committed.offset();
  // Brokers get a whole session to find the new active controller and reconnect.
  sessions_.Reset(now_ms, config_.broker_session_timeout_ms, committed.offset());
  partitions_.ResetRebalanceClock(now_ms);
  // The log records every change of active controller (and fences the previous one's term).
  v1::MetadataBatch batch;
  auto* r = batch.add_records()->mutable_active_controller();
  r->set_controller_id(config_.node_id.value());
  r->set_term(term);
  for (const auto& [name, digest] : static_settings_) {
    auto* d = r->add_static_settings();
    d->set_name(name);
    d->set_digest(digest);
  }
  (void)Commit(std::move(batch), [](bool) {});
}

void QuorumController::BecomeStandby() {
  active_ = false;
  auto pending = std::exchange(pending_, {});
  for (auto& [index, then] : pending) then(false);
  working_ = MetadataImage();
  sessions_.Clear();
}

void QuorumController::OnCommitted(uint64_t index) {
  committed_index_ = std::max(committed_index_, index);
  while (!pending_.empty() && pending_.begin()->first <= committed_index_) {
    auto then = std::move(pending_.begin()->second);
    pending_.erase(pending_.begin());
    then(true);
  }
}

ControllerError QuorumController::NotActive() const {
  return {KafkaError::kNotController,
          fmt::format("controller {} is not the active controller", config_.node_id)};
}

absl::Status QuorumController::Commit(v1::MetadataBatch batch,
                                      std::function<void(bool)> then) {
  STRAND_CHECK(active_);
  if (batch.records_size() == 0) {
    // Nothing to write, but the answer must not overtake earlier writes it may depend on.
    if (last_appended_index_ <= committed_index_) {
      then(true);
    } else {
      pending_.emplace(last_appended_index_, std::move(then));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<uint64_t> index = log_.Append(batch);
  if (!index.ok()) return index.status();
  STRAND_CHECK_MSG(*index > last_appended_index_, "metadata log index went back: {} after {}",
                   *index, last_appended_index_);
  last_appended_index_ = *index;
  // The records were validated against this very image, so they must apply, and leave every
  // partition they touch within the replication rules.
  MetadataDelta delta;
  absl::Status replayed = working_.ReplayBatch(batch, *index, &delta);
  STRAND_CHECK_MSG(replayed.ok(), "generated records do not apply: {}", replayed.ToString());
  CheckReplicationRules(delta, working_);
  pending_.emplace(*index, std::move(then));
  return absl::OkStatus();
}

void QuorumController::Tick(int64_t now_ms) {
  if (!active_) return;
  FenceExpiredBrokers(now_ms);
  v1::MetadataBatch rebalance = partitions_.RebalanceLeaders(now_ms);
  if (rebalance.records_size() > 0) (void)Commit(std::move(rebalance), [](bool) {});
}

void QuorumController::FenceExpiredBrokers(int64_t now_ms) {
  // One batch (one Raft entry) per fenced broker, holding every partition change it causes.
  // Each is generated after the previous one is replayed, so that two brokers leaving at once
  // never produce changes computed from the same, outdated partition state.
  for (NodeId id : brokers_.ExpiredBrokers(now_ms)) {
    if (!Commit(brokers_.FenceRecords(id), [](bool) {}).ok()) return;
  }
}

template <typename Request, typename Response, typename Generate>
void QuorumController::Handle(const Request& req, Done<Response> done, Generate generate) {
  if (!active_) return done(NotActiveResponse<Response>(req, NotActive()));
  Answer(generate(), std::move(done));
}

template <typename Response>
void QuorumController::Answer(ControllerResult<Response> result, Done<Response> done) {
  if (result.answer_now) return done(std::move(result.response));
  const bool appends = result.records.records_size() > 0;
  absl::Status s = Commit(std::move(result.records),
                          [this, done, response = result.response,
                           complete = std::move(result.complete)](bool committed) mutable {
                            if (!committed) {
                              SetErrorOnUnanswered(NotActive(), &response);
                            } else if (complete) {
                              complete(&response);
                            }
                            done(std::move(response));
                          });
  if (!s.ok()) {
    if (result.not_appended) result.not_appended();
    SetErrorOnUnanswered({KafkaError::kNotController, std::string(s.message())}, &result.response);
    return done(std::move(result.response));
  }
  if (appends && result.after_append) result.after_append(last_appended_index_);
}

// ---- request handlers: the guard, then the area's manager ----

void QuorumController::RegisterBroker(const v1::RegisterBrokerRequest& req, int64_t now_ms,
                                      Done<v1::RegisterBrokerResponse> done) {
  Handle(req, std::move(done), [&] { return brokers_.RegisterBroker(req, now_ms); });
}

v1::BrokerHeartbeatResponse QuorumController::Heartbeat(const v1::BrokerHeartbeatRequest& req,
                                                        int64_t now_ms) {
  // Answered at once (the broker heartbeats again soon), not when its records commit.
  if (!active_) return NotActiveResponse<v1::BrokerHeartbeatResponse>(req, NotActive());
  auto result = brokers_.Heartbeat(req, now_ms, last_appended_index_ <= committed_index_);
  if (result.answer_now) return result.response;
  if (absl::Status s = Commit(std::move(result.records), [](bool) {}); !s.ok()) {
    result.not_appended();
    SetErrorOnUnanswered({KafkaError::kNotController, std::string(s.message())}, &result.response);
    return result.response;
  }
  result.after_append(last_appended_index_);
  return result.response;
}

void QuorumController::HeartbeatStreamClosed(NodeId broker, int64_t broker_epoch, int64_t now_ms) {
  if (active_) brokers_.HeartbeatStreamClosed(broker, broker_epoch, now_ms);
}

void QuorumController::AlterPartition(const v1::AlterPartitionRequest& req,
                                      Done<v1::AlterPartitionResponse> done) {
  Handle(req, std::move(done), [&] { return partitions_.AlterPartition(req); });
}

void QuorumController::AllocateProducerIds(const v1::AllocateProducerIdsRequest& req,
                                           Done<v1::AllocateProducerIdsResponse> done) {
  Handle(req, std::move(done), [&] { return producer_ids_.AllocateProducerIds(req); });
}

void QuorumController::CreateOffsetsTopic(const v1::CreateOffsetsTopicRequest& req,
                                          Done<v1::CreateOffsetsTopicResponse> done) {
  Handle(req, std::move(done), [&] { return topics_.CreateOffsetsTopic(req); });
}

void QuorumController::CreateTopics(const admin::v1::CreateTopicsRequest& req,
                                    Done<admin::v1::CreateTopicsResponse> done) {
  if (!active_) {
    admin::v1::CreateTopicsResponse out;
    for (const admin::v1::NewTopic& t : req.topics()) {
      auto* r = out.add_topics();
      r->set_name(t.name());
      SetError(NotActive(), r->mutable_error());
    }
    return done(out);
  }
  // Each topic is its own batch, so later topics of the request see earlier ones (collisions,
  // placement load); Raft still carries them in one append and one fsync. The response goes out
  // once every batch has committed (or failed).
  auto resp = std::make_shared<admin::v1::CreateTopicsResponse>();
  auto outstanding = std::make_shared<int>(1);
  auto release = [resp, outstanding, done] {
    if (--*outstanding == 0) done(*resp);
  };
  std::set<std::string> seen;
  for (int i = 0; i < req.topics_size(); ++i) {
    ControllerResult<admin::v1::TopicResult> result = topics_.CreateTopic(req, i, &seen);
    admin::v1::TopicResult* slot = resp->add_topics();
    *slot = std::move(result.response);
    if (result.answer_now) continue;
    ++*outstanding;
    absl::Status s = Commit(std::move(result.records), [this, resp, i, release](bool committed) {
      if (!committed) SetError(NotActive(), resp->mutable_topics(i)->mutable_error());
      release();
    });
    if (!s.ok()) {
      --*outstanding;
      SetError({KafkaError::kNotController, std::string(s.message())}, slot->mutable_error());
      slot->clear_topic_id();
    }
  }
  release();
}

void QuorumController::DeleteTopics(const admin::v1::DeleteTopicsRequest& req,
                                    Done<admin::v1::DeleteTopicsResponse> done) {
  Handle(req, std::move(done), [&] { return topics_.DeleteTopics(req); });
}

void QuorumController::CreatePartitions(const admin::v1::CreatePartitionsRequest& req,
                                        Done<admin::v1::CreatePartitionsResponse> done) {
  Handle(req, std::move(done), [&] { return topics_.CreatePartitions(req); });
}

void QuorumController::AlterConfigs(const admin::v1::AlterConfigsRequest& req,
                                    Done<admin::v1::AlterConfigsResponse> done) {
  Handle(req, std::move(done), [&] { return configs_.AlterConfigs(req); });
}

void QuorumController::ElectLeaders(const admin::v1::ElectLeadersRequest& req,
                                    Done<admin::v1::ElectLeadersResponse> done) {
  Handle(req, std::move(done), [&] { return partitions_.ElectLeaders(req); });
}

void QuorumController::AlterPartitionReassignments(
    const admin::v1::AlterPartitionReassignmentsRequest& req,
    Done<admin::v1::AlterPartitionReassignmentsResponse> done) {
  Handle(req, std::move(done), [&] { return partitions_.AlterPartitionReassignments(req); });
}

void QuorumController::UnregisterBroker(const admin::v1::UnregisterBrokerRequest& req,
                                        Done<admin::v1::UnregisterBrokerResponse> done) {
  Handle(req, std::move(done), [&] { return brokers_.UnregisterBroker(req); });
}

}  // namespace strand::controller
