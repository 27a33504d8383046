// Tests the Producer end to end against FakeBrokerCluster (three in-process brokers on
// 127.0.0.1): offsets in callbacks, partitioning (key, explicit, sticky), every codec, acks,
// headers and timestamps, idempotent batch fields, Flush, and the errors Send returns at once
// (unknown topic, bad partition, too large, unreachable cluster, closed).
#include "strand/producer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "client/producer/partitioner.h"
#include "client/testing/deliveries.h"
#include "client/testing/fake_broker.h"
#include "tests/integration/test_process.h"

namespace strand::client {
namespace {

using namespace std::chrono_literals;
using testing::Deliveries;
using testing::FakeBrokerCluster;
using ::testing::HasSubstr;

class ProducerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Producer> Make(Properties extra = {}) {
    Properties p = {{"bootstrap.servers", cluster_.bootstrap()}, {"linger.ms", "2"}};
    for (auto& [k, v] : extra) p[k] = v;
    auto producer = Producer::Create(p);
    EXPECT_TRUE(producer.ok()) << producer.status();
    return producer.ok() ? *std::move(producer) : nullptr;
  }
  ProducerRecord Record(const std::string& topic, std::string value,
                        std::optional<std::string> key = std::nullopt) {
    ProducerRecord r;
    r.topic = topic;
    r.value = std::move(value);
    r.key = std::move(key);
    return r;
  }

  FakeBrokerCluster cluster_;
  Deliveries deliveries_;
};

TEST_F(ProducerTest, Send_OffsetsInOrderOnOnePartition) {
  cluster_.CreateTopic("t", 1);
  auto producer = Make();
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(
        producer->Send(Record("t", std::to_string(i)), deliveries_.For(std::to_string(i))).ok());
  }
  producer->Flush();
  auto outcomes = deliveries_.outcomes();
  ASSERT_EQ(outcomes.size(), 100u);
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o.result.ok()) << o.result.status();
    EXPECT_EQ(o.result->offset, std::stoll(o.value));
    EXPECT_EQ(o.result->partition, 0);
  }
  auto records = cluster_.Records("t", 0);
  ASSERT_EQ(records.size(), 100u);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(*records[static_cast<size_t>(i)].value, std::to_string(i));
  EXPECT_EQ(producer->metrics().records_sent, 100);
}

TEST_F(ProducerTest, KeyedRecords_GoWhereMurmur2Says) {
  cluster_.CreateTopic("orders", 6);
  auto producer = Make();
  for (int i = 0; i < 60; ++i) {
    const std::string key = "customer-" + std::to_string(i);
    ASSERT_TRUE(producer->Send(Record("orders", "v", key), deliveries_.For(key)).ok());
  }
  producer->Flush();
  for (const auto& o : deliveries_.outcomes()) {
    ASSERT_TRUE(o.result.ok());
    EXPECT_EQ(o.result->partition, PartitionForKey(o.value, 6)) << o.value;
  }
  for (int p = 0; p < 6; ++p) {
    for (const auto& r : cluster_.Records("orders", p)) EXPECT_EQ(PartitionForKey(*r.key, 6), p);
  }
}

TEST_F(ProducerTest, ExplicitPartitionAndBadPartition) {
  cluster_.CreateTopic("t", 3);
  auto producer = Make();
  ProducerRecord r = Record("t", "x", "key-ignored");
  r.partition = 2;
  ASSERT_TRUE(producer->Send(r, deliveries_.For("x")).ok());
  producer->Flush();
  ASSERT_EQ(deliveries_.outcomes().size(), 1u);
  EXPECT_EQ(deliveries_.outcomes()[0].result->partition, 2);
  r.partition = 3;
  absl::Status bad = producer->Send(r, deliveries_.For("y"));
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("partition 3 of topic t does not exist"));
}

TEST_F(ProducerTest, KeylessRecords_StickyPerBatchAcrossPartitions) {
  cluster_.CreateTopic("t", 4);
  auto producer = Make({{"batch.size", "1024"}, {"linger.ms", "50"}});
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(producer->Send(Record("t", std::string(100, 'x')), deliveries_.For("")).ok());
  }
  producer->Flush();
  std::set<int32_t> used;
  int switches = 0;
  int32_t previous = -1;
  for (const auto& o : deliveries_.outcomes()) {
    ASSERT_TRUE(o.result.ok());
    used.insert(o.result->partition);
  }
  // Callbacks come per batch, so consecutive runs of a partition show the sticky batches.
  for (const auto& o : deliveries_.outcomes()) {
    switches += previous >= 0 && o.result->partition != previous;
    previous = o.result->partition;
  }
  EXPECT_GE(used.size(), 3u);
  EXPECT_LE(switches, 40);  // ~8 records per 1 KiB batch: about 25 batches
}

TEST_F(ProducerTest, EveryCodecStoredAndReadable) {
  cluster_.CreateTopic("t", 1);
  const std::vector<std::string> codecs = {"none", "gzip", "snappy", "lz4", "zstd"};
  for (size_t c = 0; c < codecs.size(); ++c) {
    auto producer = Make({{"compression.type", codecs[c]}});
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(
          producer->Send(Record("t", codecs[c] + "-" + std::string(200, 'a' + i % 26)), nullptr)
              .ok());
    }
    producer->Flush();
  }
  auto records = cluster_.Records("t", 0);
  ASSERT_EQ(records.size(), 250u);
  for (size_t c = 0; c < codecs.size(); ++c) {
    EXPECT_EQ(records[c * 50].compression, static_cast<int>(c));
    EXPECT_EQ(records[c * 50 + 7].value->substr(0, codecs[c].size()), codecs[c]);
  }
}

TEST_F(ProducerTest, AcksReachTheBroker) {
  cluster_.CreateTopic("t", 1);
  {
    auto producer = Make({{"acks", "1"}});
    ASSERT_TRUE(producer->Send(Record("t", "a"), deliveries_.For("a")).ok());
    producer->Flush();
    EXPECT_EQ(cluster_.last_acks(), 1);
  }
  {
    auto producer = Make({{"acks", "0"}});
    ASSERT_TRUE(producer->Send(Record("t", "b"), deliveries_.For("b")).ok());
    producer->Flush();
    producer->Close();
    EXPECT_EQ(cluster_.last_acks(), 0);
  }
  auto outcomes = deliveries_.outcomes();
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_EQ(outcomes[0].result->offset, 0);
  EXPECT_EQ(outcomes[1].result->offset, -1);  // acks=0: no offset, as in Kafka
  EXPECT_EQ(cluster_.Records("t", 0).size(), 2u);
}

TEST_F(ProducerTest, HeadersTimestampsAndIdempotentFields) {
  cluster_.CreateTopic("t", 1);
  auto producer = Make();
  ProducerRecord r = Record("t", "v", "k");
  r.timestamp_ms = 1'600'000'000'000;
  r.headers = {{"trace", "abc"}, {"empty", std::nullopt}};
  ASSERT_TRUE(producer->Send(r, deliveries_.For("v")).ok());
  ASSERT_TRUE(producer->Send(Record("t", "w"), nullptr).ok());
  producer->Flush();
  EXPECT_EQ(deliveries_.outcomes()[0].result->timestamp_ms, 1'600'000'000'000);
  auto records = cluster_.Records("t", 0);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].timestamp_ms, 1'600'000'000'000);
  ASSERT_EQ(records[0].headers.size(), 2u);
  EXPECT_EQ(records[0].headers[0].first, "trace");
  EXPECT_EQ(*records[0].headers[0].second, "abc");
  EXPECT_FALSE(records[0].headers[1].second.has_value());
  EXPECT_GE(records[0].producer_id, 1000);  // idempotent by default
  EXPECT_EQ(records[0].base_sequence, 0);
  EXPECT_GT(records[1].timestamp_ms, 1'700'000'000'000);  // stamped now
}

TEST_F(ProducerTest, UnknownTopic_FailsAfterMaxBlock) {
  auto producer = Make({{"max.block.ms", "300"}});
  const auto start = std::chrono::steady_clock::now();
  absl::Status s = producer->Send(Record("nosuch", "v"), deliveries_.For("v"));
  EXPECT_EQ(KafkaErrorOf(s), KafkaError::kUnknownTopicOrPartition) << s;
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
  EXPECT_THAT(std::string(s.message()), HasSubstr("nosuch"));
}

TEST_F(ProducerTest, TopicCreatedWhileWaiting_Found) {
  auto producer = Make({{"max.block.ms", "5000"}, {"retry.backoff.ms", "20"}});
  std::thread creator([&] {
    std::this_thread::sleep_for(200ms);
    cluster_.CreateTopic("late", 1);
  });
  absl::Status s = producer->Send(Record("late", "v"), deliveries_.For("v"));
  creator.join();
  EXPECT_TRUE(s.ok()) << s;
  producer->Flush();
  EXPECT_EQ(deliveries_.failures(), 0u);
}

TEST_F(ProducerTest, TooLarge_RejectedAtOnce) {
  cluster_.CreateTopic("t", 1);
  auto producer = Make({{"max.request.size", "2048"}});
  absl::Status s = producer->Send(Record("t", std::string(4096, 'x')), deliveries_.For("v"));
  EXPECT_EQ(KafkaErrorOf(s), KafkaError::kMessageTooLarge);
}

TEST_F(ProducerTest, UnreachableCluster_NetworkException) {
  const std::string dead = "127.0.0.1:" + std::to_string(strand::testing::FreePort());
  auto producer = Producer::Create({{"bootstrap.servers", dead}, {"max.block.ms", "300"}});
  ASSERT_TRUE(producer.ok());
  absl::Status s = (*producer)->Send(Record("t", "v"), deliveries_.For("v"));
  EXPECT_EQ(KafkaErrorOf(s), KafkaError::kNetworkException) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("cannot reach the cluster"));
  EXPECT_THAT(std::string(s.message()), HasSubstr(dead));
}

TEST_F(ProducerTest, Close_RefusesSendsAndFailsWhatCannotBeDelivered) {
  cluster_.CreateTopic("t", 1);
  auto producer = Make({{"linger.ms", "0"}});
  ASSERT_TRUE(producer->Send(Record("t", "a"), deliveries_.For("a")).ok());
  producer->Flush();
  cluster_.SetLeader("t", 0, -1);  // offline: nothing more can be delivered
  ASSERT_TRUE(producer->Send(Record("t", "b"), deliveries_.For("b")).ok());
  producer->Close(100ms);
  ASSERT_EQ(deliveries_.outcomes().size(), 2u);
  EXPECT_TRUE(deliveries_.outcomes()[0].result.ok());
  EXPECT_FALSE(deliveries_.outcomes()[1].result.ok());
  EXPECT_EQ(producer->Send(Record("t", "c"), nullptr).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ProducerTest, ManyThreadsSend) {
  cluster_.CreateTopic("t", 3);
  auto producer = Make();
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        ProducerRecord r = Record("t", std::to_string(t * 1000 + i), "k" + std::to_string(t));
        ASSERT_TRUE(producer->Send(r, deliveries_.For(r.value.value())).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  producer->Flush();
  // The threads race to fetch the topic's metadata; one that finds the fetch already started
  // must not wait for a refresh nobody asks for (it waited max.block.ms, 60 s, once).
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(deliveries_.outcomes().size(), 2000u);
  EXPECT_EQ(deliveries_.failures(), 0u);
  size_t stored = 0;
  for (int p = 0; p < 3; ++p) stored += cluster_.Records("t", p).size();
  EXPECT_EQ(stored, 2000u);
}

}  // namespace
}  // namespace strand::client
