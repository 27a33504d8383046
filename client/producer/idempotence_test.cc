// Tests the idempotent producer's sequence rules (IdempotenceState): sequences per partition and
// their int32 wrap, at most 5 in flight, a retry only alone and first, new batches held behind a
// waiting retry, epoch reset.
#include "client/producer/idempotence.h"

#include <gtest/gtest.h>

#include <limits>
#include <memory>

namespace strand::client {
namespace {

std::unique_ptr<ProducerBatch> Batch(uint64_t id, int32_t partition = 0, int records = 1) {
  auto b = std::make_unique<ProducerBatch>(TopicPartition{"t", partition}, 1024, 1024, 0);
  b->id = id;
  SendCallback none;
  for (int i = 0; i < records; ++i) b->TryAppend(0, std::nullopt, "v", {}, none);
  return b;
}

TEST(IdempotenceState, IncrementSequenceWrapsLikeKafka) {
  constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
  EXPECT_EQ(IdempotenceState::IncrementSequence(5, 3), 8);
  EXPECT_EQ(IdempotenceState::IncrementSequence(kMax, 1), 0);
  EXPECT_EQ(IdempotenceState::IncrementSequence(kMax - 1, 3), 1);
}

TEST(IdempotenceState, SequencesPerPartition) {
  IdempotenceState s;
  s.SetProducerId(7, 0);
  auto a = Batch(1, 0, 3), b = Batch(2, 0, 2), c = Batch(3, 1, 4);
  s.AssignSequence(*a);
  s.AssignSequence(*b);
  s.AssignSequence(*c);
  EXPECT_EQ(a->base_sequence, 0);
  EXPECT_EQ(b->base_sequence, 3);
  EXPECT_EQ(c->base_sequence, 0);
  EXPECT_EQ(a->producer_id, 7);
}

TEST(IdempotenceState, AtMostFiveInFlight) {
  IdempotenceState s;
  s.SetProducerId(7, 0);
  std::vector<std::unique_ptr<ProducerBatch>> batches;
  for (uint64_t i = 1; i <= 6; ++i) {
    auto b = Batch(i);
    ASSERT_EQ(s.MaySend(*b), i <= 5) << i;
    if (i > 5) break;
    s.AssignSequence(*b);
    b->in_flight = true;
    s.OnSent(*b);
    batches.push_back(std::move(b));
  }
  EXPECT_EQ(s.InFlight({"t", 0}), 5);
}

TEST(IdempotenceState, RetryGoesAloneAndFirst) {
  IdempotenceState s;
  s.SetProducerId(7, 0);
  auto a = Batch(1), b = Batch(2);
  for (auto* x : {a.get(), b.get()}) {
    s.AssignSequence(*x);
    x->in_flight = true;
    s.OnSent(*x);
  }
  // a failed retriably and is queued again; b is still in flight.
  a->in_flight = false;
  s.OnAnswered(*a);
  EXPECT_TRUE(s.IsFirstUnresolved(*a));
  EXPECT_FALSE(s.IsFirstUnresolved(*b));
  EXPECT_FALSE(s.MaySend(*a));  // b still in flight
  auto fresh = Batch(3);
  EXPECT_FALSE(s.MaySend(*fresh));  // a retry waits
  b->in_flight = false;
  s.OnAnswered(*b);  // b came back out of order; queued behind a
  EXPECT_TRUE(s.MaySend(*a));
  EXPECT_FALSE(s.MaySend(*b));
  a->in_flight = true;
  s.OnSent(*a);
  s.OnAnswered(*a);
  a->in_flight = false;
  s.OnCompleted(*a);
  EXPECT_TRUE(s.MaySend(*b));
  s.OnCompleted(*b);
  EXPECT_TRUE(s.MaySend(*fresh));
}

TEST(IdempotenceState, EpochBumpRestartsSequences) {
  IdempotenceState s;
  s.SetProducerId(7, 0);
  auto a = Batch(1, 0, 5);
  s.AssignSequence(*a);
  s.RequestEpochBump();
  EXPECT_FALSE(s.MaySend(*Batch(2)));
  s.ResetForEpochBump();
  s.SetProducerId(7, 1);
  EXPECT_FALSE(s.bump_needed());
  auto b = Batch(3);
  s.AssignSequence(*b);
  EXPECT_EQ(b->base_sequence, 0);
  EXPECT_EQ(b->producer_epoch, 1);
}

}  // namespace
}  // namespace strand::client
