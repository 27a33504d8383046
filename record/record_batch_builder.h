#pragma once

// RecordBatchBuilder: builds one RecordBatch v2 from records — for clients, tests, control
// batches and the log cleaner (which rebuilds a batch from the records it keeps, at their
// original offsets). The base timestamp is the first record's (or the delete horizon), the max
// timestamp the largest record timestamp (or the log append time), the CRC is computed once at
// Build. Single-threaded; cheap to create.
//
//   RecordBatchBuilder b({.compression = Compression::kLz4});
//   b.Append(now_ms, "key", "value");
//   absl::StatusOr<ByteBuffer> batch = b.Build();

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/byte_buffer.h"
#include "common/ids.h"
#include "record/record.h"
#include "record/record_batch.h"

namespace strand::record {

struct BatchOptions {
  Compression compression = Compression::kNone;
  int compression_level = 0;  // 0: the codec's default
  TimestampType timestamp_type = TimestampType::kCreateTime;
  int64_t log_append_time_ms = kNoTimestamp;  // maxTimestamp when kLogAppendTime
  Offset base_offset{0};
  LeaderEpoch partition_leader_epoch{-1};
  ProducerId producer_id{-1};
  ProducerEpoch producer_epoch{-1};
  int32_t base_sequence = kNoSequence;
  bool transactional = false;
  bool control = false;
  // KIP-534: when set, the batch carries the delete-horizon flag and baseTimestamp holds the
  // horizon; record timestamps stay exact because their deltas are taken from it.
  std::optional<int64_t> delete_horizon_ms;
};

class RecordBatchBuilder {
 public:
  explicit RecordBatchBuilder(const BatchOptions& options);

  // Appends a record at the next offset delta (one past the last, 0 for the first).
  void Append(int64_t timestamp_ms, std::optional<std::string_view> key,
              std::optional<std::string_view> value,
              std::span<const RecordHeaderView> headers = {});
  // Appends a record at an explicit offset delta, larger than any before (the cleaner keeps
  // the offsets of the records it retains).
  void AppendWithOffsetDelta(int32_t offset_delta, int64_t timestamp_ms,
                             std::optional<std::string_view> key,
                             std::optional<std::string_view> value,
                             std::span<const RecordHeaderView> headers = {});
  // Overrides lastOffsetDelta (at least the last record's), e.g. for a batch whose records were
  // all removed but whose offset range must still be accounted for.
  void set_last_offset_delta(int32_t delta);

  int32_t record_count() const { return count_; }
  size_t records_bytes() const { return records_.size(); }
  // The batch size if uncompressed.
  size_t UncompressedSizeBytes() const { return batch_layout::kHeaderSize + records_.size(); }

  absl::StatusOr<ByteBuffer> Build() const;

 private:
  BatchOptions options_;
  std::string records_;
  int32_t count_ = 0;
  int32_t last_offset_delta_ = -1;
  std::optional<int32_t> last_offset_delta_override_;
  std::optional<int64_t> base_timestamp_;
  int64_t max_timestamp_ = kNoTimestamp;
};

// The same batch with its records section compressed with `codec` instead: Kafka's broker-side
// recompression when a topic's compression.type names a codec other than the producer's. Every
// header field but the codec bits, the length and the CRC is kept, and the records' bytes are
// the same once decompressed. Fails as UncompressedRecords does on a batch that does not
// decompress (within decompressed_max_bytes).
absl::StatusOr<ByteBuffer> RecompressBatch(std::span<const uint8_t> batch, Compression codec,
                                           size_t decompressed_max_bytes);

}  // namespace strand::record
