#include "raft/core/types.h"

namespace strand::raft {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "pre-candidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
    case Role::kObserver:
      return "observer";
  }
  return "unknown";
}

std::string_view MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kPreVote:
      return "PreVote";
    case MessageType::kPreVoteResponse:
      return "PreVoteResponse";
    case MessageType::kVote:
      return "Vote";
    case MessageType::kVoteResponse:
      return "VoteResponse";
    case MessageType::kAppend:
      return "Append";
    case MessageType::kAppendResponse:
      return "AppendResponse";
    case MessageType::kHeartbeat:
      return "Heartbeat";
    case MessageType::kHeartbeatResponse:
      return "HeartbeatResponse";
    case MessageType::kSnapshotChunk:
      return "SnapshotChunk";
    case MessageType::kSnapshotResponse:
      return "SnapshotResponse";
    case MessageType::kTimeoutNow:
      return "TimeoutNow";
    case MessageType::kReadIndex:
      return "ReadIndex";
    case MessageType::kReadIndexResponse:
      return "ReadIndexResponse";
    case MessageType::kTransferLeadership:
      return "TransferLeadership";
    case MessageType::kObserverJoin:
      return "ObserverJoin";
  }
  return "Unknown";
}

bool IsResponse(MessageType type) {
  switch (type) {
    case MessageType::kPreVoteResponse:
    case MessageType::kVoteResponse:
    case MessageType::kAppendResponse:
    case MessageType::kHeartbeatResponse:
    case MessageType::kSnapshotResponse:
    case MessageType::kReadIndexResponse:
      return true;
    default:
      return false;
  }
}

size_t Message::SizeBytes() const {
  size_t size = 64 + snapshot_chunk.size();
  for (const Entry& e : entries) size += e.SizeBytes();
  return size;
}

}  // namespace strand::raft
