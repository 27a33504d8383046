// Tests ProducerBatch: records encoded in place decode back (every codec), the capacity bound,
// the header a broker checks (CRC, counts, timestamps, producer fields), Stamp rewriting the
// producer fields with a valid CRC, and callbacks with offsets.
#include "client/producer/producer_batch.h"

#include <gtest/gtest.h>

#include "record/batch_validator.h"
#include "record/record_batch_reader.h"

namespace strand::client {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(ProducerBatch, EveryCodecRoundTrips) {
  for (int codec = 0; codec <= record::kCompressionCodecMax; ++codec) {
    ProducerBatch batch({"t", 0}, 16384, 16384, 0);
    SendCallback none;
    const std::vector<record::RecordHeaderView> headers = {{"h", "v"}, {"null", std::nullopt}};
    ASSERT_TRUE(batch.TryAppend(1000, "k0", "value-0", headers, none));
    ASSERT_TRUE(batch.TryAppend(999, std::nullopt, "value-1", {}, none));  // earlier timestamp
    ASSERT_TRUE(batch.TryAppend(1005, "k2", std::nullopt, {}, none));      // tombstone
    ASSERT_TRUE(batch.Seal(static_cast<record::Compression>(codec), 0).ok());
    record::ValidationOptions options;
    auto summary = record::ValidateBatch(Bytes(batch.wire()), options);
    ASSERT_TRUE(summary.ok()) << codec << ": " << summary.status();
    EXPECT_EQ(summary->header.record_count, 3);
    EXPECT_EQ(summary->header.compression_codec(), codec);
    EXPECT_EQ(summary->header.base_timestamp, 1000);
    EXPECT_EQ(summary->header.max_timestamp, 1005);
    auto decoded = record::DecodedBatch::Decode(Bytes(batch.wire()), 1 << 20);
    ASSERT_TRUE(decoded.ok());
    const auto& r = decoded->records();
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(*r[0].key, "k0");
    EXPECT_EQ(*r[0].value, "value-0");
    ASSERT_EQ(r[0].headers.size(), 2u);
    EXPECT_EQ(r[0].headers[0].key, "h");
    EXPECT_FALSE(r[0].headers[1].value.has_value());
    EXPECT_FALSE(r[1].key.has_value());
    EXPECT_EQ(r[1].timestamp, 999);
    EXPECT_FALSE(r[2].value.has_value());
    EXPECT_EQ(r[2].offset.value(), 2);
  }
}

TEST(ProducerBatch, CapacityBoundsAppends) {
  ProducerBatch batch({"t", 0}, 200, 200, 0);
  SendCallback none;
  const std::string value(50, 'x');
  int appended = 0;
  while (batch.TryAppend(0, std::nullopt, value, {}, none)) ++appended;
  EXPECT_GE(appended, 2);
  EXPECT_LE(batch.wire_size_bytes(), 200u);
  // A first record larger than the capacity still fits: the batch was sized for it.
  ProducerBatch big({"t", 0}, 10, 10, 0);
  EXPECT_TRUE(big.TryAppend(0, std::nullopt, std::string(1000, 'y'), {}, none));
}

TEST(ProducerBatch, StampRewritesProducerFieldsWithValidCrc) {
  ProducerBatch batch({"t", 0}, 1024, 1024, 0);
  SendCallback none;
  batch.Stamp(42, 3, 100);
  ASSERT_TRUE(batch.TryAppend(0, "k", "v", {}, none));
  ASSERT_TRUE(batch.Seal(record::Compression::kLz4, 0).ok());
  record::ValidationOptions options;
  auto summary = record::ValidateBatch(Bytes(batch.wire()), options);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->header.producer_id.value(), 42);
  EXPECT_EQ(summary->header.producer_epoch.value(), 3);
  EXPECT_EQ(summary->header.base_sequence, 100);
  batch.Stamp(43, 0, 0);
  summary = record::ValidateBatch(Bytes(batch.wire()), options);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->header.producer_id.value(), 43);
  EXPECT_EQ(summary->header.base_sequence, 0);
}

TEST(ProducerBatch, CallbacksGetOffsetsOrTheError) {
  ProducerBatch batch({"orders", 2}, 1024, 1024, 0);
  std::vector<int64_t> offsets;
  for (int i = 0; i < 3; ++i) {
    SendCallback cb = [&](const absl::StatusOr<RecordMetadata>& m) {
      ASSERT_TRUE(m.ok());
      EXPECT_EQ(m->topic, "orders");
      EXPECT_EQ(m->partition, 2);
      EXPECT_EQ(m->timestamp_ms, 77);
      offsets.push_back(m->offset);
    };
    ASSERT_TRUE(batch.TryAppend(77, std::nullopt, "v", {}, cb));
  }
  ASSERT_TRUE(batch.Seal(record::Compression::kNone, 0).ok());
  batch.Complete(absl::OkStatus(), 40, -1);
  EXPECT_EQ(offsets, (std::vector<int64_t>{40, 41, 42}));
  batch.Complete(absl::OkStatus(), 40, -1);  // once only
  EXPECT_EQ(offsets.size(), 3u);

  ProducerBatch failed({"orders", 2}, 1024, 1024, 0);
  int errors = 0;
  SendCallback cb = [&](const absl::StatusOr<RecordMetadata>& m) {
    EXPECT_EQ(KafkaErrorOf(m.status()), KafkaError::kMessageTooLarge);
    ++errors;
  };
  ASSERT_TRUE(failed.TryAppend(0, std::nullopt, "v", {}, cb));
  failed.Complete(KafkaStatus(KafkaError::kMessageTooLarge, "too big"), -1, -1);
  EXPECT_EQ(errors, 1);
}

}  // namespace
}  // namespace strand::client
