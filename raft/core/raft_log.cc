#include "raft/core/raft_log.h"

#include <algorithm>

#include "common/check.h"

namespace strand::raft {

RaftLog::RaftLog(LogIndex compacted_index, Term compacted_term)
    : compacted_index_(compacted_index),
      compacted_term_(compacted_term),
      committed_(compacted_index),
      applied_(compacted_index),
      stable_(compacted_index) {}

void RaftLog::LoadStable(std::vector<Entry> entries, LogIndex committed) {
  STRAND_CHECK(entries_.empty());
  for (Entry& e : entries) {
    STRAND_CHECK_MSG(e.index == LastIndex() + 1, "storage returned entry {} after {}", e.index,
                     LastIndex());
    entries_.push_back(std::move(e));
  }
  stable_ = LastIndex();
  // The persisted commit index is a hint; it can never exceed what is in the log.
  committed_ = std::max(compacted_index_, std::min(committed, LastIndex()));
}

Term RaftLog::LastTerm() const { return entries_.empty() ? compacted_term_ : entries_.back().term; }

const Entry& RaftLog::At(LogIndex index) const {
  STRAND_CHECK_MSG(index > compacted_index_ && index <= LastIndex(), "index {} outside ({}, {}]",
                   index, compacted_index_, LastIndex());
  return entries_[index - compacted_index_ - 1];
}

std::optional<Term> RaftLog::TermAt(LogIndex index) const {
  if (index == compacted_index_) return compacted_term_;
  if (index < compacted_index_ || index > LastIndex()) return std::nullopt;
  return At(index).term;
}

bool RaftLog::MatchTerm(LogIndex index, Term term) const {
  auto t = TermAt(index);
  return t.has_value() && *t == term;
}

bool RaftLog::IsUpToDate(LogIndex last_index, Term last_term) const {
  return last_term > LastTerm() || (last_term == LastTerm() && last_index >= LastIndex());
}

std::optional<LogIndex> RaftLog::MaybeAppend(LogIndex prev_index, Term prev_term,
                                             LogIndex leader_commit, std::vector<Entry> entries) {
  if (!MatchTerm(prev_index, prev_term)) return std::nullopt;
  const LogIndex last_new = prev_index + entries.size();
  // Skip the entries this log already has; the first mismatch (if any) is a conflict whose
  // suffix must go. Entries below the compaction point are committed and therefore match.
  size_t first_new = 0;
  for (; first_new < entries.size(); ++first_new) {
    const Entry& e = entries[first_new];
    STRAND_CHECK(e.index == prev_index + (first_new + 1));
    if (e.index <= compacted_index_) continue;
    if (e.index > LastIndex() || At(e.index).term != e.term) break;
  }
  if (first_new < entries.size()) {
    const LogIndex conflict = entries[first_new].index;
    STRAND_CHECK_MSG(conflict > committed_,
                     "leader asked to overwrite committed entry {} (commit {})", conflict,
                     committed_);
    if (conflict <= LastIndex()) TruncateFrom(conflict);
    for (size_t i = first_new; i < entries.size(); ++i) entries_.push_back(std::move(entries[i]));
  }
  CommitTo(std::min(leader_commit, last_new));
  return last_new;
}

void RaftLog::Append(std::vector<Entry> entries) {
  for (Entry& e : entries) {
    STRAND_CHECK(e.index == LastIndex() + 1);
    STRAND_CHECK(e.term >= LastTerm());
    entries_.push_back(std::move(e));
  }
}

void RaftLog::TruncateFrom(LogIndex index) {
  STRAND_CHECK(index > committed_ && index > compacted_index_);
  entries_.resize(index - compacted_index_ - 1);
  stable_ = std::min(stable_, index - 1);
}

void RaftLog::CommitTo(LogIndex index) {
  if (index <= committed_) return;  // commit never goes back
  STRAND_CHECK_MSG(index <= LastIndex(), "commit {} beyond last index {}", index, LastIndex());
  committed_ = index;
}

void RaftLog::AppliedTo(LogIndex index) {
  if (index <= applied_) return;
  STRAND_CHECK_MSG(index <= committed_, "applied {} beyond commit {}", index, committed_);
  applied_ = index;
}

void RaftLog::StableTo(LogIndex index, Term term) {
  if (index <= stable_) return;
  if (!MatchTerm(index, term)) return;  // replaced since; its successor will be persisted
  stable_ = index;
}

std::vector<Entry> RaftLog::UnstableEntries() const {
  std::vector<Entry> out;
  for (LogIndex i = stable_ + 1; i <= LastIndex(); ++i) out.push_back(At(i));
  return out;
}

std::vector<Entry> RaftLog::NextCommittedEntries(size_t max_bytes) const {
  if (!HasNextCommittedEntries()) return {};
  return Slice(std::max(applied_ + 1, FirstIndex()), committed_, max_bytes);
}

std::vector<Entry> RaftLog::Slice(LogIndex lo, LogIndex hi, size_t max_bytes) const {
  std::vector<Entry> out;
  if (lo > hi) return out;
  STRAND_CHECK(lo > compacted_index_ && hi <= LastIndex());
  size_t bytes = 0;
  for (LogIndex i = lo; i <= hi; ++i) {
    const Entry& e = At(i);
    if (!out.empty() && bytes + e.SizeBytes() > max_bytes) break;
    bytes += e.SizeBytes();
    out.push_back(e);
  }
  return out;
}

size_t RaftLog::BytesAfter(LogIndex from) const {
  size_t bytes = 0;
  for (LogIndex i = std::max(from + 1, FirstIndex()); i <= LastIndex(); ++i) {
    bytes += At(i).SizeBytes();
  }
  return bytes;
}

LogIndex RaftLog::FindConflictByTerm(LogIndex index, Term term) const {
  index = std::min(index, LastIndex());
  while (index > compacted_index_) {
    if (At(index).term <= term) return index;
    index = index.Prev();
  }
  return compacted_index_;
}

void RaftLog::Restore(const SnapshotMeta& meta) {
  STRAND_CHECK(meta.index > committed_);
  entries_.clear();
  compacted_index_ = meta.index;
  compacted_term_ = meta.term;
  committed_ = meta.index;
  applied_ = meta.index;
  stable_ = meta.index;
}

void RaftLog::CompactTo(LogIndex index) {
  if (index <= compacted_index_) return;
  STRAND_CHECK_MSG(index <= applied_, "compacting {} beyond applied {}", index, applied_);
  compacted_term_ = At(index).term;
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<long>(index - compacted_index_));
  compacted_index_ = index;
}

}  // namespace strand::raft
