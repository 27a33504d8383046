// Tests RaftLog: appending, conflict truncation, the up-to-date rule, cursors and compaction.
#include "raft/core/raft_log.h"

#include <gtest/gtest.h>

namespace strand::raft {
namespace {

Entry E(uint64_t index, uint64_t term, std::string data = "") {
  return Entry{Term(term), LogIndex(index), EntryType::kNormal, std::move(data)};
}

RaftLog LogWith(const std::vector<std::pair<uint64_t, uint64_t>>& index_terms) {
  RaftLog log(LogIndex(0), Term(0));
  std::vector<Entry> entries;
  for (auto [i, t] : index_terms) entries.push_back(E(i, t));
  log.LoadStable(std::move(entries), LogIndex(0));
  return log;
}

TEST(RaftLog, Empty_HasZeroIndexAndTerm) {
  RaftLog log(LogIndex(0), Term(0));
  EXPECT_EQ(log.LastIndex(), LogIndex(0));
  EXPECT_EQ(log.LastTerm(), Term(0));
  EXPECT_EQ(log.TermAt(LogIndex(0)), Term(0));
  EXPECT_FALSE(log.TermAt(LogIndex(1)).has_value());
}

TEST(RaftLog, MaybeAppend_RejectsWhenPrevDoesNotMatch) {
  RaftLog log = LogWith({{1, 1}, {2, 1}});
  EXPECT_FALSE(log.MaybeAppend(LogIndex(2), Term(2), LogIndex(0), {E(3, 2)}).has_value());
  EXPECT_FALSE(log.MaybeAppend(LogIndex(3), Term(1), LogIndex(0), {E(4, 1)}).has_value());
  EXPECT_EQ(log.LastIndex(), LogIndex(2));
}

TEST(RaftLog, MaybeAppend_TruncatesConflictingSuffix) {
  // Figure 2, AppendEntries rule 3: an existing entry that conflicts with a new one (same index,
  // different term) is deleted with everything that follows it.
  RaftLog log = LogWith({{1, 1}, {2, 1}, {3, 1}, {4, 1}});
  auto last = log.MaybeAppend(LogIndex(1), Term(1), LogIndex(0), {E(2, 1), E(3, 2)});
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, LogIndex(3));
  EXPECT_EQ(log.LastIndex(), LogIndex(3));
  EXPECT_EQ(log.TermAt(LogIndex(3)), Term(2));
  EXPECT_EQ(log.stable(), LogIndex(2));  // index 3 must be persisted again
  EXPECT_EQ(log.UnstableEntries().size(), 1u);
}

TEST(RaftLog, MaybeAppend_IgnoresEntriesAlreadyPresent) {
  // Rule 4: append any new entries not already in the log; a duplicate delivery changes nothing.
  RaftLog log = LogWith({{1, 1}, {2, 1}, {3, 1}});
  auto last = log.MaybeAppend(LogIndex(0), Term(0), LogIndex(0), {E(1, 1), E(2, 1)});
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, LogIndex(2));
  EXPECT_EQ(log.LastIndex(), LogIndex(3));  // a stale, shorter append must not truncate
  EXPECT_FALSE(log.HasUnstableEntries());
}

TEST(RaftLog, MaybeAppend_CommitsUpToLastNewEntry) {
  // Rule 5: commitIndex = min(leaderCommit, index of last new entry).
  RaftLog log = LogWith({{1, 1}});
  log.MaybeAppend(LogIndex(1), Term(1), LogIndex(10), {E(2, 1)});
  EXPECT_EQ(log.committed(), LogIndex(2));
  log.MaybeAppend(LogIndex(2), Term(1), LogIndex(2), {E(3, 1), E(4, 1)});
  EXPECT_EQ(log.committed(), LogIndex(2));
}

TEST(RaftLog, IsUpToDate_ComparesLastTermThenLength) {
  // Section 5.4.1: the later term wins; with equal terms the longer log wins.
  RaftLog log = LogWith({{1, 1}, {2, 2}, {3, 2}});
  EXPECT_TRUE(log.IsUpToDate(LogIndex(1), Term(3)));
  EXPECT_TRUE(log.IsUpToDate(LogIndex(3), Term(2)));
  EXPECT_TRUE(log.IsUpToDate(LogIndex(4), Term(2)));
  EXPECT_FALSE(log.IsUpToDate(LogIndex(2), Term(2)));
  EXPECT_FALSE(log.IsUpToDate(LogIndex(9), Term(1)));
}

TEST(RaftLog, FindConflictByTerm_SkipsWholeTerm) {
  RaftLog log = LogWith({{1, 1}, {2, 1}, {3, 3}, {4, 3}, {5, 3}});
  EXPECT_EQ(log.FindConflictByTerm(LogIndex(5), Term(2)), LogIndex(2));
  EXPECT_EQ(log.FindConflictByTerm(LogIndex(5), Term(3)), LogIndex(5));
  EXPECT_EQ(log.FindConflictByTerm(LogIndex(9), Term(9)), LogIndex(5));
  EXPECT_EQ(log.FindConflictByTerm(LogIndex(5), Term(0)), LogIndex(0));
}

TEST(RaftLog, NextCommittedEntries_RespectsAppliedAndByteLimit) {
  RaftLog log(LogIndex(0), Term(0));
  log.Append({E(1, 1, std::string(100, 'a')), E(2, 1, std::string(100, 'b')), E(3, 1, "c")});
  log.CommitTo(LogIndex(3));
  EXPECT_EQ(log.NextCommittedEntries(1).size(), 1u);  // at least one, even over the limit
  EXPECT_EQ(log.NextCommittedEntries(1 << 20).size(), 3u);
  log.AppliedTo(LogIndex(2));
  auto next = log.NextCommittedEntries(1 << 20);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].index, LogIndex(3));
}

TEST(RaftLog, StableTo_IgnoresReplacedEntry) {
  RaftLog log(LogIndex(0), Term(0));
  log.Append({E(1, 1), E(2, 1)});
  log.StableTo(LogIndex(2), Term(2));  // term mismatch: that entry is not the one persisted
  EXPECT_EQ(log.stable(), LogIndex(0));
  log.StableTo(LogIndex(2), Term(1));
  EXPECT_EQ(log.stable(), LogIndex(2));
}

TEST(RaftLog, CompactAndRestore_MoveTheStart) {
  RaftLog log = LogWith({{1, 1}, {2, 1}, {3, 2}, {4, 2}});
  log.CommitTo(LogIndex(4));
  log.AppliedTo(LogIndex(3));
  log.CompactTo(LogIndex(2));
  EXPECT_EQ(log.FirstIndex(), LogIndex(3));
  EXPECT_EQ(log.TermAt(LogIndex(2)), Term(1));
  EXPECT_FALSE(log.TermAt(LogIndex(1)).has_value());
  EXPECT_EQ(log.Slice(LogIndex(3), LogIndex(4), 1 << 20).size(), 2u);

  log.Restore(SnapshotMeta{LogIndex(10), Term(5), {}});
  EXPECT_EQ(log.LastIndex(), LogIndex(10));
  EXPECT_EQ(log.LastTerm(), Term(5));
  EXPECT_EQ(log.committed(), LogIndex(10));
  EXPECT_EQ(log.applied(), LogIndex(10));
}

TEST(RaftLogDeathTest, OverwritingCommittedEntry_Aborts) {
  RaftLog log = LogWith({{1, 1}, {2, 1}});
  log.CommitTo(LogIndex(2));
  EXPECT_DEATH(log.MaybeAppend(LogIndex(1), Term(1), LogIndex(0), {E(2, 2)}), "committed");
}

}  // namespace
}  // namespace strand::raft
