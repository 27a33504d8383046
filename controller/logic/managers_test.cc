// Tests each controller manager on its own: a working image built by replaying records, the
// manager's handler called directly, and the ControllerResult it returns checked — the records it
// would append, the response, and whether it answers at once. Nothing is appended; a test replays
// the records itself where the next step needs their effect. The last test checks
// QuorumController's one "not active" guard: every request handler answers NOT_CONTROLLER (per
// item where the response has items) on a standby controller.
#include <optional>

#include <gtest/gtest.h>

#include "common/check.h"
#include "controller/logic/quorum_controller.h"
#include "controller/logic/test_controller.h"

namespace strand::controller {
namespace {

// The managers wired as QuorumController wires them, over an image the test fills.
struct Managers {
  MetadataImage image;
  BrokerSessions sessions{image};
  ConfigManager configs{image, {{"num.partitions", "2"}}};
  PartitionManager partitions{image, sessions, configs};
  Random random{7};
  TopicManager topics{image, sessions, configs, partitions, TopicLimits{3, 10}, random};
  BrokerManager brokers{image, sessions, partitions,
                        BrokerManagerConfig{"c1", {NodeId(1), NodeId(2), NodeId(3)}, 3000, 300}};
  ProducerIdManager producer_ids{image, sessions, 100};
  uint64_t offset = 0;

  void Replay(const v1::MetadataBatch& batch) {
    absl::Status s = image.ReplayBatch(batch, ++offset);
    STRAND_CHECK_MSG(s.ok(), "{}", s.ToString());
  }
  // A registered, unfenced broker; returns its epoch.
  int64_t AddBroker(int id) {
    v1::MetadataBatch batch;
    auto* r = batch.add_records()->mutable_register_broker();
    r->set_broker_id(id);
    r->set_incarnation_id("inc-" + std::to_string(id));
    r->set_fenced(false);
    Replay(batch);
    return image.broker(NodeId(id))->epoch;
  }
  // Creates a topic through TopicManager and replays its records.
  const TopicImage& AddTopic(const std::string& name, int partitions, int rf) {
    admin::v1::CreateTopicsRequest req;
    auto* t = req.add_topics();
    t->set_name(name);
    t->set_partitions(partitions);
    t->set_replication_factor(rf);
    std::set<std::string> seen;
    auto result = topics.CreateTopic(req, 0, &seen);
    STRAND_CHECK_MSG(!result.answer_now, "{}", result.response.error().message());
    Replay(result.records);
    return *image.topic(name);
  }
};

std::string Name(const common::v1::Error& e) { return e.code() == 0 ? "NONE" : e.name(); }

TEST(ConfigManager, AlterConfigs_RecordsEachChange_ValidateOnlyWritesNothing) {
  Managers m;
  m.AddBroker(101);
  m.AddTopic("t", 1, 1);
  admin::v1::AlterConfigsRequest req;
  req.set_resource_type(admin::v1::TOPIC);
  req.set_resource_name("t");
  auto* c = req.add_changes();
  c->set_name("retention.ms");
  c->set_value("1000");
  auto result = m.configs.AlterConfigs(req);
  EXPECT_FALSE(result.answer_now);
  ASSERT_EQ(result.records.records_size(), 1);
  EXPECT_EQ(result.records.records(0).config().name(), "retention.ms");
  EXPECT_EQ(result.records.records(0).config().resource_name(), "t");
  req.set_validate_only(true);
  result = m.configs.AlterConfigs(req);
  EXPECT_TRUE(result.answer_now);
  EXPECT_EQ(result.records.records_size(), 0);
  EXPECT_EQ(Name(result.response.error()), "NONE");
  // A bad value, an unknown topic: refused at once, nothing written.
  req.set_validate_only(false);
  c->set_value("-5");
  result = m.configs.AlterConfigs(req);
  EXPECT_TRUE(result.answer_now);
  EXPECT_EQ(Name(result.response.error()), "INVALID_CONFIG");
  req.set_resource_name("nope");
  EXPECT_EQ(Name(m.configs.AlterConfigs(req).response.error()), "UNKNOWN_TOPIC_OR_PARTITION");
}

TEST(ConfigManager, EffectiveValue_DynamicThenStaticThenDefault) {
  Managers m;
  EXPECT_EQ(m.configs.ClusterConfig("num.partitions"), "2");              // static
  EXPECT_EQ(m.configs.ClusterConfig("default.replication.factor"), "1");  // built-in
  v1::MetadataBatch batch;
  auto* r = batch.add_records()->mutable_config();
  r->set_resource_type(v1::BROKER);
  r->set_name("num.partitions");
  r->set_value("5");
  m.Replay(batch);
  EXPECT_EQ(m.configs.ClusterConfig("num.partitions"), "5");  // dynamic cluster default
}

TEST(PartitionManager, LeaveRecords_MoveLeadershipAndKeepTheLastIsrMember) {
  Managers m;
  for (int id : {101, 102, 103}) m.AddBroker(id);
  const TopicImage& t = m.AddTopic("t", 1, 3);
  const NodeId leader = t.partitions[0].leader;
  v1::MetadataBatch batch;
  m.partitions.AddLeaveRecords(leader, &batch);
  ASSERT_EQ(batch.records_size(), 1);
  const auto& change = batch.records(0).partition_change();
  EXPECT_NE(change.leader(), leader.value());
  EXPECT_NE(change.leader(), -1);
  EXPECT_EQ(change.isr_size(), 2);
  // A single-replica partition: its only ISR member stays (and nobody else can lead).
  const TopicImage& solo = m.AddTopic("solo", 1, 1);
  v1::MetadataBatch solo_batch;
  m.partitions.AddLeaveRecords(solo.partitions[0].leader, &solo_batch);
  int solo_changes = 0;
  for (const auto& rec : solo_batch.records()) {
    if (rec.partition_change().topic_id() != solo.id.Bytes()) continue;
    ++solo_changes;
    EXPECT_EQ(rec.partition_change().leader(), -1);
    EXPECT_FALSE(rec.partition_change().set_isr());
  }
  EXPECT_EQ(solo_changes, 1);
}

TEST(PartitionManager, AlterPartition_ChecksTheSenderAndAnswersWithStateAtCommit) {
  Managers m;
  std::map<int, int64_t> epochs;
  for (int id : {101, 102, 103}) epochs[id] = m.AddBroker(id);
  const TopicImage& t = m.AddTopic("t", 1, 3);
  const PartitionState p = t.partitions[0];
  v1::AlterPartitionRequest req;
  req.set_broker_id(p.leader.value());
  req.set_broker_epoch(epochs[p.leader.value()]);
  req.set_incarnation_id("inc-" + std::to_string(p.leader.value()));
  auto* c = req.add_partitions();
  c->set_topic_id(t.id.Bytes());
  c->set_partition(0);
  c->set_leader_epoch(p.leader_epoch.value());
  c->set_partition_epoch(p.partition_epoch);
  c->add_new_isr(p.leader.value());  // shrink to the leader alone
  auto result = m.partitions.AlterPartition(req);
  ASSERT_FALSE(result.answer_now);
  ASSERT_EQ(result.records.records_size(), 1);
  EXPECT_EQ(result.records.records(0).partition_change().isr_size(), 1);
  m.Replay(result.records);
  ASSERT_TRUE(result.complete);
  result.complete(&result.response);
  ASSERT_EQ(result.response.partitions_size(), 1);
  EXPECT_EQ(Name(result.response.partitions(0).error()), "NONE");
  EXPECT_EQ(result.response.partitions(0).partition_epoch(), p.partition_epoch + 1);
  // A forged sender (wrong incarnation): refused at once, nothing written.
  req.set_incarnation_id("someone-else");
  result = m.partitions.AlterPartition(req);
  EXPECT_TRUE(result.answer_now);
  EXPECT_EQ(result.records.records_size(), 0);
  EXPECT_EQ(Name(result.response.error()), "STALE_BROKER_EPOCH");
}

TEST(PartitionManager, ElectLeaders_PreferredWhenInSync_NothingToDoAnswersAtOnce) {
  Managers m;
  for (int id : {101, 102, 103}) m.AddBroker(id);
  const TopicImage& t = m.AddTopic("t", 1, 3);
  admin::v1::ElectLeadersRequest req;
  req.set_election_type(admin::v1::PREFERRED);
  auto result = m.partitions.ElectLeaders(req);
  EXPECT_TRUE(result.answer_now);
  ASSERT_EQ(result.response.results_size(), 1);
  EXPECT_EQ(Name(result.response.results(0).error()), "ELECTION_NOT_NEEDED");
  // Move leadership away from the preferred replica; the election brings it back.
  v1::MetadataBatch leave;
  m.partitions.AddLeaveRecords(t.partitions[0].leader, &leave);
  m.Replay(leave);
  v1::MetadataBatch back;  // the preferred replica rejoins the ISR
  auto* ch = back.add_records()->mutable_partition_change();
  ch->set_topic_id(t.id.Bytes());
  ch->set_partition(0);
  ch->set_set_isr(true);
  for (NodeId r : m.image.topic("t")->partitions[0].replicas) ch->add_isr(r.value());
  m.Replay(back);
  result = m.partitions.ElectLeaders(req);
  EXPECT_FALSE(result.answer_now);
  EXPECT_EQ(Name(result.response.results(0).error()), "NONE");
  EXPECT_EQ(result.response.results(0).leader(),
            m.image.topic("t")->partitions[0].replicas.front().value());
}

TEST(PartitionManager, PartitionLimits_NameTheLimitPassed) {
  Managers m;
  m.AddBroker(101);
  v1::MetadataBatch batch;
  auto* r = batch.add_records()->mutable_config();
  r->set_resource_type(v1::BROKER);
  r->set_name("max.broker.partitions");
  r->set_value("2");
  m.Replay(batch);
  EXPECT_TRUE(m.partitions.CheckPartitionLimits({{NodeId(101), 2}}, 2).ok());
  ControllerError e = m.partitions.CheckPartitionLimits({{NodeId(101), 3}}, 3);
  EXPECT_EQ(e.code, KafkaError::kPolicyViolation);
  EXPECT_NE(e.message.find("max.broker.partitions=2"), std::string::npos) << e.message;
}

TEST(TopicManager, CreateTopic_RecordsTopicPartitionsAndConfigs_RefusalsAnswerAtOnce) {
  Managers m;
  for (int id : {101, 102}) m.AddBroker(id);
  admin::v1::CreateTopicsRequest req;
  auto* t = req.add_topics();
  t->set_name("orders");
  t->set_replication_factor(2);  // partitions: the static num.partitions (2)
  (*t->mutable_configs())["retention.ms"] = "1000";
  req.add_topics()->set_name("orders");  // listed twice
  std::set<std::string> seen;
  auto first = m.topics.CreateTopic(req, 0, &seen);
  ASSERT_FALSE(first.answer_now) << first.response.error().message();
  ASSERT_EQ(first.records.records_size(), 4);  // topic, 2 partitions, 1 config
  EXPECT_EQ(first.records.records(0).topic().name(), "orders");
  EXPECT_EQ(first.records.records(1).partition().replicas_size(), 2);
  EXPECT_EQ(first.records.records(3).config().name(), "retention.ms");
  EXPECT_FALSE(first.response.topic_id().empty());
  auto second = m.topics.CreateTopic(req, 1, &seen);
  EXPECT_TRUE(second.answer_now);
  EXPECT_EQ(Name(second.response.error()), "INVALID_REQUEST");
  // More topics than the request limit (3 here).
  for (int i = 0; i < 3; ++i) req.add_topics()->set_name("x" + std::to_string(i));
  std::set<std::string> fresh;
  EXPECT_EQ(Name(m.topics.CreateTopic(req, 0, &fresh).response.error()), "INVALID_REQUEST");
}

TEST(TopicManager, DeleteAndAddPartitions) {
  Managers m;
  m.AddBroker(101);
  const TopicImage& t = m.AddTopic("t", 1, 1);
  admin::v1::CreatePartitionsRequest grow;
  grow.set_topic("t");
  grow.set_total_count(3);
  auto added = m.topics.CreatePartitions(grow);
  ASSERT_FALSE(added.answer_now) << added.response.error().message();
  ASSERT_EQ(added.records.records_size(), 2);
  EXPECT_EQ(added.records.records(0).partition().partition(), 1);
  grow.set_total_count(1);
  EXPECT_EQ(Name(m.topics.CreatePartitions(grow).response.error()), "INVALID_PARTITIONS");
  grow.set_total_count(11);  // past partitions_per_topic_max (10 here)
  EXPECT_EQ(Name(m.topics.CreatePartitions(grow).response.error()), "INVALID_PARTITIONS");
  admin::v1::DeleteTopicsRequest del;
  del.add_names("t");
  del.add_names("missing");
  auto deleted = m.topics.DeleteTopics(del);
  ASSERT_EQ(deleted.records.records_size(), 1);
  EXPECT_EQ(deleted.records.records(0).remove_topic().topic_id(), t.id.Bytes());
  EXPECT_EQ(Name(deleted.response.topics(1).error()), "UNKNOWN_TOPIC_OR_PARTITION");
}

TEST(TopicManager, CreateOffsetsTopic_RecordsTopicPartitionsAndConfigs_ExistingWritesNothing) {
  Managers m;
  const int64_t epoch = m.AddBroker(101);
  v1::CreateOffsetsTopicRequest req;
  req.set_broker_id(101);
  req.set_broker_epoch(epoch);
  req.set_incarnation_id("inc-101");
  // The default 50 partitions pass partitions_per_topic_max (10 here).
  auto refused = m.topics.CreateOffsetsTopic(req);
  EXPECT_TRUE(refused.answer_now);
  EXPECT_EQ(Name(refused.response.error()), "INVALID_PARTITIONS");
  EXPECT_EQ(refused.response.topic(), "__consumer_offsets");
  // 4 partitions over one broker.
  v1::MetadataBatch settings;
  for (auto [name, value] : {std::pair{"offsets.topic.num.partitions", "4"},
                             {"offsets.topic.replication.factor", "1"}}) {
    auto* c = settings.add_records()->mutable_config();
    c->set_resource_type(v1::BROKER);
    c->set_name(name);
    c->set_value(value);
  }
  m.Replay(settings);
  auto created = m.topics.CreateOffsetsTopic(req);
  ASSERT_FALSE(created.answer_now) << created.response.error().message();
  ASSERT_EQ(created.records.records_size(), 1 + 4 + 4);  // topic, partitions, configs
  EXPECT_EQ(created.records.records(0).topic().name(), "__consumer_offsets");
  std::map<std::string, std::string> configs;
  for (int i = 5; i < 9; ++i) {
    const v1::ConfigRecord& c = created.records.records(i).config();
    configs[c.name()] = c.value();
  }
  EXPECT_EQ(configs, (std::map<std::string, std::string>{{"cleanup.policy", "compact"},
                                                         {"compression.type", "producer"},
                                                         {"min.insync.replicas", "1"},
                                                         {"segment.bytes", "104857600"}}));
  m.Replay(created.records);
  // Once it exists: nothing to write, and not answered at once (earlier appends commit first).
  auto again = m.topics.CreateOffsetsTopic(req);
  EXPECT_FALSE(again.answer_now);
  EXPECT_EQ(again.records.records_size(), 0);
  EXPECT_EQ(Name(again.response.error()), "NONE");
  // Another process claiming the broker's registration.
  req.set_incarnation_id("inc-forged");
  EXPECT_EQ(Name(m.topics.CreateOffsetsTopic(req).response.error()), "STALE_BROKER_EPOCH");
}

TEST(BrokerManager, Register_OpensTheSessionOnceAppended_HeartbeatUnfences) {
  Managers m;
  v1::RegisterBrokerRequest req;
  req.set_cluster_id("c1");
  req.set_broker_id(101);
  req.set_incarnation_id("inc-101");
  req.add_listeners()->set_port(1);
  auto result = m.brokers.RegisterBroker(req, 1000);
  ASSERT_FALSE(result.answer_now) << result.response.error().message();
  ASSERT_EQ(result.records.records_size(), 1);
  EXPECT_TRUE(result.records.records(0).register_broker().fenced());
  EXPECT_TRUE(m.sessions.all().empty());  // not before the append
  m.Replay(result.records);
  result.after_append(m.offset);
  ASSERT_EQ(m.sessions.all().count(NodeId(101)), 1u);
  const int64_t epoch = m.image.broker(NodeId(101))->epoch;
  EXPECT_EQ(m.sessions.all().at(NodeId(101)).epoch, epoch);
  result.complete(&result.response);
  EXPECT_EQ(result.response.broker_epoch(), epoch);
  // A caught-up heartbeat unfences it; the response already says so.
  v1::BrokerHeartbeatRequest hb;
  hb.set_broker_id(101);
  hb.set_broker_epoch(epoch);
  hb.set_incarnation_id("inc-101");
  hb.set_metadata_offset(m.offset);
  auto beat = m.brokers.Heartbeat(hb, 1100, true);
  ASSERT_FALSE(beat.answer_now);
  EXPECT_EQ(beat.records.records(0).broker_registration_change().fence(), v1::FENCE_CHANGE_UNFENCE);
  EXPECT_FALSE(beat.response.is_fenced());
  // Too many static setting digests: refused at once, nothing written.
  for (int i = 0; i < 1'001; ++i) req.add_static_settings()->set_name("s" + std::to_string(i));
  EXPECT_EQ(Name(m.brokers.RegisterBroker(req, 1000).response.error()), "INVALID_REQUEST");
  req.clear_static_settings();
  // A wrong cluster id: refused at once.
  req.set_cluster_id("other");
  EXPECT_EQ(Name(m.brokers.RegisterBroker(req, 1000).response.error()), "INCONSISTENT_CLUSTER_ID");
}

TEST(BrokerManager, Heartbeat_OfflineReplicasRollBackWhenNotAppended_SessionsExpire) {
  Managers m;
  for (int id : {101, 102}) m.AddBroker(id);
  const TopicImage& t = m.AddTopic("t", 1, 2);
  m.sessions.Reset(1000, 3000, m.offset);
  const NodeId leader = t.partitions[0].leader;
  v1::BrokerHeartbeatRequest hb;
  hb.set_broker_id(leader.value());
  hb.set_broker_epoch(m.image.broker(leader)->epoch);
  hb.set_incarnation_id("inc-" + std::to_string(leader.value()));
  hb.set_metadata_offset(m.offset);
  // The first heartbeat of the session; then one reporting its replica offline.
  auto first = m.brokers.Heartbeat(hb, 1100, true);
  if (!first.answer_now) first.after_append(m.offset);
  auto* off = hb.add_offline_replicas();
  off->set_topic_id(t.id.Bytes());
  off->set_partition(0);
  auto beat = m.brokers.Heartbeat(hb, 1200, true);
  ASSERT_FALSE(beat.answer_now);
  ASSERT_GE(beat.records.records_size(), 1);  // leadership leaves the offline replica
  EXPECT_TRUE(m.sessions.ReplicaOffline(leader, t.id, 0));
  beat.not_appended();  // the append failed: the next heartbeat must try again
  EXPECT_FALSE(m.sessions.ReplicaOffline(leader, t.id, 0));
  // Sessions: nobody heartbeats past the deadline, both expire.
  EXPECT_TRUE(m.brokers.ExpiredBrokers(3000).empty());
  EXPECT_EQ(m.brokers.ExpiredBrokers(5000).size(), 2u);
  EXPECT_EQ(m.brokers.FenceRecords(leader).records(0).broker_registration_change().fence(),
            v1::FENCE_CHANGE_FENCE);
}

TEST(ProducerIdManager, BlocksFollowEachOther_OnlyForTheRegisteredProcess) {
  Managers m;
  const int64_t epoch = m.AddBroker(101);
  v1::AllocateProducerIdsRequest req;
  req.set_broker_id(101);
  req.set_broker_epoch(epoch);
  req.set_incarnation_id("inc-101");
  auto first = m.producer_ids.AllocateProducerIds(req);
  ASSERT_FALSE(first.answer_now);
  m.Replay(first.records);
  auto second = m.producer_ids.AllocateProducerIds(req);
  EXPECT_EQ(second.response.producer_id_start(),
            first.response.producer_id_start() + first.response.producer_id_len());
  EXPECT_EQ(first.response.producer_id_len(), 100);
  req.set_broker_epoch(epoch + 1);
  EXPECT_EQ(Name(m.producer_ids.AllocateProducerIds(req).response.error()), "STALE_BROKER_EPOCH");
}

// Every request handler of a standby controller answers NOT_CONTROLLER, through the one guard;
// per item where the response has items.
TEST(QuorumControllerGuard, StandbyAnswersNotControllerEverywhere) {
  testing::TestController t;
  t.AddBrokers({101});
  t.controller.BecomeStandby();
  auto& qc = t.controller;
  int answered = 0;
  auto top = [&](const auto& resp) {
    ++answered;
    EXPECT_EQ(Name(resp.error()), "NOT_CONTROLLER");
    EXPECT_NE(resp.error().message().find("not the active controller"), std::string::npos);
  };
  qc.RegisterBroker({}, t.now_ms, top);
  top(qc.Heartbeat({}, t.now_ms));
  qc.AlterPartition({}, top);
  qc.AllocateProducerIds({}, top);
  qc.CreateOffsetsTopic({}, top);
  qc.CreatePartitions({}, top);
  qc.AlterConfigs({}, top);
  qc.UnregisterBroker({}, top);
  admin::v1::CreateTopicsRequest create;
  create.add_topics()->set_name("a");
  create.add_topics()->set_name("b");
  qc.CreateTopics(create, [&](admin::v1::CreateTopicsResponse r) {
    ++answered;
    ASSERT_EQ(r.topics_size(), 2);
    EXPECT_EQ(r.topics(1).name(), "b");
    EXPECT_EQ(Name(r.topics(1).error()), "NOT_CONTROLLER");
  });
  admin::v1::DeleteTopicsRequest del;
  del.add_names("a");
  qc.DeleteTopics(del, [&](admin::v1::DeleteTopicsResponse r) {
    ++answered;
    ASSERT_EQ(r.topics_size(), 1);
    EXPECT_EQ(Name(r.topics(0).error()), "NOT_CONTROLLER");
  });
  admin::v1::ElectLeadersRequest elect;
  elect.add_partitions()->set_topic("a");
  qc.ElectLeaders(elect, [&](admin::v1::ElectLeadersResponse r) {
    ++answered;
    ASSERT_EQ(r.results_size(), 1);
    EXPECT_EQ(Name(r.results(0).error()), "NOT_CONTROLLER");
  });
  admin::v1::AlterPartitionReassignmentsRequest move;
  move.add_reassignments()->mutable_partition()->set_topic("a");
  qc.AlterPartitionReassignments(move, [&](admin::v1::AlterPartitionReassignmentsResponse r) {
    ++answered;
    ASSERT_EQ(r.results_size(), 1);
    EXPECT_EQ(r.results(0).partition().topic(), "a");
    EXPECT_EQ(Name(r.results(0).error()), "NOT_CONTROLLER");
  });
  EXPECT_EQ(answered, 12);
  EXPECT_TRUE(t.log.batches.empty());  // nothing appended
}

}  // namespace
}  // namespace strand::controller
