#pragma once

// Retention decisions, as pure functions over a log's segment facts: which of the oldest
// segments retention.ms, retention.bytes and the log start offset allow deleting. Deletion
// always takes whole segments from the front, never the active (last) one. The Log applies
// the decision; keeping it pure makes the rules testable on their own.

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/ids.h"
#include "storage/log_config.h"

namespace strand::storage {

struct SegmentFacts {
  Offset base_offset;
  Offset next_offset;  // one past the segment's last offset (the next segment's base)
  int64_t size_bytes;
  int64_t max_timestamp;  // -1 when the segment has no timestamps
};

enum class RetentionReason { kNone, kBelowLogStart, kTime, kSize };

struct RetentionDecision {
  size_t segments = 0;                              // how many of the oldest segments to delete
  RetentionReason reason = RetentionReason::kNone;  // why the last of them goes
};

// The oldest segments may go while each one (a) lies wholly below the log start offset, or,
// when the cleanup policy deletes, (b) holds only records older than retention.ms, or (c) must
// go for the rest of the log to fit retention.bytes — and, for (b) and (c), lies wholly below
// the high watermark: retention never deletes a record that is not committed (as Kafka).
RetentionDecision DecideRetention(std::span<const SegmentFacts> segments, const LogConfig& config,
                                  int64_t now_ms, Offset log_start_offset,
                                  Offset high_watermark = Offset(INT64_MAX));

}  // namespace strand::storage
