// Tests the pure reset planner (client/admin/offset_reset.h) against Kafka's
// kafka-consumer-groups.sh --reset-offsets rules: the scope (--all-topics is what the group
// committed, --topic T every partition, T:0,2 those and only existing ones), each strategy, the
// clamp to [log start, log end], --shift-by from the committed offset (none: refused), and
// --to-datetime falling back to the log end when no record is that recent.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/admin/offset_reset.h"
#include "strand/record.h"

namespace strand::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using TP = GroupTopicPartition;

OffsetResetSpec Spec(OffsetResetStrategy strategy, int64_t value = 0) {
  OffsetResetSpec spec;
  spec.group_id = "g";
  spec.strategy = strategy;
  spec.value = value;
  spec.topics = {{"orders", {}}};
  return spec;
}

// orders-0: [10, 100), orders-1: [0, 50); committed 40 and 45.
const std::vector<TP> kPartitions = {{"orders", 0}, {"orders", 1}};
const std::map<TP, int64_t> kCommitted = {{{"orders", 0}, 40}, {{"orders", 1}, 45}};
const std::map<TP, PartitionOffsets> kOffsets = {
    {{"orders", 0}, {.log_start = 10, .log_end = 100, .at_time = 70}},
    {{"orders", 1}, {.log_start = 0, .log_end = 50, .at_time = -1}}};

std::vector<int64_t> NewOffsets(const OffsetResetSpec& spec,
                                const std::map<TP, int64_t>& committed = kCommitted) {
  auto entries = PlanOffsetResetEntries(spec, kPartitions, committed, kOffsets);
  EXPECT_TRUE(entries.ok()) << entries.status();
  std::vector<int64_t> out;
  if (entries.ok()) {
    for (const OffsetResetEntry& e : *entries) out.push_back(e.new_offset);
  }
  return out;
}

TEST(OffsetReset, Validate_NeedsAGroupAndExactlyOneScope) {
  OffsetResetSpec spec = Spec(OffsetResetStrategy::kToEarliest);
  EXPECT_TRUE(ValidateOffsetResetSpec(spec).ok());
  spec.group_id = "";
  EXPECT_EQ(ValidateOffsetResetSpec(spec).code(), absl::StatusCode::kInvalidArgument);
  spec = Spec(OffsetResetStrategy::kToEarliest);
  spec.all_topics = true;
  EXPECT_THAT(std::string(ValidateOffsetResetSpec(spec).message()), HasSubstr("either"));
  spec.topics.clear();
  EXPECT_TRUE(ValidateOffsetResetSpec(spec).ok());
  spec.all_topics = false;
  EXPECT_FALSE(ValidateOffsetResetSpec(spec).ok());
  spec.topics = {{"orders", {1, 1}}};
  EXPECT_THAT(std::string(ValidateOffsetResetSpec(spec).message()),
              HasSubstr("orders-1 given twice"));
  spec = Spec(OffsetResetStrategy::kToOffset, -5);
  EXPECT_FALSE(ValidateOffsetResetSpec(spec).ok());
}

TEST(OffsetReset, Partitions_AllTopicsIsWhatTheGroupCommitted) {
  OffsetResetSpec spec = Spec(OffsetResetStrategy::kToEarliest);
  spec.topics.clear();
  spec.all_topics = true;
  const std::map<TP, int64_t> committed = {{{"b", 2}, 1}, {{"a", 0}, 5}};
  auto partitions = OffsetResetPartitions(spec, committed, {});
  ASSERT_TRUE(partitions.ok()) << partitions.status();
  EXPECT_THAT(*partitions, ElementsAre(TP{"a", 0}, TP{"b", 2}));
}

TEST(OffsetReset, Partitions_TopicMeansEveryPartitionAndListedOnesMustExist) {
  OffsetResetSpec spec = Spec(OffsetResetStrategy::kToEarliest);
  spec.topics = {{"orders", {}}, {"pay", {2, 0}}};
  const std::map<std::string, int32_t> counts = {{"orders", 2}, {"pay", 3}};
  auto partitions = OffsetResetPartitions(spec, {}, counts);
  ASSERT_TRUE(partitions.ok()) << partitions.status();
  EXPECT_THAT(*partitions,
              ElementsAre(TP{"orders", 0}, TP{"orders", 1}, TP{"pay", 0}, TP{"pay", 2}));

  spec.topics = {{"pay", {3}}};
  auto missing = OffsetResetPartitions(spec, {}, counts);
  EXPECT_EQ(KafkaErrorOf(missing.status()), KafkaError::kUnknownTopicOrPartition);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("there is no partition 3"));
  spec.topics = {{"nosuch", {}}};
  EXPECT_EQ(KafkaErrorOf(OffsetResetPartitions(spec, {}, counts).status()),
            KafkaError::kUnknownTopicOrPartition);
}

TEST(OffsetReset, EarliestLatest) {
  EXPECT_THAT(NewOffsets(Spec(OffsetResetStrategy::kToEarliest)), ElementsAre(10, 0));
  EXPECT_THAT(NewOffsets(Spec(OffsetResetStrategy::kToLatest)), ElementsAre(100, 50));
}

TEST(OffsetReset, ToOffset_ClampedToTheLogAsKafkaDoes) {
  EXPECT_THAT(NewOffsets(Spec(OffsetResetStrategy::kToOffset, 30)), ElementsAre(30, 30));
  EXPECT_THAT(NewOffsets(Spec(OffsetResetStrategy::kToOffset, 5)), ElementsAre(10, 5));
  EXPECT_THAT(NewOffsets(Spec(OffsetResetStrategy::kToOffset, 1'000)), ElementsAre(100, 50));
  auto entries = PlanOffsetResetEntries(Spec(OffsetResetStrategy::kToOffset, 1'000), kPartitions,
                                        kCommitted, kOffsets);
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ((*entries)[0].requested_offset, 1'000);
  EXPECT_EQ((*entries)[0].current_offset, 40);
  EXPECT_EQ((*entries)[0].log_start_offset, 10);
  EXPECT_EQ((*entries)[0].log_end_offset, 100);
}

TEST(OffsetReset, ShiftBy_FromTheCommittedOffsetClamped) {
  EXPECT_THAT(NewOffsets(Spec(OffsetResetStrategy::kShiftBy, -5)), ElementsAre(35, 40));
  EXPECT_THAT(NewOffsets(Spec(OffsetResetStrategy::kShiftBy, 10)), ElementsAre(50, 50));
  EXPECT_THAT(NewOffsets(Spec(OffsetResetStrategy::kShiftBy, -100)), ElementsAre(10, 0));
  // No overflow at the extremes.
  EXPECT_THAT(NewOffsets(Spec(OffsetResetStrategy::kShiftBy, INT64_MAX)), ElementsAre(100, 50));
  EXPECT_THAT(NewOffsets(Spec(OffsetResetStrategy::kShiftBy, INT64_MIN)), ElementsAre(10, 0));
}

TEST(OffsetReset, ShiftBy_WithoutACommittedOffsetIsRefused) {
  const std::map<TP, int64_t> committed = {{{"orders", 0}, 40}};
  auto entries = PlanOffsetResetEntries(Spec(OffsetResetStrategy::kShiftBy, 1), kPartitions,
                                        committed, kOffsets);
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(entries.status().message()),
              HasSubstr("cannot shift the offset of orders-1: group 'g' has no committed offset"));
}

TEST(OffsetReset, ToDatetime_FirstOffsetAtTheTimeElseTheLogEnd) {
  EXPECT_THAT(NewOffsets(Spec(OffsetResetStrategy::kToDatetime, 123)), ElementsAre(70, 50));
}

TEST(OffsetReset, NoCommittedOffset_CurrentIsMinusOne) {
  auto entries =
      PlanOffsetResetEntries(Spec(OffsetResetStrategy::kToLatest), kPartitions, {}, kOffsets);
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ((*entries)[1].current_offset, -1);
  EXPECT_EQ((*entries)[1].new_offset, 50);
}

TEST(OffsetReset, StrategyNamesAndKafkasRefusal) {
  EXPECT_EQ(OffsetResetStrategyName(OffsetResetStrategy::kToDatetime), "to-datetime");
  EXPECT_EQ(OffsetResetStrategyName(OffsetResetStrategy::kShiftBy), "shift-by");
  EXPECT_EQ(InactiveGroupRequired("G", "Stable"),
            "Assignments can only be reset if the group 'G' is inactive, but the current state "
            "is Stable.");
}

}  // namespace
}  // namespace strand::client
