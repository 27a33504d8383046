#include "storage/log.h"

#include <fmt/format.h>

#include <algorithm>
#include <future>

#include "common/check.h"
#include "common/murmur2.h"
#include "record/errc.h"
#include "record/compression.h"
#include "record/record_batch_builder.h"
#include "storage/errc.h"
#include "storage/flusher.h"
#include "storage/log_checkpoint.h"
#include "storage/log_loader.h"
#include "storage/probe.h"
#include "storage/segment_budget.h"

namespace strand::storage {

Log::Log(std::string dir, const LogConfig& config, const LogOptions& options)
    : dir_(std::move(dir)),
      name_(options.name.empty() ? dir_ : options.name),
      fs_(options.fs ? *options.fs : PosixFilesystem()),
      clock_(options.clock ? *options.clock : SystemClock::Instance()),
      flusher_(options.flusher),
      probe_(options.probe),
      budget_(options.budget),
      log_(name_),
      config_(config) {}

Log::~Log() {
  int64_t bytes = 0;
  size_t count = 0;
  {
    absl::ReaderMutexLock lock(&mu_);
    count = segments_.size();
    for (const auto& s : segments_) bytes += s->size_bytes();
  }
  CountSegments(-static_cast<int64_t>(count), -bytes);
}

absl::StatusOr<std::shared_ptr<Log>> Log::Open(const std::string& dir, const LogConfig& config,
                                               const LogOptions& options) {
  STRAND_RETURN_IF_ERROR(config.Validate());
  std::shared_ptr<Log> log(new Log(dir, config, options));
  LogLoader loader(log->fs_, dir, config, log->clock_, log->log_);
  auto loaded = loader.Load();
  if (!loaded.ok()) return loaded.status();
  {
    absl::MutexLock lock(&log->mu_);
    log->segments_ = std::move(loaded->segments);
    log->epochs_ = std::move(loaded->epochs);
    log->log_start_ = loaded->log_start_offset;
    log->log_end_ = loaded->log_end_offset;
    log->high_watermark_ = loaded->high_watermark;
    log->durable_ = loaded->log_end_offset;  // the loader fsynced what it kept
    log->recovery_point_ = loaded->recovery_point;
    log->cleaner_offset_ = loaded->cleaner_offset;
    for (auto& s : log->segments_) s->set_budget(log->budget_);
  }
  log->report_ = std::move(loaded->report);
  int64_t bytes = log->SizeBytes();
  log->CountSegments(static_cast<int64_t>(log->Segments().size()), bytes);
  const RecoveryReport& r = log->report_;
  if (log->probe_) {
    log->probe_->OnRecovery(r.clean_shutdown, r.cut ? r.cut->bytes_removed : 0, r.cut.has_value(),
                            static_cast<int64_t>(r.indexes_rebuilt.size()));
  }
  if (r.cut || !r.damaged_segments.empty() || !r.indexes_rebuilt.empty()) {
    log->log_.Warn("opened after recovery: {}", r.ToString());
  } else {
    log->log_.Info("opened: {}", r.ToString());
  }
  return log;
}

// ---------------------------------------------------------------------------------------------
// Appends

absl::StatusOr<std::vector<Log::Prepared>> Log::Prepare(std::span<uint8_t> records,
                                                        const LogConfig& config,
                                                        record::ValidationMode mode,
                                                        AppendOrigin origin, int64_t now_ms) {
  auto extents = record::SplitBatches(records);
  if (!extents.ok()) return extents.status();
  if (extents->empty())
    return record::RecordError(record::Errc::kInvalidRecord, "an append with no batches");
  if (static_cast<int64_t>(records.size()) > config.segment_bytes) {
    return StorageError(Errc::kRecordListTooLarge,
                        fmt::format("{} bytes in one append exceed segment.bytes = {}",
                                    records.size(), config.segment_bytes));
  }
  bool leader = mode == record::ValidationMode::kProduce;
  record::ValidationOptions options{
      .mode = mode,
      .batch_bytes_max = config.max_message_bytes,
      // A leader walks records (offset deltas, keys, timestamps); a follower trusts its leader's
      // validation and checks framing and CRC only, as Kafka's followers do.
      .walk_records = leader,
      .walk_compressed_records = leader && config.validate_compressed_records,
      .decompressed_bytes_max = static_cast<size_t>(config.decompressed_batch_bytes_max),
      .require_keys = leader && Compacts(config.cleanup_policy),
      .allow_control = origin == AppendOrigin::kCoordinator,
      .now_ms = leader && config.message_timestamp_type == record::TimestampType::kCreateTime
                    ? now_ms
                    : record::kNoTimestamp,
      .timestamp_before_max_ms = config.message_timestamp_before_max_ms,
      .timestamp_after_max_ms = config.message_timestamp_after_max_ms,
  };
  if (!leader) options.batch_bytes_max = std::numeric_limits<int64_t>::max();
  std::vector<Prepared> prepared;
  prepared.reserve(extents->size());
  for (const record::BatchExtent& e : *extents) {
    auto summary = record::ValidateBatch(records.subspan(e.position, e.size), options);
    if (!summary.ok()) return summary.status();
    prepared.push_back({e, std::move(*summary)});
  }
  return prepared;
}

absl::Status Log::RecordAppendError(absl::Status status) {
  if (probe_) {
    probe_->OnAppendError(ErrorNameOf(status));
    if (StorageErrcOf(status) == Errc::kDiskFull) probe_->OnDiskFull();
  }
  if (StorageErrcOf(status) == Errc::kLogFailed) Fail(status);
  return status;
}

absl::Status Log::CheckWritable() const {
  absl::ReaderMutexLock lock(&mu_);
  if (!failure_.ok()) return failure_;
  if (closed_) return StorageError(Errc::kLogClosed, fmt::format("log {} is closed", name_));
  return absl::OkStatus();
}

absl::StatusOr<ByteBuffer> Log::Recompress(std::span<const uint8_t> records,
                                           std::vector<Prepared>& prepared,
                                           record::Compression codec, const LogConfig& config) {
  bool any = false;
  for (const Prepared& p : prepared) {
    const record::RecordBatchHeader& h = p.summary.header;
    any = any || (!h.is_control() && h.compression() != codec);
  }
  if (!any) return ByteBuffer();
  ByteBuffer out;
  out.Reserve(records.size());
  for (Prepared& p : prepared) {
    std::span<const uint8_t> batch = records.subspan(p.extent.position, p.extent.size);
    const record::RecordBatchHeader& h = p.summary.header;
    const size_t position = out.size();
    if (h.is_control() || h.compression() == codec) {
      out.Append(batch);
    } else {
      auto rebuilt = record::RecompressBatch(
          batch, codec, static_cast<size_t>(config.decompressed_batch_bytes_max));
      if (!rebuilt.ok()) return rebuilt.status();
      if (rebuilt->size() > static_cast<size_t>(config.max_message_bytes)) {
        return record::RecordError(
            record::Errc::kBatchTooLarge,
            fmt::format("the batch is {} bytes once stored as {} (compression.type), over "
                        "max.message.bytes {}",
                        rebuilt->size(), record::CompressionName(codec), config.max_message_bytes));
      }
      out.Append(rebuilt->span());
    }
    p.extent = {position, out.size() - position};
  }
  return out;
}

absl::StatusOr<AppendInfo> Log::AppendAsLeader(std::span<uint8_t> records, LeaderEpoch epoch,
                                               AppendOrigin origin) {
  LogConfig config = this->config();
  int64_t now = clock_.NowWallMs();
  auto prepared = Prepare(records, config, record::ValidationMode::kProduce, origin, now);
  if (!prepared.ok()) return RecordAppendError(prepared.status());
  absl::MutexLock append(&append_mu_);
  STRAND_RETURN_IF_ERROR(CheckWritable());
  Offset next;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto latest = epochs_.Latest();
    if (latest && epoch < latest->epoch) {
      return RecordAppendError(StorageError(
          Errc::kFencedLeaderEpoch,
          fmt::format("leader epoch {} is older than the log's latest {}", epoch, latest->epoch)));
    }
    next = log_end_;
  }
  // compression.type naming another codec than a batch's: the batch is recompressed (Kafka's
  // LogValidator does the same), after validation and before offsets are assigned.
  ByteBuffer recompressed;
  if (config.compression_type) {
    auto rewritten = Recompress(records, *prepared, *config.compression_type, config);
    if (!rewritten.ok()) return RecordAppendError(rewritten.status());
    if (!rewritten->empty()) {
      recompressed = std::move(*rewritten);
      records = recompressed.span();
    }
  }
  bool log_append_time = config.message_timestamp_type == record::TimestampType::kLogAppendTime;
  std::vector<BatchPlacement> placements;
  placements.reserve(prepared->size());
  for (const Prepared& p : *prepared) {
    std::span<uint8_t> batch = records.subspan(p.extent.position, p.extent.size);
    const record::RecordBatchHeader& h = p.summary.header;
    record::SetBaseOffset(batch, next);
    record::SetPartitionLeaderEpoch(batch, epoch);
    int64_t max_timestamp = h.max_timestamp;
    if (log_append_time) {
      record::SetLogAppendTime(batch, now);
      max_timestamp = now;
    } else if (p.summary.records_walked && p.summary.max_record_timestamp != h.max_timestamp) {
      // A client sent a wrong maxTimestamp; Kafka rewrites it too (the CRC is recomputed).
      record::SetMaxTimestamp(batch, p.summary.max_record_timestamp);
      max_timestamp = p.summary.max_record_timestamp;
    }
    placements.push_back(
        {next, next + h.last_offset_delta, max_timestamp, static_cast<int64_t>(p.extent.size)});
    next = next + (int64_t{h.last_offset_delta} + 1);
  }
  if (epoch.value() >= 0) {
    absl::Status s = MaybeAssignEpochs({{epoch, placements.front().base_offset}});
    if (!s.ok()) return RecordAppendError(s);
  }
  auto info = Write(records, placements, config, now);
  if (!info.ok()) return info;
  if (log_append_time) info->log_append_time_ms = now;
  for (const Prepared& p : *prepared) info->records += p.summary.header.record_count;
  if (probe_) probe_->OnAppend(info->bytes, info->batches, info->records);
  return info;
}

absl::StatusOr<AppendInfo> Log::AppendAsFollower(std::span<uint8_t> records, bool caller_flushes) {
  LogConfig config = this->config();
  int64_t now = clock_.NowWallMs();
  auto prepared =
      Prepare(records, config, record::ValidationMode::kReplica, AppendOrigin::kClient, now);
  if (!prepared.ok()) return RecordAppendError(prepared.status());
  absl::MutexLock append(&append_mu_);
  STRAND_RETURN_IF_ERROR(CheckWritable());
  Offset expected;
  {
    absl::ReaderMutexLock lock(&mu_);
    expected = log_end_;
  }
  std::vector<BatchPlacement> placements;
  std::vector<std::pair<LeaderEpoch, Offset>> epoch_starts;
  for (const Prepared& p : *prepared) {
    const record::RecordBatchHeader& h = p.summary.header;
    if (h.base_offset < expected) {
      return RecordAppendError(StorageError(
          Errc::kOffsetsOutOfOrder,
          fmt::format("follower batch at offset {} does not continue the log (next offset {})",
                      h.base_offset, expected)));
    }
    placements.push_back(
        {h.base_offset, h.last_offset(), h.max_timestamp, static_cast<int64_t>(p.extent.size)});
    if (h.partition_leader_epoch.value() >= 0) {
      epoch_starts.emplace_back(h.partition_leader_epoch, h.base_offset);
    }
    expected = h.next_offset();
  }
  absl::Status s = MaybeAssignEpochs(epoch_starts);
  if (!s.ok()) return RecordAppendError(s);
  auto info = Write(records, placements, config, now, /*schedule_flush=*/!caller_flushes);
  if (!info.ok()) return info;
  for (const Prepared& p : *prepared) info->records += p.summary.header.record_count;
  if (probe_) probe_->OnAppend(info->bytes, info->batches, info->records);
  return info;
}

absl::Status Log::MaybeAssignEpochs(const std::vector<std::pair<LeaderEpoch, Offset>>& starts) {
  LeaderEpochCache updated;
  bool changed = false;
  {
    absl::ReaderMutexLock lock(&mu_);
    updated = epochs_;
  }
  for (const auto& [epoch, start] : starts) {
    auto latest = updated.Latest();
    if (!latest || epoch > latest->epoch) changed |= updated.Assign(epoch, start);
  }
  if (!changed) return absl::OkStatus();
  // Persist before the batches land: recovery may drop an epoch with no data, never miss one.
  STRAND_RETURN_IF_ERROR(PersistEpochs(updated));
  absl::MutexLock lock(&mu_);
  epochs_ = std::move(updated);
  return absl::OkStatus();
}

absl::Status Log::PersistEpochs(const LeaderEpochCache& epochs) {
  // Callers hold append_mu_: one writer of the file at a time, in the order of the changes.
  return WriteFileAtomically(fs_, JoinPath(dir_, LogLoader::kEpochCheckpointFile),
                             epochs.Serialize());
}

int64_t Log::RollJitterMs(const LogConfig& config, Offset base_offset) const {
  const int64_t bound = std::min(config.segment_jitter_ms, config.segment_ms);
  if (bound <= 0) return 0;
  // Fixed per log and segment (so a restart keeps it), spread across logs by the name.
  const std::string key = fmt::format("{}@{}", name_, base_offset);
  return static_cast<int64_t>(ToPositive(Murmur2(key))) % bound;
}

absl::StatusOr<std::shared_ptr<Segment>> Log::MaybeRoll(int64_t incoming_bytes, Offset first,
                                                        Offset last, const LogConfig& config,
                                                        int64_t now_ms) {
  std::shared_ptr<Segment> active;
  {
    absl::ReaderMutexLock lock(&mu_);
    active = segments_.back();
  }
  int64_t size = active->size_bytes();
  int64_t rolled_at = active->rolling_timestamp_ms();
  bool empty = size == 0;
  // segment.ms, less this segment's jitter; the jitter is only worked out (a hash) once the
  // segment is old enough for it to matter, not on every append.
  const int64_t age_ms = rolled_at == record::kNoTimestamp ? -1 : now_ms - rolled_at;
  const bool old_enough =
      age_ms >= config.segment_ms ||
      (age_ms >= config.segment_ms - std::min(config.segment_jitter_ms, config.segment_ms) &&
       age_ms >= config.segment_ms - RollJitterMs(config, active->base_offset()));
  bool roll = !active->CanHold(last) ||
              (!empty && (size + incoming_bytes > config.segment_bytes || old_enough ||
                          active->IndexFull(config.segment_index_bytes)));
  if (!roll) return active;
  // An empty active segment whose base is too far behind `last` (a follower jumping over a
  // compaction gap) is replaced rather than kept.
  auto fresh = Segment::Create(fs_, dir_, first, now_ms, config.index_interval_bytes,
                               config.preallocate, config.preallocate_chunk_bytes);
  if (!fresh.ok()) return fresh.status();
  (*fresh)->set_budget(budget_);
  {
    absl::MutexLock lock(&mu_);
    if (empty) {
      segments_.back() = *fresh;
    } else {
      segments_.push_back(*fresh);
      unsealed_.push_back(active);
    }
  }
  if (empty) {
    STRAND_RETURN_IF_ERROR(active->DeleteFiles());
  } else {
    CountSegments(1, 0);
    if (probe_) probe_->OnSegmentRolled();
    log_.Debug("rolled segment {} ({} bytes); new segment {}", active->base_offset(), size, first);
  }
  ScheduleFlush();  // seals the old segment and advances the recovery point
  return *fresh;
}

absl::StatusOr<AppendInfo> Log::Write(std::span<uint8_t> records,
                                      const std::vector<BatchPlacement>& placements,
                                      const LogConfig& config, int64_t now_ms,
                                      bool schedule_flush) {
  Offset first = placements.front().base_offset;
  Offset last = placements.back().last_offset;
  auto active = MaybeRoll(static_cast<int64_t>(records.size()), first, last, config, now_ms);
  if (!active.ok()) return RecordAppendError(active.status());
  absl::Status written = (*active)->Append(records, placements);
  if (!written.ok()) {
    log_.Warn("append of offsets {}..{} failed: {}", first, last, MessageOf(written));
    return RecordAppendError(written);
  }
  AppendInfo info;
  info.base_offset = first;
  info.last_offset = last;
  info.batches = static_cast<int32_t>(placements.size());
  info.bytes = static_cast<int64_t>(records.size());
  for (const auto& p : placements) {
    if (p.max_timestamp > info.max_timestamp) {
      info.max_timestamp = p.max_timestamp;
      info.max_timestamp_offset = p.base_offset;
    }
  }
  bool flush;
  {
    absl::MutexLock lock(&mu_);
    log_end_ = last + 1;
    info.log_start_offset = log_start_;
    unflushed_records_ += last - first + 1;
    unflushed_batches_ += static_cast<int64_t>(placements.size());
    if (first_unflushed_ms_ == record::kNoTimestamp) first_unflushed_ms_ = now_ms;
    flush = unflushed_records_ >= config.flush_messages;
  }
  CountSegments(0, info.bytes);
  if (flush && schedule_flush) ScheduleFlush();
  return info;
}

// ---------------------------------------------------------------------------------------------
// Reads

std::vector<std::shared_ptr<Segment>> Log::SegmentsFrom(Offset offset) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                             [](Offset o, const auto& s) { return o < s->base_offset(); });
  if (it != segments_.begin()) --it;
  return {it, segments_.end()};
}

absl::StatusOr<ReadResult> Log::Read(Offset start, int64_t max_bytes,
                                     std::optional<Offset> max_offset) {
  constexpr int kAttempts = 5;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    ReadResult result;
    std::vector<std::shared_ptr<Segment>> segments;
    int64_t generation;
    bool verify;
    {
      absl::ReaderMutexLock lock(&mu_);
      if (closed_) return StorageError(Errc::kLogClosed, fmt::format("log {} is closed", name_));
      if (start < log_start_ || start > log_end_) {
        return StorageError(
            Errc::kOffsetOutOfRange,
            fmt::format("offset {} is outside the log [{}, {}]", start, log_start_, log_end_));
      }
      result.log_start_offset = log_start_;
      result.log_end_offset = log_end_;
      result.high_watermark = high_watermark_;
      result.next_offset = start;
      generation = generation_;
      verify = config_.verify_crc_on_read;
      if (start < std::min(max_offset.value_or(log_end_), log_end_)) {
        segments = SegmentsFrom(start);
      }
    }
    Offset upper = std::min(max_offset.value_or(result.log_end_offset), result.log_end_offset);
    absl::Status failed;
    for (const auto& segment : segments) {
      auto read = segment->Read(std::max(start, segment->base_offset()), max_bytes, upper, verify);
      if (!read.ok()) {
        failed = read.status();
        break;
      }
      if (!read->data.empty()) {
        result.records = std::move(read->data);
        result.next_offset = read->next_offset;
        break;
      }
      if (read->reached_upper) break;
    }
    {
      absl::ReaderMutexLock lock(&mu_);
      if (generation_ != generation) continue;  // truncated or trimmed meanwhile: read again
    }
    if (!failed.ok()) {
      if (StorageErrcOf(failed) == Errc::kCorruptLog) {
        if (probe_) probe_->OnCorruptBatch();
        log_.Error("refusing to serve corrupt data: {}", MessageOf(failed));
      }
      return failed;
    }
    if (probe_) {
      probe_->OnRead(static_cast<int64_t>(result.records.size()));
    }
    return result;
  }
  return StorageError(Errc::kIoError,
                      fmt::format("log {} kept changing during a read of offset {}", name_, start));
}

absl::StatusOr<std::optional<TimestampOffset>> Log::OffsetForTimestamp(
    int64_t timestamp, std::optional<Offset> max_offset) {
  std::vector<std::shared_ptr<Segment>> segments;
  Offset log_start, log_end;
  size_t decompressed_max;
  {
    absl::ReaderMutexLock lock(&mu_);
    log_start = log_start_;
    log_end = log_end_;
    decompressed_max = static_cast<size_t>(config_.decompressed_batch_bytes_max);
    Offset upper = std::min(max_offset.value_or(log_end_), log_end_);
    if (timestamp == kEarliestTimestamp) {
      return TimestampOffset{record::kNoTimestamp, log_start_,
                             epochs_.EpochFor(log_start_).value_or(kNoLeaderEpoch)};
    }
    if (timestamp == kLatestTimestamp) {
      auto latest = epochs_.Latest();
      return TimestampOffset{record::kNoTimestamp, upper, latest ? latest->epoch : kNoLeaderEpoch};
    }
    segments = SegmentsFrom(log_start_);
  }
  Offset upper = std::min(max_offset.value_or(log_end), log_end);
  if (timestamp == kMaxTimestamp) {
    // The record holding the largest timestamp is the first one reaching it.
    int64_t max = record::kNoTimestamp;
    for (const auto& s : segments) max = std::max(max, s->max_timestamp());
    if (max == record::kNoTimestamp) return std::nullopt;
    timestamp = max;
  }
  if (timestamp < 0) {
    return StorageError(Errc::kInvalidArgument, fmt::format("timestamp {}", timestamp));
  }
  for (const auto& s : segments) {
    if (s->max_timestamp() < timestamp) continue;
    auto match = s->FindTimestamp(timestamp, log_start, upper, decompressed_max);
    if (!match.ok()) return match.status();
    if (*match)
      return TimestampOffset{(*match)->timestamp, (*match)->offset, (*match)->leader_epoch};
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Offsets

Offset Log::LogStartOffset() const {
  absl::ReaderMutexLock lock(&mu_);
  return log_start_;
}
Offset Log::LogEndOffset() const {
  absl::ReaderMutexLock lock(&mu_);
  return log_end_;
}
Offset Log::HighWatermark() const {
  absl::ReaderMutexLock lock(&mu_);
  return high_watermark_;
}
Offset Log::DurableOffset() const {
  absl::ReaderMutexLock lock(&mu_);
  return durable_;
}
Offset Log::RecoveryPoint() const {
  absl::ReaderMutexLock lock(&mu_);
  return recovery_point_;
}

Offset Log::SetHighWatermark(Offset high_watermark) {
  absl::MutexLock lock(&mu_);
  high_watermark_ = std::clamp(high_watermark, log_start_, log_end_);
  return high_watermark_;
}

// ---------------------------------------------------------------------------------------------
// Durability

void Log::NotifyWhenDurable(Offset offset, DurableCallback callback) {
  absl::Status outcome;
  {
    absl::MutexLock lock(&mu_);
    if (!failure_.ok()) {
      outcome = failure_;
    } else if (offset < durable_) {
      outcome = absl::OkStatus();
    } else if (closed_) {
      outcome = StorageError(Errc::kLogClosed, fmt::format("log {} is closed", name_));
    } else {
      waiters_.emplace(offset, std::move(callback));
      return;
    }
  }
  callback(outcome);
}

absl::Status Log::WaitDurable(Offset offset, int64_t timeout_ms) {
  // A caller about to sleep until a flush covers `offset` runs that flush itself when none is
  // running: a lone synchronous writer then pays no thread hand-off to the flusher and back.
  // Appends still never wait for an fsync, and callbacks are still fired by whoever flushes.
  bool appended;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (!failure_.ok()) return failure_;
    if (offset < durable_) return absl::OkStatus();
    appended = offset < log_end_;
  }
  if (appended && flush_mu_.TryLock()) {
    Waiters ready;
    absl::Status flushed = FlushLocked(&ready);
    flush_mu_.Unlock();
    for (auto& [o, callback] : ready) callback(absl::OkStatus());
    if (!flushed.ok()) {
      absl::ReaderMutexLock lock(&mu_);
      return failure_.ok() ? flushed : failure_;  // a failed fsync took the log offline
    }
  }
  auto promise = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> future = promise->get_future();
  NotifyWhenDurable(offset, [promise](absl::Status s) { promise->set_value(std::move(s)); });
  // A flush is running (or `offset` is not appended yet): the running one may have started before
  // `offset` was appended, and an append whose caller flushes scheduled none, so make sure one
  // follows (a no-op when one is queued already).
  if (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) ScheduleFlush();
  if (future.wait_for(std::chrono::milliseconds(timeout_ms)) != std::future_status::ready) {
    return StorageError(Errc::kTimeout,
                        fmt::format("offset {} not durable after {} ms", offset, timeout_ms));
  }
  return future.get();
}

void Log::ScheduleFlush() {
  if (flusher_ == nullptr || flush_queued_.exchange(true)) return;
  flusher_->Schedule(shared_from_this());
}

void Log::RunScheduledFlush() {
  flush_queued_ = false;
  absl::Status s = Flush();
  if (!s.ok()) log_.Debug("scheduled flush: {}", MessageOf(s));
}

void Log::MaybeScheduleTimedFlush(int64_t now_ms) {
  bool due;
  {
    absl::ReaderMutexLock lock(&mu_);
    due = (unflushed_records_ > 0 || !unsealed_.empty()) &&
          (!unsealed_.empty() || now_ms - first_unflushed_ms_ >= config_.flush_ms);
  }
  if (due) ScheduleFlush();
}

std::vector<std::pair<Offset, DurableCallback>> Log::TakeWaitersLocked(Offset from) {
  std::vector<std::pair<Offset, DurableCallback>> taken;
  for (auto it = waiters_.lower_bound(from); it != waiters_.end();) {
    taken.emplace_back(it->first, std::move(it->second));
    it = waiters_.erase(it);
  }
  return taken;
}

void Log::Fail(const absl::Status& status) {
  std::vector<std::pair<Offset, DurableCallback>> waiters;
  {
    absl::MutexLock lock(&mu_);
    if (!failure_.ok()) return;
    failure_ = StorageError(Errc::kLogFailed,
                            fmt::format("log {} is offline after: {}", name_, MessageOf(status)));
    waiters = TakeWaitersLocked(Offset::Min());
  }
  log_.Error("taking the log offline: {}", MessageOf(status));
  absl::Status failure;
  {
    absl::ReaderMutexLock lock(&mu_);
    failure = failure_;
  }
  for (auto& [offset, callback] : waiters) callback(failure);
}

absl::Status Log::Flush() {
  Waiters ready;
  absl::Status flushed;
  {
    absl::MutexLock flush(&flush_mu_);
    flushed = FlushLocked(&ready);
  }
  // Outside the flush lock: a callback may flush, wait or append itself.
  for (auto& [offset, callback] : ready) callback(absl::OkStatus());
  return flushed;
}

absl::Status Log::FlushLocked(Waiters* ready) {
  Offset target;
  int64_t generation, records, batches;
  std::vector<std::shared_ptr<Segment>> unsealed;
  std::shared_ptr<Segment> active;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (!failure_.ok()) return failure_;
    target = log_end_;
    if (target <= durable_ && unsealed_.empty()) return absl::OkStatus();
    generation = generation_;
    records = unflushed_records_;
    batches = unflushed_batches_;
    unsealed = unsealed_;
    active = segments_.back();
  }
  int64_t started_us = clock_.NowMonotonicUs();
  // Data first: a rolled segment's tail, then the active segment. An fsync failure leaves the
  // page cache in an unknown state (the kernel may have dropped the dirty pages), so the log
  // goes offline rather than guess.
  for (const auto& s : unsealed) {
    absl::Status synced = s->Sync();
    if (!synced.ok()) {
      if (probe_) probe_->OnFlushError();
      Fail(synced);
      return synced;
    }
  }
  absl::Status synced = active->Sync();
  if (!synced.ok()) {
    if (probe_) probe_->OnFlushError();
    Fail(synced);
    return synced;
  }
  if (probe_) probe_->OnFlush((clock_.NowMonotonicUs() - started_us) / 1e6, batches);
  // Then seal rolled segments (indexes written); failing that only delays the recovery point.
  size_t sealed = 0;
  for (const auto& s : unsealed) {
    absl::Status ok = s->Seal();
    if (!ok.ok()) {
      log_.Warn("could not seal segment {} yet: {}", s->base_offset(), MessageOf(ok));
      break;
    }
    ++sealed;
  }
  bool recovery_point_moved = false;
  {
    absl::MutexLock lock(&mu_);
    STRAND_CHECK_MSG(generation_ == generation, "log {} changed shape during a flush", name_);
    durable_ = std::max(durable_, target);
    unflushed_records_ -= records;
    unflushed_batches_ -= batches;
    if (unflushed_records_ == 0) first_unflushed_ms_ = record::kNoTimestamp;
    unsealed_.erase(unsealed_.begin(), unsealed_.begin() + static_cast<ptrdiff_t>(sealed));
    Offset rp =
        unsealed_.empty() ? segments_.back()->base_offset() : unsealed_.front()->base_offset();
    if (rp > recovery_point_) {
      recovery_point_ = rp;
      recovery_point_moved = true;
    }
    for (auto it = waiters_.begin(); it != waiters_.end() && it->first < durable_;) {
      ready->emplace_back(it->first, std::move(it->second));
      it = waiters_.erase(it);
    }
  }
  if (recovery_point_moved) {
    absl::Status s = WriteCheckpoint(false);
    if (!s.ok()) log_.Warn("checkpoint after a roll: {}", MessageOf(s));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Leader epochs

absl::Status Log::AssignLeaderEpoch(LeaderEpoch epoch, Offset start_offset) {
  absl::MutexLock append(&append_mu_);
  STRAND_RETURN_IF_ERROR(CheckWritable());
  return MaybeAssignEpochs({{epoch, start_offset}});
}

EpochEndOffset Log::EndOffsetForEpoch(LeaderEpoch epoch) const {
  absl::ReaderMutexLock lock(&mu_);
  return epochs_.EndOffsetFor(epoch, log_end_);
}

std::optional<EpochEntry> Log::LatestEpoch() const {
  absl::ReaderMutexLock lock(&mu_);
  return epochs_.Latest();
}

std::vector<EpochEntry> Log::EpochEntries() const {
  absl::ReaderMutexLock lock(&mu_);
  return epochs_.entries();
}

// ---------------------------------------------------------------------------------------------
// Maintenance

absl::Status Log::Checkpoint() {
  {
    absl::ReaderMutexLock lock(&mu_);
    if (closed_) return absl::OkStatus();  // Close wrote the final one
  }
  return WriteCheckpoint(false);
}

absl::Status Log::WriteCheckpoint(bool clean_shutdown) {
  absl::MutexLock checkpoint_lock(&checkpoint_mu_);
  LogCheckpoint c;
  {
    absl::ReaderMutexLock lock(&mu_);
    c.recovery_point = recovery_point_;
    c.log_start_offset = log_start_;
    c.high_watermark = high_watermark_;
    c.cleaner_offset = cleaner_offset_;
    if (clean_shutdown) {
      c.clean_shutdown = true;
      c.clean_log_end_offset = log_end_;
      c.clean_active_base = segments_.back()->base_offset();
      c.clean_active_size = segments_.back()->size_bytes();
      c.recovery_point = log_end_;
    }
  }
  return WriteFileAtomically(fs_, JoinPath(dir_, LogLoader::kCheckpointFile), c.Serialize());
}

absl::StatusOr<std::vector<Offset>> Log::Scrub() {
  std::vector<std::shared_ptr<Segment>> segments;
  {
    absl::ReaderMutexLock lock(&mu_);
    segments = segments_;
  }
  std::vector<Offset> corrupt;
  for (const auto& s : segments) {
    auto bad = s->Verify();
    if (!bad.ok()) return bad.status();
    if (*bad) {
      corrupt.push_back(bad->value().first);
      if (probe_) probe_->OnCorruptBatch();
      log_.Error("scrub: segment {} is corrupt from offset {} (position {})", s->base_offset(),
                 bad->value().first, bad->value().second);
    }
  }
  return corrupt;
}

absl::Status Log::UpdateConfig(const LogConfig& config) {
  STRAND_RETURN_IF_ERROR(config.Validate());
  absl::MutexLock lock(&mu_);
  config_ = config;
  return absl::OkStatus();
}

LogConfig Log::config() const {
  absl::ReaderMutexLock lock(&mu_);
  return config_;
}

// ---------------------------------------------------------------------------------------------
// Lifecycle and facts

absl::Status Log::Close() {
  absl::MutexLock append(&append_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::OkStatus();
    closed_ = true;
  }
  absl::Status outcome = Flush();
  std::shared_ptr<Segment> active;
  bool healthy;
  {
    absl::ReaderMutexLock lock(&mu_);
    active = segments_.back();
    healthy = failure_.ok() && unsealed_.empty();
  }
  if (outcome.ok() && healthy) {
    outcome = active->WriteIndexFiles();
    if (outcome.ok()) outcome = WriteCheckpoint(true);
  }
  std::vector<std::pair<Offset, DurableCallback>> waiters;
  {
    absl::MutexLock lock(&mu_);
    waiters = TakeWaitersLocked(Offset::Min());
  }
  for (auto& [offset, callback] : waiters) {
    callback(StorageError(Errc::kLogClosed, fmt::format("log {} closed", name_)));
  }
  if (!outcome.ok()) log_.Warn("closed uncleanly: {}", MessageOf(outcome));
  return outcome;
}

bool Log::failed() const {
  absl::ReaderMutexLock lock(&mu_);
  return !failure_.ok();
}

int64_t Log::SizeBytes() const {
  absl::ReaderMutexLock lock(&mu_);
  int64_t bytes = 0;
  for (const auto& s : segments_) bytes += s->size_bytes();
  return bytes;
}

std::vector<SegmentInfo> Log::Segments() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<SegmentInfo> out;
  for (size_t i = 0; i < segments_.size(); ++i) {
    const auto& s = segments_[i];
    Offset next = i + 1 < segments_.size() ? segments_[i + 1]->base_offset() : log_end_;
    out.push_back({s->base_offset(), next, s->size_bytes(), s->max_timestamp(), s->sealed()});
  }
  return out;
}

void Log::CountSegments(int64_t delta, int64_t bytes_delta) {
  if (probe_ == nullptr) return;
  if (delta != 0) probe_->SegmentsChanged(delta);
  if (bytes_delta != 0) probe_->LogBytesChanged(bytes_delta);
}

}  // namespace strand::storage
