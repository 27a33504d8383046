#pragma once

// Majority quorum arithmetic over the voter set (observers never count).

#include <functional>
#include <vector>

#include "raft/core/types.h"

namespace strand::raft {

// Smallest number of voters that forms a majority.
size_t QuorumSize(size_t voters);

// The highest index replicated on a majority of voters, given each voter's match index.
LogIndex QuorumCommittedIndex(const std::vector<NodeId>& voters,
                              const std::function<LogIndex(NodeId)>& match_of);

enum class VoteResult : uint8_t { kPending, kWon, kLost };

// Tally of granted / rejected votes among `voters` (absent voters have not answered yet).
VoteResult TallyVotes(const std::vector<NodeId>& voters, size_t granted, size_t rejected);

}  // namespace strand::raft
