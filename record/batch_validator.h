#pragma once

// The batch validator: decides whether bytes received from a producer, a leader or the disk
// are one acceptable RecordBatch v2, doing no more work than the mode needs. Malformed input
// gets a specific Errc (see errc.h) naming what is wrong; nothing that fails here is written.
//
// Checks, in order of cost:
//   size        at least the 61-byte header; batchLength agrees with the bytes given;
//               no larger than batch_bytes_max (MESSAGE_TOO_LARGE)
//   magic       exactly 2
//   CRC         CRC-32C over attributes..end equals the stored crc (CORRUPT_MESSAGE)
//   attributes  a known codec; no control batch from a producer; a transactional batch has a
//               producer id
//   counts      producer batches: recordCount == lastOffsetDelta + 1 > 0 (Kafka's rule);
//               replicated/stored batches: 0 <= recordCount <= lastOffsetDelta + 1 (compaction
//               removes records but keeps offsets); the count fits the bytes
//   timestamps  CreateTime timestamps inside [now - before_max, now + after_max]
//   records     optional walk of the record framing (uncompressed batches cheaply; compressed
//               ones after decompression within decompressed_bytes_max): every record
//               well-formed, offset deltas 0,1,2... (producer) or increasing within the range
//               (replica), keys present when required (compacted topics), and the true max
//               timestamp.
// Pure; thread-safe.

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "record/record_batch.h"

namespace strand::record {

enum class ValidationMode {
  kProduce,  // from a producer: offsets are assigned here, counts must match exactly
  kReplica,  // from the leader: offsets are final and may have compaction gaps
  kStored,   // read back from our own disk (recovery, scrubbing)
};

struct ValidationOptions {
  ValidationMode mode = ValidationMode::kProduce;
  int64_t batch_bytes_max = 1048588;  // Kafka's max.message.bytes default
  bool walk_records = true;           // walk the records of uncompressed batches
  bool walk_compressed_records = true;
  size_t decompressed_bytes_max = 64 << 20;
  bool require_keys = false;      // a compacted topic refuses records without a key
  bool allow_control = false;     // only coordinators may write control batches
  int64_t now_ms = kNoTimestamp;  // kNoTimestamp: no timestamp window check
  int64_t timestamp_before_max_ms = std::numeric_limits<int64_t>::max();
  int64_t timestamp_after_max_ms = std::numeric_limits<int64_t>::max();
};

struct BatchSummary {
  RecordBatchHeader header;
  bool records_walked = false;
  // From the walk: the largest record timestamp (CreateTime) and the offset delta holding it.
  int64_t max_record_timestamp = kNoTimestamp;
  int32_t max_timestamp_offset_delta = 0;
};

// Validates exactly one batch occupying all of `batch`.
absl::StatusOr<BatchSummary> ValidateBatch(std::span<const uint8_t> batch,
                                           const ValidationOptions& options);

// Where one batch lies within a buffer of back-to-back batches.
struct BatchExtent {
  size_t position = 0;
  size_t size = 0;
};

// Splits back-to-back batches by their length fields only (no other check), failing with
// Errc::kCorruptBatch when a length is impossible or a batch runs past the end. At most
// batches_max batches (Errc::kInvalidRecord beyond).
absl::StatusOr<std::vector<BatchExtent>> SplitBatches(std::span<const uint8_t> records,
                                                      size_t batches_max = 1 << 20);

}  // namespace strand::record
