// Limits on what a client can make a server hold, hit on purpose on real processes: the server
// answers with its error, its memory stays bounded, and nothing acknowledged is lost.
//
//   - idempotent producers tracked per partition (strand.producer.ids.per.partition.max): past
//     the limit a new producer id is refused with THROTTLING_QUOTA_EXCEEDED, the producers
//     already tracked go on, and every acknowledged record is in the log;
//   - connections on a client listener (max.connections, max.connections.per.ip,
//     max.connection.creation.rate): a connection past a limit is closed at once and the broker
//     logs why, the connections already open keep working, and a closed connection frees its
//     place within about a second;
//   - the largest request a listener takes (socket.request.max.bytes): a bigger one is refused
//     with RESOURCE_EXHAUSTED before it is handled;
//   - threads of a client listener's blocking handlers (strand.listener.threads.max): long
//     polls past it are refused with RESOURCE_EXHAUSTED while produce keeps working.
#include <atomic>
#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "proto/health/v1/health.grpc.pb.h"
#include "tests/integration/strand_cluster.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;

// Resident memory of a process, in bytes (0 when unknown).
int64_t RssBytes(pid_t pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return 0;
}

TEST(LimitsTest, ProducerIdsPerPartition_PastTheLimitAreRefused) {
  ClusterOptions o;
  o.broker_args = {"--config=strand.producer.ids.per.partition.max=5"};
  StrandCluster c(o);
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(c.CreateTopic("pids", 1, 3), "NONE");
  auto view = c.WaitForPartition("pids", 0, 20s, 3);
  ASSERT_TRUE(view);
  std::vector<std::unique_ptr<TestProducer>> tracked;
  std::set<std::string> acked;
  for (int i = 0; i < 5; ++i) {
    tracked.push_back(std::make_unique<TestProducer>(c, "pids", 0, -1, true));
    SendResult r = tracked.back()->Send({fmt::format("p{}-0", i)}, 20s);
    ASSERT_TRUE(r.acked) << r.error;
    acked.insert(fmt::format("p{}-0", i));
  }
  const int64_t rss_before = RssBytes(c.process(view->leader)->pid());
  int refused = 0;
  for (int i = 5; i < 205; ++i) {
    TestProducer p(c, "pids", 0, -1, true);
    SendResult r = p.Send({fmt::format("p{}-0", i)}, 10s);
    EXPECT_FALSE(r.acked) << "producer " << i << " got past the limit";
    if (r.error == "THROTTLING_QUOTA_EXCEEDED") ++refused;
    if (r.acked) acked.insert(fmt::format("p{}-0", i));
  }
  EXPECT_EQ(refused, 200);
  // The tracked producers go on.
  for (int i = 0; i < 5; ++i) {
    SendResult r = tracked[static_cast<size_t>(i)]->Send({fmt::format("p{}-1", i)}, 20s);
    EXPECT_TRUE(r.acked) << r.error;
    if (r.acked) acked.insert(fmt::format("p{}-1", i));
  }
  const int64_t rss_after = RssBytes(c.process(view->leader)->pid());
  EXPECT_GT(rss_after, 0);
  EXPECT_LT(rss_after, int64_t{512} << 20) << "leader RSS " << rss_after;
  std::printf("leader RSS %lld MiB before the refused producers, %lld MiB after\n",
              static_cast<long long>(rss_before >> 20), static_cast<long long>(rss_after >> 20));
  // Nothing acknowledged is lost, nothing refused was written.
  auto records = c.ReadAll("pids", 0, view->leader);
  ASSERT_TRUE(records.ok()) << records.status();
  std::set<std::string> stored;
  for (const auto& r : *records) stored.insert(r.value);
  EXPECT_EQ(stored, acked);
}

// A channel with a connection of its own (no subchannel shared with other channels).
std::shared_ptr<grpc::Channel> OwnConnection(StrandCluster& c, int node) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(c.address(node), c.credentials(), args);
}

grpc::Status Check(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ClientContext ctx;
  ctx.set_deadline(In(3s));
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  return grpc::health::v1::Health::NewStub(channel)->Check(&ctx, req, &resp);
}

std::string LogOf(StrandCluster& c, int node) {
  std::ifstream in(c.log_path(node));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Whether the node's log says `text` within a few seconds.
bool Logged(StrandCluster& c, int node, const std::string& text) {
  for (auto end = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < end;) {
    if (LogOf(c, node).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

ClusterOptions OneBroker(const std::string& setting) {
  ClusterOptions o;
  o.controllers = 1;
  o.brokers = 1;
  o.broker_args = {"--config=" + setting};
  return o;
}

TEST(LimitsTest, ConnectionsPerIp_PastTheLimitAreClosed_AndFreedPlacesReused) {
  StrandCluster c(OneBroker("max.connections.per.ip=4"));
  ASSERT_TRUE(c.WaitForBrokers(30s));  // the harness's own channel: one connection
  std::vector<std::shared_ptr<grpc::Channel>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(OwnConnection(c, 101));
    ASSERT_TRUE(Check(open.back()).ok()) << "connection " << i;
  }
  auto fifth = OwnConnection(c, 101);
  grpc::Status refused = Check(fifth);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  EXPECT_TRUE(Logged(c, 101, "refused a connection from 127.0.0.1: max.connections.per.ip (4) "
                             "reached for 127.0.0.1"));
  for (const auto& ch : open) EXPECT_TRUE(Check(ch).ok()) << "an admitted connection was cut";
  // Closing one frees its place.
  open.pop_back();
  bool admitted = false;
  for (auto end = std::chrono::steady_clock::now() + 10s;
       !admitted && std::chrono::steady_clock::now() < end;) {
    admitted = Check(OwnConnection(c, 101)).ok();
    if (!admitted) std::this_thread::sleep_for(200ms);
  }
  EXPECT_TRUE(admitted) << "a closed connection still counted";
  EXPECT_TRUE(c.running(101));
  EXPECT_LT(RssBytes(c.process(101)->pid()), int64_t{512} << 20);
}

TEST(LimitsTest, MaxConnections_AndCreationRate) {
  {
    StrandCluster c(OneBroker("max.connections=3"));
    ASSERT_TRUE(c.WaitForBrokers(30s));
    std::vector<std::shared_ptr<grpc::Channel>> open;
    int ok = 0, refused = 0;
    for (int i = 0; i < 6; ++i) {
      open.push_back(OwnConnection(c, 101));
      grpc::Status s = Check(open.back());
      (s.ok() ? ok : refused)++;
    }
    EXPECT_EQ(ok, 2);  // with the harness's own connection, 3
    EXPECT_EQ(refused, 4);
    EXPECT_TRUE(Logged(c, 101, "max.connections (3) reached"));
    EXPECT_LT(RssBytes(c.process(101)->pid()), int64_t{512} << 20);
  }
  {
    StrandCluster c(OneBroker("max.connection.creation.rate=5"));
    ASSERT_TRUE(c.WaitForBrokers(30s));
    std::this_thread::sleep_for(1500ms);  // a full bucket
    std::vector<std::shared_ptr<grpc::Channel>> open;
    int ok = 0, refused = 0;
    for (int i = 0; i < 20; ++i) {
      open.push_back(OwnConnection(c, 101));
      grpc::Status s = Check(open.back());
      (s.ok() ? ok : refused)++;
    }
    // 5 at once, then about 5 a second while the burst lasts.
    EXPECT_GE(ok, 5);
    EXPECT_GE(refused, 5);
    EXPECT_TRUE(Logged(c, 101, "max.connection.creation.rate (5/s) exceeded"));
    std::printf("creation rate 5/s: %d of 20 connections in a burst admitted\n", ok);
  }
}

TEST(LimitsTest, RequestsPastSocketRequestMaxBytes_AreRefused) {
  StrandCluster c(OneBroker("socket.request.max.bytes=1048576"));
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(c.CreateTopic("big", 1, 1), "NONE");
  ASSERT_TRUE(c.WaitForPartition("big", 0, 20s, 1));
  broker::v1::ProduceRecordsRequest req;
  req.set_topic("big");
  req.add_records()->set_value_string(std::string(2 << 20, 'x'));
  broker::v1::ProduceRecordsResponse resp;
  for (int i = 0; i < 20; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(5s));
    grpc::Status s = c.broker(101).ProduceRecords(&ctx, req, &resp);
    ASSERT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  }
  // A request under the limit is served, and nothing of the refused ones was written.
  TestProducer p(c, "big", 0, -1, false);
  ASSERT_TRUE(p.Send({"small"}, 10s).acked);
  auto records = c.ReadAll("big", 0, 101);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].value, "small");
  EXPECT_LT(RssBytes(c.process(101)->pid()), int64_t{512} << 20);
}

TEST(LimitsTest, ListenerThreads_PastTheLimitAreRefused) {
  StrandCluster c(OneBroker("strand.listener.threads.max=4"));
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(c.CreateTopic("quiet", 1, 1), "NONE");
  ASSERT_TRUE(c.WaitForPartition("quiet", 0, 20s, 1));
  std::atomic<int> ok{0}, exhausted{0}, other{0};
  std::vector<std::thread> polls;
  for (int i = 0; i < 12; ++i) {
    polls.emplace_back([&] {
      broker::v1::FetchRecordsRequest req;
      req.set_topic("quiet");
      req.set_partition(0);
      req.set_offset(-1);  // latest: waits for new records
      req.set_max_wait_ms(3000);
      broker::v1::FetchRecordsResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(In(10s));
      grpc::Status s = c.broker(101).FetchRecords(&ctx, req, &resp);
      if (s.ok()) {
        ++ok;
      } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        ++exhausted;
      } else {
        ++other;
      }
    });
  }
  std::this_thread::sleep_for(500ms);
  // Produce does not wait on that pool: it is answered while the long polls hold the threads.
  TestProducer p(c, "quiet", 0, 1, false);
  EXPECT_TRUE(p.Send({"through"}, 5s).acked);
  for (auto& t : polls) t.join();
  EXPECT_GT(exhausted.load(), 0);
  EXPECT_GT(ok.load(), 0);
  EXPECT_EQ(other.load(), 0);
  std::printf("12 long polls on 4 threads: %d served, %d refused with RESOURCE_EXHAUSTED\n",
              ok.load(), exhausted.load());
  // The pool is free again.
  broker::v1::FetchRecordsRequest req;
  req.set_topic("quiet");
  req.set_partition(0);
  req.set_offset(-2);
  broker::v1::FetchRecordsResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(In(5s));
  EXPECT_TRUE(c.broker(101).FetchRecords(&ctx, req, &resp).ok());
  EXPECT_TRUE(c.running(101));
  EXPECT_LT(RssBytes(c.process(101)->pid()), int64_t{512} << 20);
}

}  // namespace
}  // namespace strand::testing
