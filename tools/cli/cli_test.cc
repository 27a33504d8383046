// Tests the strand CLI end to end in-process: RunCli against FakeAdminServer (a scripted
// AdminService on 127.0.0.1). Checks what reaches the server (configs, assignments, election
// type), what is printed on stdout and stderr, and the exit codes: 0 success, 1 an error from
// the cluster, 2 usage, 3 unreachable.
#include "tools/cli/cli.h"

#include <cstdlib>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "client/admin/testing/fake_admin_service.h"
#include "tests/integration/test_process.h"
#include "tools/cli/testing/run_cli.h"

namespace strand::cli {
namespace {

using client::testing::FakeAdminServer;
using client::testing::Fault;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using Result = testing::CliRun;
using testing::RunStrand;

class CliTest : public ::testing::Test {
 protected:
  // Runs `strand --bootstrap <fake> --timeout-ms 5000 args...`.
  Result Strand(std::vector<std::string> args) {
    args.insert(args.begin(), {"--bootstrap", server_.address(), "--timeout-ms", "5000"});
    return RunStrand(std::move(args));
  }
  client::testing::FakeAdminService& fake() { return server_.service(); }

  FakeAdminServer server_;
};

TEST(Cli, Help_ExitsZeroOnStdout) {
  Result r = RunStrand({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("topics"));
  r = RunStrand({"configs", "alter", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("--validate-only"));
}

TEST(Cli, UsageErrors_ExitTwoWithoutContactingTheCluster) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"topics"},
      {"bogus"},
      {"topics", "create"},
      {"topics", "create", "t", "--partitions", "0"},
      {"topics", "create", "t", "--partitions", "3", "--replica-assignment", "1:2"},
      {"topics", "create", "t", "--replica-assignment", "1:2,1"},
      {"topics", "create", "t", "--config", "novalue"},
      {"topics", "add-partitions", "t"},
      {"configs", "describe"},
      {"configs", "describe", "--topic", "t", "--cluster"},
      {"configs", "alter", "--topic", "t"},
      {"configs", "alter", "--topic", "t", "--set", "a=1", "--delete", "a"},
      {"leaders", "elect", "--preferred", "--unclean"},
      {"leaders", "elect", "--partition", "1"},
      {"partitions", "reassign", "--topic", "t", "--partition", "0"},
      {"partitions", "reassign", "--topic", "t", "--partition", "0", "--replicas", "1,1"},
      {"--bootstrap", "nohost", "cluster", "describe"},
      {"--timeout-ms", "0", "cluster", "describe"},
  };
  for (const auto& args : cases) {
    const Result r = RunStrand(args);
    EXPECT_EQ(r.code, 2) << ::testing::PrintToString(args) << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("error: ")) << ::testing::PrintToString(args);
    EXPECT_THAT(r.out, IsEmpty()) << ::testing::PrintToString(args);
  }
  EXPECT_THAT(RunStrand({"topics", "create", "t", "--replica-assignment", "1:2,1"}).err,
              HasSubstr("partition 1 has 1 replicas but partition 0 has 2"));
}

TEST(Cli, DeadCluster_ExitThreeNamingTheAddresses) {
  const std::string a = "127.0.0.1:" + std::to_string(strand::testing::FreePort());
  const std::string b = "127.0.0.1:" + std::to_string(strand::testing::FreePort());
  const Result r =
      RunStrand({"--bootstrap", a + "," + b, "--timeout-ms", "300", "cluster", "describe"});
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("error: cannot reach the cluster"));
  EXPECT_THAT(r.err, HasSubstr(a));
  EXPECT_THAT(r.err, HasSubstr(b));
  EXPECT_THAT(r.out, IsEmpty());
}

TEST_F(CliTest, ClusterDescribe_JsonAndHuman) {
  Result r = Strand({"cluster", "describe", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["cluster_id"], "fake-cluster");
  EXPECT_EQ(j["active_controller"], 1);
  EXPECT_EQ(j["controllers"].size(), 3u);
  EXPECT_EQ(j["brokers"][0]["state"], "running");
  r = Strand({"cluster", "describe"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Active controller:  1 (term 4)"));
}

TEST_F(CliTest, GlobalOptionsAfterTheSubcommandAndFromTheEnvironment) {
  Result r = RunStrand({"topics", "list", "--bootstrap", server_.address()});
  EXPECT_EQ(r.code, 0) << r.err;
  ::setenv("STRAND_BOOTSTRAP", server_.address().c_str(), 1);
  r = RunStrand({"topics", "list"});
  ::unsetenv("STRAND_BOOTSTRAP");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(fake().Calls("ListTopics"), 2);
}

TEST_F(CliTest, RequestLevelError_ExitOneWithNameAndMessage) {
  fake().PushFault(Fault{.error = KafkaError::kClusterAuthorizationFailed});
  Result r = Strand({"cluster", "describe"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "error: CLUSTER_AUTHORIZATION_FAILED: scripted by the test\n");
  fake().PushFault(Fault{.grpc_code = grpc::StatusCode::UNIMPLEMENTED});
  r = Strand({"topics", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("error: UNIMPLEMENTED: "));
}

TEST_F(CliTest, TopicsCreate_SendsConfigsAndAssignment) {
  Result r =
      Strand({"topics", "create", "--config", "retention.ms=1000", "orders", "--config",
              "cleanup.policy=compact,delete", "--replica-assignment", "101:102,102:103,103:101"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "Created topic orders (id id-orders).\n");
  const auto request = fake().last_create_topics();
  ASSERT_EQ(request.topics_size(), 1);
  const auto& topic = request.topics(0);
  EXPECT_EQ(topic.name(), "orders");
  EXPECT_EQ(topic.configs().at("retention.ms"), "1000");
  EXPECT_EQ(topic.configs().at("cleanup.policy"), "compact,delete");
  ASSERT_EQ(topic.assignments_size(), 3);
  EXPECT_THAT(topic.assignments(2).replicas(), ::testing::ElementsAre(103, 101));
  EXPECT_FALSE(request.validate_only());
}

TEST_F(CliTest, TopicsCreate_ExistingTopicAndIfNotExists) {
  fake().AddTopic("orders", 3, 3);
  Result r =
      Strand({"topics", "create", "orders", "--partitions", "3", "--replication-factor", "3"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "error: TOPIC_ALREADY_EXISTS: Topic 'orders' already exists.\n");
  r = Strand({"topics", "create", "orders", "--if-not-exists"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, IsEmpty());
  r = Strand({"topics", "create", "payments", "--partitions", "2", "--validate-only"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("can be created (validate only)"));
  EXPECT_TRUE(fake().last_create_topics().validate_only());
  EXPECT_EQ(Strand({"topics", "describe", "payments"}).code, 1);  // not created
}

TEST_F(CliTest, TopicsListDescribeDelete) {
  fake().AddTopic("orders", 2, 2);
  fake().AddTopic("__consumer_offsets", 1, 1);
  Result r = Strand({"topics", "list", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["topics"].size(), 1u);
  r = Strand({"topics", "list", "--include-internal"});
  EXPECT_THAT(r.out, HasSubstr("__consumer_offsets"));

  r = Strand({"topics", "describe", "orders", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["name"], "orders");
  EXPECT_EQ(j["partitions"].size(), 2u);
  EXPECT_EQ(j["partitions"][1]["replicas"], nlohmann::json::array({102, 103}));
  r = Strand({"topics", "describe", "orders"});
  EXPECT_THAT(r.out, HasSubstr("1          102     0      102,103   102,103  -"));

  r = Strand({"topics", "describe", "nosuch"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("error: UNKNOWN_TOPIC_OR_PARTITION: "));
  EXPECT_EQ(fake().Calls("DescribeTopics"), 3);  // not retried

  EXPECT_EQ(Strand({"topics", "delete", "orders"}).out, "Deleted topic orders.\n");
  EXPECT_EQ(Strand({"topics", "delete", "orders"}).code, 1);
  EXPECT_EQ(Strand({"topics", "delete", "orders", "--if-exists"}).code, 0);
}

TEST_F(CliTest, TopicsAddPartitions) {
  fake().AddTopic("orders", 3, 1);
  Result r = Strand({"topics", "add-partitions", "orders", "--partitions", "6"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "Topic orders now has 6 partitions.\n");
  r = Strand({"topics", "add-partitions", "orders", "--partitions", "2"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("error: INVALID_PARTITIONS: "));
}

TEST_F(CliTest, ConfigsAlterThenDescribe) {
  fake().AddTopic("orders", 1, 1);
  Result r = Strand({"configs", "alter", "--topic", "orders", "--set", "retention.ms=1000", "--set",
                     "segment.bytes=1048576", "--delete", "cleanup.policy"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "Applied 3 config change(s) of topic orders.\n");
  const auto alter = fake().last_alter_configs();
  EXPECT_EQ(alter.resource_type(), admin::v1::TOPIC);
  ASSERT_EQ(alter.changes_size(), 3);
  EXPECT_EQ(alter.changes(2).op(), admin::v1::DELETE);

  r = Strand({"configs", "describe", "--topic", "orders", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["configs"].size(), 2u);
  EXPECT_EQ(j["configs"][0]["name"], "retention.ms");
  EXPECT_EQ(j["configs"][0]["source"], "DYNAMIC_TOPIC_CONFIG");

  r = Strand({"configs", "describe", "--cluster", "--all"});
  EXPECT_THAT(r.out, HasSubstr("retention.ms  604800000  DEFAULT_CONFIG"));
  r = Strand({"configs", "alter", "--broker", "101", "--set", "a=b", "--validate-only"});
  EXPECT_EQ(r.out, "Validated 1 config change(s) of broker 101.\n");
  EXPECT_EQ(fake().last_alter_configs().resource_name(), "101");
  r = Strand({"configs", "describe", "--topic", "nosuch"});
  EXPECT_EQ(r.code, 1);
}

// A throttled-replicas list is one value, commas included (docs/operations.md's throttling
// example relies on it).
TEST_F(CliTest, ConfigsAlter_ListValueKeepsItsCommas) {
  fake().AddTopic("orders", 1, 3);
  Result r = Strand({"configs", "alter", "--topic", "orders", "--set",
                     "leader.replication.throttled.replicas=0:101,0:102,0:103", "--set",
                     "follower.replication.throttled.replicas=0:104"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto alter = fake().last_alter_configs();
  ASSERT_EQ(alter.changes_size(), 2);
  EXPECT_EQ(alter.changes(0).name(), "follower.replication.throttled.replicas");
  EXPECT_EQ(alter.changes(0).value(), "0:104");
  EXPECT_EQ(alter.changes(1).value(), "0:101,0:102,0:103");
}

TEST_F(CliTest, LeadersElect_ForATopicOrOnePartition) {
  fake().AddTopic("orders", 3, 2);
  Result r = Strand({"leaders", "elect", "--topic", "orders"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("orders-2: no election needed (leader 103)"));
  EXPECT_EQ(fake().last_elect_leaders().partitions_size(), 3);
  EXPECT_EQ(fake().last_elect_leaders().election_type(), admin::v1::PREFERRED);

  r = Strand({"leaders", "elect", "--unclean", "--topic", "orders", "--partition", "9"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("error: UNKNOWN_TOPIC_OR_PARTITION: orders-9: "));
  EXPECT_EQ(fake().last_elect_leaders().election_type(), admin::v1::UNCLEAN);

  r = Strand({"leaders", "elect", "--topic", "nosuch"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("UNKNOWN_TOPIC_OR_PARTITION"));
}

TEST_F(CliTest, PartitionsReassignListAndCancel) {
  fake().AddTopic("orders", 1, 2);
  Result r = Strand(
      {"partitions", "reassign", "--topic", "orders", "--partition", "0", "--replicas", "102,103"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "Reassigning orders-0 to replicas 102,103.\n");
  r = Strand({"partitions", "list-reassignments", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["reassignments"].size(), 1u);
  EXPECT_EQ(j["reassignments"][0]["adding_replicas"], nlohmann::json::array({103}));
  EXPECT_EQ(j["reassignments"][0]["removing_replicas"], nlohmann::json::array({101}));
  r = Strand({"partitions", "reassign", "--topic", "orders", "--partition", "0", "--cancel"});
  EXPECT_EQ(r.out, "Cancelled the reassignment of orders-0.\n");
  r = Strand({"partitions", "reassign", "--topic", "orders", "--partition", "0", "--cancel"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("NO_REASSIGNMENT_IN_PROGRESS"));
  EXPECT_EQ(Strand({"partitions", "list-reassignments"}).out, "(no reassignments in progress)\n");
}

}  // namespace
}  // namespace strand::cli
