// Tests log replication (Raft paper 5.3, 5.4.2 and Figure 2 AppendEntries / Leaders rules):
// commit by majority, log repair, the figure-8 rule, pipelining and the flow-control window.
#include <gtest/gtest.h>

#include "raft/core/errc.h"
#include "raft/core/raft_test_util.h"

namespace strand::raft {
namespace {

using testing::Cluster;
using testing::ClusterOptions;
using testing::Data;

TEST(Replication, CommittedEntry_AppliedOnEveryNode) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.Propose(1, "e" + std::to_string(i)).ok());
  c.TickAll(1);  // a heartbeat carries the final commit index
  for (int id : c.ids()) {
    EXPECT_EQ(Data(c.node(id).applied), (std::vector<std::string>{"e0", "e1", "e2", "e3", "e4"}))
        << "node " << id;
  }
}

TEST(Replication, EntryOnMinority_IsNotCommitted) {
  // Leaders: commit only when a majority has replicated the entry.
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  c.Isolate(1);
  auto index = c.Propose(1, "lonely");
  ASSERT_TRUE(index.ok());
  EXPECT_LT(c.raft(1).log().committed(), *index);
  c.HealAll();
  c.CutOneWay(1, 3);
  c.TickAll(11);  // the lost append is re-sent once the follower is seen stalled
  EXPECT_GE(c.raft(1).log().committed(), *index);  // 1 + 2 is a majority
}

TEST(Replication, AppendWithMismatchedPrev_IsRejectedWithHint) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  Raft& r = c.raft(2);
  r.TakeMessages();
  r.Step(Message{.type = MessageType::kAppend,
                 .from = NodeId(1),
                 .to = NodeId(2),
                 .term = r.term(),
                 .index = LogIndex(7),
                 .log_term = Term(1)});
  auto out = r.TakeMessages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, MessageType::kAppendResponse);
  EXPECT_TRUE(out[0].reject);
  EXPECT_EQ(out[0].index, LogIndex(7));
  EXPECT_EQ(out[0].reject_hint, r.log().LastIndex());
}

ClusterOptions Plain() {  // the paper's basic algorithm: no pre-vote, no leader lease
  ClusterOptions o;
  o.pre_vote = false;
  o.check_quorum = false;
  return o;
}

TEST(Replication, DivergentFollowerLog_IsRepaired) {
  // Figure 7: a follower holding uncommitted entries of an old term has them overwritten.
  Cluster c(Plain());
  ASSERT_TRUE(c.Elect(1));
  ASSERT_TRUE(c.Propose(1, "committed").ok());
  c.Isolate(1);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.Propose(1, "orphan" + std::to_string(i)).ok());
  c.HealAll();
  c.Isolate(1);
  c.HealAll();
  c.Cut(1, 2);
  c.Cut(1, 3);
  ASSERT_TRUE(c.Elect(2));
  ASSERT_TRUE(c.Propose(2, "new").ok());
  c.HealAll();
  c.TickAll(3);
  EXPECT_EQ(Data(c.node(1).applied), (std::vector<std::string>{"committed", "new"}));
  EXPECT_EQ(c.raft(1).log().LastIndex(), c.raft(2).log().LastIndex());
  for (LogIndex i(1); i <= c.raft(2).log().LastIndex(); ++i) {
    EXPECT_EQ(c.raft(1).log().TermAt(i), c.raft(2).log().TermAt(i)) << i;
  }
}

TEST(Replication, FastBacktracking_SkipsConflictingTermInOneRoundTrip) {
  Cluster c(Plain());
  ASSERT_TRUE(c.Elect(1));
  c.Isolate(1);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(c.node(1).node->Propose("x").ok());
  c.Stabilize();
  c.HealAll();
  c.Cut(1, 2);
  c.Cut(1, 3);
  ASSERT_TRUE(c.Elect(2));
  c.HealAll();
  c.sent.clear();
  c.TickAll(1);
  size_t rejections = 0;
  for (const Message& m : c.sent) {
    if (m.type == MessageType::kAppendResponse && m.from == NodeId(1) && m.reject) ++rejections;
  }
  EXPECT_LE(rejections, 2u);  // not one per orphaned entry
  EXPECT_EQ(c.raft(1).log().LastIndex(), c.raft(2).log().LastIndex());
}

TEST(Replication, Figure8_OldTermEntryNotCommittedByCounting) {
  // Section 5.4.2 / Figure 8: a leader must not commit an entry from a previous term by counting
  // replicas; it commits it only together with an entry of its own term. Set up node 1 of 5 as
  // in Figure 8 (c): its log holds (1, term 1), (2, term 1), it restarts at term 2 and wins term 3.
  Config cfg = testing::MakeConfig(1, {1, 2, 3, 4, 5});
  cfg.pre_vote = false;
  Random random(1);
  BootState boot;
  boot.hard_state.term = Term(2);
  boot.entries = {Entry{Term(1), LogIndex(1), EntryType::kNormal, "a"},
                  Entry{Term(1), LogIndex(2), EntryType::kNormal, "b"}};
  Raft r(cfg, random, boot);
  r.Campaign();
  ASSERT_EQ(r.term(), Term(3));
  for (int voter : {2, 3}) {
    r.Step(Message{.type = MessageType::kVoteResponse,
                   .from = NodeId(voter),
                   .to = NodeId(1),
                   .term = Term(3)});
  }
  ASSERT_EQ(r.role(), Role::kLeader);
  ASSERT_EQ(r.log().LastIndex(), LogIndex(3));  // the term-3 no-op
  r.EntriesPersisted(LogIndex(3), Term(3));
  auto ack = [&](int from, uint64_t index) {
    r.Step(Message{.type = MessageType::kAppendResponse,
                   .from = NodeId(from),
                   .to = NodeId(1),
                   .term = Term(3),
                   .index = LogIndex(index)});
  };
  ack(2, 2);
  ack(3, 2);
  // Index 2 is now on nodes 1, 2 and 3, a majority of five, but it is of term 1.
  EXPECT_EQ(r.log().committed(), LogIndex(0));
  ack(2, 3);
  EXPECT_EQ(r.log().committed(), LogIndex(0));  // index 3 only on two of five
  ack(3, 3);
  EXPECT_EQ(r.log().committed(), LogIndex(3));  // commits the term-1 entries with it
}

TEST(Replication, Pipelining_SeveralAppendsInFlight) {
  ClusterOptions o;
  o.tweak = [](Config& cfg) {
    cfg.append_bytes_max = 100;  // one 100-byte entry per message
    cfg.inflight_messages_max = 4;
  };
  Cluster c(o);
  ASSERT_TRUE(c.Elect(1));
  // Hold every response so the window fills.
  c.drop = [](const Message& m) { return m.type == MessageType::kAppendResponse; };
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.node(1).node->Propose(std::string(100, 'p')).ok());
  c.sent.clear();
  c.Stabilize();
  size_t appends_to_2 = 0;
  for (const Message& m : c.sent) {
    if (m.type == MessageType::kAppend && m.to == NodeId(2) && !m.entries.empty()) ++appends_to_2;
  }
  EXPECT_EQ(appends_to_2, 4u);  // exactly the window, not one, not ten
  EXPECT_TRUE(c.raft(1).progress(NodeId(2))->inflights.Full());
  c.drop = nullptr;
  c.TickAll(12);  // the lost acknowledgements are noticed and the window restarts
  EXPECT_EQ(c.raft(2).log().LastIndex(), c.raft(1).log().LastIndex());
}

TEST(Replication, ReportUnreachable_ResendsFromMatch) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  c.drop = [](const Message& m) { return m.type == MessageType::kAppend && m.to == NodeId(2); };
  ASSERT_TRUE(c.Propose(1, "lost").ok());
  c.drop = nullptr;
  EXPECT_EQ(c.raft(1).progress(NodeId(2))->state, ProgressState::kReplicate);
  c.node(1).node->ReportUnreachable(NodeId(2));
  EXPECT_EQ(c.raft(1).progress(NodeId(2))->state, ProgressState::kProbe);
  c.TickAll(1);  // the heartbeat answer unpauses the probe, which re-sends the entry
  EXPECT_EQ(c.raft(2).log().LastIndex(), c.raft(1).log().LastIndex());
}

TEST(Replication, FollowerThatLostItsDisk_IsRefilled) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.Propose(1, "kept").ok());
  c.TickAll(1);
  // Node 3 loses everything (a new disk) and restarts.
  c.Crash(3);
  c.node(3).storage = MemoryStorage();
  c.Restart(3);
  c.TickAll(3);  // heartbeats alone reveal it: no new proposal is needed
  EXPECT_EQ(c.raft(3).log().LastIndex(), c.raft(1).log().LastIndex());
  EXPECT_EQ(Data(c.node(3).applied).size(), 5u);
}

TEST(Replication, Batching_ManyProposalsOneMessagePerFollower) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(c.node(1).node->Propose("b").ok());
  c.sent.clear();
  c.Stabilize();
  size_t appends = 0;
  for (const Message& m : c.sent) {
    if (m.type == MessageType::kAppend && m.to == NodeId(2)) {
      ++appends;
      EXPECT_EQ(m.entries.size(), 100u);
    }
  }
  EXPECT_EQ(appends, 1u);
}

TEST(Replication, UncommittedLimit_RefusesProposals) {
  ClusterOptions o;
  o.tweak = [](Config& cfg) {
    cfg.uncommitted_bytes_max = 1000;
    cfg.entry_bytes_max = 1000;
  };
  Cluster c(o);
  ASSERT_TRUE(c.Elect(1));
  c.Isolate(1);
  int accepted = 0;
  absl::Status last;
  for (int i = 0; i < 20; ++i) {
    auto r = c.node(1).node->Propose(std::string(100, 'u'));
    if (r.ok()) {
      ++accepted;
    } else {
      last = r.status();
    }
  }
  EXPECT_LT(accepted, 20);
  EXPECT_EQ(ErrcOf<Errc>(last), Errc::kTooManyUncommitted);
  auto too_big = c.node(1).node->Propose(std::string(1001, 'u'));
  EXPECT_EQ(ErrcOf<Errc>(too_big.status()), Errc::kProposalTooLarge);
}

TEST(Replication, FollowerProposal_ReturnsNotLeaderNamingLeader) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  auto r = c.node(2).node->Propose("x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ErrcOf<Errc>(r.status()), Errc::kNotLeader);
  EXPECT_NE(r.status().message().find("node 1"), std::string::npos);
}

TEST(Replication, LeaderCommitsOnlyWhatItPersisted) {
  // The leader counts itself toward a quorum only for entries on its own disk (Advance).
  ClusterOptions o;
  o.voters = 1;
  Cluster c(o);
  ASSERT_TRUE(c.Elect(1));
  auto index = c.node(1).node->Propose("x");
  ASSERT_TRUE(index.ok());
  EXPECT_LT(c.raft(1).log().committed(), *index);  // not persisted yet
  c.Stabilize();
  EXPECT_EQ(c.raft(1).log().committed(), *index);
}

}  // namespace
}  // namespace strand::raft
