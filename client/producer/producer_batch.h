#pragma once

// ProducerBatch: the records bound for one partition that travel together, encoded as they are
// appended straight into the batch's final buffer (a RecordBatch v2 whose 61 header bytes are
// reserved up front). Seal() writes the header and CRC — compressing the records section first
// when a codec is set — after which wire() is exactly what goes into the produce request; the
// same bytes are reused by every retry (Stamp rewrites the producer id, epoch and sequence in
// place when an idempotent producer re-sequences a batch).
//
// Lifecycle: appended to by Send threads under the accumulator's lock until the sender drains
// it; from then on it belongs to the sender thread (sent, retried, completed). Completion runs the
// record callbacks once. Not thread-safe by itself.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "record/record.h"
#include "record/record_batch.h"
#include "strand/producer.h"

namespace strand::client {

class ProducerBatch {
 public:
  // `capacity_bytes`: the largest the encoded batch (header included, uncompressed) may grow;
  // `reserved_bytes`: what the batch holds of buffer.memory (returned when it completes).
  ProducerBatch(TopicPartition tp, size_t capacity_bytes, int64_t reserved_bytes,
                int64_t created_ms);

  // An upper bound of the uncompressed bytes a record adds to a batch (its deltas at their widest).
  static size_t RecordSizeBytes(std::optional<std::string_view> key,
                                std::optional<std::string_view> value,
                                std::span<const record::RecordHeaderView> headers);

  // Whether TryAppend would take the record (exact encoded size).
  bool Fits(int64_t timestamp_ms, std::optional<std::string_view> key,
            std::optional<std::string_view> value,
            std::span<const record::RecordHeaderView> headers) const;

  // Appends the record if it fits within the capacity (the first record of an empty batch always
  // does: the batch was sized with RecordSizeBytes). On false, `callback` is untouched.
  bool TryAppend(int64_t timestamp_ms, std::optional<std::string_view> key,
                 std::optional<std::string_view> value,
                 std::span<const record::RecordHeaderView> headers, SendCallback& callback);

  // Finalizes the bytes: compression, header, CRC. The producer id/epoch/sequence are those of
  // the last Stamp (none yet: -1). Idempotent; appending after Seal is a bug.
  absl::Status Seal(record::Compression compression, int compression_level);
  bool sealed() const { return sealed_; }
  // Writes producer id, epoch and base sequence into the sealed bytes and recomputes the CRC.
  void Stamp(int64_t producer_id, int16_t producer_epoch, int32_t base_sequence);

  // The sealed batch. The sender moves it into a request and back after the answer.
  std::string& wire() { return buffer_; }
  size_t wire_size_bytes() const { return buffer_.size(); }
  // Uncompressed bytes of the records section (for the compression ratio estimate).
  size_t uncompressed_records_bytes() const { return uncompressed_records_bytes_; }

  // Runs every record callback (once): with offsets base_offset + i on success (offset -1 when the
  // broker gave none, e.g. acks=0), or with `status`.
  void Complete(const absl::Status& status, int64_t base_offset, int64_t log_append_time_ms);

  const TopicPartition& topic_partition() const { return tp_; }
  int32_t record_count() const { return record_count_; }
  int64_t reserved_bytes() const { return reserved_bytes_; }
  int64_t created_ms() const { return created_ms_; }
  bool empty() const { return record_count_ == 0; }
  // Full: a record did not fit (it went to a new batch), so waiting for linger.ms is pointless.
  bool full() const { return full_; }
  void mark_full() { full_ = true; }
  // Room left for more uncompressed bytes.
  size_t free_bytes() const { return capacity_bytes_ - buffer_.size(); }
  size_t capacity_bytes() const { return capacity_bytes_; }

  uint64_t id = 0;  // assigned by the accumulator, increasing (for Flush)

  // Sender-side state (sender thread only).
  int32_t attempts = 0;            // produce attempts so far
  int32_t sent_leader_epoch = -1;  // the partition's leader epoch when it was last drained
  int64_t retry_at_ms = 0;         // not before this (backoff after a failed attempt)
  int32_t base_sequence = -1;      // assigned at first drain by an idempotent producer
  int64_t producer_id = -1;        // what the sealed bytes carry
  int16_t producer_epoch = -1;
  bool outcome_unknown = false;  // the last attempt got no answer: it may have been written
  bool in_flight = false;
  // Idempotence: every earlier batch of the partition was acknowledged when this one was sent, so
  // an OUT_OF_ORDER_SEQUENCE_NUMBER answer cannot be explained by an earlier batch (gRPC may
  // deliver concurrent requests out of order) and means the broker lost our sequence state.
  bool sent_as_first = false;
  absl::Status last_error;  // of the last failed attempt

 private:
  TopicPartition tp_;
  size_t capacity_bytes_;
  int64_t reserved_bytes_;
  int64_t created_ms_;
  std::string buffer_;  // header placeholder + records; after Seal, the whole batch
  int32_t record_count_ = 0;
  int64_t base_timestamp_ms_ = -1;
  int64_t max_timestamp_ms_ = -1;
  size_t uncompressed_records_bytes_ = 0;
  bool sealed_ = false;
  bool completed_ = false;
  bool full_ = false;
  struct Thunk {
    SendCallback callback;
    int64_t timestamp_ms;
    int32_t index;
  };
  std::vector<Thunk> thunks_;  // records with a callback
};

}  // namespace strand::client
