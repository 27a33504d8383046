#pragma once

// The Raft library's expected failures, carried on absl::Status (see common/status.h).

#include <string_view>

#include "absl/status/status.h"
#include "common/status.h"

namespace strand::raft {

enum class Errc {
  kNotLeader = 1,           // this node cannot accept the request; the message names the leader
  kProposalDropped = 2,     // the entry was overwritten by a new leader before it committed
  kTransferInProgress = 3,  // the leader is handing off leadership; retry on the new leader
  kTooManyUncommitted = 4,  // uncommitted bytes are over the limit; back off and retry
  kProposalTooLarge = 5,    // one entry is larger than the configured maximum
  kStopped = 6,             // the node is shutting down
  kStorageFailure = 7,      // persisting failed; the node stops rather than risk safety
  kInvalidConfig = 8,       // a configuration value is out of range
  kTimeout = 9,             // the caller's deadline passed before the outcome was known
  kUnknownPeer = 10,        // a request named a node that is not a voter
  kUnknownOutcome = 11,     // the node lost track of the proposal; it may or may not commit
};

}  // namespace strand::raft

template <>
struct strand::ErrcTraits<strand::raft::Errc> {
  static constexpr std::string_view kTypeUrl = "strand/raft.Errc";
  static absl::StatusCode Code(raft::Errc e) {
    switch (e) {
      case raft::Errc::kNotLeader:
        return absl::StatusCode::kFailedPrecondition;
      case raft::Errc::kProposalDropped:
        return absl::StatusCode::kAborted;
      case raft::Errc::kTransferInProgress:
        return absl::StatusCode::kUnavailable;
      case raft::Errc::kTooManyUncommitted:
        return absl::StatusCode::kResourceExhausted;
      case raft::Errc::kProposalTooLarge:
        return absl::StatusCode::kInvalidArgument;
      case raft::Errc::kStopped:
        return absl::StatusCode::kUnavailable;
      case raft::Errc::kStorageFailure:
        return absl::StatusCode::kInternal;
      case raft::Errc::kInvalidConfig:
        return absl::StatusCode::kInvalidArgument;
      case raft::Errc::kTimeout:
        return absl::StatusCode::kDeadlineExceeded;
      case raft::Errc::kUnknownPeer:
        return absl::StatusCode::kInvalidArgument;
      case raft::Errc::kUnknownOutcome:
        return absl::StatusCode::kUnknown;
    }
    return absl::StatusCode::kUnknown;
  }
  static std::string_view Name(raft::Errc e) {
    switch (e) {
      case raft::Errc::kNotLeader:
        return "NOT_LEADER";
      case raft::Errc::kProposalDropped:
        return "PROPOSAL_DROPPED";
      case raft::Errc::kTransferInProgress:
        return "TRANSFER_IN_PROGRESS";
      case raft::Errc::kTooManyUncommitted:
        return "TOO_MANY_UNCOMMITTED";
      case raft::Errc::kProposalTooLarge:
        return "PROPOSAL_TOO_LARGE";
      case raft::Errc::kStopped:
        return "STOPPED";
      case raft::Errc::kStorageFailure:
        return "STORAGE_FAILURE";
      case raft::Errc::kInvalidConfig:
        return "INVALID_CONFIG";
      case raft::Errc::kTimeout:
        return "TIMEOUT";
      case raft::Errc::kUnknownPeer:
        return "UNKNOWN_PEER";
      case raft::Errc::kUnknownOutcome:
        return "UNKNOWN_OUTCOME";
    }
    return "UNKNOWN";
  }
};
