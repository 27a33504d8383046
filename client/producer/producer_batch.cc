#include "client/producer/producer_batch.h"

#include <cstring>

#include "common/big_endian.h"
#include "common/check.h"
#include "common/varint.h"
#include "record/compression.h"

namespace strand::client {
namespace {

namespace L = record::batch_layout;

}  // namespace

ProducerBatch::ProducerBatch(TopicPartition tp, size_t capacity_bytes, int64_t reserved_bytes,
                             int64_t created_ms)
    : tp_(std::move(tp)),
      capacity_bytes_(std::max(capacity_bytes, L::kHeaderSize)),
      reserved_bytes_(reserved_bytes),
      created_ms_(created_ms) {
  buffer_.reserve(capacity_bytes_);
  buffer_.resize(L::kHeaderSize);  // the header, written by Seal
}

size_t ProducerBatch::RecordSizeBytes(std::optional<std::string_view> key,
                                      std::optional<std::string_view> value,
                                      std::span<const record::RecordHeaderView> headers) {
  // Widest deltas: a varint offset delta and a varlong timestamp delta.
  return record::EncodedRecordSize(0, 0, key, value, headers) + (varint::kMaxVarintBytes - 1) +
         (varint::kMaxVarlongBytes - 1);
}

bool ProducerBatch::Fits(int64_t timestamp_ms, std::optional<std::string_view> key,
                         std::optional<std::string_view> value,
                         std::span<const record::RecordHeaderView> headers) const {
  if (sealed_) return false;
  if (record_count_ == 0) return true;
  const int64_t delta = timestamp_ms - base_timestamp_ms_;
  return record::EncodedRecordSize(record_count_, delta, key, value, headers) <= free_bytes();
}

bool ProducerBatch::TryAppend(int64_t timestamp_ms, std::optional<std::string_view> key,
                              std::optional<std::string_view> value,
                              std::span<const record::RecordHeaderView> headers,
                              SendCallback& callback) {
  STRAND_CHECK(!sealed_);
  const int64_t base = record_count_ == 0 ? timestamp_ms : base_timestamp_ms_;
  const int64_t delta = timestamp_ms - base;
  const size_t size = record::EncodedRecordSize(record_count_, delta, key, value, headers);
  if (record_count_ > 0 && size > free_bytes()) {
    full_ = true;
    return false;
  }
  record::EncodeRecord(record_count_, delta, key, value, headers, &buffer_);
  if (record_count_ == 0) base_timestamp_ms_ = timestamp_ms;
  max_timestamp_ms_ = std::max(max_timestamp_ms_, timestamp_ms);
  if (callback) thunks_.push_back({std::move(callback), timestamp_ms, record_count_});
  ++record_count_;
  return true;
}

absl::Status ProducerBatch::Seal(record::Compression compression, int compression_level) {
  if (sealed_) return absl::OkStatus();
  STRAND_CHECK(record_count_ > 0);
  uncompressed_records_bytes_ = buffer_.size() - L::kHeaderSize;
  uint16_t attributes = static_cast<uint16_t>(compression);
  if (compression != record::Compression::kNone) {
    const auto records =
        std::span(reinterpret_cast<const uint8_t*>(buffer_.data()) + L::kHeaderSize,
                  uncompressed_records_bytes_);
    absl::StatusOr<ByteBuffer> compressed =
        record::Compress(compression, records, compression_level);
    if (!compressed.ok()) return compressed.status();
    std::string wire;
    wire.reserve(L::kHeaderSize + compressed->size());
    wire.resize(L::kHeaderSize);
    wire.append(compressed->view());
    buffer_ = std::move(wire);
  }
  record::RecordBatchHeader h;
  h.base_offset = Offset(0);
  h.length = static_cast<int32_t>(buffer_.size() - L::kLogOverhead);
  h.partition_leader_epoch = LeaderEpoch(-1);
  h.attributes = attributes;
  h.last_offset_delta = record_count_ - 1;
  h.base_timestamp = base_timestamp_ms_;
  h.max_timestamp = max_timestamp_ms_;
  h.producer_id = ProducerId(producer_id);
  h.producer_epoch = ProducerEpoch(producer_epoch);
  h.base_sequence = base_sequence;
  h.record_count = record_count_;
  auto* bytes = reinterpret_cast<uint8_t*>(buffer_.data());
  h.Serialize(bytes);
  record::UpdateBatchCrc(std::span(bytes, buffer_.size()));
  sealed_ = true;
  return absl::OkStatus();
}

void ProducerBatch::Stamp(int64_t id, int16_t epoch, int32_t sequence) {
  producer_id = id;
  producer_epoch = epoch;
  base_sequence = sequence;
  if (!sealed_) return;  // Seal writes them
  auto* bytes = reinterpret_cast<uint8_t*>(buffer_.data());
  StoreBigEndian64(bytes + L::kProducerId, static_cast<uint64_t>(id));
  StoreBigEndian16(bytes + L::kProducerEpoch, static_cast<uint16_t>(epoch));
  StoreBigEndian32(bytes + L::kBaseSequence, static_cast<uint32_t>(sequence));
  record::UpdateBatchCrc(std::span(bytes, buffer_.size()));
}

void ProducerBatch::Complete(const absl::Status& status, int64_t base_offset,
                             int64_t log_append_time_ms) {
  if (completed_) return;
  completed_ = true;
  for (Thunk& thunk : thunks_) {
    if (!status.ok()) {
      thunk.callback(status);
      continue;
    }
    RecordMetadata metadata;
    metadata.topic = tp_.topic;
    metadata.partition = tp_.partition;
    metadata.offset = base_offset < 0 ? -1 : base_offset + thunk.index;
    metadata.timestamp_ms = log_append_time_ms >= 0 ? log_append_time_ms : thunk.timestamp_ms;
    thunk.callback(metadata);
  }
  thunks_.clear();
  thunks_.shrink_to_fit();
  std::string().swap(buffer_);
}

}  // namespace strand::client
