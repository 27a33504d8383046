// Tests leader election (Raft paper 5.2, 5.4.1 and Figure 2 "Rules for Servers"), pre-vote and
// check-quorum (Raft thesis 9.6 and 6.2). Most tests drive a Cluster (raft_test_util.h) whose
// nodes follow the Ready contract; a few step hand-built messages into one node.
#include <gtest/gtest.h>

#include "raft/core/raft_test_util.h"

namespace strand::raft {
namespace {

using testing::Cluster;
using testing::ClusterOptions;

ClusterOptions Plain() {  // no pre-vote, no check-quorum: the paper's basic algorithm
  ClusterOptions o;
  o.pre_vote = false;
  o.check_quorum = false;
  return o;
}

std::vector<Message> OfType(const std::vector<Message>& msgs, MessageType type) {
  std::vector<Message> out;
  for (const Message& m : msgs) {
    if (m.type == type) out.push_back(m);
  }
  return out;
}

TEST(Election, FollowerTimeout_BecomesCandidateAndVotesForItself) {
  // Followers: "If election timeout elapses without receiving AppendEntries RPC from current
  // leader or granting vote to candidate: convert to candidate." Candidates: increment
  // currentTerm, vote for self, send RequestVote RPCs to all other servers.
  Cluster c(Plain());
  c.Isolate(1);
  c.Tick(1, 20);  // 2x the election timeout is always enough (timeouts are in [10, 20))
  EXPECT_EQ(c.raft(1).role(), Role::kCandidate);
  EXPECT_GE(c.raft(1).term(), Term(1));
  EXPECT_EQ(c.raft(1).vote(), NodeId(1));
  auto votes = OfType(c.sent, MessageType::kVote);
  ASSERT_GE(votes.size(), 2u);
  EXPECT_EQ(votes[0].term, Term(1));
}

TEST(Election, RandomizedTimeout_FiresWithinOneToTwoTimeouts) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    ClusterOptions o = Plain();
    o.seed = seed;
    Cluster c(o);
    c.Isolate(1);
    int ticks = 0;
    while (c.raft(1).role() == Role::kFollower && ticks < 100) {
      c.Tick(1);
      ++ticks;
    }
    EXPECT_GE(ticks, 10);
    EXPECT_LT(ticks, 20);
  }
}

TEST(Election, MajorityOfVotes_WinsAndAppendsNoop) {
  Cluster c(Plain());
  ASSERT_TRUE(c.Elect(1));
  EXPECT_EQ(c.raft(2).leader(), NodeId(1));
  EXPECT_EQ(c.raft(3).leader(), NodeId(1));
  // A new leader appends an entry of its own term, and commits it with the followers.
  EXPECT_EQ(c.raft(1).log().LastIndex(), LogIndex(1));
  EXPECT_EQ(c.raft(1).log().committed(), LogIndex(1));
  EXPECT_EQ(c.raft(2).log().committed(), LogIndex(1));
}

TEST(Election, MinorityOfVotes_DoesNotWin) {
  Cluster c(Plain());
  c.Isolate(1);
  EXPECT_FALSE(c.Elect(1));
  EXPECT_EQ(c.raft(1).role(), Role::kCandidate);
}

TEST(Election, SingleVoter_WinsImmediately) {
  ClusterOptions o;
  o.voters = 1;
  Cluster c(o);
  EXPECT_TRUE(c.Elect(1));
  auto index = c.Propose(1, "x");
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(c.raft(1).log().committed(), *index);
}

TEST(Election, VoteGrantedAtMostOncePerTerm) {
  // RequestVote receiver: grant only if votedFor is null or candidateId.
  Cluster c(Plain());
  Raft& r = c.raft(3);
  r.Step(Message{.type = MessageType::kVote, .from = NodeId(1), .to = NodeId(3), .term = Term(5)});
  r.Step(Message{.type = MessageType::kVote, .from = NodeId(2), .to = NodeId(3), .term = Term(5)});
  r.Step(Message{.type = MessageType::kVote, .from = NodeId(1), .to = NodeId(3), .term = Term(5)});
  auto responses = r.TakeMessages();
  ASSERT_EQ(responses.size(), 3u);
  EXPECT_FALSE(responses[0].reject);
  EXPECT_TRUE(responses[1].reject);
  EXPECT_FALSE(responses[2].reject);  // a repeated request from the same candidate
  EXPECT_EQ(r.vote(), NodeId(1));
  EXPECT_EQ(r.term(), Term(5));
}

TEST(Election, VoteRejectedForLessUpToDateLog) {
  // Section 5.4.1: deny the vote if the candidate's log is less up to date than the voter's.
  Cluster c(Plain());
  ASSERT_TRUE(c.Elect(1));
  ASSERT_TRUE(c.Propose(1, "a").ok());
  Raft& r = c.raft(3);  // has entries (1, term 1) and (2, term 1)
  const Term t = r.term() + 1;
  r.TakeMessages();
  r.Step(Message{.type = MessageType::kVote,
                 .from = NodeId(2),
                 .to = NodeId(3),
                 .term = t,
                 .index = LogIndex(1),
                 .log_term = Term(1)});
  auto shorter = r.TakeMessages();
  ASSERT_EQ(shorter.size(), 1u);
  EXPECT_TRUE(shorter[0].reject);
  r.Step(Message{.type = MessageType::kVote,
                 .from = NodeId(2),
                 .to = NodeId(3),
                 .term = t + 1,
                 .index = LogIndex(9),
                 .log_term = Term(0)});
  auto older_term = r.TakeMessages();
  ASSERT_EQ(older_term.size(), 1u);
  EXPECT_TRUE(older_term[0].reject);
  r.Step(Message{.type = MessageType::kVote,
                 .from = NodeId(2),
                 .to = NodeId(3),
                 .term = t + 2,
                 .index = LogIndex(2),
                 .log_term = Term(1)});
  auto equal = r.TakeMessages();
  ASSERT_EQ(equal.size(), 1u);
  EXPECT_FALSE(equal[0].reject);
}

TEST(Election, HigherTermInAnyMessage_ConvertsToFollower) {
  // All servers: "If RPC request or response contains term T > currentTerm: set currentTerm = T,
  // convert to follower."
  Cluster c(Plain());
  ASSERT_TRUE(c.Elect(1));
  Raft& leader = c.raft(1);
  leader.Step(Message{
      .type = MessageType::kAppendResponse, .from = NodeId(2), .to = NodeId(1), .term = Term(7)});
  EXPECT_EQ(leader.role(), Role::kFollower);
  EXPECT_EQ(leader.term(), Term(7));
  EXPECT_EQ(leader.vote(), kNoNode);
}

TEST(Election, StaleTermMessages_AreIgnored) {
  Cluster c(Plain());
  ASSERT_TRUE(c.Elect(1));
  ASSERT_TRUE(c.Elect(2));  // term 2
  Raft& r = c.raft(3);
  const LogIndex last = r.log().LastIndex();
  r.TakeMessages();
  r.Step(Message{.type = MessageType::kAppend,
                 .from = NodeId(1),
                 .to = NodeId(3),
                 .term = Term(1),
                 .index = last,
                 .log_term = r.log().LastTerm(),
                 .entries = {Entry{Term(1), last + 1, EntryType::kNormal, "stale"}}});
  EXPECT_EQ(r.log().LastIndex(), last);
  EXPECT_EQ(r.leader(), NodeId(2));
}

TEST(Election, CandidateSeeingLeaderOfSameTerm_StepsDown) {
  // Candidates: "If AppendEntries RPC received from new leader: convert to follower."
  Cluster c(Plain());
  c.Isolate(3);
  c.node(3).node->Campaign();  // term 1 candidate, cut off
  c.Stabilize();
  c.HealAll();
  ASSERT_TRUE(c.Elect(1));  // also term 1: 2 votes for it, 3 (voted for itself) does not
  EXPECT_EQ(c.raft(1).term(), Term(1));
  Raft& r = c.raft(3);
  EXPECT_EQ(r.role(), Role::kFollower);
  EXPECT_EQ(r.leader(), NodeId(1));
}

TEST(PreVote, Campaign_DoesNotIncrementTerm) {
  Cluster c;  // pre-vote on
  c.Isolate(1);
  c.node(1).node->Campaign();
  c.Stabilize();
  EXPECT_EQ(c.raft(1).role(), Role::kPreCandidate);
  EXPECT_EQ(c.raft(1).term(), Term(0));
  auto pre = OfType(c.sent, MessageType::kPreVote);
  ASSERT_FALSE(pre.empty());
  EXPECT_EQ(pre[0].term, Term(1));  // asks about the next term
}

TEST(PreVote, PartitionedNodeRejoining_DoesNotDisruptLeader) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  const Term term = c.raft(1).term();
  c.Isolate(3);
  c.Tick(3, 200);  // many election timeouts alone: it never gets past pre-vote
  EXPECT_EQ(c.raft(3).term(), term);
  c.HealAll();
  c.TickAll(5);
  EXPECT_EQ(c.Leader(), 1);
  EXPECT_EQ(c.raft(1).term(), term);
  EXPECT_EQ(c.raft(3).leader(), NodeId(1));
}

TEST(PreVote, Granted_ThenRealElectionWins) {
  Cluster c;
  ASSERT_TRUE(c.Elect(2));
  EXPECT_EQ(c.raft(2).term(), Term(1));
  EXPECT_EQ(c.raft(1).leader(), NodeId(2));
}

TEST(PreVote, VoterWithLiveLeader_Rejects) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  c.Cut(3, 1);
  c.node(3).node->Campaign();  // 2 still hears from leader 1, so it denies the pre-vote
  c.Stabilize();
  EXPECT_NE(c.raft(3).role(), Role::kLeader);
  EXPECT_EQ(c.Leader(), 1);
}

TEST(CheckQuorum, IsolatedLeader_StepsDown) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  c.Isolate(1);
  c.Tick(1, 21);  // two check-quorum rounds
  EXPECT_EQ(c.raft(1).role(), Role::kFollower);
}

TEST(CheckQuorum, ConnectedLeader_StaysLeader) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  c.Isolate(3);
  c.TickAll(50);
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
}

TEST(CheckQuorum, FollowerInLease_IgnoresHigherTermVote) {
  ClusterOptions o;
  o.pre_vote = false;
  Cluster c(o);
  ASSERT_TRUE(c.Elect(1));
  Raft& r = c.raft(2);
  const Term term = r.term();
  r.TakeMessages();
  r.Step(Message{.type = MessageType::kVote,
                 .from = NodeId(3),
                 .to = NodeId(2),
                 .term = term + 5,
                 .index = LogIndex(100),
                 .log_term = term + 4});
  EXPECT_EQ(r.term(), term);
  EXPECT_TRUE(r.TakeMessages().empty());
}

TEST(Election, NewLeaderAfterLeaderFailure) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  ASSERT_TRUE(c.Propose(1, "before").ok());
  c.Crash(1);
  c.TickAll(40);
  auto leader = c.Leader();
  ASSERT_TRUE(leader.has_value());
  EXPECT_NE(*leader, 1);
  ASSERT_TRUE(c.Propose(*leader, "after").ok());
  c.Restart(1);
  c.TickAll(10);
  EXPECT_EQ(testing::Data(c.node(1).applied), (std::vector<std::string>{"before", "after"}));
}

}  // namespace
}  // namespace strand::raft
