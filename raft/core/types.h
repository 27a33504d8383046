#pragma once

// The vocabulary of the Raft core: ids, log entries, persistent state, snapshots and messages.
// Plain value types with no I/O; the transport converts Message to and from proto/raft/v1.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ids.h"
#include "common/strong_id.h"

namespace strand::raft {

struct TermTag {};
using Term = StrongId<TermTag, uint64_t>;
struct LogIndexTag {};
using LogIndex = StrongId<LogIndexTag, uint64_t>;

using strand::kNoNode;
using strand::NodeId;

enum class EntryType : uint8_t {
  kNormal = 0,  // application data
  kNoop = 1,    // appended by a new leader so that it can commit entries of earlier terms
};

struct Entry {
  Term term;
  LogIndex index;
  EntryType type = EntryType::kNormal;
  std::string data;

  // Bytes this entry counts against message and memory limits.
  size_t SizeBytes() const { return data.size() + 24; }
  bool operator==(const Entry&) const = default;
};

// State that must be durable before the node answers any message that depends on it: a vote
// granted or a term adopted must survive a crash, or the node could vote twice in one term.
struct HardState {
  Term term;
  NodeId vote = kNoNode;
  LogIndex commit;  // persisted as a hint for restart; never needed for safety

  bool operator==(const HardState&) const = default;
};

struct SnapshotMeta {
  LogIndex index;  // last entry covered by the snapshot
  Term term;       // term of that entry
  std::vector<NodeId> voters;

  bool operator==(const SnapshotMeta&) const = default;
};

// A snapshot's bytes are immutable once taken and shared by reference: the leader may be
// sending the same snapshot to several followers in chunks while the application keeps it.
struct Snapshot {
  SnapshotMeta meta;
  std::shared_ptr<const std::string> data;

  bool Empty() const { return meta.index == LogIndex(0); }
};

enum class Role : uint8_t {
  kFollower = 0,
  kPreCandidate = 1,
  kCandidate = 2,
  kLeader = 3,
  kObserver = 4,  // non-voting: receives the committed log, never votes or campaigns
};
std::string_view RoleName(Role role);

enum class MessageType : uint8_t {
  kPreVote = 1,  // "would you vote for me at term+1?" (term is not bumped)
  kPreVoteResponse = 2,
  kVote = 3,  // RequestVote
  kVoteResponse = 4,
  kAppend = 5,  // AppendEntries with entries
  kAppendResponse = 6,
  kHeartbeat = 7,  // AppendEntries without entries; carries the read-index context
  kHeartbeatResponse = 8,
  kSnapshotChunk = 9,      // InstallSnapshot, one chunk
  kSnapshotResponse = 10,  // acknowledges a chunk, or the installed snapshot
  kTimeoutNow = 11,        // leadership transfer: campaign now, skipping pre-vote
  kReadIndex = 12,         // a follower forwards a read-index request to the leader
  kReadIndexResponse = 13,
  kTransferLeadership = 14,  // a follower forwards a transfer request to the leader
  kObserverJoin = 15,        // an observer asks voters to replicate the log to it
};
std::string_view MessageTypeName(MessageType type);

// True for the message types that answer another message.
bool IsResponse(MessageType type);

struct Message {
  MessageType type = MessageType::kHeartbeat;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  // Sender's term. Zero only for kObserverJoin, which is term-less (an observer may be behind).
  Term term;

  // kAppend: index/log_term of the entry preceding `entries`.
  // kVote/kPreVote: index/log_term of the candidate's last entry.
  // kAppendResponse: the last index the follower now matches (on success) or the rejected index.
  // kSnapshotResponse: the snapshot's index.
  LogIndex index;
  Term log_term;
  LogIndex commit;  // kAppend/kHeartbeat: leader's commit index (capped for the recipient)
  std::vector<Entry> entries;

  bool reject = false;
  // On a rejected append, the follower's hint for the leader's next probe: its last index at or
  // below the rejected one, and that entry's term (fast log backtracking, Raft thesis 5.3).
  LogIndex reject_hint;
  Term reject_hint_term;

  // kSnapshotChunk: which snapshot and which bytes; kSnapshotResponse: bytes received so far.
  SnapshotMeta snapshot;
  uint64_t snapshot_offset = 0;
  uint64_t snapshot_size = 0;
  std::string snapshot_chunk;
  bool snapshot_done = false;

  // kHeartbeat/kHeartbeatResponse/kReadIndex/kReadIndexResponse: read-index request context.
  uint64_t context = 0;
  // kVote/kPreVote: campaign started by a leadership transfer (voters skip the leader lease).
  bool transfer = false;
  // kTransferLeadership: the node that should become leader.
  NodeId transfer_target = kNoNode;

  size_t SizeBytes() const;
};

// The outcome of a read-index request: once the application has applied `index`, a read that
// started before the request is linearizable.
struct ReadState {
  uint64_t context = 0;
  LogIndex index;
};

// Volatile state the application may want to observe (who leads, in which role this node is).
struct SoftState {
  NodeId leader = kNoNode;
  Role role = Role::kFollower;
  bool operator==(const SoftState&) const = default;
};

}  // namespace strand::raft
