// Tests the majority arithmetic: commit index and vote tallies for 1, 3, 4 and 5 voters.
#include "raft/core/quorum.h"

#include <gtest/gtest.h>

#include <map>

namespace strand::raft {
namespace {

std::vector<NodeId> Voters(int n) {
  std::vector<NodeId> v;
  for (int i = 1; i <= n; ++i) v.push_back(NodeId(i));
  return v;
}

TEST(Quorum, Size_IsStrictMajority) {
  EXPECT_EQ(QuorumSize(1), 1u);
  EXPECT_EQ(QuorumSize(3), 2u);
  EXPECT_EQ(QuorumSize(4), 3u);
  EXPECT_EQ(QuorumSize(5), 3u);
}

TEST(Quorum, CommittedIndex_IsOnAMajority) {
  std::map<int, uint64_t> match = {{1, 9}, {2, 5}, {3, 7}, {4, 1}, {5, 7}};
  auto of = [&](NodeId id) { return LogIndex(match[id.value()]); };
  EXPECT_EQ(QuorumCommittedIndex(Voters(5), of), LogIndex(7));
  EXPECT_EQ(QuorumCommittedIndex(Voters(3), of), LogIndex(7));
  EXPECT_EQ(QuorumCommittedIndex(Voters(1), of), LogIndex(9));
  EXPECT_EQ(QuorumCommittedIndex(Voters(4), of), LogIndex(5));
}

TEST(Quorum, TallyVotes_WinLoseOrWait) {
  EXPECT_EQ(TallyVotes(Voters(3), 2, 0), VoteResult::kWon);
  EXPECT_EQ(TallyVotes(Voters(3), 1, 1), VoteResult::kPending);
  EXPECT_EQ(TallyVotes(Voters(3), 1, 2), VoteResult::kLost);
  EXPECT_EQ(TallyVotes(Voters(5), 2, 2), VoteResult::kPending);
  EXPECT_EQ(TallyVotes(Voters(5), 2, 3), VoteResult::kLost);
  EXPECT_EQ(TallyVotes(Voters(1), 1, 0), VoteResult::kWon);
}

}  // namespace
}  // namespace strand::raft
