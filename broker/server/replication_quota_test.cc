// ReplicationQuota: the token-bucket rate math on a ManualClock (the burst, debt and its
// repayment, the long-run rate of a fetch loop), rate changes, and which partitions are
// throttled.
#include "broker/server/replication_quota.h"

#include <gtest/gtest.h>

namespace strand::broker {
namespace {

constexpr int64_t kRate = 10'000'000;  // 10 MB/s: 10,000 bytes per ms

TEST(ReplicationQuota, Unlimited_NeverExceeded) {
  ManualClock clock;
  ReplicationQuota q(clock);
  EXPECT_EQ(q.rate_bytes_per_s(), ReplicationQuota::kUnlimited);
  q.Record(int64_t{1} << 40);
  EXPECT_FALSE(q.IsExceeded());
  EXPECT_EQ(q.DelayMs(), 0);
  EXPECT_EQ(q.recorded_bytes_total(), int64_t{1} << 40);
}

TEST(ReplicationQuota, Burst_ThenDebtRepaidAtTheRate) {
  ManualClock clock;
  ReplicationQuota q(clock, /*burst_ms=*/1'000);
  q.SetRate(kRate);
  // Starts full: one second's worth may go at once.
  EXPECT_FALSE(q.IsExceeded());
  q.Record(kRate - 1);
  EXPECT_FALSE(q.IsExceeded());
  // A fetch larger than what is left puts the bucket into debt: 4 MB beyond.
  q.Record(4'000'001);
  EXPECT_TRUE(q.IsExceeded());
  EXPECT_EQ(q.DelayMs(), 401);  // 4,000,000 bytes at 10,000 per ms, plus one
  clock.AdvanceMs(399);
  EXPECT_TRUE(q.IsExceeded());
  EXPECT_EQ(q.DelayMs(), 2);
  clock.AdvanceMs(2);
  EXPECT_FALSE(q.IsExceeded());
  EXPECT_EQ(q.DelayMs(), 0);
}

TEST(ReplicationQuota, IdleTime_RefillsNoMoreThanTheBurst) {
  ManualClock clock;
  ReplicationQuota q(clock, /*burst_ms=*/500);
  q.SetRate(kRate);
  clock.AdvanceMs(60'000);  // a minute idle earns only half a second's worth
  q.Record(kRate / 2);
  EXPECT_TRUE(q.IsExceeded());
}

// A follower fetching 1 MB whenever the bucket allows, for 10 s: it moves rate * 10 s plus the
// initial burst and at most one fetch, never more.
TEST(ReplicationQuota, FetchLoop_MovesAtTheRate) {
  ManualClock clock;
  ReplicationQuota q(clock, /*burst_ms=*/1'000);
  q.SetRate(kRate);
  const int64_t fetch_bytes = 1 << 20;
  int64_t moved = 0;
  const int64_t start_us = clock.NowMonotonicUs();
  while (clock.NowMonotonicUs() - start_us < 10'000'000) {
    if (q.IsExceeded()) {
      clock.AdvanceMs(std::max<int64_t>(1, q.DelayMs()));
      continue;
    }
    q.Record(fetch_bytes);
    moved += fetch_bytes;
    clock.AdvanceMs(1);  // the fetch itself takes time
  }
  EXPECT_GE(moved, 10 * kRate);
  EXPECT_LE(moved, 10 * kRate + kRate /*burst*/ + fetch_bytes);
}

TEST(ReplicationQuota, RateZero_HoldsBackAndRechecks) {
  ManualClock clock;
  ReplicationQuota q(clock);
  q.SetRate(0);
  EXPECT_TRUE(q.IsExceeded());
  EXPECT_EQ(q.DelayMs(), ReplicationQuota::kDelayMsMax);
  clock.AdvanceMs(10'000);
  EXPECT_TRUE(q.IsExceeded());
  q.SetRate(ReplicationQuota::kUnlimited);  // the throttle removed
  EXPECT_FALSE(q.IsExceeded());
}

// The rule both sides apply: only a throttled replica outside the ISR waits, and only while the
// bucket is empty.
TEST(ReplicationQuota, HoldsBack_OnlyThrottledOutOfSyncReplicasWhileSpent) {
  ManualClock clock;
  ReplicationQuota q(clock);
  q.SetRate(0);
  q.SetThrottled("t", false, {0});
  EXPECT_TRUE(q.HoldsBack({"t", 0}, /*in_sync=*/false));
  EXPECT_FALSE(q.HoldsBack({"t", 0}, /*in_sync=*/true));
  EXPECT_FALSE(q.HoldsBack({"t", 1}, /*in_sync=*/false));  // not listed
  q.SetRate(ReplicationQuota::kUnlimited);
  EXPECT_FALSE(q.HoldsBack({"t", 0}, /*in_sync=*/false));
}

TEST(ReplicationQuota, RateChange_KeepsTheDebt) {
  ManualClock clock;
  ReplicationQuota q(clock);
  q.SetRate(kRate);
  q.Record(kRate + 1'000'000);  // 1 MB of debt
  q.SetRate(2 * kRate);         // a higher rate repays it twice as fast
  EXPECT_EQ(q.DelayMs(), 51);
  q.SetRate(kRate / 10);  // a lower one: the bucket never holds more than the new burst
  clock.AdvanceMs(100'000);
  q.Record(kRate / 10);
  EXPECT_TRUE(q.IsExceeded());
}

TEST(ReplicationQuota, Throttled_AllOrListedPartitions) {
  ManualClock clock;
  ReplicationQuota q(clock);
  q.SetThrottled("a", /*all=*/false, {0, 2});
  q.SetThrottled("b", /*all=*/true, {});
  EXPECT_TRUE(q.IsThrottled({"a", 0}));
  EXPECT_FALSE(q.IsThrottled({"a", 1}));
  EXPECT_TRUE(q.IsThrottled({"a", 2}));
  EXPECT_TRUE(q.IsThrottled({"b", 7}));
  EXPECT_FALSE(q.IsThrottled({"c", 0}));
  q.SetThrottled("a", /*all=*/false, {});  // the config removed
  EXPECT_FALSE(q.IsThrottled({"a", 0}));
  q.RetainTopics({"a"});  // b deleted
  EXPECT_FALSE(q.IsThrottled({"b", 7}));
}

}  // namespace
}  // namespace strand::broker
