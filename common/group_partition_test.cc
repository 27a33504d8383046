// Kafka's group -> __consumer_offsets partition rule, against values Java computes.
#include "common/group_partition.h"

#include <gtest/gtest.h>

namespace strand {
namespace {

TEST(PartitionFor, JavaStringHashCode) {
  EXPECT_EQ(JavaStringHash(""), 0);
  EXPECT_EQ(JavaStringHash("test"), 3556498);
  EXPECT_EQ(JavaStringHash("hello"), 99162322);
  // Overflow wraps: "polygenelubricants".hashCode() is Integer.MIN_VALUE.
  EXPECT_EQ(JavaStringHash("polygenelubricants"), INT32_MIN);
  EXPECT_EQ(JavaStringHash("\xc3\xa9"), 233);  // U+00E9, one UTF-16 unit
  // U+1F600 is the surrogate pair D83D DE00: 0xD83D * 31 + 0xDE00.
  EXPECT_EQ(JavaStringHash("\xf0\x9f\x98\x80"), 0xD83D * 31 + 0xDE00);
}

TEST(PartitionFor, KafkasRule) {
  EXPECT_EQ(PartitionForGroup("test", 50), 3556498 % 50);
  // Utils.abs(Integer.MIN_VALUE) is 0.
  EXPECT_EQ(PartitionForGroup("polygenelubricants", 50), 0);
  // A negative hash takes its absolute value: "orders".hashCode() is -1008770331.
  EXPECT_EQ(JavaStringHash("orders"), -1008770331);
  EXPECT_EQ(PartitionForGroup("orders", 50), 1008770331 % 50);
  for (int32_t n : {1, 3, 50, 1000}) {
    const int32_t p = PartitionForGroup("orders-service", n);
    EXPECT_GE(p, 0);
    EXPECT_LT(p, n);
  }
}

}  // namespace
}  // namespace strand
