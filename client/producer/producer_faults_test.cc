// Tests the producer's delivery guarantees under injected faults (FakeBrokerCluster): leader
// changes (NOT_LEADER_OR_FOLLOWER with a leader hint), a dead broker, lost answers, slow answers
// past request.timeout.ms, retriable and non-retriable errors, OUT_OF_ORDER_SEQUENCE_NUMBER
// (epoch bump), and delivery.timeout.ms. The checks: every record acknowledged exactly once, each
// partition's log holds every record once and in send order, callbacks carry the right offsets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "client/testing/deliveries.h"
#include "client/testing/fake_broker.h"
#include "strand/producer.h"

namespace strand::client {
namespace {

using namespace std::chrono_literals;
using testing::BrokerFault;
using testing::Deliveries;
using testing::FakeBrokerCluster;

class ProducerFaultsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Producer> Make(Properties extra = {}) {
    Properties p = {{"bootstrap.servers", cluster_.bootstrap()},
                    {"linger.ms", "1"},
                    {"batch.size", "2048"},
                    {"retry.backoff.ms", "10"},
                    {"retry.backoff.max.ms", "50"},
                    {"request.timeout.ms", "1000"}};
    for (auto& [k, v] : extra) p[k] = v;
    auto producer = Producer::Create(p);
    EXPECT_TRUE(producer.ok()) << producer.status();
    return producer.ok() ? *std::move(producer) : nullptr;
  }

  // Sends `count` records round-robin over `partitions` partitions of "t", value = sequence
  // number; `between(i)` runs before record i.
  void SendAll(Producer& producer, int count, int partitions,
               const std::function<void(int)>& between = nullptr) {
    for (int i = 0; i < count; ++i) {
      if (between) between(i);
      ProducerRecord r;
      r.topic = "t";
      r.partition = i % partitions;
      r.value = std::to_string(i);
      ASSERT_TRUE(producer.Send(r, deliveries_.For(*r.value)).ok()) << i;
    }
  }

  // Every record once, in order, per partition; every callback OK with the stored offset.
  void ExpectExactlyOnceInOrder(int count, int partitions) {
    ASSERT_TRUE(deliveries_.WaitFor(static_cast<size_t>(count)));
    std::map<std::string, int64_t> acked;
    for (const auto& o : deliveries_.outcomes()) {
      ASSERT_TRUE(o.result.ok()) << o.value << ": " << o.result.status();
      EXPECT_TRUE(acked.emplace(o.value, o.result->offset).second) << "acked twice: " << o.value;
    }
    EXPECT_EQ(acked.size(), static_cast<size_t>(count));
    size_t stored = 0;
    for (int p = 0; p < partitions; ++p) {
      int previous = -1;
      for (const auto& r : cluster_.Records("t", p)) {
        const int v = std::stoi(*r.value);
        EXPECT_EQ(v % partitions, p);
        EXPECT_GT(v, previous) << "partition " << p << ": " << v << " after " << previous;
        previous = v;
        EXPECT_EQ(acked[*r.value], r.offset) << *r.value;
        ++stored;
      }
    }
    EXPECT_EQ(stored, static_cast<size_t>(count)) << "lost or duplicated records";
  }

  FakeBrokerCluster cluster_;
  Deliveries deliveries_;
};

TEST_F(ProducerFaultsTest, LeaderChanges_FollowedWithoutLossOrReorder) {
  cluster_.CreateTopic("t", 3);
  auto producer = Make();
  SendAll(*producer, 3000, 3, [&](int i) {
    if (i == 1000 || i == 2000) {
      for (int p = 0; p < 3; ++p) {
        const auto replicas = cluster_.Replicas("t", p);
        cluster_.SetLeader("t", p, replicas[static_cast<size_t>(i / 1000)]);
      }
    }
  });
  producer->Flush();
  ExpectExactlyOnceInOrder(3000, 3);
  EXPECT_GT(producer->metrics().batches_retried, 0);
}

TEST_F(ProducerFaultsTest, LeaderBrokerDies_RetriedOnTheNewLeader) {
  cluster_.CreateTopic("t", 1);
  auto producer = Make();
  const int32_t old_leader = cluster_.Leader("t", 0);
  SendAll(*producer, 1000, 1, [&](int i) {
    if (i == 400) {
      cluster_.StopBroker(old_leader);
      cluster_.SetLeader("t", 0, cluster_.Replicas("t", 0)[1]);
    }
  });
  producer->Flush();
  ExpectExactlyOnceInOrder(1000, 1);
}

TEST_F(ProducerFaultsTest, LostAnswers_RetriedWithoutDuplicates) {
  cluster_.CreateTopic("t", 2);
  BrokerFault lost;
  lost.method = "Produce";
  lost.lose_answer = true;
  lost.times = 5;
  cluster_.PushFault(lost);
  auto producer = Make();
  SendAll(*producer, 1000, 2);
  producer->Flush();
  ExpectExactlyOnceInOrder(1000, 2);
  EXPECT_EQ(cluster_.PendingFaults(), 0);
}

TEST_F(ProducerFaultsTest, SlowAnswersPastTheDeadline_NoDuplicates) {
  cluster_.CreateTopic("t", 1);
  BrokerFault slow;
  slow.method = "Produce";
  slow.delay_ms = 1400;  // past request.timeout.ms (300) + the 1 s slack; written afterwards
  slow.times = 2;
  cluster_.PushFault(slow);
  auto producer = Make({{"request.timeout.ms", "300"}});
  SendAll(*producer, 300, 1);
  producer->Flush();
  ExpectExactlyOnceInOrder(300, 1);
}

TEST_F(ProducerFaultsTest, RetriableErrors_Retried) {
  cluster_.CreateTopic("t", 2);
  for (KafkaError e : {KafkaError::kNotEnoughReplicas, KafkaError::kRequestTimedOut,
                       KafkaError::kNotLeaderOrFollower, KafkaError::kLeaderNotAvailable}) {
    BrokerFault f;
    f.method = "Produce";
    f.error = e;
    f.times = 2;
    cluster_.PushFault(f);
  }
  auto producer = Make();
  SendAll(*producer, 800, 2);
  producer->Flush();
  ExpectExactlyOnceInOrder(800, 2);
}

TEST_F(ProducerFaultsTest, OutOfOrderSequence_EpochBumpedAndNothingLost) {
  cluster_.CreateTopic("t", 1);
  // One request at a time, so the scripted error lands on a batch whose predecessors are all
  // acknowledged: the broker's sequence state is then wrong and only an epoch bump repairs it.
  auto producer = Make({{"max.in.flight.requests.per.connection", "1"}});
  SendAll(*producer, 200, 1);
  producer->Flush();
  BrokerFault f;
  f.method = "Produce";
  f.error = KafkaError::kOutOfOrderSequenceNumber;
  cluster_.PushFault(f);
  for (int i = 200; i < 600; ++i) {
    ProducerRecord r;
    r.topic = "t";
    r.partition = 0;
    r.value = std::to_string(i);
    ASSERT_TRUE(producer->Send(r, deliveries_.For(*r.value)).ok());
  }
  producer->Flush();
  ExpectExactlyOnceInOrder(600, 1);
  EXPECT_EQ(producer->metrics().epoch_bumps, 1);
}

TEST_F(ProducerFaultsTest, NonRetriableError_FailsThatBatchOnlyAndSequencesRecover) {
  cluster_.CreateTopic("t", 1);
  auto producer = Make({{"linger.ms", "0"}, {"max.in.flight.requests.per.connection", "1"}});
  ProducerRecord r;
  r.topic = "t";
  r.value = "first";
  ASSERT_TRUE(producer->Send(r, deliveries_.For("first")).ok());
  producer->Flush();
  BrokerFault f;
  f.method = "Produce";
  f.error = KafkaError::kInvalidTimestamp;
  cluster_.PushFault(f);
  r.value = "refused";
  ASSERT_TRUE(producer->Send(r, deliveries_.For("refused")).ok());
  producer->Flush();
  r.value = "after";
  ASSERT_TRUE(producer->Send(r, deliveries_.For("after")).ok());
  producer->Flush();
  auto outcomes = deliveries_.outcomes();
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_TRUE(outcomes[0].result.ok());
  EXPECT_EQ(KafkaErrorOf(outcomes[1].result.status()), KafkaError::kInvalidTimestamp);
  ASSERT_TRUE(outcomes[2].result.ok()) << outcomes[2].result.status();
  auto records = cluster_.Records("t", 0);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(*records[1].value, "after");
}

TEST_F(ProducerFaultsTest, NoLeader_ExpiresAfterDeliveryTimeout) {
  cluster_.CreateTopic("t", 1);
  auto producer = Make({{"request.timeout.ms", "200"}, {"delivery.timeout.ms", "400"}});
  SendAll(*producer, 1, 1);
  producer->Flush();
  cluster_.SetLeader("t", 0, -1);
  const auto start = std::chrono::steady_clock::now();
  ProducerRecord r;
  r.topic = "t";
  r.value = "doomed";
  ASSERT_TRUE(producer->Send(r, deliveries_.For("doomed")).ok());
  producer->Flush();
  const auto took = std::chrono::steady_clock::now() - start;
  auto outcomes = deliveries_.outcomes();
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_EQ(KafkaErrorOf(outcomes[1].result.status()), KafkaError::kRequestTimedOut);
  EXPECT_THAT(std::string(outcomes[1].result.status().message()),
              ::testing::HasSubstr("delivery.timeout.ms"));
  EXPECT_GE(took, 350ms);
  EXPECT_LT(took, 5s);
}

TEST_F(ProducerFaultsTest, NotIdempotent_RetriesStillDeliver) {
  cluster_.CreateTopic("t", 1);
  BrokerFault f;
  f.method = "Produce";
  f.error = KafkaError::kNotEnoughReplicas;
  f.times = 3;
  cluster_.PushFault(f);
  auto producer = Make({{"acks", "1"}, {"max.in.flight.requests.per.connection", "1"}});
  SendAll(*producer, 300, 1);
  producer->Flush();
  ExpectExactlyOnceInOrder(300, 1);
  EXPECT_EQ(cluster_.Records("t", 0)[0].producer_id, -1);
}

TEST_F(ProducerFaultsTest, CloseRightAfterAFailedIdempotentBatch_EndsCleanly) {
  // A batch that fails for good asks for an epoch bump (InitProducerId). Closing at once must
  // not leave that call in flight when the producer is destroyed (it would answer into freed
  // memory); repeated, since the call races with Close.
  cluster_.CreateTopic("t", 1);
  for (int round = 0; round < 20; ++round) {
    BrokerFault f;
    f.method = "Produce";
    f.error = KafkaError::kRecordListTooLarge;
    cluster_.PushFault(f);
    auto producer = Make();
    ProducerRecord r;
    r.topic = "t";
    r.value = "refused";
    ASSERT_TRUE(producer->Send(r, nullptr).ok());
    producer->Flush();
    producer.reset();
  }
  EXPECT_GE(cluster_.Calls("InitProducerId"), 20);
}

TEST_F(ProducerFaultsTest, OvertakenRequests_ResentInOrderAtOnceWithoutEpochBump) {
  // gRPC brokers handle a connection's requests concurrently: the first request is held up, so
  // the next ones (pipelined, up to 5 in flight) reach the partition first and are refused
  // (UNKNOWN_PRODUCER_ID: no state yet; OUT_OF_ORDER_SEQUENCE_NUMBER: a gap). They must be resent
  // right after the first lands — not after retry.backoff.ms, and without an epoch bump.
  cluster_.CreateTopic("t", 1);
  BrokerFault slow_first;
  slow_first.method = "Produce";
  slow_first.delay_ms = 300;
  cluster_.PushFault(slow_first);
  auto producer = Make({{"retry.backoff.ms", "3000"}, {"retry.backoff.max.ms", "3000"}});
  const auto start = std::chrono::steady_clock::now();
  SendAll(*producer, 400, 1, [](int i) {
    if (i % 40 == 39) std::this_thread::sleep_for(5ms);  // several requests, not one
  });
  producer->Flush();
  const auto took = std::chrono::steady_clock::now() - start;
  ExpectExactlyOnceInOrder(400, 1);
  const ProducerMetrics m = producer->metrics();
  EXPECT_GT(m.batches_retried, 0);  // the overtakers were refused and resent
  EXPECT_EQ(m.epoch_bumps, 0);
  EXPECT_LT(took, 2500ms);  // no retry.backoff.ms (3 s) on the way
}

}  // namespace
}  // namespace strand::client
