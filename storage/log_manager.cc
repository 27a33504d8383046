#include "storage/log_manager.h"

#include <fmt/format.h>

#include <atomic>
#include <charconv>
#include <random>

#include "common/thread_name.h"
#include "storage/errc.h"
#include "storage/logger.h"
#include "storage/partition_metadata.h"

namespace strand::storage {
namespace {

constexpr std::string_view kDeleteSuffix = "-delete";
constexpr std::string_view kStraySuffix = "-stray";
constexpr size_t kDirNameBytesMax = 255;  // NAME_MAX on every Linux file system we run on

// 32 hex digits, as the dashless UUID Kafka puts in its marker names.
std::string UniqueId() {
  static std::mutex mu;
  static std::mt19937_64 random{std::random_device{}()};
  std::lock_guard lock(mu);
  return fmt::format("{:016x}{:016x}", random(), random());
}

// Kafka's legal topic characters, so that a directory name round-trips.
bool ValidTopic(std::string_view topic) {
  if (topic.empty() || topic.size() > 249 || topic == "." || topic == "..") return false;
  return std::all_of(topic.begin(), topic.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

}  // namespace

std::string TopicPartition::DirName() const { return fmt::format("{}-{}", topic, partition); }

std::string TopicPartition::MarkedDirName(std::string_view unique, std::string_view suffix) const {
  const std::string tail = fmt::format("-{}.{}{}", partition, unique, suffix);
  const size_t keep = std::min(topic.size(), kDirNameBytesMax - tail.size());
  return topic.substr(0, keep) + tail;
}

std::optional<TopicPartition> TopicPartition::FromDirName(std::string_view name) {
  size_t dash = name.rfind('-');
  if (dash == std::string_view::npos || dash == 0) return std::nullopt;
  std::string_view number = name.substr(dash + 1);
  int32_t partition = 0;
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), partition);
  if (ec != std::errc() || ptr != number.data() + number.size() || partition < 0) {
    return std::nullopt;
  }
  TopicPartition tp{std::string(name.substr(0, dash)), partition};
  if (!ValidTopic(tp.topic)) return std::nullopt;
  return tp;
}

LogManager::LogManager(const LogManagerConfig& config, const LogConfig& default_log_config,
                       LogManagerOptions options)
    : config_(config),
      default_log_config_(default_log_config),
      options_(std::move(options)),
      fs_(options_.fs ? *options_.fs : PosixFilesystem()),
      clock_(options_.clock ? *options_.clock : SystemClock::Instance()),
      probe_(options_.registry),
      budget_(config.open_segments_max),
      descriptors_(config.file_descriptors_reserve, clock_),
      flusher_(config.flush_threads),
      cleaner_(config.cleaner_dedupe_buffer_bytes, clock_) {}

absl::StatusOr<std::unique_ptr<LogManager>> LogManager::Open(const LogManagerConfig& config,
                                                             const LogConfig& default_log_config,
                                                             LogManagerOptions options) {
  STRAND_RETURN_IF_ERROR(config.Validate());
  STRAND_RETURN_IF_ERROR(default_log_config.Validate());
  std::unique_ptr<LogManager> manager(
      new LogManager(config, default_log_config, std::move(options)));
  STRAND_RETURN_IF_ERROR(manager->fs_.CreateDirectories(config.data_dir));
  auto lock = manager->fs_.Lock(JoinPath(config.data_dir, ".lock"));
  if (!lock.ok()) return lock.status();
  manager->lock_ = std::move(*lock);
  STRAND_RETURN_IF_ERROR(manager->Recover());
  if (manager->options_.background_threads) {
    manager->threads_.push_back(
        NamedThread("log-scheduler", [m = manager.get()] { m->SchedulerLoop(); }));
    manager->threads_.push_back(
        NamedThread("log-deleter", [m = manager.get()] { m->DeleterLoop(); }));
    for (int32_t i = 0; i < config.cleaner_threads; ++i) {
      manager->threads_.push_back(
          NamedThread("log-cleaner", [m = manager.get()] { m->CleanerLoop(); }));
    }
  }
  return manager;
}

LogManager::~LogManager() { Shutdown(); }

LogOptions LogManager::OptionsFor(const TopicPartition& tp) {
  LogOptions o;
  o.fs = &fs_;
  o.clock = &clock_;
  o.flusher = &flusher_;
  o.probe = &probe_;
  o.budget = &budget_;
  o.name = tp.DirName();
  return o;
}

absl::Status LogManager::Recover() {
  int64_t started_us = clock_.NowMonotonicUs();
  ContextLogger log("log-manager");
  auto names = fs_.List(config_.data_dir);
  if (!names.ok()) return names.status();
  std::vector<TopicPartition> found;
  for (const std::string& name : *names) {
    std::string path = JoinPath(config_.data_dir, name);
    auto is_dir = fs_.IsDirectory(path);
    if (!is_dir.ok() || !*is_dir) continue;
    if (name.ends_with(kDeleteSuffix)) {
      STRAND_RETURN_IF_ERROR(fs_.RemoveAll(path));  // deleted before the last shutdown
      ++startup_.deleted_dirs_removed;
    } else if (name.ends_with(kStraySuffix)) {
      strays_.push_back(path);
      log.Warn("{} is a stray log directory (set aside, never served); remove it once it is "
               "not needed",
               path);
    } else if (auto tp = TopicPartition::FromDirName(name)) {
      found.push_back(*tp);
    } else {
      log.Warn("ignoring {}: not a <topic>-<partition> directory", path);
    }
  }
  if (static_cast<int64_t>(found.size()) > config_.logs_max) {
    // Opened all the same (they hold data); no new log is created until there are fewer.
    log.Warn("{} logs in {} exceed logs_max = {}: no new log will be created until some go",
             found.size(), config_.data_dir, config_.logs_max);
  }
  // Open them in parallel. A log that fails to open stays where it is, closed: the broker
  // asks for it again (GetOrCreateLog), gets the error and reports the replica offline.
  std::atomic<size_t> next{0};
  std::mutex results_mu;
  auto worker = [&] {
    for (size_t i = next++; i < found.size(); i = next++) {
      const TopicPartition& tp = found[i];
      const std::string dir = JoinPath(config_.data_dir, tp.DirName());
      LogConfig config = options_.config_for ? options_.config_for(tp) : default_log_config_;
      auto topic_id = ReadPartitionMetadata(fs_, dir);
      auto opened = topic_id.ok() ? Log::Open(dir, config, OptionsFor(tp))
                                  : absl::StatusOr<std::shared_ptr<Log>>(topic_id.status());
      std::lock_guard lock(results_mu);
      if (!opened.ok()) {
        ++startup_.failed;
        log.Error("cannot open the log in {}: {}", dir, MessageOf(opened.status()));
        continue;
      }
      topic_ids_[tp] = *topic_id;
      const RecoveryReport& r = (*opened)->recovery_report();
      startup_.clean += r.clean_shutdown ? 1 : 0;
      startup_.cut += r.cut ? 1 : 0;
      logs_[tp] = std::move(*opened);
    }
  };
  std::vector<std::thread> workers;
  int32_t count = std::min<int32_t>(config_.recovery_threads, static_cast<int32_t>(found.size()));
  for (int32_t i = 0; i < count; ++i) workers.emplace_back(worker);
  for (auto& w : workers) w.join();
  startup_.strays = static_cast<int32_t>(strays_.size());
  probe_.SetStrays(startup_.strays);
  startup_.logs = static_cast<int32_t>(logs_.size());
  startup_.duration_us = clock_.NowMonotonicUs() - started_us;
  probe_.LogsChanged(startup_.logs);
  log.Info("opened {} logs ({} clean, {} cut, {} failed; {} strays) in {} ms", startup_.logs,
           startup_.clean, startup_.cut, startup_.failed, startup_.strays,
           startup_.duration_us / 1000);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Log>> LogManager::GetOrCreateLog(const TopicPartition& tp,
                                                                const std::string& topic_id,
                                                                std::optional<LogConfig> config) {
  if (!ValidTopic(tp.topic) || tp.partition < 0) {
    return StorageError(
        Errc::kInvalidArgument,
        fmt::format("'{}' partition {} is not a valid topic partition", tp.topic, tp.partition));
  }
  if (topic_id.empty()) {
    return StorageError(Errc::kInvalidArgument,
                        fmt::format("a log of {} needs a topic id", tp.DirName()));
  }
  std::lock_guard lock(mu_);
  if (stopping_) return StorageError(Errc::kLogClosed, "the log manager is shut down");
  if (undeleted_.contains(tp)) {
    // The directory still holds a deleted log: it must never be adopted.
    if (absl::Status s = MoveToDeletedLocked(tp); !s.ok()) {
      return StorageError(Errc::kIoError,
                          fmt::format("{} holds a deleted log that cannot be moved away ({}); "
                                      "it is not reused",
                                      tp.DirName(), MessageOf(s)));
    }
  }
  if (auto it = logs_.find(tp); it != logs_.end()) {
    const std::string& recorded = topic_ids_[tp];
    if (recorded == topic_id) return it->second;
    if (recorded.empty() && it->second->LogEndOffset() > Offset(0)) {
      return NoTopicIdError(it->second->dir());
    }
    STRAND_RETURN_IF_ERROR(MoveAsideAsStrayLocked(
        tp, recorded.empty() ? std::string("it records no topic id and holds no data")
                             : fmt::format("it belongs to topic id {}", recorded)));
  }
  if (static_cast<int64_t>(logs_.size()) >= config_.logs_max) {
    return StorageError(Errc::kLimitExceeded,
                        fmt::format("logs_max = {} logs already open", config_.logs_max));
  }
  const std::string dir = JoinPath(config_.data_dir, tp.DirName());
  auto exists = fs_.Exists(dir);
  if (!exists.ok()) return exists.status();
  bool adopt = false;
  if (*exists) {
    // On disk but not open: it failed to open at start-up, or was left behind.
    auto recorded = ReadPartitionMetadata(fs_, dir);
    if (!recorded.ok()) return recorded.status();
    adopt = *recorded == topic_id;
    if (!adopt && recorded->empty()) {
      auto data = HoldsData(dir);
      if (!data.ok()) return data.status();
      if (*data) return NoTopicIdError(dir);
    }
    if (!adopt) {
      STRAND_RETURN_IF_ERROR(MoveAsideAsStrayLocked(
          tp, fmt::format("expected topic id {}, found '{}'", topic_id, *recorded)));
    }
  }
  if (absl::Status room = descriptors_.CheckRoom(DescriptorBudget::kLogDescriptors); !room.ok()) {
    probe_.OnDescriptorRefusal();
    return room;
  }
  if (!adopt) {
    // The id is durable before any data: a directory without it is never adopted.
    STRAND_RETURN_IF_ERROR(fs_.CreateDirectories(dir));
    STRAND_RETURN_IF_ERROR(WritePartitionMetadata(fs_, dir, topic_id));
    STRAND_RETURN_IF_ERROR(fs_.SyncDirectory(config_.data_dir));
  }
  auto opened = Log::Open(dir, config.value_or(default_log_config_), OptionsFor(tp));
  if (!opened.ok()) return opened.status();
  logs_[tp] = *opened;
  topic_ids_[tp] = topic_id;
  probe_.LogsChanged(1);
  return *opened;
}

absl::Status LogManager::NoTopicIdError(const std::string& dir) {
  // Neither adopted (it may belong to another topic) nor replaced (it may hold the only copy of
  // committed records): the replica stays offline until an operator decides.
  return StorageError(Errc::kCorruptLog,
                      fmt::format("{} holds data but its partition.metadata names no topic id: "
                                  "it is neither adopted nor replaced; write the right topic id "
                                  "into it, or move the directory away",
                                  dir));
}

absl::StatusOr<bool> LogManager::HoldsData(const std::string& dir) {
  auto names = fs_.List(dir);
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    if (!name.ends_with(".log")) continue;
    auto size = fs_.FileSize(JoinPath(dir, name));
    if (!size.ok()) return size.status();
    if (*size > 0) return true;
  }
  return false;
}

absl::StatusOr<std::string> LogManager::MarkDir(const TopicPartition& tp, const std::string& dir,
                                                std::string_view suffix) {
  const std::string to = JoinPath(config_.data_dir, tp.MarkedDirName(UniqueId(), suffix));
  STRAND_RETURN_IF_ERROR(fs_.Rename(dir, to));
  // The rename happened: a failed fsync of the directory only means it may not survive a crash
  // (the directory is then found under its old name and handled again), not that it failed.
  if (absl::Status s = fs_.SyncDirectory(config_.data_dir); !s.ok()) {
    ContextLogger(tp.DirName()).Warn("renamed to {}, but syncing {} failed: {}", to,
                                     config_.data_dir, MessageOf(s));
  }
  return to;
}

absl::Status LogManager::MoveAsideAsStrayLocked(const TopicPartition& tp, const std::string& why) {
  auto it = logs_.find(tp);
  if (it != logs_.end()) {
    std::shared_ptr<Log> log = std::move(it->second);
    logs_.erase(it);
    topic_ids_.erase(tp);
    tombstone_horizons_.erase(log.get());
    probe_.LogsChanged(-1);
    (void)log->Close();
  }
  auto marked = MarkDir(tp, JoinPath(config_.data_dir, tp.DirName()), kStraySuffix);
  if (!marked.ok()) return marked.status();
  strays_.push_back(*marked);
  probe_.SetStrays(static_cast<int64_t>(strays_.size()));
  ContextLogger(tp.DirName())
      .Warn("set aside as stray {} ({}); kept for the operator, never served", *marked, why);
  return absl::OkStatus();
}

std::string LogManager::TopicIdOf(const TopicPartition& tp) const {
  std::lock_guard lock(mu_);
  auto it = topic_ids_.find(tp);
  return it == topic_ids_.end() ? std::string() : it->second;
}

std::vector<std::string> LogManager::Strays() const {
  std::lock_guard lock(mu_);
  return strays_;
}

std::shared_ptr<Log> LogManager::GetLog(const TopicPartition& tp) const {
  std::lock_guard lock(mu_);
  auto it = logs_.find(tp);
  return it == logs_.end() ? nullptr : it->second;
}

absl::Status LogManager::ProbeSpace(int64_t bytes) {
  const std::string path = JoinPath(config_.data_dir, ".space-probe");
  absl::Status written = [&]() -> absl::Status {
    auto file = fs_.Open(path, OpenMode::kCreateTruncate);
    if (!file.ok()) return file.status();
    const std::vector<uint8_t> chunk(64 << 10, 0);
    for (int64_t at = 0; at < bytes; at += static_cast<int64_t>(chunk.size())) {
      const size_t n = static_cast<size_t>(std::min<int64_t>(bytes - at, chunk.size()));
      STRAND_RETURN_IF_ERROR((*file)->WriteAt(at, std::span(chunk).first(n)));
    }
    return (*file)->Sync();
  }();
  absl::Status removed = fs_.Remove(path);
  return written.ok() ? removed : written;
}

absl::Status LogManager::DeleteLog(const TopicPartition& tp) {
  std::shared_ptr<Log> log;
  {
    std::lock_guard lock(mu_);
    auto it = logs_.find(tp);
    if (it == logs_.end()) {
      return StorageError(Errc::kLogNotFound, fmt::format("no log for {}", tp.DirName()));
    }
    log = std::move(it->second);
    logs_.erase(it);
    topic_ids_.erase(tp);
    tombstone_horizons_.erase(log.get());
  }
  probe_.LogsChanged(-1);
  (void)log->Close();  // errors do not matter: the data is going
  std::lock_guard lock(mu_);
  absl::Status moved = MoveToDeletedLocked(tp);
  if (!moved.ok()) {
    ContextLogger(tp.DirName())
        .Error("deleted, but its directory could not be moved away: {}; retrying, and the "
               "directory is not reused meanwhile",
               MessageOf(moved));
  }
  return moved;
}

absl::Status LogManager::MoveToDeletedLocked(const TopicPartition& tp) {
  const std::string dir = JoinPath(config_.data_dir, tp.DirName());
  auto exists = fs_.Exists(dir);
  if (exists.ok() && !*exists) {  // gone already (removed by hand): nothing left to move
    undeleted_.erase(tp);
    return absl::OkStatus();
  }
  auto marked = MarkDir(tp, dir, kDeleteSuffix);
  if (!marked.ok()) {
    undeleted_.insert(tp);  // not reused until a retry succeeds
    return marked.status();
  }
  undeleted_.erase(tp);
  deleted_dirs_.emplace_back(*marked, clock_.NowWallMs() + config_.log_delete_delay_ms);
  return absl::OkStatus();
}

std::vector<TopicPartition> LogManager::Logs() const {
  std::lock_guard lock(mu_);
  std::vector<TopicPartition> out;
  for (const auto& [tp, log] : logs_) out.push_back(tp);
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status LogManager::UpdateLogConfig(const TopicPartition& tp, const LogConfig& config) {
  std::shared_ptr<Log> log = GetLog(tp);
  if (!log) return StorageError(Errc::kLogNotFound, fmt::format("no log for {}", tp.DirName()));
  return log->UpdateConfig(config);
}

std::vector<std::shared_ptr<Log>> LogManager::Snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Log>> out;
  out.reserve(logs_.size());
  for (const auto& [tp, log] : logs_) out.push_back(log);
  return out;
}

void LogManager::RunRetentionOnce() {
  int64_t now = clock_.NowWallMs();
  for (const auto& log : Snapshot()) {
    auto result = log->ApplyRetention(now);
    if (!result.ok() && StorageErrcOf(result.status()) != Errc::kLogClosed) {
      ContextLogger(log->name()).Warn("retention: {}", MessageOf(result.status()));
    }
  }
}

void LogManager::RunTimedWorkOnce() {
  int64_t now = clock_.NowWallMs();
  for (const auto& log : Snapshot()) {
    log->MaybeScheduleTimedFlush(now);
  }
}

void LogManager::CheckpointAll() {
  for (const auto& log : Snapshot()) {
    absl::Status s = log->Checkpoint();
    if (!s.ok()) ContextLogger(log->name()).Warn("checkpoint: {}", MessageOf(s));
  }
}

bool LogManager::RunCleanerOnce() {
  int64_t now = clock_.NowWallMs();
  std::shared_ptr<Log> chosen;
  bool force = false;
  {
    // The dirtiest due log not being cleaned, or one whose tombstones may now go.
    double best = -1;
    std::lock_guard lock(mu_);
    for (const auto& [tp, log] : logs_) {
      if (cleaning_.contains(log.get())) continue;
      LogConfig c = log->config();
      if (!Compacts(c.cleanup_policy)) continue;
      auto horizon = tombstone_horizons_.find(log.get());
      bool tombstones_due = horizon != tombstone_horizons_.end() && now >= horizon->second;
      auto ratio = LogCleaner::DirtyRatio(*log, now);
      double r = ratio.value_or(0);
      if ((r >= c.min_cleanable_dirty_ratio && r > 0) || tombstones_due) {
        if (r > best || tombstones_due) {
          best = r;
          chosen = log;
          force = tombstones_due;
        }
      }
    }
    if (!chosen) return false;
    cleaning_.insert(chosen.get());
  }
  auto stats = cleaner_.Clean(*chosen, force);
  std::lock_guard lock(mu_);
  cleaning_.erase(chosen.get());
  if (!stats.ok()) {
    ContextLogger(chosen->name()).Warn("compaction: {}", MessageOf(stats.status()));
    return false;
  }
  if (stats->next_tombstone_horizon_ms < kNever) {
    tombstone_horizons_[chosen.get()] = stats->next_tombstone_horizon_ms;
  } else {
    tombstone_horizons_.erase(chosen.get());
  }
  return stats->cleaned;
}

void LogManager::RemoveDeletedDirs(bool all) {
  int64_t now = clock_.NowWallMs();
  std::vector<std::string> due;
  {
    std::lock_guard lock(mu_);
    const std::vector<TopicPartition> retry(undeleted_.begin(), undeleted_.end());
    for (const TopicPartition& tp : retry) (void)MoveToDeletedLocked(tp);
    std::erase_if(deleted_dirs_, [&](const auto& d) {
      if (!all && d.second > now) return false;
      due.push_back(d.first);
      return true;
    });
  }
  for (const auto& dir : due) {
    absl::Status s = RemoveGradually(fs_, dir, pace_);
    if (!s.ok()) ContextLogger("log-manager").Warn("removing {}: {}", dir, MessageOf(s));
  }
}

void LogManager::EveryInterval(const std::function<void()>& work) {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::milliseconds(config_.flush_check_interval_ms));
    if (stopping_) break;
    lock.unlock();
    work();
    lock.lock();
  }
}

void LogManager::SchedulerLoop() {
  int64_t next_retention = clock_.NowMonotonicMs() + config_.retention_check_interval_ms;
  int64_t next_checkpoint = clock_.NowMonotonicMs() + config_.checkpoint_interval_ms;
  EveryInterval([&] {
    int64_t now = clock_.NowMonotonicMs();
    RunTimedWorkOnce();
    const DescriptorUsage fds = descriptors_.Usage();
    probe_.SetDescriptors(fds.open, fds.limit, fds.reserve);
    if (now >= next_retention) {
      RunRetentionOnce();
      next_retention = now + config_.retention_check_interval_ms;
    }
    if (now >= next_checkpoint) {
      CheckpointAll();
      next_checkpoint = now + config_.checkpoint_interval_ms;
    }
  });
}

void LogManager::DeleterLoop() {
  EveryInterval([this] {
    const int64_t now = clock_.NowWallMs();
    for (const auto& log : Snapshot()) log->RemoveDeletedSegmentFiles(now, /*all=*/false, pace_);
    RemoveDeletedDirs(false);
  });
}

void LogManager::CleanerLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    bool worked = RunCleanerOnce();
    lock.lock();
    if (!worked && !stopping_) {
      wake_.wait_for(lock, std::chrono::milliseconds(config_.cleaner_backoff_ms));
    }
  }
}

void LogManager::Shutdown() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty() && logs_.empty()) return;
    stopping_ = true;
    hurry_ = true;  // a removal in progress finishes without its pauses
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  std::vector<std::shared_ptr<Log>> logs = Snapshot();
  for (const auto& log : logs) {
    absl::Status s = log->Close();
    if (!s.ok()) ContextLogger(log->name()).Warn("close: {}", MessageOf(s));
  }
  flusher_.Stop();
  {
    std::lock_guard lock(mu_);
    probe_.LogsChanged(-static_cast<int64_t>(logs_.size()));
    logs_.clear();
    topic_ids_.clear();
  }
}

}  // namespace strand::storage
