// Tests the CLI's argument parsers: key=value configs, replica assignments and broker lists,
// the config resource choice — accepted forms, and errors that name the culprit.
#include "tools/cli/parse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tools/cli/config_resource.h"

namespace strand::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

std::string ErrorOf(const absl::Status& status) { return std::string(status.message()); }

TEST(ParseConfigPair, SplitsAtTheFirstEquals) {
  auto p = ParseConfigPair("cleanup.policy=compact,delete");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->first, "cleanup.policy");
  EXPECT_EQ(p->second, "compact,delete");
  EXPECT_EQ(ParseConfigPair("a=b=c")->second, "b=c");
  EXPECT_EQ(ParseConfigPair("empty=")->second, "");
}

TEST(ParseConfigPair, BadItems_AreNamed) {
  EXPECT_THAT(ErrorOf(ParseConfigPair("retention.ms").status()),
              HasSubstr("'retention.ms' is not key=value"));
  EXPECT_THAT(ErrorOf(ParseConfigPair("=5").status()), HasSubstr("'=5' needs a key"));
  EXPECT_THAT(ErrorOf(ParseConfigPair("a b=5").status()), HasSubstr("without spaces"));
}

TEST(ParseConfigPairs, DuplicateKey_Refused) {
  auto ok = ParseConfigPairs({"a=1", "b=2"});
  ASSERT_TRUE(ok.ok());
  EXPECT_THAT(*ok, ElementsAre(Pair("a", "1"), Pair("b", "2")));
  EXPECT_THAT(ErrorOf(ParseConfigPairs({"a=1", "a=2"}).status()), HasSubstr("'a' is given twice"));
}

TEST(ParseReplicaAssignment, OneItemPerPartition) {
  auto a = ParseReplicaAssignment("101:102:103,102:103:101");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->size(), 2u);
  EXPECT_THAT((*a)[0], ElementsAre(101, 102, 103));
  EXPECT_THAT((*a)[1], ElementsAre(102, 103, 101));
  EXPECT_THAT(*ParseReplicaAssignment("7"), ElementsAre(ElementsAre(7)));
}

TEST(ParseReplicaAssignment, BadInput_ClearErrors) {
  EXPECT_THAT(ErrorOf(ParseReplicaAssignment("").status()), HasSubstr("empty"));
  EXPECT_THAT(ErrorOf(ParseReplicaAssignment("1:2,").status()), HasSubstr("partition 1 is empty"));
  EXPECT_THAT(ErrorOf(ParseReplicaAssignment("1:2,3:x").status()),
              HasSubstr("partition 1: 'x' is not a broker id"));
  EXPECT_THAT(ErrorOf(ParseReplicaAssignment("1::2").status()),
              HasSubstr("partition 0: '' is not a broker id"));
  EXPECT_THAT(ErrorOf(ParseReplicaAssignment("1:-2").status()), HasSubstr("'-2'"));
  EXPECT_THAT(ErrorOf(ParseReplicaAssignment("1:2:1").status()),
              HasSubstr("partition 0 lists broker 1 twice"));
  EXPECT_THAT(ErrorOf(ParseReplicaAssignment("1:2:3,1:2").status()),
              HasSubstr("partition 1 has 2 replicas but partition 0 has 3"));
  EXPECT_THAT(ErrorOf(ParseReplicaAssignment("1,2;3").status()), HasSubstr("'2;3'"));
}

TEST(ParseBrokerList, DistinctIds) {
  EXPECT_THAT(*ParseBrokerList("3,1,2"), ElementsAre(3, 1, 2));
  EXPECT_THAT(ErrorOf(ParseBrokerList("1,1").status()), HasSubstr("broker 1 twice"));
  EXPECT_THAT(ErrorOf(ParseBrokerList("1:2").status()), HasSubstr("'1:2'"));
  EXPECT_FALSE(ParseBrokerList("").ok());
}

TEST(ResolveConfigResource, ExactlyOneOfTopicBrokerCluster) {
  auto topic = ResolveConfigResource(std::string("orders"), std::nullopt, false);
  ASSERT_TRUE(topic.ok());
  EXPECT_EQ(topic->type, admin::v1::TOPIC);
  EXPECT_EQ(ResourceLabel(*topic), "topic orders");
  auto broker = ResolveConfigResource(std::nullopt, 101, false);
  EXPECT_EQ(broker->type, admin::v1::BROKER);
  EXPECT_EQ(broker->name, "101");
  EXPECT_EQ(ResourceKind(*broker), "broker");
  auto cluster = ResolveConfigResource(std::nullopt, std::nullopt, true);
  EXPECT_EQ(cluster->type, admin::v1::BROKER);
  EXPECT_EQ(cluster->name, "");
  EXPECT_EQ(ResourceLabel(*cluster), "the cluster");
  EXPECT_FALSE(ResolveConfigResource(std::nullopt, std::nullopt, false).ok());
  EXPECT_FALSE(ResolveConfigResource(std::string("t"), 1, false).ok());
  EXPECT_FALSE(ResolveConfigResource(std::nullopt, -1, false).ok());
}

}  // namespace
}  // namespace strand::cli
