#pragma once

// Segment: one file of a partition log, "<20-digit base offset>.log", holding whole record
// batches back to back exactly as they arrived, with its sparse offset index ("<base>.index")
// and time index ("<base>.timeindex").
//
// Lifecycle: a segment is created empty as the log's *active* segment and receives appends
// until the log rolls; it is then *sealed* (preallocation trimmed, final time-index entry added,
// index files written and fsynced) and only read, truncated (by a leader change) or deleted
// (retention, compaction) afterwards. Segments found on disk at start-up are either recovered
// (scanned, every batch checked, cut at the first bad one, indexes rebuilt) or, below the
// recovery point, opened lazily: their file and indexes are loaded on first use and may be
// released again under the open-segment budget.
//
// Threading: one writer at a time (the owning Log serializes Append, TruncateTo, Seal and
// recovery), any number of concurrent readers. The data size is published with release/acquire
// after the bytes are written, so a reader never sees a half-appended batch; the indexes and the
// lazily opened file are guarded by the segment's mutex.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/byte_buffer.h"
#include "common/ids.h"
#include "record/record_batch.h"
#include "storage/file.h"
#include "storage/offset_index.h"
#include "storage/time_index.h"

namespace strand::storage {

class OpenSegmentBudget;

// Where one appended batch lands, as the log computed it.
struct BatchPlacement {
  Offset base_offset;
  Offset last_offset;
  int64_t max_timestamp;  // the batch's maxTimestamp (-1 when none)
  int64_t size_bytes;
};

// The result of scanning a segment's file from its start.
struct SegmentScan {
  int64_t valid_bytes = 0;  // whole, valid batches from position 0
  Offset next_offset{0};    // one past the last valid batch (the base when none)
  int64_t batches = 0;
  int64_t file_bytes = 0;         // the file's size when scanned
  bool complete = true;           // false: the scan stopped before the end of the file
  bool stopped_at_zeros = false;  // it stopped at an all-zero header: unwritten space
  std::string stop_reason;        // why it stopped, when !complete
};

// A batch located in the segment.
struct BatchLocation {
  int64_t position;
  record::RecordBatchHeader header;
};

struct SegmentRead {
  ByteBuffer data;             // whole batches, possibly none
  Offset next_offset{0};       // one past the last batch returned
  bool reached_upper = false;  // stopped because the next batch reaches the upper bound
};

struct TimestampMatch {
  int64_t timestamp;
  Offset offset;
  LeaderEpoch leader_epoch;
};

class Segment : public std::enable_shared_from_this<Segment> {
 public:
  static std::string FileName(Offset base, std::string_view suffix);  // 00..0042.log
  static std::optional<Offset> ParseFileName(std::string_view name, std::string_view suffix);
  // "<base>-<end>.log.swap": complete compaction output replacing the segments in [base, end).
  static std::string SwapFileName(Offset base, Offset end);
  static std::optional<std::pair<Offset, Offset>> ParseSwapFileName(std::string_view name);

  // A new, empty active segment (the file must not exist yet).
  static absl::StatusOr<std::shared_ptr<Segment>> Create(Filesystem& fs, const std::string& dir,
                                                         Offset base, int64_t now_ms,
                                                         int32_t index_interval_bytes,
                                                         bool preallocate,
                                                         int64_t preallocate_chunk_bytes);
  // An existing file; the caller then calls Recover (to scan it) or OpenSealed (to trust it).
  static absl::StatusOr<std::shared_ptr<Segment>> OpenExisting(Filesystem& fs,
                                                               const std::string& dir, Offset base,
                                                               int32_t index_interval_bytes);

  // An existing file under another name (compaction output before its swap); RenameLogFile
  // gives it its final name.
  static absl::StatusOr<std::shared_ptr<Segment>> OpenAt(Filesystem& fs, const std::string& dir,
                                                         Offset base, const std::string& path,
                                                         int32_t index_interval_bytes);

  ~Segment();

  // ---- Loading (before the segment is shared) ----

  // Scans every batch from the start: framing, CRC-32C, offsets increasing from the base. Builds
  // both indexes in memory, cuts the file after the last valid batch when `truncate` is set, and
  // reports each valid batch to on_batch (for the leader-epoch cache).
  absl::StatusOr<SegmentScan> Recover(
      bool truncate, absl::FunctionRef<void(const record::RecordBatchHeader&)> on_batch);
  // Trusts a segment below the recovery point: checks that its index files exist and look sane
  // (cheaply: sizes and last entries), learns its largest timestamp, and leaves the file and
  // indexes to be loaded on first use. Fails with Errc::kCorruptLog when an index is missing or
  // damaged, so that the caller rebuilds it (Recover without truncation, then Seal).
  absl::Status OpenSealed(Offset next_segment_base);
  // After a clean shutdown: loads the last segment's indexes from its files (with full checks)
  // and continues appending to it.
  absl::Status OpenActiveFromIndexes(Offset log_end_offset, int64_t size_bytes);
  // Marks the bytes from `position` (offset `offset` on) as damaged: reads reaching them fail
  // with Errc::kCorruptLog rather than skipping to the next segment.
  void MarkDamaged(int64_t position, Offset offset, std::string reason);

  // ---- Writing (the log's single writer) ----

  // Writes `bytes` (the batches in `batches`, back to back) at the end. On failure the file is
  // cut back so that the segment is unchanged; if even that fails the error is Errc::kLogFailed.
  absl::Status Append(std::span<const uint8_t> bytes, std::span<const BatchPlacement> batches);
  // Removes the batch holding `offset` and everything after it; returns the segment's new next
  // offset (at most `offset`). Fsyncs the cut.
  absl::StatusOr<Offset> TruncateTo(Offset offset);
  // Makes appended data durable.
  absl::Status Sync();
  // Seals a segment that will get no more appends: trims preallocated space, adds the final
  // time-index entry, writes and fsyncs data and both index files.
  absl::Status Seal();
  // Writes the index files of the active segment at a clean shutdown (it stays appendable).
  absl::Status WriteIndexFiles();
  // Removes the segment's files (the open file stays readable by current readers).
  absl::Status DeleteFiles();
  // Renames the segment's files "<file>.deleted" (removed later by the log, or at the next
  // start by the loader) and returns their new paths.
  absl::StatusOr<std::vector<std::string>> MarkDeleted();
  // Renames compaction output (a .swap file) into place (see LogCleaner).
  absl::Status RenameLogFile(const std::string& new_path);

  // ---- Reading (any thread) ----

  // Whole batches from the one holding `start` on, at most `max_bytes` (but always the first
  // batch whole), none reaching `upper` (exclusive). With `verify`, every batch not yet checked
  // since the segment was opened has its CRC-32C checked (bytes this process appended or
  // recovered were checked then): a corrupt batch is never returned, and if it is the first one
  // the read fails with Errc::kCorruptLog naming its offset.
  // An empty result with reached_upper == false means no batch here holds an offset >= start.
  // The batches are read from the file (the page cache) straight into SegmentRead::data, which
  // the fetch path puts on the wire as it is.
  absl::StatusOr<SegmentRead> Read(Offset start, int64_t max_bytes, Offset upper, bool verify);
  // The first batch whose last offset is >= target and below `upper`.
  absl::StatusOr<std::optional<BatchLocation>> FindBatch(Offset target, Offset upper);
  // The first record with timestamp >= `timestamp` and offset < `upper`, if any.
  // Records below `floor` (the log start) are skipped.
  absl::StatusOr<std::optional<TimestampMatch>> FindTimestamp(int64_t timestamp, Offset floor,
                                                              Offset upper,
                                                              size_t decompressed_max_bytes);
  // Walks the batch headers (no CRC check), e.g. to rebuild a lost leader-epoch cache.
  absl::Status ForEachHeader(absl::FunctionRef<void(const record::RecordBatchHeader&)> fn);
  // Every batch, checked like Recover but changing nothing (for scrubbing). Returns the first
  // bad batch's offset and position, if any.
  absl::StatusOr<std::optional<std::pair<Offset, int64_t>>> Verify();

  // ---- Facts ----
  Offset base_offset() const { return base_; }
  const std::string& log_path() const { return log_path_; }
  std::string index_path() const;
  std::string time_index_path() const;
  int64_t size_bytes() const { return size_.load(std::memory_order_acquire); }
  Offset next_offset() const { return Offset(next_offset_.load(std::memory_order_acquire)); }
  int64_t max_timestamp() const { return max_timestamp_.load(std::memory_order_acquire); }
  Offset max_timestamp_offset() const;
  // The time segment.ms counts from: the first batch's max timestamp, or the creation time.
  int64_t rolling_timestamp_ms() const { return rolling_timestamp_ms_.load(); }
  bool sealed() const { return sealed_.load(); }
  bool IndexFull(int64_t segment_index_bytes) const;
  // Whether offsets up to `last` can be indexed relative to the base (31 bits).
  bool CanHold(Offset last) const;

  // ---- Resources ----
  void set_budget(OpenSegmentBudget* budget) { budget_ = budget; }
  // Drops the open file and indexes of a sealed segment (reloaded on next use).
  void ReleaseResources();

 private:
  Segment(Filesystem& fs, std::string dir, Offset base, int32_t index_interval_bytes);

  // The open file, loading it (and the indexes) first for a lazily opened segment.
  absl::StatusOr<std::shared_ptr<File>> Acquire();
  absl::Status LoadIndexesLocked(File& file) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RebuildIndexesLocked(File& file) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The position to start scanning from for `target` (index floor or the read hint).
  int64_t StartPosition(Offset target) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::optional<BatchLocation>> FindBatchIn(File& file, Offset target,
                                                           int64_t limit);
  absl::StatusOr<record::RecordBatchHeader> ReadHeader(File& file, int64_t position, int64_t limit,
                                                       Offset floor);
  absl::StatusOr<SegmentScan> Scan(
      File& file, absl::FunctionRef<void(const record::RecordBatchHeader&, int64_t)> fn);
  void ResetIndexesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void IndexBatchLocked(const BatchPlacement& b, int64_t position)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecomputeTailLocked(File& file) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Serializes both indexes (under mu_) and writes them atomically (outside it).
  absl::Status PersistIndexes() ABSL_LOCKS_EXCLUDED(mu_);
  int64_t DamagedLimit() const;
  absl::Status EnsureAllocated(File& file, int64_t end);
  absl::Status DamagedError(Offset offset) const;

  Filesystem& fs_;
  const std::string dir_;
  const Offset base_;
  const int32_t index_interval_bytes_;
  std::string log_path_;
  OpenSegmentBudget* budget_ = nullptr;

  std::atomic<int64_t> size_{0};
  std::atomic<int64_t> next_offset_;
  std::atomic<int64_t> max_timestamp_{record::kNoTimestamp};
  std::atomic<int64_t> rolling_timestamp_ms_{record::kNoTimestamp};
  std::atomic<bool> sealed_{false};
  std::atomic<int64_t> damaged_position_{-1};
  // Bytes from position 0 whose batches passed a CRC check since the segment was opened: at
  // append (validation), in a recovery scan, or in an earlier verifying read. Reads check the
  // CRC of batches beyond it only, so each byte is checked once rather than on every read.
  std::atomic<int64_t> verified_bytes_{0};

  mutable absl::Mutex mu_;
  std::shared_ptr<File> file_ ABSL_GUARDED_BY(mu_);
  bool indexes_loaded_ ABSL_GUARDED_BY(mu_) = false;
  OffsetIndex offset_index_ ABSL_GUARDED_BY(mu_);
  TimeIndex time_index_ ABSL_GUARDED_BY(mu_);
  Offset max_timestamp_offset_ ABSL_GUARDED_BY(mu_);
  int64_t bytes_since_index_entry_ ABSL_GUARDED_BY(mu_) = 0;
  // A sequential reader's next read usually starts where its last one ended.
  Offset hint_offset_ ABSL_GUARDED_BY(mu_){-1};
  int64_t hint_position_ ABSL_GUARDED_BY(mu_) = 0;
  Offset damaged_offset_ ABSL_GUARDED_BY(mu_){0};
  std::string damaged_reason_ ABSL_GUARDED_BY(mu_);
  // Preallocation (active segment only).
  bool preallocate_ = false;
  int64_t preallocate_chunk_bytes_ = 0;
  int64_t allocated_bytes_ = 0;
};

}  // namespace strand::storage
