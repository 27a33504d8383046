#pragma once

// FakePartition: the in-memory log of one partition for FakeBrokerCluster — whole RecordBatch v2
// batches as producers sent them, with offsets assigned by rewriting baseOffset (as a broker
// does), idempotent producer state per producer id (epoch, last five batches) with Kafka's
// sequence rules, reads of whole batches, and offsets by timestamp. Not thread-safe: the cluster
// guards it.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/kafka_error.h"

namespace strand::client::testing {

// A decoded record, for assertions.
struct FakeRecord {
  int64_t offset = -1;
  int64_t timestamp_ms = -1;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  int64_t producer_id = -1;
  int32_t base_sequence = -1;  // of its batch
  int compression = 0;         // of its batch
};

class FakePartition {
 public:
  struct AppendResult {
    KafkaError error = KafkaError::kNone;
    std::string message;
    int64_t base_offset = -1;
  };
  // Validates and appends the batches in `records` (all or nothing).
  AppendResult Append(std::string_view records, int32_t leader_epoch);
  // Whole batches holding offsets >= `offset`, up to `max_bytes` (the first batch always).
  std::string Read(int64_t offset, int64_t max_bytes) const;

  int64_t log_start_offset() const { return log_start_offset_; }
  int64_t log_end_offset() const { return log_end_offset_; }
  // ListOffsets semantics: -1 latest, -2 earliest, -3 the offset of the max timestamp, else the
  // first offset whose record timestamp is >= timestamp (-1 when none). Sets *found_timestamp.
  int64_t OffsetForTimestamp(int64_t timestamp, int64_t* found_timestamp) const;
  std::vector<FakeRecord> Records() const;
  // Drops whole batches below `offset` (log start moves to the first kept batch's base).
  void DeleteBefore(int64_t offset);

 private:
  struct Stored {
    int64_t base_offset;
    int64_t last_offset;
    int64_t max_timestamp;
    std::string bytes;
  };
  struct SequenceWindow {
    int32_t first_sequence;
    int32_t last_sequence;
    int64_t base_offset;
  };
  struct ProducerEntry {
    int16_t epoch = -1;
    std::deque<SequenceWindow> recent;  // the last five batches
  };
  // Checks one batch's producer fields; returns an error, or kNone with *duplicate_offset set
  // when it is a retry of a batch already held (>= 0) or -1 when it is new.
  KafkaError CheckSequence(int64_t producer_id, int16_t epoch, int32_t base_sequence,
                           int32_t last_sequence, int64_t* duplicate_offset,
                           std::string* message) const;

  std::vector<Stored> batches_;
  std::map<int64_t, ProducerEntry> producers_;
  int64_t log_start_offset_ = 0;
  int64_t log_end_offset_ = 0;
};

}  // namespace strand::client::testing
