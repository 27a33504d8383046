#pragma once

// The records a Strand application sends and receives, in Kafka's shapes: a ProducerRecord goes
// into Producer::Send, a RecordMetadata comes back in its callback, a ConsumerRecord comes out of
// Consumer::Poll. Keys, values and header values are bytes (std::string holds any bytes);
// std::nullopt is Kafka's null (a null key: partitioned sticky; a null value: a tombstone).
//
// Errors that come from the cluster carry their Kafka error code as a status payload:
// KafkaErrorOf(status) gives it back (KafkaError::kNotEnoughReplicas, ...), and the status
// message starts with the Kafka name ("NOT_ENOUGH_REPLICAS: ...").

#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/kafka_error.h"

namespace strand::client {

// Kafka's RecordBatch.NO_TIMESTAMP: let the producer stamp the current time.
inline constexpr int64_t kNoTimestampMs = -1;

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;

  auto operator<=>(const TopicPartition&) const = default;
  bool operator==(const TopicPartition&) const = default;
  std::string ToString() const;  // "orders-3", as Kafka prints it
  template <typename H>
  friend H AbslHashValue(H h, const TopicPartition& tp) {
    return H::combine(std::move(h), tp.topic, tp.partition);
  }
};

struct Header {
  std::string key;
  std::optional<std::string> value;
  bool operator==(const Header&) const = default;
};

struct ProducerRecord {
  std::string topic;
  std::optional<int32_t> partition;  // set: this partition; else by key (murmur2) or sticky
  std::optional<std::string> key;
  std::optional<std::string> value;
  int64_t timestamp_ms = kNoTimestampMs;  // CreateTime; kNoTimestampMs: now
  std::vector<Header> headers;
};

enum class TimestampType { kCreateTime, kLogAppendTime };

// What Producer::Send reports for an acknowledged record.
struct RecordMetadata {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;                    // -1 with acks=0 (the broker says nothing)
  int64_t timestamp_ms = kNoTimestampMs;  // CreateTime sent, or the broker's LogAppendTime
};

// A header of a consumed record: views into the fetched bytes, valid while the record lives.
struct HeaderView {
  std::string_view key;
  std::optional<std::string_view> value;
};

// One consumed record. Key, value and headers are views into the fetched (or decompressed) batch,
// which the record keeps alive: copying a ConsumerRecord is cheap and the views stay valid as long
// as any copy lives.
class ConsumerRecord {
 public:
  ConsumerRecord() = default;
  ConsumerRecord(std::shared_ptr<const std::string> topic, int32_t partition, int64_t offset,
                 int64_t timestamp_ms, TimestampType timestamp_type, int32_t leader_epoch,
                 std::optional<std::string_view> key, std::optional<std::string_view> value,
                 std::vector<HeaderView> headers, std::shared_ptr<const void> storage)
      : topic_(std::move(topic)),
        partition_(partition),
        offset_(offset),
        timestamp_ms_(timestamp_ms),
        timestamp_type_(timestamp_type),
        leader_epoch_(leader_epoch),
        key_(key),
        value_(value),
        headers_(std::move(headers)),
        storage_(std::move(storage)) {}

  const std::string& topic() const { return *topic_; }
  int32_t partition() const { return partition_; }
  int64_t offset() const { return offset_; }
  int64_t timestamp_ms() const { return timestamp_ms_; }
  TimestampType timestamp_type() const { return timestamp_type_; }
  int32_t leader_epoch() const { return leader_epoch_; }  // of the batch; -1 unknown
  std::optional<std::string_view> key() const { return key_; }
  std::optional<std::string_view> value() const { return value_; }
  const std::vector<HeaderView>& headers() const { return headers_; }
  TopicPartition topic_partition() const { return {*topic_, partition_}; }

 private:
  std::shared_ptr<const std::string> topic_;
  int32_t partition_ = -1;
  int64_t offset_ = -1;
  int64_t timestamp_ms_ = kNoTimestampMs;
  TimestampType timestamp_type_ = TimestampType::kCreateTime;
  int32_t leader_epoch_ = -1;
  std::optional<std::string_view> key_;
  std::optional<std::string_view> value_;
  std::vector<HeaderView> headers_;
  std::shared_ptr<const void> storage_;  // owns the bytes the views point into
};

// A Kafka error as a status: message "NAME: message", the code as payload. The absl code is
// UNAVAILABLE for retriable errors (KafkaErrorRetriable), FAILED_PRECONDITION otherwise, except
// REQUEST_TIMED_OUT (DEADLINE_EXCEEDED) and the "not found" errors (NOT_FOUND).
absl::Status KafkaStatus(KafkaError error, std::string_view message);
// The Kafka error a status carries, if any.
std::optional<KafkaError> KafkaErrorOf(const absl::Status& status);
// The Kafka name for a status: its Kafka error's name if it carries one, else
// UNKNOWN_SERVER_ERROR for a failure ("NONE" for OK).
std::string_view KafkaErrorNameOf(const absl::Status& status);

}  // namespace strand::client
