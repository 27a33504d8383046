#include "record/batch_validator.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/byte_buffer.h"
#include "common/saturating.h"
#include "record/errc.h"
#include "record/record.h"
#include "record/record_batch_reader.h"

namespace strand::record {
namespace {

namespace L = batch_layout;

absl::Status Corrupt(std::string_view what) { return RecordError(Errc::kCorruptBatch, what); }
absl::Status Invalid(std::string_view what) { return RecordError(Errc::kInvalidRecord, what); }

absl::Status CheckFraming(std::span<const uint8_t> batch, const ValidationOptions& o) {
  if (batch.size() < L::kHeaderSize) {
    return Corrupt(fmt::format("batch of {} bytes is shorter than the {}-byte header", batch.size(),
                               L::kHeaderSize));
  }
  int64_t declared = BatchSizeAt(batch.data());
  if (declared != static_cast<int64_t>(batch.size())) {
    return Corrupt(
        fmt::format("batchLength says {} bytes in all, but {} were given", declared, batch.size()));
  }
  int8_t magic = static_cast<int8_t>(batch[L::kMagic]);
  if (magic != L::kMagicV2) {
    return RecordError(Errc::kUnsupportedMagic,
                       fmt::format("magic {}; only RecordBatch v2 (magic 2) is stored", magic));
  }
  if (static_cast<int64_t>(batch.size()) > o.batch_bytes_max) {
    return RecordError(Errc::kBatchTooLarge,
                       fmt::format("batch of {} bytes exceeds the limit of {} (max.message.bytes)",
                                   batch.size(), o.batch_bytes_max));
  }
  uint32_t stored = RecordBatchHeader::Parse(batch).crc;
  uint32_t computed = ComputeBatchCrc(batch);
  if (stored != computed) {
    return Corrupt(fmt::format("CRC-32C mismatch: stored {:x}, computed {:x}", stored, computed));
  }
  return absl::OkStatus();
}

absl::Status CheckHeader(const RecordBatchHeader& h, size_t size, const ValidationOptions& o) {
  if (h.compression_codec() > kCompressionCodecMax) {
    return Corrupt(fmt::format("unknown compression codec {}", h.compression_codec()));
  }
  if (h.is_control() && o.mode == ValidationMode::kProduce && !o.allow_control) {
    return Invalid("producers may not write control batches");
  }
  if (h.is_transactional() && h.producer_id.value() < 0) {
    return Invalid("a transactional batch without a producer id");
  }
  if (h.record_count < 0 || h.last_offset_delta < 0) {
    return Corrupt(fmt::format("negative record count {} or last offset delta {}", h.record_count,
                               h.last_offset_delta));
  }
  // Whatever the mode, the offsets a reader derives (base + delta) must exist: a producer's base
  // offset is replaced on append, but a reader of the batch as sent must not overflow.
  if (SaturatingAdd(h.base_offset.value(), h.last_offset_delta) == INT64_MAX) {
    return Corrupt(fmt::format("impossible offsets: base {} + last delta {}",
                               h.base_offset.value(), h.last_offset_delta));
  }
  if (o.mode == ValidationMode::kProduce) {
    if (h.record_count == 0 || h.record_count != int64_t{h.last_offset_delta} + 1) {
      return Invalid(
          fmt::format("record count {} does not match the offset range (last offset delta {})",
                      h.record_count, h.last_offset_delta));
    }
    if (h.is_control() && h.record_count != 1) {
      return Invalid("a control batch must hold exactly one record");
    }
  } else {
    if (int64_t{h.record_count} > int64_t{h.last_offset_delta} + 1) {
      return Corrupt(fmt::format("record count {} exceeds the offset range {}", h.record_count,
                                 int64_t{h.last_offset_delta} + 1));
    }
    if (h.base_offset.value() < 0 ||
        SaturatingAdd(h.base_offset.value(), h.last_offset_delta) == INT64_MAX) {
      return Corrupt(fmt::format("impossible offsets: base {} + last delta {}",
                                 h.base_offset.value(), h.last_offset_delta));
    }
  }
  if (h.compression() == Compression::kNone &&
      static_cast<uint64_t>(h.record_count) * L::kMinRecordSize > size - L::kHeaderSize) {
    return Corrupt(
        fmt::format("{} records cannot fit in {} bytes", h.record_count, size - L::kHeaderSize));
  }
  if (h.max_timestamp < kNoTimestamp ||
      (h.base_timestamp < kNoTimestamp && !h.has_delete_horizon())) {
    return RecordError(Errc::kInvalidTimestamp, fmt::format("negative timestamps: base {}, max {}",
                                                            h.base_timestamp, h.max_timestamp));
  }
  return absl::OkStatus();
}

absl::Status CheckTimestampWindow(int64_t ts, const ValidationOptions& o) {
  if (o.now_ms == kNoTimestamp || ts == kNoTimestamp) return absl::OkStatus();
  if (ts < SaturatingAdd(o.now_ms, -std::min(o.timestamp_before_max_ms, INT64_MAX - 1)) ||
      ts > SaturatingAdd(o.now_ms, o.timestamp_after_max_ms)) {
    return RecordError(
        Errc::kInvalidTimestamp,
        fmt::format("timestamp {} is outside [now - {}, now + {}] ms with now = {}", ts,
                    o.timestamp_before_max_ms, o.timestamp_after_max_ms, o.now_ms));
  }
  return absl::OkStatus();
}

absl::Status CheckRecords(std::span<const uint8_t> batch, const ValidationOptions& o,
                          BatchSummary* s) {
  const RecordBatchHeader& h = s->header;
  ByteBuffer scratch;
  auto records = UncompressedRecords(batch, h, o.decompressed_bytes_max, &scratch);
  if (!records.ok()) return records.status();
  int32_t index = 0;
  int32_t previous_delta = -1;
  bool create_time = h.timestamp_type() == TimestampType::kCreateTime;
  absl::Status walked = WalkRecords(*records, h.record_count, [&](const RecordFields& r) {
    if (o.mode == ValidationMode::kProduce
            ? r.offset_delta != index
            : (r.offset_delta <= previous_delta || r.offset_delta > h.last_offset_delta)) {
      return Invalid(fmt::format("record {} has offset delta {} after {}", index, r.offset_delta,
                                 previous_delta));
    }
    if (o.require_keys && !r.key) {
      return Invalid(
          fmt::format("record {} has no key; a compacted topic needs one for every record", index));
    }
    if (create_time) {
      int64_t ts = SaturatingAdd(h.base_timestamp, r.timestamp_delta);
      if (o.now_ms != kNoTimestamp) {
        if (absl::Status window = CheckTimestampWindow(ts, o); !window.ok()) return window;
      }
      if (ts > s->max_record_timestamp) {
        s->max_record_timestamp = ts;
        s->max_timestamp_offset_delta = r.offset_delta;
      }
    }
    previous_delta = r.offset_delta;
    ++index;
    return absl::OkStatus();
  });
  if (!walked.ok()) return walked;
  s->records_walked = true;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BatchSummary> ValidateBatch(std::span<const uint8_t> batch,
                                           const ValidationOptions& options) {
  STRAND_RETURN_IF_ERROR(CheckFraming(batch, options));
  BatchSummary summary;
  summary.header = RecordBatchHeader::Parse(batch);
  const RecordBatchHeader& h = summary.header;
  STRAND_RETURN_IF_ERROR(CheckHeader(h, batch.size(), options));
  if (h.timestamp_type() == TimestampType::kCreateTime && !h.has_delete_horizon()) {
    STRAND_RETURN_IF_ERROR(CheckTimestampWindow(h.max_timestamp, options));
  }
  bool compressed = h.compression() != Compression::kNone;
  if (compressed ? options.walk_compressed_records : options.walk_records) {
    STRAND_RETURN_IF_ERROR(CheckRecords(batch, options, &summary));
  }
  return summary;
}

absl::StatusOr<std::vector<BatchExtent>> SplitBatches(std::span<const uint8_t> records,
                                                      size_t batches_max) {
  std::vector<BatchExtent> extents;
  size_t pos = 0;
  while (pos < records.size()) {
    if (records.size() - pos < L::kHeaderSize) {
      return Corrupt(
          fmt::format("a truncated batch of {} bytes at position {}", records.size() - pos, pos));
    }
    int64_t size = BatchSizeAt(records.data() + pos);
    if (size < static_cast<int64_t>(L::kHeaderSize) ||
        size > static_cast<int64_t>(records.size() - pos)) {
      return Corrupt(fmt::format("the batch at position {} claims {} bytes; {} remain", pos, size,
                                 records.size() - pos));
    }
    if (extents.size() == batches_max) {
      return Invalid(fmt::format("more than {} batches in one request", batches_max));
    }
    extents.push_back({pos, static_cast<size_t>(size)});
    pos += size;
  }
  return extents;
}

}  // namespace strand::record
