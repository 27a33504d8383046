#include "client/producer/idempotence.h"

#include <limits>

#include "common/check.h"

namespace strand::client {

int32_t IdempotenceState::IncrementSequence(int32_t sequence, int32_t increment) {
  constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
  if (sequence > kMax - increment) return increment - (kMax - sequence) - 1;
  return sequence + increment;
}

void IdempotenceState::SetProducerId(int64_t producer_id, int16_t producer_epoch) {
  producer_id_ = producer_id;
  producer_epoch_ = producer_epoch;
  partitions_.clear();
  bump_needed_ = false;
}

void IdempotenceState::AssignSequence(ProducerBatch& batch) {
  STRAND_CHECK(has_producer_id() && batch.base_sequence < 0);
  PartitionState& p = partitions_[batch.topic_partition()];
  batch.Stamp(producer_id_, producer_epoch_, p.next_sequence);
  p.next_sequence = IncrementSequence(p.next_sequence, batch.record_count());
  p.unresolved.emplace(batch.id, &batch);
}

bool IdempotenceState::MaySend(const ProducerBatch& head) const {
  if (!has_producer_id() || bump_needed_) return false;
  auto it = partitions_.find(head.topic_partition());
  if (it == partitions_.end()) return head.base_sequence < 0;
  const PartitionState& p = it->second;
  if (p.in_flight >= kIdempotentInFlightMax) return false;
  if (head.base_sequence >= 0) {
    // A retry: alone, and only once every earlier batch is resolved.
    return p.in_flight == 0 && !p.unresolved.empty() && p.unresolved.begin()->first == head.id;
  }
  // A new batch waits while a retry of this partition waits (it is queued before it anyway).
  for (const auto& [id, batch] : p.unresolved) {
    if (!batch->in_flight) return false;
  }
  return true;
}

void IdempotenceState::OnSent(const ProducerBatch& batch) {
  auto it = partitions_.find(batch.topic_partition());
  if (it != partitions_.end() && it->second.unresolved.count(batch.id) > 0) ++it->second.in_flight;
}

void IdempotenceState::OnAnswered(const ProducerBatch& batch) {
  auto it = partitions_.find(batch.topic_partition());
  if (it != partitions_.end() && it->second.unresolved.count(batch.id) > 0) {
    STRAND_CHECK(it->second.in_flight > 0);
    --it->second.in_flight;
  }
}

void IdempotenceState::OnCompleted(const ProducerBatch& batch) {
  auto it = partitions_.find(batch.topic_partition());
  if (it != partitions_.end()) it->second.unresolved.erase(batch.id);
}

bool IdempotenceState::IsFirstUnresolved(const ProducerBatch& batch) const {
  auto it = partitions_.find(batch.topic_partition());
  return it != partitions_.end() && !it->second.unresolved.empty() &&
         it->second.unresolved.begin()->first == batch.id;
}

int IdempotenceState::InFlight(const TopicPartition& tp) const {
  auto it = partitions_.find(tp);
  return it == partitions_.end() ? 0 : it->second.in_flight;
}

void IdempotenceState::ResetForEpochBump() {
  for (const auto& [tp, p] : partitions_) STRAND_CHECK(p.in_flight == 0);
  partitions_.clear();
}

}  // namespace strand::client
