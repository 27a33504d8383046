// Log, continued: truncation (leader changes, a follower restarting), the log start offset
// (DeleteRecords) and retention — the operations that remove data. See log.h.

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "common/check.h"
#include "storage/errc.h"
#include "storage/log.h"
#include "storage/probe.h"
#include "storage/retention.h"

namespace strand::storage {

// ---------------------------------------------------------------------------------------------
// Truncation and log start

absl::StatusOr<Offset> Log::TruncateTo(Offset offset) {
  if (offset.value() < 0) {
    return StorageError(Errc::kInvalidArgument, fmt::format("truncate to {}", offset));
  }
  absl::MutexLock append(&append_mu_);
  STRAND_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock flush(&flush_mu_);
  std::vector<std::shared_ptr<Segment>> doomed;
  std::shared_ptr<Segment> keep;
  {
    // Nothing to remove but, maybe, epochs that start at the log end and hold no batch yet
    // (this replica led briefly and appended nothing). They go too, as in Kafka: a follower that
    // kept one would report it as its last fetched epoch and be told to truncate forever.
    std::optional<LeaderEpochCache> trimmed;
    Offset end;
    {
      absl::MutexLock lock(&mu_);
      end = log_end_;
      if (offset >= log_end_) {
        auto latest = epochs_.Latest();
        if (latest && latest->start_offset >= offset) {
          epochs_.TruncateFromEnd(offset);
          trimmed = epochs_;
        }
      }
    }
    if (offset >= end) {
      if (trimmed) STRAND_RETURN_IF_ERROR(PersistEpochs(*trimmed));
      return end;
    }
  }
  {
    absl::ReaderMutexLock lock(&mu_);
    // As Kafka: only a target below the first segment empties the log entirely.
    if (segments_.front()->base_offset() <= offset) keep = SegmentsFrom(offset).front();
  }
  if (!keep) {
    STRAND_RETURN_IF_ERROR(TruncateFullyLocked(offset));
    return offset;
  }
  // The checkpoint moves first: if we crash part-way, recovery rescans from the kept segment.
  {
    absl::MutexLock lock(&mu_);
    recovery_point_ = std::min(recovery_point_, keep->base_offset());
    for (const auto& s : segments_) {
      if (s->base_offset() > keep->base_offset()) doomed.push_back(s);
    }
  }
  STRAND_RETURN_IF_ERROR(WriteCheckpoint(false));
  int64_t removed_bytes = 0;
  for (auto it = doomed.rbegin(); it != doomed.rend(); ++it) {  // newest first: a prefix stays
    removed_bytes += (*it)->size_bytes();
    absl::Status deleted = (*it)->DeleteFiles();
    if (!deleted.ok()) {
      Fail(deleted);  // the files and the segment list no longer agree: reopen to recover
      return deleted;
    }
  }
  int64_t kept_before = keep->size_bytes();
  auto new_end = keep->TruncateTo(offset);
  if (!new_end.ok()) {
    Fail(new_end.status());
    return new_end.status();
  }
  removed_bytes += kept_before - keep->size_bytes();
  std::vector<std::pair<Offset, DurableCallback>> truncated;
  LeaderEpochCache epochs;
  {
    absl::MutexLock lock(&mu_);
    segments_.resize(segments_.size() - doomed.size());
    std::erase_if(unsealed_,
                  [&](const auto& s) { return s->base_offset() >= keep->base_offset(); });
    log_end_ = *new_end;
    log_start_ = std::min(log_start_, log_end_);
    high_watermark_ = std::min(high_watermark_, log_end_);
    durable_ = std::min(durable_, log_end_);
    cleaner_offset_ = std::min(cleaner_offset_, log_end_);
    epochs_.TruncateFromEnd(log_end_);
    epochs = epochs_;
    ++generation_;
    truncated = TakeWaitersLocked(log_end_);
  }
  CountSegments(-static_cast<int64_t>(doomed.size()), -removed_bytes);
  STRAND_RETURN_IF_ERROR(PersistEpochs(epochs));
  STRAND_RETURN_IF_ERROR(WriteCheckpoint(false));
  log_.Info("truncated to offset {} (asked {}); removed {} bytes", *new_end, offset, removed_bytes);
  for (auto& [o, callback] : truncated) {
    callback(StorageError(Errc::kTruncated, fmt::format("offset {} was truncated away", o)));
  }
  return *new_end;
}

absl::Status Log::TruncateFullyAndStartAt(Offset offset) {
  if (offset.value() < 0) {
    return StorageError(Errc::kInvalidArgument, fmt::format("restart at {}", offset));
  }
  absl::MutexLock append(&append_mu_);
  STRAND_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock flush(&flush_mu_);
  return TruncateFullyLocked(offset);
}

absl::Status Log::TruncateFullyLocked(Offset offset) {
  std::vector<std::shared_ptr<Segment>> old;
  {
    absl::ReaderMutexLock lock(&mu_);
    old = segments_;
  }
  int64_t removed_bytes = 0;
  // Newest first, so that a crash part-way leaves a consistent (shorter) log behind.
  for (auto it = old.rbegin(); it != old.rend(); ++it) {
    removed_bytes += (*it)->size_bytes();
    absl::Status deleted = (*it)->DeleteFiles();
    if (!deleted.ok()) {
      Fail(deleted);  // the files and the segment list no longer agree: reopen to recover
      return deleted;
    }
  }
  LogConfig config = this->config();
  auto fresh = Segment::Create(fs_, dir_, offset, clock_.NowWallMs(), config.index_interval_bytes,
                               config.preallocate, config.preallocate_chunk_bytes);
  if (!fresh.ok()) {
    Fail(fresh.status());  // no segment left to append to
    return fresh.status();
  }
  (*fresh)->set_budget(budget_);
  std::vector<std::pair<Offset, DurableCallback>> truncated;
  {
    absl::MutexLock lock(&mu_);
    segments_ = {*fresh};
    unsealed_.clear();
    log_start_ = log_end_ = high_watermark_ = durable_ = recovery_point_ = cleaner_offset_ = offset;
    epochs_.Clear();
    unflushed_records_ = unflushed_batches_ = 0;
    first_unflushed_ms_ = record::kNoTimestamp;
    ++generation_;
    truncated = TakeWaitersLocked(Offset::Min());
  }
  CountSegments(1 - static_cast<int64_t>(old.size()), -removed_bytes);
  STRAND_RETURN_IF_ERROR(PersistEpochs(LeaderEpochCache()));
  STRAND_RETURN_IF_ERROR(WriteCheckpoint(false));
  log_.Info("truncated fully; restarted at offset {}", offset);
  for (auto& [o, callback] : truncated) {
    callback(StorageError(Errc::kTruncated, fmt::format("offset {} was truncated away", o)));
  }
  return absl::OkStatus();
}

absl::StatusOr<Offset> Log::DeleteRecordsBefore(Offset offset) {
  {
    // The epoch checkpoint is written only under the writer lock, so that writers of it never
    // interleave (a stale snapshot could otherwise land last).
    absl::MutexLock append(&append_mu_);
    STRAND_RETURN_IF_ERROR(CheckWritable());
    LeaderEpochCache epochs;
    {
      absl::MutexLock lock(&mu_);
      if (offset > high_watermark_ || offset.value() < 0) {
        return StorageError(Errc::kOffsetOutOfRange,
                            fmt::format("cannot delete records before {}: the high watermark is {}",
                                        offset, high_watermark_));
      }
      if (offset <= log_start_) return log_start_;
      log_start_ = offset;
      cleaner_offset_ = std::max(cleaner_offset_, offset);
      epochs_.TruncateFromStart(offset);
      epochs = epochs_;
    }
    // Durable before acknowledged: a restart must not bring the deleted records back.
    STRAND_RETURN_IF_ERROR(PersistEpochs(epochs));
    STRAND_RETURN_IF_ERROR(WriteCheckpoint(false));
  }
  STRAND_RETURN_IF_ERROR(DeleteSegmentsBelowStart());
  return offset;
}

absl::Status Log::DeleteSegmentsBelowStart() {
  absl::MutexLock maintenance(&maintenance_mu_);
  absl::MutexLock append(&append_mu_);
  absl::MutexLock flush(&flush_mu_);
  size_t count = 0;
  Offset start;
  {
    absl::ReaderMutexLock lock(&mu_);
    start = log_start_;
    while (count + 1 < segments_.size() && segments_[count + 1]->base_offset() <= start) ++count;
  }
  int64_t bytes = 0;
  return RemoveSegmentsLocked(count, start, &bytes);
}

absl::Status Log::RemoveSegmentsLocked(size_t count, Offset new_start, int64_t* bytes) {
  if (count == 0) return absl::OkStatus();
  std::vector<std::shared_ptr<Segment>> doomed;
  LeaderEpochCache epochs;
  {
    absl::MutexLock lock(&mu_);
    STRAND_CHECK(count < segments_.size());
    doomed.assign(segments_.begin(), segments_.begin() + static_cast<ptrdiff_t>(count));
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<ptrdiff_t>(count));
    std::erase_if(unsealed_, [&](const auto& s) {
      return std::find(doomed.begin(), doomed.end(), s) != doomed.end();
    });
    log_start_ = std::max(log_start_, std::max(new_start, segments_.front()->base_offset()));
    high_watermark_ = std::max(high_watermark_, log_start_);
    cleaner_offset_ = std::max(cleaner_offset_, log_start_);
    epochs_.TruncateFromStart(log_start_);
    epochs = epochs_;
    ++generation_;
  }
  // Oldest first: a crash part-way leaves a log that merely starts later.
  const LogConfig config = this->config();
  const int64_t now_ms = clock_.NowWallMs();
  for (const auto& s : doomed) {
    *bytes += s->size_bytes();
    STRAND_RETURN_IF_ERROR(RetireSegment(s, config, now_ms));
  }
  CountSegments(-static_cast<int64_t>(count), -*bytes);
  STRAND_RETURN_IF_ERROR(PersistEpochs(epochs));
  return WriteCheckpoint(false);
}

absl::StatusOr<RetentionResult> Log::ApplyRetention(int64_t now_ms) {
  absl::MutexLock maintenance(&maintenance_mu_);
  absl::MutexLock append(&append_mu_);
  STRAND_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock flush(&flush_mu_);
  RetentionDecision decision;
  Offset next_start;
  {
    absl::ReaderMutexLock lock(&mu_);
    std::vector<SegmentFacts> facts;
    for (size_t i = 0; i < segments_.size(); ++i) {
      const auto& s = segments_[i];
      Offset next = i + 1 < segments_.size() ? segments_[i + 1]->base_offset() : log_end_;
      facts.push_back({s->base_offset(), next, s->size_bytes(), s->max_timestamp()});
    }
    decision = DecideRetention(facts, config_, now_ms, log_start_, high_watermark_);
    if (decision.segments > 0) next_start = segments_[decision.segments]->base_offset();
  }
  RetentionResult result;
  if (decision.segments > 0) {
    STRAND_RETURN_IF_ERROR(
        RemoveSegmentsLocked(decision.segments, next_start, &result.bytes_deleted));
    result.segments_deleted = static_cast<int32_t>(decision.segments);
    if (probe_) probe_->OnRetentionDeleted(result.segments_deleted, result.bytes_deleted);
    log_.Info("retention deleted {} segments ({} bytes); log starts at {}", result.segments_deleted,
              result.bytes_deleted, LogStartOffset());
  }
  result.log_start_offset = LogStartOffset();
  return result;
}

absl::Status Log::RetireSegment(const std::shared_ptr<Segment>& segment, const LogConfig& config,
                                int64_t now_ms) {
  if (config.file_delete_delay_ms <= 0) return segment->DeleteFiles();
  auto renamed = segment->MarkDeleted();
  if (!renamed.ok()) return renamed.status();
  absl::MutexLock lock(&deleted_mu_);
  for (std::string& path : *renamed) {
    deleted_files_.emplace_back(std::move(path), now_ms + config.file_delete_delay_ms);
  }
  has_deleted_files_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

void Log::RemoveDeletedSegmentFiles(int64_t now_ms, bool all, const RemovalPace& pace) {
  if (!has_deleted_files_.load(std::memory_order_acquire)) return;
  std::vector<std::string> due;
  {
    absl::MutexLock lock(&deleted_mu_);
    std::erase_if(deleted_files_, [&](const auto& f) {
      if (!all && f.second > now_ms) return false;
      due.push_back(f.first);
      return true;
    });
    has_deleted_files_.store(!deleted_files_.empty(), std::memory_order_release);
  }
  for (const std::string& path : due) {
    // A failure leaves the file for the loader, which removes "*.deleted" at the next start.
    if (absl::Status s = RemoveGradually(fs_, path, pace); !s.ok())
      log_.Warn("removing {}: {}", path, MessageOf(s));
  }
}

}  // namespace strand::storage
