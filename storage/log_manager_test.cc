// Tests LogManager: logs live in <topic>-<partition> directories, are recovered (in parallel) at
// start-up and closed cleanly at shutdown, deleted logs disappear, limits hold, the data
// directory is locked against a second manager, and the background threads apply retention,
// compaction and flush.ms on their own. Also the probe's metrics are registered. Topic ids: a
// directory whose partition.metadata names another topic id, or none, is set aside as a stray
// and never served; deleting works for the longest legal names; a deleted log whose rename
// failed is never reused; a log that cannot be opened is reported, not replaced by an empty one;
// and log creation stops short of the file-descriptor reserve.
#include "storage/log_manager.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "storage/errc.h"
#include "storage/fault_injecting_filesystem.h"
#include "storage/partition_metadata.h"
#include "storage/testing/test_util.h"

namespace strand::storage {
namespace {

using testing::MakeBatch;
using testing::MakeKeyedBatch;
using testing::TempDir;

constexpr char kId[] = "topic-id-1";

class LogManagerTest : public ::testing::Test {
 protected:
  LogManagerTest() { testing::QuietLogs(); }

  std::unique_ptr<LogManager> Open(LogManagerConfig config = {}, LogConfig defaults = {},
                                   bool threads = false) {
    config.data_dir = dir_.Sub("data");
    LogManagerOptions options;
    options.background_threads = threads;
    auto manager = LogManager::Open(config, defaults, std::move(options));
    EXPECT_TRUE(manager.ok()) << manager.status();
    return manager.ok() ? std::move(*manager) : nullptr;
  }

  static void Append(Log& log, int records, int value_bytes = 100) {
    ByteBuffer batch = MakeBatch(records, value_bytes);
    auto info = log.AppendAsLeader(batch.span(), LeaderEpoch(0));
    ASSERT_TRUE(info.ok()) << info.status();
  }

  // The names of the data directory's entries.
  std::vector<std::string> Entries() {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_.Sub("data"))) {
      out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  TempDir dir_;
};

TEST(TopicPartition, DirectoryNames) {
  EXPECT_EQ((TopicPartition{"orders", 3}).DirName(), "orders-3");
  auto tp = TopicPartition::FromDirName("my-topic.v2-17");
  ASSERT_TRUE(tp.has_value());
  EXPECT_EQ(tp->topic, "my-topic.v2");
  EXPECT_EQ(tp->partition, 17);
  EXPECT_FALSE(TopicPartition::FromDirName("orders").has_value());
  EXPECT_FALSE(TopicPartition::FromDirName("orders-x").has_value());
  EXPECT_FALSE(TopicPartition::FromDirName("-3").has_value());
  EXPECT_FALSE(TopicPartition::FromDirName("bad topic-3").has_value());
}

TEST(TopicPartition, MarkedNamesFitWhateverTheTopicLength) {
  const std::string longest(249, 'x');
  for (int32_t partition : {0, 7, 99'999}) {
    const TopicPartition tp{longest, partition};
    EXPECT_LE(tp.DirName().size(), 255u);
    for (std::string_view suffix : {"-delete", "-stray"}) {
      const std::string name = tp.MarkedDirName("0123456789abcdef0123456789abcdef", suffix);
      EXPECT_LE(name.size(), 255u) << name;
      EXPECT_TRUE(name.ends_with(fmt::format("-{}.0123456789abcdef0123456789abcdef{}", partition,
                                             suffix)))
          << name;
      EXPECT_FALSE(TopicPartition::FromDirName(name).has_value()) << name;
    }
  }
  EXPECT_EQ((TopicPartition{"short", 3}).MarkedDirName("ab", "-delete"), "short-3.ab-delete");
}

TEST_F(LogManagerTest, CreateAppendShutdownReopen) {
  {
    auto manager = Open();
    for (int p = 0; p < 4; ++p) {
      auto log = manager->GetOrCreateLog({"orders", p}, kId);
      ASSERT_TRUE(log.ok()) << log.status();
      Append(**log, p + 1);
    }
    EXPECT_EQ(manager->GetLog({"orders", 2})->LogEndOffset(), Offset(3));
    EXPECT_EQ(manager->GetLog({"missing", 0}), nullptr);
    EXPECT_EQ(*manager->GetOrCreateLog({"orders", 1}, kId), manager->GetLog({"orders", 1}));
    EXPECT_FALSE(manager->GetOrCreateLog({"bad/name", 0}, kId).ok());
    manager->Shutdown();
  }
  auto manager = Open();
  EXPECT_EQ(manager->startup_report().logs, 4);
  EXPECT_EQ(manager->startup_report().clean, 4);
  EXPECT_EQ(manager->Logs().size(), 4u);
  EXPECT_EQ(manager->GetLog({"orders", 3})->LogEndOffset(), Offset(4));
}

TEST_F(LogManagerTest, UncleanShutdownRecoversEveryLog) {
  {
    auto manager = Open({.recovery_threads = 3});
    for (int p = 0; p < 6; ++p) Append(**manager->GetOrCreateLog({"t", p}, kId), 10);
    for (int p = 0; p < 6; ++p) ASSERT_TRUE(manager->GetLog({"t", p})->Flush().ok());
    // No Shutdown: the logs are left as a crash leaves them (the destructor still closes; so
    // copy the directory first, as it was before any close).
    std::filesystem::copy(dir_.Sub("data"), dir_.Sub("crashed"),
                          std::filesystem::copy_options::recursive);
  }
  std::filesystem::remove_all(dir_.Sub("data"));
  std::filesystem::rename(dir_.Sub("crashed"), dir_.Sub("data"));
  std::filesystem::remove(dir_.Sub("data/.lock"));
  auto manager = Open({.recovery_threads = 3});
  EXPECT_EQ(manager->startup_report().logs, 6);
  EXPECT_EQ(manager->startup_report().clean, 0);
  EXPECT_EQ(manager->startup_report().cut, 0);
  for (int p = 0; p < 6; ++p) EXPECT_EQ(manager->GetLog({"t", p})->LogEndOffset(), Offset(10));
}

TEST_F(LogManagerTest, DeleteLogRemovesItsDirectory) {
  auto manager = Open();
  auto log = *manager->GetOrCreateLog({"gone", 0}, kId);
  Append(*log, 3);
  ASSERT_TRUE(manager->DeleteLog({"gone", 0}).ok());
  EXPECT_EQ(manager->GetLog({"gone", 0}), nullptr);
  EXPECT_EQ(StorageErrcOf(log->AppendAsLeader(MakeBatch(1, 1).span(), LeaderEpoch(0)).status()),
            Errc::kLogClosed);
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("data/gone-0")));
  EXPECT_EQ(StorageErrcOf(manager->DeleteLog({"gone", 0})), Errc::kLogNotFound);
  manager->RemoveDeletedDirs(/*all=*/true);
  for (const auto& e : std::filesystem::directory_iterator(dir_.Sub("data"))) {
    EXPECT_EQ(e.path().filename().string().find("gone"), std::string::npos) << e.path();
  }
  // A topic of the same name starts afresh.
  EXPECT_EQ((*manager->GetOrCreateLog({"gone", 0}, kId))->LogEndOffset(), Offset(0));
}

TEST_F(LogManagerTest, DeleterThreadRemovesDeletedLogsOnceTheDelayHasPassed) {
  auto manager = Open({.flush_check_interval_ms = 50, .log_delete_delay_ms = 0}, {},
                      /*threads=*/true);
  Append(**manager->GetOrCreateLog({"gone", 0}, kId), 3);
  ASSERT_TRUE(manager->DeleteLog({"gone", 0}).ok());
  bool left = true;
  for (int i = 0; i < 500 && left; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const auto entries = Entries();
    left = std::any_of(entries.begin(), entries.end(),
                       [](const std::string& e) { return e.find("gone") != std::string::npos; });
  }
  EXPECT_FALSE(left) << "the deleter thread left the deleted log's directory";
  manager->Shutdown();
}

TEST_F(LogManagerTest, LongestNamesDeleteRecreateAndReopen) {
  // 249 characters: "<dir>.<ms>-delete" would pass 255 bytes; the marker name is cut short.
  const std::string name(249, 'q');
  {
    auto manager = Open();
    for (int32_t p : {0, 99'999}) {
      auto log = manager->GetOrCreateLog({name, p}, "old-id");
      ASSERT_TRUE(log.ok()) << log.status();
      Append(**log, 3);
      ASSERT_TRUE(manager->DeleteLog({name, p}).ok());
      EXPECT_FALSE(std::filesystem::exists(dir_.Sub("data/" + TopicPartition{name, p}.DirName())));
      auto fresh = manager->GetOrCreateLog({name, p}, "new-id");
      ASSERT_TRUE(fresh.ok()) << fresh.status();
      EXPECT_EQ((*fresh)->LogEndOffset(), Offset(0));  // nothing of the deleted topic
      Append(**fresh, 1);
    }
    manager->Shutdown();
  }
  auto manager = Open();
  EXPECT_EQ(manager->startup_report().logs, 2);
  EXPECT_EQ(manager->startup_report().failed, 0);
  EXPECT_EQ(manager->startup_report().deleted_dirs_removed, 2);
  for (int32_t p : {0, 99'999}) {
    auto log = manager->GetOrCreateLog({name, p}, "new-id");
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->LogEndOffset(), Offset(1));
  }
}

TEST_F(LogManagerTest, AnotherTopicIdIsSetAsideAsAStray) {
  {
    auto manager = Open();
    Append(**manager->GetOrCreateLog({"reused", 0}, "id-a"), 5);
    manager->Shutdown();
  }
  {
    auto manager = Open();
    EXPECT_EQ(manager->TopicIdOf({"reused", 0}), "id-a");
    // The topic was deleted and re-created while this broker was away: a new id.
    auto log = manager->GetOrCreateLog({"reused", 0}, "id-b");
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->LogEndOffset(), Offset(0));
    ASSERT_EQ(manager->Strays().size(), 1u);
    const std::string stray = manager->Strays()[0];
    EXPECT_TRUE(stray.ends_with("-stray")) << stray;
    // Kept for the operator, with its data and its own id.
    EXPECT_EQ(*ReadPartitionMetadata(PosixFilesystem(), stray), "id-a");
    EXPECT_TRUE(std::filesystem::exists(stray + "/00000000000000000000.log"));
    manager->Shutdown();
  }
  auto manager = Open();
  EXPECT_EQ(manager->startup_report().strays, 1);
  EXPECT_EQ(manager->startup_report().logs, 1);
  EXPECT_EQ(manager->TopicIdOf({"reused", 0}), "id-b");
}

TEST_F(LogManagerTest, MissingOrEmptyPartitionMetadataIsNeverAdopted) {
  {
    auto manager = Open();
    Append(**manager->GetOrCreateLog({"lost", 0}, "id-a"), 5);  // holds data
    ASSERT_TRUE(manager->GetOrCreateLog({"lost", 1}, "id-a").ok());  // holds none
    manager->Shutdown();
  }
  std::filesystem::remove(dir_.Sub("data/lost-0/partition.metadata"));
  std::ofstream(dir_.Sub("data/lost-1/partition.metadata"), std::ios::trunc).flush();
  auto manager = Open();
  // With data and no id: neither adopted nor replaced (it may hold the only copy).
  auto refused = manager->GetOrCreateLog({"lost", 0}, "id-a");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(StorageErrcOf(refused.status()), Errc::kCorruptLog);
  EXPECT_NE(std::string(MessageOf(refused.status())).find("no topic id"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir_.Sub("data/lost-0/00000000000000000000.log")));
  // Without data: set aside, and a fresh log takes its place.
  auto log = manager->GetOrCreateLog({"lost", 1}, "id-a");
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->LogEndOffset(), Offset(0));
  EXPECT_EQ(manager->Strays().size(), 1u);
  EXPECT_EQ(manager->TopicIdOf({"lost", 1}), "id-a");
}

TEST_F(LogManagerTest, AFailedDeleteRenameNeverHandsTheDirectoryOut) {
  FaultInjectingFilesystem disk(PosixFilesystem());
  LogManagerConfig config;
  config.data_dir = dir_.Sub("data");
  LogManagerOptions options;
  options.fs = &disk;
  options.background_threads = false;
  auto manager = *LogManager::Open(config, {}, std::move(options));
  Append(**manager->GetOrCreateLog({"stuck", 0}, "id-a"), 3);
  disk.set_path_filter("stuck-0");
  disk.FailRenames();
  EXPECT_FALSE(manager->DeleteLog({"stuck", 0}).ok());
  // Re-created under a new id while the old directory is still there: refused, not adopted.
  auto refused = manager->GetOrCreateLog({"stuck", 0}, "id-b");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(std::string(MessageOf(refused.status())).find("deleted log"), std::string::npos);
  disk.ClearFaults();
  manager->RemoveDeletedDirs(/*all=*/false);  // the retry moves it away
  auto log = manager->GetOrCreateLog({"stuck", 0}, "id-b");
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->LogEndOffset(), Offset(0));
  manager->RemoveDeletedDirs(/*all=*/true);
  EXPECT_EQ(Entries(), (std::vector<std::string>{".lock", "stuck-0"}));
}

TEST_F(LogManagerTest, ALogThatCannotOpenIsReportedNotReplaced) {
  {
    auto manager = Open();
    Append(**manager->GetOrCreateLog({"broken", 0}, "id-a"), 4);
    Append(**manager->GetOrCreateLog({"fine", 0}, "id-a"), 1);
    manager->Shutdown();
  }
  // A segment file that is not a file: the log cannot be opened.
  const std::string segment = dir_.Sub("data/broken-0/00000000000000000000.log");
  std::filesystem::rename(segment, segment + ".kept");
  std::filesystem::create_directory(segment);
  {
    auto manager = Open();
    EXPECT_EQ(manager->startup_report().failed, 1);
    EXPECT_EQ(manager->startup_report().logs, 1);
    EXPECT_FALSE(manager->GetOrCreateLog({"broken", 0}, "id-a").ok());
    EXPECT_TRUE(manager->Strays().empty());  // its data stays where it is
    manager->Shutdown();
  }
  std::filesystem::remove(segment);
  std::filesystem::rename(segment + ".kept", segment);
  auto manager = Open();
  auto log = manager->GetOrCreateLog({"broken", 0}, "id-a");
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->LogEndOffset(), Offset(4));
}

// Restores the process's descriptor limit however the test ends.
class DescriptorLimitGuard {
 public:
  DescriptorLimitGuard() { ::getrlimit(RLIMIT_NOFILE, &saved_); }
  ~DescriptorLimitGuard() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  const rlimit& saved() const { return saved_; }

 private:
  rlimit saved_{};
};

TEST_F(LogManagerTest, LogCreationStopsShortOfTheDescriptorReserve) {
  DescriptorLimitGuard guard;
  const rlimit saved = guard.saved();
  auto manager = Open({.file_descriptors_reserve = 64});
  const int64_t open = CountOpenDescriptors();
  ASSERT_GT(open, 0);
  rlimit small = saved;
  small.rlim_cur = static_cast<rlim_t>(open + 64 + 10 * DescriptorBudget::kLogDescriptors);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &small), 0);
  int created = 0;
  absl::Status refused;
  for (int p = 0; p < 100 && refused.ok(); ++p) {
    auto log = manager->GetOrCreateLog({"fds", p}, kId);
    if (log.ok()) {
      ++created;
    } else {
      refused = log.status();
    }
  }
  EXPECT_EQ(StorageErrcOf(refused), Errc::kLimitExceeded) << refused;
  EXPECT_NE(std::string(MessageOf(refused)).find("file descriptors"), std::string::npos);
  EXPECT_GE(created, 5);
  EXPECT_TRUE(manager->descriptors().Exhausted());
  // The reserve was never touched.
  EXPECT_LE(CountOpenDescriptors(), static_cast<int64_t>(small.rlim_cur) - 64);
  // Deleting logs frees descriptors: room again, without a restart.
  for (int p = 0; p < created; ++p) ASSERT_TRUE(manager->DeleteLog({"fds", p}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(DescriptorBudget::kRefreshMs + 10));
  EXPECT_FALSE(manager->descriptors().Exhausted());
  EXPECT_TRUE(manager->GetOrCreateLog({"fds", 0}, "id-again").ok());
}

TEST_F(LogManagerTest, LimitsAndTheDirectoryLock) {
  auto manager = Open({.logs_max = 2});
  ASSERT_TRUE(manager->GetOrCreateLog({"a", 0}, kId).ok());
  ASSERT_TRUE(manager->GetOrCreateLog({"a", 1}, kId).ok());
  EXPECT_EQ(StorageErrcOf(manager->GetOrCreateLog({"a", 2}, kId).status()), Errc::kLimitExceeded);
  LogManagerConfig second;
  second.data_dir = dir_.Sub("data");
  auto other = LogManager::Open(second, {}, {});
  EXPECT_FALSE(other.ok());
  EXPECT_NE(std::string(MessageOf(other.status())).find("locked"), std::string::npos);
}

TEST_F(LogManagerTest, OpenSegmentBudgetBoundsOpenFiles) {
  auto manager = Open({.open_segments_max = 2}, {.segment_bytes = 4096});
  auto log = *manager->GetOrCreateLog({"many", 0}, kId);
  for (int i = 0; i < 30; ++i) Append(*log, 1, 1500);
  ASSERT_TRUE(log->Flush().ok());
  log.reset();
  manager.reset();  // shuts down and releases the directory lock
  manager = Open({.open_segments_max = 2}, {.segment_bytes = 4096});
  log = manager->GetLog({"many", 0});
  // Reading every segment opens each; the budget keeps at most 2 sealed ones open.
  EXPECT_EQ(testing::ReadAll(*log).size(), 30u);
  EXPECT_LE(manager->open_segments(), 2);
  EXPECT_EQ(testing::ReadAll(*log).size(), 30u);
  EXPECT_EQ(manager->open_segments(), 2);
}

TEST_F(LogManagerTest, BackgroundThreadsApplyRetentionCompactionAndFlushMs) {
  LogManagerConfig config{.flush_check_interval_ms = 10,
                          .retention_check_interval_ms = 20,
                          .checkpoint_interval_ms = 20,
                          .cleaner_backoff_ms = 20};
  auto manager = Open(config, {.segment_bytes = 4096, .retention_bytes = 8192}, true);
  auto deleting = *manager->GetOrCreateLog({"deleting", 0}, kId);
  for (int i = 0; i < 40; ++i) Append(*deleting, 1, 1000);
  deleting->SetHighWatermark(deleting->LogEndOffset());  // retention never goes above it
  LogConfig compact{.segment_bytes = 2048,
                    .cleanup_policy = CleanupPolicy::kCompact,
                    .min_cleanable_dirty_ratio = 0.1,
                    .flush_messages = kNever,
                    .flush_ms = 20};
  auto compacted = *manager->GetOrCreateLog({"compacted", 0}, kId, compact);
  for (int i = 0; i < 100; ++i) {
    ByteBuffer batch = MakeKeyedBatch({{"k" + std::to_string(i % 5), std::string(200, 'v')}});
    ASSERT_TRUE(compacted->AppendAsLeader(batch.span(), LeaderEpoch(0)).ok());
  }
  compacted->SetHighWatermark(compacted->LogEndOffset());
  int64_t compacted_size = compacted->SizeBytes();
  bool done = false;
  for (int i = 0; i < 500 && !done; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    done = deleting->SizeBytes() < 8192 + 4096 && compacted->SizeBytes() < compacted_size / 2 &&
           compacted->DurableOffset() == compacted->LogEndOffset();
  }
  EXPECT_LT(deleting->SizeBytes(), 8192 + 4096);
  EXPECT_GT(deleting->LogStartOffset(), Offset(0));
  EXPECT_LT(compacted->SizeBytes(), compacted_size / 2);
  EXPECT_EQ(compacted->DurableOffset(), compacted->LogEndOffset());  // flush.ms did it
  std::string metrics =
      prometheus::TextSerializer().Serialize(manager->probe().registry().Collect());
  for (const char* name :
       {"strand_storage_fsync_duration_seconds", "strand_storage_appended_bytes_total",
        "strand_storage_segments", "strand_storage_recoveries_total",
        "strand_storage_retention_deleted_segments_total",
        "strand_storage_cleaner_reclaimed_bytes_total"}) {
    EXPECT_NE(metrics.find(name), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace strand::storage
