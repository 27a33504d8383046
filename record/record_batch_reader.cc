#include "record/record_batch_reader.h"

#include <fmt/format.h>

#include "common/saturating.h"
#include "record/compression.h"
#include "record/errc.h"

namespace strand::record {

absl::StatusOr<std::span<const uint8_t>> UncompressedRecords(std::span<const uint8_t> batch,
                                                             const RecordBatchHeader& header,
                                                             size_t decompressed_max_bytes,
                                                             ByteBuffer* scratch) {
  auto section = batch.subspan(batch_layout::kRecords);
  if (header.compression() == Compression::kNone) return section;
  if (header.compression_codec() > kCompressionCodecMax) {
    return RecordError(Errc::kCorruptBatch,
                       fmt::format("unknown compression codec {}", header.compression_codec()));
  }
  auto decompressed = Decompress(header.compression(), section, decompressed_max_bytes);
  if (!decompressed.ok()) return decompressed.status();
  *scratch = std::move(*decompressed);
  return std::span<const uint8_t>(scratch->span());
}

absl::StatusOr<DecodedBatch> DecodedBatch::Decode(std::span<const uint8_t> batch,
                                                  size_t decompressed_max_bytes) {
  if (batch.size() < batch_layout::kHeaderSize) {
    return RecordError(Errc::kCorruptBatch, "batch shorter than its header");
  }
  DecodedBatch out;
  out.header_ = RecordBatchHeader::Parse(batch);
  if (out.header_.record_count < 0) {
    return RecordError(Errc::kCorruptBatch, "negative record count");
  }
  // Every record's offset (base + a delta in [0, last_offset_delta], checked per record below)
  // must be representable: a forged base offset near the maximum would overflow.
  if (out.header_.last_offset_delta < 0 ||
      SaturatingAdd(out.header_.base_offset.value(), out.header_.last_offset_delta) == INT64_MAX) {
    return RecordError(Errc::kCorruptBatch,
                       fmt::format("impossible offsets: base {} + last delta {}",
                                   out.header_.base_offset.value(), out.header_.last_offset_delta));
  }
  auto records =
      UncompressedRecords(batch, out.header_, decompressed_max_bytes, &out.decompressed_);
  if (!records.ok()) return records.status();
  const RecordBatchHeader& h = out.header_;
  bool log_append_time = h.timestamp_type() == TimestampType::kLogAppendTime;
  out.records_.reserve(std::min<size_t>(h.record_count, records->size() / 7 + 1));
  absl::Status walked = WalkRecords(*records, h.record_count, [&](const RecordFields& f) {
    if (f.offset_delta < 0 || f.offset_delta > h.last_offset_delta) {
      return RecordError(Errc::kCorruptBatch,
                         fmt::format("record offset delta {} outside the batch's [0, {}]",
                                     f.offset_delta, h.last_offset_delta));
    }
    RecordView v;
    v.offset = h.base_offset + f.offset_delta;
    v.timestamp =
        log_append_time ? h.max_timestamp : SaturatingAdd(h.base_timestamp, f.timestamp_delta);
    v.attributes = f.attributes;
    v.offset_delta = f.offset_delta;
    v.key = f.key;
    v.value = f.value;
    v.headers = ParseHeaders(f);
    out.records_.push_back(std::move(v));
    return absl::OkStatus();
  });
  if (!walked.ok()) return walked;
  return out;
}

}  // namespace strand::record
