#pragma once

// Progress: the leader's view of one peer's log (Raft paper's nextIndex/matchIndex), plus the
// flow control that makes replication pipelined but bounded.
//
//   kProbe:     the leader does not know where the peer's log diverges; one append at a time,
//               paused until a response (or a heartbeat response) arrives.
//   kReplicate: the peer is caught up; appends stream optimistically (next advances on send),
//               limited by the Inflights window (messages and bytes).
//   kSnapshot:  the peer is behind the compaction point; snapshot chunks are sent one at a time
//               and appends wait until the snapshot is installed.
//
// Owned by the ProgressTracker inside Raft; single-threaded.

#include <cstddef>
#include <deque>

#include "raft/core/types.h"

namespace strand::raft {

// Inflights: appends sent to a peer in kReplicate state and not yet acknowledged, bounded both
// in count and in bytes. Each item remembers the last index the message carried.
class Inflights {
 public:
  Inflights(size_t messages_max, size_t bytes_max)
      : messages_max_(messages_max), bytes_max_(bytes_max) {}

  void Add(LogIndex last_index, size_t bytes);
  // Frees every in-flight message whose last index is <= index (they were acknowledged).
  void FreeUpTo(LogIndex index);
  void Reset();
  bool Full() const { return items_.size() >= messages_max_ || bytes_ >= bytes_max_; }
  size_t count() const { return items_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  struct Item {
    LogIndex last_index;
    size_t bytes;
  };
  size_t messages_max_;
  size_t bytes_max_;
  std::deque<Item> items_;
  size_t bytes_ = 0;
};

enum class ProgressState : uint8_t { kProbe, kReplicate, kSnapshot };

struct Progress {
  Progress(LogIndex next_index, size_t inflight_messages_max, size_t inflight_bytes_max,
           bool observer)
      : next(next_index),
        inflights(inflight_messages_max, inflight_bytes_max),
        is_observer(observer) {}

  LogIndex match;  // highest index known to be replicated on the peer
  LogIndex next;   // next index to send
  ProgressState state = ProgressState::kProbe;
  bool probe_sent = false;  // kProbe: an append is outstanding
  Inflights inflights;
  bool recent_active = false;  // heard from since the last check-quorum round
  bool is_observer = false;    // observers never vote or count toward commit
  LogIndex commit_sent;        // highest commit index this peer can have learned from us
  int ticks_since_heard = 0;   // leader ticks since this peer last answered anything
  // kReplicate: heartbeat answers received while sent entries stayed unacknowledged. Appends
  // may be lost (the transport promises nothing); after a few such rounds the leader probes.
  int stalled_heartbeats = 0;

  // kSnapshot: the snapshot being sent and how far the peer has acknowledged it.
  LogIndex snapshot_index;
  uint64_t snapshot_acked_bytes = 0;
  bool snapshot_chunk_in_flight = false;
  int snapshot_ticks_waiting = 0;

  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(LogIndex index);

  // A successful append response up to `index`. Returns true when it taught the leader something
  // new (match advanced).
  bool MaybeUpdate(LogIndex index);
  // kReplicate: the leader just sent entries up to last_sent.
  void OptimisticUpdate(LogIndex last_sent) { next = last_sent + 1; }
  // A rejection of the append whose previous index was `rejected`. `hint` is the index the
  // leader should probe next. Returns false when the rejection is stale.
  bool MaybeDecreaseTo(LogIndex rejected, LogIndex hint);
  // Whether the leader must hold back appends to this peer for now.
  bool IsPaused() const;
};

}  // namespace strand::raft
