// Integration tests of the controller quorum with real processes: three strand-server
// controllers on 127.0.0.1, brokers stood in for by BrokerLifecycle sessions over real gRPC.
//
//   - the active controller is SIGKILLed while 500 topic creations stream in: a new active
//     controller serves within the election timeout, every acknowledged creation exists, and
//     after all three controllers restart the metadata is intact;
//   - broker sessions: fencing when the heartbeat stream breaks (partition leadership moves),
//     controlled shutdown, re-registration with a new incarnation;
//   - a controller that lost its disk rejoins and catches up from a snapshot.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "broker/lifecycle/broker_lifecycle.h"
#include "proto/admin/v1/admin.grpc.pb.h"
#include "tests/integration/test_process.h"

namespace strand::controller {
namespace {

using namespace std::chrono_literals;
using broker::BrokerLifecycle;
using broker::BrokerLifecycleOptions;
using strand::testing::ChildProcess;
using Clock = std::chrono::steady_clock;

class ControllerClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int id = 1; id <= 3; ++id) {
      ports_[id] = strand::testing::FreePort();
      voters_[NodeId(id)] = fmt::format("127.0.0.1:{}", ports_[id]);
      quorum_ += fmt::format("{}{}@127.0.0.1:{}", id == 1 ? "" : ",", id, ports_[id]);
    }
    for (int id = 1; id <= 3; ++id) {
      Start(id);
      stubs_[id] = admin::v1::AdminService::NewStub(
          grpc::CreateChannel(voters_[NodeId(id)], grpc::InsecureChannelCredentials()));
    }
  }

  void Start(int id, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--roles=controller",
                                  fmt::format("--node-id={}", id),
                                  "--controller-quorum=" + quorum_,
                                  "--config=listeners=CONTROLLER://" + voters_[NodeId(id)],
 "--config=controller.listener.names=CONTROLLER",
                                  fmt::format("--data-dir={}/c{}", dir_.path(), id),
                                  "--cluster-id=it",
                                  fmt::format("--metrics-listen=127.0.0.1:{}", strand::testing::FreePort()),
                                  "--tick-ms=20",
                                  "--snapshot-interval=100",
                                  "--snapshot-trailing-entries=10"};
    for (auto& e : extra) args.push_back(e);
    nodes_[id] = std::make_unique<ChildProcess>("strand-server", args,
                                                fmt::format("{}/c{}.log", dir_.path(), id));
  }

  std::optional<admin::v1::DescribeClusterResponse> Describe(int id) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 3s);
    admin::v1::DescribeClusterResponse r;
    if (!stubs_[id]->DescribeCluster(&ctx, {}, &r).ok()) return std::nullopt;
    return r;
  }

  // The active controller every live controller agrees on.
  int WaitForActive(std::chrono::milliseconds timeout, int excluded = 0) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      for (int id = 1; id <= 3; ++id) {
        if (id == excluded) continue;
        auto d = Describe(id);
        if (d && d->active_controller() > 0 && d->active_controller() != excluded &&
            d->error().code() == 0) {
          return d->active_controller();
        }
      }
      std::this_thread::sleep_for(20ms);
    }
    return 0;
  }

  std::unique_ptr<BrokerLifecycle> Broker(int id, const std::string& rack = "") {
    BrokerLifecycleOptions o;
    o.cluster_id = "it";
    o.broker_id = NodeId(id);
    v1::Listener l;
    l.set_name("CLIENT");
    l.set_host("127.0.0.1");
    l.set_port(20000 + id);
    o.listeners = {l};
    o.rack = rack;
    o.controllers = voters_;
    o.heartbeat_interval_ms = 200;
    // A stand-in broker has no metadata log of its own: it reports itself caught up.
    auto b = std::make_unique<BrokerLifecycle>(o, [] { return UINT64_MAX; });
    b->Start();
    return b;
  }

  // Sends `req` to controller `id`; returns the per-topic error name ("NONE" on success), or
  // "UNREACHABLE".
  std::string CreateTopic(int id, const std::string& name, int partitions, int rf) {
    admin::v1::CreateTopicsRequest req;
    auto* t = req.add_topics();
    t->set_name(name);
    t->set_partitions(partitions);
    t->set_replication_factor(rf);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 3s);
    admin::v1::CreateTopicsResponse resp;
    if (!stubs_[id]->CreateTopics(&ctx, req, &resp).ok()) return "UNREACHABLE";
    return resp.topics(0).error().name();
  }

  std::set<std::string> Topics(int id) {
    grpc::ClientContext ctx;
    // A restarted controller's channel may be in reconnect backoff: wait for it rather than
    // fail fast (which read as "no topics" under load).
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    admin::v1::ListTopicsResponse resp;
    std::set<std::string> out;
    if (!stubs_[id]->ListTopics(&ctx, {}, &resp).ok()) return out;
    for (const auto& t : resp.topics()) out.insert(t.name());
    return out;
  }

  admin::v1::TopicDescription DescribeTopic(int id, const std::string& name) {
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    admin::v1::DescribeTopicsRequest req;
    req.add_names(name);
    admin::v1::DescribeTopicsResponse resp;
    EXPECT_TRUE(stubs_[id]->DescribeTopics(&ctx, req, &resp).ok());
    return resp.topics_size() > 0 ? resp.topics(0) : admin::v1::TopicDescription();
  }

  std::string Logs() {
    std::string out;
    for (int id = 1; id <= 3; ++id) {
      out += fmt::format("--- controller {} ---\n{}", id,
                         strand::testing::Tail(nodes_[id]->log_path(), 15));
    }
    return out;
  }

  strand::testing::TempDir dir_{"strand-controller-it"};
  std::map<int, int> ports_;
  std::map<NodeId, std::string> voters_;
  std::string quorum_;
  std::map<int, std::unique_ptr<ChildProcess>> nodes_;
  std::map<int, std::unique_ptr<admin::v1::AdminService::Stub>> stubs_;
};

TEST_F(ControllerClusterTest, ActiveKilledDuringTopicCreations_AcknowledgedTopicsSurvive) {
  const int first = WaitForActive(20s);
  ASSERT_GT(first, 0) << Logs();
  auto b1 = Broker(101), b2 = Broker(102), b3 = Broker(103);
  ASSERT_TRUE(b1->WaitUnfenced(10s) && b2->WaitUnfenced(10s) && b3->WaitUnfenced(10s)) << Logs();

  std::set<std::string> acknowledged;
  int target = first, killed = 0;
  Clock::time_point killed_at;
  std::optional<double> failover_ms;
  const auto deadline = Clock::now() + 90s;
  for (int i = 0; i < 500 && Clock::now() < deadline;) {
    const std::string name = fmt::format("topic-{:03}", i);
    const std::string error = CreateTopic(target, name, 3, 3);
    if (error == "NONE" || error == "TOPIC_ALREADY_EXISTS") {
      // TOPIC_ALREADY_EXISTS: an earlier try committed although its answer was lost.
      if (error == "NONE") acknowledged.insert(name);
      if (killed != 0 && !failover_ms) {
        failover_ms =
            std::chrono::duration<double, std::milli>(Clock::now() - killed_at).count();
      }
      ++i;
    } else {
      target = target % 3 + 1;  // any live controller forwards to the active one
      if (target == killed) target = target % 3 + 1;
      std::this_thread::sleep_for(5ms);
    }
    if (i == 150 && killed == 0) {
      killed = first;
      nodes_[killed]->Signal(SIGKILL);
      nodes_[killed]->Wait(5s);
      killed_at = Clock::now();
      target = killed % 3 + 1;
    }
  }
  ASSERT_TRUE(failover_ms.has_value()) << Logs();
  std::printf("controller failover: first acknowledged creation %.0f ms after SIGKILL\n",
              *failover_ms);
  // Election timeout is 10-20 ticks of 20 ms here; add the client's retry and the commit.
  EXPECT_LT(*failover_ms, 2'000);
  const int survivor = killed % 3 + 1;
  std::set<std::string> present = Topics(survivor);
  for (const std::string& name : acknowledged) EXPECT_TRUE(present.count(name)) << name;
  EXPECT_EQ(present.size(), 500u);  // every topic the loop went through exists, once

  // Restart everything: the metadata is intact and the brokers are still known.
  Start(killed);
  for (int id = 1; id <= 3; ++id) nodes_[id]->Stop();
  for (int id = 1; id <= 3; ++id) Start(id);
  ASSERT_GT(WaitForActive(20s), 0) << Logs();
  for (int id = 1; id <= 3; ++id) {
    // A restarted follower answers from its own copy once it has replayed its log.
    std::set<std::string> after;
    for (const auto until = Clock::now() + 20s; Clock::now() < until;) {
      after = Topics(id);
      if (after == present) break;
      std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(after, present) << "controller " << id;
  }
  const auto d = DescribeTopic(survivor, "topic-000");
  ASSERT_EQ(d.partitions_size(), 3);
  EXPECT_EQ(d.partitions(0).replicas_size(), 3);
}

TEST_F(ControllerClusterTest, BrokerStreamBreaks_FencedAndLeadershipMoves) {
  ASSERT_GT(WaitForActive(20s), 0) << Logs();
  auto b1 = Broker(101), b2 = Broker(102), b3 = Broker(103);
  ASSERT_TRUE(b1->WaitUnfenced(10s) && b2->WaitUnfenced(10s) && b3->WaitUnfenced(10s));
  ASSERT_EQ(CreateTopic(1, "fence-me", 6, 3), "NONE");
  std::set<int> led_by_101;
  const admin::v1::TopicDescription before = DescribeTopic(1, "fence-me");
  for (const auto& p : before.partitions()) {
    if (p.leader() == 101) led_by_101.insert(p.partition());
  }
  ASSERT_FALSE(led_by_101.empty());
  const auto stopped_at = Clock::now();
  b1->Stop();  // the stream closes, as when the broker's process dies
  bool moved = false;
  while (!moved && Clock::now() - stopped_at < 5s) {
    moved = true;
    const admin::v1::TopicDescription now = DescribeTopic(1, "fence-me");
    for (const auto& p : now.partitions()) {
      if (p.leader() == 101 || p.leader() < 0) moved = false;
    }
    if (!moved) std::this_thread::sleep_for(10ms);
  }
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - stopped_at).count();
  ASSERT_TRUE(moved);
  std::printf("broker fenced and leadership moved %.0f ms after its stream closed\n", ms);
  EXPECT_LT(ms, 2'000);  // the stream grace (300 ms), not the 3 s session timeout
  auto cluster = Describe(1);
  for (const auto& b : cluster->brokers()) {
    if (b.id() == 101) {
      EXPECT_EQ(b.state(), admin::v1::FENCED);
    }
  }
  // The broker restarts with a new incarnation and is taken back cleanly.
  auto again = Broker(101);
  ASSERT_TRUE(again->WaitUnfenced(10s));
  EXPECT_NE(again->incarnation_id(), b1->incarnation_id());
  EXPECT_GT(again->epoch(), b1->epoch());
}

TEST_F(ControllerClusterTest, ControlledShutdown_MovesLeadershipBeforeExit) {
  ASSERT_GT(WaitForActive(20s), 0) << Logs();
  auto b1 = Broker(101), b2 = Broker(102), b3 = Broker(103);
  ASSERT_TRUE(b1->WaitUnfenced(10s) && b2->WaitUnfenced(10s) && b3->WaitUnfenced(10s));
  ASSERT_EQ(CreateTopic(2, "graceful", 9, 3), "NONE");
  ASSERT_TRUE(b2->ControlledShutdown(10s));
  const admin::v1::TopicDescription graceful = DescribeTopic(3, "graceful");
  for (const auto& p : graceful.partitions()) {
    EXPECT_NE(p.leader(), 102);
    EXPECT_GE(p.leader(), 0);
  }
  auto cluster = Describe(3);
  for (const auto& b : cluster->brokers()) {
    if (b.id() == 102) {
      EXPECT_EQ(b.state(), admin::v1::CONTROLLED_SHUTDOWN);
    }
  }
}

TEST_F(ControllerClusterTest, ControllerWithLostDisk_CatchesUpFromSnapshot) {
  ASSERT_GT(WaitForActive(20s), 0) << Logs();
  auto b1 = Broker(101);
  ASSERT_TRUE(b1->WaitUnfenced(10s));
  int victim = WaitForActive(5s) % 3 + 1;  // a standby controller
  for (int i = 0; i < 250; ++i) {  // well past the snapshot interval (100 entries)
    ASSERT_EQ(CreateTopic(victim % 3 + 1, fmt::format("s-{}", i), 1, 1), "NONE");
  }
  nodes_[victim]->Signal(SIGKILL);
  nodes_[victim]->Wait(5s);
  std::filesystem::remove_all(fmt::format("{}/c{}", dir_.path(), victim));
  Start(victim);
  const auto expected = Topics(victim % 3 + 1);
  bool caught_up = false;
  for (int i = 0; i < 100 && !caught_up; ++i) {
    caught_up = Topics(victim) == expected;
    if (!caught_up) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(caught_up) << Logs() << strand::testing::Tail(nodes_[victim]->log_path(), 60);
  // It came back empty and was sent the leader's snapshot (the log before it is compacted).
  const std::string log = strand::testing::Tail(nodes_[victim]->log_path(), 200);
  EXPECT_NE(log.find("starting at term 0 with snapshot 0 and 0 entries"), std::string::npos);
  EXPECT_NE(log.find("installed snapshot"), std::string::npos) << log;
}

}  // namespace
}  // namespace strand::controller
