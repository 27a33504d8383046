// Tests idempotent producer state: in-order batches, retried batches recognized among the last
// five, out-of-order and stale-epoch refusals, unknown producers, sequence wrap-around, and the
// snapshot round trip, expiry by broker time, and the per-partition limit.
#include "broker/replica/producer_state.h"

#include <gtest/gtest.h>

#include "common/kafka_error.h"

namespace strand::broker {
namespace {

const ProducerId kP(7);
const ProducerEpoch kE0(0), kE1(1);
constexpr int64_t kNow = 1000;  // broker wall time of the updates

ProducerBatch Batch(int32_t first, int32_t last, int64_t offset) {
  return ProducerBatch{first, last, Offset(offset), Offset(offset + (last - first)), 1000};
}

std::optional<KafkaError> Error(const absl::StatusOr<ProducerStateManager::Decision>& d) {
  return d.ok() ? std::nullopt : ErrcOf<KafkaError>(d.status());
}

TEST(ProducerState, InOrderBatches_AreAccepted) {
  ProducerStateManager m;
  ASSERT_TRUE(m.Check(kP, kE0, 0, 4).ok());
  m.Update(kP, kE0, Batch(0, 4, 100), kNow);
  auto next = m.Check(kP, kE0, 5, 9);
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->duplicate.has_value());
}

TEST(ProducerState, RetryOfRecentBatch_IsDuplicateWithOriginalOffsets) {
  ProducerStateManager m;
  for (int i = 0; i < 7; ++i) m.Update(kP, kE0, Batch(i * 10, i * 10 + 9, 1000 + i * 10), kNow);
  auto retry = m.Check(kP, kE0, 50, 59);  // the 6th batch: among the last five
  ASSERT_TRUE(retry.ok());
  ASSERT_TRUE(retry->duplicate.has_value());
  EXPECT_EQ(retry->duplicate->first_offset, Offset(1050));
  // The 1st batch is no longer remembered: it is out of order now.
  EXPECT_EQ(Error(m.Check(kP, kE0, 0, 9)), KafkaError::kOutOfOrderSequenceNumber);
}

TEST(ProducerState, GapOrRepeat_IsOutOfOrder) {
  ProducerStateManager m;
  m.Update(kP, kE0, Batch(0, 4, 0), kNow);
  EXPECT_EQ(Error(m.Check(kP, kE0, 6, 9)), KafkaError::kOutOfOrderSequenceNumber);
  EXPECT_EQ(Error(m.Check(kP, kE0, 3, 7)), KafkaError::kOutOfOrderSequenceNumber);
}

TEST(ProducerState, Epochs_OldRefused_NewStartsAtZero) {
  ProducerStateManager m;
  m.Update(kP, kE1, Batch(0, 4, 0), kNow);
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
  m.Update(kP, kE0, Batch(INT32_MAX - 1, INT32_MAX, 0), kNow);
  EXPECT_TRUE(m.Check(kP, kE0, 0, 3).ok());
}

TEST(ProducerState, Snapshot_RoundTrips) {
  ProducerStateManager m;
  m.Update(kP, kE0, Batch(0, 4, 10), kNow);
  m.Update(ProducerId(9), kE1, Batch(0, 0, 20), kNow);
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
  m.Update(kP, kE0, Batch(0, 0, 0), kNow);
  m.Expire(1000 + 500, 1000);
  EXPECT_EQ(m.size(), 1u);
  m.Expire(1000 + 2000, 1000);
  EXPECT_EQ(m.size(), 0u);
}

TEST(ProducerState, Expire_GoesByBrokerTime_NotTheBatchTimestamps) {
  ProducerStateManager m;
  // A client stamps its batches far in the future (or in the past): expiry ignores it.
  ProducerBatch future = Batch(0, 0, 0);
  future.timestamp_ms = int64_t{1} << 50;
  m.Update(kP, kE0, future, kNow);
  ProducerBatch past = Batch(0, 0, 1);
  past.timestamp_ms = 0;
  m.Update(ProducerId(9), kE0, past, kNow + 5000);
  m.Expire(kNow + 2000, 1000);
  EXPECT_EQ(m.size(), 1u);  // kP is gone, despite its timestamps; 9 was written recently
  EXPECT_EQ(Error(m.Check(kP, kE0, 1, 1)), KafkaError::kUnknownProducerId);
  EXPECT_TRUE(m.Check(ProducerId(9), kE0, 1, 1).ok());
}

TEST(ProducerState, NewProducersPastTheLimit_AreRefused) {
  ProducerStateManager m;
  for (int64_t id = 0; id < 3; ++id) {
    ASSERT_TRUE(m.Check(ProducerId(id), kE0, 0, 0, 3).ok());
    m.Update(ProducerId(id), kE0, Batch(0, 0, id), kNow);
  }
  auto refused = m.Check(ProducerId(3), kE0, 0, 0, 3);
  EXPECT_EQ(Error(refused), KafkaError::kThrottlingQuotaExceeded);
  EXPECT_NE(refused.status().message().find("strand.producer.ids.per.partition.max"),
            std::string::npos);
  // Producers already tracked go on.
  EXPECT_TRUE(m.Check(ProducerId(1), kE0, 1, 1, 3).ok());
  // Once one expires, a new one gets in.
  m.Update(ProducerId(1), kE0, Batch(1, 1, 9), kNow + 10'000);
  m.Update(ProducerId(2), kE0, Batch(1, 1, 10), kNow + 10'000);
  m.Expire(kNow + 10'000, 5'000);
  EXPECT_TRUE(m.Check(ProducerId(3), kE0, 0, 0, 3).ok());
}

}  // namespace
}  // namespace strand::broker
