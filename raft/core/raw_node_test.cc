// Tests the Ready contract: what must be persisted before which messages, when a sync is needed,
// and that a restarted node resumes from exactly what it persisted.
#include "raft/core/raw_node.h"

#include <gtest/gtest.h>

#include "raft/core/errc.h"
#include "raft/core/raft_test_util.h"

namespace strand::raft {
namespace {

TEST(RawNode, VoteGranted_HardStateInSameReadyAsResponse) {
  Random random(1);
  auto node = RawNode::Create(testing::MakeConfig(2, {1, 2, 3}), random, {});
  ASSERT_TRUE(node.ok());
  (*node)->Step(
      Message{.type = MessageType::kVote, .from = NodeId(1), .to = NodeId(2), .term = Term(1)});
  ASSERT_TRUE((*node)->HasReady());
  Ready rd = (*node)->GetReady();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->vote, NodeId(1));
  EXPECT_EQ(rd.hard_state->term, Term(1));
  EXPECT_TRUE(rd.must_sync);
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_EQ(rd.messages[0].type, MessageType::kVoteResponse);
  EXPECT_FALSE(rd.messages[0].reject);
  (*node)->Advance(rd);
  EXPECT_FALSE((*node)->HasReady());
}

TEST(RawNode, CommitOnlyChange_NeedsNoSync) {
  testing::Cluster c;
  ASSERT_TRUE(c.Elect(1));
  RawNode& follower = *c.node(2).node;
  const Raft& r = follower.raft();
  follower.Step(
      Message{.type = MessageType::kAppend,
              .from = NodeId(1),
              .to = NodeId(2),
              .term = r.term(),
              .index = r.log().LastIndex(),
              .log_term = r.log().LastTerm(),
              .entries = {Entry{r.term(), r.log().LastIndex() + 1, EntryType::kNormal, "e"}}});
  Ready append = follower.GetReady();
  EXPECT_TRUE(append.must_sync);
  ASSERT_TRUE(
      c.node(2).storage.Persist(append.hard_state, append.snapshot, append.entries, true).ok());
  follower.Advance(append);
  follower.Step(Message{.type = MessageType::kHeartbeat,
                        .from = NodeId(1),
                        .to = NodeId(2),
                        .term = r.term(),
                        .commit = r.log().LastIndex()});
  Ready commit = follower.GetReady();
  ASSERT_TRUE(commit.hard_state.has_value());
  EXPECT_FALSE(commit.must_sync);
  EXPECT_EQ(commit.committed_entries.size(), 1u);
}

TEST(RawNode, Restart_ResumesTermVoteAndLog) {
  testing::Cluster c;
  ASSERT_TRUE(c.Elect(1));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.Propose(1, "r").ok());
  const Term term = c.raft(2).term();
  const NodeId vote = c.raft(2).vote();
  const LogIndex last = c.raft(2).log().LastIndex();
  c.Crash(2);
  c.Restart(2);
  EXPECT_EQ(c.raft(2).term(), term);
  EXPECT_EQ(c.raft(2).vote(), vote);
  EXPECT_EQ(c.raft(2).log().LastIndex(), last);
}

TEST(RawNode, InvalidConfig_IsRejected) {
  Random random(1);
  Config bad = testing::MakeConfig(9, {1, 2, 3});
  bad.observer = false;  // claims to be a voter but is not in the set
  EXPECT_EQ(ErrcOf<Errc>(RawNode::Create(bad, random, {}).status()), Errc::kInvalidConfig);
  Config timeouts = testing::MakeConfig(1, {1, 2, 3});
  timeouts.election_timeout_ticks = 1;
  EXPECT_FALSE(RawNode::Create(timeouts, random, {}).ok());
}

}  // namespace
}  // namespace strand::raft
