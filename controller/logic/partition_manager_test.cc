// Tests partition leadership: AlterPartition validation against epochs, what happens when the
// last ISR member is fenced (offline, then re-elected), unclean election by topic config,
// manual elections, preferred-leader rebalancing and reassignment.
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "controller/logic/test_controller.h"

namespace strand::controller {
namespace {

using testing::TestController;

v1::AlterPartitionResponse Alter(TestController& t, int broker, const std::string& topic, int p,
                                 std::vector<int> isr, int leader_epoch_delta = 0,
                                 int partition_epoch_delta = 0) {
  const PartitionState& ps = t.Partition(topic, p);
  v1::AlterPartitionRequest req;
  req.set_broker_id(broker);
  req.set_broker_epoch(t.epochs[broker]);
  req.set_incarnation_id(t.incarnations[broker]);
  auto* c = req.add_partitions();
  c->set_topic_id(t.committed.topic(topic)->id.Bytes());
  c->set_partition(p);
  c->set_leader_epoch(ps.leader_epoch.value() + leader_epoch_delta);
  c->set_partition_epoch(ps.partition_epoch + partition_epoch_delta);
  for (int m : isr) c->add_new_isr(m);
  std::optional<v1::AlterPartitionResponse> resp;
  t.controller.AlterPartition(req, [&](auto r) { resp = r; });
  t.CommitAll();
  return *resp;
}

// Creates `topic` with one partition on exactly `replicas` (the first is the preferred leader).
void CreateOnReplicas(TestController& t, const std::string& topic, const std::vector<int>& replicas,
                      const std::map<std::string, std::string>& configs = {}) {
  admin::v1::CreateTopicsRequest req;
  auto* nt = req.add_topics();
  nt->set_name(topic);
  auto* a = nt->add_assignments();
  for (int r : replicas) a->add_replicas(r);
  for (const auto& [k, v] : configs) (*nt->mutable_configs())[k] = v;
  t.controller.CreateTopics(req, [](auto) {});
  t.CommitAll();
}

// Broker `dead`'s heartbeat stream breaks; after the grace the survivors have heartbeated and
// the controller has fenced it.
void Kill(TestController& t, int dead, const std::vector<int>& survivors) {
  t.controller.HeartbeatStreamClosed(NodeId(dead), t.epochs[dead], t.now_ms);
  t.Advance(400);
  for (int id : survivors) t.Heartbeat(id);
  t.controller.Tick(t.now_ms);
  t.CommitAll();
}

TEST(AlterPartition, LeaderShrinksAndExpandsIsr) {
  TestController t;
  t.AddBrokers({101, 102, 103});
  ASSERT_EQ(t.CreateTopic("t", 1, 3).error().code(), 0);
  const int leader = t.Partition("t", 0).leader.value();
  std::vector<int> others;
  for (int b : {101, 102, 103}) {
    if (b != leader) others.push_back(b);
  }
  auto shrink = Alter(t, leader, "t", 0, {leader, others[0]});
  ASSERT_EQ(shrink.partitions(0).error().code(), 0) << shrink.partitions(0).error().message();
  EXPECT_EQ(t.Partition("t", 0).isr.size(), 2u);
  EXPECT_EQ(shrink.partitions(0).partition_epoch(), t.Partition("t", 0).partition_epoch);
  auto expand = Alter(t, leader, "t", 0, {leader, others[0], others[1]});
  EXPECT_EQ(expand.partitions(0).error().code(), 0);
  EXPECT_EQ(t.Partition("t", 0).isr.size(), 3u);
}

TEST(AlterPartition, StaleOrWrongRequests_AreRefused) {
  TestController t;
  t.AddBrokers({101, 102, 103});
  ASSERT_EQ(t.CreateTopic("t", 1, 3).error().code(), 0);
  const int leader = t.Partition("t", 0).leader.value();
  const int follower = leader == 101 ? 102 : 101;
  EXPECT_EQ(Alter(t, leader, "t", 0, {leader}, 0, -1).partitions(0).error().name(),
            "INVALID_UPDATE_VERSION");
  EXPECT_EQ(Alter(t, leader, "t", 0, {leader}, 0, +1).partitions(0).error().name(),
            "INVALID_UPDATE_VERSION");
  EXPECT_EQ(Alter(t, leader, "t", 0, {leader}, +1).partitions(0).error().name(),
            "UNKNOWN_LEADER_EPOCH");
  EXPECT_EQ(Alter(t, follower, "t", 0, {follower}).partitions(0).error().name(),
            "NOT_LEADER_OR_FOLLOWER");
  EXPECT_EQ(Alter(t, leader, "t", 0, {follower}).partitions(0).error().name(),
            "INVALID_REQUEST");  // the ISR must keep the leader
  EXPECT_EQ(Alter(t, leader, "t", 0, {leader, 999}).partitions(0).error().name(),
            "INELIGIBLE_REPLICA");
  EXPECT_EQ(t.Partition("t", 0).isr.size(), 3u);  // nothing changed
}

TEST(Leadership, LastIsrMemberFenced_GoesOfflineThenReturns) {
  TestController t;
  t.AddBrokers({101, 102});
  CreateOnReplicas(t, "solo", {101});
  ASSERT_EQ(t.Partition("solo", 0).leader, NodeId(101));
  const LeaderEpoch before = t.Partition("solo", 0).leader_epoch;
  Kill(t, 101, {});
  EXPECT_EQ(t.Partition("solo", 0).leader, kNoNode);                        // offline
  EXPECT_EQ(t.Partition("solo", 0).isr, std::vector<NodeId>{NodeId(101)});  // kept
  EXPECT_GT(t.Partition("solo", 0).leader_epoch, before);
  // The broker comes back: unfencing it brings the partition back online with it as leader.
  t.Register(101, "", "second-life");
  t.Heartbeat(101);
  EXPECT_EQ(t.Partition("solo", 0).leader, NodeId(101));
  EXPECT_GT(t.Partition("solo", 0).leader_epoch, before);
}

TEST(Leadership, LastIsrMemberThatIsNotPreferred_LeadsAgainWhenUnfenced) {
  TestController t;
  t.AddBrokers({101, 102, 103});
  CreateOnReplicas(t, "p", {101, 102, 103});
  // The ISR shrinks to 103 (not the preferred replica), which then dies: offline.
  ASSERT_EQ(Alter(t, 101, "p", 0, {101, 103}).partitions(0).error().code(), 0);
  Kill(t, 101, {102, 103});
  ASSERT_EQ(t.Partition("p", 0).leader, NodeId(103));
  ASSERT_EQ(t.Partition("p", 0).isr, std::vector<NodeId>{NodeId(103)});
  Kill(t, 103, {102});
  ASSERT_EQ(t.Partition("p", 0).leader, kNoNode);
  // 101 (preferred, out of sync) comes back: the partition stays offline, nothing is lost.
  t.Register(101, "", "second-life");
  t.Heartbeat(101);
  EXPECT_EQ(t.Partition("p", 0).leader, kNoNode);
  // 103, the last in-sync replica, comes back: it leads at once, no operator needed.
  t.Register(103, "", "second-life");
  t.Heartbeat(103);
  EXPECT_EQ(t.Partition("p", 0).leader, NodeId(103));
  EXPECT_EQ(t.Partition("p", 0).isr, std::vector<NodeId>{NodeId(103)});
}

TEST(Leadership, UncleanElection_OnlyWhenTopicAllows) {
  for (bool unclean : {false, true}) {
    TestController t;
    t.AddBrokers({101, 102});
    CreateOnReplicas(t, "u", {101, 102},
                     {{"unclean.leader.election.enable", unclean ? "true" : "false"}});
    // 102 falls out of the ISR, then the leader 101 dies.
    ASSERT_EQ(Alter(t, 101, "u", 0, {101}).partitions(0).error().code(), 0);
    Kill(t, 101, {102});
    if (unclean) {
      EXPECT_EQ(t.Partition("u", 0).leader, NodeId(102));
      EXPECT_EQ(t.Partition("u", 0).isr, std::vector<NodeId>{NodeId(102)});
    } else {
      EXPECT_EQ(t.Partition("u", 0).leader, kNoNode);
    }
  }
}

TEST(Leadership, PreferredRebalance_MovesLeadershipBack) {
  TestController t;
  t.AddBrokers({101, 102, 103});
  ASSERT_EQ(t.CreateTopic("r", 6, 3).error().code(), 0);
  // 101 restarts: its leaderships move away while it is gone.
  Kill(t, 101, {102, 103});
  t.Register(101, "", "again");
  t.Heartbeat(101);
  // It rejoins every ISR (as its leaders would report).
  for (int p = 0; p < 6; ++p) {
    const PartitionState& ps = t.Partition("r", p);
    std::vector<int> isr;
    for (NodeId m : ps.isr) isr.push_back(m.value());
    isr.push_back(101);
    ASSERT_EQ(Alter(t, ps.leader.value(), "r", p, isr).partitions(0).error().code(), 0);
  }
  int led_before = 0;
  for (int p = 0; p < 6; ++p) led_before += t.Partition("r", p).leader == NodeId(101);
  EXPECT_EQ(led_before, 0);
  // A shorter interval set now applies from the next tick, not after the old 300 s ran out.
  admin::v1::AlterConfigsRequest shorter;
  shorter.set_resource_type(admin::v1::BROKER);
  auto* change = shorter.add_changes();
  change->set_name("leader.imbalance.check.interval.seconds");
  change->set_value("5");
  change->set_op(admin::v1::SET);
  bool altered = false;
  t.controller.AlterConfigs(
      shorter, [&](admin::v1::AlterConfigsResponse r) { altered = r.error().code() == 0; });
  t.CommitAll();
  ASSERT_TRUE(altered);
  t.Advance(5'001);
  t.Heartbeat(101);
  t.Heartbeat(102);
  t.Heartbeat(103);
  t.controller.Tick(t.now_ms);
  t.CommitAll();
  for (int p = 0; p < 6; ++p) {
    const PartitionState& ps = t.Partition("r", p);
    EXPECT_EQ(ps.leader, ps.replicas.front()) << "partition " << p;
  }
}

TEST(Reassignment, AddCatchUpSwitchRemove) {
  TestController t;
  t.AddBrokers({101, 102, 103, 104});
  CreateOnReplicas(t, "move", {101, 102});
  admin::v1::AlterPartitionReassignmentsRequest req;
  auto* ra = req.add_reassignments();
  ra->mutable_partition()->set_topic("move");
  ra->mutable_partition()->set_partition(0);
  ra->add_replicas(103);
  ra->add_replicas(104);
  std::optional<admin::v1::AlterPartitionReassignmentsResponse> resp;
  t.controller.AlterPartitionReassignments(req, [&](auto r) { resp = r; });
  t.CommitAll();
  ASSERT_EQ(resp->results(0).error().code(), 0) << resp->results(0).error().message();
  const PartitionState& during = t.Partition("move", 0);
  EXPECT_TRUE(during.Reassigning());
  EXPECT_EQ(during.replicas.size(), 4u);  // old and new replicas while the new ones catch up
  // The leader reports the new replicas caught up: the reassignment completes.
  ASSERT_EQ(Alter(t, 101, "move", 0, {101, 102, 103, 104}).partitions(0).error().code(), 0);
  const PartitionState& after = t.Partition("move", 0);
  EXPECT_FALSE(after.Reassigning());
  EXPECT_EQ(after.replicas, (std::vector<NodeId>{NodeId(103), NodeId(104)}));
  EXPECT_EQ(after.isr, (std::vector<NodeId>{NodeId(103), NodeId(104)}));
  EXPECT_EQ(after.leader, NodeId(103));
}

TEST(Reassignment, CancelRestoresOriginal) {
  TestController t;
  t.AddBrokers({101, 102, 103});
  ASSERT_EQ(t.CreateTopic("c", 1, 2).error().code(), 0);
  const std::vector<NodeId> original = t.Partition("c", 0).replicas;
  int spare = 0;
  for (int b : {101, 102, 103}) {
    if (std::find(original.begin(), original.end(), NodeId(b)) == original.end()) spare = b;
  }
  admin::v1::AlterPartitionReassignmentsRequest req;
  auto* ra = req.add_reassignments();
  ra->mutable_partition()->set_topic("c");
  ra->add_replicas(spare);
  t.controller.AlterPartitionReassignments(req, [](auto) {});
  t.CommitAll();
  EXPECT_TRUE(t.Partition("c", 0).Reassigning());
  ra->clear_replicas();  // cancel
  std::optional<admin::v1::AlterPartitionReassignmentsResponse> resp;
  t.controller.AlterPartitionReassignments(req, [&](auto r) { resp = r; });
  t.CommitAll();
  EXPECT_EQ(resp->results(0).error().code(), 0);
  EXPECT_FALSE(t.Partition("c", 0).Reassigning());
  EXPECT_EQ(t.Partition("c", 0).replicas, original);
}

}  // namespace
}  // namespace strand::controller

namespace strand::controller {
namespace {

// Found by controller-sim: cancelling when no original replica is in sync must be refused
// (the old ISR would keep replicas that are no longer in the replica set).
TEST(Reassignment, CancelWithoutInSyncOriginal_IsRefused) {
  testing::TestController t;
  t.AddBrokers({101, 102, 103});
  CreateOnReplicas(t, "stuck", {101});
  admin::v1::AlterPartitionReassignmentsRequest req;
  auto* ra = req.add_reassignments();
  ra->mutable_partition()->set_topic("stuck");
  ra->add_replicas(102);
  ra->add_replicas(103);
  t.controller.AlterPartitionReassignments(req, [](auto) {});
  t.CommitAll();
  // 102 joins the ISR but 103 has not caught up; then the original replica drops out.
  ASSERT_EQ(Alter(t, 101, "stuck", 0, {101, 102}).partitions(0).error().code(), 0);
  Kill(t, 101, {102, 103});
  ASSERT_FALSE(t.Partition("stuck", 0).InIsr(NodeId(101)));
  ra->clear_replicas();
  std::optional<admin::v1::AlterPartitionReassignmentsResponse> resp;
  t.controller.AlterPartitionReassignments(req, [&](auto r) { resp = r; });
  t.CommitAll();
  EXPECT_EQ(resp->results(0).error().name(), "INVALID_REPLICA_ASSIGNMENT");
  for (NodeId m : t.Partition("stuck", 0).isr) EXPECT_TRUE(t.Partition("stuck", 0).IsReplica(m));
}

}  // namespace
}  // namespace strand::controller
