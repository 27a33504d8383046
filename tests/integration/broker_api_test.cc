// The broker's client API on a real cluster (3 controllers, 3 brokers in racks rack-1..3):
// metadata from every broker, produce with each acks setting and its errors, the internal topics
// clients may not create, delete, grow or produce to, idempotent retries, fetch (long poll, byte
// limits, follower fetching by rack), list offsets, the JSON calls, the admin proxy, health and
// reflection.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "common/murmur2.h"
#include "record/record_batch_builder.h"
#include "proto/health/v1/health.grpc.pb.h"
#include "tests/integration/protocol/reflection_client.grpc.pb.h"
#include "tests/integration/strand_cluster.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace bv1 = broker::v1;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Batch(const std::vector<std::string>& values, int64_t timestamp = 0,
                  record::BatchOptions o = {}) {
  record::RecordBatchBuilder b(o);
  for (const auto& v : values) b.Append(timestamp ? timestamp : WallMs(), std::nullopt, v);
  auto built = b.Build();
  return std::string(reinterpret_cast<const char*>(built->data()), built->size());
}

class BrokerApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ClusterOptions o;
    o.racks = true;
    cluster_ = new StrandCluster(o);
    ASSERT_TRUE(cluster_->WaitForBrokers(30s));
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  // Creates a topic and waits until every broker knows its leaders.
  PartitionView Topic(const std::string& name, int partitions = 1,
                      const std::map<std::string, std::string>& configs = {}) {
    EXPECT_EQ(cluster_->CreateTopic(name, partitions, 3, configs), "NONE");
    std::optional<PartitionView> view;
    for (int p = 0; p < partitions; ++p) {
      view = cluster_->WaitForPartition(name, p, 10s, 3);
      EXPECT_TRUE(view.has_value()) << name << "-" << p;
    }
    // Every broker applies the change (metadata propagation).
    for (int id : cluster_->broker_ids()) WaitBrokerKnows(id, name, partitions);
    // And the leaders have taken up their role (brokers apply metadata asynchronously).
    for (int p = 0; p < partitions; ++p) {
      const auto leader = cluster_->WaitForPartition(name, p, 10s, 3);
      const auto deadline = Clock::now() + 10s;
      std::string error;
      while (leader && Clock::now() < deadline) {
        ListOffset(leader->leader, name, p, -1, &error);
        if (error == "NONE") break;
        std::this_thread::sleep_for(5ms);
      }
      EXPECT_EQ(error, "NONE") << name << "-" << p;
    }
    return cluster_->WaitForPartition(name, 0, 10s, 3).value_or(PartitionView{});
  }

  void WaitBrokerKnows(int id, const std::string& topic, int partitions) {
    const auto deadline = Clock::now() + 10s;
    while (Clock::now() < deadline) {
      bv1::MetadataRequest req;
      req.add_topics(topic);
      grpc::ClientContext ctx;
      bv1::MetadataResponse resp;
      if (cluster_->broker(id).Metadata(&ctx, req, &resp).ok() &&
          resp.topics(0).error().code() == 0 &&
          resp.topics(0).partitions_size() == partitions &&
          resp.topics(0).partitions(0).leader() >= 0) {
        return;
      }
      std::this_thread::sleep_for(10ms);
    }
    ADD_FAILURE() << "broker " << id << " never learned " << topic;
  }

  bv1::PartitionProduceResponse Produce(int node, const std::string& topic, int32_t partition,
                                        const std::string& records, int acks = -1) {
    bv1::ProduceRequest req;
    req.set_acks(acks);
    req.set_timeout_ms(10'000);
    auto* t = req.add_topics();
    t->set_topic(topic);
    auto* p = t->add_partitions();
    p->set_partition(partition);
    p->set_records(records);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 15s);
    bv1::ProduceResponse resp;
    EXPECT_TRUE(cluster_->broker(node).Produce(&ctx, req, &resp).ok());
    return resp.topics_size() ? resp.topics(0).partitions(0) : bv1::PartitionProduceResponse{};
  }

  bv1::FetchPartitionResponse Fetch(int node, const std::string& topic, int32_t partition,
                                    int64_t offset, int32_t max_wait_ms = 0,
                                    int32_t partition_max = 1 << 20,
                                    const std::string& rack = "") {
    bv1::FetchRequest req;
    req.set_replica_id(-1);
    req.set_max_wait_ms(max_wait_ms);
    req.set_min_bytes(1);
    req.set_rack_id(rack);
    auto* t = req.add_topics();
    t->set_topic(topic);
    auto* p = t->add_partitions();
    p->set_partition(partition);
    p->set_fetch_offset(offset);
    p->set_current_leader_epoch(-1);
    p->set_partition_max_bytes(partition_max);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 30s);
    bv1::FetchResponse resp;
    EXPECT_TRUE(cluster_->broker(node).Fetch(&ctx, req, &resp).ok());
    return resp.topics_size() ? resp.topics(0).partitions(0) : bv1::FetchPartitionResponse{};
  }

  int64_t ListOffset(int node, const std::string& topic, int32_t partition, int64_t timestamp,
                     std::string* error = nullptr) {
    bv1::ListOffsetsRequest req;
    req.set_replica_id(-1);
    auto* t = req.add_topics();
    t->set_topic(topic);
    auto* p = t->add_partitions();
    p->set_partition(partition);
    p->set_current_leader_epoch(-1);
    p->set_timestamp(timestamp);
    grpc::ClientContext ctx;
    bv1::ListOffsetsResponse resp;
    EXPECT_TRUE(cluster_->broker(node).ListOffsets(&ctx, req, &resp).ok());
    const auto& r = resp.topics(0).partitions(0);
    if (error) *error = r.error().code() ? r.error().name() : "NONE";
    return r.offset();
  }

  static int Follower(const PartitionView& v) {
    for (int32_t r : v.replicas) {
      if (r != v.leader) return r;
    }
    return -1;
  }

  static StrandCluster* cluster_;
};

StrandCluster* BrokerApiTest::cluster_ = nullptr;

TEST_F(BrokerApiTest, MetadataFromEveryBroker) {
  const auto start = Clock::now();
  ASSERT_EQ(cluster_->CreateTopic("meta", 3, 3), "NONE");
  for (int id : cluster_->broker_ids()) WaitBrokerKnows(id, "meta", 3);
  const auto known = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  std::printf("topic created and known to all 3 brokers in %lld ms\n",
              static_cast<long long>(known.count()));
  for (int id : cluster_->broker_ids()) {
    bv1::MetadataRequest req;
    grpc::ClientContext ctx;
    bv1::MetadataResponse resp;
    ASSERT_TRUE(cluster_->broker(id).Metadata(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.cluster_id(), "it");
    EXPECT_GE(resp.controller_id(), 1);
    EXPECT_EQ(resp.brokers_size(), 3);
    const bv1::TopicMetadata* meta = nullptr;
    for (const auto& t : resp.topics()) {
      if (t.name() == "meta") meta = &t;
    }
    ASSERT_NE(meta, nullptr) << "broker " << id;
    EXPECT_EQ(meta->topic_id().size(), 22u);
    ASSERT_EQ(meta->partitions_size(), 3);
    for (const auto& p : meta->partitions()) {
      EXPECT_GE(p.leader(), 101);
      EXPECT_EQ(p.replicas_size(), 3);
      EXPECT_EQ(p.isr_size(), 3);
      EXPECT_EQ(p.offline_replicas_size(), 0);
    }
  }
  bv1::MetadataRequest req;
  req.add_topics("no-such-topic");
  grpc::ClientContext ctx;
  bv1::MetadataResponse resp;
  ASSERT_TRUE(cluster_->broker(101).Metadata(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.topics(0).error().name(), "UNKNOWN_TOPIC_OR_PARTITION");
}

TEST_F(BrokerApiTest, ProduceWithEachAcksAndReadBack) {
  const PartitionView v = Topic("acks");
  int64_t expected = 0;
  for (int acks : {0, 1, -1}) {
    auto r = Produce(v.leader, "acks", 0, Batch({"a", "b", "c"}), acks);
    ASSERT_EQ(r.error().code(), 0) << r.error().message();
    EXPECT_EQ(r.base_offset(), expected) << "acks=" << acks;
    expected += 3;
  }
  // Committed (below the high watermark) once the ISR has it.
  std::vector<StoredRecord> records;
  const auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline) {
    records = cluster_->ReadAll("acks", 0, v.leader).value_or(std::vector<StoredRecord>{});
    if (records.size() == 9) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(records.size(), 9u);
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(records[i].offset, i);
    EXPECT_EQ(records[i].value, std::string(1, static_cast<char>('a' + i % 3)));
  }
  // Every follower holds the same records.
  for (int32_t r : v.replicas) {
    std::vector<StoredRecord> copy;
    const auto until = Clock::now() + 10s;
    while (Clock::now() < until) {
      copy = cluster_->ReadAll("acks", 0, r, true).value_or(std::vector<StoredRecord>{});
      if (copy.size() == 9) break;
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_EQ(copy.size(), 9u) << "replica " << r;
    for (int i = 0; i < 9; ++i) EXPECT_EQ(copy[i].value, records[i].value);
  }
}

TEST_F(BrokerApiTest, ProduceErrors) {
  const PartitionView v = Topic("errors", 1,
                                {{"max.message.bytes", "2048"},
                                 {"message.timestamp.before.max.ms", "60000"}});
  EXPECT_EQ(Produce(v.leader, "no-such-topic", 0, Batch({"x"})).error().name(),
            "UNKNOWN_TOPIC_OR_PARTITION");
  EXPECT_EQ(Produce(v.leader, "errors", 7, Batch({"x"})).error().name(),
            "UNKNOWN_TOPIC_OR_PARTITION");
  auto not_leader = Produce(Follower(v), "errors", 0, Batch({"x"}));
  EXPECT_EQ(not_leader.error().name(), "NOT_LEADER_OR_FOLLOWER");
  EXPECT_EQ(not_leader.current_leader().leader_id(), v.leader);
  EXPECT_EQ(Produce(v.leader, "errors", 0, Batch({"x"}), 2).error().name(),
            "INVALID_REQUIRED_ACKS");
  EXPECT_EQ(Produce(v.leader, "errors", 0, "too short").error().name(), "CORRUPT_MESSAGE");
  EXPECT_EQ(Produce(v.leader, "errors", 0, std::string(80, 'z')).error().name(),
            "CORRUPT_MESSAGE");
  std::string corrupt = Batch({"payload"});
  corrupt[corrupt.size() - 2] ^= 0x55;  // breaks the CRC
  EXPECT_EQ(Produce(v.leader, "errors", 0, corrupt).error().name(), "CORRUPT_MESSAGE");
  // Refused before the bytes are copied for the append (the message says why).
  const auto too_large = Produce(v.leader, "errors", 0, Batch({std::string(4096, 'x')}));
  EXPECT_EQ(too_large.error().name(), "MESSAGE_TOO_LARGE");
  EXPECT_NE(too_large.error().message().find("max.message.bytes (2048)"), std::string::npos)
      << too_large.error().message();
  EXPECT_EQ(Produce(v.leader, "errors", 0, Batch({"old"}, WallMs() - 3'600'000)).error().name(),
            "INVALID_TIMESTAMP");
  // Nothing of the above was written.
  auto ok = Produce(v.leader, "errors", 0, Batch({"fine"}));
  EXPECT_EQ(ok.error().code(), 0);
  EXPECT_EQ(ok.base_offset(), 0);
}

// The reserved internal topics belong to the brokers' coordinators: a client's CreateTopics,
// DeleteTopics and CreatePartitions are refused with INVALID_REQUEST, its Produce and
// ProduceRecords with INVALID_TOPIC_EXCEPTION, on every broker, whether the topic exists or not.
TEST_F(BrokerApiTest, InternalTopics_RefusedToClients) {
  for (const std::string name : {"__consumer_offsets", "__transaction_state"}) {
    admin::v1::CreateTopicsRequest create;
    auto* t = create.add_topics();
    t->set_name(name);
    t->set_partitions(1);
    t->set_replication_factor(1);
    admin::v1::CreateTopicsResponse created;
    {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 10s);
      ASSERT_TRUE(cluster_->admin().CreateTopics(&ctx, create, &created).ok());
    }
    ASSERT_EQ(created.topics_size(), 1);
    EXPECT_EQ(created.topics(0).error().name(), "INVALID_REQUEST");
    EXPECT_EQ(created.topics(0).error().message(),
              fmt::format("'{}' is an internal topic, created by the brokers", name));
    EXPECT_EQ(cluster_->DeleteTopic(name), "INVALID_REQUEST");
    admin::v1::CreatePartitionsRequest grow;
    grow.set_topic(name);
    grow.set_total_count(100);
    admin::v1::CreatePartitionsResponse grown;
    {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 10s);
      ASSERT_TRUE(cluster_->admin().CreatePartitions(&ctx, grow, &grown).ok());
    }
    EXPECT_EQ(grown.error().name(), "INVALID_REQUEST") << grown.error().message();

    for (int broker : cluster_->broker_ids()) {
      const auto produced = Produce(broker, name, 0, Batch({"forged offset commit"}));
      EXPECT_EQ(produced.error().name(), "INVALID_TOPIC_EXCEPTION") << broker;
      EXPECT_EQ(produced.error().message(),
                fmt::format("cannot produce to internal topic '{}'", name));
      bv1::ProduceRecordsRequest json;
      json.set_topic(name);
      json.add_records()->set_value_string("x");
      bv1::ProduceRecordsResponse json_resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 10s);
      ASSERT_TRUE(cluster_->broker(broker).ProduceRecords(&ctx, json, &json_resp).ok());
      ASSERT_EQ(json_resp.results_size(), 1);
      EXPECT_EQ(json_resp.results(0).error().name(), "INVALID_TOPIC_EXCEPTION") << broker;
    }
  }
  // Other names starting with "__" are ordinary topics, as in Kafka.
  const PartitionView v = Topic("__not_internal");
  EXPECT_EQ(Produce(v.leader, "__not_internal", 0, Batch({"fine"})).error().code(), 0);
}

TEST_F(BrokerApiTest, LogAppendTime) {
  const PartitionView v = Topic("append-time", 1, {{"message.timestamp.type", "LogAppendTime"}});
  const int64_t before = WallMs();
  auto r = Produce(v.leader, "append-time", 0, Batch({"x", "y"}, 1000));
  ASSERT_EQ(r.error().code(), 0);
  EXPECT_GE(r.log_append_time_ms(), before);
  auto records = cluster_->ReadAll("append-time", 0, v.leader);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].timestamp, r.log_append_time_ms());
}

// compression.type=zstd: the leader stores (and followers copy) zstd batches whatever the
// producer sent, and consumers read the same records back.
TEST_F(BrokerApiTest, TopicCompressionTypeRecompressesOnTheLeader) {
  const PartitionView v = Topic("recompressed", 1, {{"compression.type", "zstd"}});
  record::BatchOptions gzip;
  gzip.compression = record::Compression::kGzip;
  ASSERT_EQ(
      Produce(v.leader, "recompressed", 0, Batch({"plain-1", "plain-2"}, 1000)).error().code(), 0);
  ASSERT_EQ(Produce(v.leader, "recompressed", 0, Batch({"gzip-1"}, 1000, gzip)).error().code(), 0);
  // The batches as the leader serves them: their codecs.
  std::vector<record::Compression> codecs;
  const std::string bytes = Fetch(v.leader, "recompressed", 0, 0).records();
  for (size_t pos = 0; pos + record::batch_layout::kHeaderSize <= bytes.size();) {
    const auto* b = reinterpret_cast<const uint8_t*>(bytes.data() + pos);
    codecs.push_back(record::RecordBatchHeader::Parse(b).compression());
    pos += static_cast<size_t>(record::BatchSizeAt(b));
  }
  EXPECT_EQ(codecs, (std::vector<record::Compression>{record::Compression::kZstd,
                                                      record::Compression::kZstd}));
  auto records = cluster_->ReadAll("recompressed", 0, v.leader);
  ASSERT_TRUE(records.ok());
  std::vector<std::string> values;
  for (const auto& r : *records) values.push_back(r.value);
  EXPECT_EQ(values, (std::vector<std::string>{"plain-1", "plain-2", "gzip-1"}));
  // A follower copies the recompressed batches.
  EXPECT_TRUE(Eventually(
      [&] {
        auto copied = cluster_->ReadAll("recompressed", 0, Follower(v), /*as_follower=*/true);
        return copied.ok() && copied->size() == 3;
      },
      10s));
}

TEST_F(BrokerApiTest, IdempotentRetryIsAcknowledgedWithItsOriginalOffset) {
  const PartitionView v = Topic("idem");
  bv1::InitProducerIdResponse pid;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(cluster_->broker(101).InitProducerId(&ctx, {}, &pid).ok());
    ASSERT_EQ(pid.error().code(), 0) << pid.error().message();
    ASSERT_GE(pid.producer_id(), 0);
  }
  record::BatchOptions o;
  o.producer_id = ProducerId(pid.producer_id());
  o.producer_epoch = ProducerEpoch(static_cast<int16_t>(pid.producer_epoch()));
  o.base_sequence = 0;
  const std::string first = Batch({"a", "b"}, 0, o);
  auto r1 = Produce(v.leader, "idem", 0, first);
  auto r2 = Produce(v.leader, "idem", 0, first);  // a retry
  ASSERT_EQ(r1.error().code(), 0);
  ASSERT_EQ(r2.error().code(), 0);
  EXPECT_EQ(r1.base_offset(), r2.base_offset());
  o.base_sequence = 5;  // a gap
  EXPECT_EQ(Produce(v.leader, "idem", 0, Batch({"c"}, 0, o)).error().name(),
            "OUT_OF_ORDER_SEQUENCE_NUMBER");
  o.base_sequence = 2;
  auto r3 = Produce(v.leader, "idem", 0, Batch({"c"}, 0, o));
  ASSERT_EQ(r3.error().code(), 0);
  EXPECT_EQ(r3.base_offset(), 2);
  // A second producer gets another id.
  bv1::InitProducerIdResponse other;
  grpc::ClientContext ctx;
  ASSERT_TRUE(cluster_->broker(102).InitProducerId(&ctx, {}, &other).ok());
  EXPECT_NE(other.producer_id(), pid.producer_id());
  EXPECT_EQ(cluster_->ReadAll("idem", 0, v.leader).value_or(std::vector<StoredRecord>{}).size(),
            3u);
}

TEST_F(BrokerApiTest, ListOffsets) {
  const PartitionView v = Topic("offsets");
  std::string error;
  EXPECT_EQ(ListOffset(v.leader, "offsets", 0, -1, &error), 0);
  EXPECT_EQ(error, "NONE");
  const int64_t t0 = WallMs() - 10'000;
  ASSERT_EQ(Produce(v.leader, "offsets", 0, Batch({"a", "b"}, t0)).error().code(), 0);
  ASSERT_EQ(Produce(v.leader, "offsets", 0, Batch({"c"}, t0 + 5'000)).error().code(), 0);
  EXPECT_EQ(ListOffset(v.leader, "offsets", 0, -2), 0);
  EXPECT_EQ(ListOffset(v.leader, "offsets", 0, -1), 3);
  EXPECT_EQ(ListOffset(v.leader, "offsets", 0, t0 + 1), 2);
  EXPECT_EQ(ListOffset(v.leader, "offsets", 0, -3), 2);  // the max timestamp's record
  EXPECT_EQ(ListOffset(v.leader, "offsets", 0, t0 + 60'000), -1);
  ListOffset(Follower(v), "offsets", 0, -1, &error);
  EXPECT_EQ(error, "NOT_LEADER_OR_FOLLOWER");
}

TEST_F(BrokerApiTest, LongPollFetchWakesOnProduce) {
  const PartitionView v = Topic("poll");
  std::thread producer([&] {
    std::this_thread::sleep_for(300ms);
    Produce(v.leader, "poll", 0, Batch({"wake"}));
  });
  const auto start = Clock::now();
  auto r = Fetch(v.leader, "poll", 0, 0, 10'000);
  const auto waited = Clock::now() - start;
  producer.join();
  EXPECT_EQ(r.error().code(), 0);
  EXPECT_FALSE(r.records().empty());
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 5s);
  // With nothing new, the fetch waits max_wait_ms and answers empty.
  const auto again = Clock::now();
  auto empty = Fetch(v.leader, "poll", 0, 1, 300);
  EXPECT_TRUE(empty.records().empty());
  EXPECT_GE(Clock::now() - again, 250ms);
  EXPECT_EQ(empty.high_watermark(), 1);
}

TEST_F(BrokerApiTest, FetchByteLimitsAndOutOfRange) {
  const PartitionView v = Topic("limits");
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(Produce(v.leader, "limits", 0, Batch({std::string(1000, 'a' + i)})).error().code(),
              0);
  }
  // A limit smaller than one batch still returns that batch (so consumers progress).
  auto one = Fetch(v.leader, "limits", 0, 0, 0, 10);
  EXPECT_GT(one.records().size(), 1000u);
  EXPECT_LT(one.records().size(), 2000u);
  auto some = Fetch(v.leader, "limits", 0, 0, 0, 3500);
  EXPECT_LE(some.records().size(), 3500u);
  EXPECT_GE(some.records().size(), 3000u);
  EXPECT_EQ(Fetch(v.leader, "limits", 0, 11).error().name(), "OFFSET_OUT_OF_RANGE");
  EXPECT_EQ(Fetch(Follower(v), "limits", 0, 0).error().name(), "NOT_LEADER_OR_FOLLOWER");
}

TEST_F(BrokerApiTest, FollowerFetchingByRack) {
  const PartitionView v = Topic("racks");
  ASSERT_EQ(Produce(v.leader, "racks", 0, Batch({"r"})).error().code(), 0);
  const int follower = Follower(v);
  const std::string rack = fmt::format("rack-{}", follower - 100);
  // The leader points a consumer in the follower's rack at the follower...
  auto redirect = Fetch(v.leader, "racks", 0, 0, 0, 1 << 20, rack);
  EXPECT_EQ(redirect.preferred_read_replica(), follower);
  EXPECT_TRUE(redirect.records().empty());
  // ...which serves it once it has the record below its high watermark.
  const auto deadline = Clock::now() + 10s;
  bv1::FetchPartitionResponse r;
  while (Clock::now() < deadline) {
    r = Fetch(follower, "racks", 0, 0, 500, 1 << 20, rack);
    if (!r.records().empty()) break;
  }
  EXPECT_EQ(r.error().code(), 0);
  EXPECT_FALSE(r.records().empty());
  // A consumer in the leader's own rack is served by the leader.
  auto local = Fetch(v.leader, "racks", 0, 0, 0, 1 << 20, fmt::format("rack-{}", v.leader - 100));
  EXPECT_EQ(local.preferred_read_replica(), -1);
  EXPECT_FALSE(local.records().empty());
}

TEST_F(BrokerApiTest, JsonRecordsThroughAnyBroker) {
  Topic("json", 3);
  bv1::ProduceRecordsRequest req;
  req.set_topic("json");
  auto* keyed = req.add_records();
  keyed->set_key_string("user-42");
  keyed->set_value_string("héllo");
  auto* h = keyed->add_headers();
  h->set_key("trace");
  h->set_value_string("abc");
  auto* binary = req.add_records();
  binary->set_key_string("user-42");
  binary->set_value_bytes(std::string("\xff\x00\x01", 3));
  auto* pinned = req.add_records();
  pinned->set_partition(2);
  pinned->set_partition_set(true);
  pinned->set_value_string("pinned");
  bv1::ProduceRecordsResponse resp;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(cluster_->broker(103).ProduceRecords(&ctx, req, &resp).ok());
  }
  ASSERT_EQ(resp.results_size(), 3);
  const int32_t by_key = PartitionForKey("user-42", 3);
  EXPECT_EQ(resp.results(0).partition(), by_key);
  EXPECT_EQ(resp.results(1).partition(), by_key);
  EXPECT_EQ(resp.results(2).partition(), 2);
  for (const auto& r : resp.results()) EXPECT_EQ(r.error().code(), 0) << r.error().message();
  EXPECT_EQ(resp.results(1).offset(), resp.results(0).offset() + 1);

  bv1::FetchRecordsRequest freq;
  freq.set_topic("json");
  freq.set_partition(by_key);
  freq.set_offset(-2);
  bv1::FetchRecordsResponse fresp;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(cluster_->broker(101).FetchRecords(&ctx, freq, &fresp).ok());
  }
  ASSERT_EQ(fresp.error().code(), 0) << fresp.error().message();
  ASSERT_GE(fresp.records_size(), 2);
  EXPECT_EQ(fresp.records(0).key_string(), "user-42");
  EXPECT_EQ(fresp.records(0).value_string(), "héllo");
  ASSERT_EQ(fresp.records(0).headers_size(), 1);
  EXPECT_EQ(fresp.records(0).headers(0).value_string(), "abc");
  EXPECT_EQ(fresp.records(1).value_bytes(), std::string("\xff\x00\x01", 3));
  EXPECT_EQ(fresp.next_offset(), fresp.records(fresp.records_size() - 1).offset() + 1);

  // offset -1 (latest) long-polls for new records only.
  std::thread later([&] {
    std::this_thread::sleep_for(200ms);
    bv1::ProduceRecordsRequest more;
    more.set_topic("json");
    auto* r = more.add_records();
    r->set_key_string("user-42");
    r->set_value_string("new");
    bv1::ProduceRecordsResponse ignored;
    grpc::ClientContext ctx;
    cluster_->broker(102).ProduceRecords(&ctx, more, &ignored);
  });
  freq.set_offset(-1);
  freq.set_max_wait_ms(5000);
  bv1::FetchRecordsResponse latest;
  grpc::ClientContext ctx;
  ASSERT_TRUE(cluster_->broker(102).FetchRecords(&ctx, freq, &latest).ok());
  later.join();
  ASSERT_EQ(latest.records_size(), 1);
  EXPECT_EQ(latest.records(0).value_string(), "new");

  bv1::ProduceRecordsRequest unknown;
  unknown.set_topic("nope");
  unknown.add_records()->set_value_string("x");
  bv1::ProduceRecordsResponse unknown_resp;
  grpc::ClientContext ctx2;
  ASSERT_TRUE(cluster_->broker(101).ProduceRecords(&ctx2, unknown, &unknown_resp).ok());
  EXPECT_EQ(unknown_resp.results(0).error().name(), "UNKNOWN_TOPIC_OR_PARTITION");
}

// ProduceRecords forwards every partition's batch at once, without holding a server thread, and
// never waits past the caller's deadline: with a follower stopped, acks=all cannot complete
// (until the ISR shrinks after replica.lag.time.max.ms), and the call ends at its 2 s deadline.
TEST_F(BrokerApiTest, JsonProduce_EndsAtTheCallersDeadline) {
  const PartitionView view = Topic("json-wait", 1);
  int follower = -1, other = -1;
  for (int id : view.replicas) {
    if (id == view.leader) continue;
    (follower < 0 ? follower : other) = id;
  }
  ASSERT_GT(other, 0);
  cluster_->Pause(follower);
  bv1::ProduceRecordsRequest req;
  req.set_topic("json-wait");
  req.add_records()->set_value_string("waits");
  bv1::ProduceRecordsResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(In(2s));
  const auto start = Clock::now();
  const grpc::Status s = cluster_->broker(other).ProduceRecords(&ctx, req, &resp);
  const auto took = Clock::now() - start;
  cluster_->Resume(follower);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  EXPECT_LT(took, 5s);
  // The broker still answers other calls at once.
  bv1::ProduceRecordsRequest unknown;
  unknown.set_topic("nope");
  unknown.add_records()->set_value_string("x");
  grpc::ClientContext ctx2;
  ctx2.set_deadline(In(2s));
  ASSERT_TRUE(cluster_->broker(other).ProduceRecords(&ctx2, unknown, &resp).ok());
}

TEST_F(BrokerApiTest, AdminHealthAndReflectionOnBrokers) {
  for (int id : cluster_->broker_ids()) {
    auto channel = cluster_->Channel(id);
    // The admin API through a broker (forwarded to the controllers).
    admin::v1::DescribeClusterResponse d;
    {
      grpc::ClientContext ctx;
      ASSERT_TRUE(admin::v1::AdminService::NewStub(channel)->DescribeCluster(&ctx, {}, &d).ok());
    }
    EXPECT_EQ(d.brokers_size(), 3);
    EXPECT_GE(d.active_controller(), 1);
    // Health: SERVING once unfenced.
    grpc::health::v1::HealthCheckResponse health;
    {
      grpc::ClientContext ctx;
      ASSERT_TRUE(grpc::health::v1::Health::NewStub(channel)
                      ->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &health)
                      .ok());
    }
    EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING);
    // Reflection lists what grpcurl needs.
    grpc::ClientContext ctx;
    auto stream =
        grpc::reflection::v1alpha::ServerReflection::NewStub(channel)->ServerReflectionInfo(&ctx);
    grpc::reflection::v1alpha::ServerReflectionRequest rreq;
    rreq.set_list_services("");
    ASSERT_TRUE(stream->Write(rreq));
    grpc::reflection::v1alpha::ServerReflectionResponse rresp;
    ASSERT_TRUE(stream->Read(&rresp));
    std::set<std::string> services;
    for (const auto& s : rresp.list_services_response().service()) services.insert(s.name());
    EXPECT_TRUE(services.count("strand.broker.v1.BrokerService"));
    EXPECT_TRUE(services.count("strand.admin.v1.AdminService"));
    EXPECT_FALSE(services.count("strand.broker.v1.FaultInjectionService"));
    stream->WritesDone();
  }
}

}  // namespace
}  // namespace strand::testing
