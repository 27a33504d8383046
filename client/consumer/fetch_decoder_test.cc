// Tests decoding fetched bytes into ConsumerRecords: records before the fetch offset skipped,
// control batches and a trailing partial batch ignored, CRC checked, compressed batches' views
// kept alive by the records themselves.
#include "client/consumer/fetch_decoder.h"

#include <gtest/gtest.h>

#include "record/record_batch.h"
#include "record/record_batch_builder.h"

namespace strand::client {
namespace {

std::string Batch(int64_t base_offset, int count, record::Compression codec = {},
                  bool control = false) {
  record::BatchOptions options;
  options.base_offset = Offset(base_offset);
  options.compression = codec;
  options.control = control;
  record::RecordBatchBuilder b(options);
  for (int i = 0; i < count; ++i) {
    const std::string value = "v" + std::to_string(base_offset + i);
    const std::vector<record::RecordHeaderView> headers = {{"h", "x"}};
    b.Append(1000 + base_offset + i, "k", value, headers);
  }
  auto built = b.Build();
  EXPECT_TRUE(built.ok());
  return std::string(built->view());
}

auto Topic() { return std::make_shared<const std::string>("t"); }

TEST(DecodeFetchedRecords, SkipsBeforeFetchOffsetAndReportsNext) {
  auto bytes = std::make_shared<const std::string>(Batch(0, 5) + Batch(5, 5));
  auto d = DecodeFetchedRecords(bytes, Topic(), 3, 3, true);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->records.size(), 7u);
  EXPECT_EQ(d->records[0].offset(), 3);
  EXPECT_EQ(*d->records[0].value(), "v3");
  EXPECT_EQ(d->records[0].partition(), 3);
  EXPECT_EQ(d->records[0].topic(), "t");
  EXPECT_EQ(d->records[0].timestamp_ms(), 1003);
  ASSERT_EQ(d->records[0].headers().size(), 1u);
  EXPECT_EQ(d->records[0].headers()[0].key, "h");
  EXPECT_EQ(d->next_fetch_offset, 10);
}

TEST(DecodeFetchedRecords, PartialTrailingBatchIgnored) {
  std::string second = Batch(5, 5);
  auto bytes = std::make_shared<const std::string>(Batch(0, 5) + second.substr(0, 30));
  auto d = DecodeFetchedRecords(bytes, Topic(), 0, 0, true);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->records.size(), 5u);
  EXPECT_EQ(d->next_fetch_offset, 5);
}

TEST(DecodeFetchedRecords, ControlBatchSkippedButCounted) {
  auto bytes =
      std::make_shared<const std::string>(Batch(0, 2) + Batch(2, 1, {}, true) + Batch(3, 2));
  auto d = DecodeFetchedRecords(bytes, Topic(), 0, 0, true);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->records.size(), 4u);
  EXPECT_EQ(d->records[2].offset(), 3);
  EXPECT_EQ(d->next_fetch_offset, 5);
}

TEST(DecodeFetchedRecords, CorruptionDetected) {
  std::string bytes = Batch(0, 3);
  bytes[bytes.size() - 2] ^= 0x55;
  auto d = DecodeFetchedRecords(std::make_shared<const std::string>(bytes), Topic(), 0, 0, true);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(KafkaErrorOf(d.status()), KafkaError::kCorruptMessage);
}

TEST(DecodeFetchedRecords, CompressedViewsOutliveEverythingButTheRecord) {
  std::vector<ConsumerRecord> kept;
  for (int codec = 1; codec <= record::kCompressionCodecMax; ++codec) {
    auto bytes =
        std::make_shared<const std::string>(Batch(10, 20, static_cast<record::Compression>(codec)));
    auto d = DecodeFetchedRecords(bytes, Topic(), 0, 15, true);
    ASSERT_TRUE(d.ok()) << codec << ": " << d.status();
    ASSERT_EQ(d->records.size(), 15u);
    kept.push_back(d->records.back());
  }
  for (const ConsumerRecord& r : kept) {
    EXPECT_EQ(r.offset(), 29);
    EXPECT_EQ(*r.value(), "v29");
    EXPECT_EQ(*r.key(), "k");
  }
}

}  // namespace
}  // namespace strand::client
