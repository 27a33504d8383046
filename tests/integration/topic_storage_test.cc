// Topics, logs and limits on a real cluster (3 controllers, 3 brokers), driven with raw
// protobuf over gRPC (the harness's stubs, not the client library) — regression tests for the
// four bugs of issue 10:
//
//   - a deleted topic's records never come back: names of 233 and 249 characters (where the
//     old "<dir>.<ms>-delete" rename passed 255 bytes) are created, written, deleted, re-created
//     and restarted; a topic re-created while a broker was down gets a fresh log there, and the
//     old directory is set aside as a stray;
//   - a replica whose log cannot be opened goes offline: the controller elects another in-sync
//     replica, shows a partition with no other one offline, never lets it back into the ISR or
//     leadership, and takes it back once the log opens again;
//   - a broker out of file descriptors refuses new logs with a clear error, reports itself
//     NOT_SERVING, keeps accepting connections, and serves again once descriptors free up;
//     partition counts are bounded up front (max.broker.partitions, max.partitions);
//   - accepted nonsense is refused: min.insync.replicas above the replication factor (create,
//     alter, shrinking reassignment), a negative produce timeout, negative fetch sizes.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "proto/health/v1/health.grpc.pb.h"
#include "tests/integration/strand_cluster.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace bv1 = broker::v1;
namespace av1 = admin::v1;
namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Sends one CreateTopics request, again across a change of active controller; the topic's
// error name ("NONE" on success) and, when `message` is given, its message.
std::string SendCreate(StrandCluster& c, const av1::CreateTopicsRequest& req,
                       std::string* message) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(In(10s));
    av1::CreateTopicsResponse resp;
    if (c.admin().CreateTopics(&ctx, req, &resp).ok() && resp.topics_size() == 1) {
      const auto& e = resp.topics(0).error();
      if (message) *message = e.message();
      if (e.name() != "NOT_CONTROLLER") return e.code() == 0 ? "NONE" : e.name();
    }
    std::this_thread::sleep_for(100ms);
  }
  return "GAVE_UP";
}

// CreateTopics with explicit replica assignments (one list per partition); the error name.
std::string CreateAssigned(StrandCluster& c, const std::string& name,
                           const std::vector<std::vector<int>>& assignments,
                           const std::map<std::string, std::string>& configs = {},
                           std::string* message = nullptr) {
  av1::CreateTopicsRequest req;
  auto* t = req.add_topics();
  t->set_name(name);
  for (const auto& replicas : assignments) {
    auto* a = t->add_assignments();
    for (int r : replicas) a->add_replicas(r);
  }
  for (const auto& [k, v] : configs) (*t->mutable_configs())[k] = v;
  return SendCreate(c, req, message);
}

// CreateTopics with counts; the error name and message.
std::string Create(StrandCluster& c, const std::string& name, int partitions, int rf,
                   const std::map<std::string, std::string>& configs, std::string* message) {
  av1::CreateTopicsRequest req;
  auto* t = req.add_topics();
  t->set_name(name);
  t->set_partitions(partitions);
  t->set_replication_factor(rf);
  for (const auto& [k, v] : configs) (*t->mutable_configs())[k] = v;
  return SendCreate(c, req, message);
}

// The health status of broker `node` over a brand-new connection (so that a listener that no
// longer accepts shows as UNREACHABLE).
std::string Health(StrandCluster& c, int node) {
  auto channel = c.Channel(node);
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(In(3s));
  grpc::health::v1::HealthCheckResponse r;
  if (!health->Check(&ctx, {}, &r).ok()) return "UNREACHABLE";
  return r.status() == grpc::health::v1::HealthCheckResponse::SERVING ? "SERVING" : "NOT_SERVING";
}

// Directory names in a broker's log directory.
std::set<std::string> LogDirs(StrandCluster& c, int node) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(c.data_dir(node) + "/logs", ec)) {
    if (e.is_directory()) out.insert(e.path().filename().string());
  }
  return out;
}

std::vector<std::string> Values(const std::vector<StoredRecord>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.value);
  return out;
}

// Reads a partition from its current leader, retrying through leader changes.
std::vector<std::string> ReadValues(StrandCluster& c, const std::string& topic, int32_t p) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto view = c.WaitForPartition(topic, p, 10s);
    if (!view) continue;
    auto records = c.ReadAll(topic, p, view->leader);
    if (records.ok()) return Values(*records);
    std::this_thread::sleep_for(100ms);
  }
  return {"<unreadable>"};
}

// One produce attempt straight to `node`: the partition's error name and message.
std::pair<std::string, std::string> ProduceTo(StrandCluster& c, int node, const std::string& topic,
                                              int32_t partition, int32_t timeout_ms) {
  bv1::ProduceRequest req;
  req.set_acks(-1);
  req.set_timeout_ms(timeout_ms);
  auto* t = req.add_topics();
  t->set_topic(topic);
  auto* p = t->add_partitions();
  p->set_partition(partition);
  p->set_records("not even a batch");  // refused before the bytes are looked at
  grpc::ClientContext ctx;
  ctx.set_deadline(In(10s));
  bv1::ProduceResponse resp;
  if (!c.broker(node).Produce(&ctx, req, &resp).ok()) return {"UNREACHABLE", ""};
  const auto& e = resp.topics(0).partitions(0).error();
  return {e.code() == 0 ? "NONE" : e.name(), e.message()};
}

void RestartBroker(StrandCluster& c, int node) {
  c.Stop(node, 10s);
  c.Start(node);
}

TEST(TopicStorageTest, LongNames_DeletedTopicsRecordsNeverComeBack) {
  StrandCluster c;
  ASSERT_TRUE(c.WaitForBrokers(30s));
  // 233 and 249 characters, 11 partitions (two-digit partition numbers): each passed 255 bytes
  // with the old marker name.
  const std::vector<std::string> names = {std::string(233, 'a'), std::string(249, 'b')};
  const std::vector<int32_t> probed = {0, 10};
  for (const std::string& name : names) {
    ASSERT_EQ(c.CreateTopic(name, 11, 3), "NONE") << name.size();
    for (int32_t p : probed) {
      ASSERT_TRUE(c.WaitForPartition(name, p, 20s, 3));
      TestProducer old(c, name, p, -1, false);
      ASSERT_TRUE(old.Send({"old-1", "old-2", "old-3"}, 20s).acked);
    }
    ASSERT_EQ(c.DeleteTopic(name), "NONE");
    // Gone from every broker's disk under its own name (moved to a short marker name).
    for (int id : c.broker_ids()) {
      EXPECT_TRUE(Eventually(
          [&] {
            const auto dirs = LogDirs(c, id);
            return !dirs.count(name + "-0") && !dirs.count(name + "-10");
          },
          20s))
          << "broker " << id << " kept the deleted topic's directory (" << name.size()
          << " characters)";
    }
    ASSERT_EQ(c.CreateTopic(name, 11, 3), "NONE");
    for (int32_t p : probed) {
      ASSERT_TRUE(c.WaitForPartition(name, p, 20s, 3));
      EXPECT_EQ(ReadValues(c, name, p), std::vector<std::string>{}) << name.size() << "/" << p;
      TestProducer fresh(c, name, p, -1, false);
      const SendResult sent = fresh.Send({"new-1"}, 20s);
      ASSERT_TRUE(sent.acked) << sent.error;
      EXPECT_EQ(sent.base_offset, 0) << "the re-created topic continued the deleted one's log";
    }
  }
  // A restart of every broker: every replica opens its log, and the leaders serve.
  for (int id : c.broker_ids()) RestartBroker(c, id);
  ASSERT_TRUE(c.WaitForBrokers(60s));
  for (const std::string& name : names) {
    for (int32_t p : probed) {
      ASSERT_TRUE(c.WaitForPartition(name, p, 30s, 3)) << name.size() << "/" << p;
      EXPECT_EQ(ReadValues(c, name, p), std::vector<std::string>{"new-1"});
      TestProducer after(c, name, p, -1, false);
      const SendResult sent = after.Send({"new-2"}, 20s);
      ASSERT_TRUE(sent.acked) << sent.error;
      EXPECT_EQ(sent.base_offset, 1);
    }
  }
  for (int id : c.broker_ids()) {
    EXPECT_EQ(ReadFile(c.log_path(id)).find("File name too long"), std::string::npos) << id;
  }
}

TEST(TopicStorageTest, TopicRecreatedWhileABrokerWasDown_OldLogIsSetAsideAsAStray) {
  StrandCluster c;
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(CreateAssigned(c, "phoenix", {{101, 102, 103}}), "NONE");
  ASSERT_TRUE(c.WaitForPartition("phoenix", 0, 20s, 3));
  TestProducer old(c, "phoenix", 0, -1, false);
  ASSERT_TRUE(old.Send({"old-1", "old-2", "old-3", "old-4", "old-5"}, 20s).acked);
  // Broker 103 holds the old records when it goes down; the topic is deleted and re-created.
  ASSERT_TRUE(Eventually([&] { return fs::exists(c.data_dir(103) + "/logs/phoenix-0"); }, 10s));
  c.Stop(103, 10s);
  ASSERT_EQ(c.DeleteTopic("phoenix"), "NONE");
  ASSERT_EQ(CreateAssigned(c, "phoenix", {{101, 102, 103}}), "NONE");
  ASSERT_TRUE(c.WaitForPartition("phoenix", 0, 20s));
  TestProducer fresh(c, "phoenix", 0, -1, false);
  ASSERT_TRUE(fresh.Send({"new-1", "new-2"}, 20s).acked);
  c.Start(103);
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_TRUE(c.WaitForPartition("phoenix", 0, 30s, 3)) << "broker 103 never rejoined the ISR";
  // Broker 103's replica holds the new topic's records only.
  std::vector<std::string> on_103;
  EXPECT_TRUE(Eventually(
      [&] {
        auto r = c.ReadAll("phoenix", 0, 103, /*as_follower=*/true);
        on_103 = r.ok() ? Values(*r) : std::vector<std::string>{};
        return on_103.size() >= 2;
      },
      20s));
  EXPECT_EQ(on_103, (std::vector<std::string>{"new-1", "new-2"}));
  // The old directory is kept beside it, set aside, and logged.
  int strays = 0;
  for (const std::string& d : LogDirs(c, 103)) {
    if (d.starts_with("phoenix-0.") && d.ends_with("-stray")) ++strays;
  }
  EXPECT_EQ(strays, 1);
  EXPECT_NE(ReadFile(c.log_path(103)).find("set aside as stray"), std::string::npos);
}

TEST(TopicStorageTest, ReplicaWhoseLogCannotOpen_GoesOfflineAndComesBack) {
  StrandCluster c;
  ASSERT_TRUE(c.WaitForBrokers(30s));
  constexpr int kBroken = 101;
  ASSERT_EQ(CreateAssigned(c, "rf3", {{kBroken, 102, 103}}), "NONE");
  ASSERT_EQ(CreateAssigned(c, "rf1", {{kBroken}}), "NONE");
  ASSERT_TRUE(c.WaitForPartition("rf3", 0, 20s, 3));
  ASSERT_TRUE(c.WaitForPartition("rf1", 0, 20s, 1));
  TestProducer p3(c, "rf3", 0, -1, false);
  TestProducer p1(c, "rf1", 0, -1, false);
  ASSERT_TRUE(p3.Send({"three-1", "three-2"}, 20s).acked);
  ASSERT_TRUE(p1.Send({"one-1", "one-2"}, 20s).acked);
  // Wait until 101 has everything durable, stop it, and make both logs unopenable: the first
  // segment's file becomes a directory.
  ASSERT_TRUE(c.WaitForPartition("rf3", 0, 20s, 3));
  c.Stop(kBroken, 10s);
  std::vector<std::string> segments;
  for (const char* topic : {"rf3", "rf1"}) {
    const std::string segment =
        fmt::format("{}/logs/{}-0/00000000000000000000.log", c.data_dir(kBroken), topic);
    ASSERT_TRUE(fs::exists(segment)) << segment;
    fs::rename(segment, segment + ".kept");
    fs::create_directory(segment);
    segments.push_back(segment);
  }
  c.Start(kBroken);
  ASSERT_TRUE(c.WaitForBrokers(30s));
  // rf3: another replica leads and 101 is out of the ISR; rf1: offline (no leader).
  auto out_of_isr = [&] {
    auto v = c.Partition("rf3", 0);
    return v && v->leader >= 0 && v->leader != kBroken &&
           std::find(v->isr.begin(), v->isr.end(), kBroken) == v->isr.end();
  };
  auto rf1_offline = [&] {
    auto v = c.Partition("rf1", 0);
    return v && v->leader == -1;
  };
  ASSERT_TRUE(Eventually([&] { return out_of_isr() && rf1_offline(); }, 20s));
  // It stays so: never re-elected, never back in the ISR, not even by a preferred election.
  std::this_thread::sleep_for(3s);
  EXPECT_TRUE(out_of_isr());
  EXPECT_TRUE(rf1_offline());
  {
    av1::ElectLeadersRequest req;
    req.set_election_type(av1::PREFERRED);
    auto* tp = req.add_partitions();
    tp->set_topic("rf3");
    tp->set_partition(0);
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10s));
    av1::ElectLeadersResponse resp;
    ASSERT_TRUE(c.admin().ElectLeaders(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.results_size(), 1);
    EXPECT_EQ(resp.results(0).error().name(), "PREFERRED_LEADER_NOT_AVAILABLE");
  }
  EXPECT_TRUE(out_of_isr());
  // Asked directly, broker 101 says why.
  const auto [error, message] = ProduceTo(c, kBroken, "rf1", 0, 1000);
  EXPECT_EQ(error, "KAFKA_STORAGE_ERROR");
  EXPECT_NE(message.find("offline"), std::string::npos) << message;
  EXPECT_NE(ReadFile(c.log_path(kBroken)).find("replica offline"), std::string::npos);
  // Writes to rf3 go on meanwhile.
  const SendResult during = p3.Send({"three-3"}, 20s);
  ASSERT_TRUE(during.acked) << during.error;

  // The operator repairs the disk: the logs open on the next retry, without a restart; rf1 is
  // led by 101 again with its records, and 101 rejoins rf3's ISR.
  for (const std::string& segment : segments) {
    fs::remove(segment);
    fs::rename(segment + ".kept", segment);
  }
  ASSERT_TRUE(c.WaitForPartition("rf1", 0, 20s, 1));
  EXPECT_EQ(ReadValues(c, "rf1", 0), (std::vector<std::string>{"one-1", "one-2"}));
  auto rf3 = c.WaitForPartition("rf3", 0, 30s, 3);
  ASSERT_TRUE(rf3) << "broker 101 never rejoined the ISR";
  EXPECT_EQ(ReadValues(c, "rf3", 0), (std::vector<std::string>{"three-1", "three-2", "three-3"}));
}

TEST(TopicStorageTest, OutOfDescriptors_RefusesLogsKeepsAcceptingAndRecovers) {
  StrandCluster c;
  ASSERT_TRUE(c.WaitForBrokers(30s));
  constexpr int kSmall = 101;
  const pid_t pid = c.process(kSmall)->pid();
  ASSERT_EQ(std::system(fmt::format("prlimit --pid {} --nofile=512:512", pid).c_str()), 0);
  // 1,000 single-replica partitions on broker 101 need more than 512 descriptors (an empty log
  // keeps about one open).
  constexpr int kPartitions = 1000;
  std::vector<std::vector<int>> all_on_101(kPartitions, std::vector<int>{kSmall});
  ASSERT_EQ(CreateAssigned(c, "many", all_on_101), "NONE");
  EXPECT_TRUE(Eventually([&] { return Health(c, kSmall) == "NOT_SERVING"; }, 60s))
      << "the broker never reported itself unhealthy";
  const std::string log = ReadFile(c.log_path(kSmall));
  EXPECT_NE(log.find("out of file descriptors for logs"), std::string::npos);
  EXPECT_EQ(log.find("Too many open files"), std::string::npos);
  // Some partitions could not be created: offline, while the rest are led by 101.
  int offline = 0, led = 0;
  ASSERT_TRUE(Eventually(
      [&] {
        bv1::MetadataRequest req;
        req.add_topics("many");
        grpc::ClientContext ctx;
        ctx.set_deadline(In(5s));
        bv1::MetadataResponse resp;
        if (!c.broker(102).Metadata(&ctx, req, &resp).ok() || resp.topics_size() != 1) {
          return false;
        }
        offline = led = 0;
        for (const auto& p : resp.topics(0).partitions()) (p.leader() == -1 ? offline : led)++;
        return offline > 0 && led > 0 && offline + led == kPartitions;
      },
      30s))
      << offline << " offline, " << led << " led";
  // It still accepts connections: many new ones, each answered.
  for (int i = 0; i < 30; ++i) ASSERT_EQ(Health(c, kSmall), "NOT_SERVING") << i;
  EXPECT_TRUE(c.running(kSmall));
  // Deleting the topic frees the descriptors: healthy again, without a restart, and new logs
  // can be created.
  ASSERT_EQ(c.DeleteTopic("many"), "NONE");
  EXPECT_TRUE(Eventually([&] { return Health(c, kSmall) == "SERVING"; }, 60s));
  ASSERT_EQ(CreateAssigned(c, "after", {{kSmall}, {kSmall}, {kSmall}}), "NONE");
  for (int32_t p = 0; p < 3; ++p) {
    ASSERT_TRUE(c.WaitForPartition("after", p, 20s, 1));
    TestProducer producer(c, "after", p, 1, false);
    EXPECT_TRUE(producer.Send({"ok"}, 20s).acked);
  }
}

TEST(TopicStorageTest, PartitionLimitsAreCheckedUpFront) {
  StrandCluster c;
  ASSERT_TRUE(c.WaitForBrokers(30s));
  std::string message;
  // 100,000 single-replica partitions over 3 brokers: past max.broker.partitions (4,000).
  EXPECT_EQ(Create(c, "huge", 100'000, 1, {}, &message), "POLICY_VIOLATION");
  EXPECT_NE(message.find("max.broker.partitions=4000"), std::string::npos) << message;
  // Both limits are cluster settings.
  ASSERT_EQ(AlterConfig(c, av1::BROKER, "", "max.broker.partitions", "10"), "NONE");
  EXPECT_EQ(Create(c, "t31", 31, 1, {}, &message), "POLICY_VIOLATION") << message;
  EXPECT_EQ(Create(c, "t30", 30, 1, {}, &message), "NONE") << message;
  EXPECT_EQ(Create(c, "one-more", 1, 1, {}, &message), "POLICY_VIOLATION") << message;
  ASSERT_EQ(AlterConfig(c, av1::BROKER, "", "max.broker.partitions", "4000"), "NONE");
  ASSERT_EQ(AlterConfig(c, av1::BROKER, "", "max.partitions", "35"), "NONE");
  EXPECT_EQ(Create(c, "t6", 6, 1, {}, &message), "POLICY_VIOLATION");
  EXPECT_NE(message.find("max.partitions=35"), std::string::npos) << message;
  EXPECT_EQ(Create(c, "t5", 5, 1, {}, &message), "NONE") << message;
}

TEST(TopicStorageTest, AcceptedNonsenseIsRefused) {
  StrandCluster c;
  ASSERT_TRUE(c.WaitForBrokers(30s));
  std::string message;
  // min.insync.replicas above the replication factor: at create...
  EXPECT_EQ(Create(c, "never", 1, 3, {{"min.insync.replicas", "4"}}, &message),
            "INVALID_CONFIG");
  EXPECT_NE(message.find("min.insync.replicas"), std::string::npos) << message;
  ASSERT_EQ(Create(c, "strict", 1, 3, {{"min.insync.replicas", "2"}}, &message), "NONE");
  // ...at alter...
  EXPECT_EQ(AlterConfig(c, av1::TOPIC, "strict", "min.insync.replicas", "4", &message),
            "INVALID_CONFIG");
  EXPECT_NE(message.find("min.insync.replicas"), std::string::npos) << message;
  EXPECT_EQ(AlterConfig(c, av1::TOPIC, "strict", "min.insync.replicas", "3"), "NONE");
  // ...and at a reassignment that shrinks the replica set below it.
  {
    av1::AlterPartitionReassignmentsRequest req;
    auto* r = req.add_reassignments();
    r->mutable_partition()->set_topic("strict");
    r->mutable_partition()->set_partition(0);
    r->add_replicas(101);
    r->add_replicas(102);
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10s));
    av1::AlterPartitionReassignmentsResponse resp;
    ASSERT_TRUE(c.admin().AlterPartitionReassignments(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.results_size(), 1);
    EXPECT_EQ(resp.results(0).error().name(), "INVALID_CONFIG");
    EXPECT_NE(resp.results(0).error().message().find("min.insync.replicas"), std::string::npos);
  }
  // A cluster default above some topic's replication factor only warns.
  EXPECT_EQ(AlterConfig(c, av1::BROKER, "", "min.insync.replicas", "5"), "NONE");

  // A negative produce timeout and negative fetch sizes.
  auto view = c.WaitForPartition("strict", 0, 20s, 3);
  ASSERT_TRUE(view);
  const auto [error, text] = ProduceTo(c, view->leader, "strict", 0, -5);
  EXPECT_EQ(error, "INVALID_REQUEST");
  EXPECT_NE(text.find("timeout_ms"), std::string::npos) << text;
  for (const char* field : {"max_bytes", "partition_max_bytes"}) {
    bv1::FetchRequest req;
    req.set_replica_id(-1);
    req.set_max_bytes(std::string(field) == "max_bytes" ? -1 : 1 << 20);
    auto* t = req.add_topics();
    t->set_topic("strict");
    auto* p = t->add_partitions();
    p->set_partition(0);
    p->set_partition_max_bytes(std::string(field) == "max_bytes" ? 1 << 20 : -7);
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10s));
    bv1::FetchResponse resp;
    ASSERT_TRUE(c.broker(view->leader).Fetch(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.error().name(), "INVALID_REQUEST") << field;
    EXPECT_NE(resp.error().message().find(field), std::string::npos) << resp.error().message();
  }
}

}  // namespace
}  // namespace strand::testing
