// Tests RecordBatchBuilder: every codec builds a batch that validates and decodes back to the
// same records; explicit offset deltas (the cleaner's) keep offsets; the delete horizon moves the
// base timestamp without changing record timestamps; LogAppendTime and control/transactional
// attributes land in the header.
#include "record/record_batch_builder.h"

#include <gtest/gtest.h>

#include "record/batch_validator.h"
#include "record/compression.h"
#include "record/record_batch_reader.h"

namespace strand::record {
namespace {

TEST(RecordBatchBuilder, EveryCodec_ValidatesAndDecodes) {
  for (int c = 0; c <= kCompressionCodecMax; ++c) {
    auto codec = static_cast<Compression>(c);
    SCOPED_TRACE(CompressionName(codec));
    RecordBatchBuilder b({.compression = codec,
                          .producer_id = ProducerId(7),
                          .producer_epoch = ProducerEpoch(1),
                          .base_sequence = 10});
    std::vector<RecordHeaderView> headers = {{"h", "v"}};
    for (int i = 0; i < 100; ++i) {
      std::string key = "key-" + std::to_string(i % 10);
      std::string value(100 + i, static_cast<char>('a' + i % 26));
      b.Append(1000 + i * 3 - (i % 2) * 5, key, i == 50 ? std::nullopt : std::optional(value),
               i % 3 == 0 ? std::span<const RecordHeaderView>(headers)
                          : std::span<const RecordHeaderView>());
    }
    auto batch = b.Build();
    ASSERT_TRUE(batch.ok()) << batch.status();
    auto summary = ValidateBatch(batch->span(), {.mode = ValidationMode::kProduce});
    ASSERT_TRUE(summary.ok()) << summary.status();
    EXPECT_EQ(summary->header.record_count, 100);
    EXPECT_EQ(summary->header.last_offset_delta, 99);
    EXPECT_EQ(summary->header.base_timestamp, 1000);
    EXPECT_EQ(summary->header.max_timestamp, 1000 + 98 * 3);
    EXPECT_EQ(summary->max_record_timestamp, summary->header.max_timestamp);
    EXPECT_EQ(summary->header.producer_id, ProducerId(7));
    auto decoded = DecodedBatch::Decode(batch->span(), 1 << 20);
    ASSERT_TRUE(decoded.ok());
    ASSERT_EQ(decoded->records().size(), 100u);
    EXPECT_EQ(decoded->records()[50].value, std::nullopt);
    EXPECT_EQ(decoded->records()[3].headers.size(), 1u);
    EXPECT_EQ(decoded->records()[99].key, "key-9");
    EXPECT_EQ(decoded->records()[7].timestamp, 1000 + 7 * 3 - 5);
  }
}

TEST(RecordBatchBuilder, ExplicitOffsetDeltas_KeepOffsets) {
  RecordBatchBuilder b({.base_offset = Offset(1000)});
  b.AppendWithOffsetDelta(3, 10, "a", "1");
  b.AppendWithOffsetDelta(9, 11, "b", "2");
  b.set_last_offset_delta(12);
  auto batch = b.Build();
  ASSERT_TRUE(batch.ok());
  auto summary = ValidateBatch(batch->span(), {.mode = ValidationMode::kReplica});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->header.last_offset(), Offset(1012));
  auto decoded = DecodedBatch::Decode(batch->span(), 1 << 20);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->records()[0].offset, Offset(1003));
  EXPECT_EQ(decoded->records()[1].offset, Offset(1009));
  // A producer batch must be gap-free; this one is not.
  EXPECT_FALSE(ValidateBatch(batch->span(), {.mode = ValidationMode::kProduce}).ok());
}

TEST(RecordBatchBuilder, DeleteHorizon_KeepsRecordTimestamps) {
  RecordBatchBuilder b({.delete_horizon_ms = 5000});
  b.Append(1234, "k", std::nullopt);
  auto batch = b.Build();
  ASSERT_TRUE(batch.ok());
  auto decoded = DecodedBatch::Decode(batch->span(), 1 << 20);
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->header().has_delete_horizon());
  EXPECT_EQ(decoded->header().base_timestamp, 5000);
  EXPECT_EQ(decoded->records()[0].timestamp, 1234);
}

TEST(RecordBatchBuilder, LogAppendTimeControlAndTransactional) {
  RecordBatchBuilder b({.timestamp_type = TimestampType::kLogAppendTime,
                        .log_append_time_ms = 777,
                        .producer_id = ProducerId(1),
                        .transactional = true,
                        .control = true});
  b.Append(5, "\x00\x00\x00\x00", "\x00\x00\x00\x00\x00\x00");
  auto batch = b.Build();
  ASSERT_TRUE(batch.ok());
  RecordBatchHeader h = RecordBatchHeader::Parse(batch->span());
  EXPECT_EQ(h.timestamp_type(), TimestampType::kLogAppendTime);
  EXPECT_EQ(h.max_timestamp, 777);
  EXPECT_TRUE(h.is_control());
  EXPECT_TRUE(h.is_transactional());
  EXPECT_EQ(ComputeBatchCrc(batch->span()), h.crc);
}

}  // namespace
}  // namespace strand::record
