// Tests LogConfig: Kafka-named properties parse onto a base config, every bound is enforced,
// unknown names and malformed values are refused with INVALID_CONFIG, and ToProperties round
// trips. Also LogManagerConfig bounds and the Errc -> Kafka error mapping.
#include "storage/log_config.h"

#include <gtest/gtest.h>

#include "record/errc.h"
#include "storage/errc.h"

namespace strand::storage {
namespace {

TEST(LogConfig, DefaultsAreValidAndKafkaLike) {
  LogConfig c;
  EXPECT_TRUE(c.Validate().ok());
  EXPECT_EQ(c.segment_bytes, 1 << 30);
  EXPECT_EQ(c.index_interval_bytes, 4096);
  EXPECT_EQ(c.max_message_bytes, 1048588);
  EXPECT_EQ(c.flush_messages, 1);  // Strand: fsync every batch (group commit)
}

TEST(LogConfig, CompressionType_ParsesKafkasNamesAndRoundTrips) {
  for (const auto& [name, codec] :
       std::vector<std::pair<std::string, std::optional<record::Compression>>>{
           {"producer", std::nullopt},
           {"uncompressed", record::Compression::kNone},
           {"gzip", record::Compression::kGzip},
           {"snappy", record::Compression::kSnappy},
           {"lz4", record::Compression::kLz4},
           {"zstd", record::Compression::kZstd}}) {
    auto c = LogConfig::FromProperties({{"compression.type", name}}, LogConfig{});
    ASSERT_TRUE(c.ok()) << name;
    EXPECT_EQ(c->compression_type, codec) << name;
    EXPECT_EQ(c->ToProperties().at("compression.type"), name);
  }
  EXPECT_FALSE(LogConfig::FromProperties({{"compression.type", "none"}}, LogConfig{}).ok());
  EXPECT_FALSE(LogConfig::FromProperties({{"compression.type", "brotli"}}, LogConfig{}).ok());
}

TEST(LogConfig, FromProperties_AppliesKafkaNames) {
  auto c = LogConfig::FromProperties({{"segment.bytes", "1048576"},
                                      {"retention.ms", "-1"},
                                      {"cleanup.policy", "compact,delete"},
                                      {"min.cleanable.dirty.ratio", "0.25"},
                                      {"message.timestamp.type", "LogAppendTime"},
                                      {"preallocate", "true"},
                                      {"flush.messages", "100"}},
                                     LogConfig{});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->segment_bytes, 1048576);
  EXPECT_EQ(c->retention_ms, -1);
  EXPECT_EQ(c->cleanup_policy, CleanupPolicy::kCompactDelete);
  EXPECT_DOUBLE_EQ(c->min_cleanable_dirty_ratio, 0.25);
  EXPECT_EQ(c->message_timestamp_type, record::TimestampType::kLogAppendTime);
  EXPECT_TRUE(c->preallocate);
  EXPECT_EQ(c->flush_messages, 100);
  auto again = LogConfig::FromProperties(c->ToProperties(), LogConfig{});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->ToProperties(), c->ToProperties());
}

TEST(LogConfig, FromProperties_RefusesBadInput) {
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"segment.bytes", "10"},
                                                        {"segment.bytes", "4294967296"},
                                                        {"segment.bytes", "12abc"},
                                                        {"retention.ms", "-2"},
                                                        {"cleanup.policy", "shred"},
                                                        {"min.cleanable.dirty.ratio", "1.5"},
                                                        {"message.timestamp.type", "Now"},
                                                        {"preallocate", "yes"},
                                                        {"flush.messages", "0"},
                                                        {"index.interval.bytes", "-1"},
                                                        {"no.such.setting", "1"}}) {
    auto c = LogConfig::FromProperties({{name, value}}, LogConfig{});
    EXPECT_FALSE(c.ok()) << name << "=" << value;
    EXPECT_EQ(StorageErrcOf(c.status()), Errc::kInvalidConfig) << name;
    EXPECT_EQ(ToKafkaError(c.status()), KafkaError::kInvalidConfig);
  }
}

TEST(LogManagerConfig, Bounds) {
  LogManagerConfig c;
  EXPECT_FALSE(c.Validate().ok());  // no data_dir
  c.data_dir = "/tmp/x";
  EXPECT_TRUE(c.Validate().ok());
  c.flush_threads = 0;
  EXPECT_FALSE(c.Validate().ok());
}

TEST(Errc, MapsOntoKafkaErrors) {
  EXPECT_EQ(ToKafkaError(absl::OkStatus()), KafkaError::kNone);
  EXPECT_EQ(ToKafkaError(absl::InternalError("x")), KafkaError::kUnknownServerError);
  // Codec failures pass through an append with the record module's Errc.
  EXPECT_EQ(ToKafkaError(record::RecordError(record::Errc::kCorruptBatch, "x")),
            KafkaError::kCorruptMessage);
  EXPECT_EQ(ToKafkaError(record::RecordError(record::Errc::kBatchTooLarge, "x")),
            KafkaError::kMessageTooLarge);
  EXPECT_EQ(ToKafkaError(record::RecordError(record::Errc::kInvalidTimestamp, "x")),
            KafkaError::kInvalidTimestamp);
  EXPECT_EQ(ErrorNameOf(record::RecordError(record::Errc::kInvalidRecord, "x")), "INVALID_RECORD");
  EXPECT_EQ(ErrorNameOf(StorageError(Errc::kDiskFull, "x")), "DISK_FULL");
  EXPECT_EQ(ErrorNameOf(absl::InternalError("x")), "UNKNOWN");
  EXPECT_EQ(ToKafkaError(Errc::kRecordListTooLarge), KafkaError::kRecordListTooLarge);
  EXPECT_EQ(ToKafkaError(Errc::kOffsetOutOfRange), KafkaError::kOffsetOutOfRange);
  EXPECT_EQ(ToKafkaError(Errc::kDiskFull), KafkaError::kKafkaStorageError);
  absl::Status s = StorageError(Errc::kDiskFull, "no space");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(MessageOf(s), "DISK_FULL: no space");
}

}  // namespace
}  // namespace strand::storage
