#pragma once

// ProducerStateManager: idempotent producers on one partition. For each producer id it keeps the
// epoch and the last five batches written (their sequence range and offsets), which is what
// lets a leader tell a retried batch from a new one:
//
//   - a batch whose sequences match one of the last five is a duplicate: answered with its
//     original offsets, never written twice;
//   - a batch whose first sequence follows the last one is written;
//   - anything else is OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is INVALID_PRODUCER_EPOCH;
//     a producer the partition has no state for must start at sequence 0 (else
//     UNKNOWN_PRODUCER_ID, upon which it re-initializes).
//
// Leaders and followers both Update it for every batch they append, so a new leader has it;
// after a restart or truncation it is rebuilt by replaying the log (from a snapshot when one is
// usable: Serialize / Parse). Pure; owned by a Partition and used under its lock.

#include <cstdint>
#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/ids.h"

namespace strand::broker {

struct ProducerBatch {
  int32_t first_sequence = 0;
  int32_t last_sequence = 0;
  Offset first_offset{0};
  Offset last_offset{0};
  int64_t timestamp_ms = 0;
  bool operator==(const ProducerBatch&) const = default;
};

class ProducerStateManager {
 public:
  static constexpr size_t kBatchesKept = 5;

  // Decision for an incoming leader batch with sequences [first, last].
  struct Decision {
    std::optional<ProducerBatch> duplicate;  // set: answer with these offsets, write nothing
  };
  // A producer id the partition does not track yet is refused (THROTTLING_QUOTA_EXCEEDED) when
  // `producers_max` are tracked already.
  absl::StatusOr<Decision> Check(ProducerId id, ProducerEpoch epoch, int32_t first_sequence,
                                 int32_t last_sequence,
                                 size_t producers_max = SIZE_MAX) const;

  // Whether a batch Check refuses as out of order (or from an unknown producer) may yet be in
  // sequence once batches the producer sent before it land: it is not the producer's first
  // batch and the partition has no state for the producer, or the batch opens a newer epoch at a
  // sequence other than 0, or it starts past the next expected sequence (a gap, not a repeat).
  // The leader holds such a batch back for a moment rather than refuse it (in-order produce).
  bool MayFollowLater(ProducerId id, ProducerEpoch epoch, int32_t first_sequence) const;

  // Records a batch written to the log (by the leader, a follower, or while replaying) at
  // broker wall time `now_ms` (never the batch's own timestamps, which a client chooses).
  void Update(ProducerId id, ProducerEpoch epoch, const ProducerBatch& batch, int64_t now_ms);

  // Forgets producers not written by since broker wall time `now_ms - expiration_ms`.
  void Expire(int64_t now_ms, int64_t expiration_ms);
  void Clear() { producers_.clear(); }
  size_t size() const { return producers_.size(); }

  std::string Serialize() const;
  static absl::StatusOr<ProducerStateManager> Parse(std::string_view data);

  bool operator==(const ProducerStateManager&) const = default;

 private:
  struct Entry {
    ProducerEpoch epoch{0};
    std::deque<ProducerBatch> batches;  // oldest first, at most kBatchesKept
    int64_t last_seen_ms = 0;  // broker wall time of the last batch
    bool operator==(const Entry&) const = default;
  };
  std::map<ProducerId, Entry> producers_;
};

// The sequence after `sequence` (int32, wrapping to 0 as Kafka does).
int32_t NextSequence(int32_t sequence);
// The last sequence of a batch of `records` starting at `first`.
int32_t LastSequence(int32_t first, int32_t records);

}  // namespace strand::broker
