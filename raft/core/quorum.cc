#include "raft/core/quorum.h"

#include <algorithm>

#include "common/check.h"
#include "raft/core/mutants.h"

namespace strand::raft {

size_t QuorumSize(size_t voters) {
  // Mutant: a "majority" of n/2 lets two disjoint halves both commit.
  if (STRAND_MUTANT(kCommitWithoutQuorum)) return std::max<size_t>(1, voters / 2);
  return voters / 2 + 1;
}

LogIndex QuorumCommittedIndex(const std::vector<NodeId>& voters,
                              const std::function<LogIndex(NodeId)>& match_of) {
  STRAND_CHECK(!voters.empty());
  std::vector<LogIndex> matches;
  matches.reserve(voters.size());
  for (NodeId id : voters) matches.push_back(match_of(id));
  // Sorted descending, the quorum-th highest match is on at least a quorum of voters.
  std::sort(matches.begin(), matches.end(), std::greater<>());
  return matches[QuorumSize(voters.size()) - 1];
}

VoteResult TallyVotes(const std::vector<NodeId>& voters, size_t granted, size_t rejected) {
  const size_t quorum = QuorumSize(voters.size());
  if (granted >= quorum) return VoteResult::kWon;
  if (voters.size() - rejected < quorum) return VoteResult::kLost;
  return VoteResult::kPending;
}

}  // namespace strand::raft
