// Tests `strand groups` in-process against FakeGroupCluster (fake brokers serving GroupService,
// Metadata and ListOffsets on 127.0.0.1): the kafka-consumer-groups.sh columns and the JSON
// keys, lag, routing to each group's coordinator, reset-offsets' dry run (nothing committed, the
// plan printed, the note on stderr) and --execute (an admin commit), the refusal of a reset while
// the group has members with Kafka's sentence, NON_EMPTY_GROUP on delete, GROUP_SUBSCRIBED_TO_TOPIC
// on delete-offsets, and the exit codes (0, 1 the cluster refused, 2 usage, 3 unreachable).
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "client/admin/testing/fake_group_cluster.h"
#include "tests/integration/test_process.h"
#include "tools/cli/cli.h"
#include "tools/cli/format_groups.h"
#include "tools/cli/parse.h"
#include "tools/cli/testing/run_cli.h"

namespace strand::cli {
namespace {

namespace gv1 = ::strand::group::v1;
using client::testing::FakeGroupCluster;
using client::testing::GroupFault;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using Result = testing::CliRun;

gv1::DescribedMember Member(const std::string& id, const std::string& topic,
                            std::vector<int32_t> partitions) {
  gv1::DescribedMember m;
  m.set_member_id(id);
  m.set_client_id("app-" + id);
  m.set_client_host("/10.0.0.7");
  m.set_rack("rack-1");
  m.set_member_epoch(4);
  m.set_state("stable");
  m.add_subscribed_topics(topic);
  gv1::TopicPartitions* a = m.add_assignment();
  a->set_topic(topic);
  for (int32_t p : partitions) a->add_partitions(p);
  return m;
}

class CliGroupsTest : public ::testing::Test {
 protected:
  CliGroupsTest() {
    // orders: 3 partitions holding [0, 100), offset o written at 1,000,000 + o * 1,000 ms.
    cluster_.AddTopic("orders", 3, 0, 100);
    cluster_.AddGroup("billing", 102);
    cluster_.SetOffset("billing", "orders", 0, 40);
    cluster_.SetOffset("billing", "orders", 1, 100);
    cluster_.AddGroup("live", 103);
    cluster_.SetOffset("live", "orders", 0, 10);
    cluster_.AddMember("live", Member("m-1", "orders", {0, 1, 2}));
  }

  // Runs `strand --bootstrap <broker 101 only> --timeout-ms 3000 args...`.
  Result Strand(std::vector<std::string> args) {
    args.insert(args.begin(), {"--bootstrap", cluster_.address(101), "--timeout-ms", timeout_ms_});
    return testing::RunStrand(args);
  }

  FakeGroupCluster cluster_;
  std::string timeout_ms_ = "3000";
};

TEST(ParseGroups, TopicPartitions) {
  auto t = ParseTopicPartitions("orders");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->topic, "orders");
  EXPECT_TRUE(t->partitions.empty());
  t = ParseTopicPartitions("orders.v2:2,0");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->topic, "orders.v2");
  EXPECT_EQ(t->partitions, (std::vector<int32_t>{2, 0}));
  EXPECT_THAT(std::string(ParseTopicPartitions("orders:1,x").status().message()),
              HasSubstr("'x' is not a partition number"));
  EXPECT_FALSE(ParseTopicPartitions("orders:").ok());
  EXPECT_FALSE(ParseTopicPartitions(":1").ok());
  EXPECT_THAT(std::string(ParseTopicPartitions("orders:1,1").status().message()),
              HasSubstr("listed twice"));
}

TEST(ParseGroups, DateTime) {
  EXPECT_EQ(*ParseDateTime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseDateTime("2026-12-01T10:00:00.000Z"), 1'796'119'200'000);
  EXPECT_EQ(*ParseDateTime("2026-12-01T10:00:00.250+01:00"), 1'796'115'600'250);
  EXPECT_EQ(*ParseDateTime("2026-12-01T10:00:00-0130"), 1'796'124'600'000);
  EXPECT_EQ(*ParseDateTime("2024-02-29T23:59:59.999Z"), 1'709'251'199'999);
  EXPECT_TRUE(ParseDateTime("2026-12-01T10:00:00.000").ok());  // local time
  for (const char* bad : {"2026-12-01", "2026-12-01 10:00:00", "2026-13-01T00:00:00",
                          "2025-02-29T00:00:00", "2026-12-01T10:00:00.5", "2026-12-01T10:00:00X",
                          "2026-12-01T24:00:00Z", "2026-12-01T10:00:00Zjunk"}) {
    EXPECT_FALSE(ParseDateTime(bad).ok()) << bad;
  }
}

TEST_F(CliGroupsTest, List_TableAndJson) {
  Result r = Strand({"groups", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "GROUP    TYPE      STATE   COORDINATOR  MEMBERS\n"
            "billing  consumer  Empty   102          0\n"
            "live     consumer  Stable  103          1\n");
  r = Strand({"groups", "list", "--json", "--state", "Stable"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["groups"].size(), 1u);
  EXPECT_EQ(j["groups"][0]["group_id"], "live");
  EXPECT_EQ(j["groups"][0]["coordinator"], 103);
  EXPECT_EQ(j["unreachable_coordinators"], nlohmann::json::array());
}

TEST_F(CliGroupsTest, List_UnreachableCoordinatorIsAnErrorAfterTheList) {
  cluster_.SetUnreachableCoordinators({103});
  Result r = Strand({"groups", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, HasSubstr("billing"));
  EXPECT_THAT(r.out, Not(HasSubstr("live")));
  EXPECT_THAT(r.err, HasSubstr("error: COORDINATOR_NOT_AVAILABLE: broker 103 did not answer"));
}

TEST_F(CliGroupsTest, Describe_OffsetsWithLagFromTheCoordinator) {
  Result r = Strand({"groups", "describe", "billing"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(
      r.out,
      "Group: billing  Type: consumer  State: Empty  Members: 0  Coordinator: 102  Epoch: 0  "
      "Assignor: uniform\n"
      "Consumer group 'billing' has no active members.\n"
      "\n"
      "GROUP    TOPIC   PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  CONSUMER-ID  HOST  "
      "CLIENT-ID\n"
      "billing  orders  0          40              100             60   -            -     -\n"
      "billing  orders  1          100             100             0    -            -     "
      "-\n");
  EXPECT_EQ(cluster_.Calls("DescribeGroups", 102), 1);
  EXPECT_EQ(cluster_.Calls("DescribeGroups", 101), 0);
}

TEST_F(CliGroupsTest, Describe_MembersAndJson) {
  Result r = Strand({"groups", "describe", "live", "--members"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out,
              HasSubstr("GROUP  MEMBER-ID  INSTANCE-ID  CLIENT-ID  HOST       RACK    EPOCH  "
                        "STATE   #PARTITIONS  ASSIGNMENT\n"
                        "live   m-1        -            app-m-1    /10.0.0.7  rack-1  4      "
                        "stable  3            orders(0,1,2)\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("LOG-END-OFFSET")));
  r = Strand({"groups", "describe", "live", "--members", "--offsets"});
  EXPECT_THAT(r.out, HasSubstr("live   orders  0          10              100             90   "
                               "m-1          /10.0.0.7  app-m-1"));
  EXPECT_THAT(r.out, HasSubstr("live   orders  2          -               100             -    "));

  r = Strand({"groups", "describe", "live", "billing", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["groups"].size(), 2u);
  const auto& live = j["groups"][0];
  EXPECT_EQ(live["state"], "Stable");
  EXPECT_EQ(live["members"][0]["assignment"][0]["partitions"], nlohmann::json::array({0, 1, 2}));
  EXPECT_EQ(live["offsets"][0]["lag"], 90);
  EXPECT_EQ(live["offsets"][2]["committed"], -1);
  EXPECT_EQ(live["offsets"][2]["owner"], "m-1");
  EXPECT_EQ(j["groups"][1]["offsets"][0]["log_end_offset"], 100);
}

TEST_F(CliGroupsTest, Describe_UnknownGroupIsExitOne) {
  Result r = Strand({"groups", "describe", "nosuch"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "error: GROUP_ID_NOT_FOUND: Consumer group 'nosuch' does not exist.\n");
}

TEST_F(CliGroupsTest, Delete_RefusedWhileMembersThenAllowed) {
  Result r = Strand({"groups", "delete", "live", "billing"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "Deleted group billing.\n");
  EXPECT_THAT(r.err, HasSubstr("error: NON_EMPTY_GROUP: group 'live' has 1 member(s)"));
  EXPECT_TRUE(cluster_.HasGroup("live"));
  cluster_.RemoveMembers("live");
  r = Strand({"groups", "delete", "live"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(cluster_.HasGroup("live"));
}

TEST_F(CliGroupsTest, DeleteOffsets_SubscribedTopicRefusedPerPartition) {
  Result r = Strand({"groups", "delete-offsets", "billing", "--topic", "orders"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "TOPIC   PARTITION  STATUS\n"
            "orders  0          Successful\n"
            "orders  1          Successful\n");
  EXPECT_FALSE(cluster_.Offset("billing", "orders", 0).has_value());
  r = Strand({"groups", "delete-offsets", "live", "--topic", "orders:0"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, HasSubstr("orders  0          Error: GROUP_SUBSCRIBED_TO_TOPIC: "));
  EXPECT_EQ(cluster_.Offset("live", "orders", 0), 10);
}

TEST_F(CliGroupsTest, ResetOffsets_DryRunPrintsThePlanAndChangesNothing) {
  Result r = Strand({"groups", "reset-offsets", "billing", "--to-earliest", "--topic", "orders"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "GROUP    TOPIC   PARTITION  CURRENT-OFFSET  NEW-OFFSET\n"
            "billing  orders  0          40              0\n"
            "billing  orders  1          100             0\n"
            "billing  orders  2          -               0\n");
  EXPECT_THAT(r.err, HasSubstr("dry run: nothing changed; add --execute"));
  EXPECT_TRUE(cluster_.commits().empty());
  EXPECT_EQ(cluster_.Offset("billing", "orders", 0), 40);

  r = Strand({"groups", "reset-offsets", "billing", "--shift-by", "-50", "--all-topics", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["executed"], false);
  ASSERT_EQ(j["partitions"].size(), 2u);
  EXPECT_EQ(j["partitions"][0]["new_offset"], 0);  // 40 - 50, clamped to the log start
  EXPECT_EQ(j["partitions"][1]["new_offset"], 50);
  EXPECT_THAT(r.err, HasSubstr("note: orders-0: offset -10 is outside the log [0, 100]; using 0"));

  r = Strand({"groups", "reset-offsets", "billing", "--to-datetime", "1970-01-01T00:17:00.500Z",
              "--topic", "orders:1"});
  ASSERT_EQ(r.code, 0) << r.err;
  // 1,020,500 ms: offset 21 is the first written at or after it.
  EXPECT_THAT(r.out, HasSubstr("billing  orders  1          100             21\n"));
  EXPECT_TRUE(cluster_.commits().empty());
}

TEST_F(CliGroupsTest, ResetOffsets_ExecuteCommitsAsAnAdmin) {
  Result r = Strand({"groups", "reset-offsets", "billing", "--to-offset", "70", "--topic",
                     "orders:0,1", "--execute"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("billing  orders  0          40              70\n"));
  EXPECT_THAT(r.err, Not(HasSubstr("dry run")));
  EXPECT_EQ(cluster_.Offset("billing", "orders", 0), 70);
  EXPECT_EQ(cluster_.Offset("billing", "orders", 1), 70);
  ASSERT_EQ(cluster_.commits().size(), 1u);
  EXPECT_EQ(cluster_.commits()[0].member_id(), "");
  EXPECT_EQ(cluster_.commits()[0].member_epoch(), -1);
}

TEST_F(CliGroupsTest, ResetOffsets_RefusedWhileTheGroupHasMembers) {
  Result r =
      Strand({"groups", "reset-offsets", "live", "--to-latest", "--all-topics", "--execute"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_EQ(r.err,
            "error: Assignments can only be reset if the group 'live' is inactive, but the current "
            "state is Stable (1 member(s)); nothing changed.\n");
  EXPECT_TRUE(cluster_.commits().empty());
  EXPECT_EQ(cluster_.Offset("live", "orders", 0), 10);
  // The dry run shows the plan and warns.
  r = Strand({"groups", "reset-offsets", "live", "--to-latest", "--all-topics"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("live   orders  0          10              100\n"));
  EXPECT_THAT(r.err, HasSubstr("--execute will be refused until every member has left"));
}

TEST_F(CliGroupsTest, ResetOffsets_ErrorsAndUsage) {
  Result r = Strand({"groups", "reset-offsets", "billing", "--to-earliest", "--topic", "nosuch"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "error: UNKNOWN_TOPIC_OR_PARTITION: topic 'nosuch' does not exist\n");
  r = Strand({"groups", "reset-offsets", "billing", "--shift-by", "1", "--topic", "orders"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot shift the offset of orders-2"));

  const std::vector<std::vector<std::string>> usage = {
      {"groups", "reset-offsets", "g", "--topic", "t"},
      {"groups", "reset-offsets", "g", "--to-earliest", "--to-latest", "--topic", "t"},
      {"groups", "reset-offsets", "g", "--to-earliest"},
      {"groups", "reset-offsets", "g", "--to-earliest", "--topic", "t", "--all-topics"},
      {"groups", "reset-offsets", "g", "--to-datetime", "yesterday", "--all-topics"},
      {"groups", "reset-offsets", "g", "--to-earliest", "--topic", "t:x"},
      {"groups", "delete-offsets", "g"},
      {"groups", "delete-offsets", "g", "--topic", "t:-1"},
      {"groups", "describe"},
      {"groups", "list", "--state", "Running"},
      {"groups"},
  };
  const int calls = cluster_.TotalCalls();
  for (const auto& args : usage) {
    r = Strand(args);
    EXPECT_EQ(r.code, 2) << ::testing::PrintToString(args) << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("error: ")) << ::testing::PrintToString(args);
  }
  EXPECT_EQ(cluster_.TotalCalls(), calls);  // nothing was sent
}

TEST_F(CliGroupsTest, CoordinatorDown_ExitThree) {
  cluster_.StopBroker(102);
  timeout_ms_ = "300";
  Result r = Strand({"groups", "describe", "billing"});
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("cannot reach the coordinator of group 'billing' (broker 102"));
}

}  // namespace
}  // namespace strand::cli
