// Tests the broker lifecycle on the active controller: registration (fenced first), unfencing
// once caught up, fencing on session expiry or a broken heartbeat stream (with its grace),
// re-registration after a restart, duplicate processes, controlled shutdown, producer ids, and
// replicas a broker reports offline (its log cannot be opened).
#include <gtest/gtest.h>

#include "controller/logic/test_controller.h"

namespace strand::controller {
namespace {

using testing::TestController;

TEST(Brokers, Register_StartsFenced_UnfencedOnceCaughtUp) {
  TestController t;
  const int64_t epoch = t.Register(101, "r1");
  EXPECT_GT(epoch, 0);
  EXPECT_TRUE(t.committed.broker(NodeId(101))->fenced);
  // Behind the metadata log: stays fenced.
  v1::BrokerHeartbeatRequest behind;
  behind.set_broker_id(101);
  behind.set_broker_epoch(epoch);
  behind.set_incarnation_id(t.incarnations[101]);
  behind.set_metadata_offset(0);
  auto r = t.controller.Heartbeat(behind, t.now_ms);
  EXPECT_TRUE(r.is_fenced());
  EXPECT_FALSE(r.is_caught_up());
  // Caught up: unfenced.
  r = t.Heartbeat(101);
  EXPECT_FALSE(r.is_fenced());
  EXPECT_TRUE(t.committed.BrokerIsActive(NodeId(101)));
}

TEST(Brokers, Register_Errors) {
  TestController t;
  v1::RegisterBrokerRequest req;
  req.set_cluster_id("other");
  req.set_broker_id(101);
  req.set_incarnation_id("x");
  req.add_listeners()->set_port(1);
  std::optional<v1::RegisterBrokerResponse> resp;
  t.controller.RegisterBroker(req, t.now_ms, [&](auto r) { resp = r; });
  EXPECT_EQ(resp->error().name(), "INCONSISTENT_CLUSTER_ID");
  req.set_cluster_id("test-cluster");
  req.set_broker_id(2);  // a controller's id
  t.controller.RegisterBroker(req, t.now_ms, [&](auto r) { resp = r; });
  EXPECT_EQ(resp->error().name(), "INVALID_REQUEST");
  // Combined mode claimed for an id outside the voters.
  req.set_broker_id(101);
  req.set_combined(true);
  t.controller.RegisterBroker(req, t.now_ms, [&](auto r) { resp = r; });
  EXPECT_EQ(resp->error().name(), "INVALID_REQUEST");
  EXPECT_NE(resp->error().message().find("not a controller"), std::string::npos);
}

TEST(Brokers, CombinedModeBrokerMayCarryItsControllersId) {
  TestController t;
  v1::RegisterBrokerRequest req;
  req.set_cluster_id("test-cluster");
  req.set_broker_id(2);  // a voter: the broker role of controller 2's own process
  req.set_incarnation_id("combined-2");
  req.add_listeners()->set_port(1);
  req.set_combined(true);
  std::optional<v1::RegisterBrokerResponse> resp;
  t.controller.RegisterBroker(req, t.now_ms, [&](auto r) { resp = r; });
  t.CommitAll();
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->error().code(), 0) << resp->error().message();
  EXPECT_GT(resp->broker_epoch(), 0);
  EXPECT_NE(t.committed.broker(NodeId(2)), nullptr);
}

TEST(Brokers, SessionExpiry_FencesAndMovesLeadership) {
  TestController t;
  t.AddBrokers({101, 102, 103});
  ASSERT_EQ(t.CreateTopic("t", 3, 3).error().code(), 0);
  // 101 stops heartbeating; the others keep their sessions alive.
  for (int i = 0; i < 8; ++i) {
    t.Advance(500);
    t.Heartbeat(102);
    t.Heartbeat(103);
    t.controller.Tick(t.now_ms);
    t.CommitAll();
  }
  EXPECT_TRUE(t.committed.broker(NodeId(101))->fenced);
  for (int p = 0; p < 3; ++p) {
    const PartitionState& ps = t.Partition("t", p);
    EXPECT_NE(ps.leader, NodeId(101));
    EXPECT_FALSE(ps.InIsr(NodeId(101)));
    EXPECT_TRUE(t.committed.BrokerIsActive(ps.leader));
  }
}

TEST(Brokers, BrokenStream_FencesAfterGrace_UnlessReconnected) {
  TestController t;
  t.AddBrokers({101, 102});
  t.controller.HeartbeatStreamClosed(NodeId(101), t.epochs[101], t.now_ms);
  t.Advance(200);  // within the 300 ms grace: reconnects
  t.Heartbeat(101);
  t.Advance(200);
  t.controller.Tick(t.now_ms);
  t.CommitAll();
  EXPECT_FALSE(t.committed.broker(NodeId(101))->fenced);
  t.controller.HeartbeatStreamClosed(NodeId(101), t.epochs[101], t.now_ms);
  t.Advance(301);  // far sooner than the 3 s session timeout
  t.controller.Tick(t.now_ms);
  t.CommitAll();
  EXPECT_TRUE(t.committed.broker(NodeId(101))->fenced);
}

TEST(Brokers, NewIncarnation_ReplacesOldCleanly) {
  TestController t;
  t.AddBrokers({101, 102});
  ASSERT_EQ(t.CreateTopic("t", 2, 2).error().code(), 0);
  const int64_t old_epoch = t.epochs[101];
  // A second live process with the same id is refused while the first's stream is open.
  v1::RegisterBrokerRequest dup;
  dup.set_cluster_id("test-cluster");
  dup.set_broker_id(101);
  dup.set_incarnation_id("impostor");
  dup.add_listeners()->set_port(1);
  std::optional<v1::RegisterBrokerResponse> resp;
  t.controller.RegisterBroker(dup, t.now_ms, [&](auto r) { resp = r; });
  EXPECT_EQ(resp->error().name(), "DUPLICATE_BROKER_REGISTRATION");
  // After a crash (stream closed), the restarted process registers at once.
  t.controller.HeartbeatStreamClosed(NodeId(101), old_epoch, t.now_ms);
  const int64_t new_epoch = t.Register(101, "", "restarted");
  EXPECT_GT(new_epoch, old_epoch);
  EXPECT_EQ(t.committed.broker(NodeId(101))->incarnation_id, "restarted");
  EXPECT_TRUE(t.committed.broker(NodeId(101))->fenced);
  for (int p = 0; p < 2; ++p) EXPECT_NE(t.Partition("t", p).leader, NodeId(101));
  // Its old epoch is no longer accepted; the new one is, and unfences it.
  v1::BrokerHeartbeatRequest stale;
  stale.set_broker_id(101);
  stale.set_broker_epoch(old_epoch);
  EXPECT_EQ(t.controller.Heartbeat(stale, t.now_ms).error().name(), "STALE_BROKER_EPOCH");
  EXPECT_FALSE(t.Heartbeat(101).is_fenced());
}

TEST(Brokers, ControlledShutdown_MovesLeadershipThenAllowsExit) {
  TestController t;
  t.AddBrokers({101, 102, 103});
  ASSERT_EQ(t.CreateTopic("t", 6, 3).error().code(), 0);
  auto first = t.controller.Heartbeat(
      [&] {
        v1::BrokerHeartbeatRequest r;
        r.set_broker_id(101);
        r.set_broker_epoch(t.epochs[101]);
        r.set_incarnation_id(t.incarnations[101]);
        r.set_metadata_offset(t.committed.offset());
        r.set_want_shut_down(true);
        return r;
      }(),
      t.now_ms);
  EXPECT_FALSE(first.should_shut_down());  // the leadership moves are not committed yet
  t.CommitAll();
  auto second = t.Heartbeat(101, /*shut_down=*/true);
  EXPECT_TRUE(second.should_shut_down());
  EXPECT_TRUE(t.committed.broker(NodeId(101))->in_controlled_shutdown);
  for (int p = 0; p < 6; ++p) {
    EXPECT_NE(t.Partition("t", p).leader, NodeId(101));
    EXPECT_FALSE(t.Partition("t", p).InIsr(NodeId(101)));
  }
}

TEST(Brokers, ProducerIdBlocks_DoNotOverlap) {
  TestController t;
  t.AddBrokers({101, 102});
  std::vector<int64_t> starts;
  for (int broker : {101, 102, 101}) {
    v1::AllocateProducerIdsRequest req;
    req.set_broker_id(broker);
    req.set_broker_epoch(t.epochs[broker]);
    req.set_incarnation_id(t.incarnations[broker]);
    std::optional<v1::AllocateProducerIdsResponse> resp;
    t.controller.AllocateProducerIds(req, [&](auto r) { resp = r; });
    EXPECT_FALSE(resp.has_value());  // answered once committed
    t.CommitAll();
    ASSERT_TRUE(resp.has_value());
    EXPECT_EQ(resp->producer_id_len(), 1000);
    starts.push_back(resp->producer_id_start());
  }
  EXPECT_EQ(starts, (std::vector<int64_t>{0, 1000, 2000}));
}

TEST(Brokers, Activation_GivesEveryBrokerAFullSession) {
  TestController t;
  t.AddBrokers({101});
  // A new active controller (failover) must not fence brokers that are still reconnecting.
  t.controller.BecomeActive(t.committed, 2, t.now_ms);
  t.CommitAll();
  t.Advance(2'000);
  t.controller.Tick(t.now_ms);
  t.CommitAll();
  EXPECT_FALSE(t.committed.broker(NodeId(101))->fenced);
  t.Advance(1'500);
  t.controller.Tick(t.now_ms);
  t.CommitAll();
  EXPECT_TRUE(t.committed.broker(NodeId(101))->fenced);
}

}  // namespace
}  // namespace strand::controller

namespace strand::controller {
namespace {

// Found by controller-sim: two brokers expiring in the same tick must not produce partition
// changes computed from the same outdated state (the leader ended up outside the ISR).
TEST(Brokers, TwoBrokersExpireTogether_LeaderStaysInIsr) {
  testing::TestController t;
  t.AddBrokers({101, 102, 103});
  ASSERT_EQ(t.CreateTopic("t", 6, 3).error().code(), 0);
  for (int i = 0; i < 8; ++i) {
    t.Advance(500);
    t.Heartbeat(103);  // 101 and 102 both go silent
  }
  t.controller.Tick(t.now_ms);
  t.CommitAll();
  for (int p = 0; p < 6; ++p) {
    const PartitionState& ps = t.Partition("t", p);
    ASSERT_NE(ps.leader, kNoNode);
    EXPECT_TRUE(ps.InIsr(ps.leader)) << "partition " << p;
    EXPECT_TRUE(t.committed.BrokerIsActive(ps.leader));
  }
}

// Creates topic `name` with one partition whose only replica is on `broker`.
void CreateOnOneBroker(testing::TestController& t, const std::string& name, int broker) {
  admin::v1::CreateTopicsRequest req;
  auto* nt = req.add_topics();
  nt->set_name(name);
  nt->add_assignments()->add_replicas(broker);
  t.controller.CreateTopics(req, [](auto) {});
  t.CommitAll();
}

// A heartbeat from `id` reporting `offline` replicas of topic `topic`.
v1::BrokerHeartbeatResponse HeartbeatOffline(testing::TestController& t, int id,
                                             const std::string& topic,
                                             const std::vector<int32_t>& offline) {
  v1::BrokerHeartbeatRequest req;
  req.set_broker_id(id);
  req.set_broker_epoch(t.epochs[id]);
  req.set_incarnation_id(t.incarnations[id]);
  req.set_metadata_offset(t.committed.offset());
  for (int32_t p : offline) {
    auto* r = req.add_offline_replicas();
    r->set_topic_id(t.committed.topic(topic)->id.Bytes());
    r->set_partition(p);
  }
  auto resp = t.controller.Heartbeat(req, t.now_ms);
  t.CommitAll();
  return resp;
}

TEST(Brokers, OfflineReplica_LeavesIsrAndLeadership_ReturnsWhenOnline) {
  testing::TestController t;
  t.AddBrokers({101, 102, 103});
  // "shared": replicas on every broker; "alone": 101 only.
  ASSERT_EQ(t.CreateTopic("shared", 3, 3).error().code(), 0);
  CreateOnOneBroker(t, "alone", 101);
  ASSERT_EQ(t.Partition("alone", 0).leader, NodeId(101));
  // 101 cannot open shared-0, shared-1 and alone-0.
  HeartbeatOffline(t, 101, "shared", {0, 1});
  v1::BrokerHeartbeatRequest both;
  both.set_broker_id(101);
  both.set_broker_epoch(t.epochs[101]);
  both.set_incarnation_id(t.incarnations[101]);
  both.set_metadata_offset(t.committed.offset());
  for (const auto& [topic, p] :
       std::vector<std::pair<std::string, int32_t>>{{"shared", 0}, {"shared", 1}, {"alone", 0}}) {
    auto* r = both.add_offline_replicas();
    r->set_topic_id(t.committed.topic(topic)->id.Bytes());
    r->set_partition(p);
  }
  t.controller.Heartbeat(both, t.now_ms);
  t.CommitAll();
  for (int p : {0, 1}) {
    const PartitionState& ps = t.Partition("shared", p);
    EXPECT_NE(ps.leader, NodeId(101)) << p;
    EXPECT_NE(ps.leader, kNoNode) << p;
    EXPECT_FALSE(ps.InIsr(NodeId(101))) << p;
  }
  EXPECT_TRUE(t.Partition("shared", 2).InIsr(NodeId(101)));  // online: untouched
  // The only replica offline: the partition is offline, its last ISR member kept.
  EXPECT_EQ(t.Partition("alone", 0).leader, kNoNode);
  EXPECT_EQ(t.Partition("alone", 0).isr, std::vector<NodeId>{NodeId(101)});
  // Never elected while offline: not by a preferred election, not when others leave.
  admin::v1::ElectLeadersRequest elect;
  elect.set_election_type(admin::v1::PREFERRED);
  std::optional<admin::v1::ElectLeadersResponse> elected;
  t.controller.ElectLeaders(elect, [&](auto r) { elected = r; });
  t.CommitAll();
  for (const auto& r : elected->results()) {
    if (r.partition().topic() == "alone" ||
        (r.partition().topic() == "shared" && r.partition().partition() < 2)) {
      EXPECT_NE(r.leader(), 101) << r.partition().topic() << "-" << r.partition().partition();
    }
  }
  // An ISR expansion that names it is refused.
  const PartitionState& s0 = t.Partition("shared", 0);
  v1::AlterPartitionRequest alter;
  alter.set_broker_id(s0.leader.value());
  alter.set_broker_epoch(t.epochs[s0.leader.value()]);
  alter.set_incarnation_id(t.incarnations[s0.leader.value()]);
  auto* change = alter.add_partitions();
  change->set_topic_id(t.committed.topic("shared")->id.Bytes());
  change->set_partition(0);
  change->set_leader_epoch(s0.leader_epoch.value());
  change->set_partition_epoch(s0.partition_epoch);
  for (NodeId m : s0.isr) change->add_new_isr(m.value());
  change->add_new_isr(101);
  std::optional<v1::AlterPartitionResponse> altered;
  t.controller.AlterPartition(alter, [&](auto r) { altered = r; });
  t.CommitAll();
  EXPECT_EQ(altered->partitions(0).error().name(), "INELIGIBLE_REPLICA");
  // Back online (the next heartbeat reports nothing): alone-0 is led by 101 again.
  HeartbeatOffline(t, 101, "shared", {});
  EXPECT_EQ(t.Partition("alone", 0).leader, NodeId(101));
}

TEST(Brokers, RequestsWithoutTheRegistrationsIncarnation_AreRefused) {
  testing::TestController t;
  t.AddBrokers({101, 102});
  ASSERT_EQ(t.CreateTopic("t", 2, 2).error().code(), 0);
  // The epoch is guessable (a metadata offset); the incarnation id is the credential.
  v1::BrokerHeartbeatRequest forged;
  forged.set_broker_id(101);
  forged.set_broker_epoch(t.epochs[101]);
  forged.set_incarnation_id("guess");
  forged.set_want_shut_down(true);
  forged.set_metadata_offset(t.committed.offset());
  EXPECT_EQ(t.controller.Heartbeat(forged, t.now_ms).error().name(), "STALE_BROKER_EPOCH");
  t.CommitAll();
  EXPECT_FALSE(t.committed.broker(NodeId(101))->in_controlled_shutdown);
  forged.clear_incarnation_id();
  EXPECT_EQ(t.controller.Heartbeat(forged, t.now_ms).error().name(), "STALE_BROKER_EPOCH");
  v1::AllocateProducerIdsRequest ids;
  ids.set_broker_id(101);
  ids.set_broker_epoch(t.epochs[101]);
  std::optional<v1::AllocateProducerIdsResponse> allocated;
  t.controller.AllocateProducerIds(ids, [&](auto r) { allocated = r; });
  EXPECT_EQ(allocated->error().name(), "STALE_BROKER_EPOCH");
  v1::AlterPartitionRequest alter;
  alter.set_broker_id(101);
  alter.set_broker_epoch(t.epochs[101]);
  std::optional<v1::AlterPartitionResponse> altered;
  t.controller.AlterPartition(alter, [&](auto r) { altered = r; });
  EXPECT_EQ(altered->error().name(), "STALE_BROKER_EPOCH");
  // The real process is unaffected.
  EXPECT_FALSE(t.Heartbeat(101).is_fenced());
}

TEST(Brokers, NewActiveController_ElectsAReplicaThatCameBackMeanwhile) {
  testing::TestController t;
  t.AddBrokers({101, 102});
  CreateOnOneBroker(t, "alone", 101);
  HeartbeatOffline(t, 101, "alone", {0});
  ASSERT_EQ(t.Partition("alone", 0).leader, kNoNode);
  // The active controller changes; meanwhile the replica came back. The new controller never
  // saw it offline, so the first heartbeat it gets from 101 is what tells it.
  t.controller.BecomeStandby();
  t.controller.BecomeActive(t.committed, 7, t.now_ms);
  HeartbeatOffline(t, 101, "alone", {});
  EXPECT_EQ(t.Partition("alone", 0).leader, NodeId(101));
}

}  // namespace
}  // namespace strand::controller
