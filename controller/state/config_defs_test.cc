// Tests config validation by Kafka name: types, ranges, enumerations and lists, unknown names.
#include "controller/state/config_defs.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace strand::controller
