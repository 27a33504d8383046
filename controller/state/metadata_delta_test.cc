// Tests MetadataDelta as MetadataImage::Replay fills it: every record type lands in the delta
// (and the test fails when a record type is added without a case here), "before" states are the
// earliest, skipped records add nothing, and merging keeps the earliest state.
#include "controller/state/metadata_delta.h"

#include <gtest/gtest.h>

#include "common/random.h"

namespace strand::controller {
namespace {

TopicId SomeId(uint64_t seed) {
  Random random(seed);
  return TopicId::Random(random);
}

class MetadataDeltaTest : public ::testing::Test {
 protected:
  MetadataDeltaTest() : id_(SomeId(1)) {
    v1::MetadataBatch base;
    auto* b = base.add_records()->mutable_register_broker();
    b->set_broker_id(1);
    b->set_incarnation_id("a");
    b->set_fenced(true);
    auto* t = base.add_records()->mutable_topic();
    t->set_name("t");
    t->set_topic_id(id_.Bytes());
    for (int p = 0; p < 2; ++p) {
      auto* r = base.add_records()->mutable_partition();
      r->set_topic_id(id_.Bytes());
      r->set_partition(p);
      r->add_replicas(1);
      r->add_isr(1);
      r->set_leader(1);
    }
    EXPECT_TRUE(image_.ReplayBatch(base, 10).ok());
  }

  MetadataDelta Replay(const v1::MetadataRecord& record, bool expect_ok = true) {
    MetadataDelta delta;
    EXPECT_EQ(image_.Replay(record, ++offset_, &delta).ok(), expect_ok);
    return delta;
  }

  TopicId id_;
  MetadataImage image_;
  uint64_t offset_ = 10;
};

// One valid record of each type the oneof has, applied to the fixture's image.
TEST_F(MetadataDeltaTest, EveryRecordTypeLandsInTheDelta) {
  std::map<int, v1::MetadataRecord> records;  // by oneof field number
  auto add = [&](v1::MetadataRecord r) { records[r.record_case()] = std::move(r); };
  {
    v1::MetadataRecord r;
    r.mutable_register_broker()->set_broker_id(2);
    r.mutable_register_broker()->set_incarnation_id("b");
    add(r);
  }
  {
    v1::MetadataRecord r;
    r.mutable_broker_registration_change()->set_broker_id(1);
    r.mutable_broker_registration_change()->set_broker_epoch(10);
    r.mutable_broker_registration_change()->set_fence(v1::FENCE_CHANGE_UNFENCE);
    add(r);
  }
  {
    v1::MetadataRecord r;
    r.mutable_unregister_broker()->set_broker_id(1);
    add(r);
  }
  {
    v1::MetadataRecord r;
    r.mutable_topic()->set_name("u");
    r.mutable_topic()->set_topic_id(SomeId(2).Bytes());
    add(r);
  }
  {
    v1::MetadataRecord r;
    r.mutable_partition()->set_topic_id(id_.Bytes());
    r.mutable_partition()->set_partition(2);
    add(r);
  }
  {
    v1::MetadataRecord r;
    r.mutable_partition_change()->set_topic_id(id_.Bytes());
    r.mutable_partition_change()->set_partition(0);
    r.mutable_partition_change()->set_leader(-1);
    add(r);
  }
  {
    v1::MetadataRecord r;
    r.mutable_remove_topic()->set_topic_id(id_.Bytes());
    add(r);
  }
  {
    v1::MetadataRecord r;
    r.mutable_config()->set_resource_type(v1::TOPIC);
    r.mutable_config()->set_resource_name("t");
    r.mutable_config()->set_name("retention.ms");
    r.mutable_config()->set_value("5");
    add(r);
  }
  {
    v1::MetadataRecord r;
    r.mutable_producer_ids()->set_next_producer_id(1000);
    add(r);
  }
  {
    v1::MetadataRecord r;
    r.mutable_access_control_entry()->set_id(std::string(16, 'x'));
    add(r);
  }
  {
    v1::MetadataRecord r;
    r.mutable_remove_access_control_entry()->set_id(std::string(16, 'x'));
    add(r);
  }
  {
    v1::MetadataRecord r;
    r.mutable_feature_level()->set_name("metadata.version");
    r.mutable_feature_level()->set_feature_level(1);
    add(r);
  }
  {
    v1::MetadataRecord r;
    r.mutable_active_controller()->set_controller_id(3);
    r.mutable_active_controller()->set_term(7);
    add(r);
  }
  const auto* oneof = v1::MetadataRecord::descriptor()->FindOneofByName("record");
  ASSERT_NE(oneof, nullptr);
  ASSERT_EQ(records.size(), static_cast<size_t>(oneof->field_count()))
      << "a record type was added: give it a case here and in MetadataImage::Replay";
  for (const auto& [number, record] : records) {
    MetadataImage saved = image_;
    MetadataDelta delta = Replay(record);
    EXPECT_FALSE(delta.empty()) << record.ShortDebugString();
    image_ = saved;
  }
}

TEST_F(MetadataDeltaTest, KeepsTheEarliestStateAndTheDeletedTopicsPartitions) {
  v1::MetadataBatch batch;
  for (int leader : {-1, 1}) {
    auto* c = batch.add_records()->mutable_partition_change();
    c->set_topic_id(id_.Bytes());
    c->set_partition(0);
    c->set_leader(leader);
  }
  MetadataDelta delta;
  ASSERT_TRUE(image_.ReplayBatch(batch, 11, &delta).ok());
  ASSERT_EQ(delta.topics.size(), 1u);
  const TopicDelta& t = delta.topics.at(id_);
  EXPECT_EQ(t.name, "t");
  ASSERT_EQ(t.partitions.size(), 1u);
  ASSERT_TRUE(t.partitions.at(0).has_value());
  EXPECT_EQ(t.partitions.at(0)->leader, NodeId(1));
  EXPECT_EQ(t.partitions.at(0)->leader_epoch, LeaderEpoch(0));  // before both changes

  v1::MetadataRecord remove;
  remove.mutable_remove_topic()->set_topic_id(id_.Bytes());
  MetadataDelta removed = Replay(remove);
  const TopicDelta& gone = removed.topics.at(id_);
  EXPECT_TRUE(gone.deleted);
  EXPECT_EQ(gone.name, "t");
  ASSERT_EQ(gone.partitions.size(), 2u);  // which replicas go
  EXPECT_TRUE(gone.partitions.at(1)->IsReplica(NodeId(1)));
}

TEST_F(MetadataDeltaTest, SkippedRecordsAddNothing) {
  v1::MetadataRecord stale;
  stale.mutable_broker_registration_change()->set_broker_id(1);
  stale.mutable_broker_registration_change()->set_broker_epoch(3);  // not the registered epoch
  EXPECT_TRUE(Replay(stale, /*expect_ok=*/false).empty());
  v1::MetadataRecord unknown;
  unknown.mutable_partition_change()->set_topic_id(SomeId(9).Bytes());
  EXPECT_TRUE(Replay(unknown, /*expect_ok=*/false).empty());
}

TEST_F(MetadataDeltaTest, MergeKeepsEarlierBeforeStatesAndUnionsTheRest) {
  v1::MetadataRecord first;
  first.mutable_config()->set_resource_type(v1::TOPIC);
  first.mutable_config()->set_resource_name("t");
  first.mutable_config()->set_name("retention.ms");
  first.mutable_config()->set_value("1");
  MetadataDelta a = Replay(first);
  v1::MetadataRecord second = first;
  second.mutable_config()->set_value("2");
  MetadataDelta b = Replay(second);
  v1::MetadataRecord cluster;
  cluster.mutable_config()->set_resource_type(v1::BROKER);
  cluster.mutable_config()->set_name("min.insync.replicas");
  cluster.mutable_config()->set_value("2");
  b.Merge(Replay(cluster));
  EXPECT_FALSE(a.NonTopicConfigsChanged());
  EXPECT_TRUE(b.NonTopicConfigsChanged());
  a.Merge(b);
  const ConfigResource topic{v1::TOPIC, "t"};
  ASSERT_EQ(a.configs.at(topic).size(), 1u);
  EXPECT_EQ(a.configs.at(topic).at("retention.ms"), std::nullopt);  // unset before the first
  EXPECT_TRUE(a.NonTopicConfigsChanged());
  MetadataDelta snapshot;
  snapshot.snapshot = true;
  EXPECT_FALSE(snapshot.empty());
  a.Merge(snapshot);
  EXPECT_TRUE(a.snapshot);
}

}  // namespace
}  // namespace strand::controller
