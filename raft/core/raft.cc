// Raft: term and role transitions and message dispatch. See raft.h for the file split.
#include "raft/core/raft.h"

#include "common/check.h"
#include "raft/core/mutants.h"

namespace strand::raft {

Raft::Raft(const Config& config, Random& random, BootState boot)
    : config_(config),
      random_(random),
      term_(boot.hard_state.term),
      vote_(boot.hard_state.vote),
      log_(boot.snapshot.meta.index, boot.snapshot.meta.term) {
  STRAND_CHECK_MSG(config_.Validate().ok(), "invalid config: {}", config_.Validate().ToString());
  snapshot_ = std::move(boot.snapshot);
  log_.LoadStable(std::move(boot.entries), boot.hard_state.commit);
  BecomeFollower(term_, kNoNode);
}

void Raft::ResetRandomizedElectionTimeout() {
  const int timeout = config_.election_timeout_ticks;
  randomized_election_timeout_ = timeout + static_cast<int>(random_.Uniform(timeout));
}

void Raft::Reset(Term term) {
  if (term != term_) {
    term_ = term;
    vote_ = kNoNode;
  }
  leader_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  transfer_target_ = kNoNode;
  votes_.clear();
  progress_.clear();
  reads_.clear();
  deferred_reads_.clear();
  read_acked_seq_.clear();
  uncommitted_bytes_ = 0;
  appends_due_ = false;
  read_round_due_ = false;
  committed_in_term_ = false;
}

void Raft::BecomeFollower(Term term, NodeId leader) {
  Reset(term);
  leader_ = leader;
  role_ = config_.observer ? Role::kObserver : Role::kFollower;
}

void Raft::BecomePreCandidate() {
  STRAND_CHECK(role_ != Role::kLeader && role_ != Role::kObserver);
  // Pre-vote changes neither term nor vote: a node that cannot win must not disrupt anyone.
  votes_.clear();
  leader_ = kNoNode;
  role_ = Role::kPreCandidate;
}

void Raft::BecomeCandidate() {
  STRAND_CHECK(role_ != Role::kLeader && role_ != Role::kObserver);
  Reset(term_ + 1);
  vote_ = config_.id;
  role_ = Role::kCandidate;
}

void Raft::BecomeLeader() {
  STRAND_CHECK(role_ == Role::kCandidate);
  Reset(term_);
  role_ = Role::kLeader;
  leader_ = config_.id;
  const LogIndex next = log_.LastIndex() + 1;
  for (NodeId voter : config_.voters) {
    progress_.emplace(voter, Progress(next, config_.inflight_messages_max,
                                      config_.inflight_bytes_max, /*observer=*/false));
  }
  for (const auto& [observer, ticks] : known_observers_) {
    progress_.emplace(observer, Progress(next, config_.inflight_messages_max,
                                         config_.inflight_bytes_max, /*observer=*/true));
  }
  // The leader's own match is what it has durably; unstable entries count once persisted.
  Progress& self = ProgressOf(config_.id);
  self.match = log_.stable();
  self.BecomeReplicate();
  // An empty entry of the new term: committing it commits everything before it (Raft 5.4.2)
  // and tells the leader its commit index is current (needed before serving ReadIndex).
  AppendLocal({Entry{term_, log_.LastIndex() + 1, EntryType::kNoop, {}}});
}

Progress& Raft::ProgressOf(NodeId node) {
  auto it = progress_.find(node);
  STRAND_CHECK_MSG(it != progress_.end(), "no progress for node {}", node);
  return it->second;
}

const Progress* Raft::progress(NodeId node) const {
  auto it = progress_.find(node);
  return it == progress_.end() ? nullptr : &it->second;
}

void Raft::ForEachPeer(const std::function<void(NodeId, Progress&)>& fn) {
  for (auto& [node, pr] : progress_) {
    if (node != config_.id) fn(node, pr);
  }
}

void Raft::Send(Message m) {
  m.from = config_.id;
  switch (m.type) {
    case MessageType::kPreVote:
    case MessageType::kPreVoteResponse:
    case MessageType::kVote:
    case MessageType::kVoteResponse:
    case MessageType::kObserverJoin:
      // These carry a term chosen by the caller (a pre-vote asks about term + 1; a granted
      // pre-vote answers with the asked term; an observer's join is term-less).
      break;
    default:
      m.term = term_;
  }
  msgs_.push_back(std::move(m));
}

std::vector<Message> Raft::TakeMessages() { return std::exchange(msgs_, {}); }
std::vector<ReadState> Raft::TakeReadStates() { return std::exchange(read_states_, {}); }

// Applies the term rules shared by every role. Returns false when the message must be dropped.
bool Raft::CheckTerm(const Message& m) {
  if (m.term > term_) {
    const bool vote_request = m.type == MessageType::kVote || m.type == MessageType::kPreVote;
    // Leader lease (check-quorum): while this node hears from a live leader, a candidate with a
    // higher term is ignored, so a node rejoining from a partition cannot depose a healthy
    // leader. A campaign started by leadership transfer is exempt.
    if (vote_request && !m.transfer && InLease()) return false;
    if (m.type == MessageType::kPreVote) return true;  // never adopt a pre-vote's term
    if (m.type == MessageType::kPreVoteResponse && !m.reject) return true;  // counted below
    if (role_ == Role::kLeader && STRAND_MUTANT(kLeaderIgnoresHigherTerm)) {
      term_ = m.term;
      vote_ = kNoNode;
      return true;
    }
    const bool from_leader = m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat ||
                             m.type == MessageType::kSnapshotChunk;
    BecomeFollower(m.term, from_leader ? m.from : kNoNode);
    return true;
  }
  if (m.term < term_) {
    if ((config_.check_quorum || config_.pre_vote) &&
        (m.type == MessageType::kHeartbeat || m.type == MessageType::kAppend)) {
      // A stale leader is still sending: answer with our term so that it steps down.
      Send(Message{.type = MessageType::kAppendResponse, .to = m.from});
    } else if (m.type == MessageType::kPreVote) {
      Send(Message{
          .type = MessageType::kPreVoteResponse, .to = m.from, .term = term_, .reject = true});
    }
    return false;
  }
  return true;
}

namespace {

// Larger than any term or index an honest node reaches (2^62: a billion elections a second for
// a century), so that `term + 1` and index arithmetic never overflow.
constexpr uint64_t kTermOrIndexMax = uint64_t{1} << 62;

bool InRange(const Message& m) {
  auto ok = [](uint64_t v) { return v <= kTermOrIndexMax; };
  if (!ok(m.term.value()) || !ok(m.index.value()) || !ok(m.log_term.value()) ||
      !ok(m.commit.value()) || !ok(m.reject_hint.value()) || !ok(m.reject_hint_term.value()) ||
      !ok(m.snapshot.index.value()) || !ok(m.snapshot.term.value())) {
    return false;
  }
  for (const Entry& e : m.entries) {
    if (!ok(e.term.value()) || !ok(e.index.value())) return false;
  }
  return true;
}

}  // namespace

bool Raft::Admissible(const Message& m) const {
  // A transport delivers whatever anyone on the network sent: values no honest node can send
  // are dropped, and so are messages only voters send when they come from outside the voter set
  // (an observer may only join and answer the leader's replication).
  if (!InRange(m) || m.from == config_.id) return false;
  if (config_.IsVoter(m.from)) return true;
  switch (m.type) {
    case MessageType::kObserverJoin:
    case MessageType::kAppendResponse:
    case MessageType::kHeartbeatResponse:
    case MessageType::kSnapshotResponse:
      return true;
    default:
      return false;
  }
}

void Raft::Step(const Message& m) {
  if (!Admissible(m)) {
    ++dropped_inadmissible_;
    return;
  }
  if (m.type == MessageType::kObserverJoin) {
    HandleObserverJoin(m);
    return;
  }
  if (!CheckTerm(m)) return;
  if (m.type == MessageType::kVote || m.type == MessageType::kPreVote) {
    HandleVoteRequest(m);
    return;
  }
  switch (role_) {
    case Role::kLeader:
      StepLeader(m);
      break;
    case Role::kCandidate:
    case Role::kPreCandidate:
      StepCandidate(m);
      break;
    case Role::kFollower:
    case Role::kObserver:
      StepFollower(m);
      break;
  }
}

void Raft::StepLeader(const Message& m) {
  switch (m.type) {
    case MessageType::kAppendResponse:
      HandleAppendResponse(m);
      break;
    case MessageType::kHeartbeatResponse:
      HandleHeartbeatResponse(m);
      break;
    case MessageType::kSnapshotResponse:
      HandleSnapshotResponse(m);
      break;
    case MessageType::kReadIndex:
      HandleReadIndexRequest(m.from, m.context);
      break;
    case MessageType::kTransferLeadership:
      HandleTransferRequest(m.transfer_target);
      break;
    default:
      break;  // stale votes and answers of an earlier role in this term
  }
}

void Raft::StepCandidate(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
    case MessageType::kHeartbeat:
    case MessageType::kSnapshotChunk:
      // Someone won this term (same term, or ours if we were only pre-campaigning).
      BecomeFollower(m.term, m.from);
      StepFollower(m);
      break;
    case MessageType::kPreVoteResponse:
    case MessageType::kVoteResponse:
      HandleVoteResponse(m);
      break;
    default:
      break;
  }
}

void Raft::StepFollower(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
    case MessageType::kHeartbeat:
    case MessageType::kSnapshotChunk:
      election_elapsed_ = 0;
      leader_ = m.from;
      if (m.type == MessageType::kAppend) HandleAppend(m);
      if (m.type == MessageType::kHeartbeat) HandleHeartbeat(m);
      if (m.type == MessageType::kSnapshotChunk) HandleSnapshotChunk(m);
      break;
    case MessageType::kTimeoutNow:
      // Leadership transfer: campaign at once, skipping pre-vote and the voters' lease.
      if (role_ == Role::kFollower) StartCampaign(/*pre_vote=*/false, /*transfer=*/true);
      break;
    case MessageType::kReadIndexResponse:
      read_states_.push_back(ReadState{m.context, m.index});
      break;
    default:
      break;
  }
}

}  // namespace strand::raft
