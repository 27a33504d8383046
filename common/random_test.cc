// Tests Random: same seed gives the same sequence (the simulator's reproducibility rests on it),
// bounds hold, and the output does not depend on the standard library (a fixed vector).
#include "common/random.h"

#include <gtest/gtest.h>

namespace strand {
namespace {

TEST(Random, SameSeed_SameSequence) {
  Random a(42), b(42);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.Next(), b.Next());
}

TEST(Random, DifferentSeeds_DifferentSequences) {
  Random a(1), b(2);
  int equal = 0;
  for (int i = 0; i < 100; ++i) equal += a.Next() == b.Next();
  EXPECT_LT(equal, 2);
}

TEST(Random, Uniform_StaysInBounds) {
  Random r(7);
  for (int i = 0; i < 10000; ++i) {
    ASSERT_LT(r.Uniform(13), 13u);
    int64_t v = r.Range(-5, 5);
    ASSERT_GE(v, -5);
    ASSERT_LE(v, 5);
  }
}

TEST(Random, Uniform_CoversAllValues) {
  Random r(9);
  std::vector<int> seen(10);
  for (int i = 0; i < 1000; ++i) seen[r.Uniform(10)]++;
  for (int count : seen) EXPECT_GT(count, 50);
}

// The first outputs for seed 0 are pinned: xoshiro256** seeded by splitmix64 is fully specified,
// so a change here means the simulator's seeds no longer replay old failures.
TEST(Random, SeedZero_PinnedOutput) {
  Random r(0);
  uint64_t first = r.Next();
  uint64_t second = r.Next();
  Random again(0);
  EXPECT_EQ(again.Next(), first);
  EXPECT_EQ(again.Next(), second);
  EXPECT_NE(first, second);
  EXPECT_EQ(first, 0x99ec5f36cb75f2b4ULL);
}

}  // namespace
}  // namespace strand
