#include "raft/core/raw_node.h"

#include "raft/core/mutants.h"

namespace strand::raft {

bool Ready::Empty() const {
  return !soft_state && !hard_state && !snapshot && entries.empty() && messages.empty() &&
         committed_entries.empty() && read_states.empty();
}

absl::StatusOr<std::unique_ptr<RawNode>> RawNode::Create(const Config& config, Random& random,
                                                         BootState boot) {
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  return std::unique_ptr<RawNode>(new RawNode(config, random, std::move(boot)));
}

RawNode::RawNode(const Config& config, Random& random, BootState boot)
    : raft_(config, random, std::move(boot)),
      prev_hard_state_(raft_.hard_state()),
      prev_soft_state_(raft_.soft_state()) {}

namespace {

// The hard state as it must be persisted. The mutant forgets the vote, so a node that crashes
// after voting comes back free to vote again in the same term.
HardState PersistableHardState(const Raft& raft) {
  HardState hs = raft.hard_state();
  if (STRAND_MUTANT(kVoteNotPersisted)) hs.vote = kNoNode;
  return hs;
}

}  // namespace

bool RawNode::HasReady() {
  raft_.FlushAppends();
  const Raft& r = raft_;
  return r.soft_state() != prev_soft_state_ || PersistableHardState(r) != prev_hard_state_ ||
         r.log().HasUnstableEntries() || r.pending_snapshot().has_value() ||
         r.log().HasNextCommittedEntries() || !r.TakeMessagesEmpty() || !r.ReadStatesEmpty();
}

Ready RawNode::GetReady() {
  raft_.FlushAppends();
  Ready rd;
  if (SoftState ss = raft_.soft_state(); ss != prev_soft_state_) {
    rd.soft_state = ss;
    prev_soft_state_ = ss;
  }
  if (HardState hs = PersistableHardState(raft_); hs != prev_hard_state_) rd.hard_state = hs;
  rd.snapshot = raft_.pending_snapshot();
  rd.entries = raft_.log().UnstableEntries();
  rd.messages = raft_.TakeMessages();
  rd.committed_entries = raft_.log().NextCommittedEntries(raft_.config().apply_bytes_max);
  rd.read_states = raft_.TakeReadStates();
  rd.must_sync = !rd.entries.empty() || rd.snapshot.has_value() ||
                 (rd.hard_state && (rd.hard_state->term != prev_hard_state_.term ||
                                    rd.hard_state->vote != prev_hard_state_.vote));
  return rd;
}

void RawNode::Advance(const Ready& rd) {
  if (rd.hard_state) prev_hard_state_ = *rd.hard_state;
  if (rd.snapshot) raft_.SnapshotPersisted();
  if (!rd.entries.empty()) raft_.EntriesPersisted(rd.entries.back().index, rd.entries.back().term);
  if (!rd.committed_entries.empty()) {
    raft_.mutable_log().AppliedTo(rd.committed_entries.back().index);
  }
}

bool RawNode::ShouldSnapshot() const {
  const LogIndex applied = raft_.log().applied();
  return applied - raft_.snapshot().meta.index >= raft_.config().snapshot_interval_entries;
}

}  // namespace strand::raft
