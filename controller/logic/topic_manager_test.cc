// Tests topic operations of the active controller: creation (defaults, validation, explicit
// placement, validate-only), answers only after commit, deletion, adding partitions, configs,
// NOT_CONTROLLER when leadership is lost with requests in flight, the partition limits
// (max.broker.partitions, max.partitions) and min.insync.replicas against the replication factor;
// the internal __consumer_offsets topic a broker asks for (CreateOffsetsTopic), and the refusal of
// clients' creates, deletes and added partitions of the reserved internal topics.
#include <optional>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/check.h"
#include "controller/logic/test_controller.h"

namespace strand::controller {
namespace {

using testing::TestController;

int Code(const strand::common::v1::Error& e) { return e.code(); }
constexpr int kOk = 0;

TEST(CreateTopics, Created_WithLeadersInIsr) {
  TestController t;
  t.AddBrokers({1 + 100, 2 + 100, 3 + 100});
  auto r = t.CreateTopic("orders", 6, 3, {{"retention.ms", "3600000"}});
  ASSERT_EQ(Code(r.error()), kOk) << r.error().message();
  EXPECT_EQ(r.topic_id().size(), 22u);
  const TopicImage* topic = t.committed.topic("orders");
  ASSERT_NE(topic, nullptr);
  ASSERT_EQ(topic->partitions.size(), 6u);
  for (const PartitionState& p : topic->partitions) {
    EXPECT_EQ(p.replicas.size(), 3u);
    EXPECT_EQ(p.isr, p.replicas);
    EXPECT_EQ(p.leader, p.replicas.front());
  }
  EXPECT_EQ(t.committed.config({v1::TOPIC, "orders"}, "retention.ms"), "3600000");
}

TEST(CreateTopics, Defaults_FromClusterConfig) {
  testing::TestController t;
  t.AddBrokers({101, 102});
  admin::v1::AlterConfigsRequest alter;
  alter.set_resource_type(admin::v1::BROKER);
  for (auto [k, v] : {std::pair{"num.partitions", "4"}, {"default.replication.factor", "2"}}) {
    auto* c = alter.add_changes();
    c->set_name(k);
    c->set_value(v);
  }
  t.controller.AlterConfigs(
      alter, [](admin::v1::AlterConfigsResponse r) { EXPECT_EQ(r.error().code(), 0); });
  t.CommitAll();
  auto r = t.CreateTopic("defaults", 0, 0);
  ASSERT_EQ(Code(r.error()), kOk);
  EXPECT_EQ(t.committed.topic("defaults")->partitions.size(), 4u);
  EXPECT_EQ(t.Partition("defaults", 0).replicas.size(), 2u);
}

TEST(CreateTopics, Errors_HaveKafkaCodes) {
  TestController t;
  t.AddBrokers({101, 102});
  ASSERT_EQ(Code(t.CreateTopic("exists", 1, 1).error()), kOk);
  EXPECT_EQ(t.CreateTopic("exists", 1, 1).error().name(), "TOPIC_ALREADY_EXISTS");
  EXPECT_EQ(t.CreateTopic("bad name!", 1, 1).error().name(), "INVALID_TOPIC_EXCEPTION");
  EXPECT_EQ(t.CreateTopic("..", 1, 1).error().name(), "INVALID_TOPIC_EXCEPTION");
  EXPECT_EQ(t.CreateTopic(std::string(250, 'x'), 1, 1).error().name(), "INVALID_TOPIC_EXCEPTION");
  ASSERT_EQ(Code(t.CreateTopic("my.topic", 1, 1).error()), kOk);
  EXPECT_EQ(t.CreateTopic("my_topic", 1, 1).error().name(), "INVALID_TOPIC_EXCEPTION");
  EXPECT_EQ(t.CreateTopic("too-wide", 1, 3).error().name(), "INVALID_REPLICATION_FACTOR");
  EXPECT_EQ(t.CreateTopic("negative", -1, 1).error().name(), "INVALID_PARTITIONS");
  auto cfg = t.CreateTopic("cfg", 1, 1, {{"retention.ms", "forever"}});
  EXPECT_EQ(cfg.error().name(), "INVALID_CONFIG");
  EXPECT_NE(cfg.error().message().find("retention.ms"), std::string::npos);
  EXPECT_EQ(t.CreateTopic("cfg2", 1, 1, {{"no.such.config", "1"}}).error().name(),
            "INVALID_CONFIG");
  EXPECT_EQ(t.committed.topics().size(), 2u);  // nothing but the two valid topics was written
}

TEST(CreateTopics, ExplicitAssignment_IsValidatedAndUsed) {
  TestController t;
  t.AddBrokers({101, 102, 103});
  admin::v1::CreateTopicsRequest req;
  auto* topic = req.add_topics();
  topic->set_name("placed");
  for (auto replicas : {std::vector<int>{103, 101}, std::vector<int>{102, 103}}) {
    auto* a = topic->add_assignments();
    for (int r : replicas) a->add_replicas(r);
  }
  std::optional<admin::v1::CreateTopicsResponse> resp;
  t.controller.CreateTopics(req, [&](auto r) { resp = r; });
  t.CommitAll();
  ASSERT_EQ(resp->topics(0).error().code(), 0) << resp->topics(0).error().message();
  EXPECT_EQ(t.Partition("placed", 0).replicas, (std::vector<NodeId>{NodeId(103), NodeId(101)}));
  EXPECT_EQ(t.Partition("placed", 0).leader, NodeId(103));

  topic->set_name("unknown-broker");
  topic->mutable_assignments(0)->set_replicas(0, 999);
  t.controller.CreateTopics(req, [&](auto r) { resp = r; });
  EXPECT_EQ(resp->topics(0).error().name(), "INVALID_REPLICA_ASSIGNMENT");
  topic->set_name("duplicate-replica");
  topic->mutable_assignments(0)->set_replicas(0, 101);
  topic->mutable_assignments(0)->set_replicas(1, 101);
  t.controller.CreateTopics(req, [&](auto r) { resp = r; });
  EXPECT_EQ(resp->topics(0).error().name(), "INVALID_REPLICA_ASSIGNMENT");
}

TEST(CreateTopics, AnswerWaitsForCommit) {
  TestController t;
  t.AddBrokers({101});
  admin::v1::CreateTopicsRequest req;
  req.add_topics()->set_name("later");
  req.mutable_topics(0)->set_partitions(1);
  req.mutable_topics(0)->set_replication_factor(1);
  bool answered = false;
  t.controller.CreateTopics(req, [&](auto) { answered = true; });
  EXPECT_FALSE(answered);
  EXPECT_NE(t.controller.working().topic("later"), nullptr);  // visible to later requests
  EXPECT_EQ(t.committed.topic("later"), nullptr);
  t.CommitAll();
  EXPECT_TRUE(answered);
}

TEST(CreateTopics, ValidateOnly_WritesNothing) {
  TestController t;
  t.AddBrokers({101});
  admin::v1::CreateTopicsRequest req;
  req.set_validate_only(true);
  req.add_topics()->set_name("dry");
  req.mutable_topics(0)->set_partitions(3);
  req.mutable_topics(0)->set_replication_factor(1);
  std::optional<admin::v1::CreateTopicsResponse> resp;
  t.controller.CreateTopics(req, [&](auto r) { resp = r; });
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->topics(0).error().code(), 0);
  EXPECT_TRUE(t.log.batches.empty());
}

TEST(CreateTopics, LeadershipLost_AnswersNotController) {
  TestController t;
  t.AddBrokers({101});
  admin::v1::CreateTopicsRequest req;
  req.add_topics()->set_name("lost");
  req.mutable_topics(0)->set_partitions(1);
  req.mutable_topics(0)->set_replication_factor(1);
  std::optional<admin::v1::CreateTopicsResponse> resp;
  t.controller.CreateTopics(req, [&](auto r) { resp = r; });
  t.controller.BecomeStandby();
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->topics(0).error().name(), "NOT_CONTROLLER");
  t.controller.CreateTopics(req, [&](auto r) { resp = r; });
  EXPECT_EQ(resp->topics(0).error().name(), "NOT_CONTROLLER");
}

TEST(DeleteTopics, RemovesTopic_UnknownIsAnError) {
  TestController t;
  t.AddBrokers({101});
  ASSERT_EQ(Code(t.CreateTopic("gone", 2, 1).error()), kOk);
  admin::v1::DeleteTopicsRequest req;
  req.add_names("gone");
  req.add_names("never");
  std::optional<admin::v1::DeleteTopicsResponse> resp;
  t.controller.DeleteTopics(req, [&](auto r) { resp = r; });
  t.CommitAll();
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->topics(0).error().code(), 0);
  EXPECT_EQ(resp->topics(1).error().name(), "UNKNOWN_TOPIC_OR_PARTITION");
  EXPECT_EQ(t.committed.topic("gone"), nullptr);
}

TEST(CreatePartitions, OnlyGrows) {
  TestController t;
  t.AddBrokers({101, 102, 103});
  ASSERT_EQ(Code(t.CreateTopic("grow", 2, 2).error()), kOk);
  admin::v1::CreatePartitionsRequest req;
  req.set_topic("grow");
  req.set_total_count(5);
  std::optional<admin::v1::CreatePartitionsResponse> resp;
  t.controller.CreatePartitions(req, [&](auto r) { resp = r; });
  t.CommitAll();
  EXPECT_EQ(resp->error().code(), 0) << resp->error().message();
  EXPECT_EQ(t.committed.topic("grow")->partitions.size(), 5u);
  EXPECT_EQ(t.Partition("grow", 4).replicas.size(), 2u);
  req.set_total_count(3);
  t.controller.CreatePartitions(req, [&](auto r) { resp = r; });
  EXPECT_EQ(resp->error().name(), "INVALID_PARTITIONS");
}

TEST(AlterConfigs, SetDeleteAndValidate) {
  TestController t;
  t.AddBrokers({101});
  ASSERT_EQ(Code(t.CreateTopic("cfg", 1, 1).error()), kOk);
  auto alter = [&](std::string name, std::string value, admin::v1::AlterOp op) {
    admin::v1::AlterConfigsRequest req;
    req.set_resource_type(admin::v1::TOPIC);
    req.set_resource_name("cfg");
    auto* c = req.add_changes();
    c->set_name(name);
    c->set_value(value);
    c->set_op(op);
    std::optional<admin::v1::AlterConfigsResponse> resp;
    t.controller.AlterConfigs(req, [&](auto r) { resp = r; });
    t.CommitAll();
    return resp->error();
  };
  EXPECT_EQ(alter("cleanup.policy", "compact", admin::v1::SET).code(), 0);
  EXPECT_EQ(t.controller.TopicConfig(t.committed, "cfg", "cleanup.policy"), "compact");
  EXPECT_EQ(alter("cleanup.policy", "", admin::v1::DELETE).code(), 0);
  EXPECT_EQ(t.controller.TopicConfig(t.committed, "cfg", "cleanup.policy"), "delete");
  EXPECT_EQ(alter("min.insync.replicas", "zero", admin::v1::SET).name(), "INVALID_CONFIG");
}

TEST(CreateTopics, PartitionLimits_CountReplicasPerBrokerAndPartitionsPerCluster) {
  ControllerConfig config = TestController::DefaultConfig();
  config.static_configs["max.broker.partitions"] = "4";
  config.static_configs["max.partitions"] = "10";
  TestController t(config);
  t.AddBrokers({101, 102, 103});
  // 5 partitions x RF 3 = 15 replicas over 3 brokers: 5 each, past 4.
  auto refused = t.CreateTopic("wide", 5, 3);
  EXPECT_EQ(refused.error().name(), "POLICY_VIOLATION");
  EXPECT_NE(refused.error().message().find("max.broker.partitions=4"), std::string::npos)
      << refused.error().message();
  EXPECT_EQ(t.committed.topic("wide"), nullptr);
  ASSERT_EQ(Code(t.CreateTopic("fits", 4, 3).error()), kOk);  // 4 each: at the limit
  EXPECT_EQ(t.CreateTopic("more", 1, 1).error().name(), "POLICY_VIOLATION");
  // Partitions added to a topic count too.
  admin::v1::CreatePartitionsRequest grow;
  grow.set_topic("fits");
  grow.set_total_count(5);
  std::optional<admin::v1::CreatePartitionsResponse> resp;
  t.controller.CreatePartitions(grow, [&](auto r) { resp = r; });
  EXPECT_EQ(resp->error().name(), "POLICY_VIOLATION");
  // The cluster-wide count: 4 partitions now; 7 more would make 11 > 10.
  t.AddBrokers({104, 105, 106, 107, 108, 109});
  EXPECT_EQ(t.CreateTopic("cluster", 7, 1).error().name(), "POLICY_VIOLATION");
  EXPECT_EQ(Code(t.CreateTopic("cluster", 6, 1).error()), kOk);
}

TEST(CreateTopics, MinInsyncAboveReplicationFactor_IsRefused) {
  TestController t;
  t.AddBrokers({101, 102, 103});
  auto r = t.CreateTopic("never", 1, 2, {{"min.insync.replicas", "3"}});
  EXPECT_EQ(r.error().name(), "INVALID_CONFIG");
  EXPECT_NE(r.error().message().find("min.insync.replicas=3"), std::string::npos);
  ASSERT_EQ(Code(t.CreateTopic("ok", 1, 2, {{"min.insync.replicas", "2"}}).error()), kOk);
  admin::v1::AlterConfigsRequest alter;
  alter.set_resource_type(admin::v1::TOPIC);
  alter.set_resource_name("ok");
  auto* c = alter.add_changes();
  c->set_name("min.insync.replicas");
  c->set_value("3");
  std::optional<admin::v1::AlterConfigsResponse> altered;
  t.controller.AlterConfigs(alter, [&](auto resp) { altered = resp; });
  EXPECT_EQ(altered->error().name(), "INVALID_CONFIG");
  // A shrinking reassignment below the topic's min.insync.replicas.
  admin::v1::AlterPartitionReassignmentsRequest move;
  auto* ra = move.add_reassignments();
  ra->mutable_partition()->set_topic("ok");
  ra->mutable_partition()->set_partition(0);
  ra->add_replicas(t.Partition("ok", 0).replicas.front().value());
  std::optional<admin::v1::AlterPartitionReassignmentsResponse> moved;
  t.controller.AlterPartitionReassignments(move, [&](auto resp) { moved = resp; });
  EXPECT_EQ(moved->results(0).error().name(), "INVALID_CONFIG");
  // A cluster default above a topic's replication factor is accepted (a warning in Kafka).
  alter.set_resource_type(admin::v1::BROKER);
  alter.set_resource_name("");
  altered.reset();
  t.controller.AlterConfigs(alter, [&](auto resp) { altered = resp; });
  t.CommitAll();
  ASSERT_TRUE(altered.has_value());
  EXPECT_EQ(altered->error().code(), 0) << altered->error().message();
}

TEST(CreateTopics, PartitionLimits_PlacementAvoidsANearlyFullBroker) {
  ControllerConfig config = TestController::DefaultConfig();
  config.static_configs["max.broker.partitions"] = "10";
  TestController t(config);
  t.AddBrokers({101, 102, 103});
  // 101 holds 9 replicas; 30 more single-replica partitions fit on 102 and 103 only... and
  // 20 fit there exactly (10 each).
  admin::v1::CreateTopicsRequest req;
  auto* nt = req.add_topics();
  nt->set_name("on-101");
  for (int i = 0; i < 9; ++i) nt->add_assignments()->add_replicas(101);
  t.controller.CreateTopics(req, [](auto) {});
  t.CommitAll();
  auto r = t.CreateTopic("spread", 20, 1);
  ASSERT_EQ(Code(r.error()), kOk) << r.error().message();
  EXPECT_EQ(t.CreateTopic("more", 2, 1).error().name(), "POLICY_VIOLATION");
  // One reassignment request cannot pass the limit either, move by move: 101 has room for one
  // more replica, and two moves each add one there.
  admin::v1::AlterPartitionReassignmentsRequest move;
  for (int p = 0; p < 2; ++p) {
    auto* ra = move.add_reassignments();
    ra->mutable_partition()->set_topic("spread");
    ra->mutable_partition()->set_partition(p);
    ra->add_replicas(t.Partition("spread", p).replicas.front().value());
    ra->add_replicas(101);
  }
  std::optional<admin::v1::AlterPartitionReassignmentsResponse> moved;
  t.controller.AlterPartitionReassignments(move, [&](auto resp) { moved = resp; });
  t.CommitAll();
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->results(0).error().code(), 0) << moved->results(0).error().message();
  EXPECT_EQ(moved->results(1).error().name(), "POLICY_VIOLATION");
}

// ---- the internal offsets topic ----

// CreateOffsetsTopic as broker `id` with its registration's epoch and incarnation; commits.
v1::CreateOffsetsTopicResponse CreateOffsetsTopic(TestController& t, int id) {
  v1::CreateOffsetsTopicRequest req;
  req.set_broker_id(id);
  req.set_broker_epoch(t.epochs[id]);
  req.set_incarnation_id(t.incarnations[id]);
  std::optional<v1::CreateOffsetsTopicResponse> resp;
  t.controller.CreateOffsetsTopic(req, [&](auto r) { resp = r; });
  t.CommitAll();
  STRAND_CHECK(resp.has_value());
  return *resp;
}

void SetClusterConfig(TestController& t, const std::string& name, const std::string& value) {
  admin::v1::AlterConfigsRequest alter;
  alter.set_resource_type(admin::v1::BROKER);
  auto* c = alter.add_changes();
  c->set_name(name);
  c->set_value(value);
  std::optional<admin::v1::AlterConfigsResponse> resp;
  t.controller.AlterConfigs(alter, [&](auto r) { resp = r; });
  t.CommitAll();
  ASSERT_TRUE(resp.has_value());
  ASSERT_EQ(resp->error().code(), 0) << resp->error().message();
}

TEST(CreateOffsetsTopic, Defaults_CompactedWithMinIsr2_AnsweredOnceCommitted) {
  TestController t;
  t.AddBrokers({101, 102, 103});
  v1::CreateOffsetsTopicRequest req;
  req.set_broker_id(102);
  req.set_broker_epoch(t.epochs[102]);
  req.set_incarnation_id(t.incarnations[102]);
  std::optional<v1::CreateOffsetsTopicResponse> resp;
  t.controller.CreateOffsetsTopic(req, [&](auto r) { resp = r; });
  EXPECT_FALSE(resp.has_value());  // not before the records commit
  t.CommitAll();
  ASSERT_TRUE(resp.has_value());
  ASSERT_EQ(Code(resp->error()), kOk) << resp->error().message();
  EXPECT_EQ(resp->topic(), "__consumer_offsets");
  const TopicImage* topic = t.committed.topic("__consumer_offsets");
  ASSERT_NE(topic, nullptr);
  ASSERT_EQ(topic->partitions.size(), 50u);  // offsets.topic.num.partitions
  for (const PartitionState& p : topic->partitions) {
    EXPECT_EQ(p.replicas.size(), 3u);  // offsets.topic.replication.factor
    EXPECT_EQ(p.isr, p.replicas);
  }
  auto config = [&](const char* name) {
    return t.controller.TopicConfig(t.committed, "__consumer_offsets", name);
  };
  EXPECT_EQ(config("cleanup.policy"), "compact");
  EXPECT_EQ(config("min.insync.replicas"), "2");
  EXPECT_EQ(config("segment.bytes"), "104857600");
  EXPECT_EQ(config("compression.type"), "producer");
}

TEST(CreateOffsetsTopic, Idempotent_ExistingTopicAnswersNoneAndWritesNothing) {
  TestController t;
  t.AddBrokers({101, 102, 103});
  ASSERT_EQ(Code(CreateOffsetsTopic(t, 101).error()), kOk);
  const TopicId id = t.committed.topic("__consumer_offsets")->id;
  const uint64_t offset = t.committed.offset();
  // Another broker asks too (each coordinator asks on its first use).
  auto again = CreateOffsetsTopic(t, 103);
  EXPECT_EQ(Code(again.error()), kOk) << again.error().message();
  EXPECT_EQ(again.topic(), "__consumer_offsets");
  EXPECT_EQ(t.committed.offset(), offset);  // nothing appended
  EXPECT_EQ(t.committed.topic("__consumer_offsets")->id, id);
  // Two requests before the first commits: one topic, both answered NONE after the commit.
  TestController u;
  u.AddBrokers({101, 102, 103});
  int answered = 0;
  for (int broker : {101, 102}) {
    v1::CreateOffsetsTopicRequest req;
    req.set_broker_id(broker);
    req.set_broker_epoch(u.epochs[broker]);
    req.set_incarnation_id(u.incarnations[broker]);
    u.controller.CreateOffsetsTopic(req, [&](auto r) {
      ++answered;
      EXPECT_EQ(Code(r.error()), kOk) << r.error().message();
      EXPECT_NE(u.committed.topic("__consumer_offsets"), nullptr);  // answered after the commit
    });
  }
  EXPECT_EQ(u.log.batches.size(), 1u);
  EXPECT_EQ(answered, 0);
  u.CommitAll();
  EXPECT_EQ(answered, 2);
}

TEST(CreateOffsetsTopic, TooFewLiveBrokers_RefusedWithInvalidReplicationFactor) {
  TestController t;
  t.AddBrokers({101, 102});
  t.Register(103);  // registered, still fenced: not live
  auto refused = CreateOffsetsTopic(t, 101);
  EXPECT_EQ(refused.error().name(), "INVALID_REPLICATION_FACTOR");
  EXPECT_NE(refused.error().message().find("offsets.topic.replication.factor is 3"),
            std::string::npos)
      << refused.error().message();
  EXPECT_NE(refused.error().message().find("only 2 live"), std::string::npos)
      << refused.error().message();
  EXPECT_EQ(t.committed.topic("__consumer_offsets"), nullptr);  // never a smaller factor
  // Once the third broker is unfenced, the next request creates it.
  t.Heartbeat(103);
  ASSERT_EQ(Code(CreateOffsetsTopic(t, 101).error()), kOk);
  EXPECT_EQ(t.Partition("__consumer_offsets", 0).replicas.size(), 3u);
}

TEST(CreateOffsetsTopic, HonoursTheOffsetsTopicSettings) {
  // A static setting ...
  ControllerConfig config = TestController::DefaultConfig();
  config.static_configs["offsets.topic.num.partitions"] = "8";
  TestController t(config);
  t.AddBrokers({101});
  // ... and a dynamic one; a replication factor of 1 takes min.insync.replicas 1.
  SetClusterConfig(t, "offsets.topic.replication.factor", "1");
  ASSERT_EQ(Code(CreateOffsetsTopic(t, 101).error()), kOk);
  EXPECT_EQ(t.committed.topic("__consumer_offsets")->partitions.size(), 8u);
  EXPECT_EQ(t.Partition("__consumer_offsets", 0).replicas.size(), 1u);
  EXPECT_EQ(t.controller.TopicConfig(t.committed, "__consumer_offsets", "min.insync.replicas"),
            "1");
  // A later change does not touch the existing topic.
  SetClusterConfig(t, "offsets.topic.num.partitions", "12");
  ASSERT_EQ(Code(CreateOffsetsTopic(t, 101).error()), kOk);
  EXPECT_EQ(t.committed.topic("__consumer_offsets")->partitions.size(), 8u);
  // Out of range values are refused when set.
  admin::v1::AlterConfigsRequest alter;
  alter.set_resource_type(admin::v1::BROKER);
  auto* c = alter.add_changes();
  c->set_name("offsets.topic.num.partitions");
  c->set_value("0");
  std::optional<admin::v1::AlterConfigsResponse> resp;
  t.controller.AlterConfigs(alter, [&](auto r) { resp = r; });
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->error().name(), "INVALID_CONFIG");
}

TEST(CreateOffsetsTopic, OnlyForTheBrokersCurrentRegistration) {
  TestController t;
  t.AddBrokers({101, 102, 103});
  v1::CreateOffsetsTopicRequest req;
  req.set_broker_id(101);
  req.set_broker_epoch(t.epochs[101] + 7);
  req.set_incarnation_id(t.incarnations[101]);
  std::optional<v1::CreateOffsetsTopicResponse> resp;
  t.controller.CreateOffsetsTopic(req, [&](auto r) { resp = r; });
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->error().name(), "STALE_BROKER_EPOCH");
  req.set_broker_epoch(t.epochs[101]);
  req.set_incarnation_id("someone-else");
  resp.reset();
  t.controller.CreateOffsetsTopic(req, [&](auto r) { resp = r; });
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->error().name(), "STALE_BROKER_EPOCH");
  EXPECT_TRUE(t.log.batches.empty());
  EXPECT_EQ(t.committed.topic("__consumer_offsets"), nullptr);
}

TEST(InternalTopics, ClientsCannotCreateDeleteOrGrowThem) {
  TestController t;
  t.AddBrokers({101, 102, 103});
  for (const char* name : {"__consumer_offsets", "__transaction_state"}) {
    auto r = t.CreateTopic(name, 1, 1);
    EXPECT_EQ(r.error().name(), "INVALID_REQUEST") << name;
    EXPECT_EQ(r.error().message(),
              fmt::format("'{}' is an internal topic, created by the brokers", name));
  }
  // A name that would collide with one in metric names is refused too; other "__" names are
  // ordinary topics, as in Kafka.
  EXPECT_EQ(t.CreateTopic("__consumer.offsets", 1, 1).error().name(), "INVALID_TOPIC_EXCEPTION");
  EXPECT_EQ(Code(t.CreateTopic("__mine", 1, 1).error()), kOk);
  EXPECT_EQ(t.committed.topic("__consumer_offsets"), nullptr);

  ASSERT_EQ(Code(CreateOffsetsTopic(t, 101).error()), kOk);
  admin::v1::DeleteTopicsRequest del;
  del.add_names("__consumer_offsets");
  del.add_names("__transaction_state");
  del.add_names("__mine");
  std::optional<admin::v1::DeleteTopicsResponse> deleted;
  t.controller.DeleteTopics(del, [&](auto r) { deleted = r; });
  t.CommitAll();
  ASSERT_TRUE(deleted.has_value());
  EXPECT_EQ(deleted->topics(0).error().name(), "INVALID_REQUEST");
  EXPECT_NE(deleted->topics(0).error().message().find("internal topic and cannot be deleted"),
            std::string::npos);
  EXPECT_EQ(deleted->topics(1).error().name(), "INVALID_REQUEST");  // reserved, though absent
  EXPECT_EQ(Code(deleted->topics(2).error()), kOk);
  EXPECT_NE(t.committed.topic("__consumer_offsets"), nullptr);

  admin::v1::CreatePartitionsRequest grow;
  grow.set_topic("__consumer_offsets");
  grow.set_total_count(60);
  std::optional<admin::v1::CreatePartitionsResponse> grown;
  t.controller.CreatePartitions(grow, [&](auto r) { grown = r; });
  ASSERT_TRUE(grown.has_value());
  EXPECT_EQ(grown->error().name(), "INVALID_REQUEST");
  EXPECT_NE(grown->error().message().find("partition count cannot change"), std::string::npos);
  t.CommitAll();
  EXPECT_EQ(t.committed.topic("__consumer_offsets")->partitions.size(), 50u);
}

}  // namespace
}  // namespace strand::controller
