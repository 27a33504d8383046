#pragma once

// Reading the records inside a RecordBatch v2: UncompressedRecords gives the records section in
// plain form (decompressing within a bound), DecodedBatch decodes every record of a batch into
// views (for the cleaner, timestamp lookups, tests and clients). Neither checks the CRC;
// validate first (batch_validator.h). Pure; thread-compatible.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "common/byte_buffer.h"
#include "record/record.h"
#include "record/record_batch.h"

namespace strand::record {

// The records section of `batch` in uncompressed form: a view into `batch` when it is not
// compressed, else the decompressed bytes in *scratch (at most decompressed_max_bytes).
absl::StatusOr<std::span<const uint8_t>> UncompressedRecords(std::span<const uint8_t> batch,
                                                             const RecordBatchHeader& header,
                                                             size_t decompressed_max_bytes,
                                                             ByteBuffer* scratch);

// One decoded record; views point into the batch or into its DecodedBatch.
struct RecordView {
  Offset offset{0};
  int64_t timestamp = kNoTimestamp;  // absolute: LogAppendTime batches give every record theirs
  int8_t attributes = 0;
  int32_t offset_delta = 0;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;  // nullopt: a tombstone
  absl::InlinedVector<RecordHeaderView, 2> headers;
};

class DecodedBatch {
 public:
  // Decodes every record of `batch`. The views stay valid while both this object and, for an
  // uncompressed batch, the `batch` bytes live.
  static absl::StatusOr<DecodedBatch> Decode(std::span<const uint8_t> batch,
                                             size_t decompressed_max_bytes);

  const RecordBatchHeader& header() const { return header_; }
  const std::vector<RecordView>& records() const { return records_; }

 private:
  RecordBatchHeader header_;
  ByteBuffer decompressed_;
  std::vector<RecordView> records_;
};

}  // namespace strand::record
