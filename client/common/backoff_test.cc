// Tests Backoff: doubling from the initial value, the cap, and jitter within +-20%.
#include "client/common/backoff.h"

#include <gtest/gtest.h>

namespace strand::client {
namespace {

TEST(Backoff, NextMs_DoublesUpToTheCapWithBoundedJitter) {
  Backoff backoff(100, 1'000);
  const int64_t expected[] = {100, 200, 400, 800, 1'000, 1'000};
  for (int64_t base : expected) {
    const int64_t next = backoff.NextMs();
    EXPECT_GE(next, base - base / 5);
    EXPECT_LE(next, base + base / 5);
  }
}

TEST(Backoff, NextMs_NeverBelowOneMillisecond) {
  Backoff backoff(1, 1);
  for (int i = 0; i < 100; ++i) EXPECT_GE(backoff.NextMs(), 1);
}

}  // namespace
}  // namespace strand::client
