#pragma once

// LogManager: every partition log of one broker under one data directory, as Kafka's
// LogManager. A log lives in "<data_dir>/<topic>-<partition>" (at most 255 bytes: topic names
// have at most 249 characters and partition numbers at most 5 digits), and its
// "partition.metadata" names the topic id it belongs to.
//
// Topic ids: a log is handed out only for the topic id it was created for. A directory whose
// partition.metadata names another id, or none (missing, empty, malformed), is never adopted:
// it is renamed aside as a stray ("<topic>-<partition>.<unique>-stray"), kept for the operator,
// counted (strand_storage_stray_logs) and logged, and a fresh log takes its place. A deleted
// log is renamed "<topic>-<partition>.<unique>-delete" at once, its files removed after
// file.delete.delay.ms; the topic part of both marker names is cut short so that the name fits
// in 255 bytes whatever the topic's length (Kafka's scheme). If that rename fails, the
// directory is not reused until a retry succeeds.
//
// Lifecycle: Open locks the data directory (".lock"), removes logs left deleted, and opens and
// recovers every log in parallel (recovery_threads); a log that fails to open is reported
// (StartupReport::failed) and left in place — GetOrCreateLog tries it again and fails with its
// error rather than creating an empty log over data. Then it starts the background work:
//   - the group-commit flushers (flush_threads),
//   - one scheduler thread: retention every retention_check_interval_ms, flush.ms-driven
//     flushes, and checkpoints (recovery points, log starts, high watermarks) every
//     checkpoint_interval_ms,
//   - one deleter thread: the files of removed segments and deleted logs once
//     file.delete.delay.ms has passed, a few MiB at a time (RemoveGradually),
//   - cleaner threads (cleaner_threads) compacting the dirtiest compacted log each round.
// Shutdown (or the destructor) stops them and closes every log cleanly, so that the next Open
// scans nothing.
//
// Threading: all methods are thread-safe. Logs are handed out as shared_ptr and stay usable
// until DeleteLog or Shutdown closes them (operations then fail with Errc::kLogClosed).
// Limits: logs_max logs, open_segments_max sealed segments with open files, and a reserve of
// file descriptors that logs may not use (DescriptorBudget).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "storage/descriptor_budget.h"
#include "storage/file.h"
#include "storage/flusher.h"
#include "storage/log.h"
#include "storage/log_cleaner.h"
#include "storage/log_config.h"
#include "storage/probe.h"
#include "storage/segment_budget.h"

namespace strand::storage {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;

  // "<topic>-<partition>", the log's directory name.
  std::string DirName() const;
  // A directory name for this log set aside with `suffix` ("-delete", "-stray"):
  // "<topic>-<partition>.<unique><suffix>", the topic cut short to fit in 255 bytes.
  std::string MarkedDirName(std::string_view unique, std::string_view suffix) const;
  static std::optional<TopicPartition> FromDirName(std::string_view name);
  bool operator==(const TopicPartition&) const = default;
  auto operator<=>(const TopicPartition&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const TopicPartition& tp) {
    return H::combine(std::move(h), tp.topic, tp.partition);
  }
};

struct LogManagerOptions {
  Filesystem* fs = nullptr;                        // default: PosixFilesystem()
  Clock* clock = nullptr;                          // default: SystemClock
  std::shared_ptr<prometheus::Registry> registry;  // default: a private one
  // The config of an existing log found at start-up (topic overrides live in the metadata, not
  // here); default: the default config.
  std::function<LogConfig(const TopicPartition&)> config_for;
  // Background threads (flushers always run); tests drive the rest by hand when false.
  bool background_threads = true;
};

struct StartupReport {
  int32_t logs = 0;
  int32_t clean = 0;  // opened without a scan
  int32_t cut = 0;    // had a torn or corrupt tail cut
  int32_t deleted_dirs_removed = 0;
  int32_t strays = 0;  // "-stray" directories found (kept)
  int32_t failed = 0;  // logs that could not be opened (left in place)
  int64_t duration_us = 0;
};

class LogManager {
 public:
  static absl::StatusOr<std::unique_ptr<LogManager>> Open(const LogManagerConfig& config,
                                                          const LogConfig& default_log_config,
                                                          LogManagerOptions options);
  ~LogManager();
  LogManager(const LogManager&) = delete;
  LogManager& operator=(const LogManager&) = delete;

  // The log of `tp` for topic id `topic_id` (opaque, not empty), created with `config`
  // (default: the default config) if it does not exist. A log or directory of `tp` that belongs
  // to another topic id (or to none) is moved aside as a stray first. Fails with kLimitExceeded
  // past logs_max or the descriptor budget, and with the open error of a log that exists but
  // cannot be opened.
  absl::StatusOr<std::shared_ptr<Log>> GetOrCreateLog(const TopicPartition& tp,
                                                      const std::string& topic_id,
                                                      std::optional<LogConfig> config = {});
  std::shared_ptr<Log> GetLog(const TopicPartition& tp) const;
  // The topic id recorded for an open log ("" when none).
  std::string TopicIdOf(const TopicPartition& tp) const;
  // Closes the log and removes its directory (renamed "<dir>.<ms>-delete" at once, its files
  // removed after file.delete.delay.ms).
  absl::Status DeleteLog(const TopicPartition& tp);
  std::vector<TopicPartition> Logs() const;
  // Paths of the directories set aside as strays.
  std::vector<std::string> Strays() const;
  DescriptorBudget& descriptors() { return descriptors_; }
  // Whether `bytes` fit on the logs' disk now: writes a file of that size in data_dir, fsyncs and
  // removes it (".space-probe", which start-up ignores). Kept off the logs themselves, so that a
  // broker waiting for a full disk to drain can tell when it may lead again.
  absl::Status ProbeSpace(int64_t bytes);
  absl::Status UpdateLogConfig(const TopicPartition& tp, const LogConfig& config);

  const StartupReport& startup_report() const { return startup_; }
  StorageProbe& probe() { return probe_; }
  const LogManagerConfig& config() const { return config_; }
  // Sealed segments currently holding an open file (bounded by open_segments_max).
  int32_t open_segments() const { return budget_.open_count(); }

  // One round of each background task (what the threads run; tests call them directly).
  void RunRetentionOnce();
  // Every second, for every log: flush.ms flushes that are due.
  void RunTimedWorkOnce();
  void CheckpointAll();
  // Compacts the dirtiest compacted log that is due; returns whether a pass ran.
  bool RunCleanerOnce();
  // Removes deleted logs' files that are due (all of them when `all`), and retries the renames
  // of deleted logs that failed.
  void RemoveDeletedDirs(bool all);

  // Stops background work and closes every log cleanly. Idempotent.
  void Shutdown();

 private:
  LogManager(const LogManagerConfig& config, const LogConfig& default_log_config,
             LogManagerOptions options);
  absl::Status Recover();
  LogOptions OptionsFor(const TopicPartition& tp);
  // Runs `work` every flush_check_interval_ms (without mu_ held) until Shutdown.
  void EveryInterval(const std::function<void()>& work);
  void SchedulerLoop();
  void CleanerLoop();
  // Every second: removed segments' and deleted logs' files whose file.delete.delay.ms has
  // passed, freed gradually (RemoveGradually) so that the fsyncs of other logs do not stall.
  void DeleterLoop();
  std::vector<std::shared_ptr<Log>> Snapshot() const;
  // The error for a directory that holds data but records no topic id.
  static absl::Status NoTopicIdError(const std::string& dir);
  // Whether a log directory holds any record bytes.
  absl::StatusOr<bool> HoldsData(const std::string& dir);
  // Renames `dir` (of `tp`) aside with `suffix`; returns the new path.
  absl::StatusOr<std::string> MarkDir(const TopicPartition& tp, const std::string& dir,
                                      std::string_view suffix);
  // Closes the open log of `tp` (if any) and moves its directory aside as a stray.
  // Called with mu_ held.
  absl::Status MoveAsideAsStrayLocked(const TopicPartition& tp, const std::string& why);
  // Renames the directory of deleted log `tp` to its "-delete" name (its files go after
  // file.delete.delay.ms); if that fails, `tp` stays in undeleted_ until a retry succeeds.
  // Called with mu_ held.
  absl::Status MoveToDeletedLocked(const TopicPartition& tp);

  const LogManagerConfig config_;
  const LogConfig default_log_config_;
  LogManagerOptions options_;
  Filesystem& fs_;
  Clock& clock_;
  StorageProbe probe_;
  OpenSegmentBudget budget_;
  DescriptorBudget descriptors_;
  Flusher flusher_;
  std::unique_ptr<DirectoryLock> lock_;
  StartupReport startup_;
  LogCleaner cleaner_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  absl::flat_hash_map<TopicPartition, std::shared_ptr<Log>> logs_;
  absl::flat_hash_map<TopicPartition, std::string> topic_ids_;  // of the open logs
  // Deleted logs whose rename failed: their directory keeps its name until a retry succeeds,
  // and is not reused meanwhile.
  absl::flat_hash_set<TopicPartition> undeleted_;
  std::vector<std::string> strays_;
  // Renamed directories of deleted logs and when their files go.
  std::vector<std::pair<std::string, int64_t>> deleted_dirs_;
  // When a compacted log's retained tombstones become removable.
  std::map<const Log*, int64_t> tombstone_horizons_;
  std::set<const Log*> cleaning_;  // logs a cleaner thread is compacting

  std::vector<std::thread> threads_;
  std::atomic<bool> hurry_{false};  // shutting down: removals stop pausing
  const RemovalPace pace_{.hurry = [this] { return hurry_.load(); }};
};

}  // namespace strand::storage
