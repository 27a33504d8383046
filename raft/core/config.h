#pragma once

// Config: everything that bounds the Raft core's behaviour. Every queue, window and message has
// a limit here, validated once at start-up (Validate) rather than checked on the hot path.

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "raft/core/types.h"

namespace strand::raft {

struct Config {
  NodeId id = kNoNode;
  // The static voter set (controller.quorum.voters). Every voter must list the same set.
  std::vector<NodeId> voters;
  // This node is a non-voting observer: it must not be in `voters`.
  bool observer = false;

  // Followers start an election after a randomized timeout in [T, 2T) ticks without a leader.
  int election_timeout_ticks = 10;
  int heartbeat_interval_ticks = 1;
  bool pre_vote = true;
  bool check_quorum = true;

  size_t append_bytes_max = 1 << 20;            // entry bytes per AppendEntries message
  size_t inflight_messages_max = 64;            // pipelined appends per follower
  size_t inflight_bytes_max = 16 << 20;         // bytes in flight per follower
  size_t uncommitted_bytes_max = 64 << 20;      // proposals beyond this are refused
  size_t entry_bytes_max = 8 << 20;             // one proposal
  size_t apply_bytes_max = 32 << 20;            // committed entries handed out per Ready
  size_t snapshot_chunk_bytes = 1 << 20;        // InstallSnapshot chunk size
  size_t snapshot_bytes_max = size_t{1} << 30;  // a received snapshot larger than this is refused
  int snapshot_resend_ticks = 4;                // an unacknowledged chunk is re-sent after this
  int replicate_stall_heartbeats = 10;          // unanswered appends re-sent after this many
  size_t observers_max = 1024;                  // observers the leader replicates to
  int observer_expiry_ticks = 200;              // a silent observer is forgotten after this
  // Snapshot advice: RawNode::ShouldSnapshot() turns true once this many entries were applied
  // since the last snapshot; compaction then keeps this many trailing entries for slow peers.
  uint64_t snapshot_interval_entries = 10'000;
  uint64_t snapshot_trailing_entries = 1'000;

  absl::Status Validate() const;
  bool IsVoter(NodeId node) const;
};

}  // namespace strand::raft
