// Raft: log replication — appends, heartbeats, the commit rule and the follower's log handling.
// See raft.h.
#include <algorithm>

#include "common/check.h"
#include "raft/core/mutants.h"
#include "raft/core/quorum.h"
#include "raft/core/raft.h"

namespace strand::raft {

bool Raft::SendAppend(NodeId to, bool send_if_empty) {
  Progress& pr = ProgressOf(to);
  if (pr.IsPaused()) return false;
  const LogIndex prev = pr.next.Prev();
  const std::optional<Term> prev_term = log_.TermAt(prev);
  if (!prev_term) {
    // The entries this peer needs were compacted away: it needs the snapshot.
    SendSnapshotChunk(to);
    return false;
  }
  std::vector<Entry> entries;
  if (pr.next <= log_.LastIndex()) {
    entries = log_.Slice(pr.next, log_.LastIndex(), config_.append_bytes_max);
  }
  if (entries.empty() && !send_if_empty) return false;
  const LogIndex last_sent = prev + entries.size();
  if (!entries.empty()) {
    size_t bytes = 0;
    for (const Entry& e : entries) bytes += e.SizeBytes();
    if (pr.state == ProgressState::kReplicate) {
      pr.OptimisticUpdate(last_sent);
      pr.inflights.Add(last_sent, bytes);
    }
  }
  if (pr.state == ProgressState::kProbe) pr.probe_sent = true;
  pr.commit_sent = std::max(pr.commit_sent, std::min(log_.committed(), last_sent));
  Send(Message{.type = MessageType::kAppend,
               .to = to,
               .index = prev,
               .log_term = *prev_term,
               .commit = log_.committed(),
               .entries = std::move(entries)});
  return true;
}

void Raft::SendHeartbeat(NodeId to, uint64_t context) {
  // The follower may not have every committed entry yet; it must not commit past its match.
  Progress& pr = ProgressOf(to);
  const LogIndex commit = std::min(pr.match, log_.committed());
  pr.commit_sent = std::max(pr.commit_sent, commit);
  Send(Message{.type = MessageType::kHeartbeat, .to = to, .commit = commit, .context = context});
}

void Raft::BroadcastHeartbeat() {
  ForEachPeer([&](NodeId node, Progress&) { SendHeartbeat(node, read_seq_); });
}

void Raft::FlushAppends() {
  if (role_ != Role::kLeader) return;
  if (read_round_due_) {
    read_round_due_ = false;
    BroadcastHeartbeat();
  }
  if (!appends_due_) return;
  appends_due_ = false;
  ForEachPeer([&](NodeId node, Progress& pr) {
    bool sent = false;
    while (SendAppend(node, /*send_if_empty=*/false)) sent = true;  // fill the window
    // A peer with nothing new to receive still learns the new commit index now rather than at
    // the next heartbeat, so that its state machine (and observers' metadata) keeps up.
    if (!sent && std::min(pr.match, log_.committed()) > pr.commit_sent &&
        pr.state != ProgressState::kSnapshot) {
      SendHeartbeat(node, read_seq_);
    }
  });
}

void Raft::AppendLocal(std::vector<Entry> entries) {
  for (Entry& e : entries) uncommitted_bytes_ += e.SizeBytes();
  log_.Append(std::move(entries));
  appends_due_ = true;
  // A single voter commits as soon as the entries are durable (see EntriesPersisted).
}

void Raft::EntriesPersisted(LogIndex index, Term term) {
  log_.StableTo(index, term);
  if (role_ == Role::kLeader) {
    // The leader counts itself toward the quorum only for entries on its own disk.
    if (ProgressOf(config_.id).MaybeUpdate(log_.stable())) MaybeCommit();
  }
}

bool Raft::MaybeCommit() {
  const LogIndex candidate =
      QuorumCommittedIndex(config_.voters, [&](NodeId node) { return ProgressOf(node).match; });
  if (candidate <= log_.committed()) return false;
  // Figure 8: a leader commits only entries of its own term by counting replicas; earlier
  // entries are committed indirectly, with them.
  if (log_.TermAt(candidate) != term_ && !STRAND_MUTANT(kCommitOldTermByCounting)) return false;
  for (LogIndex i = log_.committed() + 1; i <= candidate; ++i) {
    const size_t bytes = log_.Slice(i, i, 1).front().SizeBytes();
    uncommitted_bytes_ -= std::min(uncommitted_bytes_, bytes);
  }
  log_.CommitTo(candidate);
  appends_due_ = true;
  if (!committed_in_term_ && log_.TermAt(candidate) == term_) {
    committed_in_term_ = true;
    ReleaseDeferredReads();
  }
  return true;
}

void Raft::HandleAppend(const Message& m) {
  if (m.index < log_.committed()) {
    // Everything up to our commit index matches any leader; tell it where we are.
    Send(Message{.type = MessageType::kAppendResponse, .to = m.from, .index = log_.committed()});
    return;
  }
  if (auto last = log_.MaybeAppend(m.index, m.log_term, m.commit, m.entries)) {
    Send(Message{.type = MessageType::kAppendResponse, .to = m.from, .index = *last});
    return;
  }
  // Rejected: hint the last entry that could match, skipping any suffix of a term the leader's
  // entry at m.index does not have, so the leader skips a whole term per round trip.
  LogIndex hint = std::min(m.index, log_.LastIndex());
  hint = log_.FindConflictByTerm(hint, m.log_term);
  Send(Message{.type = MessageType::kAppendResponse,
               .to = m.from,
               .index = m.index,
               .reject = true,
               .reject_hint = hint,
               .reject_hint_term = log_.TermAt(hint).value_or(Term(0))});
}

void Raft::HandleAppendResponse(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;  // an observer we have forgotten
  Progress& pr = it->second;
  pr.recent_active = true;
  pr.ticks_since_heard = 0;
  if (pr.is_observer) known_observers_[m.from] = 0;
  if (m.reject) {
    if (m.reject_hint < pr.match) {
      ForgetLostEntries(pr, m.reject_hint);
      SendAppend(m.from, /*send_if_empty=*/true);
      return;
    }
    LogIndex next_probe = m.reject_hint;
    if (m.reject_hint_term > Term(0)) {
      next_probe = log_.FindConflictByTerm(m.reject_hint, m.reject_hint_term);
    }
    if (pr.MaybeDecreaseTo(m.index, next_probe)) {
      if (pr.state == ProgressState::kReplicate) pr.BecomeProbe();
      SendAppend(m.from, /*send_if_empty=*/true);
    }
    return;
  }
  const bool was_paused = pr.IsPaused();
  if (!pr.MaybeUpdate(m.index)) {
    if (was_paused && !pr.IsPaused()) SendAppend(m.from, false);
    return;
  }
  switch (pr.state) {
    case ProgressState::kProbe:
      pr.BecomeReplicate();
      break;
    case ProgressState::kSnapshot:
      if (pr.match >= pr.snapshot_index) pr.BecomeProbe();
      break;
    case ProgressState::kReplicate:
      pr.inflights.FreeUpTo(m.index);
      break;
  }
  MaybeCommit();
  // Pipelining: keep the follower's window full.
  while (SendAppend(m.from, /*send_if_empty=*/false)) {
  }
  if (m.from == transfer_target_) MaybeSendTimeoutNow(m.from);
}

void Raft::HandleHeartbeat(const Message& m) {
  log_.CommitTo(std::min(m.commit, log_.LastIndex()));
  // The last index lets the leader notice a follower that lost entries it had acknowledged.
  Send(Message{.type = MessageType::kHeartbeatResponse,
               .to = m.from,
               .index = log_.LastIndex(),
               .context = m.context});
}

void Raft::ForgetLostEntries(Progress& pr, LogIndex peer_last) {
  // The peer has fewer entries than it acknowledged: it lost its disk (or this answer is old,
  // which costs one needless probe). Replicate again from what it really has.
  if (peer_last >= pr.match) return;
  pr.match = peer_last;
  pr.BecomeProbe();
}

void Raft::HandleHeartbeatResponse(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  pr.ticks_since_heard = 0;
  if (pr.is_observer) known_observers_[m.from] = 0;
  pr.probe_sent = false;
  ForgetLostEntries(pr, m.index);
  // The peer is alive but has not acknowledged entries sent to it for several heartbeat rounds:
  // they were lost. Probe from its match index, which re-sends them.
  if (pr.state == ProgressState::kReplicate && pr.match < pr.next.Prev() &&
      ++pr.stalled_heartbeats >= config_.replicate_stall_heartbeats) {
    pr.BecomeProbe();
  }
  // A peer behind the leader gets what it lacks. In probe state that may be an empty append: the
  // leader does not know where the peer's log ends, next can be past every entry (a new
  // observer's progress starts at last index + 1; after a snapshot, at its index + 1), and the
  // probe sent then may have been lost. Only an answer to a probe moves the peer on, and no new
  // entry may come to carry one (a quiet metadata log), so each heartbeat answer re-sends it.
  if (pr.match < log_.LastIndex()) {
    SendAppend(m.from, /*send_if_empty=*/pr.state == ProgressState::kProbe);
  }
  if (!pr.is_observer && m.context > 0) {
    uint64_t& acked = read_acked_seq_[m.from];
    acked = std::max(acked, m.context);
    ReleaseReads();
  }
}

}  // namespace strand::raft
