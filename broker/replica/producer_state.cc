#include "broker/replica/producer_state.h"

#include <fmt/format.h>

#include "common/big_endian.h"
#include "common/kafka_error.h"
#include "common/status.h"

namespace strand::broker {
namespace {

absl::Status KafkaStatus(KafkaError code, std::string message) {
  return MakeError(code, message);
}

constexpr uint8_t kSnapshotVersion = 1;

}  // namespace

int32_t NextSequence(int32_t sequence) {
  return sequence == INT32_MAX ? 0 : sequence + 1;
}

int32_t LastSequence(int32_t first, int32_t records) {
  const int64_t last = int64_t{first} + records - 1;
  return static_cast<int32_t>(last > INT32_MAX ? last - INT32_MAX - 1 : last);
}

absl::StatusOr<ProducerStateManager::Decision> ProducerStateManager::Check(
    ProducerId id, ProducerEpoch epoch, int32_t first_sequence, int32_t last_sequence,
    size_t producers_max) const {
  auto it = producers_.find(id);
  if (it == producers_.end()) {
    if (producers_.size() >= producers_max) {
      return KafkaStatus(KafkaError::kThrottlingQuotaExceeded,
                         fmt::format("the partition tracks {} idempotent producers already "
                                     "(strand.producer.ids.per.partition.max); producer {} is "
                                     "refused until some expire (producer.id.expiration.ms)",
                                     producers_.size(), id));
    }
    if (first_sequence != 0) {
      return KafkaStatus(KafkaError::kUnknownProducerId,
                         fmt::format("no state for producer {} and its batch starts at "
                                     "sequence {}, not 0",
                                     id, first_sequence));
    }
    return Decision{};
  }
  const Entry& e = it->second;
  if (epoch < e.epoch) {
    return KafkaStatus(KafkaError::kInvalidProducerEpoch,
                       fmt::format("producer {} epoch {} is older than {}", id, epoch, e.epoch));
  }
  if (epoch > e.epoch) {
    if (first_sequence != 0) {
      return KafkaStatus(KafkaError::kOutOfOrderSequenceNumber,
                         fmt::format("producer {} new epoch {} must start at sequence 0, not {}",
                                     id, epoch, first_sequence));
    }
    return Decision{};
  }
  for (const ProducerBatch& b : e.batches) {
    if (b.first_sequence == first_sequence && b.last_sequence == last_sequence) {
      return Decision{b};  // a retry of a batch already written
    }
  }
  const int32_t expected =
      e.batches.empty() ? 0 : NextSequence(e.batches.back().last_sequence);
  if (first_sequence != expected) {
    return KafkaStatus(KafkaError::kOutOfOrderSequenceNumber,
                       fmt::format("producer {} sent sequence {}, expected {}", id,
                                   first_sequence, expected));
  }
  return Decision{};
}

bool ProducerStateManager::MayFollowLater(ProducerId id, ProducerEpoch epoch,
                                          int32_t first_sequence) const {
  auto it = producers_.find(id);
  if (it == producers_.end() || epoch > it->second.epoch) return first_sequence != 0;
  const Entry& e = it->second;
  if (epoch < e.epoch) return false;
  // Sequences wrap at INT32_MAX: a gap is ahead by less than half the range, a repeat behind.
  const int64_t expected = e.batches.empty() ? 0 : NextSequence(e.batches.back().last_sequence);
  int64_t ahead = int64_t{first_sequence} - expected;
  if (ahead < 0) ahead += int64_t{INT32_MAX} + 1;
  return ahead > 0 && ahead < (int64_t{1} << 30);
}

void ProducerStateManager::Update(ProducerId id, ProducerEpoch epoch, const ProducerBatch& batch,
                                  int64_t now_ms) {
  Entry& e = producers_[id];
  if (epoch != e.epoch) {
    e.epoch = epoch;
    e.batches.clear();
  }
  e.batches.push_back(batch);
  while (e.batches.size() > kBatchesKept) e.batches.pop_front();
  e.last_seen_ms = std::max(e.last_seen_ms, now_ms);
}

void ProducerStateManager::Expire(int64_t now_ms, int64_t expiration_ms) {
  for (auto it = producers_.begin(); it != producers_.end();) {
    if (it->second.last_seen_ms < now_ms - expiration_ms) {
      it = producers_.erase(it);
    } else {
      ++it;
    }
  }
}

std::string ProducerStateManager::Serialize() const {
  std::string out;
  out.push_back(static_cast<char>(kSnapshotVersion));
  auto put64 = [&](int64_t v) {
    char buf[8];
    StoreBigEndian64(reinterpret_cast<uint8_t*>(buf), static_cast<uint64_t>(v));
    out.append(buf, 8);
  };
  put64(static_cast<int64_t>(producers_.size()));
  for (const auto& [id, e] : producers_) {
    put64(id.value());
    put64(e.epoch.value());
    put64(e.last_seen_ms);
    put64(static_cast<int64_t>(e.batches.size()));
    for (const ProducerBatch& b : e.batches) {
      put64(b.first_sequence);
      put64(b.last_sequence);
      put64(b.first_offset.value());
      put64(b.last_offset.value());
      put64(b.timestamp_ms);
    }
  }
  return out;
}

absl::StatusOr<ProducerStateManager> ProducerStateManager::Parse(std::string_view data) {
  if (data.empty() || static_cast<uint8_t>(data[0]) != kSnapshotVersion) {
    return absl::DataLossError("producer state snapshot: unknown version");
  }
  size_t pos = 1;
  bool ok = true;
  auto get64 = [&]() -> int64_t {
    if (pos + 8 > data.size()) {
      ok = false;
      return 0;
    }
    const auto v = static_cast<int64_t>(
        LoadBigEndian64(reinterpret_cast<const uint8_t*>(data.data() + pos)));
    pos += 8;
    return v;
  };
  ProducerStateManager m;
  const int64_t count = get64();
  for (int64_t i = 0; ok && i < count; ++i) {
    const ProducerId id(get64());
    Entry e;
    e.epoch = ProducerEpoch(static_cast<int16_t>(get64()));
    e.last_seen_ms = get64();
    const int64_t batches = get64();
    if (batches < 0 || batches > static_cast<int64_t>(kBatchesKept)) ok = false;
    for (int64_t j = 0; ok && j < batches; ++j) {
      ProducerBatch b;
      b.first_sequence = static_cast<int32_t>(get64());
      b.last_sequence = static_cast<int32_t>(get64());
      b.first_offset = Offset(get64());
      b.last_offset = Offset(get64());
      b.timestamp_ms = get64();
      e.batches.push_back(b);
    }
    m.producers_[id] = std::move(e);
  }
  if (!ok || pos != data.size()) return absl::DataLossError("producer state snapshot: truncated");
  return m;
}

}  // namespace strand::broker
