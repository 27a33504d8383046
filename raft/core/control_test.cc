// Tests ReadIndex (Raft thesis 6.4), leadership transfer (thesis 3.10) and non-voting observers.
#include <gtest/gtest.h>

#include "raft/core/errc.h"
#include "raft/core/raft_test_util.h"

namespace strand::raft {
namespace {

using testing::Cluster;
using testing::ClusterOptions;
using testing::Data;

TEST(ReadIndex, Leader_ServesAfterHeartbeatQuorum) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  ASSERT_TRUE(c.Propose(1, "x").ok());
  ASSERT_TRUE(c.node(1).node->ReadIndex(7).ok());
  c.Stabilize();
  ASSERT_EQ(c.node(1).reads.size(), 1u);
  EXPECT_EQ(c.node(1).reads[0].context, 7u);
  EXPECT_EQ(c.node(1).reads[0].index, c.raft(1).log().committed());
}

TEST(ReadIndex, IsolatedLeader_DoesNotServe) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  c.Isolate(1);
  ASSERT_TRUE(c.node(1).node->ReadIndex(1).ok());
  c.Tick(1, 5);
  EXPECT_TRUE(c.node(1).reads.empty());
}

TEST(ReadIndex, Follower_ForwardsToLeader) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  ASSERT_TRUE(c.Propose(1, "x").ok());
  ASSERT_TRUE(c.node(2).node->ReadIndex(42).ok());
  c.Stabilize();
  ASSERT_EQ(c.node(2).reads.size(), 1u);
  EXPECT_EQ(c.node(2).reads[0].context, 42u);
  EXPECT_EQ(c.node(2).reads[0].index, c.raft(1).log().committed());
}

TEST(ReadIndex, NewLeader_WaitsForCommitInItsTerm) {
  Cluster c;
  // Hold back the new leader's appends: its no-op cannot commit yet.
  c.drop = [](const Message& m) { return m.type == MessageType::kAppend; };
  ASSERT_TRUE(c.Elect(1));
  ASSERT_TRUE(c.node(1).node->ReadIndex(5).ok());
  c.Tick(1, 2);
  EXPECT_TRUE(c.node(1).reads.empty());
  c.drop = nullptr;
  c.TickAll(2);
  ASSERT_EQ(c.node(1).reads.size(), 1u);
  EXPECT_GE(c.node(1).reads[0].index, LogIndex(1));  // at least the no-op
}

TEST(ReadIndex, NoLeader_ReturnsNotLeader) {
  Cluster c;
  EXPECT_EQ(ErrcOf<Errc>(c.node(2).node->ReadIndex(1)), Errc::kNotLeader);
}

TEST(Transfer, UpToDateFollower_BecomesLeader) {
  Cluster c;  // check-quorum on: voters must skip their lease for a transfer campaign
  ASSERT_TRUE(c.Elect(1));
  const Term term = c.raft(1).term();
  ASSERT_TRUE(c.node(1).node->TransferLeadership(NodeId(2)).ok());
  c.Stabilize();
  EXPECT_EQ(c.Leader(), 2);
  EXPECT_EQ(c.raft(2).term(), term + 1);
  EXPECT_EQ(c.raft(1).role(), Role::kFollower);
}

TEST(Transfer, LaggingFollower_CatchesUpThenLeads) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  c.Isolate(3);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.Propose(1, "l").ok());
  c.HealAll();
  ASSERT_TRUE(c.node(1).node->TransferLeadership(NodeId(3)).ok());
  c.Stabilize();
  EXPECT_EQ(c.Leader(), 3);
  EXPECT_EQ(Data(c.node(3).applied).size(), 5u);
}

TEST(Transfer, ProposalsRefusedWhileTransferring_ThenTimeout) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  c.Isolate(3);
  ASSERT_TRUE(c.Propose(1, "x").ok());
  ASSERT_TRUE(c.node(1).node->TransferLeadership(NodeId(3)).ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(1).transfer_target(), NodeId(3));
  EXPECT_EQ(ErrcOf<Errc>(c.node(1).node->Propose("y").status()), Errc::kTransferInProgress);
  c.Tick(1, 10);  // one election timeout: the transfer is abandoned
  EXPECT_EQ(c.raft(1).transfer_target(), kNoNode);
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
  EXPECT_TRUE(c.node(1).node->Propose("z").ok());
}

TEST(Transfer, RequestOnFollower_IsForwarded) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  ASSERT_TRUE(c.node(3).node->TransferLeadership(NodeId(3)).ok());
  c.Stabilize();
  EXPECT_EQ(c.Leader(), 3);
  EXPECT_EQ(ErrcOf<Errc>(c.node(3).node->TransferLeadership(NodeId(9))), Errc::kUnknownPeer);
}

ClusterOptions WithObserver() {
  ClusterOptions o;
  o.observers = 1;  // node 4
  return o;
}

TEST(Observer, ReceivesCommittedLog_NeverVotesOrCampaigns) {
  Cluster c(WithObserver());
  ASSERT_TRUE(c.Elect(1));
  c.TickAll(3);  // the observer asks to join
  ASSERT_TRUE(c.Propose(1, "m1").ok());
  ASSERT_TRUE(c.Propose(1, "m2").ok());
  c.TickAll(1);
  EXPECT_EQ(c.raft(4).role(), Role::kObserver);
  EXPECT_EQ(Data(c.node(4).applied), (std::vector<std::string>{"m1", "m2"}));
  for (const Message& m : c.sent) {
    EXPECT_FALSE(m.from == NodeId(4) &&
                 (m.type == MessageType::kVote || m.type == MessageType::kPreVote ||
                  m.type == MessageType::kVoteResponse));
    EXPECT_FALSE(m.to == NodeId(4) && m.type == MessageType::kVote);
  }
  // Alone for a long time, it still never campaigns.
  c.Isolate(4);
  const Term term = c.raft(4).term();
  c.Tick(4, 100);
  EXPECT_EQ(c.raft(4).role(), Role::kObserver);
  EXPECT_EQ(c.raft(4).term(), term);
}

TEST(Observer, DoesNotCountTowardCommit) {
  Cluster c(WithObserver());
  ASSERT_TRUE(c.Elect(1));
  c.TickAll(3);
  c.Cut(1, 2);
  c.Cut(1, 3);
  auto index = c.Propose(1, "needs-voters");
  ASSERT_TRUE(index.ok());
  c.Tick(1, 3);
  EXPECT_EQ(c.raft(4).log().LastIndex(), *index);  // the observer has it...
  EXPECT_LT(c.raft(1).log().committed(), *index);  // ...but it does not make a quorum
}

TEST(Observer, NewLeaderReplicatesToKnownObserverAtOnce) {
  Cluster c(WithObserver());
  ASSERT_TRUE(c.Elect(1));
  c.TickAll(3);
  ASSERT_TRUE(c.node(1).node->TransferLeadership(NodeId(2)).ok());
  c.Stabilize();
  ASSERT_EQ(c.Leader(), 2);
  ASSERT_TRUE(c.Propose(2, "from-2").ok());  // no tick: no rejoin round needed
  EXPECT_EQ(c.raft(4).leader(), NodeId(2));
  EXPECT_EQ(c.raft(4).log().LastIndex(), c.raft(2).log().LastIndex());
}

TEST(Observer, SilentObserver_IsForgotten) {
  ClusterOptions o = WithObserver();
  o.tweak = [](Config& c) { c.observer_expiry_ticks = 30; };
  Cluster c(o);
  ASSERT_TRUE(c.Elect(1));
  c.TickAll(3);
  ASSERT_NE(c.raft(1).progress(NodeId(4)), nullptr);
  c.Crash(4);
  c.TickAll(31);
  EXPECT_EQ(c.raft(1).progress(NodeId(4)), nullptr);
  EXPECT_EQ(c.raft(1).known_observers(), 0u);
}

// A broker killed and restarted after the leader forgot it: its join gives it a fresh progress
// (probing from the leader's last index + 1) and the probe sent with the join is lost, as the
// leader's connection to the restarting node still fails. Nothing is proposed afterwards, so no
// new entry would carry a probe: heartbeats must, or the observer never catches up (a broker
// then stays fenced forever, as it never applies its own registration).
TEST(Observer, RestartedObserver_CatchesUpAfterItsFirstProbeIsLost_WithoutNewProposals) {
  ClusterOptions o = WithObserver();
  o.tweak = [](Config& c) { c.observer_expiry_ticks = 30; };
  Cluster c(o);
  ASSERT_TRUE(c.Elect(1));
  c.TickAll(3);
  ASSERT_TRUE(c.Propose(1, "before").ok());
  c.TickAll(1);
  ASSERT_EQ(Data(c.node(4).applied), (std::vector<std::string>{"before"}));
  c.Crash(4);
  ASSERT_TRUE(c.Propose(1, "while-down").ok());
  c.TickAll(31);
  ASSERT_EQ(c.raft(1).progress(NodeId(4)), nullptr);  // forgotten
  int appends_dropped = 0;
  c.drop = [&](const Message& m) {
    if (m.to != NodeId(4) || m.type != MessageType::kAppend || appends_dropped > 0) return false;
    ++appends_dropped;
    return true;
  };
  c.Restart(4);
  c.TickAll(20);
  EXPECT_EQ(appends_dropped, 1);
  ASSERT_NE(c.raft(1).progress(NodeId(4)), nullptr);
  EXPECT_EQ(c.raft(1).progress(NodeId(4))->match, c.raft(1).log().LastIndex());
  EXPECT_EQ(c.raft(4).log().committed(), c.raft(1).log().committed());
  EXPECT_EQ(Data(c.node(4).applied), (std::vector<std::string>{"before", "while-down"}));
}

}  // namespace
}  // namespace strand::raft
