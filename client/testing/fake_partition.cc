#include "client/testing/fake_partition.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "record/batch_validator.h"
#include "record/errc.h"
#include "record/record_batch.h"
#include "record/record_batch_reader.h"

namespace strand::client::testing {
namespace {

constexpr size_t kDecompressedMax = 64 << 20;

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

int32_t IncrementSequence(int32_t sequence, int32_t increment) {
  constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
  if (sequence > kMax - increment) return increment - (kMax - sequence) - 1;
  return sequence + increment;
}

}  // namespace

KafkaError FakePartition::CheckSequence(int64_t producer_id, int16_t epoch, int32_t base_sequence,
                                        int32_t last_sequence, int64_t* duplicate_offset,
                                        std::string* message) const {
  *duplicate_offset = -1;
  auto it = producers_.find(producer_id);
  if (it == producers_.end() && base_sequence != 0) {
    // As the real broker (broker/replica/producer_state.cc) answers.
    *message = fmt::format("no state for producer {} and its batch starts at sequence {}, not 0",
                           producer_id, base_sequence);
    return KafkaError::kUnknownProducerId;
  }
  if (it == producers_.end() || epoch > it->second.epoch) {
    if (base_sequence != 0) {
      *message = fmt::format("producer {} epoch {}: first sequence must be 0, got {}", producer_id,
                             epoch, base_sequence);
      return KafkaError::kOutOfOrderSequenceNumber;
    }
    return KafkaError::kNone;
  }
  const ProducerEntry& entry = it->second;
  if (epoch < entry.epoch) {
    *message =
        fmt::format("producer {} epoch {} is older than {}", producer_id, epoch, entry.epoch);
    return KafkaError::kInvalidProducerEpoch;
  }
  for (const SequenceWindow& w : entry.recent) {
    if (w.first_sequence == base_sequence && w.last_sequence == last_sequence) {
      *duplicate_offset = w.base_offset;
      return KafkaError::kNone;
    }
  }
  const int32_t expected =
      entry.recent.empty() ? 0 : IncrementSequence(entry.recent.back().last_sequence, 1);
  if (base_sequence != expected) {
    *message = fmt::format("producer {}: expected sequence {}, got {}", producer_id, expected,
                           base_sequence);
    return KafkaError::kOutOfOrderSequenceNumber;
  }
  return KafkaError::kNone;
}

FakePartition::AppendResult FakePartition::Append(std::string_view records, int32_t leader_epoch) {
  AppendResult result;
  auto extents = record::SplitBatches(Bytes(records));
  if (!extents.ok() || extents->empty()) {
    return {KafkaError::kCorruptMessage, "cannot split the batches", -1};
  }
  // Validate everything first: all or nothing.
  std::vector<record::RecordBatchHeader> headers;
  for (const record::BatchExtent& e : *extents) {
    auto batch = Bytes(records).subspan(e.position, e.size);
    record::ValidationOptions options;
    options.mode = record::ValidationMode::kProduce;
    auto summary = record::ValidateBatch(batch, options);
    if (!summary.ok()) {
      return {record::ToKafkaError(summary.status()), std::string(summary.status().message()), -1};
    }
    headers.push_back(summary->header);
  }
  int64_t next = log_end_offset_;
  for (size_t i = 0; i < extents->size(); ++i) {
    const record::RecordBatchHeader& h = headers[i];
    const int64_t pid = h.producer_id.value();
    int64_t duplicate = -1;
    if (pid >= 0) {
      const int32_t last_sequence = IncrementSequence(h.base_sequence, h.last_offset_delta);
      const KafkaError error = CheckSequence(pid, h.producer_epoch.value(), h.base_sequence,
                                             last_sequence, &duplicate, &result.message);
      if (error != KafkaError::kNone) return {error, result.message, -1};
      if (duplicate >= 0) {
        // A retry of a batch we hold: success with its original offset, nothing written.
        if (result.base_offset < 0) result.base_offset = duplicate;
        continue;
      }
      ProducerEntry& entry = producers_[pid];
      if (h.producer_epoch.value() > entry.epoch) {
        entry.epoch = h.producer_epoch.value();
        entry.recent.clear();
      }
      entry.recent.push_back({h.base_sequence, last_sequence, next});
      if (entry.recent.size() > 5) entry.recent.pop_front();
    }
    std::string bytes(records.substr((*extents)[i].position, (*extents)[i].size));
    auto span = std::span(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size());
    record::SetBaseOffset(span, Offset(next));
    record::SetPartitionLeaderEpoch(span, LeaderEpoch(leader_epoch));
    if (result.base_offset < 0) result.base_offset = next;
    batches_.push_back({next, next + h.last_offset_delta, h.max_timestamp, std::move(bytes)});
    next += h.last_offset_delta + 1;
  }
  log_end_offset_ = next;
  return result;
}

std::string FakePartition::Read(int64_t offset, int64_t max_bytes) const {
  std::string out;
  for (const Stored& b : batches_) {
    if (b.last_offset < offset) continue;
    if (!out.empty() && static_cast<int64_t>(out.size() + b.bytes.size()) > max_bytes) break;
    out += b.bytes;
  }
  return out;
}

int64_t FakePartition::OffsetForTimestamp(int64_t timestamp, int64_t* found_timestamp) const {
  *found_timestamp = -1;
  if (timestamp == -1) return log_end_offset_;
  if (timestamp == -2) return log_start_offset_;
  if (timestamp == -3) {
    int64_t best = -1, best_ts = -1;
    for (const FakeRecord& r : Records()) {
      if (r.timestamp_ms > best_ts) {
        best_ts = r.timestamp_ms;
        best = r.offset;
      }
    }
    *found_timestamp = best_ts;
    return best;
  }
  for (const FakeRecord& r : Records()) {
    if (r.timestamp_ms >= timestamp) {
      *found_timestamp = r.timestamp_ms;
      return r.offset;
    }
  }
  return -1;
}

std::vector<FakeRecord> FakePartition::Records() const {
  std::vector<FakeRecord> out;
  for (const Stored& b : batches_) {
    auto decoded = record::DecodedBatch::Decode(Bytes(b.bytes), kDecompressedMax);
    if (!decoded.ok()) continue;
    for (const record::RecordView& v : decoded->records()) {
      FakeRecord r;
      r.offset = v.offset.value();
      r.timestamp_ms = v.timestamp;
      if (v.key) r.key = std::string(*v.key);
      if (v.value) r.value = std::string(*v.value);
      for (const auto& h : v.headers) {
        r.headers.emplace_back(
            std::string(h.key),
            h.value ? std::optional<std::string>(std::string(*h.value)) : std::nullopt);
      }
      r.producer_id = decoded->header().producer_id.value();
      r.base_sequence = decoded->header().base_sequence;
      r.compression = decoded->header().compression_codec();
      out.push_back(std::move(r));
    }
  }
  return out;
}

void FakePartition::DeleteBefore(int64_t offset) {
  while (!batches_.empty() && batches_.front().last_offset < offset) {
    batches_.erase(batches_.begin());
  }
  log_start_offset_ = batches_.empty() ? log_end_offset_ : batches_.front().base_offset;
}

}  // namespace strand::client::testing
