// Tests Log through its public API on a real directory: offset assignment, reads (Kafka's
// whole-batch and range semantics), segment rolls, durability and group commit, reopening after
// clean and unclean shutdowns, truncation, log start, retention, timestamp lookups, follower
// appends, leader epochs, validation, and the failure modes of a full or failing disk (through
// FaultInjectingFilesystem). Each test uses its own temporary directory.
#include "storage/log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "record/errc.h"
#include "record/record_batch_reader.h"
#include "storage/errc.h"
#include "storage/fault_injecting_filesystem.h"
#include "storage/flusher.h"
#include "storage/probe.h"
#include "storage/testing/test_util.h"

namespace strand::storage {
namespace {

using testing::MakeBatch;
using testing::MakeKeyedBatch;
using testing::ReadAll;
using testing::TempDir;

class LogTest : public ::testing::Test {
 protected:
  LogTest() : faulty_(PosixFilesystem()), flusher_(1) { testing::QuietLogs(); }

  std::shared_ptr<Log> OpenLog(LogConfig config = {}, const std::string& name = "test-0") {
    LogOptions options;
    options.fs = &faulty_;
    options.clock = &clock_;
    options.flusher = &flusher_;
    options.probe = &probe_;
    options.name = name;
    auto log = Log::Open(dir_.Sub(name), config, options);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *log : nullptr;
  }

  AppendInfo Append(Log& log, int records, int value_bytes = 100, uint64_t seed = 0,
                    LeaderEpoch epoch = LeaderEpoch(0)) {
    ByteBuffer batch = MakeBatch(records, value_bytes, seed, clock_.NowWallMs());
    auto info = log.AppendAsLeader(batch.span(), epoch);
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? *info : AppendInfo{};
  }

  TempDir dir_;
  ManualClock clock_;
  FaultInjectingFilesystem faulty_;
  StorageProbe probe_;
  Flusher flusher_;
};

TEST_F(LogTest, AppendAsLeader_AssignsOffsetsAndStampsEpoch) {
  auto log = OpenLog();
  EXPECT_EQ(Append(*log, 5).base_offset, Offset(0));
  AppendInfo second = Append(*log, 3, 100, 1, LeaderEpoch(2));
  EXPECT_EQ(second.base_offset, Offset(5));
  EXPECT_EQ(second.last_offset, Offset(7));
  EXPECT_EQ(second.records, 3);
  EXPECT_EQ(log->LogEndOffset(), Offset(8));
  auto records = ReadAll(*log);
  ASSERT_EQ(records.size(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(records[i].offset, Offset(i));
  EXPECT_EQ(records[0].epoch, LeaderEpoch(0));
  EXPECT_EQ(records[7].epoch, LeaderEpoch(2));
  EXPECT_EQ(records[6].value, testing::ValueFor(1, 1, 100));
  EXPECT_EQ(log->EpochEntries().size(), 2u);
}

TEST_F(LogTest, AppendAsLeader_SeveralBatchesInOneCall) {
  auto log = OpenLog();
  ByteBuffer both;
  both.Append(MakeBatch(2, 10).span());
  both.Append(MakeBatch(4, 10, 1).span());
  auto info = log->AppendAsLeader(both.span(), LeaderEpoch(0));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->batches, 2);
  EXPECT_EQ(info->last_offset, Offset(5));
  auto read = log->Read(Offset(0), 1 << 20);
  ASSERT_TRUE(read.ok());
  auto headers = record::SplitBatches(read->records.span());
  ASSERT_TRUE(headers.ok());
  ASSERT_EQ(headers->size(), 2u);
  EXPECT_EQ(
      record::RecordBatchHeader::Parse(read->records.data() + (*headers)[1].position).base_offset,
      Offset(2));
}

TEST_F(LogTest, Read_KafkaRangeSemantics) {
  auto log = OpenLog();
  for (int i = 0; i < 10; ++i) Append(*log, 10, 100, i);  // 10 batches of ~1.2 KiB
  // The first batch comes whole even when larger than max_bytes.
  auto tiny = log->Read(Offset(0), 1);
  ASSERT_TRUE(tiny.ok());
  EXPECT_EQ(testing::Records(*tiny).size(), 10u);
  EXPECT_EQ(tiny->next_offset, Offset(10));
  // A start inside a batch returns that whole batch.
  auto middle = log->Read(Offset(15), 1);
  ASSERT_TRUE(middle.ok());
  EXPECT_EQ(testing::Records(*middle).front().offset, Offset(10));
  // max_bytes stops at a batch boundary.
  auto some = log->Read(Offset(0), 3000);
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(some->next_offset, Offset(20));
  // A batch reaching max_offset is not returned.
  auto bounded = log->Read(Offset(0), 1 << 20, Offset(35));
  ASSERT_TRUE(bounded.ok());
  EXPECT_EQ(bounded->next_offset, Offset(30));
  auto at_bound = log->Read(Offset(30), 1 << 20, Offset(35));
  ASSERT_TRUE(at_bound.ok());
  EXPECT_TRUE(at_bound->records.empty());
  // The log end is a valid position with nothing to read; past it is out of range.
  auto at_end = log->Read(Offset(100), 1 << 20);
  ASSERT_TRUE(at_end.ok());
  EXPECT_TRUE(at_end->records.empty());
  EXPECT_EQ(at_end->log_end_offset, Offset(100));
  EXPECT_EQ(StorageErrcOf(log->Read(Offset(101), 100).status()), Errc::kOffsetOutOfRange);
}

TEST_F(LogTest, Roll_BySegmentBytes) {
  auto log = OpenLog({.segment_bytes = 16 * 1024});
  for (int i = 0; i < 40; ++i) Append(*log, 4, 1000, i);  // ~4 KiB batches
  auto segments = log->Segments();
  ASSERT_GE(segments.size(), 9u);
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    EXPECT_LE(segments[i].size_bytes, 16 * 1024);
    EXPECT_EQ(segments[i].next_offset, segments[i + 1].base_offset);
  }
  ASSERT_TRUE(log->Flush().ok());
  auto files = PosixFilesystem().List(dir_.Sub("test-0"));
  ASSERT_TRUE(files.ok());
  EXPECT_NE(
      std::find(files->begin(), files->end(), Segment::FileName(segments[1].base_offset, ".log")),
      files->end());
  EXPECT_NE(
      std::find(files->begin(), files->end(), Segment::FileName(segments[1].base_offset, ".index")),
      files->end());
  EXPECT_EQ(ReadAll(*log).size(), 160u);
  // A sealed segment moved the recovery point to the active one.
  EXPECT_EQ(log->RecoveryPoint(), segments.back().base_offset);
}

TEST_F(LogTest, Roll_BySegmentMs) {
  auto log = OpenLog({.segment_ms = 60000});
  Append(*log, 1);
  clock_.AdvanceMs(30000);
  Append(*log, 1);
  EXPECT_EQ(log->Segments().size(), 1u);
  clock_.AdvanceMs(30001);
  Append(*log, 1);
  EXPECT_EQ(log->Segments().size(), 2u);
  EXPECT_EQ(log->Segments().back().base_offset, Offset(2));
}

// segment.jitter.ms: each log rolls at its own moment within (segment.ms - jitter, segment.ms].
TEST_F(LogTest, Roll_SegmentJitterSpreadsRollsBelowSegmentMs) {
  std::vector<std::shared_ptr<Log>> logs;
  for (int i = 0; i < 8; ++i) {
    logs.push_back(
        OpenLog({.segment_ms = 60000, .segment_jitter_ms = 30000}, "jitter-" + std::to_string(i)));
    Append(*logs.back(), 1);
  }
  std::vector<int64_t> rolled_after(logs.size(), -1);
  for (int64_t waited = 1000; waited <= 60000; waited += 1000) {
    clock_.AdvanceMs(1000);
    for (size_t i = 0; i < logs.size(); ++i) {
      Append(*logs[i], 1);
      if (rolled_after[i] < 0 && logs[i]->Segments().size() == 2) rolled_after[i] = waited;
    }
  }
  std::set<int64_t> distinct;
  for (int64_t t : rolled_after) {
    EXPECT_GT(t, 30000);  // never earlier than segment.ms - jitter
    EXPECT_LE(t, 60000);  // never later than segment.ms
    distinct.insert(t);
  }
  EXPECT_GT(distinct.size(), 1u) << "every log rolled at the same moment";
}

TEST_F(LogTest, Durability_DefaultFsyncsEveryBatchBeforeDurable) {
  auto log = OpenLog();
  int64_t syncs_before = faulty_.syncs();
  AppendInfo info = Append(*log, 3);
  ASSERT_TRUE(log->WaitDurable(info.last_offset, 10000).ok());
  EXPECT_GT(log->DurableOffset(), info.last_offset);
  EXPECT_GT(faulty_.syncs(), syncs_before);
}

TEST_F(LogTest, Durability_GroupCommitSharesFsyncs) {
  auto log = OpenLog();
  constexpr int kThreads = 4, kPerThread = 200;
  std::atomic<int> durable{0};
  int64_t syncs_before = faulty_.syncs();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        ByteBuffer batch = MakeBatch(1, 100, t * 1000 + i);
        auto info = log->AppendAsLeader(batch.span(), LeaderEpoch(0));
        ASSERT_TRUE(info.ok());
        log->NotifyWhenDurable(info->last_offset, [&](absl::Status s) {
          EXPECT_TRUE(s.ok());
          ++durable;
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(log->WaitDurable(log->LogEndOffset() - 1, 30000).ok());
  for (int i = 0; i < 1000 && durable.load() < kThreads * kPerThread; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(durable.load(), kThreads * kPerThread);
  // Appends never waited for fsyncs, so fsyncs fell behind and covered several batches each.
  EXPECT_LT(faulty_.syncs() - syncs_before, kThreads * kPerThread);
}

TEST_F(LogTest, Durability_CallbacksMayCallBackIntoTheLog) {
  auto log = OpenLog();
  AppendInfo first = Append(*log, 1);
  std::atomic<bool> chained{false};
  log->NotifyWhenDurable(first.last_offset, [&](absl::Status s) {
    ASSERT_TRUE(s.ok());
    // From inside a durability callback: append and flush again (no lock is held here).
    ByteBuffer batch = MakeBatch(1, 10, 5);
    ASSERT_TRUE(log->AppendAsLeader(batch.span(), LeaderEpoch(0)).ok());
    ASSERT_TRUE(log->Flush().ok());
    chained = true;
  });
  ASSERT_TRUE(log->WaitDurable(first.last_offset, 10000).ok());
  for (int i = 0; i < 1000 && !chained; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_TRUE(chained.load());
  EXPECT_EQ(log->LogEndOffset(), Offset(2));
}

TEST_F(LogTest, Durability_FlushPolicyOff_OnlyFlushOrTimer) {
  auto log = OpenLog({.flush_messages = kNever, .flush_ms = 1000});
  Append(*log, 5);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(log->DurableOffset(), Offset(0));
  log->MaybeScheduleTimedFlush(clock_.NowWallMs());  // not due yet
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(log->DurableOffset(), Offset(0));
  clock_.AdvanceMs(1000);
  log->MaybeScheduleTimedFlush(clock_.NowWallMs());
  ASSERT_TRUE(log->WaitDurable(Offset(4), 10000).ok());
  Append(*log, 1);
  ASSERT_TRUE(log->Flush().ok());
  EXPECT_EQ(log->DurableOffset(), Offset(6));
}

TEST_F(LogTest, Reopen_CleanShutdownSkipsTheScan) {
  {
    auto log = OpenLog({.segment_bytes = 8192});
    for (int i = 0; i < 20; ++i) Append(*log, 2, 1000, i);
    log->SetHighWatermark(Offset(30));
    ASSERT_TRUE(log->Close().ok());
    EXPECT_EQ(StorageErrcOf(log->AppendAsLeader(MakeBatch(1, 1).span(), LeaderEpoch(0)).status()),
              Errc::kLogClosed);
  }
  auto log = OpenLog({.segment_bytes = 8192});
  EXPECT_TRUE(log->recovery_report().clean_shutdown) << log->recovery_report().ToString();
  EXPECT_EQ(log->recovery_report().segments_scanned, 0);
  EXPECT_EQ(log->LogEndOffset(), Offset(40));
  EXPECT_EQ(log->HighWatermark(), Offset(30));
  EXPECT_EQ(Append(*log, 1).base_offset, Offset(40));
  EXPECT_EQ(ReadAll(*log).size(), 41u);
}

TEST_F(LogTest, Reopen_AfterCrashScansFromTheRecoveryPoint) {
  {
    auto log = OpenLog({.segment_bytes = 8192});
    for (int i = 0; i < 20; ++i) Append(*log, 2, 1000, i);
    ASSERT_TRUE(log->Flush().ok());
    testing::Crash(log);  // no Close: the process "dies" with the log as it is on disk
  }
  auto log = OpenLog({.segment_bytes = 8192});
  const RecoveryReport& report = log->recovery_report();
  EXPECT_FALSE(report.clean_shutdown);
  EXPECT_FALSE(report.cut.has_value()) << report.ToString();
  EXPECT_EQ(report.segments_scanned, 1);  // only the active segment is above the recovery point
  EXPECT_EQ(log->LogEndOffset(), Offset(40));
  EXPECT_EQ(ReadAll(*log).size(), 40u);
  EXPECT_EQ(log->DurableOffset(), Offset(40));
}

TEST_F(LogTest, TruncateTo_RemovesTheTailAcrossSegments) {
  auto log = OpenLog({.segment_bytes = 8192});
  for (int i = 0; i < 20; ++i) Append(*log, 2, 1000, i, LeaderEpoch(i < 10 ? 1 : 2));
  size_t segments_before = log->Segments().size();
  // Offset 15 is the second record of the batch at 14: the whole batch goes.
  auto end = log->TruncateTo(Offset(15));
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(*end, Offset(14));
  EXPECT_EQ(log->LogEndOffset(), Offset(14));
  EXPECT_LT(log->Segments().size(), segments_before);
  EXPECT_EQ(log->EpochEntries().size(), 1u);  // epoch 2 started at 20: gone
  auto records = ReadAll(*log);
  ASSERT_EQ(records.size(), 14u);
  EXPECT_EQ(records.back().offset, Offset(13));
  EXPECT_EQ(Append(*log, 1, 10, 0, LeaderEpoch(3)).base_offset, Offset(14));
  EXPECT_EQ(log->EndOffsetForEpoch(LeaderEpoch(1)), (EpochEndOffset{LeaderEpoch(1), Offset(14)}));
  // Truncating at or past the end changes nothing.
  EXPECT_EQ(*log->TruncateTo(Offset(100)), Offset(15));
  // The truncation survives a crash and a reopen.
  testing::Crash(log);
  log = OpenLog({.segment_bytes = 8192});
  EXPECT_EQ(log->LogEndOffset(), Offset(15));
  EXPECT_EQ(ReadAll(*log).size(), 15u);
}

TEST_F(LogTest, TruncateTo_FailsWaitersOfRemovedOffsets) {
  auto log = OpenLog({.flush_messages = kNever});
  Append(*log, 5);
  absl::Status outcome;
  log->NotifyWhenDurable(Offset(4), [&](absl::Status s) { outcome = s; });
  ASSERT_TRUE(log->TruncateTo(Offset(0)).ok());
  EXPECT_EQ(StorageErrcOf(outcome), Errc::kTruncated);
  EXPECT_EQ(ToKafkaError(outcome), KafkaError::kNotLeaderOrFollower);
}

TEST_F(LogTest, TruncateFullyAndStartAt_RestartsTheLog) {
  auto log = OpenLog({.segment_bytes = 8192});
  for (int i = 0; i < 10; ++i) Append(*log, 2, 1000, i);
  ASSERT_TRUE(log->TruncateFullyAndStartAt(Offset(1000)).ok());
  EXPECT_EQ(log->LogStartOffset(), Offset(1000));
  EXPECT_EQ(log->LogEndOffset(), Offset(1000));
  EXPECT_TRUE(log->EpochEntries().empty());
  EXPECT_EQ(StorageErrcOf(log->Read(Offset(5), 100).status()), Errc::kOffsetOutOfRange);
  EXPECT_EQ(Append(*log, 1).base_offset, Offset(1000));
  testing::Crash(log);
  log = OpenLog({.segment_bytes = 8192});
  EXPECT_EQ(log->LogStartOffset(), Offset(1000));
  EXPECT_EQ(log->LogEndOffset(), Offset(1001));
  EXPECT_EQ(log->Segments().size(), 1u);
}

TEST_F(LogTest, DeleteRecordsBefore_AdvancesTheLogStart) {
  auto log = OpenLog({.segment_bytes = 8192});
  for (int i = 0; i < 20; ++i) Append(*log, 2, 1000, i);
  EXPECT_EQ(StorageErrcOf(log->DeleteRecordsBefore(Offset(10)).status()),
            Errc::kOffsetOutOfRange);  // above the high watermark
  log->SetHighWatermark(Offset(40));
  size_t before = log->Segments().size();
  auto start = log->DeleteRecordsBefore(Offset(25));
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_EQ(log->LogStartOffset(), Offset(25));
  EXPECT_LT(log->Segments().size(), before);
  EXPECT_EQ(StorageErrcOf(log->Read(Offset(24), 100).status()), Errc::kOffsetOutOfRange);
  EXPECT_TRUE(log->Read(Offset(25), 100).ok());
  testing::Crash(log);
  log = OpenLog({.segment_bytes = 8192});
  EXPECT_EQ(log->LogStartOffset(), Offset(25));
}

// file.delete.delay.ms: removed segments' files are renamed "*.deleted" and removed once the
// delay has passed; a restart removes any left; 0 removes them at once.
TEST_F(LogTest, FileDeleteDelay_KeepsRemovedSegmentFilesForTheDelay) {
  namespace fs = std::filesystem;
  auto deleted_files = [&](const std::string& name) {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir_.Sub(name))) {
      n += e.path().filename().string().ends_with(".deleted") ? 1 : 0;
    }
    return n;
  };
  LogConfig config{.segment_bytes = 8192, .file_delete_delay_ms = 60'000};
  auto log = OpenLog(config);
  for (int i = 0; i < 20; ++i) Append(*log, 2, 1000, i);
  log->SetHighWatermark(log->LogEndOffset());
  ASSERT_TRUE(log->DeleteRecordsBefore(Offset(25)).ok());
  const int renamed = deleted_files("test-0");
  EXPECT_GE(renamed, 2);  // at least one segment's log and index files
  log->RemoveDeletedSegmentFiles(clock_.NowWallMs() + 59'999, false);
  EXPECT_EQ(deleted_files("test-0"), renamed);
  EXPECT_EQ(log->LogStartOffset(), Offset(25));
  log->RemoveDeletedSegmentFiles(clock_.NowWallMs() + 60'000, false);
  EXPECT_EQ(deleted_files("test-0"), 0);

  // Left over at a crash: the next open removes them.
  ASSERT_TRUE(log->DeleteRecordsBefore(Offset(33)).ok());
  EXPECT_GT(deleted_files("test-0"), 0);
  testing::Crash(log);
  log = OpenLog(config);
  EXPECT_EQ(deleted_files("test-0"), 0);
  EXPECT_EQ(log->LogStartOffset(), Offset(33));

  auto at_once = OpenLog({.segment_bytes = 8192, .file_delete_delay_ms = 0}, "at-once-0");
  for (int i = 0; i < 20; ++i) Append(*at_once, 2, 1000, i);
  at_once->SetHighWatermark(at_once->LogEndOffset());
  const size_t before = at_once->Segments().size();
  ASSERT_TRUE(at_once->DeleteRecordsBefore(Offset(25)).ok());
  EXPECT_LT(at_once->Segments().size(), before);
  EXPECT_EQ(deleted_files("at-once-0"), 0);
}

TEST_F(LogTest, Retention_BySizeAndTime_NeverTheActiveSegment) {
  LogConfig config{.segment_bytes = 8192, .retention_ms = 3600'000, .retention_bytes = 20000};
  auto log = OpenLog(config);
  for (int i = 0; i < 20; ++i) Append(*log, 2, 1000, i);  // ~40 KiB
  log->SetHighWatermark(log->LogEndOffset());  // retention never goes above it
  auto result = log->ApplyRetention(clock_.NowWallMs());
  ASSERT_TRUE(result.ok());
  EXPECT_GT(result->segments_deleted, 0);
  EXPECT_GE(log->SizeBytes(), 20000);
  EXPECT_LT(log->SizeBytes(), 20000 + 8192);
  EXPECT_EQ(log->LogStartOffset(), log->Segments().front().base_offset);
  // Everything is older than retention.ms an hour later, but nothing above the high watermark
  // goes...
  clock_.AdvanceMs(3600'001 + 100);
  const Offset committed = log->LogStartOffset() + 4;
  log->SetHighWatermark(committed);
  result = log->ApplyRetention(clock_.NowWallMs());
  ASSERT_TRUE(result.ok());
  EXPECT_LE(log->LogStartOffset(), committed);
  EXPECT_GT(log->Segments().size(), 1u);
  // ...and once everything is committed, all but the active segment go.
  log->SetHighWatermark(log->LogEndOffset());
  result = log->ApplyRetention(clock_.NowWallMs());
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(log->Segments().size(), 1u);
  EXPECT_EQ(log->LogStartOffset(), log->Segments().front().base_offset);
  EXPECT_FALSE(ReadAll(*log).empty());
}

TEST_F(LogTest, OffsetForTimestamp_FindsTheFirstRecordAtOrAfter) {
  auto log = OpenLog({.segment_bytes = 8192});
  // Batches of 2 records at timestamps 1000+10i and 1000+10i+1.
  for (int i = 0; i < 20; ++i) {
    ByteBuffer batch = MakeBatch(2, 1000, i, 1000 + 10 * i);
    ASSERT_TRUE(log->AppendAsLeader(batch.span(), LeaderEpoch(3)).ok());
  }
  auto exact = log->OffsetForTimestamp(1050);
  ASSERT_TRUE(exact.ok() && exact->has_value());
  EXPECT_EQ((*exact)->offset, Offset(10));
  EXPECT_EQ((*exact)->timestamp, 1050);
  EXPECT_EQ((*exact)->leader_epoch, LeaderEpoch(3));
  auto between = log->OffsetForTimestamp(1052);
  EXPECT_EQ((*between)->offset, Offset(12));
  auto second_record = log->OffsetForTimestamp(1051);
  EXPECT_EQ((*second_record)->offset, Offset(11));
  EXPECT_FALSE(log->OffsetForTimestamp(5000)->has_value());
  EXPECT_EQ((*log->OffsetForTimestamp(0))->offset, Offset(0));
  EXPECT_EQ((*log->OffsetForTimestamp(Log::kEarliestTimestamp))->offset, Offset(0));
  EXPECT_EQ((*log->OffsetForTimestamp(Log::kLatestTimestamp))->offset, Offset(40));
  EXPECT_EQ((*log->OffsetForTimestamp(Log::kMaxTimestamp))->offset, Offset(39));
  // Bounded by a high watermark.
  EXPECT_FALSE(log->OffsetForTimestamp(1100, Offset(20))->has_value());
}

TEST_F(LogTest, LogAppendTime_StampsEveryBatch) {
  auto log = OpenLog({.message_timestamp_type = record::TimestampType::kLogAppendTime});
  clock_.AdvanceMs(12345);
  AppendInfo info = Append(*log, 3);
  EXPECT_EQ(info.log_append_time_ms, clock_.NowWallMs());
  for (const auto& r : ReadAll(*log)) EXPECT_EQ(r.timestamp, clock_.NowWallMs());
  EXPECT_EQ((*log->OffsetForTimestamp(clock_.NowWallMs()))->offset, Offset(0));
}

TEST_F(LogTest, Follower_AppendsTheLeadersOffsetsAndEpochs) {
  auto leader = OpenLog();
  for (int i = 0; i < 5; ++i) Append(*leader, 3, 50, i, LeaderEpoch(i < 3 ? 4 : 6));
  auto fetched = leader->Read(Offset(0), 1 << 20);
  ASSERT_TRUE(fetched.ok());
  LogOptions options;
  options.flusher = &flusher_;
  auto follower = Log::Open(dir_.Sub("follower"), {}, options);
  ASSERT_TRUE(follower.ok());
  auto info = (*follower)->AppendAsFollower(fetched->records.span());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ((*follower)->LogEndOffset(), Offset(15));
  EXPECT_EQ((*follower)->EpochEntries(), leader->EpochEntries());
  // Appending the same batches again does not continue the log.
  auto again = leader->Read(Offset(0), 1 << 20);
  EXPECT_EQ(StorageErrcOf((*follower)->AppendAsFollower(again->records.span()).status()),
            Errc::kOffsetsOutOfOrder);
  // A gap (as compaction leaves) is accepted.
  ByteBuffer later = MakeBatch(2, 10);
  record::SetBaseOffset(later.span(), Offset(40));
  record::SetPartitionLeaderEpoch(later.span(), LeaderEpoch(6));
  ASSERT_TRUE((*follower)->AppendAsFollower(later.span()).ok());
  EXPECT_EQ((*follower)->LogEndOffset(), Offset(42));
}

TEST_F(LogTest, FollowerAppend_CallerFlushes_NoFlusherHandOffAndWaitDurableFsyncs) {
  auto leader = OpenLog();
  Append(*leader, 3);
  auto fetched = leader->Read(Offset(0), 1 << 20);
  ASSERT_TRUE(fetched.ok());
  auto follower = OpenLog({}, "follower-0");
  const int64_t fsyncs_before = faulty_.syncs();
  ASSERT_TRUE(follower->AppendAsFollower(fetched->records.span(), /*caller_flushes=*/true).ok());
  // No flusher thread was asked (flush.messages=1 would have): nothing fsynced meanwhile.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(follower->DurableOffset(), Offset(0));
  // The caller's own wait fsyncs, on its thread.
  ASSERT_TRUE(follower->WaitDurable(Offset(2), 5000).ok());
  EXPECT_EQ(follower->DurableOffset(), Offset(3));
  EXPECT_GT(faulty_.syncs(), fsyncs_before);
}

TEST_F(LogTest, Epochs_EndOffsetForEpochAndFencing) {
  auto log = OpenLog();
  Append(*log, 5, 10, 0, LeaderEpoch(1));  // 0..4
  Append(*log, 5, 10, 0, LeaderEpoch(3));  // 5..9
  ASSERT_TRUE(log->AssignLeaderEpoch(LeaderEpoch(5), log->LogEndOffset()).ok());
  EXPECT_EQ(log->EndOffsetForEpoch(LeaderEpoch(1)), (EpochEndOffset{LeaderEpoch(1), Offset(5)}));
  EXPECT_EQ(log->EndOffsetForEpoch(LeaderEpoch(2)), (EpochEndOffset{LeaderEpoch(1), Offset(5)}));
  EXPECT_EQ(log->EndOffsetForEpoch(LeaderEpoch(3)), (EpochEndOffset{LeaderEpoch(3), Offset(10)}));
  EXPECT_EQ(log->EndOffsetForEpoch(LeaderEpoch(5)), (EpochEndOffset{LeaderEpoch(5), Offset(10)}));
  EXPECT_EQ(log->EndOffsetForEpoch(LeaderEpoch(7)), (EpochEndOffset{kNoLeaderEpoch, Offset(-1)}));
  ByteBuffer stale = MakeBatch(1, 10);
  auto fenced = log->AppendAsLeader(stale.span(), LeaderEpoch(2));
  EXPECT_EQ(StorageErrcOf(fenced.status()), Errc::kFencedLeaderEpoch);
  EXPECT_EQ(ToKafkaError(fenced.status()), KafkaError::kFencedLeaderEpoch);
  testing::Crash(log);
  log = OpenLog();
  // Persisted in leader-epoch-checkpoint; as in Kafka, an epoch that starts at the log end
  // (no data yet) is dropped on reopen, and a new leader assigns it again.
  EXPECT_EQ(log->EpochEntries().size(), 2u);
  EXPECT_EQ(log->LatestEpoch()->epoch, LeaderEpoch(3));
}

// compression.type naming a codec: the leader stores batches with it, whatever the producer
// sent; records read back unchanged; "producer" keeps the bytes; control batches are kept.
TEST_F(LogTest, CompressionType_RecompressesOnLeaderAppend) {
  auto codecs_of = [](Log& log) {
    std::vector<record::Compression> out;
    auto read = log.Read(Offset(0), 1 << 20);
    EXPECT_TRUE(read.ok());
    auto extents = record::SplitBatches(read->records.span());
    EXPECT_TRUE(extents.ok());
    for (const record::BatchExtent& e : *extents) {
      out.push_back(
          record::RecordBatchHeader::Parse(read->records.span().subspan(e.position)).compression());
    }
    return out;
  };
  auto log = OpenLog({.compression_type = record::Compression::kZstd});
  ByteBuffer gzip = MakeBatch(20, 100, 1, 1000, record::Compression::kGzip);
  ByteBuffer plain = MakeBatch(5, 100, 2, 1000, record::Compression::kNone);
  ByteBuffer zstd = MakeBatch(5, 100, 3, 1000, record::Compression::kZstd);
  const std::string zstd_bytes(zstd.view());
  ByteBuffer both;
  both.Append(gzip.span());
  both.Append(plain.span());
  ASSERT_TRUE(log->AppendAsLeader(both.span(), LeaderEpoch(0)).ok());
  ASSERT_TRUE(log->AppendAsLeader(zstd.span(), LeaderEpoch(0)).ok());
  EXPECT_EQ(codecs_of(*log), std::vector<record::Compression>(3, record::Compression::kZstd));
  auto records = testing::ReadAll(*log);
  ASSERT_EQ(records.size(), 30u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(records[i].offset, Offset(i));
    EXPECT_EQ(records[i].value, testing::ValueFor(1, i, 100));
  }
  EXPECT_EQ(records[20].value, testing::ValueFor(2, 0, 100));
  EXPECT_EQ(records[25].value, testing::ValueFor(3, 0, 100));
  // A batch already in the topic's codec is stored byte for byte (past the offset fields).
  auto read = log->Read(Offset(25), 1 << 20);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->records.view().substr(record::batch_layout::kMagic),
            std::string_view(zstd_bytes).substr(record::batch_layout::kMagic));

  // "uncompressed" decompresses; then a batch too large once decompressed is refused.
  auto flat = OpenLog({.max_message_bytes = 3000, .compression_type = record::Compression::kNone},
                      "flat-0");
  ByteBuffer small = MakeBatch(10, 100, 4, 1000, record::Compression::kLz4);
  ASSERT_TRUE(flat->AppendAsLeader(small.span(), LeaderEpoch(0)).ok());
  EXPECT_EQ(codecs_of(*flat), std::vector<record::Compression>{record::Compression::kNone});
  std::string repetitive(2000, 'x');
  ByteBuffer big =
      MakeKeyedBatch({{"a", repetitive}, {"b", repetitive}}, 1000, record::Compression::kGzip);
  ASSERT_LT(big.size(), 3000u);
  auto refused = flat->AppendAsLeader(big.span(), LeaderEpoch(0));
  EXPECT_EQ(record::RecordErrcOf(refused.status()), record::Errc::kBatchTooLarge);
  EXPECT_EQ(flat->LogEndOffset(), Offset(10));

  // "producer" (the default) keeps what arrived.
  auto kept = OpenLog({}, "kept-0");
  ByteBuffer snappy = MakeBatch(3, 50, 5, 1000, record::Compression::kSnappy);
  ASSERT_TRUE(kept->AppendAsLeader(snappy.span(), LeaderEpoch(0)).ok());
  EXPECT_EQ(codecs_of(*kept), std::vector<record::Compression>{record::Compression::kSnappy});
}

TEST_F(LogTest, Validation_RejectsAndWritesNothing) {
  auto log = OpenLog({.cleanup_policy = CleanupPolicy::kCompact, .max_message_bytes = 4000});
  ByteBuffer big = MakeBatch(10, 1000);
  EXPECT_EQ(record::RecordErrcOf(log->AppendAsLeader(big.span(), LeaderEpoch(0)).status()),
            record::Errc::kBatchTooLarge);
  ByteBuffer corrupt = MakeBatch(2, 10);
  corrupt.data()[70] ^= 1;
  EXPECT_EQ(record::RecordErrcOf(log->AppendAsLeader(corrupt.span(), LeaderEpoch(0)).status()),
            record::Errc::kCorruptBatch);
  ByteBuffer keyless = MakeKeyedBatch({{"a", "1"}});
  record::RecordBatchBuilder b({});
  b.Append(1, std::nullopt, "v");
  ByteBuffer no_key = *b.Build();
  EXPECT_EQ(record::RecordErrcOf(log->AppendAsLeader(no_key.span(), LeaderEpoch(0)).status()),
            record::Errc::kInvalidRecord);
  // One bad batch among good ones: none is written.
  ByteBuffer mixed;
  mixed.Append(keyless.span());
  mixed.Append(corrupt.span());
  EXPECT_FALSE(log->AppendAsLeader(mixed.span(), LeaderEpoch(0)).ok());
  EXPECT_EQ(log->LogEndOffset(), Offset(0));
  EXPECT_EQ(log->SizeBytes(), 0);
}

TEST_F(LogTest, DiskFull_AppendFailsLogStaysUsable) {
  auto log = OpenLog();
  Append(*log, 5);
  ASSERT_TRUE(log->WaitDurable(Offset(4), 10000).ok());
  int64_t size = log->SizeBytes();
  faulty_.set_path_filter(".log");
  faulty_.FailWritesWithNoSpace(/*prefix_bytes=*/100);  // a short write, then ENOSPC
  ByteBuffer batch = MakeBatch(5, 100, 7);
  auto failed = log->AppendAsLeader(batch.span(), LeaderEpoch(0));
  EXPECT_EQ(StorageErrcOf(failed.status()), Errc::kDiskFull);
  EXPECT_EQ(ToKafkaError(failed.status()), KafkaError::kKafkaStorageError);
  EXPECT_EQ(log->LogEndOffset(), Offset(5));
  EXPECT_EQ(log->SizeBytes(), size);
  auto file_size =
      PosixFilesystem().FileSize(dir_.Sub("test-0/" + Segment::FileName(Offset(0), ".log")));
  EXPECT_EQ(*file_size, size);  // the partial write was cut back
  EXPECT_EQ(ReadAll(*log).size(), 5u);
  EXPECT_FALSE(log->failed());
  faulty_.ClearFaults();
  AppendInfo info = Append(*log, 2);
  EXPECT_EQ(info.base_offset, Offset(5));
  ASSERT_TRUE(log->WaitDurable(info.last_offset, 10000).ok());
  testing::Crash(log);
  log = OpenLog();
  EXPECT_FALSE(log->recovery_report().cut.has_value());
  EXPECT_EQ(ReadAll(*log).size(), 7u);
}

TEST_F(LogTest, FsyncFailure_TakesTheLogOffline) {
  auto log = OpenLog();
  Append(*log, 2);
  ASSERT_TRUE(log->WaitDurable(Offset(1), 10000).ok());
  faulty_.FailSyncs();
  AppendInfo info = Append(*log, 2);
  absl::Status durable = log->WaitDurable(info.last_offset, 10000);
  EXPECT_EQ(StorageErrcOf(durable), Errc::kLogFailed);
  EXPECT_TRUE(log->failed());
  EXPECT_EQ(StorageErrcOf(log->AppendAsLeader(MakeBatch(1, 1).span(), LeaderEpoch(0)).status()),
            Errc::kLogFailed);
  faulty_.ClearFaults();
  testing::Crash(log);
  log = OpenLog();  // reopening recovers whatever reached the disk
  EXPECT_FALSE(log->failed());
  EXPECT_GE(log->LogEndOffset(), Offset(2));
  Offset end = log->LogEndOffset();
  EXPECT_EQ(Append(*log, 1).base_offset, end);
}

TEST_F(LogTest, UpdateConfig_TakesEffectForNextAppends) {
  auto log = OpenLog();
  for (int i = 0; i < 5; ++i) Append(*log, 2, 1000);
  EXPECT_EQ(log->Segments().size(), 1u);
  LogConfig smaller = log->config();
  smaller.segment_bytes = 4096;
  smaller.max_message_bytes = 4000;
  ASSERT_TRUE(log->UpdateConfig(smaller).ok());
  for (int i = 0; i < 5; ++i) Append(*log, 2, 1000);
  EXPECT_GT(log->Segments().size(), 3u);
  smaller.segment_bytes = 1;
  EXPECT_EQ(StorageErrcOf(log->UpdateConfig(smaller)), Errc::kInvalidConfig);
}

TEST_F(LogTest, ConcurrentReadsDuringAppends_SeeWholeBatchesOnly) {
  auto log = OpenLog({.segment_bytes = 64 * 1024});
  std::atomic<bool> done{false};
  std::atomic<int64_t> reads{0};
  std::thread reader([&] {
    Offset next(0);
    while (!done.load()) {
      auto r = log->Read(next, 8192);
      ASSERT_TRUE(r.ok()) << r.status();
      for (const auto& rec : testing::Records(*r)) {
        ASSERT_EQ(rec.value,
                  testing::ValueFor(rec.offset.value() / 4, rec.offset.value() % 4, 500));
      }
      next = r->next_offset;
      ++reads;
    }
  });
  for (int i = 0; i < 500; ++i) Append(*log, 4, 500, i);
  done = true;
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(ReadAll(*log).size(), 2000u);
}

}  // namespace
}  // namespace strand::storage
