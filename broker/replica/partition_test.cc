// Tests Partition on real logs (a LogManager in a temporary directory, with its group-commit
// flusher): acks=all answered only once the ISR is durable, min.insync.replicas, idempotent
// retries answered with original offsets, leader-epoch fencing (KIP-320), a leader losing its
// role failing waiters, follower appends and divergence truncation, and producer state rebuilt
// after a restart.
#include "broker/replica/partition.h"

#include <filesystem>
#include <fstream>
#include <future>

#include <gtest/gtest.h>

#include "record/record_batch_builder.h"

namespace strand::broker {
namespace {

const NodeId kSelf(1), kB(2);

class PartitionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/strand-partition-XXXXXX";
    dir_ = mkdtemp(tmpl);
    Open();
  }
  void TearDown() override {
    partition_.reset();
    manager_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open() {
    storage::LogManagerConfig config;
    config.data_dir = dir_;
    config.cleaner_threads = 0;
    auto m = storage::LogManager::Open(config, storage::LogConfig(), {});
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = *std::move(m);
    auto log = manager_->GetOrCreateLog(tp_, "test-topic-id");
    ASSERT_TRUE(log.ok());
    partition_ = std::make_shared<Partition>(tp_, *log, kSelf, [](const auto&) {});
  }

  static PartitionAssignment Assign(int epoch, std::vector<NodeId> isr,
                                    std::vector<NodeId> replicas = {kSelf, kB}) {
    return PartitionAssignment{std::string(16, 't'), kSelf, LeaderEpoch(epoch), 0, replicas, isr};
  }

  static ByteBuffer Batch(int records, int64_t producer = -1, int32_t sequence = -1) {
    record::BatchOptions o;
    o.producer_id = ProducerId(producer);
    o.producer_epoch = ProducerEpoch(producer >= 0 ? 0 : -1);
    o.base_sequence = sequence;
    record::RecordBatchBuilder b(o);
    for (int i = 0; i < records; ++i) b.Append(1'700'000'000'000, "k", "value");
    return *b.Build();
  }

  ProduceOutcome Produce(ByteBuffer batch, int16_t acks, int64_t deadline = INT64_MAX) {
    std::promise<ProduceOutcome> p;
    auto f = p.get_future();
    partition_->Produce(batch.span(), acks, deadline, [&](ProduceOutcome o) { p.set_value(o); });
    return f.get();
  }

  // Produce without waiting for the answer (the batch is copied: the partition may hold it).
  std::future<ProduceOutcome> ProduceAsync(ByteBuffer batch, int16_t acks) {
    auto p = std::make_shared<std::promise<ProduceOutcome>>();
    auto f = p->get_future();
    partition_->Produce(batch.span(), acks, INT64_MAX, [p](ProduceOutcome o) { p->set_value(o); });
    return f;
  }
  static int64_t NowMs() { return SystemClock::Instance().NowMonotonicMs(); }

  std::string dir_;
  storage::TopicPartition tp_{"t", 0};
  std::unique_ptr<storage::LogManager> manager_;
  std::shared_ptr<Partition> partition_;
};

TEST_F(PartitionTest, AcksAll_AnsweredOnceFollowerIsDurable) {
  ASSERT_TRUE(partition_->BecomeLeader(Assign(1, {kSelf, kB}), {}, 0).ok());
  auto batch = Batch(3);
  std::promise<ProduceOutcome> p;
  auto f = p.get_future();
  partition_->Produce(batch.span(), -1, INT64_MAX, [&](ProduceOutcome o) { p.set_value(o); });
  EXPECT_EQ(f.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  // The follower fetched the batch but has not fsynced it: still waiting.
  partition_->FollowerFetch(kB, Offset(3), LeaderEpoch(1), Offset(0), LeaderEpoch(1), 1 << 20, 1);
  EXPECT_EQ(f.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  partition_->FollowerFetch(kB, Offset(3), LeaderEpoch(1), Offset(3), LeaderEpoch(1), 1 << 20, 2);
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  ProduceOutcome o = f.get();
  EXPECT_EQ(o.error, KafkaError::kNone);
  EXPECT_EQ(o.base_offset, Offset(0));
  EXPECT_EQ(partition_->high_watermark(), Offset(3));
}

TEST_F(PartitionTest, MinInsyncReplicas_RefusesAcksAll) {
  ASSERT_TRUE(partition_->BecomeLeader(Assign(1, {kSelf}), {.min_insync_replicas = 2}, 0).ok());
  EXPECT_EQ(Produce(Batch(1), -1).error, KafkaError::kNotEnoughReplicas);
  EXPECT_EQ(Produce(Batch(1), 1).error, KafkaError::kNone);  // acks=1 is not held to it
  // ...and the high watermark does not move while the ISR is too small.
  EXPECT_TRUE(partition_->log()->WaitDurable(Offset(0), 5000).ok());
  partition_->Tick(1);
  EXPECT_EQ(partition_->high_watermark(), Offset(0));
}

TEST_F(PartitionTest, SingleReplica_AcksAllAfterOwnFsync) {
  ASSERT_TRUE(partition_->BecomeLeader(Assign(1, {kSelf}, {kSelf}), {}, 0).ok());
  ProduceOutcome o = Produce(Batch(2), -1);
  EXPECT_EQ(o.error, KafkaError::kNone);
  EXPECT_GE(partition_->log()->DurableOffset(), Offset(2));
}

TEST_F(PartitionTest, IdempotentRetry_AnsweredWithOriginalOffsets) {
  ASSERT_TRUE(partition_->BecomeLeader(Assign(1, {kSelf}, {kSelf}), {}, 0).ok());
  EXPECT_EQ(Produce(Batch(5, 42, 0), -1).base_offset, Offset(0));
  EXPECT_EQ(Produce(Batch(5, 42, 5), -1).base_offset, Offset(5));
  ProduceOutcome retry = Produce(Batch(5, 42, 0), -1);
  EXPECT_EQ(retry.error, KafkaError::kNone);
  EXPECT_EQ(retry.base_offset, Offset(0));
  EXPECT_EQ(partition_->log()->LogEndOffset(), Offset(10));  // not written twice
  // A gap: held for the batches before it, which never come, then refused.
  auto gap = ProduceAsync(Batch(5, 42, 20), -1);
  EXPECT_EQ(gap.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  partition_->Tick(NowMs() + Partition::kInOrderWaitMs + 1);
  ASSERT_EQ(gap.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(gap.get().error, KafkaError::kOutOfOrderSequenceNumber);
  EXPECT_EQ(partition_->log()->LogEndOffset(), Offset(10));
  // A repeat that is not one of the last batches is refused at once.
  EXPECT_EQ(Produce(Batch(5, 42, 2), -1).error, KafkaError::kOutOfOrderSequenceNumber);
}

// In-order produce: one producer's batches that overtake the ones it sent before them (the
// requests of a connection are handled concurrently) are held, then appended in sequence order.
TEST_F(PartitionTest, OvertakingBatches_AppendedInSequenceOrder) {
  ASSERT_TRUE(partition_->BecomeLeader(Assign(1, {kSelf}, {kSelf}), {}, 0).ok());
  auto third = ProduceAsync(Batch(5, 42, 10), 1);
  auto second = ProduceAsync(Batch(5, 42, 5), 1);
  EXPECT_EQ(third.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  EXPECT_EQ(second.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  EXPECT_EQ(partition_->log()->LogEndOffset(), Offset(0));  // nothing appended out of order
  ProduceOutcome first = Produce(Batch(5, 42, 0), 1);
  EXPECT_EQ(first.error, KafkaError::kNone);
  EXPECT_EQ(first.base_offset, Offset(0));
  ASSERT_EQ(second.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  ASSERT_EQ(third.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  ProduceOutcome b = second.get(), c = third.get();
  EXPECT_EQ(b.error, KafkaError::kNone);
  EXPECT_EQ(b.base_offset, Offset(5));
  EXPECT_EQ(c.error, KafkaError::kNone);
  EXPECT_EQ(c.base_offset, Offset(10));
  EXPECT_EQ(partition_->log()->LogEndOffset(), Offset(15));
  // acks=all batches held the same way are answered once committed.
  auto late = ProduceAsync(Batch(1, 42, 16), -1);
  EXPECT_EQ(Produce(Batch(1, 42, 15), -1).base_offset, Offset(15));
  ASSERT_EQ(late.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(late.get().base_offset, Offset(16));
}

TEST_F(PartitionTest, OvertakingBatches_ProducerWithoutStateWaitsForItsFirst) {
  ASSERT_TRUE(partition_->BecomeLeader(Assign(1, {kSelf}, {kSelf}), {}, 0).ok());
  auto second = ProduceAsync(Batch(2, 7, 2), 1);  // UNKNOWN_PRODUCER_ID until sequence 0 lands
  EXPECT_EQ(second.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  EXPECT_EQ(Produce(Batch(2, 7, 0), 1).base_offset, Offset(0));
  ASSERT_EQ(second.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(second.get().base_offset, Offset(2));
}

TEST_F(PartitionTest, HeldBatches_AnsweredWhenTheirGapCannotFill) {
  ASSERT_TRUE(partition_->BecomeLeader(Assign(1, {kSelf}, {kSelf}), {}, 0).ok());
  ASSERT_EQ(Produce(Batch(5, 42, 0), 1).error, KafkaError::kNone);
  // An earlier batch refused (a repeat of sequences 2..6): the held one can never follow.
  auto held = ProduceAsync(Batch(5, 42, 10), 1);
  EXPECT_EQ(held.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  EXPECT_EQ(Produce(Batch(5, 42, 2), 1).error, KafkaError::kOutOfOrderSequenceNumber);
  ASSERT_EQ(held.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(held.get().error, KafkaError::kOutOfOrderSequenceNumber);
  // At most kHeldPerProducer are held; the next is refused at once.
  std::vector<std::future<ProduceOutcome>> many;
  for (size_t i = 0; i < Partition::kHeldPerProducer; ++i) {
    many.push_back(ProduceAsync(Batch(1, 42, 10 + static_cast<int32_t>(i)), 1));
  }
  EXPECT_EQ(Produce(Batch(1, 42, 20), 1).error, KafkaError::kOutOfOrderSequenceNumber);
  for (auto& f : many)
    EXPECT_EQ(f.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  // Losing the leadership answers them all.
  ASSERT_TRUE(partition_
                  ->BecomeFollower(
                      PartitionAssignment{
                          std::string(16, 't'), kB, LeaderEpoch(2), 0, {kSelf, kB}, {kSelf, kB}},
                      {})
                  .ok());
  for (auto& f : many) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    EXPECT_EQ(f.get().error, KafkaError::kNotLeaderOrFollower);
  }
  EXPECT_EQ(partition_->log()->LogEndOffset(), Offset(5));
}

TEST_F(PartitionTest, ProducerState_SurvivesRestart) {
  ASSERT_TRUE(partition_->BecomeLeader(Assign(1, {kSelf}, {kSelf}), {}, 0).ok());
  ASSERT_EQ(Produce(Batch(5, 42, 0), -1).error, KafkaError::kNone);
  partition_.reset();
  manager_.reset();
  Open();  // replays the log: no snapshot was written
  ASSERT_TRUE(partition_->BecomeLeader(Assign(2, {kSelf}, {kSelf}), {}, 0).ok());
  ProduceOutcome retry = Produce(Batch(5, 42, 0), -1);
  EXPECT_EQ(retry.base_offset, Offset(0));
  EXPECT_EQ(partition_->log()->LogEndOffset(), Offset(5));
}

TEST_F(PartitionTest, Fencing_StaleAndFutureEpochs) {
  ASSERT_TRUE(partition_->BecomeLeader(Assign(5, {kSelf, kB}), {}, 0).ok());
  EXPECT_EQ(partition_->ConsumerRead(Offset(0), LeaderEpoch(4), 1 << 20, false).error,
            KafkaError::kFencedLeaderEpoch);
  EXPECT_EQ(partition_->ConsumerRead(Offset(0), LeaderEpoch(6), 1 << 20, false).error,
            KafkaError::kUnknownLeaderEpoch);
  EXPECT_EQ(partition_->ConsumerRead(Offset(0), LeaderEpoch(5), 1 << 20, false).error,
            KafkaError::kNone);
  EXPECT_EQ(
      partition_
          ->FollowerFetch(kB, Offset(0), kNoLeaderEpoch, Offset(0), LeaderEpoch(4), 1 << 20, 0)
          .error,
      KafkaError::kFencedLeaderEpoch);
}

TEST_F(PartitionTest, LosingLeadership_FailsWaitersNotLeader) {
  ASSERT_TRUE(partition_->BecomeLeader(Assign(1, {kSelf, kB}), {}, 0).ok());
  std::promise<ProduceOutcome> p;
  auto batch = Batch(1);
  partition_->Produce(batch.span(), -1, INT64_MAX, [&](ProduceOutcome o) { p.set_value(o); });
  PartitionAssignment follower = Assign(2, {kB, kSelf});
  follower.leader = kB;
  ASSERT_TRUE(partition_->BecomeFollower(follower, {}).ok());
  ProduceOutcome o = p.get_future().get();
  EXPECT_EQ(o.error, KafkaError::kNotLeaderOrFollower);
  EXPECT_EQ(o.leader, kB);
  EXPECT_EQ(Produce(Batch(1), 1).error, KafkaError::kNotLeaderOrFollower);
}

TEST_F(PartitionTest, CheckStranded_CutOffLeaderWhoseFollowersLeftGivesUp) {
  ASSERT_TRUE(partition_->BecomeLeader(Assign(1, {kSelf, kB}), {}, 0).ok());
  // The follower fetched at 100 ms; an acks=all write waits for it.
  partition_->FollowerFetch(kB, Offset(0), LeaderEpoch(1), Offset(0), LeaderEpoch(1), 1 << 20, 100);
  std::promise<ProduceOutcome> p;
  auto f = p.get_future();
  auto batch = Batch(1);
  partition_->Produce(batch.span(), -1, INT64_MAX, [&](ProduceOutcome o) { p.set_value(o); });
  // Controllers silent but the follower fetched recently: the controllers are the ones down.
  partition_->CheckStranded(true, 100 + Partition::kStrandedAfterMs - 1);
  EXPECT_FALSE(partition_->stranded());
  EXPECT_EQ(f.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  // Not cut off: nothing changes however long the follower has been gone.
  partition_->CheckStranded(false, 100 + 10 * Partition::kStrandedAfterMs);
  EXPECT_FALSE(partition_->stranded());
  // Cut off and the follower gone: the waiter fails at once, produce and reads are refused.
  partition_->CheckStranded(true, 100 + Partition::kStrandedAfterMs);
  EXPECT_TRUE(partition_->stranded());
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(f.get().error, KafkaError::kNotLeaderOrFollower);
  EXPECT_EQ(Produce(Batch(1), -1).error, KafkaError::kNotLeaderOrFollower);
  EXPECT_EQ(partition_->ConsumerRead(Offset(0), LeaderEpoch(1), 1 << 20, false).error,
            KafkaError::kNotLeaderOrFollower);
  // The controllers answer again: it leads as before (the metadata will say if it still does).
  partition_->CheckStranded(false, 5000);
  EXPECT_FALSE(partition_->stranded());
  EXPECT_EQ(Produce(Batch(1), 1).error, KafkaError::kNone);
}

TEST_F(PartitionTest, CheckStranded_AloneInIsrKeepsLeading) {
  ASSERT_TRUE(partition_->BecomeLeader(Assign(1, {kSelf}), {}, 0).ok());
  partition_->CheckStranded(true, 60'000);
  EXPECT_FALSE(partition_->stranded());  // no other replica can have been elected
  EXPECT_EQ(Produce(Batch(1), 1).error, KafkaError::kNone);
}

TEST_F(PartitionTest, AcksAllTimesOut_WhenFollowerSilent) {
  ASSERT_TRUE(partition_->BecomeLeader(Assign(1, {kSelf, kB}), {}, 0).ok());
  std::promise<ProduceOutcome> p;
  auto batch = Batch(1);
  partition_->Produce(batch.span(), -1, 100, [&](ProduceOutcome o) { p.set_value(o); });
  partition_->Tick(101);
  EXPECT_EQ(p.get_future().get().error, KafkaError::kRequestTimedOut);
}

TEST_F(PartitionTest, Follower_AppendsAndTruncatesDivergentSuffix) {
  PartitionAssignment a = Assign(3, {kB, kSelf});
  a.leader = kB;
  ASSERT_TRUE(partition_->BecomeFollower(a, {}).ok());
  // Epoch-2 batches the old leader wrote, offsets 0-5.
  auto first = Batch(6);
  record::SetPartitionLeaderEpoch(first.span(), LeaderEpoch(2));
  record::UpdateBatchCrc(first.span());
  ASSERT_TRUE(partition_->AppendFromLeader(first.span(), Offset(4), Offset(0)).ok());
  EXPECT_EQ(partition_->high_watermark(), Offset(4));
  // The new leader's epoch-2 data ended at 4: offsets 4 and 5 must go.
  auto end = partition_->Truncate(Divergence{LeaderEpoch(2), Offset(4)});
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, Offset(0));  // the one batch straddles 4, so it goes whole
}

TEST_F(PartitionTest, Follower_CorruptBatchIsRefusedCutBackAndFetchedAgain) {
  PartitionAssignment a = Assign(3, {kB, kSelf});
  a.leader = kB;
  ASSERT_TRUE(partition_->BecomeFollower(a, {}).ok());
  std::vector<size_t> sizes;
  for (int i = 0; i < 3; ++i) {  // offsets 0-1, 2-3, 4-5
    auto batch = Batch(2);
    record::SetBaseOffset(batch.span(), Offset(2 * i));
    record::SetPartitionLeaderEpoch(batch.span(), LeaderEpoch(3));
    record::UpdateBatchCrc(batch.span());
    sizes.push_back(batch.size());
    ASSERT_TRUE(partition_->AppendFromLeader(batch.span(), Offset(2 * i + 2), Offset(0)).ok());
  }
  // Down, a bit of the middle batch's records flips on disk, up again: the batches this
  // process appended were checked then; a restart reads them afresh.
  partition_.reset();
  manager_.reset();
  {
    const std::string segment = dir_ + "/t-0/00000000000000000000.log";
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    const auto at = static_cast<std::streamoff>(sizes[0] + sizes[1] - 3);
    f.seekg(at);
    char byte = 0;
    f.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x10);
    f.seekp(at);
    f.write(&byte, 1);
  }
  Open();
  ASSERT_TRUE(partition_->BecomeFollower(a, {}).ok());
  ASSERT_EQ(partition_->log()->LogEndOffset(), Offset(6));
  // The good batch before it is served; the corrupt one never is.
  auto good = partition_->ConsumerRead(Offset(0), LeaderEpoch(3), 1 << 20, true);
  EXPECT_EQ(good.error, KafkaError::kNone) << good.message;
  EXPECT_EQ(good.data.next_offset, Offset(2));
  auto bad = partition_->ConsumerRead(Offset(2), LeaderEpoch(3), 1 << 20, true);
  EXPECT_NE(bad.error, KafkaError::kNone);
  EXPECT_NE(bad.message.find("CRC"), std::string::npos) << bad.message;
  EXPECT_TRUE(bad.data.records.empty());
  // Never cut while in the ISR (the high watermark counts on this copy): reported offline
  // until the controllers take it out, then cut back to the corrupt batch.
  EXPECT_TRUE(partition_->RepairPending());
  partition_->AdvanceRepair();
  EXPECT_EQ(partition_->log()->LogEndOffset(), Offset(6));
  PartitionAssignment out = a;
  out.isr = {kB};
  out.partition_epoch = a.partition_epoch + 1;
  partition_->UpdateAssignment(out, {}, 0);
  partition_->AdvanceRepair();
  EXPECT_EQ(partition_->log()->LogEndOffset(), Offset(2));
  EXPECT_LE(partition_->high_watermark(), Offset(2));
  // Still reported offline (kept out of the ISR) until fetched back to where it was.
  EXPECT_TRUE(partition_->RepairPending());
  auto again = Batch(4);
  record::SetBaseOffset(again.span(), Offset(2));
  record::SetPartitionLeaderEpoch(again.span(), LeaderEpoch(3));
  record::UpdateBatchCrc(again.span());
  // A fetch sent before the cut answers for offset 6: dropped, nothing appended.
  EXPECT_TRUE(absl::IsAborted(
      partition_->AppendFromLeader(again.span(), Offset(6), Offset(0), Offset(6)).status()));
  EXPECT_EQ(partition_->log()->LogEndOffset(), Offset(2));
  ASSERT_TRUE(partition_->AppendFromLeader(again.span(), Offset(6), Offset(0), Offset(2)).ok());
  partition_->AdvanceRepair();
  EXPECT_FALSE(partition_->RepairPending());
  auto whole = partition_->ConsumerRead(Offset(2), LeaderEpoch(3), 1 << 20, true);
  EXPECT_EQ(whole.error, KafkaError::kNone) << whole.message;
  EXPECT_EQ(whole.data.next_offset, Offset(6));
}

}  // namespace
}  // namespace strand::broker
