// Tests the leader's replica bookkeeping: the high watermark (minimum durable offset of the ISR,
// monotonic, frozen below min.insync.replicas) and ISR shrink / expand decisions with Kafka's
// caught-up rule.
#include "broker/replica/leader_state.h"

#include <gtest/gtest.h>

namespace strand::broker {
namespace {

const NodeId kA(1), kB(2), kC(3);

TEST(LeaderState, HighWatermark_IsMinDurableOfIsr) {
  LeaderState s(kA, {kA, kB, kC}, {kA, kB, kC}, Offset(0), 0);
  s.OnFollowerFetch(kB, Offset(10), Offset(8), Offset(10), 1);
  s.OnFollowerFetch(kC, Offset(10), Offset(6), Offset(10), 1);
  EXPECT_EQ(s.HighWatermark(Offset(10), Offset(0), 1), Offset(6));
  EXPECT_EQ(s.HighWatermark(Offset(5), Offset(0), 1), Offset(5));  // the leader's own disk too
}

TEST(LeaderState, HighWatermark_NeverGoesBack) {
  LeaderState s(kA, {kA, kB}, {kA, kB}, Offset(0), 0);
  s.OnFollowerFetch(kB, Offset(3), Offset(3), Offset(10), 1);
  EXPECT_EQ(s.HighWatermark(Offset(10), Offset(7), 1), Offset(7));
}

TEST(LeaderState, HighWatermark_FrozenBelowMinIsr) {
  LeaderState s(kA, {kA, kB, kC}, {kA}, Offset(0), 0);
  EXPECT_EQ(s.HighWatermark(Offset(10), Offset(4), 2), Offset(4));
  EXPECT_EQ(s.HighWatermark(Offset(10), Offset(4), 1), Offset(10));
}

TEST(LeaderState, HighWatermark_WaitsForSilentIsrMember) {
  LeaderState s(kA, {kA, kB}, {kA, kB}, Offset(0), 0);
  // B is in the ISR but has not fetched from this leader: its durable offset is 0.
  EXPECT_EQ(s.HighWatermark(Offset(10), Offset(0), 1), Offset(0));
}

TEST(LeaderState, HighWatermark_WaitsForMembersOfAPendingExpansion) {
  // Found by replication-sim: C joins the ISR; before the leader hears that the controller
  // committed it, a record is acknowledged that C lacks; the leader dies and C is elected.
  // While the expansion is pending the high watermark must count C too (maximal ISR).
  LeaderState s(kA, {kA, kB, kC}, {kA, kB}, Offset(0), 0);
  s.OnFollowerFetch(kB, Offset(20), Offset(20), Offset(20), 1);
  s.OnFollowerFetch(kC, Offset(15), Offset(15), Offset(20), 1);
  EXPECT_EQ(s.HighWatermark(Offset(20), Offset(15), 1), Offset(20));
  s.AddPendingMembers({kA, kB, kC});
  EXPECT_EQ(s.HighWatermark(Offset(25), Offset(15), 1), Offset(15));
  s.OnFollowerFetch(kB, Offset(25), Offset(25), Offset(25), 2);
  s.OnFollowerFetch(kC, Offset(25), Offset(25), Offset(25), 2);
  EXPECT_EQ(s.HighWatermark(Offset(25), Offset(15), 1), Offset(25));
  s.ClearPendingMembers();  // refused: C no longer holds the high watermark back
  s.OnFollowerFetch(kB, Offset(30), Offset(30), Offset(30), 3);
  EXPECT_EQ(s.HighWatermark(Offset(30), Offset(25), 1), Offset(30));
}

TEST(LeaderState, LaggingFollower_IsShrunkAfterLagTime) {
  LeaderState s(kA, {kA, kB, kC}, {kA, kB, kC}, Offset(0), 0);
  s.OnFollowerFetch(kB, Offset(100), Offset(100), Offset(100), 5'000);
  s.OnFollowerFetch(kC, Offset(40), Offset(40), Offset(100), 5'000);  // behind
  EXPECT_FALSE(s.ProposedIsr(9'000, 10'000, Offset(40)).has_value());
  auto proposed = s.ProposedIsr(10'001, 10'000, Offset(40));
  ASSERT_TRUE(proposed.has_value());
  EXPECT_EQ(*proposed, (std::vector<NodeId>{kA, kB}));
}

TEST(LeaderState, CaughtUpAsOfPreviousFetch) {
  // C fetches at 50 while the leader is at 60, then at 60 when the leader is at 70: it was
  // caught up as of its previous fetch, not now.
  LeaderState s(kA, {kA, kC}, {kA, kC}, Offset(0), 0);
  s.OnFollowerFetch(kC, Offset(50), Offset(50), Offset(60), 1'000);
  s.OnFollowerFetch(kC, Offset(60), Offset(60), Offset(70), 9'000);
  EXPECT_EQ(s.follower(kC)->last_caught_up_ms, 1'000);
  EXPECT_TRUE(s.ProposedIsr(11'001, 10'000, Offset(0)).has_value());  // lagged since 1'000
}

TEST(LeaderState, FollowerFetchingButNotDurable_IsShrunkAfterLagTime) {
  // C keeps fetching to the leader's end, but its fsyncs hang: its durable offset stays at 40.
  // It holds the high watermark back, so it must leave like a follower that stopped fetching.
  LeaderState s(kA, {kA, kB, kC}, {kA, kB, kC}, Offset(0), 0);
  for (int64_t t = 1'000; t <= 11'000; t += 1'000) {
    s.OnFollowerFetch(kB, Offset(t / 10), Offset(t / 10), Offset(t / 10), t);
    s.OnFollowerFetch(kC, Offset(t / 10), Offset(40), Offset(t / 10), t);
  }
  EXPECT_EQ(s.HighWatermark(Offset(1'100), Offset(0), 2), Offset(40));
  auto proposed = s.ProposedIsr(11'000, 10'000, Offset(40));
  ASSERT_TRUE(proposed.has_value());
  EXPECT_EQ(*proposed, (std::vector<NodeId>{kA, kB}));
}

TEST(LeaderState, CaughtUpFollower_JoinsOnceDurableAtHighWatermark) {
  LeaderState s(kA, {kA, kB}, {kA}, Offset(20), 0);
  s.OnFollowerFetch(kB, Offset(30), Offset(25), Offset(30), 100);
  EXPECT_FALSE(s.ProposedIsr(100, 10'000, Offset(30)).has_value());  // durable below the HW
  s.OnFollowerFetch(kB, Offset(30), Offset(30), Offset(30), 200);
  auto proposed = s.ProposedIsr(200, 10'000, Offset(30));
  ASSERT_TRUE(proposed.has_value());
  EXPECT_EQ(*proposed, (std::vector<NodeId>{kA, kB}));
}

TEST(LeaderState, FollowerBeforeEpochStart_DoesNotJoin) {
  // Its log might hold another leader's divergent suffix until it fetched past our epoch start.
  LeaderState s(kA, {kA, kB}, {kA}, Offset(50), 0);
  s.OnFollowerFetch(kB, Offset(40), Offset(40), Offset(50), 10);
  EXPECT_FALSE(s.ProposedIsr(10, 10'000, Offset(40)).has_value());
}

TEST(LeaderState, UpdateKeepsProgressOfRemainingReplicas) {
  LeaderState s(kA, {kA, kB, kC}, {kA, kB, kC}, Offset(0), 0);
  s.OnFollowerFetch(kB, Offset(9), Offset(9), Offset(9), 1);
  s.Update({kA, kB}, {kA, kB}, 2);
  EXPECT_EQ(s.follower(kB)->durable_offset, Offset(9));
  EXPECT_EQ(s.follower(kC), nullptr);
}

}  // namespace
}  // namespace strand::broker
