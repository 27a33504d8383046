// Leadership on a real cluster (3 controllers, 3 brokers): after the preferred leader of a
// partition stops and comes back, leadership returns to it by a manual preferred election
// (AdminService.ElectLeaders, what `strand partitions elect-leaders` sends) or, without an
// operator, by the active controller's preferred-leader rebalance
// (auto.leader.rebalance.enable, leader.imbalance.*). Writes acknowledged before, during and
// after read back in order from the preferred leader.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "tests/integration/strand_cluster.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
namespace av1 = admin::v1;

struct Election {
  std::string error;  // "NONE", "ELECTION_NOT_NEEDED", ...
  int32_t leader = -1;
};

// One preferred election of `topic`-`partition`, again across a change of active controller.
Election ElectPreferred(StrandCluster& c, const std::string& topic, int32_t partition) {
  av1::ElectLeadersRequest req;
  req.set_election_type(av1::PREFERRED);
  auto* tp = req.add_partitions();
  tp->set_topic(topic);
  tp->set_partition(partition);
  for (int attempt = 0; attempt < 50; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(In(10s));
    av1::ElectLeadersResponse resp;
    if (c.admin().ElectLeaders(&ctx, req, &resp).ok() && resp.results_size() == 1) {
      const auto& r = resp.results(0);
      const std::string name = r.error().code() == 0 ? "NONE" : r.error().name();
      if (name != "NOT_CONTROLLER") return {name, r.leader()};
    }
    std::this_thread::sleep_for(100ms);
  }
  return {"GAVE_UP", -1};
}

void Send(TestProducer& producer, const std::string& value) {
  const SendResult r = producer.Send({value}, 30s);
  ASSERT_TRUE(r.acked) << value << ": " << r.error;
}

// Stops the preferred leader of `topic`-0, writes while another replica leads, restarts it and
// waits until it is back in the ISR. Returns the preferred leader's id.
int32_t BounceThePreferredLeader(StrandCluster& c, TestProducer& producer,
                                 const std::string& topic) {
  auto view = c.WaitForPartition(topic, 0, 20s, 3);
  EXPECT_TRUE(view);
  if (!view) return -1;
  const int32_t preferred = view->replicas.front();
  EXPECT_EQ(view->leader, preferred) << "a new topic is led by its first replica";
  Send(producer, "before");
  c.Stop(preferred, 10s);
  EXPECT_TRUE(c.WaitForPartition(topic, 0, 20s, 0, preferred)) << "leadership never moved";
  Send(producer, "during");
  c.Start(preferred);
  EXPECT_TRUE(c.WaitForBrokers(30s));
  EXPECT_TRUE(Eventually(
      [&] {
        auto v = c.Partition(topic, 0);
        return v && v->isr.size() == 3;
      },
      30s))
      << "broker " << preferred << " never rejoined the ISR";
  return preferred;
}

std::vector<std::string> ValuesOn(StrandCluster& c, const std::string& topic, int node) {
  std::vector<std::string> out;
  auto records = c.ReadAll(topic, 0, node);
  EXPECT_TRUE(records.ok()) << records.status();
  if (records.ok()) {
    for (const StoredRecord& r : *records) out.push_back(r.value);
  }
  return out;
}

TEST(LeadershipTest, ElectLeaders_MovesLeadershipBackToThePreferredReplica) {
  ClusterOptions options;
  options.controller_args = {"--config", "auto.leader.rebalance.enable=false"};
  StrandCluster c(options);
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(c.CreateTopic("manual", 1, 3, {{"min.insync.replicas", "2"}}), "NONE");
  TestProducer producer(c, "manual", 0, -1, /*idempotent=*/true);
  const int32_t preferred = BounceThePreferredLeader(c, producer, "manual");
  ASSERT_GE(preferred, 0);

  // Without the rebalance, leadership stays where the failover put it.
  std::this_thread::sleep_for(3s);
  auto view = c.Partition("manual", 0);
  ASSERT_TRUE(view);
  EXPECT_NE(view->leader, preferred);

  const Election elected = ElectPreferred(c, "manual", 0);
  EXPECT_EQ(elected.error, "NONE");
  EXPECT_EQ(elected.leader, preferred);
  ASSERT_TRUE(Eventually(
      [&] {
        auto v = c.Partition("manual", 0);
        return v && v->leader == preferred && v->isr.size() == 3;
      },
      20s));
  EXPECT_EQ(ElectPreferred(c, "manual", 0).error, "ELECTION_NOT_NEEDED");

  Send(producer, "after");
  EXPECT_EQ(ValuesOn(c, "manual", preferred),
            (std::vector<std::string>{"before", "during", "after"}));
}

TEST(LeadershipTest, AutoRebalance_PreferredLeaderLeadsAgainWithoutAnOperator) {
  ClusterOptions options;
  options.controller_args = {"--config", "auto.leader.rebalance.enable=true",
                             "--config", "leader.imbalance.check.interval.seconds=1",
                             "--config", "leader.imbalance.per.broker.percentage=0"};
  StrandCluster c(options);
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(c.CreateTopic("auto", 1, 3, {{"min.insync.replicas", "2"}}), "NONE");
  TestProducer producer(c, "auto", 0, -1, /*idempotent=*/true);
  const int32_t preferred = BounceThePreferredLeader(c, producer, "auto");
  ASSERT_GE(preferred, 0);

  ASSERT_TRUE(Eventually(
      [&] {
        auto v = c.Partition("auto", 0);
        return v && v->leader == preferred;
      },
      30s))
      << "the controller never moved leadership back to broker " << preferred;
  Send(producer, "after");
  EXPECT_EQ(ValuesOn(c, "auto", preferred),
            (std::vector<std::string>{"before", "during", "after"}));
}

}  // namespace
}  // namespace strand::testing
