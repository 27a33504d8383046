// Tests what `strand perf` measures with: the latency histogram's percentiles against exact ones
// computed from sorted samples (within its stated 0.8 % precision), its edges (empty, zero,
// huge values, merge, reset), the throttle's schedule, and the payloads.
#include "tools/cli/perf_stats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

namespace strand::cli {
namespace {

// The exact percentile as LatencyHistogram defines it: the smallest sample with at least
// `percent` % of the samples at or below it.
int64_t ExactPercentile(std::vector<int64_t> samples, double percent) {
  std::sort(samples.begin(), samples.end());
  const auto rank = std::max<int64_t>(
      1, static_cast<int64_t>(std::ceil(percent / 100.0 * static_cast<double>(samples.size()))));
  return samples[static_cast<size_t>(rank - 1)];
}

TEST(LatencyHistogram, Empty_ZeroEverywhere) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0);
  EXPECT_EQ(h.PercentileUs(50), 0);
  EXPECT_EQ(h.PercentileUs(100), 0);
  EXPECT_EQ(h.mean_us(), 0.0);
  EXPECT_EQ(h.max_us(), 0);
}

TEST(LatencyHistogram, SmallValues_Exact) {
  LatencyHistogram h;
  for (int64_t v = 1; v <= 100; ++v) h.Record(v);
  EXPECT_EQ(h.PercentileUs(50), 50);
  EXPECT_EQ(h.PercentileUs(99), 99);
  EXPECT_EQ(h.PercentileUs(99.9), 100);
  EXPECT_EQ(h.PercentileUs(0), 1);
  EXPECT_EQ(h.max_us(), 100);
  EXPECT_DOUBLE_EQ(h.mean_us(), 50.5);
}

TEST(LatencyHistogram, RandomSamples_WithinPrecisionOfExact) {
  std::mt19937_64 random(7);
  // Log-uniform from 1 us to 10 s: every bucket group is exercised.
  std::uniform_real_distribution<double> exponent(0, 7);
  std::vector<int64_t> samples;
  LatencyHistogram h;
  for (int i = 0; i < 200'000; ++i) {
    const auto v = static_cast<int64_t>(std::pow(10.0, exponent(random)));
    samples.push_back(v);
    h.Record(v);
  }
  for (double p : {1.0, 25.0, 50.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0}) {
    const int64_t exact = ExactPercentile(samples, p);
    const int64_t got = h.PercentileUs(p);
    EXPECT_GE(got, exact) << "p" << p;  // the bucket's upper end: never below
    EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * 1.008 + 1) << "p" << p;
  }
  EXPECT_EQ(h.max_us(), *std::max_element(samples.begin(), samples.end()));
}

TEST(LatencyHistogram, BucketEdges_NeverBelowTheSample) {
  for (int64_t v : {255, 256, 257, 511, 512, 513, 1023, 1024, 65535, 65536, 1'000'000'007}) {
    LatencyHistogram h;
    h.Record(v);
    h.Record(0);
    EXPECT_EQ(h.PercentileUs(100), v);  // capped at the max seen
    EXPECT_EQ(h.PercentileUs(50), 0);
  }
}

TEST(LatencyHistogram, NegativeAndHugeValues_Clamped) {
  LatencyHistogram h;
  h.Record(-5);
  h.Record(int64_t{1} << 50);
  EXPECT_EQ(h.count(), 2);
  EXPECT_EQ(h.PercentileUs(50), 0);
  EXPECT_GT(h.PercentileUs(100), int64_t{1} << 39);
}

TEST(LatencyHistogram, MergeAndReset) {
  LatencyHistogram a, b;
  for (int i = 0; i < 10; ++i) a.Record(10);
  for (int i = 0; i < 10; ++i) b.Record(1000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 20);
  EXPECT_EQ(a.PercentileUs(50), 10);
  EXPECT_GE(a.PercentileUs(51), 1000);
  EXPECT_EQ(a.max_us(), 1000);
  EXPECT_DOUBLE_EQ(a.mean_us(), 505.0);
  a.Reset();
  EXPECT_EQ(a.count(), 0);
  EXPECT_EQ(a.PercentileUs(99), 0);
}

TEST(Throttle, DueTimesFollowTheRate) {
  const auto start = Throttle::Clock::now();
  const Throttle t(1000, start);
  EXPECT_EQ(t.DueTime(0), start);
  EXPECT_EQ(t.DueTime(500) - start, std::chrono::milliseconds(500));
  const Throttle unlimited(-1, start);
  EXPECT_EQ(unlimited.DueTime(1'000'000), start);
}

TEST(Throttle, WaitForTurn_SleepsUntilDue) {
  const auto start = Throttle::Clock::now();
  const Throttle t(100, start);  // one every 10 ms
  t.WaitForTurn(5);
  EXPECT_GE(Throttle::Clock::now() - start, std::chrono::milliseconds(50));
}

TEST(Payloads, DistinctLettersOfTheSize) {
  const auto payloads = MakePayloads(100, 50, 1);
  ASSERT_EQ(payloads.size(), 50u);
  std::set<std::string> distinct(payloads.begin(), payloads.end());
  EXPECT_EQ(distinct.size(), 50u);
  for (const auto& p : payloads) {
    ASSERT_EQ(p.size(), 100u);
    for (char c : p) ASSERT_TRUE(c >= 'A' && c <= 'Z');
  }
  EXPECT_EQ(MakePayloads(0, 3, 1)[0], "");
  EXPECT_EQ(PayloadPoolSize(100), 1000);
  EXPECT_EQ(PayloadPoolSize(1 << 20), 64);
  EXPECT_EQ(PayloadPoolSize(64 << 20), 1);
}

}  // namespace
}  // namespace strand::cli
