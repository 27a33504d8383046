// Tests log compaction: the newest record per key survives at its original offset, superseded
// ones and keyless ones go, tombstones outlive delete.retention.ms and then go (KIP-534 horizon),
// compressed batches are rebuilt with their codec, only sealed segments below the high watermark
// are touched, appends proceed during a pass, the cleaner offset makes repeated passes cheap, and
// a swap interrupted by a crash is completed by recovery.
#include "storage/log_cleaner.h"

#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "storage/errc.h"
#include "storage/fault_injecting_filesystem.h"
#include "storage/flusher.h"
#include "storage/testing/test_util.h"

namespace strand::storage {
namespace {

using testing::MakeKeyedBatch;
using testing::ReadAll;
using testing::TempDir;

class LogCleanerTest : public ::testing::Test {
 protected:
  LogCleanerTest() : faulty_(PosixFilesystem()), flusher_(1), cleaner_(1 << 20, clock_) {
    testing::QuietLogs();
  }

  std::shared_ptr<Log> OpenLog() {
    LogConfig config{.segment_bytes = 2048,
                     .cleanup_policy = CleanupPolicy::kCompact,
                     .delete_retention_ms = 60000,
                     .min_cleanable_dirty_ratio = 0.1};
    LogOptions options;
    options.fs = &faulty_;
    options.clock = &clock_;
    options.flusher = &flusher_;
    auto log = Log::Open(dir_.Sub("compacted-0"), config, options);
    EXPECT_TRUE(log.ok()) << log.status();
    return *log;
  }

  void Put(Log& log, const std::string& key, std::optional<std::string> value,
           record::Compression compression = record::Compression::kNone) {
    ByteBuffer batch = MakeKeyedBatch({{key, value}}, clock_.NowWallMs(), compression);
    ASSERT_TRUE(log.AppendAsLeader(batch.span(), LeaderEpoch(1)).ok());
  }

  // Makes everything cleanable: the high watermark at the end and rolled segments sealed (the
  // cleaner only rewrites sealed segments below the high watermark).
  static void Settle(Log& log) {
    log.SetHighWatermark(log.LogEndOffset());
    ASSERT_TRUE(log.Flush().ok());
  }

  // The latest value of every key as the log now reads.
  static std::map<std::string, std::optional<std::string>> Latest(Log& log) {
    std::map<std::string, std::optional<std::string>> latest;
    for (const auto& r : ReadAll(log)) latest[*r.key] = r.value;
    return latest;
  }

  TempDir dir_;
  ManualClock clock_;
  FaultInjectingFilesystem faulty_;
  Flusher flusher_;
  LogCleaner cleaner_;
};

TEST_F(LogCleanerTest, KeepsTheNewestRecordPerKeyAtItsOffset) {
  auto log = OpenLog();
  std::map<std::string, Offset> newest;
  for (int round = 0; round < 20; ++round) {
    for (int k = 0; k < 5; ++k) {
      std::string key = "key-" + std::to_string(k);
      Put(*log, key, std::string(100, static_cast<char>('a' + round)) + key);
      newest[key] = log->LogEndOffset() - 1;
    }
  }
  Settle(*log);
  auto before = Latest(*log);
  int64_t size_before = log->SizeBytes();
  ASSERT_GT(log->Segments().size(), 5u);
  auto stats = cleaner_.Clean(*log);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_TRUE(stats->cleaned);
  EXPECT_GT(stats->records_removed, 50);
  EXPECT_LT(log->SizeBytes(), size_before / 2);
  EXPECT_EQ(Latest(*log), before);  // readers see the same latest values
  // Every record still has its original offset: the newest of each key is where it was.
  std::map<std::string, int> count;
  for (const auto& r : ReadAll(*log)) {
    ++count[*r.key];
    if (newest[*r.key] == r.offset) {
      EXPECT_EQ(r.value, before[*r.key]);
    }
  }
  for (const auto& [key, offset] : newest) {
    auto read = log->Read(offset, 1);
    ASSERT_TRUE(read.ok());
    bool found = false;
    for (const auto& r : testing::Records(*read)) found |= r.offset == offset && *r.key == key;
    EXPECT_TRUE(found) << key;
  }
  // The active segment is untouched, so recent duplicates may remain there only.
  for (const auto& [key, n] : count) EXPECT_LE(n, 3) << key;
  // Nothing new is dirty: another pass has nothing to do.
  auto again = cleaner_.Clean(*log);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->cleaned);
  // Compaction survives a reopen (indexes written, cleaner offset checkpointed).
  testing::Crash(log);
  log = OpenLog();
  EXPECT_TRUE(log->recovery_report().indexes_rebuilt.empty());
  EXPECT_EQ(Latest(*log), before);
}

TEST_F(LogCleanerTest, TombstonesOutliveDeleteRetentionThenGo) {
  auto log = OpenLog();
  Put(*log, "doomed", std::string(300, 'x'));
  Put(*log, "doomed", std::nullopt);  // tombstone
  for (int i = 0; i < 30; ++i) Put(*log, "other-" + std::to_string(i % 3), std::string(300, 'y'));
  Settle(*log);
  auto first = cleaner_.Clean(*log, /*force=*/true);
  ASSERT_TRUE(first.ok()) << first.status();
  auto latest = Latest(*log);
  ASSERT_TRUE(latest.contains("doomed"));
  EXPECT_EQ(latest["doomed"], std::nullopt);  // the value is gone, the tombstone stays
  EXPECT_EQ(first->next_tombstone_horizon_ms, clock_.NowWallMs() + 60000);
  clock_.AdvanceMs(30000);
  ASSERT_TRUE(cleaner_.Clean(*log, true).ok());
  EXPECT_TRUE(Latest(*log).contains("doomed"));  // not yet
  clock_.AdvanceMs(30001);
  auto last = cleaner_.Clean(*log, true);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->tombstones_removed, 1);
  EXPECT_FALSE(Latest(*log).contains("doomed"));
}

TEST_F(LogCleanerTest, OnlyBelowTheHighWatermarkAndCompressedBatchesKeepTheirCodec) {
  auto log = OpenLog();
  for (int i = 0; i < 40; ++i) {
    ByteBuffer batch = MakeKeyedBatch(
        {{"a", std::string(200, 'a' + i % 26)}, {"b" + std::to_string(i), std::string(200, 'b')}},
        1000, record::Compression::kZstd);
    ASSERT_TRUE(log->AppendAsLeader(batch.span(), LeaderEpoch(1)).ok());
  }
  // High watermark 0: nothing is cleanable.
  auto none = cleaner_.Clean(*log, true);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->cleaned);
  Settle(*log);
  auto stats = cleaner_.Clean(*log, true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_TRUE(stats->cleaned);
  auto read = log->Read(log->LogStartOffset(), 1 << 20);
  ASSERT_TRUE(read.ok());
  auto extents = record::SplitBatches(read->records.span());
  ASSERT_TRUE(extents.ok());
  for (const auto& e : *extents) {
    record::RecordBatchHeader h =
        record::RecordBatchHeader::Parse(read->records.data() + e.position);
    EXPECT_EQ(h.compression(), record::Compression::kZstd);
    EXPECT_EQ(h.partition_leader_epoch, LeaderEpoch(1));
  }
  int a_count = 0;
  for (const auto& r : ReadAll(*log)) a_count += *r.key == "a";
  EXPECT_LE(a_count, 4);  // one in the cleaned part, the rest in uncleaned segments
}

TEST_F(LogCleanerTest, AppendsProceedDuringAPass) {
  auto log = OpenLog();
  for (int i = 0; i < 200; ++i) Put(*log, "k" + std::to_string(i % 10), std::string(100, 'v'));
  Settle(*log);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 300 && !done; ++i) Put(*log, "w" + std::to_string(i), "value");
  });
  auto stats = cleaner_.Clean(*log, true);
  done = true;
  writer.join();
  ASSERT_TRUE(stats.ok()) << stats.status();
  auto latest = Latest(*log);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(latest.contains("k" + std::to_string(i)));
}

TEST_F(LogCleanerTest, CrashDuringTheSwap_RecoveryCompletesIt) {
  auto log = OpenLog();
  for (int round = 0; round < 10; ++round) {
    for (int k = 0; k < 4; ++k)
      Put(*log, "key-" + std::to_string(k), std::string(150, 'a' + round));
  }
  Settle(*log);
  auto before = Latest(*log);
  // The output is complete and named .swap, but renaming it into place fails: a "crash" there.
  faulty_.set_path_filter(".log.swap");
  faulty_.FailRenames();
  EXPECT_FALSE(cleaner_.Clean(*log, true).ok());
  faulty_.ClearFaults();
  auto names = PosixFilesystem().List(dir_.Sub("compacted-0"));
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(std::any_of(names->begin(), names->end(), [](const std::string& n) {
    return n.find(".log.swap") != std::string::npos;
  }));
  testing::Crash(log);
  log = OpenLog();
  EXPECT_EQ(log->recovery_report().swaps_completed.size(), 1u) << log->recovery_report().ToString();
  EXPECT_EQ(Latest(*log), before);
}

}  // namespace
}  // namespace strand::storage
