#pragma once

// LogCleaner: log compaction for cleanup.policy=compact (and compact,delete), in the manner of
// Kafka's LogCleaner. One pass over a log:
//   1. Finds the cleanable range: sealed segments below the first uncleanable offset — the
//      active segment's base, the high watermark, and the first segment younger than
//      min.compaction.lag.ms.
//   2. Builds a key -> latest offset map over the dirty part (from the cleaner offset on),
//      bounded by the dedupe buffer; segments that do not fit wait for the next pass.
//   3. Rewrites the cleanable segments from the log start up to the end of the mapped part, in
//      groups that fit one segment, keeping a record when no later record has its key; offsets
//      never change (a batch keeps its base offset and its records their deltas). A batch that
//      keeps all its records is copied byte for byte; one that loses some is rebuilt with the
//      same codec, producer fields and epoch. Tombstones (null values) survive at least
//      delete.retention.ms after the pass that first finds them kept (KIP-534: the batch gets
//      the delete-horizon flag and time) and go in the first pass after that. Records without a
//      key cannot be compacted and are dropped, as Kafka does.
//   4. Swaps each group in crash-safely: the output is written to "<base>.log.cleaned", fsynced,
//      renamed "<base>-<end>.log.swap" (complete from then on: recovery finishes the swap),
//      then, under the log's writer lock for a few renames only, replaces the group's segments.
// Appends never wait for a pass: only closed segments are read and rewritten, and the swap
// aborts if a truncation changed the log meanwhile. Retention and compaction of one log are
// serialized (the log's maintenance lock).
//
// Threading: a LogCleaner is used by one cleaner thread at a time; it holds no state between
// passes besides its configuration.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/byte_buffer.h"
#include "common/clock.h"
#include "storage/log.h"

namespace strand::storage {

struct CleanerStats {
  bool cleaned = false;    // a pass ran (something was cleanable)
  double dirty_ratio = 0;  // dirty / cleanable bytes before the pass
  int64_t bytes_read = 0;
  int64_t bytes_before = 0;  // of the rewritten segments
  int64_t bytes_after = 0;
  int64_t records_removed = 0;
  int64_t tombstones_removed = 0;
  int32_t segments_rewritten = 0;
  int32_t groups_aborted = 0;  // swaps given up because the log changed
  Offset cleaned_up_to{0};     // the new cleaner offset (first offset not compacted)
  // The earliest time at which a retained tombstone may be removed (kNever: none retained).
  int64_t next_tombstone_horizon_ms = kNever;
};

class LogCleaner {
 public:
  LogCleaner(int64_t dedupe_buffer_bytes, Clock& clock)
      : dedupe_buffer_bytes_(dedupe_buffer_bytes), clock_(clock) {}

  // The share of the cleanable bytes that is dirty (not compacted yet); nullopt when the log
  // does not compact or has nothing cleanable.
  static std::optional<double> DirtyRatio(Log& log, int64_t now_ms);

  // One pass when the dirty ratio reaches min.cleanable.dirty.ratio, a dirty segment is older
  // than max.compaction.lag.ms, or `force` (also used when tombstones are due for removal).
  absl::StatusOr<CleanerStats> Clean(Log& log, bool force = false);

 private:
  struct Plan;
  absl::StatusOr<Plan> MakePlan(Log& log, int64_t now_ms);
  // Writes `data` as the replacement of plan.segments[begin, end) and swaps it in; false when
  // the log changed since the plan (the output is discarded).
  absl::StatusOr<bool> SwapIn(Log& log, const Plan& plan, size_t begin, size_t end,
                              const ByteBuffer& data, int64_t* expected_generation);

  const int64_t dedupe_buffer_bytes_;
  Clock& clock_;
};

}  // namespace strand::storage
