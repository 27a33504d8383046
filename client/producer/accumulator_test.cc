// Tests the RecordAccumulator with explicit times (no threads except where blocking is the
// point): linger.ms, batch.size, one batch per partition per drain, grouping by leader, the
// request size cap, buffer.memory with max.block.ms, sticky partitioning per batch, retries put
// back in sequence order, and delivery.timeout.ms expiry.
#include "client/producer/accumulator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace strand::client {
namespace {

using namespace std::chrono_literals;

// Topic "t" with `partitions` partitions led by brokers 101, 102, 101, 102, ...
ClusterMetadata Cluster(int partitions, bool leaderless_last = false) {
  broker::v1::MetadataResponse r;
  for (int id : {101, 102}) {
    auto* b = r.add_brokers();
    b->set_id(id);
    b->set_host("127.0.0.1");
    b->set_port(9000 + id);
  }
  auto* t = r.add_topics();
  t->set_name("t");
  for (int p = 0; p < partitions; ++p) {
    auto* pm = t->add_partitions();
    pm->set_partition(p);
    pm->set_leader(leaderless_last && p == partitions - 1 ? -1 : 101 + p % 2);
  }
  return ClusterMetadata::FromResponse(r, nullptr);
}

class AccumulatorTest : public ::testing::Test {
 protected:
  void Make(AccumulatorConfig config, int64_t memory = 1 << 20, int partitions = 4) {
    memory_ = std::make_unique<MemoryBudget>(memory);
    acc_ = std::make_unique<Accumulator>(config, *memory_);
    cluster_ = Cluster(partitions);
    const TopicMetadata* t = cluster_.topic("t");
    acc_->SetTopicPartitions("t", partitions, t->available_partitions);
  }
  absl::StatusOr<Accumulator::AppendResult> Append(int32_t partition, const std::string& value,
                                                   int64_t now_ms, bool may_block = true) {
    Accumulator::RecordRef r;
    r.topic = "t";
    r.partition = partition;
    r.timestamp_ms = 1;
    r.value = value;
    SendCallback none;
    return acc_->Append(r, none, now_ms, may_block);
  }
  Accumulator::DrainResult Drain(int64_t now_ms) {
    return acc_->Drain(
        cluster_, now_ms, [](int32_t) { return true; }, [](const ProducerBatch&) { return true; });
  }
  static size_t Count(const Accumulator::DrainResult& d) {
    size_t n = 0;
    for (const auto& [node, batches] : d.batches) n += batches.size();
    return n;
  }

  std::unique_ptr<MemoryBudget> memory_;
  std::unique_ptr<Accumulator> acc_;
  ClusterMetadata cluster_;
};

TEST_F(AccumulatorTest, BatchesStartSmallAndDoubleWhileThePartitionIsBusy) {
  AccumulatorConfig c;
  c.batch_size_bytes = 128 * 1024;
  c.linger_ms = 1000;
  Make(c, 8 << 20);
  const std::string value(1000, 'v');
  // Nothing drained: each batch that fills up is followed by one twice its size, up to batch.size.
  for (int i = 0; i < 400; ++i) ASSERT_TRUE(Append(0, value, 100).ok());
  std::vector<size_t> capacities;
  for (int round = 0; round < 10; ++round) {
    auto d = Drain(100);
    if (Count(d) == 0) break;
    for (const auto& [node, batches] : d.batches) {
      for (const auto& b : batches) capacities.push_back(b->capacity_bytes());
    }
  }
  ASSERT_GE(capacities.size(), 5u);
  EXPECT_EQ(capacities[0], Accumulator::kFirstBatchBytes);
  EXPECT_EQ(capacities[1], 2 * Accumulator::kFirstBatchBytes);
  EXPECT_EQ(capacities[2], 4 * Accumulator::kFirstBatchBytes);
  EXPECT_EQ(capacities[3], 128u * 1024);
  EXPECT_EQ(capacities[4], 128u * 1024);
  // Once its queue is empty, a partition's next batch starts small again, and so does a
  // partition written for the first time.
  EXPECT_EQ(Count(Drain(1200)), 1u);  // the last batch, not full: after linger.ms
  ASSERT_TRUE(Append(0, value, 1300).ok());
  ASSERT_TRUE(Append(1, value, 1300).ok());
  auto d = Drain(2300);
  ASSERT_EQ(Count(d), 2u);
  for (const auto& [node, batches] : d.batches) {
    for (const auto& b : batches) EXPECT_EQ(b->capacity_bytes(), Accumulator::kFirstBatchBytes);
  }
  // A batch sent full (as sticky partitioning sends them, one partition after another) makes the
  // partition's next batch twice as large even though nothing was queued behind it.
  for (int i = 0; i < 17; ++i) ASSERT_TRUE(Append(2, value, 3000).ok());  // 16 fit in 16 KiB
  d = Drain(3000);
  ASSERT_EQ(Count(d), 1u);
  EXPECT_EQ(d.batches.begin()->second[0]->capacity_bytes(), Accumulator::kFirstBatchBytes);
  d = Drain(5000);  // the 17th record's batch, after linger.ms
  ASSERT_EQ(Count(d), 1u);
  EXPECT_EQ(d.batches.begin()->second[0]->capacity_bytes(), 2 * Accumulator::kFirstBatchBytes);
}

TEST_F(AccumulatorTest, Linger_NotReadyBeforeReadyAfter) {
  AccumulatorConfig c;
  c.linger_ms = 10;
  Make(c);
  ASSERT_TRUE(Append(0, "a", 100).ok());
  auto d = Drain(105);
  EXPECT_EQ(Count(d), 0u);
  EXPECT_EQ(d.next_check_ms, 110);
  d = Drain(110);
  ASSERT_EQ(Count(d), 1u);
  EXPECT_EQ(d.batches[101][0]->record_count(), 1);
}

TEST_F(AccumulatorTest, BatchSize_FullBatchReadyAtOnceOnePerPartitionPerDrain) {
  AccumulatorConfig c;
  c.linger_ms = 1000;
  c.batch_size_bytes = 200;
  Make(c);
  bool woke_for_full = false;
  for (int i = 0; i < 12; ++i) {
    auto r = Append(0, std::string(40, 'x'), 0);
    ASSERT_TRUE(r.ok());
    woke_for_full |= r->wake_sender && i > 0;
  }
  EXPECT_TRUE(woke_for_full);
  auto d = Drain(1);        // several batches: the first ones are full
  ASSERT_EQ(Count(d), 1u);  // one per partition per drain
  EXPECT_LE(d.batches[101][0]->wire_size_bytes(), 200u);
  EXPECT_GT(d.batches[101][0]->record_count(), 1);
  d = Drain(1);
  EXPECT_EQ(Count(d), 1u);
}

TEST_F(AccumulatorTest, GroupsByLeaderAndCapsRequestBytes) {
  AccumulatorConfig c;
  c.linger_ms = 0;
  c.max_request_size_bytes = 250;
  Make(c);
  for (int p = 0; p < 4; ++p) ASSERT_TRUE(Append(p, std::string(100, 'x'), 0).ok());
  auto d = Drain(0);
  // Partitions 0, 2 -> 101; 1, 3 -> 102; each ~170-byte batch: one per node fits under 250.
  EXPECT_EQ(d.batches[101].size(), 1u);
  EXPECT_EQ(d.batches[102].size(), 1u);
  d = Drain(0);
  EXPECT_EQ(Count(d), 2u);
}

TEST_F(AccumulatorTest, NoLeader_TopicReported) {
  AccumulatorConfig c;
  c.linger_ms = 0;
  Make(c);
  cluster_ = Cluster(4, /*leaderless_last=*/true);
  ASSERT_TRUE(Append(3, "x", 0).ok());
  auto d = Drain(0);
  EXPECT_EQ(Count(d), 0u);
  EXPECT_EQ(d.topics_without_leader.count("t"), 1u);
}

TEST_F(AccumulatorTest, BufferMemory_AppendBlocksUntilDeallocate) {
  AccumulatorConfig c;
  c.linger_ms = 0;
  c.batch_size_bytes = 1000;
  c.max_block_ms = 5000;
  Make(c, /*memory=*/2000);
  ASSERT_TRUE(Append(0, "a", 0).ok());
  ASSERT_TRUE(Append(1, "b", 0).ok());  // 2 x 1000 bytes: memory used up
  EXPECT_EQ(memory_->available_bytes(), 0);
  auto drained = Drain(0);
  ASSERT_EQ(Count(drained), 2u);
  std::atomic<bool> appended{false};
  std::thread sender([&] {
    ASSERT_TRUE(Append(2, "c", 0).ok());
    appended = true;
  });
  while (!memory_->has_waiters()) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(appended);
  acc_->Deallocate(*drained.batches[101][0]);
  sender.join();
  EXPECT_TRUE(appended);
}

TEST_F(AccumulatorTest, MaxBlock_TimesOutWithRequestTimedOut) {
  AccumulatorConfig c;
  c.batch_size_bytes = 1000;
  c.max_block_ms = 30;
  Make(c, /*memory=*/1000);
  ASSERT_TRUE(Append(0, "a", 0).ok());
  const auto start = std::chrono::steady_clock::now();
  auto r = Append(1, "b", 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(KafkaErrorOf(r.status()), KafkaError::kRequestTimedOut);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 25ms);
  // Appends to the open batch need no memory.
  EXPECT_TRUE(Append(0, "a2", 0).ok());
  // Without blocking (the sender thread's own Sends) it fails at once.
  EXPECT_FALSE(Append(1, "b", 0, /*may_block=*/false).ok());
}

TEST_F(AccumulatorTest, TooLargeRecord) {
  AccumulatorConfig c;
  c.max_request_size_bytes = 1024;
  Make(c);
  auto r = Append(0, std::string(2000, 'x'), 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(KafkaErrorOf(r.status()), KafkaError::kMessageTooLarge);
}

TEST_F(AccumulatorTest, Sticky_StaysPerBatchThenMoves) {
  AccumulatorConfig c;
  c.linger_ms = 1000;
  c.batch_size_bytes = 300;
  Make(c);
  std::vector<int32_t> partitions;
  for (int i = 0; i < 30; ++i) {
    auto r = Append(-1, std::string(50, 'x'), 0);
    ASSERT_TRUE(r.ok());
    partitions.push_back(r->tp.partition);
    Drain(0);  // as the sender would: full batches leave at once
  }
  // Runs of the same partition (one batch each), and more than one partition overall.
  int switches = 0;
  for (size_t i = 1; i < partitions.size(); ++i) switches += partitions[i] != partitions[i - 1];
  EXPECT_GE(switches, 3);
  EXPECT_LE(switches, 15);  // ~4 records per 300-byte batch
  // A switch happens exactly when the batch could not take another record.
  for (size_t i = 1; i < partitions.size(); ++i) {
    if (partitions[i] != partitions[i - 1]) {
      size_t run = 1;
      for (size_t j = i - 1; j > 0 && partitions[j - 1] == partitions[i - 1]; --j) ++run;
      EXPECT_GE(run, 3u) << i;
    }
  }
}

TEST_F(AccumulatorTest, Reenqueue_SequencedBatchesInOrderBeforeNewOnes) {
  AccumulatorConfig c;
  c.linger_ms = 0;
  c.idempotent = true;
  Make(c);
  std::vector<BatchPtr> drained;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Append(0, "x", 0).ok());
    auto d = Drain(0);
    ASSERT_EQ(Count(d), 1u);
    d.batches[101][0]->base_sequence = i * 10;
    drained.push_back(d.batches[101][0]);
  }
  ASSERT_TRUE(Append(0, "new", 0).ok());
  acc_->Reenqueue(drained[2]);
  acc_->Reenqueue(drained[0]);
  acc_->Reenqueue(drained[1]);
  std::vector<int32_t> order;
  for (int i = 0; i < 4; ++i) {
    auto d = Drain(0);
    ASSERT_EQ(Count(d), 1u);
    order.push_back(d.batches[101][0]->base_sequence);
  }
  EXPECT_EQ(order, (std::vector<int32_t>{0, 10, 20, -1}));
}

TEST_F(AccumulatorTest, Retry_NewLeaderSkipsTheBackoff) {
  AccumulatorConfig c;
  c.linger_ms = 0;
  Make(c);
  ASSERT_TRUE(Append(0, "x", 0).ok());
  auto d = Drain(0);
  ASSERT_EQ(Count(d), 1u);
  BatchPtr batch = d.batches[101][0];
  // The attempt failed (its leader died): back off until 1000 ms.
  batch->attempts = 1;
  batch->retry_at_ms = 1000;
  acc_->Reenqueue(batch);
  EXPECT_EQ(Count(Drain(10)), 0u);
  EXPECT_EQ(Count(Drain(20)), 0u);  // still the old leader: still backing off
  // A new leader (higher epoch): the batch goes at once, to it.
  auto moved = cluster_.WithLeader(TopicPartition{"t", 0}, 102, 1);
  ASSERT_TRUE(moved.has_value());
  cluster_ = *moved;
  d = Drain(30);
  ASSERT_EQ(Count(d), 1u);
  EXPECT_EQ(d.batches[102].size(), 1u);
  EXPECT_EQ(d.batches[102][0]->sent_leader_epoch, 1);
}

TEST_F(AccumulatorTest, DeliveryTimeout_Expires) {
  AccumulatorConfig c;
  c.linger_ms = 1000;
  c.delivery_timeout_ms = 100;
  Make(c);
  ASSERT_TRUE(Append(0, "x", 0).ok());
  EXPECT_TRUE(acc_->RemoveExpired(99).empty());
  EXPECT_EQ(acc_->RemoveExpired(100).size(), 1u);
  EXPECT_FALSE(acc_->HasQueued());
}

TEST_F(AccumulatorTest, Flush_MakesEverythingReadyAndWaitsForCompletion) {
  AccumulatorConfig c;
  c.linger_ms = 100000;
  Make(c);
  ASSERT_TRUE(Append(0, "x", 0).ok());
  const uint64_t mark = acc_->BeginFlush();
  auto d = Drain(0);
  ASSERT_EQ(Count(d), 1u);
  std::atomic<bool> flushed{false};
  std::thread flusher([&] {
    acc_->AwaitFlush(mark);
    flushed = true;
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(flushed);
  acc_->Deallocate(*d.batches[101][0]);
  flusher.join();
  acc_->EndFlush();
  EXPECT_TRUE(flushed);
}

TEST_F(AccumulatorTest, Closed_RefusesAppends) {
  Make({});
  acc_->Close();
  auto r = Append(0, "x", 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace strand::client
