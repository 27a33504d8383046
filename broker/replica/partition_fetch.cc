// Partition: reads (followers and consumers) and the follower's append, truncation and reset.
#include <fmt/format.h>

#include <algorithm>

#include "broker/replica/partition.h"
#include "common/check.h"
#include "storage/errc.h"

namespace strand::broker {

ReadOutcome Partition::FollowerFetch(NodeId follower, Offset fetch_offset,
                                     LeaderEpoch last_fetched_epoch, Offset durable_offset,
                                     LeaderEpoch current_leader_epoch, int64_t max_bytes,
                                     int64_t now_ms) {
  ReadOutcome out;
  Completions ready;
  {
    std::lock_guard lock(mu_);
    out.leader = assignment_.leader;
    out.leader_epoch = assignment_.leader_epoch;
    if (stopped_ || role_ != PartitionRole::kLeader) {
      out.error = KafkaError::kNotLeaderOrFollower;
      out.message = fmt::format("broker {} does not lead {}-{}", self_, tp_.topic, tp_.partition);
      return out;
    }
    if (auto e = CheckEpoch(current_leader_epoch)) {
      out.error = *e;
      out.message =
          fmt::format("leader epoch {} against {}", current_leader_epoch, assignment_.leader_epoch);
      return out;
    }
    if (std::find(assignment_.replicas.begin(), assignment_.replicas.end(), follower) ==
        assignment_.replicas.end()) {
      out.error = KafkaError::kNotLeaderOrFollower;
      out.message =
          fmt::format("broker {} is not a replica of {}-{}", follower, tp_.topic, tp_.partition);
      return out;
    }
    const Offset end = log_->LogEndOffset();
    out.divergence = DetectDivergence(last_fetched_epoch, fetch_offset,
                                      log_->EndOffsetForEpoch(last_fetched_epoch));
    if (out.divergence) {
      out.data.high_watermark = log_->HighWatermark();
      out.data.log_start_offset = log_->LogStartOffset();
      out.data.log_end_offset = end;
      return out;
    }
    if (fetch_offset < log_->LogStartOffset() || fetch_offset > end) {
      out.error = KafkaError::kOffsetOutOfRange;
      out.message =
          fmt::format("offset {} outside [{}, {}]", fetch_offset, log_->LogStartOffset(), end);
      out.data.log_start_offset = log_->LogStartOffset();
      return out;
    }
    leader_state_->OnFollowerFetch(follower, fetch_offset, durable_offset, end, now_ms);
    AdvanceHighWatermarkLocked(&ready);
  }
  Finish(std::move(ready));
  if (max_bytes <= 0) {  // the response is full: bookkeeping only
    out.data.next_offset = fetch_offset;
    out.data.high_watermark = log_->HighWatermark();
    out.data.log_start_offset = log_->LogStartOffset();
    out.data.log_end_offset = log_->LogEndOffset();
    return out;
  }
  auto read = log_->Read(fetch_offset, max_bytes);
  if (!read.ok()) {
    out.error = StorageError(read.status());
    out.message = std::string(read.status().message());
    return out;
  }
  out.data = *std::move(read);
  return out;
}

ReadOutcome Partition::ConsumerRead(Offset fetch_offset, LeaderEpoch current_leader_epoch,
                                    int64_t max_bytes, bool allow_follower) {
  ReadOutcome out;
  {
    std::lock_guard lock(mu_);
    out.leader = assignment_.leader;
    out.leader_epoch = assignment_.leader_epoch;
    const bool serves =
        role_ == PartitionRole::kLeader || (allow_follower && role_ == PartitionRole::kFollower);
    if (stopped_ || !serves) {
      out.error = KafkaError::kNotLeaderOrFollower;
      out.message =
          fmt::format("broker {} does not serve reads of {}-{}", self_, tp_.topic, tp_.partition);
      return out;
    }
    if (stranded_) {
      out.error = KafkaError::kNotLeaderOrFollower;
      out.message = StrandedMessage();
      return out;
    }
    if (auto e = CheckEpoch(current_leader_epoch)) {
      out.error = *e;
      out.message =
          fmt::format("leader epoch {} against {}", current_leader_epoch, assignment_.leader_epoch);
      return out;
    }
  }
  const Offset hw = log_->HighWatermark();
  const Offset start = log_->LogStartOffset();
  if (fetch_offset < start || fetch_offset > log_->LogEndOffset()) {
    out.error = KafkaError::kOffsetOutOfRange;
    out.message =
        fmt::format("offset {} outside [{}, {}]", fetch_offset, start, log_->LogEndOffset());
    out.data.log_start_offset = start;
    out.data.high_watermark = hw;
    return out;
  }
  if (fetch_offset >= hw) {  // nothing committed there yet
    out.data.next_offset = fetch_offset;
    out.data.log_start_offset = start;
    out.data.high_watermark = hw;
    out.data.log_end_offset = log_->LogEndOffset();
    return out;
  }
  auto read = log_->Read(fetch_offset, max_bytes, hw);
  if (!read.ok()) {
    out.error = StorageError(read.status());
    out.message = std::string(read.status().message());
    RepairCorruption(read.status());
    return out;
  }
  out.data = *std::move(read);
  return out;
}

absl::StatusOr<storage::AppendInfo> Partition::AppendFromLeader(std::span<uint8_t> records,
                                                                Offset leader_high_watermark,
                                                                Offset leader_log_start,
                                                                std::optional<Offset> fetched_at,
                                                                bool caller_flushes) {
  absl::StatusOr<storage::AppendInfo> info;
  {
    std::lock_guard lock(mu_);
    if (stopped_ || role_ != PartitionRole::kFollower) {
      return absl::FailedPreconditionError("not a follower any more");
    }
    if (fetched_at && *fetched_at != log_->LogEndOffset()) {
      return absl::AbortedError(fmt::format("fetched at {}, but the log ends at {} now",
                                            *fetched_at, log_->LogEndOffset()));
    }
    if (!records.empty()) {
      info = log_->AppendAsFollower(records, caller_flushes);
      if (!info.ok()) {
        TakeOfflineOnIoError(info.status());
        return info.status();
      }
      UpdateProducerStateLocked(records);
      bytes_since_snapshot_ += static_cast<int64_t>(records.size());
    } else {
      info = storage::AppendInfo{};
    }
    // A follower's high watermark is the leader's, as far as its own log reaches; it never
    // goes back (a new leader may briefly know less than its predecessor told us).
    const Offset hw =
        std::max(log_->HighWatermark(), std::min(leader_high_watermark, log_->LogEndOffset()));
    STRAND_CHECK_MSG(hw <= log_->LogEndOffset(), "{} high watermark {} is past the log end {}",
                     log_context_.prefix(), hw, log_->LogEndOffset());
    log_->SetHighWatermark(hw);
    // Records the leader no longer keeps (retention, DeleteRecords) go here too, but only
    // below the high watermark: nothing uncommitted is dropped on a leader's word.
    if (leader_log_start > log_->LogStartOffset() && leader_log_start <= log_->HighWatermark()) {
      (void)log_->DeleteRecordsBefore(leader_log_start);
    }
  }
  NotifyProgress();
  return info;
}

void Partition::RepairCorruption(const absl::Status& status) {
  if (storage::StorageErrcOf(status) != storage::Errc::kCorruptLog) return;
  {
    std::lock_guard lock(mu_);
    if (stopped_ || role_ != PartitionRole::kFollower || corrupt_from_) return;
  }
  // Every corrupt batch, not only the one this read met: the cut goes to the first.
  auto corrupt = log_->Scrub();
  if (!corrupt.ok() || corrupt->empty()) return;
  const Offset first = *std::min_element(corrupt->begin(), corrupt->end());
  std::lock_guard lock(mu_);
  if (stopped_ || role_ != PartitionRole::kFollower || corrupt_from_) return;
  corrupt_from_ = first;
  repair_until_ = log_->LogEndOffset();
  repair_cut_ = false;
  log_context_.Warn(
      "a stored batch at offset {} fails its CRC (never served): this replica is reported "
      "offline to leave the ISR, then cut back to {} and fetched again from leader {} up to {}",
      first, first, assignment_.leader, repair_until_);
}

bool Partition::RepairPending() const {
  std::lock_guard lock(mu_);
  return corrupt_from_.has_value();
}

void Partition::AdvanceRepair() {
  std::lock_guard lock(mu_);
  if (!corrupt_from_ || stopped_ || role_ != PartitionRole::kFollower) return;
  if (!repair_cut_) {
    if (assignment_.InIsr(self_)) return;  // not yet: the high watermark counts on this copy
    auto end = log_->TruncateTo(*corrupt_from_);
    if (!end.ok()) {
      log_context_.Error("cutting back to the corrupt batch at offset {} failed: {}",
                         *corrupt_from_, end.status().ToString());
      return;
    }
    RebuildProducerStateLocked();
    SaveProducerStateLocked();
    repair_cut_ = true;
    log_context_.Warn(
        "out of the ISR: cut back to {} (the first corrupt batch); fetching the "
        "rest again from leader {}",
        *end, assignment_.leader);
  }
  if (log_->LogEndOffset() >= repair_until_) {
    log_context_.Info("repaired: fetched again up to {}; no longer reported offline",
                      log_->LogEndOffset());
    corrupt_from_.reset();
  }
}

std::string Partition::topic_id() const {
  std::lock_guard lock(mu_);
  return assignment_.topic_id;
}

absl::StatusOr<Offset> Partition::Truncate(const Divergence& divergence) {
  std::lock_guard lock(mu_);
  const Offset to = TruncationOffset(divergence, log_->EndOffsetForEpoch(divergence.epoch),
                                     log_->LogEndOffset(), log_->HighWatermark());
  auto end = log_->TruncateTo(to);
  if (!end.ok()) return end.status();
  RebuildProducerStateLocked();
  // A snapshot taken beyond the new end describes batches that are gone; once the log grows
  // past its offset again it would pass for current. Replace it with the state as of now.
  SaveProducerStateLocked();
  return *end;
}

absl::Status Partition::ResetTo(Offset offset) {
  std::lock_guard lock(mu_);
  if (absl::Status s = log_->TruncateFullyAndStartAt(offset); !s.ok()) return s;
  producers_.Clear();
  SaveProducerStateLocked();  // the old snapshot describes a log that is gone
  return absl::OkStatus();
}

}  // namespace strand::broker
