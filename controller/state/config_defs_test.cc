// Tests config validation by Kafka name (types, ranges, enumerations and lists, unknown names,
// the throttled-replica lists, settings refused per broker) and the precedence of the values in
// force: per-broker dynamic > cluster-wide dynamic > static > built-in, on a replayed image.
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
    // Only the throttled-replica lists are topic-only (as in Kafka).
    if (d.name.find(".replication.throttled.replicas") != std::string::npos) {
      EXPECT_TRUE(d.cluster_synonym.empty()) << d.name;
      continue;
    }
    EXPECT_FALSE(d.cluster_synonym.empty()) << d.name;
    EXPECT_NE(FindClusterConfig(d.cluster_synonym), nullptr) << d.name;
  }
}

TEST(ConfigDefs, ThrottledReplicas_KafkaGrammar) {
  for (const char* name :
       {"leader.replication.throttled.replicas", "follower.replication.throttled.replicas"}) {
    for (const char* good : {"", "*", "0:101", "0:101,1:102, 2:103", " * "}) {
      EXPECT_TRUE(ValidateTopicConfig(name, good).ok()) << name << " '" << good << "'";
    }
    for (const char* bad : {"0", "0:", ":101", "a:101", "0:101,", "0:-1", "*,0:101", "0:101:1"}) {
      auto s = ValidateTopicConfig(name, bad);
      ASSERT_FALSE(s.ok()) << name << " '" << bad << "'";
      EXPECT_NE(s.message().find("partition:brokerId"), std::string::npos) << s.message();
    }
  }
  auto parsed = ParseThrottledReplicas("0:101,1:102,3:101");
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->all);
  EXPECT_EQ(parsed->PartitionsOn(101), (std::set<int32_t>{0, 3}));
  EXPECT_EQ(parsed->PartitionsOn(104), std::set<int32_t>{});
  EXPECT_TRUE(ParseThrottledReplicas("*")->all);
}

TEST(ConfigDefs, ThrottledRates_NonNegativeLongs) {
  for (const char* name :
       {"leader.replication.throttled.rate", "follower.replication.throttled.rate"}) {
    EXPECT_TRUE(ValidateClusterConfig(name, "0").ok());
    EXPECT_TRUE(ValidateBrokerConfig(name, "31457280").ok());
    EXPECT_FALSE(ValidateBrokerConfig(name, "-1").ok());
    EXPECT_FALSE(ValidateBrokerConfig(name, "fast").ok());
    EXPECT_EQ(FindClusterConfig(name)->default_value, "9223372036854775807");
  }
}

TEST(ConfigDefs, ValidateBrokerConfig_RefusesClusterWideSettings) {
  for (const char* name :
       {"max.partitions", "max.broker.partitions", "num.partitions", "default.replication.factor",
        "auto.leader.rebalance.enable", "leader.imbalance.check.interval.seconds",
        "leader.imbalance.per.broker.percentage", "min.insync.replicas",
        "unclean.leader.election.enable"}) {
    const ConfigDef* def = FindClusterConfig(name);
    ASSERT_NE(def, nullptr) << name;
    auto s = ValidateBrokerConfig(name, def->default_value);
    ASSERT_FALSE(s.ok()) << name;
    EXPECT_NE(s.message().find("cannot be set for one broker"), std::string::npos) << s.message();
    EXPECT_TRUE(ValidateClusterConfig(name, def->default_value).ok()) << name;
  }
  for (const char* name : {"replica.lag.time.max.ms", "log.retention.ms", "message.max.bytes",
                           "leader.replication.throttled.rate"}) {
    EXPECT_TRUE(ValidateBrokerConfig(name, FindClusterConfig(name)->default_value).ok()) << name;
  }
  EXPECT_FALSE(ValidateBrokerConfig("no.such.setting", "1").ok());
}

v1::MetadataRecord Config(v1::ConfigResourceType type, const std::string& resource,
                          const std::string& name, const std::string& value) {
  v1::MetadataRecord r;
  auto* c = r.mutable_config();
  c->set_resource_type(type);
  c->set_resource_name(resource);
  c->set_name(name);
  c->set_value(value);
  return r;
}

// Kafka's order: per-broker dynamic > cluster-wide dynamic default > static > built-in.
TEST(EffectiveClusterConfig, Precedence_PerBrokerThenClusterThenStaticThenDefault) {
  MetadataImage image;
  const std::string rate = "leader.replication.throttled.rate";
  const std::map<std::string, std::string> none;
  const std::map<std::string, std::string> statics = {{rate, "500"}};
  EXPECT_EQ(EffectiveClusterConfig(image, rate, none, 101), "9223372036854775807");
  EXPECT_EQ(EffectiveClusterConfig(image, rate, statics, 101), "500");
  int64_t offset = 1;
  ASSERT_TRUE(image.Replay(Config(v1::BROKER, "", rate, "400"), offset++).ok());
  EXPECT_EQ(EffectiveClusterConfig(image, rate, statics, 101), "400");
  ASSERT_TRUE(image.Replay(Config(v1::BROKER, "101", rate, "300"), offset++).ok());
  EXPECT_EQ(EffectiveClusterConfig(image, rate, statics, 101), "300");
  // Only that broker: another broker, and the controllers (no id), see the cluster default.
  EXPECT_EQ(EffectiveClusterConfig(image, rate, statics, 102), "400");
  EXPECT_EQ(EffectiveClusterConfig(image, rate, statics), "400");

  // A topic setting's synonym follows the same chain on the broker; the topic's own wins.
  ASSERT_TRUE(image.Replay(Config(v1::BROKER, "102", "log.retention.ms", "1000"), offset++).ok());
  EXPECT_EQ(EffectiveTopicConfig(image, "t", "retention.ms", none, 102), "1000");
  EXPECT_EQ(EffectiveTopicConfig(image, "t", "retention.ms", none, 101), "604800000");
  EXPECT_EQ(EffectiveTopicConfigs(image, "t", none, 102).at("retention.ms"), "1000");
  ASSERT_TRUE(image.Replay(Config(v1::TOPIC, "t", "retention.ms", "2000"), offset++).ok());
  EXPECT_EQ(EffectiveTopicConfig(image, "t", "retention.ms", none, 102), "2000");

  // A cluster-wide setting stored for a broker anyway (written before the check existed) is
  // not read per broker.
  ASSERT_TRUE(image.Replay(Config(v1::BROKER, "101", "min.insync.replicas", "3"), offset++).ok());
  EXPECT_EQ(EffectiveClusterConfig(image, "min.insync.replicas", none, 101), "1");
  // Topic-only settings fall back to their own default.
  EXPECT_EQ(EffectiveTopicConfig(image, "t", "leader.replication.throttled.replicas", none, 101),
            "");
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
  // A dynamic value for that one broker overrides its static one.
  v1::MetadataRecord own;
  own.mutable_config()->set_resource_type(v1::BROKER);
  own.mutable_config()->set_resource_name("102");
  own.mutable_config()->set_name("log.retention.ms");
  own.mutable_config()->set_value("5000");
  ASSERT_TRUE(image.Replay(own, 1).ok());
  EXPECT_TRUE(DifferingStaticSettings(image, odd, plain, 102).empty());
  EXPECT_EQ(DifferingStaticSettings(image, odd, plain, 101).size(), 1u);
  // A dynamic cluster-wide value overrides the static ones: nothing to report.
  v1::MetadataRecord r;
  r.mutable_config()->set_resource_type(v1::BROKER);
  r.mutable_config()->set_name("log.retention.ms");
  r.mutable_config()->set_value("5000");
  ASSERT_TRUE(image.Replay(r, 2).ok());
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
