// Tests Progress and Inflights: the flow-control states and the window bounds.
#include "raft/core/progress.h"

#include <gtest/gtest.h>

namespace strand::raft {
namespace {

TEST(Inflights, Full_ByCountOrBytes) {
  Inflights by_count(2, 1000);
  by_count.Add(LogIndex(1), 10);
  EXPECT_FALSE(by_count.Full());
  by_count.Add(LogIndex(2), 10);
  EXPECT_TRUE(by_count.Full());
  by_count.FreeUpTo(LogIndex(1));
  EXPECT_FALSE(by_count.Full());
  EXPECT_EQ(by_count.count(), 1u);

  Inflights by_bytes(10, 100);
  by_bytes.Add(LogIndex(5), 60);
  EXPECT_FALSE(by_bytes.Full());
  by_bytes.Add(LogIndex(9), 60);
  EXPECT_TRUE(by_bytes.Full());
  by_bytes.FreeUpTo(LogIndex(9));
  EXPECT_EQ(by_bytes.bytes(), 0u);
}

TEST(Progress, Probe_PausesAfterOneSend) {
  Progress pr(LogIndex(5), 4, 1 << 20, false);
  EXPECT_FALSE(pr.IsPaused());
  pr.probe_sent = true;
  EXPECT_TRUE(pr.IsPaused());
  EXPECT_TRUE(pr.MaybeUpdate(LogIndex(4)));
  EXPECT_FALSE(pr.IsPaused());
  EXPECT_EQ(pr.next, LogIndex(5));
}

TEST(Progress, Replicate_PausesWhenWindowFull) {
  Progress pr(LogIndex(1), 2, 1 << 20, false);
  pr.BecomeReplicate();
  pr.OptimisticUpdate(LogIndex(3));
  pr.inflights.Add(LogIndex(3), 10);
  pr.OptimisticUpdate(LogIndex(6));
  pr.inflights.Add(LogIndex(6), 10);
  EXPECT_TRUE(pr.IsPaused());
  EXPECT_EQ(pr.next, LogIndex(7));
}

TEST(Progress, MaybeDecreaseTo_IgnoresStaleRejections) {
  Progress pr(LogIndex(10), 4, 1 << 20, false);
  pr.match = LogIndex(5);
  pr.BecomeReplicate();
  EXPECT_FALSE(pr.MaybeDecreaseTo(LogIndex(4), LogIndex(0)));  // at or below match: stale
  EXPECT_TRUE(pr.MaybeDecreaseTo(LogIndex(8), LogIndex(0)));
  EXPECT_EQ(pr.next, LogIndex(6));

  Progress probe(LogIndex(10), 4, 1 << 20, false);
  EXPECT_FALSE(probe.MaybeDecreaseTo(LogIndex(7), LogIndex(3)));  // not the last probe
  EXPECT_TRUE(probe.MaybeDecreaseTo(LogIndex(9), LogIndex(3)));
  EXPECT_EQ(probe.next, LogIndex(4));  // the follower's hint
}

TEST(Progress, Snapshot_IsPausedUntilProbe) {
  Progress pr(LogIndex(1), 4, 1 << 20, false);
  pr.BecomeSnapshot(LogIndex(100));
  EXPECT_TRUE(pr.IsPaused());
  pr.MaybeUpdate(LogIndex(100));
  pr.BecomeProbe();
  EXPECT_EQ(pr.next, LogIndex(101));
  EXPECT_FALSE(pr.IsPaused());
}

}  // namespace
}  // namespace strand::raft
