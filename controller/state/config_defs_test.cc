// Tests config validation by Kafka name: types, ranges, enumerations and lists, unknown names.
#include "controller/state/config_defs.h"

#include <gtest/gtest.h>

#include "controller/state/metadata_image.h"

namespace strand::controller {
namespace {

TEST(ConfigDefs, ValidValues_Pass) {
  EXPECT_TRUE(ValidateTopicConfig("retention.ms", "-1").ok());
  EXPECT_TRUE(ValidateTopicConfig("retention.ms", "86400000").ok());
  EXPECT_TRUE(ValidateTopicConfig("cleanup.policy", "compact,delete").ok());
  EXPECT_TRUE(ValidateTopicConfig("min.insync.replicas", "2").ok());
  EXPECT_TRUE(ValidateTopicConfig("unclean.leader.election.enable", "true").ok());
  EXPECT_TRUE(ValidateTopicConfig("min.cleanable.dirty.ratio", "0.25").ok());
  EXPECT_TRUE(ValidateTopicConfig("message.timestamp.type", "LogAppendTime").ok());
  EXPECT_TRUE(ValidateClusterConfig("num.partitions", "12").ok());
  EXPECT_TRUE(ValidateClusterConfig("log.retention.ms", "1000").ok());  // a topic synonym
}

TEST(ConfigDefs, InvalidValues_SayWhy) {
  auto s = ValidateTopicConfig("retention.ms", "soon");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("integer"), std::string::npos);
  EXPECT_FALSE(ValidateTopicConfig("retention.ms", "-2").ok());
  EXPECT_FALSE(ValidateTopicConfig("min.insync.replicas", "0").ok());
  EXPECT_FALSE(ValidateTopicConfig("segment.bytes", "10").ok());
  EXPECT_FALSE(ValidateTopicConfig("segment.bytes", "99999999999").ok());  // not a 32-bit int
  EXPECT_FALSE(ValidateTopicConfig("cleanup.policy", "compact,forever").ok());
  EXPECT_FALSE(ValidateTopicConfig("unclean.leader.election.enable", "yes").ok());
  EXPECT_FALSE(ValidateTopicConfig("min.cleanable.dirty.ratio", "1.5").ok());
  auto unknown = ValidateTopicConfig("retention.hours", "1");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.message().find("unknown"), std::string::npos);
  EXPECT_FALSE(ValidateClusterConfig("leader.imbalance.per.broker.percentage", "101").ok());
}

TEST(ConfigDefs, EveryTopicConfigHasAValidDefault) {
  for (const ConfigDef& d : TopicConfigDefs()) {
    EXPECT_TRUE(ValidateValue(d, d.default_value).ok()) << d.name;
    EXPECT_FALSE(d.cluster_synonym.empty()) << d.name;
    EXPECT_NE(FindClusterConfig(d.cluster_synonym), nullptr) << d.name;
  }
}

TEST(ConfigDefs, StaticSettingDigests_DifferOnlyWhereTheValueInForceDiffers) {
  const SettingDigests plain = StaticSettingDigests({});
  EXPECT_EQ(plain.size(), ClusterConfigDefs().size());
  // The default written out is the same value in force; non-cluster settings are not digested.
  const std::string retention_default = FindClusterConfig("log.retention.ms")->default_value;
  EXPECT_EQ(StaticSettingDigests(
                {{"log.retention.ms", retention_default}, {"listeners", "CLIENT://127.0.0.1:1"}}),
            plain);
  const SettingDigests odd = StaticSettingDigests({{"log.retention.ms", "1234"}});
  MetadataImage image;
  EXPECT_EQ(DifferingStaticSettings(image, odd, plain),
            std::vector<std::string>{"log.retention.ms"});
  EXPECT_TRUE(DifferingStaticSettings(image, plain, plain).empty());
  // A node that sent no digests (older, or none recorded yet) is not reported.
  EXPECT_TRUE(DifferingStaticSettings(image, odd, {}).empty());
  // A dynamic cluster-wide value overrides the static ones: nothing to report.
  v1::MetadataRecord r;
  r.mutable_config()->set_resource_type(v1::BROKER);
  r.mutable_config()->set_name("log.retention.ms");
  r.mutable_config()->set_value("5000");
  ASSERT_TRUE(image.Replay(r, 1).ok());
  EXPECT_TRUE(DifferingStaticSettings(image, odd, plain).empty());
}

TEST(ConfigDefs, StaticSettingDigests_SurviveASnapshot) {
  MetadataImage image;
  v1::MetadataBatch batch;
  auto* b = batch.add_records()->mutable_register_broker();
  b->set_broker_id(101);
  b->set_incarnation_id("i");
  auto* d = b->add_static_settings();
  d->set_name("num.partitions");
  d->set_digest(42);
  auto* a = batch.add_records()->mutable_active_controller();
  a->set_controller_id(1);
  a->set_term(3);
  *a->add_static_settings() = *d;
  ASSERT_TRUE(image.ReplayBatch(batch, 5).ok());
  EXPECT_EQ(image.broker(NodeId(101))->static_settings.at("num.partitions"), 42u);
  EXPECT_EQ(image.active_controller_static_settings().at("num.partitions"), 42u);
  auto restored = MetadataImage::FromSnapshot(image.ToSnapshot());
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(*restored, image);
}

}  // namespace
}  // namespace strand::controller
