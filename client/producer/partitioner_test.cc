// Tests Kafka's default partitioning as the producer uses it: murmur2 (common/murmur2.h) against
// published vectors, the partition of a key (toPositive(murmur2) % n, never abs()), and the
// sticky choice for keyless records.
//
// Where the expected values come from: client/producer/testdata/murmur2_reference.py is an
// independent implementation written from the algorithm's definition (seed 0x9747b28c,
// m = 0x5bd1e995, r = 24, little-endian words, tail bytes 3..1, final mix 13/15); it reproduces
// the vectors published in Kafka's UtilsTest.testMurmur2 ("21", "foobar", ...), librdkafka's
// rdmurmur2.c unit test ("kafka" = 0xd067cf64), akka's Murmur2Spec ("1".."12345") and kafka_ex's
// umurmur2 test (the toPositive'd values of "rule", "monkey", ...), and prints the partition
// table below. Values and partitions are checked here without recomputing them in C++ terms.
#include "client/producer/partitioner.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

namespace strand::client {
namespace {

TEST(Murmur2, KafkaUtilsTestVectors) {
  EXPECT_EQ(Murmur2("21"), -973932308);
  EXPECT_EQ(Murmur2("foobar"), -790332482);
  EXPECT_EQ(Murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(Murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(Murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(Murmur2("abc"), 479470107);
}

TEST(Murmur2, OtherPublishedVectors) {
  EXPECT_EQ(Murmur2("kafka"), static_cast<int32_t>(0xd067cf64u));  // librdkafka
  EXPECT_EQ(Murmur2("1"), -1993445489);                            // akka
  EXPECT_EQ(Murmur2("12"), 126087238);
  EXPECT_EQ(Murmur2("123"), -267702483);
  EXPECT_EQ(Murmur2("1234"), -1614185708);
  EXPECT_EQ(Murmur2("12345"), -1188365604);
  // kafka_ex's umurmur2 = murmur2 & 0x7fffffff.
  const std::map<std::string, int32_t> positive = {
      {"rule", 473888304},      {"monkey", 385264353},    {"hover", 164653822},
      {"guest", 1235690374},    {"necklace", 1631936446}, {"storm", 393248174},
      {"paint", 493731830},     {"agony", 989421259},     {"strategic", 1388697647},
      {"redundancy", 451414978}};
  for (const auto& [key, value] : positive) EXPECT_EQ(ToPositive(Murmur2(key)), value) << key;
}

TEST(Murmur2, EmptyAndHighBytes) {
  EXPECT_EQ(Murmur2(""), 275646681);  // murmur2_reference.py
  // Bytes >= 0x80 are unsigned in the tail mix (Java's & 0xff).
  EXPECT_EQ(Murmur2(std::string("\xff\x80\x00\x7f\x01", 5)), 1699770653);
}

TEST(PartitionForKey, ExpectedPartitions) {
  // From murmur2_reference.py: (toPositive(h) % n) for n = 1, 2, 3, 6, 7, 12, 100.
  const std::vector<int32_t> counts = {1, 2, 3, 6, 7, 12, 100};
  const std::map<std::string, std::vector<int32_t>> expected = {
      {"", {0, 1, 0, 3, 2, 9, 81}},         {"21", {0, 0, 0, 0, 3, 0, 40}},
      {"foobar", {0, 0, 0, 0, 0, 6, 66}},   {"abc", {0, 1, 0, 3, 4, 3, 7}},
      {"kafka", {0, 0, 1, 4, 3, 4, 80}},    {"key-0", {0, 1, 1, 1, 0, 1, 41}},
      {"key-1", {0, 0, 0, 0, 5, 0, 40}},    {"key-2", {0, 0, 2, 2, 4, 2, 2}},
      {"orders-42", {0, 1, 1, 1, 1, 1, 57}}};
  for (const auto& [key, partitions] : expected) {
    for (size_t i = 0; i < counts.size(); ++i) {
      EXPECT_EQ(PartitionForKey(key, counts[i]), partitions[i]) << key << " n=" << counts[i];
    }
  }
}

TEST(PartitionForKey, MasksTheSignBitNotAbs) {
  // abs() would give 2, 2, 6, 8, 8 for "21" (a common bug in Kafka-compatible clients).
  EXPECT_EQ(PartitionForKey("21", 3), 0);
  EXPECT_EQ(PartitionForKey("21", 7), 3);
  EXPECT_EQ(PartitionForKey("21", 12), 0);
  EXPECT_EQ(PartitionForKey("a-little-bit-long-string", 12), 8);
  EXPECT_EQ(ToPositive(INT32_MIN), 0);
  EXPECT_EQ(ToPositive(-1), INT32_MAX);
}

TEST(NextStickyPartition, AvoidsThePreviousAndPrefersAvailable) {
  std::minstd_rand random(7);
  std::set<int32_t> seen;
  int32_t previous = -1;
  for (int i = 0; i < 200; ++i) {
    const int32_t next = NextStickyPartition({}, 5, previous, random);
    ASSERT_GE(next, 0);
    ASSERT_LT(next, 5);
    if (previous >= 0) {
      EXPECT_NE(next, previous);
    }
    seen.insert(next);
    previous = next;
  }
  EXPECT_EQ(seen.size(), 5u);
  const std::vector<int32_t> available = {1, 3};
  for (int i = 0; i < 50; ++i) {
    const int32_t next = NextStickyPartition(available, 5, 1, random);
    EXPECT_EQ(next, 3);
  }
  EXPECT_EQ(NextStickyPartition({}, 1, 0, random), 0);
  const std::vector<int32_t> only = {2};
  EXPECT_EQ(NextStickyPartition(only, 5, 2, random), 2);
}

}  // namespace
}  // namespace strand::client
