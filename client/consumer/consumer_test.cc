// Tests the Consumer against FakeBrokerCluster: what a record carries, auto.offset.reset
// (earliest, latest, none), Seek / SeekToBeginning / SeekToEnd / Position, out-of-range resets,
// OffsetsForTimes and Beginning/EndOffsets, max.poll.records, following a leader change (epoch
// fencing), follower fetching by client.rack, every codec from the real Producer, Wakeup.
#include "strand/consumer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "client/testing/fake_broker.h"
#include "strand/producer.h"

namespace strand::client {
namespace {

using namespace std::chrono_literals;
using testing::FakeBrokerCluster;

const TopicPartition kT0{"t", 0};
const TopicPartition kT1{"t", 1};

std::vector<std::string> Values(int from, int to) {
  std::vector<std::string> v;
  for (int i = from; i < to; ++i) v.push_back("v" + std::to_string(i));
  return v;
}

class ConsumerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Consumer> Make(Properties extra = {}) {
    Properties p = {{"bootstrap.servers", cluster_.bootstrap()},
                    {"fetch.max.wait.ms", "50"},
                    {"retry.backoff.ms", "10"},
                    {"default.api.timeout.ms", "5000"}};
    for (auto& [k, v] : extra) p[k] = v;
    auto consumer = Consumer::Create(p);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    return consumer.ok() ? *std::move(consumer) : nullptr;
  }
  // Polls until `count` records came (or 10 s).
  std::vector<ConsumerRecord> PollN(Consumer& c, size_t count) {
    std::vector<ConsumerRecord> out;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
      auto records = c.Poll(100ms);
      EXPECT_TRUE(records.ok()) << records.status();
      if (!records.ok()) break;
      for (auto& r : *records) out.push_back(std::move(r));
    }
    return out;
  }

  FakeBrokerCluster cluster_;
};

TEST_F(ConsumerTest, Earliest_RecordsCarryEverything) {
  cluster_.CreateTopic("t", 2);
  cluster_.AppendValues("t", 0, Values(0, 10), 5000);
  cluster_.AppendValues("t", 1, Values(100, 105), 9000, /*with_keys=*/false);
  auto c = Make({{"auto.offset.reset", "earliest"}});
  ASSERT_TRUE(c->Assign({{"t", 0}, {"t", 1}}).ok());
  auto records = PollN(*c, 15);
  ASSERT_EQ(records.size(), 15u);
  std::map<int32_t, std::vector<const ConsumerRecord*>> by_partition;
  for (const auto& r : records) by_partition[r.partition()].push_back(&r);
  ASSERT_EQ(by_partition[0].size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    const ConsumerRecord& r = *by_partition[0][i];
    EXPECT_EQ(r.topic(), "t");
    EXPECT_EQ(r.offset(), static_cast<int64_t>(i));
    EXPECT_EQ(*r.key(), "key-" + std::to_string(i));
    EXPECT_EQ(*r.value(), "v" + std::to_string(i));
    EXPECT_EQ(r.timestamp_ms(), 5000 + static_cast<int64_t>(i));
    EXPECT_EQ(r.timestamp_type(), TimestampType::kCreateTime);
  }
  EXPECT_FALSE(by_partition[1][0]->key().has_value());
  EXPECT_EQ(*c->Position(kT0), 10);
  EXPECT_EQ(*c->Position(kT1), 5);
}

TEST_F(ConsumerTest, Latest_OnlyNewRecords) {
  cluster_.CreateTopic("t", 1);
  cluster_.AppendValues("t", 0, Values(0, 5), 1);
  auto c = Make();  // latest is the default
  ASSERT_TRUE(c->Assign({{"t", 0}}).ok());
  EXPECT_EQ(*c->Position(kT0), 5);
  cluster_.AppendValues("t", 0, Values(5, 8), 1);
  auto records = PollN(*c, 3);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].offset(), 5);
}

TEST_F(ConsumerTest, None_FailsUntilSeek) {
  cluster_.CreateTopic("t", 1);
  cluster_.AppendValues("t", 0, Values(0, 5), 1);
  auto c = Make({{"auto.offset.reset", "none"}});
  ASSERT_TRUE(c->Assign({{"t", 0}}).ok());
  auto polled = c->Poll(100ms);
  ASSERT_FALSE(polled.ok());
  EXPECT_EQ(KafkaErrorOf(polled.status()), KafkaError::kOffsetOutOfRange);
  EXPECT_THAT(std::string(polled.status().message()), ::testing::HasSubstr("t-0"));
  ASSERT_TRUE(c->Seek({"t", 0}, 2).ok());
  auto records = PollN(*c, 3);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].offset(), 2);
  // Out of range with none: an error, not a silent jump.
  ASSERT_TRUE(c->Seek({"t", 0}, 50).ok());
  bool failed = false;
  for (int i = 0; i < 20 && !failed; ++i) {
    auto r = c->Poll(50ms);
    failed = !r.ok() && KafkaErrorOf(r.status()) == KafkaError::kOffsetOutOfRange;
  }
  EXPECT_TRUE(failed);
}

TEST_F(ConsumerTest, SeekPositionBeginningEnd) {
  cluster_.CreateTopic("t", 1);
  cluster_.AppendValues("t", 0, Values(0, 20), 1);
  auto c = Make({{"auto.offset.reset", "earliest"}});
  ASSERT_TRUE(c->Assign({{"t", 0}}).ok());
  ASSERT_TRUE(c->Seek({"t", 0}, 7).ok());
  EXPECT_EQ(*c->Position(kT0), 7);
  auto records = PollN(*c, 13);
  ASSERT_EQ(records.size(), 13u);
  EXPECT_EQ(records.front().offset(), 7);
  ASSERT_TRUE(c->SeekToBeginning({}).ok());
  EXPECT_EQ(*c->Position(kT0), 0);
  ASSERT_TRUE(c->SeekToEnd({{"t", 0}}).ok());
  EXPECT_EQ(*c->Position(kT0), 20);
  EXPECT_FALSE(c->Seek({"other", 0}, 1).ok());
  EXPECT_EQ((*c->BeginningOffsets({kT0}))[kT0], 0);
  EXPECT_EQ((*c->EndOffsets({kT0}))[kT0], 20);
}

TEST_F(ConsumerTest, OutOfRange_ResetsToEarliest) {
  cluster_.CreateTopic("t", 1);
  cluster_.AppendValues("t", 0, Values(0, 5), 1);
  cluster_.AppendValues("t", 0, Values(5, 10), 1);
  cluster_.DeleteRecordsBefore("t", 0, 5);  // the first batch is gone
  auto c = Make({{"auto.offset.reset", "earliest"}});
  ASSERT_TRUE(c->Assign({{"t", 0}}).ok());
  ASSERT_TRUE(c->Seek({"t", 0}, 1).ok());  // below the log start
  auto records = PollN(*c, 5);
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0].offset(), 5);
}

TEST_F(ConsumerTest, OffsetsForTimes) {
  cluster_.CreateTopic("t", 2);
  cluster_.AppendValues("t", 0, Values(0, 10), 1000);  // timestamps 1000..1009
  auto c = Make();
  auto found = c->OffsetsForTimes({{kT0, 1004}, {kT1, 0}});
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE((*found)[kT0].has_value());
  EXPECT_EQ((*found)[kT0]->offset, 4);
  EXPECT_FALSE((*found)[kT1].has_value());  // an empty partition
  found = c->OffsetsForTimes({{kT0, 0}});
  ASSERT_TRUE(found.ok());
  EXPECT_EQ((*found)[kT0]->offset, 0);
  found = c->OffsetsForTimes({{kT0, 1004}});
  ASSERT_TRUE(found.ok());
  EXPECT_EQ((*found)[kT0]->timestamp_ms, 1004);
  found = c->OffsetsForTimes({{{"t", 0}, 99999}});
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE((*found)[kT0].has_value());
  // Seek by time: consume from the offset found.
  ASSERT_TRUE(c->Assign({{"t", 0}}).ok());
  ASSERT_TRUE(c->Seek({"t", 0}, 7).ok());
  auto records = PollN(*c, 3);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].timestamp_ms(), 1007);
}

TEST_F(ConsumerTest, MaxPollRecords) {
  cluster_.CreateTopic("t", 1);
  cluster_.AppendValues("t", 0, Values(0, 50), 1);
  auto c = Make({{"auto.offset.reset", "earliest"}, {"max.poll.records", "7"}});
  ASSERT_TRUE(c->Assign({{"t", 0}}).ok());
  size_t total = 0;
  for (int i = 0; i < 100 && total < 50; ++i) {
    auto records = c->Poll(100ms);
    ASSERT_TRUE(records.ok());
    EXPECT_LE(records->size(), 7u);
    for (const auto& r : *records) EXPECT_EQ(r.offset(), static_cast<int64_t>(total++));
  }
  EXPECT_EQ(total, 50u);
}

TEST_F(ConsumerTest, FollowsALeaderChange) {
  cluster_.CreateTopic("t", 1);
  cluster_.AppendValues("t", 0, Values(0, 10), 1);
  auto c = Make({{"auto.offset.reset", "earliest"}, {"metadata.max.age.ms", "600000"}});
  ASSERT_TRUE(c->Assign({{"t", 0}}).ok());
  ASSERT_EQ(PollN(*c, 10).size(), 10u);
  const int32_t old_leader = cluster_.Leader("t", 0);
  const int32_t new_leader = cluster_.Replicas("t", 0)[1];
  cluster_.SetLeader("t", 0, new_leader);
  cluster_.StopBroker(old_leader);
  cluster_.AppendValues("t", 0, Values(10, 20), 1);
  auto records = PollN(*c, 10);
  ASSERT_EQ(records.size(), 10u);
  EXPECT_EQ(records[0].offset(), 10);
  EXPECT_GT(cluster_.Calls("Fetch", new_leader), 0);
}

TEST_F(ConsumerTest, FencedLeaderEpoch_RefreshesAndContinues) {
  cluster_.CreateTopic("t", 1);
  cluster_.AppendValues("t", 0, Values(0, 5), 1);
  auto c = Make({{"auto.offset.reset", "earliest"}});
  ASSERT_TRUE(c->Assign({{"t", 0}}).ok());
  ASSERT_EQ(PollN(*c, 5).size(), 5u);
  // Same leader, new epoch: the consumer's epoch is stale and fenced until it refreshes.
  cluster_.SetLeader("t", 0, cluster_.Leader("t", 0));
  cluster_.AppendValues("t", 0, Values(5, 8), 1);
  EXPECT_EQ(PollN(*c, 3).size(), 3u);
}

TEST_F(ConsumerTest, ClientRack_FetchesFromTheReplicaInItsRack) {
  cluster_.CreateTopic("t", 1);
  cluster_.AppendValues("t", 0, Values(0, 10), 1);
  const int32_t follower = cluster_.Replicas("t", 0)[2];
  cluster_.SetRack(follower, "near");
  auto c = Make({{"auto.offset.reset", "earliest"}, {"client.rack", "near"}});
  ASSERT_TRUE(c->Assign({{"t", 0}}).ok());
  ASSERT_EQ(PollN(*c, 10).size(), 10u);
  EXPECT_GT(cluster_.Calls("Fetch", follower), 0);
  EXPECT_EQ(cluster_.last_fetch_rack(), "near");
}

TEST_F(ConsumerTest, EveryCodecFromTheProducer) {
  cluster_.CreateTopic("t", 1);
  const std::vector<std::string> codecs = {"none", "gzip", "snappy", "lz4", "zstd"};
  for (const std::string& codec : codecs) {
    auto producer = Producer::Create(
        {{"bootstrap.servers", cluster_.bootstrap()}, {"compression.type", codec}});
    ASSERT_TRUE(producer.ok());
    for (int i = 0; i < 100; ++i) {
      ProducerRecord r;
      r.topic = "t";
      r.key = codec;
      r.value = codec + "-" + std::to_string(i);
      r.headers = {{"codec", codec}};
      ASSERT_TRUE((*producer)->Send(r, nullptr).ok());
    }
    (*producer)->Flush();
  }
  auto c = Make({{"auto.offset.reset", "earliest"}});
  ASSERT_TRUE(c->Assign({{"t", 0}}).ok());
  auto records = PollN(*c, 500);
  ASSERT_EQ(records.size(), 500u);
  for (size_t i = 0; i < records.size(); ++i) {
    const std::string& codec = codecs[i / 100];
    EXPECT_EQ(*records[i].value(), codec + "-" + std::to_string(i % 100));
    EXPECT_EQ(*records[i].headers()[0].value, codec);
  }
}

TEST_F(ConsumerTest, WakeupAndSubscribe) {
  cluster_.CreateTopic("t", 1);
  auto c = Make();
  ASSERT_TRUE(c->Assign({{"t", 0}}).ok());
  std::thread waker([&] {
    std::this_thread::sleep_for(100ms);
    c->Wakeup();
  });
  const auto start = std::chrono::steady_clock::now();
  auto r = c->Poll(10s);
  waker.join();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  // Groups need a group.id (consumer_group_test.cc covers them).
  EXPECT_EQ(KafkaErrorOf(c->Subscribe({"t"})), KafkaError::kInvalidGroupId);
  EXPECT_EQ(KafkaErrorOf(c->CommitSync()), KafkaError::kInvalidGroupId);
}

TEST_F(ConsumerTest, UnknownTopicAndUnreachable) {
  auto c = Make({{"default.api.timeout.ms", "300"}});
  EXPECT_EQ(KafkaErrorOf(c->PartitionCount("nosuch").status()),
            KafkaError::kUnknownTopicOrPartition);
  auto dead =
      Consumer::Create({{"bootstrap.servers", "127.0.0.1:1"}, {"default.api.timeout.ms", "300"}});
  ASSERT_TRUE(dead.ok());
  EXPECT_EQ(KafkaErrorOf((*dead)->PartitionCount("t").status()), KafkaError::kNetworkException);
}

}  // namespace
}  // namespace strand::client
