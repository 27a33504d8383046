#pragma once

// RaftLog: the core's view of the replicated log. It holds, in memory, every entry after the
// compaction point (the metadata log is compacted by snapshots, so this stays bounded), and the
// four cursors that order its life:
//
//   compacted_index  <=  applied  <=  committed  <=  last_index
//                                      stable  <=  last_index
//
// Entries after `stable` have not been persisted yet; RawNode hands them to the driver in a
// Ready and calls StableTo once they are durable. Entries up to `committed` are known to be on
// a quorum; those after `applied` are handed to the application in order.
//
// Owned by Raft; single-threaded like the rest of the core.

#include <deque>
#include <optional>
#include <vector>

#include "raft/core/types.h"

namespace strand::raft {

class RaftLog {
 public:
  // An empty log that starts after (compacted_index, compacted_term); (0, 0) for a new node.
  RaftLog(LogIndex compacted_index, Term compacted_term);

  // Loads entries read back from storage at start-up; they are stable by definition.
  void LoadStable(std::vector<Entry> entries, LogIndex committed);

  LogIndex compacted_index() const { return compacted_index_; }
  Term compacted_term() const { return compacted_term_; }
  LogIndex FirstIndex() const { return compacted_index_ + 1; }
  LogIndex LastIndex() const { return compacted_index_ + entries_.size(); }
  Term LastTerm() const;
  // The term of entry `index`, or nullopt when it was compacted away or does not exist yet.
  std::optional<Term> TermAt(LogIndex index) const;
  bool MatchTerm(LogIndex index, Term term) const;
  // Whether a candidate whose log ends at (last_index, last_term) is at least as up to date as
  // this log (Raft paper 5.4.1).
  bool IsUpToDate(LogIndex last_index, Term last_term) const;

  LogIndex committed() const { return committed_; }
  LogIndex applied() const { return applied_; }
  LogIndex stable() const { return stable_; }

  // Follower side of AppendEntries: if the entry at prev_index has prev_term, appends `entries`
  // (dropping the ones already present, truncating a conflicting suffix) and commits up to
  // min(leader_commit, last new index). Returns the last index known to match the leader, or
  // nullopt when prev does not match.
  std::optional<LogIndex> MaybeAppend(LogIndex prev_index, Term prev_term, LogIndex leader_commit,
                                      std::vector<Entry> entries);
  // Leader side: appends new entries at the end (their indexes must follow LastIndex()).
  void Append(std::vector<Entry> entries);

  void CommitTo(LogIndex index);
  void AppliedTo(LogIndex index);
  // Entries up to `index` (whose term is `term`) are durable. Ignored when the entry at `index`
  // was since replaced by one of another term (it will be persisted again).
  void StableTo(LogIndex index, Term term);

  // Entries not yet persisted, in order.
  std::vector<Entry> UnstableEntries() const;
  bool HasUnstableEntries() const { return stable_ < LastIndex(); }
  // Committed entries not yet handed to the application, up to max_bytes (at least one).
  std::vector<Entry> NextCommittedEntries(size_t max_bytes) const;
  bool HasNextCommittedEntries() const { return applied_ < committed_; }

  // Entries [lo, hi] (hi inclusive), stopping once max_bytes is reached but always at least one.
  std::vector<Entry> Slice(LogIndex lo, LogIndex hi, size_t max_bytes) const;
  // Bytes of entries in (from, LastIndex()].
  size_t BytesAfter(LogIndex from) const;

  // The largest index <= `index` whose term is <= `term` (used to skip a whole conflicting term
  // when a follower rejects an append). Returns compacted_index when nothing matches above it.
  LogIndex FindConflictByTerm(LogIndex index, Term term) const;

  // Replaces the whole log by a snapshot's position (a follower installing a snapshot).
  void Restore(const SnapshotMeta& meta);
  // Drops entries up to and including `index` (the application has a snapshot covering them).
  void CompactTo(LogIndex index);

 private:
  const Entry& At(LogIndex index) const;
  // Removes every entry from `index` on (a follower's conflicting suffix).
  void TruncateFrom(LogIndex index);

  LogIndex compacted_index_;
  Term compacted_term_;
  std::deque<Entry> entries_;  // entries_[k] has index compacted_index_ + 1 + k
  LogIndex committed_;
  LogIndex applied_;
  LogIndex stable_;
};

}  // namespace strand::raft
