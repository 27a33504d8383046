#pragma once

// RecoveryReport: what opening a log found and did — whether it shut down cleanly, what it
// scanned, where it cut a torn or corrupt tail (and why, and how much), which indexes it rebuilt
// and which leftovers of interrupted operations it cleaned up. Log::Open logs it and the
// LogManager's probe counts it; operators read it after a crash.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ids.h"

namespace strand::storage {

struct RecoveryCut {
  Offset segment_base{0};        // the segment the cut is in
  int64_t position = 0;          // bytes of that segment kept
  Offset offset{0};              // the first offset no longer in the log
  std::string reason;            // why the scan stopped (CRC mismatch, torn write, ...)
  int64_t bytes_removed = 0;     // from that segment and the ones after it
  int32_t segments_removed = 0;  // later segments deleted entirely
};

struct RecoveryReport {
  bool clean_shutdown = false;
  int32_t segments = 0;
  int32_t segments_scanned = 0;
  int64_t bytes_scanned = 0;
  int64_t batches_scanned = 0;
  Offset recovery_point{0};  // from the checkpoint, before recovery
  Offset log_start_offset{0};
  Offset log_end_offset{0};
  std::optional<RecoveryCut> cut;
  int64_t unwritten_bytes_trimmed = 0;         // preallocated space past the data
  std::vector<std::string> indexes_rebuilt;    // segment file names
  std::vector<std::string> damaged_segments;   // below the recovery point; not served past damage
  std::vector<std::string> leftovers_removed;  // .tmp, .cleaned, .deleted, orphan indexes
  std::vector<std::string> swaps_completed;    // compaction swaps finished after a crash
  std::vector<std::string> warnings;           // e.g. an unreadable checkpoint
  int64_t duration_us = 0;

  std::string ToString() const;
};

}  // namespace strand::storage
