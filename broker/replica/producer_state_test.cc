// Tests idempotent producer state: in-order batches, retried batches recognized among the last
// five, out-of-order and stale-epoch refusals, unknown producers, sequence wrap-around, and the
// snapshot round trip.
#include "broker/replica/producer_state.h"

#include <gtest/gtest.h>

#include "common/kafka_error.h"

namespace strand::broker {
namespace {

const ProducerId kP(7);
const ProducerEpoch kE0(0), kE1(1);

ProducerBatch Batch(int32_t first, int32_t last, int64_t offset) {
  return ProducerBatch{first, last, Offset(offset), Offset(offset + (last - first)), 1000};
}

std::optional<KafkaError> Error(const absl::StatusOr<ProducerStateManager::Decision>& d) {
  return d.ok() ? std::nullopt : ErrcOf<KafkaError>(d.status());
}

TEST(ProducerState, InOrderBatches_AreAccepted) {
  ProducerStateManager m;
  ASSERT_TRUE(m.Check(kP, kE0, 0, 4).ok());
  m.Update(kP, kE0, Batch(0, 4, 100));
  auto next = m.Check(kP, kE0, 5, 9);
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->duplicate.has_value());
}

TEST(ProducerState, RetryOfRecentBatch_IsDuplicateWithOriginalOffsets) {
  ProducerStateManager m;
  for (int i = 0; i < 7; ++i) m.Update(kP, kE0, Batch(i * 10, i * 10 + 9, 1000 + i * 10));
  auto retry = m.Check(kP, kE0, 50, 59);  // the 6th batch: among the last five
  ASSERT_TRUE(retry.ok());
  ASSERT_TRUE(retry->duplicate.has_value());
  EXPECT_EQ(retry->duplicate->first_offset, Offset(1050));
  // The 1st batch is no longer remembered: it is out of order now.
  EXPECT_EQ(Error(m.Check(kP, kE0, 0, 9)), KafkaError::kOutOfOrderSequenceNumber);
}

TEST(ProducerState, GapOrRepeat_IsOutOfOrder) {
  ProducerStateManager m;
  m.Update(kP, kE0, Batch(0, 4, 0));
  EXPECT_EQ(Error(m.Check(kP, kE0, 6, 9)), KafkaError::kOutOfOrderSequenceNumber);
  EXPECT_EQ(Error(m.Check(kP, kE0, 3, 7)), KafkaError::kOutOfOrderSequenceNumber);
}

TEST(ProducerState, Epochs_OldRefused_NewStartsAtZero) {
  ProducerStateManager m;
  m.Update(kP, kE1, Batch(0, 4, 0));
  EXPECT_EQ(Error(m.Check(kP, kE0, 5, 5)), KafkaError::kInvalidProducerEpoch);
  EXPECT_EQ(Error(m.Check(kP, ProducerEpoch(2), 5, 5)), KafkaError::kOutOfOrderSequenceNumber);
  EXPECT_TRUE(m.Check(kP, ProducerEpoch(2), 0, 0).ok());
}

TEST(ProducerState, UnknownProducer_MustStartAtZero) {
  ProducerStateManager m;
  EXPECT_EQ(Error(m.Check(kP, kE0, 3, 4)), KafkaError::kUnknownProducerId);
  EXPECT_TRUE(m.Check(kP, kE0, 0, 4).ok());
}

TEST(ProducerState, SequenceWrapsAround) {
  EXPECT_EQ(NextSequence(INT32_MAX), 0);
  EXPECT_EQ(LastSequence(INT32_MAX - 1, 4), 1);
  ProducerStateManager m;
  m.Update(kP, kE0, Batch(INT32_MAX - 1, INT32_MAX, 0));
  EXPECT_TRUE(m.Check(kP, kE0, 0, 3).ok());
}

TEST(ProducerState, Snapshot_RoundTrips) {
  ProducerStateManager m;
  m.Update(kP, kE0, Batch(0, 4, 10));
  m.Update(ProducerId(9), kE1, Batch(0, 0, 20));
  auto parsed = ProducerStateManager::Parse(m.Serialize());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(*parsed == m);
  EXPECT_FALSE(ProducerStateManager::Parse("garbage").ok());
  std::string cut = m.Serialize();
  cut.pop_back();
  EXPECT_FALSE(ProducerStateManager::Parse(cut).ok());
}

TEST(ProducerState, Expire_ForgetsSilentProducers) {
  ProducerStateManager m;
  m.Update(kP, kE0, Batch(0, 0, 0));  // timestamp 1000
  m.Expire(1000 + 500, 1000);
  EXPECT_EQ(m.size(), 1u);
  m.Expire(1000 + 2000, 1000);
  EXPECT_EQ(m.size(), 0u);
}

}  // namespace
}  // namespace strand::broker
