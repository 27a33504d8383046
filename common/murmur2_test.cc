#include "common/murmur2.h"

#include <gtest/gtest.h>

namespace strand {
namespace {

// The vectors Kafka's own client tests check its murmur2 against.
TEST(Murmur2Test, MatchesKafka) {
  EXPECT_EQ(Murmur2("21"), -973932308);
  EXPECT_EQ(Murmur2("foobar"), -790332482);
  EXPECT_EQ(Murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(Murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(Murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(Murmur2("abc"), 479470107);
}

TEST(Murmur2Test, PartitionIsNeverNegative) {
  for (int i = 0; i < 1000; ++i) {
    const int32_t p = PartitionForKey("key-" + std::to_string(i), 7);
    EXPECT_GE(p, 0);
    EXPECT_LT(p, 7);
  }
  EXPECT_EQ(ToPositive(INT32_MIN), 0);
}

}  // namespace
}  // namespace strand
