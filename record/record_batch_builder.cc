#include "record/record_batch_builder.h"

#include <algorithm>
#include <cstring>

#include "common/check.h"
#include "record/compression.h"
#include "record/errc.h"
#include "record/record_batch_reader.h"

namespace strand::record {

RecordBatchBuilder::RecordBatchBuilder(const BatchOptions& options) : options_(options) {
  if (options_.delete_horizon_ms) base_timestamp_ = *options_.delete_horizon_ms;
}

void RecordBatchBuilder::Append(int64_t timestamp_ms, std::optional<std::string_view> key,
                                std::optional<std::string_view> value,
                                std::span<const RecordHeaderView> headers) {
  AppendWithOffsetDelta(last_offset_delta_ + 1, timestamp_ms, key, value, headers);
}

void RecordBatchBuilder::AppendWithOffsetDelta(int32_t offset_delta, int64_t timestamp_ms,
                                               std::optional<std::string_view> key,
                                               std::optional<std::string_view> value,
                                               std::span<const RecordHeaderView> headers) {
  STRAND_CHECK_MSG(offset_delta > last_offset_delta_, "offset delta {} after {}", offset_delta,
                   last_offset_delta_);
  if (!base_timestamp_) base_timestamp_ = timestamp_ms;
  EncodeRecord(offset_delta, timestamp_ms - *base_timestamp_, key, value, headers, &records_);
  max_timestamp_ = std::max(max_timestamp_, timestamp_ms);
  last_offset_delta_ = offset_delta;
  ++count_;
}

void RecordBatchBuilder::set_last_offset_delta(int32_t delta) {
  STRAND_CHECK(delta >= last_offset_delta_);
  last_offset_delta_override_ = delta;
}

absl::StatusOr<ByteBuffer> RecordBatchBuilder::Build() const {
  auto records = std::span(reinterpret_cast<const uint8_t*>(records_.data()), records_.size());
  ByteBuffer compressed;
  if (options_.compression != Compression::kNone) {
    auto c = Compress(options_.compression, records, options_.compression_level);
    if (!c.ok()) return c.status();
    compressed = std::move(*c);
    records = compressed.span();
  }
  RecordBatchHeader h;
  h.base_offset = options_.base_offset;
  h.length =
      static_cast<int32_t>(batch_layout::kHeaderSize - batch_layout::kLogOverhead + records.size());
  h.partition_leader_epoch = options_.partition_leader_epoch;
  h.attributes = static_cast<uint16_t>(options_.compression);
  if (options_.timestamp_type == TimestampType::kLogAppendTime) {
    h.attributes |= batch_attributes::kTimestampTypeMask;
  }
  if (options_.transactional) h.attributes |= batch_attributes::kTransactionalMask;
  if (options_.control) h.attributes |= batch_attributes::kControlMask;
  if (options_.delete_horizon_ms) h.attributes |= batch_attributes::kDeleteHorizonMask;
  h.last_offset_delta = last_offset_delta_override_.value_or(std::max(last_offset_delta_, 0));
  h.base_timestamp = base_timestamp_.value_or(kNoTimestamp);
  h.max_timestamp = options_.timestamp_type == TimestampType::kLogAppendTime
                        ? options_.log_append_time_ms
                        : max_timestamp_;
  h.producer_id = options_.producer_id;
  h.producer_epoch = options_.producer_epoch;
  h.base_sequence = options_.base_sequence;
  h.record_count = count_;

  ByteBuffer batch(batch_layout::kHeaderSize + records.size());
  h.Serialize(batch.data());
  if (!records.empty()) {
    std::memcpy(batch.data() + batch_layout::kHeaderSize, records.data(), records.size());
  }
  UpdateBatchCrc(batch.span());
  return batch;
}

absl::StatusOr<ByteBuffer> RecompressBatch(std::span<const uint8_t> batch, Compression codec,
                                           size_t decompressed_max_bytes) {
  if (batch.size() < batch_layout::kHeaderSize) {
    return RecordError(Errc::kCorruptBatch, "batch shorter than its header");
  }
  RecordBatchHeader h = RecordBatchHeader::Parse(batch);
  ByteBuffer scratch;
  auto plain = UncompressedRecords(batch, h, decompressed_max_bytes, &scratch);
  if (!plain.ok()) return plain.status();
  std::span<const uint8_t> records = *plain;
  ByteBuffer compressed;
  if (codec != Compression::kNone) {
    auto c = Compress(codec, records);
    if (!c.ok()) return c.status();
    compressed = std::move(*c);
    records = compressed.span();
  }
  const size_t size = batch_layout::kHeaderSize + records.size();
  if (size - batch_layout::kLogOverhead > static_cast<size_t>(INT32_MAX)) {
    return RecordError(Errc::kBatchTooLarge, "the recompressed batch exceeds 2 GiB");
  }
  h.length = static_cast<int32_t>(size - batch_layout::kLogOverhead);
  h.attributes = static_cast<uint16_t>((h.attributes & ~batch_attributes::kCompressionMask) |
                                       static_cast<uint16_t>(codec));
  ByteBuffer out(size);
  h.Serialize(out.data());
  if (!records.empty()) {
    std::memcpy(out.data() + batch_layout::kHeaderSize, records.data(), records.size());
  }
  UpdateBatchCrc(out.span());
  return out;
}

}  // namespace strand::record
