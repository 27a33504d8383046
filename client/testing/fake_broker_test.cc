// Tests the FakeBrokerCluster itself, since other tests trust it: Kafka's idempotent sequence
// rules (a retried batch answers with its original offset, gaps are OUT_OF_ORDER, older epochs
// are refused, a new epoch restarts at 0), the NOT_LEADER_OR_FOLLOWER hint, and fetch fencing.
#include "client/testing/fake_broker.h"

#include <gtest/gtest.h>

#include "proto/broker/v1/broker.grpc.pb.h"
#include "record/record_batch_builder.h"

namespace strand::client::testing {
namespace {

std::string Batch(int64_t pid, int16_t epoch, int32_t sequence, int count) {
  record::BatchOptions o;
  o.producer_id = ProducerId(pid);
  o.producer_epoch = ProducerEpoch(epoch);
  o.base_sequence = sequence;
  record::RecordBatchBuilder b(o);
  for (int i = 0; i < count; ++i) b.Append(1, std::nullopt, "v");
  return std::string(b.Build()->view());
}

class FakeBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override { cluster_.CreateTopic("t", 1); }
  broker::v1::PartitionProduceResponse Produce(int32_t broker, const std::string& records) {
    broker::v1::ProduceRequest request;
    request.set_acks(-1);
    auto* t = request.add_topics();
    t->set_topic("t");
    auto* p = t->add_partitions();
    p->set_partition(0);
    p->set_records(records);
    broker::v1::ProduceResponse response;
    EXPECT_TRUE(cluster_.Produce(broker, request, &response).ok());
    return response.topics(0).partitions(0);
  }
  KafkaError Error(const broker::v1::PartitionProduceResponse& r) {
    return static_cast<KafkaError>(r.error().code());
  }

  FakeBrokerCluster cluster_;
};

TEST_F(FakeBrokerTest, IdempotentSequences) {
  EXPECT_EQ(Produce(101, Batch(7, 0, 0, 3)).base_offset(), 0);
  EXPECT_EQ(Produce(101, Batch(7, 0, 3, 2)).base_offset(), 3);
  // A retry of either of the last batches: its original offset, nothing written.
  EXPECT_EQ(Produce(101, Batch(7, 0, 0, 3)).base_offset(), 0);
  EXPECT_EQ(Error(Produce(101, Batch(7, 0, 3, 2))), KafkaError::kNone);
  EXPECT_EQ(cluster_.EndOffset("t", 0), 5);
  EXPECT_EQ(Error(Produce(101, Batch(7, 0, 9, 1))), KafkaError::kOutOfOrderSequenceNumber);
  EXPECT_EQ(Error(Produce(101, Batch(8, 0, 4, 1))), KafkaError::kUnknownProducerId);
  EXPECT_EQ(Error(Produce(101, Batch(7, 1, 5, 1))), KafkaError::kOutOfOrderSequenceNumber);
  EXPECT_EQ(Error(Produce(101, Batch(7, 1, 0, 1))), KafkaError::kNone);
  EXPECT_EQ(Error(Produce(101, Batch(7, 0, 5, 1))), KafkaError::kInvalidProducerEpoch);
  EXPECT_EQ(cluster_.EndOffset("t", 0), 6);
}

TEST_F(FakeBrokerTest, NotLeaderNamesTheLeader) {
  cluster_.SetLeader("t", 0, 102);
  auto r = Produce(101, Batch(-1, -1, -1, 1));
  EXPECT_EQ(Error(r), KafkaError::kNotLeaderOrFollower);
  EXPECT_EQ(r.current_leader().leader_id(), 102);
  EXPECT_EQ(r.current_leader().leader_epoch(), 1);
  EXPECT_EQ(Error(Produce(102, Batch(-1, -1, -1, 1))), KafkaError::kNone);
}

TEST_F(FakeBrokerTest, FetchFencingAndRange) {
  Produce(101, Batch(-1, -1, -1, 4));
  broker::v1::FetchRequest request;
  request.set_replica_id(-1);
  auto* fp = request.add_topics();
  fp->set_topic("t");
  auto* p = fp->add_partitions();
  p->set_partition(0);
  p->set_fetch_offset(1);
  p->set_current_leader_epoch(0);
  broker::v1::FetchResponse response;
  ASSERT_TRUE(cluster_.Fetch(101, request, &response).ok());
  EXPECT_EQ(response.topics(0).partitions(0).high_watermark(), 4);
  EXPECT_FALSE(response.topics(0).partitions(0).records().empty());
  cluster_.SetLeader("t", 0, 102);
  ASSERT_TRUE(cluster_.Fetch(102, request, &response).ok());
  EXPECT_EQ(response.topics(0).partitions(0).error().code(),
            static_cast<int>(KafkaError::kFencedLeaderEpoch));
  p->set_current_leader_epoch(1);
  p->set_fetch_offset(5);
  ASSERT_TRUE(cluster_.Fetch(102, request, &response).ok());
  EXPECT_EQ(response.topics(0).partitions(0).error().code(),
            static_cast<int>(KafkaError::kOffsetOutOfRange));
}

}  // namespace
}  // namespace strand::client::testing
