// Tests the image snapshot: the records of ToSnapshot rebuild an equal image, with broker
// epochs, partition epochs, controlled-shutdown flags, configs, ACLs and features kept.
#include <gtest/gtest.h>

#include "common/random.h"
#include "controller/state/metadata_image.h"

namespace strand::controller {
namespace {

TEST(Snapshot, RoundTrip_RebuildsEqualImage) {
  MetadataImage image;
  Random random(7);
  v1::MetadataBatch batch;
  for (int id = 1; id <= 3; ++id) {
    auto* b = batch.add_records()->mutable_register_broker();
    b->set_broker_id(id);
    b->set_incarnation_id("inc" + std::to_string(id));
    b->set_rack("r" + std::to_string(id % 2));
    b->set_fenced(true);
    auto* l = b->add_listeners();
    l->set_name("CLIENT");
    l->set_host("h");
    l->set_port(id);
  }
  ASSERT_TRUE(image.ReplayBatch(batch, 5).ok());
  batch.Clear();
  auto* unfence = batch.add_records()->mutable_broker_registration_change();
  unfence->set_broker_id(1);
  unfence->set_broker_epoch(5);
  unfence->set_fence(v1::FENCE_CHANGE_UNFENCE);
  auto* shutdown = batch.add_records()->mutable_broker_registration_change();
  shutdown->set_broker_id(2);
  shutdown->set_broker_epoch(5);
  shutdown->set_in_controlled_shutdown(true);
  const TopicId id = TopicId::Random(random);
  auto* t = batch.add_records()->mutable_topic();
  t->set_name("orders");
  t->set_topic_id(id.Bytes());
  for (int p = 0; p < 3; ++p) {
    auto* pr = batch.add_records()->mutable_partition();
    pr->set_topic_id(id.Bytes());
    pr->set_partition(p);
    pr->add_replicas(1);
    pr->add_replicas(2);
    pr->add_isr(1);
    pr->set_leader(1);
  }
  auto* change = batch.add_records()->mutable_partition_change();
  change->set_topic_id(id.Bytes());
  change->set_partition(1);
  change->set_leader(2);
  change->set_set_reassignment(true);
  change->add_adding_replicas(3);
  auto* config = batch.add_records()->mutable_config();
  config->set_resource_type(v1::TOPIC);
  config->set_resource_name("orders");
  config->set_name("cleanup.policy");
  config->set_value("compact");
  batch.add_records()->mutable_producer_ids()->set_next_producer_id(3000);
  auto* acl = batch.add_records()->mutable_access_control_entry();
  acl->set_id(std::string(16, 'a'));
  acl->set_principal("User:alice");
  acl->set_resource_name("orders");
  auto* feature = batch.add_records()->mutable_feature_level();
  feature->set_name("metadata.version");
  feature->set_feature_level(1);
  auto* active = batch.add_records()->mutable_active_controller();
  active->set_controller_id(2);
  active->set_term(9);
  ASSERT_TRUE(image.ReplayBatch(batch, 6).ok());

  v1::MetadataSnapshot snapshot = image.ToSnapshot();
  std::string wire = snapshot.SerializeAsString();
  v1::MetadataSnapshot parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  auto rebuilt = MetadataImage::FromSnapshot(parsed);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_TRUE(*rebuilt == image);
  EXPECT_EQ(rebuilt->partition(id, 1)->leader_epoch, LeaderEpoch(1));
  EXPECT_EQ(rebuilt->broker(NodeId(2))->epoch, 5);
  EXPECT_TRUE(rebuilt->broker(NodeId(2))->in_controlled_shutdown);
  EXPECT_EQ(rebuilt->offset(), 6u);
}

}  // namespace
}  // namespace strand::controller
