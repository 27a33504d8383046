// Tests the CLI's output: the JSON shapes scripts rely on (keys, types, lowercase broker states,
// sorting) and the human tables and error lines.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tools/cli/errors.h"
#include "tools/cli/format_cluster.h"
#include "tools/cli/format_configs.h"
#include "tools/cli/format_partitions.h"
#include "tools/cli/format_topics.h"
#include "tools/cli/json_text.h"
#include "tools/cli/table.h"

namespace strand::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::ordered_json;

admin::v1::DescribeClusterResponse SampleCluster() {
  admin::v1::DescribeClusterResponse c;
  c.set_cluster_id("strand-local");
  c.set_active_controller(2);
  c.set_controller_term(7);
  c.set_metadata_offset(1234);
  for (int id = 1; id <= 3; ++id) {
    auto* ctl = c.add_controllers();
    ctl->set_id(id);
    ctl->set_address("127.0.0.1:909" + std::to_string(id));
    ctl->set_active(id == 2);
    ctl->set_reachable(id != 3);
  }
  auto* b = c.add_brokers();
  b->set_id(101);
  b->set_rack("rack-2");
  b->add_listeners("PLAINTEXT://127.0.0.1:9101");
  b->set_state(admin::v1::CONTROLLED_SHUTDOWN);
  b->set_leader_count(4);
  b->set_replica_count(9);
  b->add_static_settings_differing("log.retention.ms");
  c.add_brokers()->set_id(102);  // state unknown
  c.mutable_brokers(1)->set_state(admin::v1::FENCED);
  c.set_topics(2);
  c.set_partitions(12);
  c.set_offline_partitions(1);
  c.set_under_replicated_partitions(3);
  return c;
}

TEST(FormatCluster, Json_HasTheDocumentedKeys) {
  const json j = ClusterJson(SampleCluster());
  EXPECT_EQ(j["cluster_id"], "strand-local");
  EXPECT_EQ(j["active_controller"], 2);
  EXPECT_EQ(j["controller_term"], 7);
  EXPECT_EQ(j["metadata_offset"], 1234);
  ASSERT_EQ(j["controllers"].size(), 3u);
  EXPECT_EQ(j["controllers"][1], (json{{"id", 2},
                                       {"address", "127.0.0.1:9092"},
                                       {"active", true},
                                       {"reachable", true},
                                       {"static_settings_differing", json::array()}}));
  ASSERT_EQ(j["brokers"].size(), 2u);
  const json& b = j["brokers"][0];
  EXPECT_EQ(b["id"], 101);
  EXPECT_EQ(b["rack"], "rack-2");
  EXPECT_EQ(b["state"], "controlled_shutdown");
  EXPECT_EQ(b["listeners"], json::array({"PLAINTEXT://127.0.0.1:9101"}));
  EXPECT_EQ(b["leader_count"], 4);
  EXPECT_EQ(b["replica_count"], 9);
  EXPECT_EQ(b["static_settings_differing"], json::array({"log.retention.ms"}));
  EXPECT_EQ(j["brokers"][1]["state"], "fenced");
  EXPECT_EQ(j["partitions"], 12);
  EXPECT_EQ(j["offline_partitions"], 1);
  EXPECT_EQ(j["under_replicated_partitions"], 3);
  EXPECT_EQ(j["under_min_isr_partitions"], 0);
  EXPECT_TRUE(j.contains("topics"));
}

TEST(FormatCluster, Json_NoActiveControllerIsMinusOne) {
  admin::v1::DescribeClusterResponse c;
  c.set_active_controller(-1);
  const json j = ClusterJson(c);
  EXPECT_EQ(j["active_controller"], -1);
  EXPECT_TRUE(j["controllers"].is_array());
  EXPECT_TRUE(j["brokers"].is_array());
  EXPECT_THAT(FormatCluster(c), HasSubstr("Active controller:  none"));
}

TEST(FormatCluster, Human_ListsControllersBrokersAndHealth) {
  const std::string text = FormatCluster(SampleCluster());
  EXPECT_THAT(text, HasSubstr("Cluster id:         strand-local\n"));
  EXPECT_THAT(text, HasSubstr("Active controller:  2 (term 7)\n"));
  EXPECT_THAT(text, HasSubstr("Metadata offset:    1234\n"));
  EXPECT_THAT(text, HasSubstr("2   127.0.0.1:9092  active   yes\n"));
  EXPECT_THAT(text, HasSubstr("3   127.0.0.1:9093  standby  no\n"));
  EXPECT_THAT(
      text,
      HasSubstr("101  rack-2  controlled_shutdown  PLAINTEXT://127.0.0.1:9101  4        9\n"));
  EXPECT_THAT(text, HasSubstr("102  -       fenced               -"));
  EXPECT_THAT(text, HasSubstr("12 in 2 topics; 1 offline, 3 under-replicated, 0 under min ISR"));
  EXPECT_THAT(text, HasSubstr("WARNING: static cluster settings (--config) differ from the active "
                              "controller's:\n  broker 101: log.retention.ms\n"));
}

TEST(FormatCluster, Human_NoWarningWhenEveryNodeAgrees) {
  admin::v1::DescribeClusterResponse c = SampleCluster();
  c.mutable_brokers(0)->clear_static_settings_differing();
  EXPECT_THAT(FormatCluster(c), Not(HasSubstr("WARNING")));
}

admin::v1::TopicDescription SampleTopic() {
  admin::v1::TopicDescription t;
  t.set_name("orders");
  t.set_topic_id("abc");
  for (int p : {1, 0}) {  // out of order on purpose
    auto* info = t.add_partitions();
    info->set_partition(p);
    info->set_leader(p == 0 ? 101 : -1);
    info->set_leader_epoch(3);
    info->set_partition_epoch(5);
    for (int r : {101, 102, 103}) info->add_replicas(r);
    info->add_isr(101);
    if (p == 1) info->add_offline_replicas(102);
  }
  (*t.mutable_configs())["retention.ms"] = "1000";
  (*t.mutable_configs())["cleanup.policy"] = "compact";
  return t;
}

TEST(FormatTopics, TopicJson_HasTheDocumentedShape) {
  const json j = TopicJson(SampleTopic());
  EXPECT_EQ(j["name"], "orders");
  EXPECT_EQ(j["topic_id"], "abc");
  ASSERT_EQ(j["partitions"].size(), 2u);
  const json& p0 = j["partitions"][0];
  EXPECT_EQ(p0["partition"], 0);
  EXPECT_EQ(p0["leader"], 101);
  EXPECT_EQ(p0["leader_epoch"], 3);
  EXPECT_EQ(p0["partition_epoch"], 5);
  EXPECT_EQ(p0["replicas"], json::array({101, 102, 103}));
  EXPECT_EQ(p0["isr"], json::array({101}));
  EXPECT_EQ(p0["adding_replicas"], json::array());
  EXPECT_EQ(p0["removing_replicas"], json::array());
  EXPECT_EQ(p0["offline_replicas"], json::array());
  EXPECT_EQ(j["partitions"][1]["leader"], -1);
  EXPECT_EQ(j["partitions"][1]["offline_replicas"], json::array({102}));
  EXPECT_EQ(j["configs"], (json{{"cleanup.policy", "compact"}, {"retention.ms", "1000"}}));
}

TEST(FormatTopics, Human_TableSortedWithNoneForOffline) {
  const std::string text = FormatTopic(SampleTopic());
  EXPECT_THAT(text, HasSubstr("Topic: orders  TopicId: abc  Partitions: 2  ReplicationFactor: 3"));
  EXPECT_THAT(text, HasSubstr("Configs: cleanup.policy=compact,retention.ms=1000\n"));
  EXPECT_THAT(text, HasSubstr("PARTITION  LEADER  EPOCH  REPLICAS     ISR  OFFLINE\n"
                              "0          101     3      101,102,103  101  -\n"
                              "1          none    3      101,102,103  101  102\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("ADDING")));
}

TEST(FormatTopics, List_SortedByName) {
  admin::v1::ListTopicsResponse r;
  for (const char* name : {"b", "a"}) {
    auto* t = r.add_topics();
    t->set_name(name);
    t->set_partitions(3);
    t->set_replication_factor(2);
  }
  const json j = TopicListJson(r);
  ASSERT_EQ(j["topics"].size(), 2u);
  EXPECT_EQ(j["topics"][0],
            (json{{"name", "a"}, {"topic_id", ""}, {"partitions", 3}, {"replication_factor", 2}}));
  EXPECT_THAT(FormatTopicList(r), HasSubstr("a     3           2"));
  EXPECT_EQ(FormatTopicList({}), "(no topics)\n");
}

TEST(FormatConfigs, JsonAndTable) {
  admin::v1::DescribeConfigsResponse r;
  auto* e = r.add_configs();
  e->set_name("retention.ms");
  e->set_value("1000");
  e->set_source(admin::v1::DYNAMIC_TOPIC_CONFIG);
  const ConfigResource topic{admin::v1::TOPIC, "orders"};
  const json j = ConfigsJson(topic, r);
  EXPECT_EQ(j["resource"], (json{{"type", "topic"}, {"name", "orders"}}));
  EXPECT_EQ(j["configs"][0], (json{{"name", "retention.ms"},
                                   {"value", "1000"},
                                   {"source", "DYNAMIC_TOPIC_CONFIG"},
                                   {"read_only", false}}));
  EXPECT_THAT(FormatConfigs(topic, r), HasSubstr("retention.ms  1000   DYNAMIC_TOPIC_CONFIG  no"));
  EXPECT_EQ(ConfigsJson({admin::v1::BROKER, ""}, {})["resource"]["type"], "cluster");
  EXPECT_THAT(FormatConfigs({admin::v1::BROKER, "101"}, {}), HasSubstr("broker 101"));
}

TEST(FormatPartitions, Reassignments) {
  admin::v1::ListPartitionReassignmentsResponse r;
  auto* o = r.add_reassignments();
  o->mutable_partition()->set_topic("orders");
  o->mutable_partition()->set_partition(2);
  for (int b : {101, 104}) o->add_replicas(b);
  o->add_adding_replicas(104);
  o->add_removing_replicas(102);
  EXPECT_EQ(ReassignmentsJson(r)["reassignments"][0], (json{{"topic", "orders"},
                                                            {"partition", 2},
                                                            {"replicas", {101, 104}},
                                                            {"adding_replicas", {104}},
                                                            {"removing_replicas", {102}}}));
  EXPECT_THAT(FormatReassignments(r), HasSubstr("orders  2          101,104   104     102"));
  EXPECT_EQ(FormatReassignments({}), "(no reassignments in progress)\n");
}

TEST(Table, AlignsColumnsWithoutTrailingSpaces) {
  Table t({"A", "LONGER"});
  t.AddRow({"wide-cell", "x"});
  EXPECT_EQ(t.Render(), "A          LONGER\nwide-cell  x\n");
}

TEST(Errors, ErrorText_FallsBackToCodeNameAndSubject) {
  common::v1::Error e;
  e.set_code(36);
  EXPECT_EQ(ErrorText(e, "topic 'a'"), "TOPIC_ALREADY_EXISTS: topic 'a'");
  e.set_name("TOPIC_ALREADY_EXISTS");
  e.set_message("Topic 'a' already exists.");
  EXPECT_EQ(ErrorText(e, "ignored"), "TOPIC_ALREADY_EXISTS: Topic 'a' already exists.");
  std::ostringstream err;
  EXPECT_EQ(ReportError(err, e, ""), 1);
  EXPECT_EQ(err.str(), "error: TOPIC_ALREADY_EXISTS: Topic 'a' already exists.\n");
}

TEST(JsonText, IndentedWithNewlineAndInvalidUtf8Replaced) {
  EXPECT_EQ(JsonText(json{{"a", 1}}), "{\n  \"a\": 1\n}\n");
  EXPECT_NO_THROW(JsonText(json{{"bad", std::string("\xff")}}));
}

}  // namespace
}  // namespace strand::cli
