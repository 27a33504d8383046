// ComputeLocalChanges: which partitions this broker leads, follows and gives up after a metadata
// change, from the image and the delta alone.
#include "broker/server/local_changes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/random.h"

namespace strand::broker {
namespace {

namespace cv1 = controller::v1;
using controller::MetadataDelta;
using controller::TopicId;

constexpr NodeId kSelf{1};

TopicId SomeId(uint64_t seed) {
  Random random(seed);
  return TopicId::Random(random);
}

std::vector<std::string> Names(const std::vector<LocalPartition>& ps) {
  std::vector<std::string> out;
  for (const LocalPartition& p : ps) out.push_back(p.tp.DirName());
  return out;
}

std::vector<std::string> Names(const std::vector<LocalDelete>& ds) {
  std::vector<std::string> out;
  for (const LocalDelete& d : ds) {
    out.push_back(d.tp.DirName() + (d.topic_deleted ? " (topic deleted)" : " (left)"));
  }
  return out;
}

class LocalChangesTest : public ::testing::Test {
 protected:
  // Applies `batch` and returns what it asks of broker 1.
  LocalChanges Apply(const cv1::MetadataBatch& batch) {
    MetadataDelta delta;
    EXPECT_TRUE(image_.ReplayBatch(batch, ++offset_, &delta).ok());
    return ComputeLocalChanges(image_, delta, kSelf);
  }

  // A topic whose partition i has replicas `replicas[i]`, led by the first of them.
  static cv1::MetadataBatch CreateTopic(const std::string& name, const TopicId& id,
                                        const std::vector<std::vector<int>>& replicas) {
    cv1::MetadataBatch batch;
    auto* t = batch.add_records()->mutable_topic();
    t->set_name(name);
    t->set_topic_id(id.Bytes());
    for (size_t i = 0; i < replicas.size(); ++i) {
      auto* p = batch.add_records()->mutable_partition();
      p->set_topic_id(id.Bytes());
      p->set_partition(static_cast<int32_t>(i));
      for (int r : replicas[i]) {
        p->add_replicas(r);
        p->add_isr(r);
      }
      p->set_leader(replicas[i].front());
    }
    return batch;
  }

  static cv1::MetadataBatch Change(const TopicId& id, int partition, int leader,
                                   std::vector<int> replicas = {}) {
    cv1::MetadataBatch batch;
    auto* c = batch.add_records()->mutable_partition_change();
    c->set_topic_id(id.Bytes());
    c->set_partition(partition);
    c->set_leader(leader);
    if (!replicas.empty()) {
      c->set_set_replicas(true);
      c->set_set_isr(true);
      for (int r : replicas) {
        c->add_replicas(r);
        c->add_isr(r);
      }
    }
    return batch;
  }

  controller::MetadataImage image_;
  uint64_t offset_ = 0;
  const TopicId orders_ = SomeId(1);
  const TopicId other_ = SomeId(2);
};

TEST_F(LocalChangesTest, CreatedTopicSplitsIntoLeadersAndFollowersOfThisBroker) {
  LocalChanges c = Apply(CreateTopic("orders", orders_, {{1, 2}, {2, 1}, {2, 3}}));
  EXPECT_THAT(Names(c.leaders), ::testing::ElementsAre("orders-0"));
  EXPECT_THAT(Names(c.followers), ::testing::ElementsAre("orders-1"));
  EXPECT_TRUE(c.deletes.empty());
  EXPECT_FALSE(c.everything);
  EXPECT_EQ(c.topic_ids, std::set<std::string>{orders_.Bytes()});
  EXPECT_EQ(c.followers[0].state.leader, NodeId(2));
  EXPECT_EQ(c.followers[0].topic_id, orders_.Bytes());
}

TEST_F(LocalChangesTest, OnlyTouchedTopicsAreLookedAt) {
  Apply(CreateTopic("orders", orders_, {{1, 2}}));
  Apply(CreateTopic("other", other_, {{1, 2}}));
  LocalChanges c = Apply(Change(orders_, 0, 2));
  EXPECT_TRUE(c.leaders.empty());
  EXPECT_THAT(Names(c.followers), ::testing::ElementsAre("orders-0"));  // now led by 2
  EXPECT_EQ(c.topic_ids, std::set<std::string>{orders_.Bytes()});
}

TEST_F(LocalChangesTest, LeavingTheReplicaSetDeletesTheReplica) {
  Apply(CreateTopic("orders", orders_, {{1, 2, 3}, {2, 3, 4}}));
  LocalChanges c = Apply(Change(orders_, 0, 2, {2, 3, 4}));
  EXPECT_TRUE(c.leaders.empty());
  EXPECT_TRUE(c.followers.empty());
  EXPECT_THAT(Names(c.deletes), ::testing::ElementsAre("orders-0 (left)"));
  EXPECT_EQ(c.deletes[0].topic_id, orders_.Bytes());
}

TEST_F(LocalChangesTest, DeletedTopicDeletesOnlyThisBrokersReplicas) {
  Apply(CreateTopic("orders", orders_, {{1, 2}, {2, 3}, {3, 1}}));
  cv1::MetadataBatch remove;
  remove.add_records()->mutable_remove_topic()->set_topic_id(orders_.Bytes());
  LocalChanges c = Apply(remove);
  EXPECT_TRUE(c.leaders.empty());
  EXPECT_TRUE(c.followers.empty());
  EXPECT_THAT(Names(c.deletes),
              ::testing::ElementsAre("orders-0 (topic deleted)", "orders-2 (topic deleted)"));
  EXPECT_EQ(c.topic_ids, std::set<std::string>{orders_.Bytes()});
}

TEST_F(LocalChangesTest, RecreatedTopicReplacesTheOldReplicaUnderTheSameName) {
  Apply(CreateTopic("orders", orders_, {{1, 2}}));
  cv1::MetadataBatch batch;
  batch.add_records()->mutable_remove_topic()->set_topic_id(orders_.Bytes());
  batch.MergeFrom(CreateTopic("orders", other_, {{2, 1}}));
  LocalChanges c = Apply(batch);
  ASSERT_THAT(Names(c.followers), ::testing::ElementsAre("orders-0"));
  EXPECT_EQ(c.followers[0].topic_id, other_.Bytes());
  ASSERT_THAT(Names(c.deletes), ::testing::ElementsAre("orders-0 (topic deleted)"));
  EXPECT_EQ(c.deletes[0].topic_id, orders_.Bytes());  // the old topic's replica, by id
}

TEST_F(LocalChangesTest, TopicConfigTouchesItsTopicAndClusterConfigTouchesAll) {
  Apply(CreateTopic("orders", orders_, {{1, 2}}));
  Apply(CreateTopic("other", other_, {{2, 1}}));
  cv1::MetadataBatch topic_config;
  auto* tc = topic_config.add_records()->mutable_config();
  tc->set_resource_type(cv1::TOPIC);
  tc->set_resource_name("other");
  tc->set_name("retention.ms");
  tc->set_value("1000");
  LocalChanges c = Apply(topic_config);
  EXPECT_FALSE(c.everything);
  EXPECT_TRUE(c.leaders.empty());
  EXPECT_THAT(Names(c.followers), ::testing::ElementsAre("other-0"));

  cv1::MetadataBatch cluster_config;
  auto* cc = cluster_config.add_records()->mutable_config();
  cc->set_resource_type(cv1::BROKER);
  cc->set_name("min.insync.replicas");
  cc->set_value("2");
  c = Apply(cluster_config);
  EXPECT_TRUE(c.everything);
  EXPECT_THAT(Names(c.leaders), ::testing::ElementsAre("orders-0"));
  EXPECT_THAT(Names(c.followers), ::testing::ElementsAre("other-0"));
}

TEST_F(LocalChangesTest, SnapshotLooksAtEverythingAndBrokerChangesAtNothing) {
  Apply(CreateTopic("orders", orders_, {{1, 2}, {3, 1}, {2, 3}}));
  MetadataDelta snapshot;
  snapshot.snapshot = true;
  LocalChanges c = ComputeLocalChanges(image_, snapshot, kSelf);
  EXPECT_TRUE(c.everything);
  EXPECT_THAT(Names(c.leaders), ::testing::ElementsAre("orders-0"));
  EXPECT_THAT(Names(c.followers), ::testing::ElementsAre("orders-1"));

  cv1::MetadataBatch reg;
  reg.add_records()->mutable_register_broker()->set_broker_id(5);
  c = Apply(reg);
  EXPECT_FALSE(c.everything);
  EXPECT_TRUE(c.leaders.empty() && c.followers.empty() && c.deletes.empty());
  EXPECT_TRUE(c.topic_ids.empty());
}

}  // namespace
}  // namespace strand::broker
