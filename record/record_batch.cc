#include "record/record_batch.h"

#include "common/big_endian.h"
#include "common/check.h"
#include "common/crc32c.h"

namespace strand::record {

namespace L = batch_layout;

RecordBatchHeader RecordBatchHeader::Parse(const uint8_t* b) {
  RecordBatchHeader h;
  h.base_offset = Offset(static_cast<int64_t>(LoadBigEndian64(b + L::kBaseOffset)));
  h.length = static_cast<int32_t>(LoadBigEndian32(b + L::kLength));
  h.partition_leader_epoch =
      LeaderEpoch(static_cast<int32_t>(LoadBigEndian32(b + L::kPartitionLeaderEpoch)));
  h.magic = static_cast<int8_t>(b[L::kMagic]);
  h.crc = LoadBigEndian32(b + L::kCrc);
  h.attributes = LoadBigEndian16(b + L::kAttributes);
  h.last_offset_delta = static_cast<int32_t>(LoadBigEndian32(b + L::kLastOffsetDelta));
  h.base_timestamp = static_cast<int64_t>(LoadBigEndian64(b + L::kBaseTimestamp));
  h.max_timestamp = static_cast<int64_t>(LoadBigEndian64(b + L::kMaxTimestamp));
  h.producer_id = ProducerId(static_cast<int64_t>(LoadBigEndian64(b + L::kProducerId)));
  h.producer_epoch = ProducerEpoch(static_cast<int16_t>(LoadBigEndian16(b + L::kProducerEpoch)));
  h.base_sequence = static_cast<int32_t>(LoadBigEndian32(b + L::kBaseSequence));
  h.record_count = static_cast<int32_t>(LoadBigEndian32(b + L::kRecordCount));
  return h;
}

RecordBatchHeader RecordBatchHeader::Parse(std::span<const uint8_t> bytes) {
  STRAND_CHECK(bytes.size() >= L::kHeaderSize);
  return Parse(bytes.data());
}

void RecordBatchHeader::Serialize(uint8_t* b) const {
  StoreBigEndian64(b + L::kBaseOffset, static_cast<uint64_t>(base_offset.value()));
  StoreBigEndian32(b + L::kLength, static_cast<uint32_t>(length));
  StoreBigEndian32(b + L::kPartitionLeaderEpoch,
                   static_cast<uint32_t>(partition_leader_epoch.value()));
  b[L::kMagic] = static_cast<uint8_t>(magic);
  StoreBigEndian32(b + L::kCrc, crc);
  StoreBigEndian16(b + L::kAttributes, attributes);
  StoreBigEndian32(b + L::kLastOffsetDelta, static_cast<uint32_t>(last_offset_delta));
  StoreBigEndian64(b + L::kBaseTimestamp, static_cast<uint64_t>(base_timestamp));
  StoreBigEndian64(b + L::kMaxTimestamp, static_cast<uint64_t>(max_timestamp));
  StoreBigEndian64(b + L::kProducerId, static_cast<uint64_t>(producer_id.value()));
  StoreBigEndian16(b + L::kProducerEpoch, static_cast<uint16_t>(producer_epoch.value()));
  StoreBigEndian32(b + L::kBaseSequence, static_cast<uint32_t>(base_sequence));
  StoreBigEndian32(b + L::kRecordCount, static_cast<uint32_t>(record_count));
}

int64_t BatchSizeAt(const uint8_t* bytes) {
  int32_t length = static_cast<int32_t>(LoadBigEndian32(bytes + L::kLength));
  if (length < 0) return -1;
  return int64_t{length} + int64_t{L::kLogOverhead};
}

Offset BaseOffsetAt(const uint8_t* bytes) {
  return Offset(static_cast<int64_t>(LoadBigEndian64(bytes + L::kBaseOffset)));
}

uint32_t ComputeBatchCrc(std::span<const uint8_t> batch) {
  STRAND_CHECK(batch.size() >= L::kHeaderSize);
  return Crc32c(batch.data() + L::kAttributes, batch.size() - L::kAttributes);
}

void UpdateBatchCrc(std::span<uint8_t> batch) {
  StoreBigEndian32(batch.data() + L::kCrc, ComputeBatchCrc(batch));
}

void SetBaseOffset(std::span<uint8_t> batch, Offset base_offset) {
  STRAND_CHECK(batch.size() >= L::kHeaderSize);
  StoreBigEndian64(batch.data() + L::kBaseOffset, static_cast<uint64_t>(base_offset.value()));
}

void SetPartitionLeaderEpoch(std::span<uint8_t> batch, LeaderEpoch epoch) {
  STRAND_CHECK(batch.size() >= L::kHeaderSize);
  StoreBigEndian32(batch.data() + L::kPartitionLeaderEpoch, static_cast<uint32_t>(epoch.value()));
}

void SetLogAppendTime(std::span<uint8_t> batch, int64_t log_append_time_ms) {
  STRAND_CHECK(batch.size() >= L::kHeaderSize);
  uint16_t attributes = LoadBigEndian16(batch.data() + L::kAttributes);
  StoreBigEndian16(batch.data() + L::kAttributes,
                   attributes | batch_attributes::kTimestampTypeMask);
  StoreBigEndian64(batch.data() + L::kMaxTimestamp, static_cast<uint64_t>(log_append_time_ms));
  UpdateBatchCrc(batch);
}

void SetMaxTimestamp(std::span<uint8_t> batch, int64_t max_timestamp) {
  STRAND_CHECK(batch.size() >= L::kHeaderSize);
  StoreBigEndian64(batch.data() + L::kMaxTimestamp, static_cast<uint64_t>(max_timestamp));
  UpdateBatchCrc(batch);
}

}  // namespace strand::record
