// Corruption tests on real files: a byte flipped, a file truncated mid-batch, an index or a
// checkpoint deleted or garbled — in the active segment (above the recovery point: recovery
// scans it and cuts) and in sealed segments (below it: the damage is found by a cheap open-time
// check or by the CRC check on read). In every case the log opens, the report (or the read
// error) names what was found and where, and nothing corrupt is ever served.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "common/big_endian.h"
#include "record/record_batch.h"
#include "storage/errc.h"
#include "storage/flusher.h"
#include "storage/log.h"
#include "storage/testing/test_util.h"

namespace strand::storage {
namespace {

using testing::MakeBatch;
using testing::ReadAll;
using testing::TempDir;

constexpr int kBatches = 30;
constexpr int kRecordsPerBatch = 4;  // batch i holds offsets 4i .. 4i+3

class CorruptionTest : public ::testing::Test {
 protected:
  CorruptionTest() : flusher_(1) { testing::QuietLogs(); }

  std::shared_ptr<Log> Open() {
    LogOptions options;
    options.flusher = &flusher_;
    auto log = Log::Open(dir(), LogConfig{.segment_bytes = 8192}, options);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *log : nullptr;
  }

  // A log of kBatches batches over several segments; closed cleanly or left as a crash does.
  void Write(bool clean) {
    auto log = Open();
    for (int i = 0; i < kBatches; ++i) {
      ByteBuffer batch = MakeBatch(kRecordsPerBatch, 300, i);
      ASSERT_TRUE(log->AppendAsLeader(batch.span(), LeaderEpoch(1)).ok());
    }
    ASSERT_TRUE(log->Flush().ok());
    segments_ = log->Segments();
    ASSERT_GE(segments_.size(), 4u);
    if (clean) {
      ASSERT_TRUE(log->Close().ok());
    } else {
      testing::Crash(log);
    }
  }

  std::string dir() const { return tmp_.Sub("p-0"); }
  std::string SegmentPath(const SegmentInfo& s, const char* suffix = ".log") const {
    return dir() + "/" + Segment::FileName(s.base_offset, suffix);
  }
  const SegmentInfo& Active() const { return segments_.back(); }
  const SegmentInfo& Sealed() const { return segments_[1]; }

  // The file position of the batch holding `offset` in segment `s`.
  int64_t PositionOf(const SegmentInfo& s, Offset offset) const {
    int fd = ::open(SegmentPath(s).c_str(), O_RDONLY);
    int64_t position = 0;
    uint8_t header[record::batch_layout::kHeaderSize];
    while (::pread(fd, header, sizeof header, position) == sizeof header) {
      record::RecordBatchHeader h = record::RecordBatchHeader::Parse(header);
      if (h.last_offset() >= offset) break;
      position += h.size_bytes();
    }
    ::close(fd);
    return position;
  }

  static void FlipByte(const std::string& path, int64_t at) {
    int fd = ::open(path.c_str(), O_RDWR);
    uint8_t b;
    ASSERT_EQ(::pread(fd, &b, 1, at), 1);
    b ^= 0x5a;
    ASSERT_EQ(::pwrite(fd, &b, 1, at), 1);
    ::close(fd);
  }

  static void Truncate(const std::string& path, int64_t size) {
    ASSERT_EQ(::truncate(path.c_str(), size), 0);
  }

  // Every offset below `end` reads back intact (the checked read would fail otherwise).
  static void ExpectIntactUpTo(Log& log, Offset end) {
    auto records = ReadAll(log, Offset(0));
    ASSERT_GE(records.size(), static_cast<size_t>(end.value()));
    for (int64_t o = 0; o < end.value(); ++o) {
      int batch = static_cast<int>(o / kRecordsPerBatch);
      ASSERT_EQ(records[o].offset, Offset(o));
      ASSERT_EQ(records[o].value, testing::ValueFor(batch, o % kRecordsPerBatch, 300));
    }
  }

  TempDir tmp_;
  Flusher flusher_;
  std::vector<SegmentInfo> segments_;
};

TEST_F(CorruptionTest, FlippedByteInTheActiveSegment_CutThereAndReported) {
  Write(/*clean=*/false);
  Offset victim = Active().base_offset + kRecordsPerBatch;  // the active segment's 2nd batch
  FlipByte(SegmentPath(Active()), PositionOf(Active(), victim) + 80);
  auto log = Open();
  const RecoveryReport& r = log->recovery_report();
  ASSERT_TRUE(r.cut.has_value()) << r.ToString();
  EXPECT_EQ(r.cut->offset, victim);
  EXPECT_EQ(r.cut->segment_base, Active().base_offset);
  EXPECT_NE(r.cut->reason.find("CRC-32C mismatch"), std::string::npos) << r.cut->reason;
  EXPECT_GT(r.cut->bytes_removed, 0);
  EXPECT_EQ(log->LogEndOffset(), victim);
  ExpectIntactUpTo(*log, victim);
  EXPECT_EQ(StorageErrcOf(log->Read(victim + 1, 100).status()), Errc::kOffsetOutOfRange);
  // Appends continue at the cut.
  ByteBuffer batch = MakeBatch(2, 10);
  auto info = log->AppendAsLeader(batch.span(), LeaderEpoch(1));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->base_offset, victim);
}

TEST_F(CorruptionTest, FlippedByteInASealedSegment_NeverServedAndNamed) {
  Write(/*clean=*/true);
  Offset victim = Sealed().base_offset + kRecordsPerBatch;
  FlipByte(SegmentPath(Sealed()), PositionOf(Sealed(), victim) + 100);
  auto log = Open();
  EXPECT_FALSE(log->recovery_report().cut.has_value());  // below the recovery point: no scan
  EXPECT_EQ(log->LogEndOffset(), Offset(kBatches * kRecordsPerBatch));
  // Reads up to the bad batch stop before it; the bad batch itself is refused by offset.
  auto before = log->Read(Sealed().base_offset, 1 << 20);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->next_offset, victim);
  for (Offset o = victim; o < victim + kRecordsPerBatch; ++o) {
    auto bad = log->Read(o, 1 << 20);
    ASSERT_EQ(StorageErrcOf(bad.status()), Errc::kCorruptLog) << o;
    EXPECT_NE(std::string(MessageOf(bad.status())).find("offset " + std::to_string(victim.value())),
              std::string::npos)
        << MessageOf(bad.status());
    EXPECT_EQ(ToKafkaError(bad.status()), KafkaError::kKafkaStorageError);
  }
  // The rest of the log is served.
  auto after = log->Read(victim + kRecordsPerBatch, 1 << 20);
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->records.empty());
  // A scrub finds it too.
  auto scrub = log->Scrub();
  ASSERT_TRUE(scrub.ok());
  EXPECT_EQ(*scrub, std::vector<Offset>{victim});
}

TEST_F(CorruptionTest, ActiveSegmentTruncatedMidBatch_TornTailCut) {
  Write(/*clean=*/false);
  Offset victim = Active().base_offset + 2 * kRecordsPerBatch;
  int64_t position = PositionOf(Active(), victim);
  Truncate(SegmentPath(Active()), position + 30);
  auto log = Open();
  const RecoveryReport& r = log->recovery_report();
  ASSERT_TRUE(r.cut.has_value()) << r.ToString();
  EXPECT_EQ(r.cut->offset, victim);
  EXPECT_EQ(r.cut->position, position);
  EXPECT_EQ(r.cut->bytes_removed, 30);
  EXPECT_NE(r.cut->reason.find("torn"), std::string::npos) << r.cut->reason;
  EXPECT_EQ(log->LogEndOffset(), victim);
  ExpectIntactUpTo(*log, victim);
}

TEST_F(CorruptionTest, SealedSegmentTruncatedMidBatch_DamageReportedNotServed) {
  Write(/*clean=*/true);
  Offset victim = Sealed().base_offset + kRecordsPerBatch;
  int64_t position = PositionOf(Sealed(), victim);
  Truncate(SegmentPath(Sealed()), position + 100);
  auto log = Open();
  const RecoveryReport& r = log->recovery_report();
  ASSERT_EQ(r.damaged_segments.size(), 1u) << r.ToString();
  EXPECT_NE(r.damaged_segments[0].find("offset " + std::to_string(victim.value())),
            std::string::npos)
      << r.damaged_segments[0];
  EXPECT_EQ(log->LogEndOffset(), Offset(kBatches * kRecordsPerBatch));  // later data stays
  auto before = log->Read(Sealed().base_offset, 1 << 20);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->next_offset, victim);
  // The lost offsets are refused rather than silently skipped to the next segment.
  EXPECT_EQ(StorageErrcOf(log->Read(victim, 1 << 20).status()), Errc::kCorruptLog);
  EXPECT_EQ(StorageErrcOf(log->Read(segments_[2].base_offset - 1, 1 << 20).status()),
            Errc::kCorruptLog);
  EXPECT_TRUE(log->Read(segments_[2].base_offset, 1 << 20).ok());
}

TEST_F(CorruptionTest, DeletedIndexes_RebuiltAndReported) {
  Write(/*clean=*/true);
  ASSERT_TRUE(std::filesystem::remove(SegmentPath(Sealed(), ".index")));
  ASSERT_TRUE(std::filesystem::remove(SegmentPath(segments_[2], ".timeindex")));
  ASSERT_TRUE(std::filesystem::remove(SegmentPath(Active(), ".index")));
  auto log = Open();
  const RecoveryReport& r = log->recovery_report();
  EXPECT_EQ(r.indexes_rebuilt.size(), 2u) << r.ToString();
  EXPECT_FALSE(r.clean_shutdown);  // the active segment's index was gone: it was scanned
  EXPECT_FALSE(r.cut.has_value());
  EXPECT_TRUE(std::filesystem::exists(SegmentPath(Sealed(), ".index")));
  EXPECT_TRUE(std::filesystem::exists(SegmentPath(segments_[2], ".timeindex")));
  ExpectIntactUpTo(*log, Offset(kBatches * kRecordsPerBatch));
  auto ts = log->OffsetForTimestamp(1000 + 2);
  ASSERT_TRUE(ts.ok() && ts->has_value());
}

TEST_F(CorruptionTest, GarbledIndexAndCheckpoints_RebuiltFromTheLog) {
  Write(/*clean=*/true);
  // An index whose last entry points past its segment, a garbled checkpoint, a torn epoch file.
  {
    std::FILE* f = std::fopen(SegmentPath(Sealed(), ".index").c_str(), "ab");
    uint8_t entry[8];
    StoreBigEndian32(entry, 1);
    StoreBigEndian32(entry + 4, 1 << 30);
    std::fwrite(entry, 1, sizeof entry, f);
    std::fclose(f);
  }
  FlipByte(dir() + "/log.checkpoint", 30);
  Truncate(dir() + "/leader-epoch-checkpoint", 3);
  auto log = Open();
  const RecoveryReport& r = log->recovery_report();
  EXPECT_FALSE(r.warnings.empty()) << r.ToString();
  EXPECT_EQ(r.segments_scanned, static_cast<int32_t>(segments_.size()));  // no recovery point
  EXPECT_FALSE(r.cut.has_value());
  ExpectIntactUpTo(*log, Offset(kBatches * kRecordsPerBatch));
  ASSERT_TRUE(log->LatestEpoch().has_value());
  EXPECT_EQ(log->LatestEpoch()->epoch, LeaderEpoch(1));
}

TEST_F(CorruptionTest, GarbageAfterTheLastBatch_Cut) {
  Write(/*clean=*/false);
  int64_t size = Active().size_bytes;  // the file may be longer: preallocated space
  {
    std::FILE* f = std::fopen(SegmentPath(Active()).c_str(), "ab");
    for (int i = 0; i < 200; ++i) std::fputc(0x40 + i % 50, f);
    std::fclose(f);
  }
  auto log = Open();
  const RecoveryReport& r = log->recovery_report();
  ASSERT_TRUE(r.cut.has_value()) << r.ToString();
  EXPECT_EQ(r.cut->position, size);
  // The garbage, and any preallocated (zero) space before it.
  EXPECT_GE(r.cut->bytes_removed, 200);
  EXPECT_EQ(log->LogEndOffset(), Offset(kBatches * kRecordsPerBatch));
  EXPECT_EQ(static_cast<int64_t>(std::filesystem::file_size(SegmentPath(Active()))), size);
}

}  // namespace
}  // namespace strand::storage
