#pragma once

// LogLoader: turns a log directory into a consistent set of segments when a Log opens —
// crash recovery lives here. In order:
//   1. Leftovers of interrupted operations go: *.tmp (atomic writes), *.cleaned (compaction
//      output never swapped in), *.deleted (deletions), index files without a log file. A
//      compaction swap that reached "<base>-<end>.log.swap" is completed: the segments it
//      replaces are removed and it takes their place.
//   2. log.checkpoint gives the recovery point (and log start, high watermark, cleaner offset);
//      leader-epoch-checkpoint gives the epoch cache. A missing or damaged one is rebuilt (a
//      full scan, epochs from batch headers) and reported.
//   3. After a clean shutdown (the checkpoint's marker matches the last segment) nothing is
//      scanned. Otherwise every segment from the one holding the recovery point on is scanned:
//      each batch's framing, CRC-32C and offsets are checked, indexes rebuilt, epochs learned;
//      the log is cut at the first torn or corrupt batch and any later segments are deleted.
//      Segments below the recovery point are trusted but their indexes checked cheaply; a
//      missing or damaged index is rebuilt from the log.
//   4. The result is fsynced, and a new checkpoint (not clean) written, before the log serves.
// Single-threaded; used only by Log::Open.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "storage/file.h"
#include "storage/leader_epoch_cache.h"
#include "storage/log_checkpoint.h"
#include "storage/log_config.h"
#include "storage/logger.h"
#include "storage/recovery_report.h"
#include "storage/segment.h"

namespace strand::storage {

struct LoadedLog {
  std::vector<std::shared_ptr<Segment>> segments;  // ascending; the last is active
  LeaderEpochCache epochs;
  Offset log_start_offset{0};
  Offset log_end_offset{0};
  Offset high_watermark{0};
  Offset recovery_point{0};
  Offset cleaner_offset{0};
  RecoveryReport report;
};

class LogLoader {
 public:
  LogLoader(Filesystem& fs, std::string dir, const LogConfig& config, Clock& clock,
            const ContextLogger& log);

  absl::StatusOr<LoadedLog> Load();

  static constexpr std::string_view kCheckpointFile = "log.checkpoint";
  static constexpr std::string_view kEpochCheckpointFile = "leader-epoch-checkpoint";

 private:
  struct Listing {
    std::vector<Offset> segment_bases;
  };
  absl::StatusOr<Listing> CleanAndList();
  absl::Status CompleteSwap(const std::string& name, Offset base, Offset end,
                            const std::vector<std::string>& names);
  void LoadCheckpoints();
  absl::Status OpenSegments(const Listing& listing);
  bool TryCleanOpen();
  absl::Status RecoverFrom(size_t first);
  absl::Status OpenSealedOrRebuild(const std::shared_ptr<Segment>& segment, Offset next_base);
  absl::Status CutAfter(size_t index, const SegmentScan& scan);
  absl::Status RebuildEpochs();
  absl::Status Finish();
  void LearnEpoch(const record::RecordBatchHeader& h);

  Filesystem& fs_;
  const std::string dir_;
  const LogConfig config_;
  Clock& clock_;
  const ContextLogger& log_;
  LoadedLog out_;
  LogCheckpoint checkpoint_;
  bool checkpoint_valid_ = false;
  bool epochs_valid_ = false;
};

}  // namespace strand::storage
