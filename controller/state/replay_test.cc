// Tests MetadataImage::Replay record by record: what each record changes, the epoch rules of
// partition changes, and that a record that cannot apply is skipped with an error. Also that
// replay is a pure function: the same records in the same order give equal images.
#include <gtest/gtest.h>

#include "common/random.h"
#include "controller/state/metadata_image.h"

namespace strand::controller {
namespace {

v1::MetadataRecord Register(int id, const std::string& incarnation, const std::string& rack = "") {
  v1::MetadataRecord r;
  auto* b = r.mutable_register_broker();
  b->set_broker_id(id);
  b->set_incarnation_id(incarnation);
  b->set_rack(rack);
  b->set_fenced(true);
  auto* l = b->add_listeners();
  l->set_name("CLIENT");
  l->set_host("127.0.0.1");
  l->set_port(9000 + id);
  return r;
}

v1::MetadataRecord Fence(int id, int64_t epoch, v1::FenceChange change) {
  v1::MetadataRecord r;
  auto* c = r.mutable_broker_registration_change();
  c->set_broker_id(id);
  c->set_broker_epoch(epoch);
  c->set_fence(change);
  return r;
}

v1::MetadataRecord Topic(const std::string& name, const TopicId& id) {
  v1::MetadataRecord r;
  r.mutable_topic()->set_name(name);
  r.mutable_topic()->set_topic_id(id.Bytes());
  return r;
}

v1::MetadataRecord Partition(const TopicId& id, int p, std::vector<int> replicas, int leader) {
  v1::MetadataRecord r;
  auto* pr = r.mutable_partition();
  pr->set_topic_id(id.Bytes());
  pr->set_partition(p);
  for (int x : replicas) {
    pr->add_replicas(x);
    pr->add_isr(x);
  }
  pr->set_leader(leader);
  return r;
}

TopicId SomeId(uint64_t seed) {
  Random random(seed);
  return TopicId::Random(random);
}

TEST(Replay, RegisterBroker_EpochIsRecordOffsetAndStartsFenced) {
  MetadataImage image;
  ASSERT_TRUE(image.Replay(Register(1, "a", "r1"), 42).ok());
  const BrokerRegistration* b = image.broker(NodeId(1));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->epoch, 42);
  EXPECT_TRUE(b->fenced);
  EXPECT_EQ(b->rack, "r1");
  EXPECT_EQ(b->listeners.at(0).port, 9001);
  EXPECT_FALSE(image.BrokerIsActive(NodeId(1)));
}

TEST(Replay, RegistrationChange_NeedsMatchingEpoch) {
  MetadataImage image;
  ASSERT_TRUE(image.Replay(Register(1, "a"), 10).ok());
  EXPECT_FALSE(image.Replay(Fence(1, 9, v1::FENCE_CHANGE_UNFENCE), 11).ok());
  EXPECT_TRUE(image.broker(NodeId(1))->fenced);
  ASSERT_TRUE(image.Replay(Fence(1, 10, v1::FENCE_CHANGE_UNFENCE), 11).ok());
  EXPECT_TRUE(image.BrokerIsActive(NodeId(1)));
}

TEST(Replay, NewIncarnation_ReplacesRegistration) {
  MetadataImage image;
  ASSERT_TRUE(image.Replay(Register(1, "first"), 10).ok());
  ASSERT_TRUE(image.Replay(Fence(1, 10, v1::FENCE_CHANGE_UNFENCE), 11).ok());
  ASSERT_TRUE(image.Replay(Register(1, "second"), 20).ok());
  EXPECT_EQ(image.broker(NodeId(1))->incarnation_id, "second");
  EXPECT_EQ(image.broker(NodeId(1))->epoch, 20);
  EXPECT_TRUE(image.broker(NodeId(1))->fenced);
}

TEST(Replay, PartitionChange_BumpsEpochs) {
  MetadataImage image;
  const TopicId id = SomeId(1);
  ASSERT_TRUE(image.Replay(Topic("t", id), 1).ok());
  ASSERT_TRUE(image.Replay(Partition(id, 0, {1, 2, 3}, 1), 1).ok());
  EXPECT_EQ(image.partition_count(), 1u);
  v1::MetadataRecord isr_only;
  auto* c = isr_only.mutable_partition_change();
  c->set_topic_id(id.Bytes());
  c->set_partition(0);
  c->set_set_isr(true);
  c->add_isr(1);
  c->add_isr(2);
  ASSERT_TRUE(image.Replay(isr_only, 2).ok());
  const PartitionState* p = image.partition(id, 0);
  EXPECT_EQ(p->isr, (std::vector<NodeId>{NodeId(1), NodeId(2)}));
  EXPECT_EQ(p->partition_epoch, 1);
  EXPECT_EQ(p->leader_epoch, LeaderEpoch(0));  // ISR change alone: same leader epoch
  v1::MetadataRecord leader = isr_only;
  leader.mutable_partition_change()->set_set_isr(false);
  leader.mutable_partition_change()->set_leader(2);
  ASSERT_TRUE(image.Replay(leader, 3).ok());
  EXPECT_EQ(p->leader, NodeId(2));
  EXPECT_EQ(p->leader_epoch, LeaderEpoch(1));
  EXPECT_EQ(p->partition_epoch, 2);
  // Setting the same leader again is not a leader change.
  ASSERT_TRUE(image.Replay(leader, 4).ok());
  EXPECT_EQ(p->leader_epoch, LeaderEpoch(1));
  EXPECT_EQ(p->partition_epoch, 3);
}

TEST(Replay, RemoveTopic_DropsPartitionsAndConfigs) {
  MetadataImage image;
  const TopicId id = SomeId(2);
  ASSERT_TRUE(image.Replay(Topic("t", id), 1).ok());
  ASSERT_TRUE(image.Replay(Partition(id, 0, {1}, 1), 1).ok());
  ASSERT_TRUE(image.Replay(Partition(id, 1, {1}, 1), 1).ok());
  v1::MetadataRecord config;
  config.mutable_config()->set_resource_type(v1::TOPIC);
  config.mutable_config()->set_resource_name("t");
  config.mutable_config()->set_name("retention.ms");
  config.mutable_config()->set_value("1000");
  ASSERT_TRUE(image.Replay(config, 2).ok());
  EXPECT_EQ(image.config({v1::TOPIC, "t"}, "retention.ms"), "1000");
  v1::MetadataRecord remove;
  remove.mutable_remove_topic()->set_topic_id(id.Bytes());
  ASSERT_TRUE(image.Replay(remove, 3).ok());
  EXPECT_EQ(image.topic("t"), nullptr);
  EXPECT_EQ(image.topic(id), nullptr);
  EXPECT_EQ(image.partition_count(), 0u);
  EXPECT_FALSE(image.config({v1::TOPIC, "t"}, "retention.ms").has_value());
  // The same name can be created again, as a different topic.
  ASSERT_TRUE(image.Replay(Topic("t", SomeId(3)), 4).ok());
}

TEST(Replay, InvalidRecords_AreSkippedWithError) {
  MetadataImage image;
  const TopicId id = SomeId(4);
  EXPECT_FALSE(image.Replay(Partition(id, 0, {1}, 1), 1).ok());  // unknown topic
  ASSERT_TRUE(image.Replay(Topic("t", id), 1).ok());
  EXPECT_FALSE(image.Replay(Topic("t", SomeId(5)), 2).ok());  // duplicate name
  EXPECT_FALSE(image.Replay(v1::MetadataRecord(), 3).ok());   // empty
  v1::MetadataRecord producer;
  producer.mutable_producer_ids()->set_next_producer_id(1000);
  ASSERT_TRUE(image.Replay(producer, 4).ok());
  producer.mutable_producer_ids()->set_next_producer_id(500);
  EXPECT_FALSE(image.Replay(producer, 5).ok());  // never backwards
  EXPECT_EQ(image.next_producer_id(), 1000);
}

TEST(Replay, ConfigSetAndRemove) {
  MetadataImage image;
  v1::MetadataRecord r;
  auto* c = r.mutable_config();
  c->set_resource_type(v1::BROKER);
  c->set_name("num.partitions");
  c->set_value("6");
  ASSERT_TRUE(image.Replay(r, 1).ok());
  EXPECT_EQ(image.config({v1::BROKER, ""}, "num.partitions"), "6");
  c->set_remove(true);
  ASSERT_TRUE(image.Replay(r, 2).ok());
  EXPECT_FALSE(image.config({v1::BROKER, ""}, "num.partitions").has_value());
  EXPECT_TRUE(image.configs().empty());
}

// A random but valid record sequence, generated from a seed.
std::vector<v1::MetadataBatch> RandomHistory(uint64_t seed) {
  Random random(seed);
  std::vector<v1::MetadataBatch> batches;
  std::vector<TopicId> topics;
  for (int i = 0; i < 200; ++i) {
    v1::MetadataBatch batch;
    switch (random.Uniform(4)) {
      case 0:
        *batch.add_records() = Register(static_cast<int>(random.Range(1, 5)),
                                        std::to_string(random.Next()));
        break;
      case 1: {
        topics.push_back(TopicId::Random(random));
        *batch.add_records() = Topic("t" + std::to_string(i), topics.back());
        *batch.add_records() = Partition(topics.back(), 0, {1, 2}, 1);
        break;
      }
      case 2:
        if (!topics.empty()) {
          auto* c = batch.add_records()->mutable_partition_change();
          c->set_topic_id(topics[random.Uniform(topics.size())].Bytes());
          c->set_partition(0);
          c->set_leader(static_cast<int32_t>(random.Range(1, 2)));
        }
        break;
      default: {
        auto* c = batch.add_records()->mutable_config();
        c->set_resource_type(v1::BROKER);
        c->set_name("num.partitions");
        c->set_value(std::to_string(random.Range(1, 9)));
      }
    }
    batches.push_back(batch);
  }
  return batches;
}

TEST(Replay, SameRecordsSameOrder_SameImage) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    MetadataImage a, b;
    const auto history = RandomHistory(seed);
    for (size_t i = 0; i < history.size(); ++i) {
      (void)a.ReplayBatch(history[i], i + 1);
      (void)b.ReplayBatch(history[i], i + 1);
    }
    EXPECT_TRUE(a == b) << "seed " << seed;
    EXPECT_EQ(a.offset(), history.size());
  }
}

}  // namespace
}  // namespace strand::controller

namespace strand::controller {
namespace {

TEST(Replay, DerivedCounts_FollowTopicsAndPartitions) {
  MetadataImage image;
  Random random(11);
  const TopicId a = TopicId::Random(random), b = TopicId::Random(random);
  v1::MetadataBatch batch;
  for (auto [name, id] : {std::pair{"x.y", a}, std::pair{"other", b}}) {
    auto* t = batch.add_records()->mutable_topic();
    t->set_name(name);
    t->set_topic_id(id.Bytes());
    for (int p = 0; p < 2; ++p) {
      auto* pr = batch.add_records()->mutable_partition();
      pr->set_topic_id(id.Bytes());
      pr->set_partition(p);
      pr->add_replicas(1 + p);
      pr->add_replicas(3);
      pr->add_isr(3);
      pr->set_leader(3);
    }
  }
  ASSERT_TRUE(image.ReplayBatch(batch, 1).ok());
  EXPECT_EQ(image.replica_counts().at(NodeId(3)), 4);
  EXPECT_EQ(image.preferred_leader_counts().at(NodeId(1)), 2);
  ASSERT_NE(image.TopicCollidingWith("x_y"), nullptr);
  EXPECT_EQ(*image.TopicCollidingWith("x_y"), "x.y");
  EXPECT_EQ(image.TopicCollidingWith("x.y"), nullptr);  // itself
  v1::MetadataRecord move;
  auto* c = move.mutable_partition_change();
  c->set_topic_id(a.Bytes());
  c->set_partition(0);
  c->set_set_replicas(true);
  c->add_replicas(2);
  c->add_replicas(3);
  ASSERT_TRUE(image.Replay(move, 2).ok());
  EXPECT_EQ(image.preferred_leader_counts().at(NodeId(2)), 3);
  v1::MetadataRecord remove;
  remove.mutable_remove_topic()->set_topic_id(a.Bytes());
  ASSERT_TRUE(image.Replay(remove, 3).ok());
  EXPECT_EQ(image.TopicCollidingWith("x_y"), nullptr);
  EXPECT_EQ(image.replica_counts().at(NodeId(3)), 2);
  EXPECT_EQ(image.preferred_leader_counts().count(NodeId(2)), 1u);
  EXPECT_EQ(image.preferred_leader_counts().count(NodeId(1)), 1u);
  // A snapshot rebuilds the same counts.
  auto rebuilt = MetadataImage::FromSnapshot(image.ToSnapshot());
  ASSERT_TRUE(rebuilt.ok());
  EXPECT_EQ(rebuilt->replica_counts(), image.replica_counts());
  EXPECT_EQ(rebuilt->preferred_leader_counts(), image.preferred_leader_counts());
}

}  // namespace
}  // namespace strand::controller
