// The operator lines the controller logs for committed metadata: named topics, fencing,
// leader and ISR changes, and a cap on partition lines per batch.
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
    created_ = create;
    EXPECT_TRUE(image_.ReplayBatch(create, 5).ok());
  }

  TopicId id_;
  MetadataImage image_;
  v1::MetadataBatch created_;
};

TEST_F(MetadataEventsTest, TopicCreationIsOneLineWithThePartitionCount) {
  EXPECT_THAT(DescribeMetadataBatch(created_, image_),
              Contains("topic orders: 30 partition(s) created"));
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
  ASSERT_TRUE(image_.ReplayBatch(batch, 6).ok());
  const auto lines = DescribeMetadataBatch(batch, image_);
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
  ASSERT_TRUE(image_.ReplayBatch(batch, 6).ok());
  const auto lines = DescribeMetadataBatch(batch, image_);
  ASSERT_EQ(lines.size(), 21u);
  EXPECT_THAT(lines[0], HasSubstr("offline"));
  EXPECT_EQ(lines.back(), "... and 10 more partition changes in this batch");
}

TEST_F(MetadataEventsTest, FencingAndDeletion) {
  v1::MetadataBatch batch;
  auto* f = batch.add_records()->mutable_broker_registration_change();
  f->set_broker_id(102);
  f->set_broker_epoch(9);
  f->set_fence(v1::FENCE_CHANGE_FENCE);
  f->set_in_controlled_shutdown(true);
  batch.add_records()->mutable_remove_topic()->set_topic_id(id_.Bytes());
  auto lines = DescribeMetadataBatch(batch, MetadataImage());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "broker 102 (epoch 9) fenced, in controlled shutdown");
  EXPECT_EQ(lines[1], "topic " + id_.ToString() + " deleted");  // its name is gone by now
}

}  // namespace
}  // namespace strand::controller
