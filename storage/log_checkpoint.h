#pragma once

// LogCheckpoint: the small per-log state file ("log.checkpoint") that tells recovery where to
// start and what the broker last knew, written atomically (write-tmp, fsync, rename, fsync dir):
//
//   strand-log-checkpoint 1
//   recovery_point 1200        every segment below the one holding it is fsynced and indexed
//   log_start_offset 40        advanced by retention and DeleteRecords
//   high_watermark 1180        set by the broker, persisted lazily (as Kafka's
//                              replication-offset-checkpoint is)
//   cleaner_offset 900         the first offset the log cleaner has not compacted yet
//   clean_shutdown 1 1250 1200 123456   when 1: log end offset, active segment base and size
//                                       at a clean close (recovery can skip the scan)
//   crc32c 1a2b3c4d            over all the lines above
//
// Pure: Serialize/Parse only; the Log writes it.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/ids.h"

namespace strand::storage {

struct LogCheckpoint {
  Offset recovery_point{0};
  Offset log_start_offset{0};
  Offset high_watermark{0};
  Offset cleaner_offset{0};
  bool clean_shutdown = false;
  Offset clean_log_end_offset{0};
  Offset clean_active_base{0};
  int64_t clean_active_size = 0;

  std::string Serialize() const;
  // Fails with Errc::kCorruptLog when the text is damaged (bad CRC, missing or malformed lines).
  static absl::StatusOr<LogCheckpoint> Parse(std::string_view text);
};

}  // namespace strand::storage
