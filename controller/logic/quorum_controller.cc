// QuorumController: leadership, the append-replay-complete cycle, configs. See the header.
#include "controller/logic/quorum_controller.h"

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

}  // namespace

void SetError(const ControllerError& error, strand::common::v1::Error* out) {
  SetKafkaError(out, error.code, error.message);
}

QuorumController::QuorumController(ControllerConfig config, MetadataLog& log,
                                   uint64_t random_seed)
    : config_(std::move(config)), log_(log), random_(random_seed) {}

void QuorumController::BecomeActive(const MetadataImage& committed, uint64_t term,
                                    int64_t now_ms) {
  BecomeStandby();
  working_ = committed;
  active_ = true;
  term_ = term;
  committed_index_ = committed.offset();
  last_appended_index_ = committed.offset();
  // Brokers get a whole session to find the new active controller and reconnect.
  sessions_.clear();
  for (const auto& [id, b] : working_.brokers()) {
    sessions_[id] = Session{b.epoch, now_ms + config_.broker_session_timeout_ms, false, 0,
                            committed.offset()};
  }
  last_rebalance_check_ms_ = now_ms;
  // The log records every change of active controller (and fences the previous one's term).
  v1::MetadataBatch batch;
  auto* r = batch.add_records()->mutable_active_controller();
  r->set_controller_id(config_.node_id.value());
  r->set_term(term);
  (void)Commit(std::move(batch), [](bool) {});
}

void QuorumController::BecomeStandby() {
  active_ = false;
  auto pending = std::exchange(pending_, {});
  for (auto& [index, then] : pending) then(false);
  working_ = MetadataImage();
  sessions_.clear();
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
  RebalanceLeaders(now_ms);
}

std::string QuorumController::ClusterConfig(const MetadataImage& image,
                                            const std::string& name) const {
  STRAND_CHECK_MSG(FindClusterConfig(name) != nullptr, "unknown cluster config {}", name);
  return EffectiveClusterConfig(image, name, config_.static_configs);
}

std::string QuorumController::TopicConfig(const MetadataImage& image, const std::string& topic,
                                          const std::string& name) const {
  STRAND_CHECK_MSG(FindTopicConfig(name) != nullptr, "unknown topic config {}", name);
  return EffectiveTopicConfig(image, topic, name, config_.static_configs);
}

}  // namespace strand::controller
