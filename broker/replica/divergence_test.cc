// Tests log divergence resolution (KIP-101 / KIP-279 scenarios, resolved through fetch): the
// leader's detection and the follower's truncation, iterated until the logs agree — checked by
// replaying whole scenarios on LeaderEpochCache models of the two logs.
#include "broker/replica/divergence.h"

#include <gtest/gtest.h>

namespace strand::broker {
namespace {

using storage::LeaderEpochCache;

struct LogModel {
  LeaderEpochCache epochs;
  Offset end{0};
  LeaderEpoch LastEpoch() const {
    auto latest = epochs.Latest();
    return latest ? latest->epoch : kNoLeaderEpoch;
  }
  void Truncate(Offset to) {
    end = std::min(end, to);
    epochs.TruncateFromEnd(end);
  }
};

LogModel Log(std::vector<std::pair<int, int64_t>> epochs, int64_t end) {
  LogModel m;
  for (auto [e, start] : epochs) m.epochs.Assign(LeaderEpoch(e), Offset(start));
  m.end = Offset(end);
  return m;
}

// Runs fetch rounds until the leader sees no divergence; returns the rounds it took.
int Reconcile(LogModel& follower, const LogModel& leader, Offset follower_hw = Offset(0)) {
  for (int round = 1; round <= 10; ++round) {
    auto d = DetectDivergence(follower.LastEpoch(), follower.end,
                              leader.epochs.EndOffsetFor(follower.LastEpoch(), leader.end));
    if (!d) return round;
    follower.Truncate(TruncationOffset(*d, follower.epochs.EndOffsetFor(d->epoch, follower.end),
                                       follower.end, follower_hw));
  }
  return -1;
}

TEST(Divergence, Kip101_FollowerBehindSameEpoch_NoTruncation) {
  // A follower that restarted with a prefix of the leader's epoch-0 log loses nothing (the old
  // truncate-to-high-watermark rule would have cut it).
  LogModel leader = Log({{0, 0}, {1, 2}}, 5);
  LogModel follower = Log({{0, 0}}, 2);
  EXPECT_EQ(Reconcile(follower, leader), 1);
  EXPECT_EQ(follower.end, Offset(2));
}

TEST(Divergence, Kip101_OldLeaderSuffixIsCut) {
  // A (leader, epoch 0) wrote offsets 0-2 but only 0-1 reached B; B led epoch 1 and wrote its
  // own offset 2. A returns as a follower: its offset 2 must go.
  LogModel b = Log({{0, 0}, {1, 2}}, 3);
  LogModel a = Log({{0, 0}}, 3);
  auto d = DetectDivergence(a.LastEpoch(), a.end, b.epochs.EndOffsetFor(a.LastEpoch(), b.end));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, (Divergence{LeaderEpoch(0), Offset(2)}));
  EXPECT_EQ(Reconcile(a, b), 2);
  EXPECT_EQ(a.end, Offset(2));
}

TEST(Divergence, Kip279_SeveralLeaderChanges_ConvergeEpochByEpoch) {
  // Follower: epochs 0@0, 1@5, 3@8, end 10. Leader: 0@0, 1@5, 2@7, 4@9, end 12. The follower's
  // epoch-3 entries and its epoch-1 entries at 7 are not the leader's: it must end at 7.
  LogModel leader = Log({{0, 0}, {1, 5}, {2, 7}, {4, 9}}, 12);
  LogModel follower = Log({{0, 0}, {1, 5}, {3, 8}}, 10);
  EXPECT_GT(Reconcile(follower, leader), 1);
  EXPECT_EQ(follower.end, Offset(7));
  EXPECT_EQ(follower.LastEpoch(), LeaderEpoch(1));
}

TEST(Divergence, FollowerWithLongerLogOfSameEpoch_IsCutToLeaderEnd) {
  // Same epoch, follower ahead of a leader that lost its tail (unclean election).
  LogModel leader = Log({{0, 0}, {2, 4}}, 6);
  LogModel follower = Log({{0, 0}}, 9);
  EXPECT_EQ(Reconcile(follower, leader), 2);
  EXPECT_EQ(follower.end, Offset(4));
}

TEST(Divergence, EmptyFollower_NothingToCompare) {
  EXPECT_FALSE(DetectDivergence(kNoLeaderEpoch, Offset(0),
                                {LeaderEpoch(3), Offset(10)}).has_value());
}

TEST(Divergence, UnknownToLeader_FallsBackToHighWatermark) {
  auto d = DetectDivergence(LeaderEpoch(9), Offset(20), {kNoLeaderEpoch, storage::kUndefinedOffset});
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(TruncationOffset(*d, {LeaderEpoch(9), Offset(20)}, Offset(20), Offset(12)),
            Offset(12));
}

}  // namespace
}  // namespace strand::broker
