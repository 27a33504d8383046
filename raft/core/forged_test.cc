// Tests the core against messages no honest peer sends (a transport delivers whatever anyone on
// the network sent): a snapshot chunk overrunning its declared size is refused, not an abort; a
// term or index near 2^64 is dropped, so term arithmetic cannot overflow; a vote request, append
// or snapshot from a node outside the voter set is dropped, so an outsider can neither vote
// itself into leadership nor feed an observer a log.
#include <gtest/gtest.h>

#include "raft/core/raft_test_util.h"

namespace strand::raft {
namespace {

using testing::Cluster;
using testing::ClusterOptions;

TEST(Forged, SnapshotChunkOverrunningItsSize_IsRefusedNotFatal) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  ASSERT_TRUE(c.Propose(1, "x").ok());
  Raft& follower = c.raft(2);
  const Term term = follower.term();
  auto chunk = [&](uint64_t offset, uint64_t size, std::string bytes, bool done) {
    return Message{.type = MessageType::kSnapshotChunk,
                   .from = NodeId(1),
                   .to = NodeId(2),
                   .term = term,
                   .snapshot = SnapshotMeta{LogIndex(1'000), term, {}},
                   .snapshot_offset = offset,
                   .snapshot_size = size,
                   .snapshot_chunk = std::move(bytes),
                   .snapshot_done = done};
  };
  follower.Step(chunk(0, 4, "0123456789", false));  // 10 bytes of a declared 4
  EXPECT_EQ(follower.malformed_snapshot_chunks(), 1u);
  follower.Step(chunk(0, 10, "01234", false));
  follower.Step(chunk(5, 10, "56", true));  // "last" but short of the declared size
  EXPECT_EQ(follower.malformed_snapshot_chunks(), 2u);
  EXPECT_LT(follower.log().committed(), LogIndex(1'000));  // nothing installed
  const std::vector<Message> out = follower.TakeMessages();
  ASSERT_FALSE(out.empty());
  EXPECT_TRUE(out.back().reject);
}

TEST(Forged, TermNearTheTopOfTheRange_IsDropped) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  const Term before = c.raft(2).term();
  for (uint64_t term : {~uint64_t{0}, (uint64_t{1} << 62) + 1}) {
    c.raft(2).Step(Message{.type = MessageType::kHeartbeat,
                           .from = NodeId(3),
                           .to = NodeId(2),
                           .term = Term(term)});
    c.raft(2).Step(Message{.type = MessageType::kVote,
                           .from = NodeId(3),
                           .to = NodeId(2),
                           .term = Term(term),
                           .index = LogIndex(~uint64_t{0}),
                           .log_term = Term(term)});
  }
  EXPECT_EQ(c.raft(2).term(), before);
  EXPECT_EQ(c.raft(2).dropped_inadmissible(), 4u);
  // The cluster carries on.
  ASSERT_TRUE(c.Propose(1, "still").ok());
}

TEST(Forged, OutsidersCannotVoteOrFeedAnObserver) {
  ClusterOptions o;
  o.observers = 1;  // node 4
  Cluster c(o);
  ASSERT_TRUE(c.Elect(1));
  const Term term = c.raft(2).term();
  // Node 9 (not in the configuration) asks for votes in a later term: dropped, no vote, no term
  // change, no answer.
  c.raft(2).TakeMessages();
  c.raft(2).Step(Message{.type = MessageType::kVote,
                         .from = NodeId(9),
                         .to = NodeId(2),
                         .term = term + 5,
                         .index = LogIndex(1'000),
                         .log_term = term + 5});
  EXPECT_EQ(c.raft(2).term(), term);
  EXPECT_TRUE(c.raft(2).TakeMessages().empty());
  // The observer (node 4) may not campaign either.
  c.raft(3).Step(Message{.type = MessageType::kPreVote,
                         .from = NodeId(4),
                         .to = NodeId(3),
                         .term = term + 1,
                         .index = LogIndex(1'000),
                         .log_term = term});
  EXPECT_TRUE(c.raft(3).TakeMessages().empty());
  // An outsider cannot act as the leader toward the observer.
  const LogIndex observer_end = c.raft(4).log().LastIndex();
  c.raft(4).Step(Message{.type = MessageType::kAppend,
                         .from = NodeId(9),
                         .to = NodeId(4),
                         .term = term + 1,
                         .index = observer_end,
                         .log_term = c.raft(4).log().LastTerm(),
                         .commit = observer_end + 1,
                         .entries = {Entry{term + 1, observer_end + 1, EntryType::kNormal, "evil"}}});
  EXPECT_EQ(c.raft(4).log().LastIndex(), observer_end);
  EXPECT_EQ(c.raft(2).dropped_inadmissible() + c.raft(3).dropped_inadmissible() +
                c.raft(4).dropped_inadmissible(),
            3u);
  ASSERT_TRUE(c.Propose(1, "fine").ok());
}

}  // namespace
}  // namespace strand::raft
