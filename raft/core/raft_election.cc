// Raft: ticks, pre-vote, elections, check-quorum and the leader lease. See raft.h.
#include "common/check.h"
#include "raft/core/quorum.h"
#include "raft/core/raft.h"

namespace strand::raft {

void Raft::Tick() {
  ExpireObservers();
  switch (role_) {
    case Role::kLeader:
      TickLeader();
      break;
    case Role::kObserver:
      TickObserver();
      break;
    default:
      TickElection();
      break;
  }
}

void Raft::TickElection() {
  ++election_elapsed_;
  if (election_elapsed_ >= randomized_election_timeout_) {
    election_elapsed_ = 0;
    Campaign();
  }
}

void Raft::TickLeader() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  ForEachPeer([](NodeId, Progress& pr) { ++pr.ticks_since_heard; });
  if (election_elapsed_ >= config_.election_timeout_ticks) {
    election_elapsed_ = 0;
    // Check-quorum: a leader that has not heard from a majority for a whole election timeout
    // steps down, so a partitioned leader stops serving (and stops granting read leases).
    if (config_.check_quorum && !QuorumActive()) {
      BecomeFollower(term_, kNoNode);
      return;
    }
    transfer_target_ = kNoNode;  // a transfer that did not finish in time is abandoned
  }
  ForEachPeer([&](NodeId node, Progress& pr) {
    if (pr.state != ProgressState::kSnapshot || !pr.snapshot_chunk_in_flight) return;
    if (++pr.snapshot_ticks_waiting >= config_.snapshot_resend_ticks) {
      pr.snapshot_chunk_in_flight = false;  // lost: send again from the acknowledged offset
      SendSnapshotChunk(node);
    }
  });
  if (heartbeat_elapsed_ >= config_.heartbeat_interval_ticks) {
    heartbeat_elapsed_ = 0;
    BroadcastHeartbeat();
  }
}

void Raft::TickObserver() {
  ++election_elapsed_;
  ++observer_join_elapsed_;
  if (election_elapsed_ >= config_.election_timeout_ticks) leader_ = kNoNode;
  // Join requests go to every voter, so that whichever voter leads next already knows this
  // observer and replicates to it right after its election. Without a leader, retry quickly.
  const int interval =
      leader_ == kNoNode ? 2 * config_.heartbeat_interval_ticks : config_.election_timeout_ticks;
  if (observer_join_elapsed_ >= interval) {
    observer_join_elapsed_ = 0;
    for (NodeId voter : config_.voters) {
      Send(Message{.type = MessageType::kObserverJoin, .to = voter, .term = Term(0)});
    }
  }
}

void Raft::Campaign() {
  if (role_ == Role::kLeader || role_ == Role::kObserver) return;
  StartCampaign(config_.pre_vote, /*transfer=*/false);
}

void Raft::StartCampaign(bool pre_vote, bool transfer) {
  if (!config_.IsVoter(config_.id)) return;
  Term campaign_term;
  if (pre_vote) {
    BecomePreCandidate();
    campaign_term = term_ + 1;
  } else {
    BecomeCandidate();
    campaign_term = term_;
  }
  votes_[config_.id] = true;
  if (TallyVotes(config_.voters, 1, 0) == VoteResult::kWon) {
    // A single-voter quorum wins at once.
    if (pre_vote) {
      StartCampaign(/*pre_vote=*/false, transfer);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (NodeId voter : config_.voters) {
    if (voter == config_.id) continue;
    Send(Message{.type = pre_vote ? MessageType::kPreVote : MessageType::kVote,
                 .to = voter,
                 .term = campaign_term,
                 .index = log_.LastIndex(),
                 .log_term = log_.LastTerm(),
                 .transfer = transfer});
  }
}

void Raft::HandleVoteRequest(const Message& m) {
  const bool pre_vote = m.type == MessageType::kPreVote;
  const MessageType response =
      pre_vote ? MessageType::kPreVoteResponse : MessageType::kVoteResponse;
  // A node votes once per term (the vote is persisted before the answer leaves, see Ready). A
  // pre-vote for a later term binds nothing, so it is granted whenever the log is up to date.
  bool can_vote =
      vote_ == m.from || (vote_ == kNoNode && leader_ == kNoNode) || (pre_vote && m.term > term_);
  if (role_ == Role::kObserver) can_vote = false;
  if (can_vote && log_.IsUpToDate(m.index, m.log_term)) {
    Send(Message{.type = response, .to = m.from, .term = m.term});
    if (!pre_vote) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    Send(Message{.type = response, .to = m.from, .term = term_, .reject = true});
  }
}

void Raft::HandleVoteResponse(const Message& m) {
  const bool expected = (role_ == Role::kPreCandidate && m.type == MessageType::kPreVoteResponse) ||
                        (role_ == Role::kCandidate && m.type == MessageType::kVoteResponse);
  if (!expected || !config_.IsVoter(m.from)) return;
  votes_.emplace(m.from, !m.reject);  // the first answer from each voter counts
  size_t granted = 0, rejected = 0;
  for (const auto& [voter, yes] : votes_) (yes ? granted : rejected)++;
  switch (TallyVotes(config_.voters, granted, rejected)) {
    case VoteResult::kWon:
      if (role_ == Role::kPreCandidate) {
        StartCampaign(/*pre_vote=*/false, /*transfer=*/false);
      } else {
        BecomeLeader();
      }
      break;
    case VoteResult::kLost:
      BecomeFollower(term_, kNoNode);
      break;
    case VoteResult::kPending:
      break;
  }
}

bool Raft::PeerRecentlyHeard(NodeId node) const {
  if (node == config_.id) return true;
  const Progress* pr = progress(node);
  return role_ == Role::kLeader && pr != nullptr &&
         pr->ticks_since_heard <= config_.election_timeout_ticks;
}

bool Raft::InLease() const {
  return config_.check_quorum && leader_ != kNoNode &&
         election_elapsed_ < config_.election_timeout_ticks;
}

bool Raft::QuorumActive() {
  size_t active = 0;
  for (NodeId voter : config_.voters) {
    Progress& pr = ProgressOf(voter);
    if (voter == config_.id || pr.recent_active) ++active;
    pr.recent_active = false;
  }
  return active >= QuorumSize(config_.voters.size());
}

}  // namespace strand::raft
