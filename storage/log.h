#pragma once

// Log: one partition replica's log — a directory of segments holding Kafka RecordBatch v2 bytes
// exactly as they arrived, with offsets assigned by rewriting each batch's base offset.
//
// What it does:
//   - AppendAsLeader validates producer batches, assigns offsets, stamps the partition leader
//     epoch (and LogAppendTime when configured) and writes them; AppendAsFollower writes batches
//     with the offsets their leader gave them, checking that they continue the log.
//   - Read returns whole stored batches from an offset up to a byte limit (the first batch whole
//     even when larger, as Kafka does, so consumers progress), below an upper offset (the high
//     watermark for consumers); a batch whose CRC fails is never returned.
//   - OffsetForTimestamp, log start / end / high watermark, TruncateTo (leader change),
//     TruncateFullyAndStartAt (a follower far behind), DeleteRecordsBefore, the leader-epoch
//     cache (EndOffsetForEpoch answers OffsetForLeaderEpoch).
//   - Durability: by default every batch is fsynced before it is reported durable; a Flusher
//     thread does the fsync for many appends at once (group commit). DurableOffset() and
//     NotifyWhenDurable tell callers how far the log is durable. flush.messages / flush.ms relax
//     the policy.
//   - Rolls segments by segment.bytes / segment.ms / index size, applies retention (whole old
//     segments, never the active one) and, through LogCleaner, compaction.
//   - Open recovers after a crash: scans from the recovery point, cuts at the first torn or
//     corrupt batch, rebuilds indexes and reports it all (recovery_report()).
//
// Threading: every public method is thread-safe. Appends, truncations and other mutations are
// serialized by an internal writer lock and never wait for an fsync; reads run concurrently with
// them and with each other (a read of the active segment sees only fully written batches).
// Durability callbacks run on the thread that completed the flush (a flusher, or a caller of
// Flush/WaitDurable) with no Log lock held, or inline when the outcome is already known; they
// must not block. Failure callbacks (the log failing, closing or truncating) may run while the
// Log holds its writer lock: they may read the Log's offsets but must not append, truncate or
// flush from inside the callback.
//
// Files in the log directory: <base>.log / .index / .timeindex per segment, log.checkpoint
// (recovery point, log start, high watermark, cleaner offset, clean-shutdown marker) and
// leader-epoch-checkpoint. Ownership: LogManager holds each Log in a shared_ptr.
// Implementation: log.cc (open, appends, reads, durability, epochs, lifecycle) and
// log_truncation.cc (truncation, log start, retention).

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/byte_buffer.h"
#include "common/clock.h"
#include "common/ids.h"
#include "record/batch_validator.h"
#include "storage/file.h"
#include "storage/leader_epoch_cache.h"
#include "storage/log_config.h"
#include "storage/logger.h"
#include "storage/recovery_report.h"
#include "storage/segment.h"

namespace strand::storage {

class Flusher;
class StorageProbe;
class OpenSegmentBudget;

enum class AppendOrigin {
  kClient,       // a producer: control batches are refused
  kCoordinator,  // the group/transaction coordinator: may write control batches (markers)
};

struct AppendInfo {
  Offset base_offset{0};
  Offset last_offset{0};
  int64_t log_append_time_ms = record::kNoTimestamp;  // the time stamped, when LogAppendTime
  int64_t max_timestamp = record::kNoTimestamp;
  Offset max_timestamp_offset{0};
  int32_t batches = 0;
  int64_t records = 0;
  int64_t bytes = 0;
  Offset log_start_offset{0};
};

struct ReadResult {
  ByteBuffer records;     // whole batches, byte for byte as stored; maybe empty
  Offset next_offset{0};  // one past the last returned batch (the start offset when empty)
  Offset log_start_offset{0};
  Offset log_end_offset{0};
  Offset high_watermark{0};
};

struct TimestampOffset {
  int64_t timestamp = record::kNoTimestamp;
  Offset offset{0};
  LeaderEpoch leader_epoch = kNoLeaderEpoch;
};

struct RetentionResult {
  int32_t segments_deleted = 0;
  int64_t bytes_deleted = 0;
  Offset log_start_offset{0};
};

struct SegmentInfo {
  Offset base_offset;
  Offset next_offset;
  int64_t size_bytes;
  int64_t max_timestamp;
  bool sealed;
};

struct LogOptions {
  Filesystem* fs = nullptr;             // default: PosixFilesystem()
  Clock* clock = nullptr;               // default: SystemClock
  Flusher* flusher = nullptr;           // null: only Flush() calls make data durable
  StorageProbe* probe = nullptr;        // null: no metrics
  OpenSegmentBudget* budget = nullptr;  // null: sealed segments stay open once used
  std::string name;                     // log context, e.g. "orders-3"
};

using DurableCallback = std::function<void(absl::Status)>;

class Log : public std::enable_shared_from_this<Log> {
 public:
  // Timestamps with special meaning for OffsetForTimestamp (Kafka's ListOffsets).
  static constexpr int64_t kLatestTimestamp = -1;
  static constexpr int64_t kEarliestTimestamp = -2;
  static constexpr int64_t kMaxTimestamp = -3;

  // Opens (creating if needed) and recovers the log in `dir`.
  static absl::StatusOr<std::shared_ptr<Log>> Open(const std::string& dir, const LogConfig& config,
                                                   const LogOptions& options);
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // ---- Appends ----

  // `records` holds one or more producer batches back to back. All are validated before any is
  // written; their header fields are rewritten in place (base offset, partition leader epoch,
  // LogAppendTime). Fails with Errc::kFencedLeaderEpoch for an epoch older than the log's.
  absl::StatusOr<AppendInfo> AppendAsLeader(std::span<uint8_t> records, LeaderEpoch epoch,
                                            AppendOrigin origin = AppendOrigin::kClient);
  // Batches fetched from the leader, offsets already assigned; the first must start at or after
  // the log end and each after the previous (compaction may leave gaps). `caller_flushes`: the
  // caller makes them durable itself right after (WaitDurable), so the flush policy does not
  // hand them to a flusher thread (a follower's fetcher fsyncs on its own thread).
  absl::StatusOr<AppendInfo> AppendAsFollower(std::span<uint8_t> records,
                                              bool caller_flushes = false);

  // ---- Reads ----

  // Fails with Errc::kOffsetOutOfRange below the log start or above the log end offset.
  // `max_offset` (exclusive; default: the log end) bounds what is returned, e.g. the high
  // watermark for consumers.
  absl::StatusOr<ReadResult> Read(Offset start, int64_t max_bytes,
                                  std::optional<Offset> max_offset = std::nullopt);
  // The first record with timestamp >= `timestamp` (or kEarliest/kLatest/kMaxTimestamp), below
  // `max_offset`; nullopt when there is none.
  absl::StatusOr<std::optional<TimestampOffset>> OffsetForTimestamp(
      int64_t timestamp, std::optional<Offset> max_offset = std::nullopt);

  // ---- Offsets ----

  Offset LogStartOffset() const;
  Offset LogEndOffset() const;
  Offset HighWatermark() const;
  // Every offset below this one is on stable storage.
  Offset DurableOffset() const;
  Offset RecoveryPoint() const;
  // Sets the high watermark, clamped to [log start, log end]; returns the value kept. Persisted
  // lazily by Checkpoint() (and at Close), like Kafka's replication-offset-checkpoint.
  Offset SetHighWatermark(Offset high_watermark);

  // ---- Durability ----

  // Calls `callback` with OK once `offset` is durable, or with an error if the log fails,
  // closes, or truncates `offset` away first.
  void NotifyWhenDurable(Offset offset, DurableCallback callback);
  // Blocks until `offset` is durable (Errc::kTimeout after timeout_ms). When no flush is running
  // the caller runs it itself instead of waking the flusher and sleeping.
  absl::Status WaitDurable(Offset offset, int64_t timeout_ms);
  // Hands a flush to a flusher thread now (nothing when one is queued already): a caller about
  // to wait for several logs starts their fsyncs at once instead of one after the other.
  void FlushInBackground() { ScheduleFlush(); }
  // One group-commit round now, on the calling thread.
  absl::Status Flush();
  // Called by the Flusher for a scheduled flush.
  void RunScheduledFlush();
  // Schedules a flush if flush.ms has passed since the oldest unflushed append.
  void MaybeScheduleTimedFlush(int64_t now_ms);

  // ---- Truncation and log start ----

  // Removes every batch holding an offset >= `offset` (a batch straddling it goes whole);
  // returns the new log end offset.
  absl::StatusOr<Offset> TruncateTo(Offset offset);
  // Empties the log and restarts it at `offset` (a follower too far behind its leader).
  absl::Status TruncateFullyAndStartAt(Offset offset);
  // Advances the log start offset (Kafka's DeleteRecords); `offset` must not exceed the high
  // watermark. Whole segments below it are deleted. Returns the new log start offset.
  absl::StatusOr<Offset> DeleteRecordsBefore(Offset offset);

  // ---- Leader epochs ----

  // Records that `epoch` starts at `start_offset` (a new leader calls it with its log end).
  absl::Status AssignLeaderEpoch(LeaderEpoch epoch, Offset start_offset);
  EpochEndOffset EndOffsetForEpoch(LeaderEpoch epoch) const;
  std::optional<EpochEntry> LatestEpoch() const;
  std::vector<EpochEntry> EpochEntries() const;

  // ---- Maintenance ----

  absl::StatusOr<RetentionResult> ApplyRetention(int64_t now_ms);
  // Removes the ".deleted" files of removed segments whose file.delete.delay.ms has passed (all
  // of them when `all`), at `pace` (RemoveGradually); the log manager's deleter thread calls it
  // every second. Cheap when there are none.
  void RemoveDeletedSegmentFiles(int64_t now_ms, bool all, const RemovalPace& pace = {});
  // Writes log.checkpoint (recovery point, log start, high watermark, cleaner offset).
  absl::Status Checkpoint();
  // Checks every batch of every segment; returns the offsets of corrupt batches found.
  absl::StatusOr<std::vector<Offset>> Scrub();
  absl::Status UpdateConfig(const LogConfig& config);
  LogConfig config() const;

  // ---- Lifecycle and facts ----

  // Flushes, seals, writes the active segment's indexes and a clean-shutdown checkpoint. Later
  // calls other than reads of facts fail with Errc::kLogClosed.
  absl::Status Close();
  const RecoveryReport& recovery_report() const { return report_; }
  bool failed() const;
  // Takes the log offline as if a write had failed beyond repair (Kafka's offline log dir):
  // every later append and flush fails with kLogFailed, durability waiters get the error. For
  // owners whose policy is stricter than the log's own (which cuts back a failed append and
  // carries on), e.g. a broker that treats any I/O error as a dying disk.
  void TakeOffline(const absl::Status& cause) { Fail(cause); }
  const std::string& dir() const { return dir_; }
  // The file system the log lives on (files kept beside it, e.g. producer-state snapshots).
  Filesystem& filesystem() const { return fs_; }
  const std::string& name() const { return name_; }
  int64_t SizeBytes() const;
  std::vector<SegmentInfo> Segments() const;

 private:
  friend class LogCleaner;

  Log(std::string dir, const LogConfig& config, const LogOptions& options);

  struct Prepared {
    record::BatchExtent extent;
    record::BatchSummary summary;
  };
  absl::StatusOr<std::vector<Prepared>> Prepare(std::span<uint8_t> records, const LogConfig& config,
                                                record::ValidationMode mode, AppendOrigin origin,
                                                int64_t now_ms);
  // The batches re-encoded with `codec` where theirs differs (control batches are kept), their
  // extents updated to the new buffer; an empty buffer when nothing differs.
  absl::StatusOr<ByteBuffer> Recompress(std::span<const uint8_t> records,
                                        std::vector<Prepared>& prepared, record::Compression codec,
                                        const LogConfig& config);
  // `schedule_flush` false: the caller flushes (AppendAsFollower's caller_flushes).
  absl::StatusOr<AppendInfo> Write(std::span<uint8_t> records,
                                   const std::vector<BatchPlacement>& placements,
                                   const LogConfig& config, int64_t now_ms,
                                   bool schedule_flush = true)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  // Removes segments from the list and their files, or (file.delete.delay.ms > 0) renames the
  // files "<file>.deleted" for RemoveDeletedSegmentFiles to remove once the delay has passed.
  absl::Status RetireSegment(const std::shared_ptr<Segment>& segment, const LogConfig& config,
                             int64_t now_ms);
  // How much earlier than segment.ms the segment starting at `base_offset` rolls.
  int64_t RollJitterMs(const LogConfig& config, Offset base_offset) const;
  absl::StatusOr<std::shared_ptr<Segment>> MaybeRoll(int64_t incoming_bytes, Offset first,
                                                     Offset last, const LogConfig& config,
                                                     int64_t now_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  absl::Status MaybeAssignEpochs(const std::vector<std::pair<LeaderEpoch, Offset>>& starts)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  absl::Status PersistEpochs(const LeaderEpochCache& epochs)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  absl::Status WriteCheckpoint(bool clean_shutdown);
  using Waiters = std::vector<std::pair<Offset, DurableCallback>>;
  // One group-commit round; the callbacks it satisfied go to *ready, for the caller to run once
  // it has released flush_mu_.
  absl::Status FlushLocked(Waiters* ready) ABSL_EXCLUSIVE_LOCKS_REQUIRED(flush_mu_);
  absl::Status CheckWritable() const;
  absl::Status RecordAppendError(absl::Status status);
  void Fail(const absl::Status& status);
  void ScheduleFlush();
  absl::Status TruncateFullyLocked(Offset offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  absl::Status DeleteSegmentsBelowStart();
  absl::Status RemoveSegmentsLocked(size_t count, Offset new_start, int64_t* bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  std::vector<std::pair<Offset, DurableCallback>> TakeWaitersLocked(Offset from)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<std::shared_ptr<Segment>> SegmentsFrom(Offset offset) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void CountSegments(int64_t delta, int64_t bytes_delta);

  const std::string dir_;
  const std::string name_;
  Filesystem& fs_;
  Clock& clock_;
  Flusher* const flusher_;
  StorageProbe* const probe_;
  OpenSegmentBudget* const budget_;
  ContextLogger log_;
  RecoveryReport report_;
  std::atomic<bool> flush_queued_{false};

  // Lock order: maintenance_mu_ -> append_mu_ -> flush_mu_ -> checkpoint_mu_ -> mu_.
  absl::Mutex maintenance_mu_;  // retention and compaction of this log
  absl::Mutex append_mu_;       // every writer: appends, rolls, truncation, deletion, swaps
  absl::Mutex flush_mu_;        // one group commit at a time; excludes structural changes
  absl::Mutex checkpoint_mu_;   // one checkpoint-file writer at a time
  absl::Mutex deleted_mu_;      // deleted_files_ (never held with another of these)
  // Files of removed segments waiting for file.delete.delay.ms: (path, due wall-clock ms).
  std::vector<std::pair<std::string, int64_t>> deleted_files_ ABSL_GUARDED_BY(deleted_mu_);
  std::atomic<bool> has_deleted_files_{false};
  mutable absl::Mutex mu_;      // the published state below; held briefly, never across I/O

  std::vector<std::shared_ptr<Segment>> segments_ ABSL_GUARDED_BY(mu_);  // by base; last active
  std::vector<std::shared_ptr<Segment>> unsealed_ ABSL_GUARDED_BY(mu_);  // rolled, not sealed
  LogConfig config_ ABSL_GUARDED_BY(mu_);
  LeaderEpochCache epochs_ ABSL_GUARDED_BY(mu_);
  Offset log_start_ ABSL_GUARDED_BY(mu_){0};
  Offset log_end_ ABSL_GUARDED_BY(mu_){0};
  Offset high_watermark_ ABSL_GUARDED_BY(mu_){0};
  Offset durable_ ABSL_GUARDED_BY(mu_){0};
  Offset recovery_point_ ABSL_GUARDED_BY(mu_){0};
  Offset cleaner_offset_ ABSL_GUARDED_BY(mu_){0};
  // Bumped by every change that removes data (truncation, retention, compaction swaps), so
  // that a read overlapping one can tell and retry.
  int64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t unflushed_records_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t unflushed_batches_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t first_unflushed_ms_ ABSL_GUARDED_BY(mu_) = record::kNoTimestamp;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  std::multimap<Offset, DurableCallback> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strand::storage
