#pragma once

// LeaderState: a partition leader's view of its followers — how far each has fetched, how far
// each is durable, when each was last caught up — and the two decisions that follow from it:
//
//   - the high watermark: the lowest durable offset among the ISR (the leader's own included)
//     and the members a pending expansion adds,
//     never moving back, and not moving at all while the ISR is smaller than
//     min.insync.replicas (the strict rule: nothing counts as committed with too few copies);
//   - the ISR the leader should propose: members not caught up for replica.lag.time.max.ms
//     leave; replicas whose durable log reaches the high watermark (and the start of this
//     leader's epoch) join.
//
// "Caught up" follows Kafka, counting what the follower reports durable rather than what it
// fetched (acks=all waits for its fsync): durable at or beyond the leader's log end makes the
// follower caught up now; at or beyond the leader's log end as of its previous report makes it
// caught up as of that previous report (a fetch). A follower whose fsyncs hang so leaves the
// ISR after replica.lag.time.max.ms even though it keeps fetching. Pure: time comes in as
// arguments. Owned by a Partition, used under its lock.

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "common/ids.h"

namespace strand::broker {

struct FollowerProgress {
  Offset fetch_offset{-1};       // its log end, as of its last fetch
  Offset durable_offset{0};      // everything below is fsynced on the follower
  int64_t last_caught_up_ms = 0;
  int64_t last_fetch_ms = 0;
  Offset leader_end_at_last_fetch{0};
};

class LeaderState {
 public:
  // A new leadership: `epoch_start` is the leader's log end when it became leader.
  LeaderState(NodeId self, std::vector<NodeId> replicas, std::vector<NodeId> isr,
              Offset epoch_start, int64_t now_ms);

  void OnFollowerFetch(NodeId follower, Offset fetch_offset, Offset durable_offset,
                       Offset leader_end, int64_t now_ms);
  // The high watermark given the leader's own durable offset; never below `current`.
  Offset HighWatermark(Offset leader_durable, Offset current, int32_t min_isr) const;
  // The ISR to propose, or nullopt when the current one is right.
  std::optional<std::vector<NodeId>> ProposedIsr(int64_t now_ms, int64_t lag_max_ms,
                                                 Offset high_watermark) const;

  // Metadata changed the assignment (the controller accepted an ISR change, or reassigned).
  void Update(std::vector<NodeId> replicas, std::vector<NodeId> isr, int64_t now_ms);

  // An ISR expansion is proposed: from now until its fate is known, the high watermark also
  // waits for the members being added (Kafka's "maximal ISR", KIP-497). Otherwise a record
  // acknowledged while the controller commits the expansion could be missing from a replica
  // that is in the committed ISR and may be elected leader next.
  void AddPendingMembers(const std::vector<NodeId>& proposed_isr);
  // The proposal's fate is known (refused, or the metadata log brought the new ISR).
  void ClearPendingMembers() { pending_.clear(); }
  const std::vector<NodeId>& pending_members() const { return pending_; }

  const std::vector<NodeId>& isr() const { return isr_; }
  const std::vector<NodeId>& replicas() const { return replicas_; }
  bool InIsr(NodeId node) const;
  const FollowerProgress* follower(NodeId node) const;

 private:
  NodeId self_;
  std::vector<NodeId> replicas_;
  std::vector<NodeId> isr_;
  Offset epoch_start_;
  std::map<NodeId, FollowerProgress> followers_;
  std::vector<NodeId> pending_;  // being added to the ISR, not yet known to be in it
};

}  // namespace strand::broker
