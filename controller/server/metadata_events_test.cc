// The operator lines the controller logs for committed metadata, read from the MetadataDelta:
// named topics, fencing, leader and ISR changes, configs, and a cap on partition lines per batch.
#include "controller/server/metadata_events.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/random.h"

namespace strand::controller {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

class MetadataEventsTest : public ::testing::Test {
 protected:
  MetadataEventsTest() {
    strand::Random random(7);
    id_ = TopicId::Random(random);
    v1::MetadataBatch create;
    auto* t = create.add_records()->mutable_topic();
    t->set_name("orders");
    t->set_topic_id(id_.Bytes());
    for (int p = 0; p < 30; ++p) {
      auto* r = create.add_records()->mutable_partition();
      r->set_topic_id(id_.Bytes());
      r->set_partition(p);
      for (int b : {101, 102, 103}) {
        r->add_replicas(b);
        r->add_isr(b);
      }
      r->set_leader(101);
    }
    v1::MetadataBatch brokers;
    for (int b : {101, 102, 103}) {
      auto* r = brokers.add_records()->mutable_register_broker();
      r->set_broker_id(b);
      r->set_incarnation_id("i" + std::to_string(b));
      r->set_rack("r1");
      r->set_fenced(true);
    }
    EXPECT_TRUE(image_.ReplayBatch(brokers, 4).ok());
    EXPECT_TRUE(image_.ReplayBatch(create, 5, &created_).ok());
  }

  // Replays `batch` at the next offset and describes what it changed.
  std::vector<std::string> Apply(const v1::MetadataBatch& batch) {
    MetadataDelta delta;
    EXPECT_TRUE(image_.ReplayBatch(batch, ++offset_, &delta).ok());
    return DescribeMetadataDelta(delta, image_);
  }

  TopicId id_;
  MetadataImage image_;
  MetadataDelta created_;
  uint64_t offset_ = 5;
};

TEST_F(MetadataEventsTest, TopicCreationIsOneLineWithThePartitionCount) {
  EXPECT_THAT(DescribeMetadataDelta(created_, image_),
              Contains("topic orders: 30 partition(s) created"));
  EXPECT_EQ(DescribeMetadataDelta(created_, image_).size(), 1u);
}

TEST_F(MetadataEventsTest, LeaderAndIsrChangesNameTheTopicAndTheNewEpoch) {
  v1::MetadataBatch batch;
  auto* c = batch.add_records()->mutable_partition_change();
  c->set_topic_id(id_.Bytes());
  c->set_partition(3);
  c->set_leader(102);
  c->set_set_isr(true);
  c->add_isr(102);
  c->add_isr(103);
  const auto lines = Apply(batch);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "partition orders-3: leader 102, ISR [102,103] (leader epoch 1)");
}

TEST_F(MetadataEventsTest, ManyPartitionChangesAreCapped) {
  v1::MetadataBatch batch;
  for (int p = 0; p < 30; ++p) {
    auto* c = batch.add_records()->mutable_partition_change();
    c->set_topic_id(id_.Bytes());
    c->set_partition(p);
    c->set_leader(-1);
  }
  const auto lines = Apply(batch);
  ASSERT_EQ(lines.size(), 21u);
  EXPECT_THAT(lines[0], HasSubstr("offline"));
  EXPECT_EQ(lines.back(), "... and 10 more partition changes in this batch");
}

TEST_F(MetadataEventsTest, FencingAndDeletion) {
  v1::MetadataBatch unfence;
  auto* u = unfence.add_records()->mutable_broker_registration_change();
  u->set_broker_id(102);
  u->set_broker_epoch(4);
  u->set_fence(v1::FENCE_CHANGE_UNFENCE);
  EXPECT_THAT(Apply(unfence), ::testing::ElementsAre("broker 102 (epoch 4) unfenced"));

  v1::MetadataBatch batch;
  auto* f = batch.add_records()->mutable_broker_registration_change();
  f->set_broker_id(102);
  f->set_broker_epoch(4);
  f->set_fence(v1::FENCE_CHANGE_FENCE);
  f->set_in_controlled_shutdown(true);
  batch.add_records()->mutable_remove_topic()->set_topic_id(id_.Bytes());
  auto lines = Apply(batch);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "broker 102 (epoch 4) fenced, in controlled shutdown");
  EXPECT_EQ(lines[1], "topic orders deleted");  // the delta keeps the name the image lost
}

TEST_F(MetadataEventsTest, RegistrationsConfigsAndUnchangedValues) {
  v1::MetadataBatch batch;
  auto* r = batch.add_records()->mutable_register_broker();
  r->set_broker_id(104);
  r->set_incarnation_id("i104");
  r->set_rack("r2");
  r->set_fenced(true);
  auto* c = batch.add_records()->mutable_config();
  c->set_resource_type(v1::TOPIC);
  c->set_resource_name("orders");
  c->set_name("retention.ms");
  c->set_value("1000");
  auto* cluster = batch.add_records()->mutable_config();
  cluster->set_resource_type(v1::BROKER);
  cluster->set_name("min.insync.replicas");
  cluster->set_value("2");
  // A partition change that changes nothing an operator follows is not a line.
  auto* same = batch.add_records()->mutable_partition_change();
  same->set_topic_id(id_.Bytes());
  same->set_partition(0);
  same->set_leader(101);
  EXPECT_THAT(Apply(batch),
              ::testing::ElementsAre("broker 104 registered (epoch 6, rack 'r2', fenced)",
                                     "config topic orders: retention.ms=1000",
                                     "config broker <cluster default>: min.insync.replicas=2"));

  v1::MetadataBatch removal;
  auto* rm = removal.add_records()->mutable_config();
  rm->set_resource_type(v1::TOPIC);
  rm->set_resource_name("orders");
  rm->set_name("retention.ms");
  rm->set_remove(true);
  removal.add_records()->mutable_unregister_broker()->set_broker_id(104);
  EXPECT_THAT(Apply(removal), ::testing::ElementsAre("broker 104 unregistered",
                                                     "config topic orders: retention.ms removed"));
}

}  // namespace
}  // namespace strand::controller
