// Tests LogManager: logs live in <topic>-<partition> directories, are recovered (in parallel) at
// start-up and closed cleanly at shutdown, deleted logs disappear, limits hold, the data
// directory is locked against a second manager, and the background threads apply retention,
// compaction and flush.ms on their own. Also the probe's metrics are registered.
#include "storage/log_manager.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <filesystem>
#include <thread>

#include "storage/errc.h"
#include "storage/testing/test_util.h"

namespace strand::storage {
namespace {

using testing::MakeBatch;
using testing::MakeKeyedBatch;
using testing::TempDir;

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

TEST_F(LogManagerTest, CreateAppendShutdownReopen) {
  {
    auto manager = Open();
    for (int p = 0; p < 4; ++p) {
      auto log = manager->GetOrCreateLog({"orders", p});
      ASSERT_TRUE(log.ok()) << log.status();
      Append(**log, p + 1);
    }
    EXPECT_EQ(manager->GetLog({"orders", 2})->LogEndOffset(), Offset(3));
    EXPECT_EQ(manager->GetLog({"missing", 0}), nullptr);
    EXPECT_EQ(*manager->GetOrCreateLog({"orders", 1}), manager->GetLog({"orders", 1}));
    EXPECT_FALSE(manager->GetOrCreateLog({"bad/name", 0}).ok());
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
    for (int p = 0; p < 6; ++p) Append(**manager->GetOrCreateLog({"t", p}), 10);
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
  auto log = *manager->GetOrCreateLog({"gone", 0});
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
  EXPECT_EQ((*manager->GetOrCreateLog({"gone", 0}))->LogEndOffset(), Offset(0));
}

TEST_F(LogManagerTest, LimitsAndTheDirectoryLock) {
  auto manager = Open({.logs_max = 2});
  ASSERT_TRUE(manager->GetOrCreateLog({"a", 0}).ok());
  ASSERT_TRUE(manager->GetOrCreateLog({"a", 1}).ok());
  EXPECT_EQ(StorageErrcOf(manager->GetOrCreateLog({"a", 2}).status()), Errc::kLimitExceeded);
  LogManagerConfig second;
  second.data_dir = dir_.Sub("data");
  auto other = LogManager::Open(second, {}, {});
  EXPECT_FALSE(other.ok());
  EXPECT_NE(std::string(MessageOf(other.status())).find("locked"), std::string::npos);
}

TEST_F(LogManagerTest, OpenSegmentBudgetBoundsOpenFiles) {
  auto manager = Open({.open_segments_max = 2}, {.segment_bytes = 4096});
  auto log = *manager->GetOrCreateLog({"many", 0});
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
  auto deleting = *manager->GetOrCreateLog({"deleting", 0});
  for (int i = 0; i < 40; ++i) Append(*deleting, 1, 1000);
  LogConfig compact{.segment_bytes = 2048,
                    .cleanup_policy = CleanupPolicy::kCompact,
                    .min_cleanable_dirty_ratio = 0.1,
                    .flush_messages = kNever,
                    .flush_ms = 20};
  auto compacted = *manager->GetOrCreateLog({"compacted", 0}, compact);
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
