#include "storage/retention.h"

namespace strand::storage {

RetentionDecision DecideRetention(std::span<const SegmentFacts> segments, const LogConfig& config,
                                  int64_t now_ms, Offset log_start_offset,
                                  Offset high_watermark) {
  RetentionDecision decision;
  if (segments.size() <= 1) return decision;
  int64_t total = 0;
  for (const auto& s : segments) total += s.size_bytes;
  bool deletes = Deletes(config.cleanup_policy);
  int64_t remaining = total;
  for (size_t i = 0; i + 1 < segments.size(); ++i) {  // never the active segment
    const SegmentFacts& s = segments[i];
    RetentionReason reason = RetentionReason::kNone;
    if (s.next_offset <= log_start_offset) {
      reason = RetentionReason::kBelowLogStart;
    } else if (s.next_offset > high_watermark) {
      break;  // holds records not yet committed
    } else if (deletes && config.retention_ms >= 0 && s.max_timestamp >= 0 &&
               now_ms - s.max_timestamp > config.retention_ms) {
      reason = RetentionReason::kTime;
    } else if (deletes && config.retention_bytes >= 0 &&
               remaining - s.size_bytes >= config.retention_bytes) {
      reason = RetentionReason::kSize;
    }
    if (reason == RetentionReason::kNone) break;
    remaining -= s.size_bytes;
    decision.segments = i + 1;
    decision.reason = reason;
  }
  return decision;
}

}  // namespace strand::storage
