// Raft: proposals, ReadIndex, leadership transfer and observers. See raft.h.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "raft/core/errc.h"
#include "raft/core/quorum.h"
#include "raft/core/raft.h"

namespace strand::raft {
namespace {

// Bound on read requests waiting for the leader's first commit of its term.
constexpr size_t kDeferredReadsMax = 65'536;

absl::Status NotLeader(NodeId self, NodeId leader) {
  if (leader == kNoNode) {
    return MakeError(Errc::kNotLeader, absl::StrCat("node ", self.value(), " knows no leader"));
  }
  return MakeError(Errc::kNotLeader,
                   absl::StrCat("node ", self.value(), " is not the leader; the leader is node ",
                                leader.value()));
}

}  // namespace

absl::StatusOr<LogIndex> Raft::Propose(std::string data) {
  if (role_ != Role::kLeader) return NotLeader(config_.id, leader_);
  if (transfer_target_ != kNoNode) {
    return MakeError(Errc::kTransferInProgress,
                     absl::StrCat("leadership is moving to node ", transfer_target_.value()));
  }
  if (data.size() > config_.entry_bytes_max) {
    return MakeError(Errc::kProposalTooLarge,
                     absl::StrCat(data.size(), " bytes; the limit is ", config_.entry_bytes_max));
  }
  if (uncommitted_bytes_ > 0 && uncommitted_bytes_ + data.size() > config_.uncommitted_bytes_max) {
    return MakeError(Errc::kTooManyUncommitted,
                     absl::StrCat(uncommitted_bytes_, " bytes await commit; the limit is ",
                                  config_.uncommitted_bytes_max));
  }
  const LogIndex index = log_.LastIndex() + 1;
  AppendLocal({Entry{term_, index, EntryType::kNormal, std::move(data)}});
  return index;
}

absl::Status Raft::ReadIndex(uint64_t context) {
  if (role_ == Role::kLeader) {
    HandleReadIndexRequest(config_.id, context);
    return absl::OkStatus();
  }
  if (leader_ == kNoNode) return NotLeader(config_.id, leader_);
  Send(Message{.type = MessageType::kReadIndex, .to = leader_, .context = context});
  return absl::OkStatus();
}

void Raft::HandleReadIndexRequest(NodeId from, uint64_t context) {
  if (!committed_in_term_) {
    // Until an entry of this term commits, the leader's commit index may be stale (Raft 6.4).
    if (deferred_reads_.size() < kDeferredReadsMax) deferred_reads_.emplace_back(from, context);
    return;
  }
  reads_.push_back(ReadRequest{++read_seq_, context, log_.committed(), from});
  if (config_.voters.size() == 1) {
    ReleaseReads();
    return;
  }
  // Confirm leadership with a round of heartbeats carrying the new sequence number. Several
  // reads in one Ready share the round, since only the latest sequence number is sent.
  read_round_due_ = true;
}

void Raft::ReleaseDeferredReads() {
  auto deferred = std::exchange(deferred_reads_, {});
  for (const auto& [from, context] : deferred) HandleReadIndexRequest(from, context);
}

void Raft::ReleaseReads() {
  const size_t quorum = QuorumSize(config_.voters.size());
  while (!reads_.empty()) {
    const ReadRequest& read = reads_.front();
    size_t acks = 0;
    for (NodeId voter : config_.voters) {
      auto it = read_acked_seq_.find(voter);
      if (voter == config_.id || (it != read_acked_seq_.end() && it->second >= read.seq)) ++acks;
    }
    if (acks < quorum) break;
    if (read.from == config_.id) {
      read_states_.push_back(ReadState{read.context, read.index});
    } else {
      Send(Message{.type = MessageType::kReadIndexResponse,
                   .to = read.from,
                   .index = read.index,
                   .context = read.context});
    }
    reads_.pop_front();
  }
}

absl::Status Raft::TransferLeadership(NodeId target) {
  if (!config_.IsVoter(target)) {
    return MakeError(Errc::kUnknownPeer, absl::StrCat("node ", target.value(), " is not a voter"));
  }
  if (role_ != Role::kLeader) {
    if (leader_ == kNoNode) return NotLeader(config_.id, leader_);
    Send(Message{
        .type = MessageType::kTransferLeadership, .to = leader_, .transfer_target = target});
    return absl::OkStatus();
  }
  HandleTransferRequest(target);
  return absl::OkStatus();
}

void Raft::HandleTransferRequest(NodeId target) {
  if (!config_.IsVoter(target) || target == config_.id || target == transfer_target_) return;
  transfer_target_ = target;
  // The transfer must finish within one election timeout, or it is abandoned (TickLeader).
  election_elapsed_ = 0;
  if (ProgressOf(target).match == log_.LastIndex()) {
    MaybeSendTimeoutNow(target);
  } else {
    SendAppend(target, /*send_if_empty=*/true);
  }
}

void Raft::MaybeSendTimeoutNow(NodeId to) {
  if (ProgressOf(to).match != log_.LastIndex()) return;
  Send(Message{.type = MessageType::kTimeoutNow, .to = to});
}

void Raft::ReportUnreachable(NodeId node) {
  if (role_ != Role::kLeader) return;
  auto it = progress_.find(node);
  if (it == progress_.end() || node == config_.id) return;
  if (it->second.state == ProgressState::kReplicate) it->second.BecomeProbe();
}

void Raft::HandleObserverJoin(const Message& m) {
  if (m.from == config_.id || config_.IsVoter(m.from)) return;
  TrackObserver(m.from);
}

void Raft::TrackObserver(NodeId node) {
  auto known = known_observers_.find(node);
  if (known == known_observers_.end()) {
    if (known_observers_.size() >= config_.observers_max) return;
    known = known_observers_.emplace(node, 0).first;
  }
  known->second = 0;
  if (role_ != Role::kLeader) return;
  auto it = progress_.find(node);
  if (it == progress_.end()) {
    progress_.emplace(node, Progress(log_.LastIndex() + 1, config_.inflight_messages_max,
                                     config_.inflight_bytes_max, /*observer=*/true));
    SendAppend(node, /*send_if_empty=*/true);
  } else {
    // A known observer asking again may have restarted: re-establish contact.
    it->second.probe_sent = false;
    SendHeartbeat(node, read_seq_);
  }
}

void Raft::ExpireObservers() {
  for (auto it = known_observers_.begin(); it != known_observers_.end();) {
    if (++it->second > config_.observer_expiry_ticks) {
      progress_.erase(it->first);
      it = known_observers_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace strand::raft
