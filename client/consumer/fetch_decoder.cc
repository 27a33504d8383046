#include "client/consumer/fetch_decoder.h"

#include <fmt/format.h>

#include "common/byte_buffer.h"
#include "common/status.h"
#include "record/record.h"
#include "record/record_batch.h"
#include "record/record_batch_reader.h"

namespace strand::client {
namespace {

namespace L = record::batch_layout;

// A batch decompresses to at most this (a bound against a hostile or broken batch).
constexpr size_t kDecompressedBytesMax = 256 << 20;

absl::Status Corrupt(const std::string& topic, int32_t partition, int64_t offset,
                     std::string_view what) {
  return KafkaStatus(KafkaError::kCorruptMessage,
                     fmt::format("{}-{} at offset {}: {}", topic, partition, offset, what));
}

}  // namespace

absl::StatusOr<DecodedFetch> DecodeFetchedRecords(std::shared_ptr<const std::string> bytes,
                                                  std::shared_ptr<const std::string> topic,
                                                  int32_t partition, int64_t fetch_offset,
                                                  bool check_crcs) {
  DecodedFetch out;
  out.next_fetch_offset = fetch_offset;
  const auto* data = reinterpret_cast<const uint8_t*>(bytes->data());
  const size_t size = bytes->size();
  size_t position = 0;
  while (size - position >= L::kHeaderSize) {
    const int64_t batch_size = record::BatchSizeAt(data + position);
    if (batch_size < static_cast<int64_t>(L::kHeaderSize)) {
      return Corrupt(*topic, partition, out.next_fetch_offset, "impossible batch length");
    }
    if (static_cast<size_t>(batch_size) > size - position) break;  // partial: fetched again
    const auto batch = std::span(data + position, static_cast<size_t>(batch_size));
    position += static_cast<size_t>(batch_size);
    const record::RecordBatchHeader h = record::RecordBatchHeader::Parse(batch);
    if (h.magic != L::kMagicV2) {
      return Corrupt(*topic, partition, h.base_offset.value(), "not a RecordBatch v2");
    }
    if (check_crcs && record::ComputeBatchCrc(batch) != h.crc) {
      return Corrupt(*topic, partition, h.base_offset.value(), "CRC-32C mismatch");
    }
    const int64_t next = h.next_offset().value();
    if (next <= fetch_offset) continue;  // entirely before what was asked
    out.next_fetch_offset = std::max(out.next_fetch_offset, next);
    if (h.is_control()) continue;
    ByteBuffer scratch;
    auto records = record::UncompressedRecords(batch, h, kDecompressedBytesMax, &scratch);
    if (!records.ok()) {
      return Corrupt(*topic, partition, h.base_offset.value(), MessageOf(records.status()));
    }
    std::shared_ptr<const void> storage = bytes;
    if (h.compression() != record::Compression::kNone) {
      storage = std::make_shared<const ByteBuffer>(std::move(scratch));  // the span stays valid
    }
    const bool log_append_time = h.timestamp_type() == record::TimestampType::kLogAppendTime;
    const TimestampType type =
        log_append_time ? TimestampType::kLogAppendTime : TimestampType::kCreateTime;
    absl::Status walked =
        record::WalkRecords(*records, h.record_count, [&](const record::RecordFields& f) {
          const int64_t offset = h.base_offset.value() + f.offset_delta;
          if (offset < fetch_offset) return absl::OkStatus();
          std::vector<HeaderView> headers;
          if (f.header_count > 0) {
            for (const record::RecordHeaderView& hv : record::ParseHeaders(f)) {
              headers.push_back({hv.key, hv.value});
            }
          }
          out.records.emplace_back(
              topic, partition, offset,
              log_append_time ? h.max_timestamp : h.base_timestamp + f.timestamp_delta, type,
              h.partition_leader_epoch.value(), f.key, f.value, std::move(headers), storage);
          return absl::OkStatus();
        });
    if (!walked.ok()) {
      return Corrupt(*topic, partition, h.base_offset.value(), MessageOf(walked));
    }
  }
  return out;
}

}  // namespace strand::client
