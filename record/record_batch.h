#pragma once

// Kafka's RecordBatch v2 (magic 2) layout, byte for byte (KIP-98; Kafka's DefaultRecordBatch):
//
//   offset size field                    covered by CRC
//        0    8 baseOffset               no   (the leader rewrites it when assigning offsets)
//        8    4 batchLength              no   (bytes after this field: total size - 12)
//       12    4 partitionLeaderEpoch     no   (the leader rewrites it)
//       16    1 magic (= 2)              no
//       17    4 crc (CRC-32C of bytes 21..end)
//       21    2 attributes               yes  bits 0-2 compression, 3 timestamp type,
//                                             4 transactional, 5 control, 6 delete horizon
//       23    4 lastOffsetDelta          yes
//       27    8 baseTimestamp            yes  (the delete horizon when bit 6 is set)
//       35    8 maxTimestamp             yes
//       43    8 producerId               yes
//       51    2 producerEpoch            yes
//       53    4 baseSequence             yes
//       57    4 recordCount              yes
//       61    - records (compressed as one blob when bits 0-2 are not 0)
//
// All integers are big-endian. This header holds the layout, a parsed header struct and the
// in-place edits a leader makes; record encoding lives in record.h, building in
// record_batch_builder.h and checking in batch_validator.h. Everything here is pure.

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/ids.h"

namespace strand::record {

enum class Compression : uint8_t { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };
inline constexpr int kCompressionCodecMax = 4;

enum class TimestampType : uint8_t { kCreateTime = 0, kLogAppendTime = 1 };

// Kafka's RecordBatch.NO_TIMESTAMP.
inline constexpr int64_t kNoTimestamp = -1;
// Kafka's RecordBatch.NO_SEQUENCE.
inline constexpr int32_t kNoSequence = -1;

namespace batch_layout {
inline constexpr size_t kBaseOffset = 0;
inline constexpr size_t kLength = 8;
inline constexpr size_t kPartitionLeaderEpoch = 12;
inline constexpr size_t kMagic = 16;
inline constexpr size_t kCrc = 17;
inline constexpr size_t kAttributes = 21;
inline constexpr size_t kLastOffsetDelta = 23;
inline constexpr size_t kBaseTimestamp = 27;
inline constexpr size_t kMaxTimestamp = 35;
inline constexpr size_t kProducerId = 43;
inline constexpr size_t kProducerEpoch = 51;
inline constexpr size_t kBaseSequence = 53;
inline constexpr size_t kRecordCount = 57;
inline constexpr size_t kRecords = 61;
inline constexpr size_t kHeaderSize = 61;
// Bytes before the part that batchLength counts (baseOffset and batchLength themselves).
inline constexpr size_t kLogOverhead = 12;
inline constexpr int8_t kMagicV2 = 2;
// The smallest possible record: length, attributes, timestamp delta, offset delta, key length,
// value length and header count, one byte each.
inline constexpr size_t kMinRecordSize = 7;
}  // namespace batch_layout

namespace batch_attributes {
inline constexpr uint16_t kCompressionMask = 0x07;
inline constexpr uint16_t kTimestampTypeMask = 0x08;
inline constexpr uint16_t kTransactionalMask = 0x10;
inline constexpr uint16_t kControlMask = 0x20;
inline constexpr uint16_t kDeleteHorizonMask = 0x40;
}  // namespace batch_attributes

// The 61-byte header, parsed. Parse does no validation (see batch_validator.h); it only needs
// kHeaderSize readable bytes.
struct RecordBatchHeader {
  Offset base_offset{0};
  int32_t length = 0;
  LeaderEpoch partition_leader_epoch{-1};
  int8_t magic = batch_layout::kMagicV2;
  uint32_t crc = 0;
  uint16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = kNoTimestamp;
  int64_t max_timestamp = kNoTimestamp;
  ProducerId producer_id{-1};
  ProducerEpoch producer_epoch{-1};
  int32_t base_sequence = kNoSequence;
  int32_t record_count = 0;

  static RecordBatchHeader Parse(const uint8_t* bytes);
  static RecordBatchHeader Parse(std::span<const uint8_t> bytes);
  // Writes all 61 bytes (the crc field as stored in `crc`).
  void Serialize(uint8_t* bytes) const;

  // Total size of the batch on the wire and on disk.
  int64_t size_bytes() const { return int64_t{length} + int64_t{batch_layout::kLogOverhead}; }
  Offset last_offset() const { return base_offset + last_offset_delta; }
  Offset next_offset() const { return last_offset() + 1; }

  int compression_codec() const { return attributes & batch_attributes::kCompressionMask; }
  Compression compression() const { return static_cast<Compression>(compression_codec()); }
  TimestampType timestamp_type() const {
    return (attributes & batch_attributes::kTimestampTypeMask) ? TimestampType::kLogAppendTime
                                                               : TimestampType::kCreateTime;
  }
  bool is_transactional() const { return attributes & batch_attributes::kTransactionalMask; }
  bool is_control() const { return attributes & batch_attributes::kControlMask; }
  bool has_delete_horizon() const { return attributes & batch_attributes::kDeleteHorizonMask; }
};

// Reads the batchLength field of the batch starting at `bytes` (needs kLogOverhead bytes) and
// returns the batch's total size, or -1 if the field is negative.
int64_t BatchSizeAt(const uint8_t* bytes);
Offset BaseOffsetAt(const uint8_t* bytes);

// The CRC-32C the batch should carry: over bytes [kAttributes, end).
uint32_t ComputeBatchCrc(std::span<const uint8_t> batch);
// Recomputes and stores the CRC after an edit inside its coverage.
void UpdateBatchCrc(std::span<uint8_t> batch);

// In-place edits of fields outside the CRC's coverage, as a leader assigning offsets makes.
void SetBaseOffset(std::span<uint8_t> batch, Offset base_offset);
void SetPartitionLeaderEpoch(std::span<uint8_t> batch, LeaderEpoch epoch);
// Stamps LogAppendTime: sets the timestamp-type bit and maxTimestamp, then the CRC (Kafka
// leaves baseTimestamp and the record deltas alone; readers use maxTimestamp for every record).
void SetLogAppendTime(std::span<uint8_t> batch, int64_t log_append_time_ms);
// Rewrites maxTimestamp (CreateTime) and the CRC, when a client sent a wrong one.
void SetMaxTimestamp(std::span<uint8_t> batch, int64_t max_timestamp);

}  // namespace strand::record
