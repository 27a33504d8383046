// The drill's checker on hand-made inputs: each violation it names is found, and a clean run has
// none.
#include "tools/drill/checker.h"

#include <gtest/gtest.h>

namespace strand::drill {
namespace {

std::string Value(int producer, int seq) {
  return "run:" + std::to_string(producer) + ":" + std::to_string(seq) + ":0:";
}

// Partition 0 with three records of producer 0, held the same by three replicas.
std::vector<PartitionCopies> Clean() {
  PartitionCopies p;
  p.partition = 0;
  for (int node : {101, 102, 103}) {
    ReplicaCopy c;
    c.node = node;
    c.leader = node == 101;
    for (int i = 0; i < 3; ++i) c.records.push_back({i, Value(0, i)});
    p.replicas.push_back(c);
  }
  return {p};
}

std::vector<AckedRecord> Acked() {
  return {{0, 0, Value(0, 0)}, {0, 1, Value(0, 1)}, {0, 2, Value(0, 2)}};
}

ConsumerObservations Consumed() {
  ConsumerObservations o;
  o.consumed = {Value(0, 0), Value(0, 1), Value(0, 2), Value(0, 1)};  // a redelivery is fine
  o.acknowledged_commits = {{0, 3}};
  o.final_commits = {{0, 3}};
  o.drained = true;
  return o;
}

TEST(DrillChecker, Check_CleanRunHasNoViolation) {
  const auto consumed = Consumed();
  const Verdict v = Check(Acked(), Clean(), &consumed);
  EXPECT_TRUE(v.ok()) << ::testing::PrintToString(v.violations);
  EXPECT_EQ(v.acknowledged, 3);
}

TEST(DrillChecker, Check_LostRecordIsNamed) {
  auto copies = Clean();
  for (auto& c : copies[0].replicas) c.records.pop_back();
  const Verdict v = Check(Acked(), copies, nullptr);
  EXPECT_EQ(v.lost, 1);
  ASSERT_EQ(v.lost_records.size(), 1u);
  EXPECT_EQ(v.lost_records[0], "partition 0 offset 2: run:0:2:0");
  EXPECT_FALSE(v.ok());
}

TEST(DrillChecker, Check_DuplicateAndReorderAndMovedOffset) {
  auto copies = Clean();
  for (auto& c : copies[0].replicas) {
    c.records = {{0, Value(0, 1)}, {1, Value(0, 0)}, {2, Value(0, 2)}, {3, Value(0, 2)}};
  }
  const Verdict v = Check(Acked(), copies, nullptr);
  EXPECT_EQ(v.duplicated, 1);
  EXPECT_EQ(v.reordered, 1);
  EXPECT_EQ(v.offset_changed, 2);  // sequences 0 and 1 swapped places
  EXPECT_EQ(v.lost, 0);
}

TEST(DrillChecker, Check_DivergentAndUnreadableReplicas) {
  auto copies = Clean();
  copies[0].replicas[1].records[1].value = "other";
  copies[0].replicas[2].error = "UNAVAILABLE";
  const Verdict v = Check(Acked(), copies, nullptr);
  EXPECT_EQ(v.divergent_replicas, 2);
  EXPECT_EQ(v.lost, 0);
}

TEST(DrillChecker, Check_GroupViolations) {
  auto consumed = Consumed();
  consumed.final_commits = {{0, 1}};
  consumed.offsets_back = {"member 0 got partition 0 offset 1 after offset 2"};
  consumed.consumed = {Value(0, 0)};
  const Verdict v = Check(Acked(), Clean(), &consumed);
  EXPECT_EQ(v.committed_offsets_lost, 1);
  EXPECT_EQ(v.consumer_offsets_back, 1);
  EXPECT_EQ(v.consumed_missing, 2);
  consumed.drained = false;
  EXPECT_FALSE(Check(Acked(), Clean(), &consumed).ok());
}

TEST(DrillChecker, ParseValue_ReadsProducerAndSequence) {
  int producer = -1;
  int64_t sequence = -1;
  ASSERT_TRUE(ParseValue("drill-x-1:3:42:1000:xxxx", &producer, &sequence));
  EXPECT_EQ(producer, 3);
  EXPECT_EQ(sequence, 42);
  EXPECT_FALSE(ParseValue("not a drill value", &producer, &sequence));
}

}  // namespace
}  // namespace strand::drill
