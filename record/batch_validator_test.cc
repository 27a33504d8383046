// Tests every rejection of the batch validator, each with the specific Errc it must carry, and
// that the cheap modes skip what they promise to skip. Most cases build a good batch, break one
// field and (where the field is under the CRC) recompute the CRC, so that exactly one rule is
// violated.
#include "record/batch_validator.h"

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "common/big_endian.h"
#include "record/compression.h"
#include "record/errc.h"
#include "record/record_batch_builder.h"
#include "record/record_batch_reader.h"

namespace strand::record {
namespace {

namespace L = batch_layout;

std::vector<uint8_t> Good(int records = 3, BatchOptions options = {}) {
  RecordBatchBuilder b(options);
  for (int i = 0; i < records; ++i) b.Append(1000 + i, "k" + std::to_string(i), "value");
  auto built = b.Build();
  STRAND_CHECK(built.ok());
  return {built->data(), built->data() + built->size()};
}

// Applies `edit` to a good batch and fixes the CRC afterwards.
std::vector<uint8_t> Edited(const std::function<void(std::vector<uint8_t>&)>& edit,
                            std::vector<uint8_t> batch = Good()) {
  edit(batch);
  UpdateBatchCrc(batch);
  return batch;
}

std::optional<Errc> Check(const std::vector<uint8_t>& batch, ValidationOptions options = {}) {
  auto result = ValidateBatch(batch, options);
  if (result.ok()) return std::nullopt;
  return RecordErrcOf(result.status());
}

TEST(BatchValidator, GoodBatch_PassesEveryMode) {
  for (auto mode : {ValidationMode::kProduce, ValidationMode::kReplica, ValidationMode::kStored}) {
    auto summary = ValidateBatch(Good(), {.mode = mode});
    ASSERT_TRUE(summary.ok()) << summary.status();
    EXPECT_TRUE(summary->records_walked);
    EXPECT_EQ(summary->max_record_timestamp, 1002);
    EXPECT_EQ(summary->max_timestamp_offset_delta, 2);
  }
}

TEST(BatchValidator, Size_ShorterThanHeader) {
  auto batch = Good();
  batch.resize(L::kHeaderSize - 1);
  EXPECT_EQ(Check(batch), Errc::kCorruptBatch);
}

TEST(BatchValidator, Size_LengthFieldDisagrees) {
  auto batch = Good();
  batch.push_back(0);
  EXPECT_EQ(Check(batch), Errc::kCorruptBatch);
  batch = Good();
  StoreBigEndian32(batch.data() + L::kLength, 0xFFFFFFF0u);  // negative
  EXPECT_EQ(Check(batch), Errc::kCorruptBatch);
}

TEST(BatchValidator, Magic_OnlyTwo) {
  for (uint8_t magic : {0, 1, 3}) {
    auto batch = Good();
    batch[L::kMagic] = magic;
    EXPECT_EQ(Check(batch), Errc::kUnsupportedMagic) << int{magic};
  }
}

TEST(BatchValidator, Size_AboveMaxMessageBytes) {
  auto batch = Good();
  EXPECT_EQ(Check(batch, {.batch_bytes_max = static_cast<int64_t>(batch.size()) - 1}),
            Errc::kBatchTooLarge);
  EXPECT_EQ(Check(batch, {.batch_bytes_max = static_cast<int64_t>(batch.size())}), std::nullopt);
}

TEST(BatchValidator, Crc_AnyFlippedBitUnderTheCrc) {
  auto good = Good();
  for (size_t pos = L::kAttributes; pos < good.size(); pos += 7) {
    auto batch = good;
    batch[pos] ^= 0x10;
    EXPECT_EQ(Check(batch), Errc::kCorruptBatch) << pos;
  }
  auto batch = good;
  batch[L::kCrc] ^= 1;
  EXPECT_EQ(Check(batch), Errc::kCorruptBatch);
}

TEST(BatchValidator, Attributes_UnknownCodec) {
  for (uint16_t codec : {5, 6, 7}) {
    auto batch =
        Edited([&](auto& b) { b[L::kAttributes + 1] = (b[L::kAttributes + 1] & ~7) | codec; });
    EXPECT_EQ(Check(batch), Errc::kCorruptBatch) << codec;
  }
}

TEST(BatchValidator, Attributes_ControlBatchOnlyFromCoordinators) {
  auto control = Good(1, {.control = true});
  EXPECT_EQ(Check(control), Errc::kInvalidRecord);
  EXPECT_EQ(Check(control, {.allow_control = true}), std::nullopt);
  EXPECT_EQ(Check(control, {.mode = ValidationMode::kReplica}), std::nullopt);
  EXPECT_EQ(Check(Good(2, {.control = true}), {.allow_control = true}), Errc::kInvalidRecord);
}

TEST(BatchValidator, Attributes_TransactionalNeedsProducerId) {
  EXPECT_EQ(Check(Good(1, {.transactional = true})), Errc::kInvalidRecord);
  EXPECT_EQ(Check(Good(1, {.producer_id = ProducerId(5), .transactional = true})), std::nullopt);
}

TEST(BatchValidator, Counts_ProducerBatchMustBeExact) {
  auto more = Edited([](auto& b) { StoreBigEndian32(b.data() + L::kLastOffsetDelta, 3); });
  EXPECT_EQ(Check(more), Errc::kInvalidRecord);
  // A replica may carry a compacted batch whose range exceeds its count.
  EXPECT_EQ(Check(more, {.mode = ValidationMode::kReplica}), std::nullopt);
  auto empty = Edited([](auto& b) { StoreBigEndian32(b.data() + L::kRecordCount, 0); }, Good(1));
  empty.resize(L::kHeaderSize);
  StoreBigEndian32(empty.data() + L::kLength, L::kHeaderSize - L::kLogOverhead);
  UpdateBatchCrc(empty);
  EXPECT_EQ(Check(empty), Errc::kInvalidRecord);
  EXPECT_EQ(Check(empty, {.mode = ValidationMode::kStored}), std::nullopt);
}

TEST(BatchValidator, Counts_MoreRecordsThanOffsets) {
  auto batch = Edited([](auto& b) { StoreBigEndian32(b.data() + L::kLastOffsetDelta, 1); });
  EXPECT_EQ(Check(batch, {.mode = ValidationMode::kReplica}), Errc::kCorruptBatch);
}

TEST(BatchValidator, Counts_Negative) {
  auto batch = Edited([](auto& b) { StoreBigEndian32(b.data() + L::kRecordCount, 0xFFFFFFFFu); });
  EXPECT_EQ(Check(batch), Errc::kCorruptBatch);
  batch = Edited([](auto& b) { StoreBigEndian32(b.data() + L::kLastOffsetDelta, 0xFFFFFFFFu); });
  EXPECT_EQ(Check(batch, {.mode = ValidationMode::kReplica}), Errc::kCorruptBatch);
}

TEST(BatchValidator, Counts_CannotFitTheBytes) {
  auto batch = Edited([](auto& b) {
    StoreBigEndian32(b.data() + L::kRecordCount, 1000);
    StoreBigEndian32(b.data() + L::kLastOffsetDelta, 999);
  });
  EXPECT_EQ(Check(batch, {.walk_records = false}), Errc::kCorruptBatch);
}

TEST(BatchValidator, Offsets_ReplicaNegativeBase) {
  auto batch = Good();
  SetBaseOffset(batch, Offset(-5));
  EXPECT_EQ(Check(batch, {.mode = ValidationMode::kReplica}), Errc::kCorruptBatch);
  EXPECT_EQ(Check(batch), std::nullopt);  // producers' base offsets are overwritten anyway
}

// Found by batch_validator_fuzz: a producer batch with base offset INT64_MAX was accepted (its
// base offset is overwritten on append), and the reader then overflowed computing its records'
// offsets. Now every mode refuses offsets past the maximum, and the reader does too.
TEST(BatchValidator, Offsets_PastTheMaximumInEveryMode) {
  auto batch = Good();  // last offset delta 2
  SetBaseOffset(batch, Offset(INT64_MAX - 1));
  for (auto mode : {ValidationMode::kProduce, ValidationMode::kReplica, ValidationMode::kStored}) {
    EXPECT_EQ(Check(batch, {.mode = mode}), Errc::kCorruptBatch);
  }
  auto decoded = DecodedBatch::Decode(batch, 1 << 20);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(RecordErrcOf(decoded.status()), Errc::kCorruptBatch);
  SetBaseOffset(batch, Offset(INT64_MAX - 3));  // the last record at INT64_MAX - 1: fine
  EXPECT_EQ(Check(batch, {.mode = ValidationMode::kReplica}), std::nullopt);
  EXPECT_TRUE(DecodedBatch::Decode(batch, 1 << 20).ok());
}

TEST(BatchValidator, Timestamps_BelowMinusOne) {
  auto batch = Edited([](auto& b) { StoreBigEndian64(b.data() + L::kMaxTimestamp, -2); });
  EXPECT_EQ(Check(batch), Errc::kInvalidTimestamp);
}

TEST(BatchValidator, Timestamps_OutsideTheWindow) {
  auto batch = Good();  // timestamps 1000..1002
  ValidationOptions o{.now_ms = 10000, .timestamp_before_max_ms = 5000};
  EXPECT_EQ(Check(batch, o), Errc::kInvalidTimestamp);
  o.timestamp_before_max_ms = 9001;
  EXPECT_EQ(Check(batch, o), std::nullopt);
  o = {.now_ms = 0, .timestamp_after_max_ms = 1001};
  EXPECT_EQ(Check(batch, o), Errc::kInvalidTimestamp);
  o.walk_records = false;  // the header's max timestamp alone is still checked
  EXPECT_EQ(Check(batch, o), Errc::kInvalidTimestamp);
  o.timestamp_after_max_ms = 1002;
  EXPECT_EQ(Check(batch, o), std::nullopt);
}

TEST(BatchValidator, Records_DeltasOutOfOrder) {
  RecordBatchBuilder b({});
  b.AppendWithOffsetDelta(0, 1, "a", "1");
  b.AppendWithOffsetDelta(2, 1, "b", "2");
  auto built = b.Build();
  ASSERT_TRUE(built.ok());
  std::vector<uint8_t> batch(built->data(), built->data() + built->size());
  // Producer: count 2 but last delta 2 -> the header rule fires first.
  EXPECT_EQ(Check(batch), Errc::kInvalidRecord);
  // Make the header consistent (last delta 1) so that only the record walk can object.
  StoreBigEndian32(batch.data() + L::kLastOffsetDelta, 1);
  UpdateBatchCrc(batch);
  EXPECT_EQ(Check(batch), Errc::kInvalidRecord);
  EXPECT_EQ(Check(batch, {.walk_records = false}), std::nullopt);
  // Replica: a delta beyond lastOffsetDelta is refused.
  EXPECT_EQ(Check(batch, {.mode = ValidationMode::kReplica}), Errc::kInvalidRecord);
}

TEST(BatchValidator, Records_KeysRequiredForCompactedTopics) {
  RecordBatchBuilder b({});
  b.Append(1, "k", "v");
  b.Append(2, std::nullopt, "v");
  auto built = b.Build();
  ASSERT_TRUE(built.ok());
  std::vector<uint8_t> batch(built->data(), built->data() + built->size());
  EXPECT_EQ(Check(batch, {.require_keys = true}), Errc::kInvalidRecord);
  EXPECT_EQ(Check(batch), std::nullopt);
}

TEST(BatchValidator, Records_MalformedInsideAValidCrc) {
  // Truncate the last record's value by rewriting its length prefix.
  auto batch = Edited([](auto& b) { b[L::kRecords] = 0x02; });  // first record length 1
  EXPECT_EQ(Check(batch), Errc::kCorruptBatch);
  EXPECT_EQ(Check(batch, {.walk_records = false}), std::nullopt);  // the cheap mode trusts CRC
  // Fewer records than the count says.
  auto fewer = Edited([](auto& b) {
    StoreBigEndian32(b.data() + L::kRecordCount, 4);
    StoreBigEndian32(b.data() + L::kLastOffsetDelta, 3);
  });
  EXPECT_EQ(Check(fewer), Errc::kCorruptBatch);
  // Bytes after the last record.
  auto extra = Good();
  extra.push_back(0);
  StoreBigEndian32(extra.data() + L::kLength, static_cast<uint32_t>(extra.size() - 12));
  UpdateBatchCrc(extra);
  EXPECT_EQ(Check(extra), Errc::kCorruptBatch);
}

TEST(BatchValidator, Compressed_GarbageAndBombs) {
  auto garbage =
      Edited([](auto& b) { b[L::kAttributes + 1] |= static_cast<uint8_t>(Compression::kZstd); });
  EXPECT_EQ(Check(garbage), Errc::kCorruptBatch);
  EXPECT_EQ(Check(garbage, {.walk_compressed_records = false}), std::nullopt);

  RecordBatchBuilder b({.compression = Compression::kZstd});
  b.Append(1, "k", std::string(1 << 20, 'x'));
  auto bomb = b.Build();
  ASSERT_TRUE(bomb.ok());
  std::vector<uint8_t> batch(bomb->data(), bomb->data() + bomb->size());
  EXPECT_LT(batch.size(), 10000u);
  EXPECT_EQ(Check(batch, {.decompressed_bytes_max = 1 << 16}), Errc::kCorruptBatch);
  EXPECT_EQ(Check(batch, {.decompressed_bytes_max = 2 << 20}), std::nullopt);
}

TEST(BatchValidator, SplitBatches_FindsEachAndRejectsTruncation) {
  auto one = Good(1), two = Good(2);
  std::vector<uint8_t> both(one);
  both.insert(both.end(), two.begin(), two.end());
  auto extents = SplitBatches(both);
  ASSERT_TRUE(extents.ok());
  ASSERT_EQ(extents->size(), 2u);
  EXPECT_EQ((*extents)[1].position, one.size());
  EXPECT_EQ((*extents)[1].size, two.size());
  both.pop_back();
  EXPECT_EQ(RecordErrcOf(SplitBatches(both).status()), Errc::kCorruptBatch);
  std::vector<uint8_t> stub(30, 0);
  EXPECT_EQ(RecordErrcOf(SplitBatches(stub).status()), Errc::kCorruptBatch);
  EXPECT_TRUE(SplitBatches({}).ok());
  EXPECT_EQ(RecordErrcOf(SplitBatches(Good(1), 0).status()), Errc::kInvalidRecord);
}

}  // namespace
}  // namespace strand::record
