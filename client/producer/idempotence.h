#pragma once

// IdempotenceState: what an idempotent producer tracks to keep every partition's batches exactly
// once and in order (KIP-98, with KIP-360's epoch bump for sequences it cannot repair):
//   - the producer id and epoch (InitProducerId), stamped on every batch;
//   - per partition, the next base sequence (int32, wrapping to 0 past INT32_MAX as Kafka does)
//     and the "unresolved" batches — sequenced, not yet completed — in sequence order, with how
//     many are in flight.
// Rules it answers for the sender:
//   - a new batch may go when the partition has fewer than 5 in flight and no retry waiting;
//   - a retried batch may go only alone and only when it is the partition's first unresolved
//     batch (so the broker always sees sequences in order);
//   - OUT_OF_ORDER_SEQUENCE_NUMBER on a batch that is not the first unresolved one only means an
//     earlier batch did not land: retry it; on the first one (and UNKNOWN_PRODUCER_ID,
//     INVALID_PRODUCER_EPOCH) the broker's view cannot be repaired: bump the epoch.
// A bump waits until nothing is in flight, then every partition restarts at sequence 0 under the
// new epoch. Sender thread only; no locking.

#include <cstdint>
#include <map>

#include "client/producer/producer_batch.h"
#include "strand/record.h"

namespace strand::client {

inline constexpr int32_t kIdempotentInFlightMax = 5;

class IdempotenceState {
 public:
  bool has_producer_id() const { return producer_id_ >= 0; }
  int64_t producer_id() const { return producer_id_; }
  int16_t producer_epoch() const { return producer_epoch_; }
  // A new id/epoch: every partition restarts at sequence 0. Unresolved batches must have been
  // dealt with (ResetForEpochBump).
  void SetProducerId(int64_t producer_id, int16_t producer_epoch);

  // Gives `batch` the partition's next sequence and tracks it as unresolved.
  void AssignSequence(ProducerBatch& batch);
  // May the sender take `head` (the front of its partition's queue) now?
  bool MaySend(const ProducerBatch& head) const;
  void OnSent(const ProducerBatch& batch);
  void OnAnswered(const ProducerBatch& batch);  // back from a request (any outcome)
  // The batch is done (acknowledged or failed for good).
  void OnCompleted(const ProducerBatch& batch);
  bool IsFirstUnresolved(const ProducerBatch& batch) const;
  int InFlight(const TopicPartition& tp) const;

  void RequestEpochBump() { bump_needed_ = true; }
  bool bump_needed() const { return bump_needed_; }
  // Forgets every partition's sequences and unresolved batches (their owners decide what to do
  // with each: resend under the new epoch, or fail); clears the bump request.
  void ResetForEpochBump();

  // Kafka's DefaultRecordBatch.incrementSequence.
  static int32_t IncrementSequence(int32_t sequence, int32_t increment);

 private:
  struct PartitionState {
    int32_t next_sequence = 0;
    std::map<uint64_t, const ProducerBatch*> unresolved;  // by batch id = sequence order
    int in_flight = 0;
  };
  int64_t producer_id_ = -1;
  int16_t producer_epoch_ = -1;
  bool bump_needed_ = false;
  std::map<TopicPartition, PartitionState> partitions_;
};

}  // namespace strand::client
