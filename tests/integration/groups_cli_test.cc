// `strand groups` end to end on a real cluster (3 controllers, 3 brokers), the CLI run
// in-process (RunCli) and the group driven with raw GroupService calls (what grpcurl does):
//   - a simple group commits offsets (member "" / epoch -1); list and describe show it with the
//     right lag against the partitions' high watermarks, through brokers or a controller alone;
//   - reset-offsets without --execute prints the plan (earliest, shift-by clamped to the log,
//     a datetime past every record = the log end) and changes nothing (checked by OffsetFetch);
//     with --execute the offsets move;
//   - a live member (heartbeat with epoch 0, subscribed to the topic): reset --execute is refused
//     with Kafka's sentence and the offsets stay; delete is refused with NON_EMPTY_GROUP;
//   - once the member leaves (epoch -1) delete succeeds and the offsets are gone.
#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "proto/group/v1/group.grpc.pb.h"
#include "tests/integration/strand_cluster.h"
#include "tools/cli/cli.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
namespace gv1 = ::strand::group::v1;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;
using TopicPartition = std::pair<std::string, int32_t>;

struct CliResult {
  int code = -1;
  std::string out, err;
};

CliResult Strand(const std::string& bootstrap, std::vector<std::string> args) {
  args.insert(args.begin(), {"--bootstrap", bootstrap, "--timeout-ms", "20000"});
  std::vector<const char*> argv = {"strand"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::istringstream in;
  std::ostringstream out, err;
  CliResult r;
  r.code = cli::RunCli(static_cast<int>(argv.size()), argv.data(), in, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::unique_ptr<gv1::GroupService::Stub> Groups(StrandCluster& c, int node) {
  return gv1::GroupService::NewStub(c.Channel(node));
}

// The coordinator of `group` (waits for __consumer_offsets to be created and led).
int32_t WaitForCoordinator(StrandCluster& c, const std::string& group) {
  int32_t found = -1;
  Eventually(
      [&] {
        grpc::ClientContext ctx;
        ctx.set_deadline(In(5s));
        gv1::FindCoordinatorRequest req;
        req.add_group_ids(group);
        gv1::FindCoordinatorResponse resp;
        if (!Groups(c, c.broker_ids().front())->FindCoordinator(&ctx, req, &resp).ok()) {
          return false;
        }
        found = resp.coordinators(0).error().code() == 0 ? resp.coordinators(0).node_id() : -1;
        return found >= 0;
      },
      60s);
  return found;
}

// Commits as a simple group (member "" / epoch -1); the error name ("NONE" on success).
std::string CommitAsSimpleGroup(StrandCluster& c, int node, const std::string& group,
                                const std::map<TopicPartition, int64_t>& offsets) {
  grpc::ClientContext ctx;
  ctx.set_deadline(In(10s));
  gv1::OffsetCommitRequest req;
  req.set_group_id(group);
  req.set_member_id("");
  req.set_member_epoch(-1);
  for (const auto& [tp, offset] : offsets) {
    gv1::OffsetCommitTopic* t = req.add_topics();
    t->set_name(tp.first);
    gv1::OffsetCommitPartition* p = t->add_partitions();
    p->set_partition(tp.second);
    p->set_offset(offset);
    p->set_leader_epoch(-1);
  }
  gv1::OffsetCommitResponse resp;
  grpc::Status s = Groups(c, node)->OffsetCommit(&ctx, req, &resp);
  if (!s.ok()) return "RPC: " + s.error_message();
  if (resp.error().code() != 0) return resp.error().name();
  for (const auto& t : resp.topics()) {
    for (const auto& p : t.partitions()) {
      if (p.error().code() != 0) return p.error().name();
    }
  }
  return "NONE";
}

// Every committed offset of `group`, as its coordinator answers.
std::map<TopicPartition, int64_t> Committed(StrandCluster& c, int node, const std::string& group) {
  grpc::ClientContext ctx;
  ctx.set_deadline(In(10s));
  gv1::OffsetFetchRequest req;
  req.set_group_id(group);
  gv1::OffsetFetchResponse resp;
  grpc::Status s = Groups(c, node)->OffsetFetch(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.error().code(), 0) << resp.error().name();
  std::map<TopicPartition, int64_t> out;
  for (const auto& t : resp.topics()) {
    for (const auto& p : t.partitions()) {
      if (p.offset() >= 0) out[{t.name(), p.partition()}] = p.offset();
    }
  }
  return out;
}

// One heartbeat of member `member_id` at `epoch`, subscribed to `topic`; the answer.
gv1::ConsumerGroupHeartbeatResponse Beat(StrandCluster& c, int node, const std::string& group,
                                         const std::string& member_id, int32_t epoch,
                                         const std::string& topic) {
  grpc::ClientContext ctx;
  ctx.set_deadline(In(10s));
  gv1::ConsumerGroupHeartbeatRequest req;
  req.set_group_id(group);
  req.set_member_id(member_id);
  req.set_member_epoch(epoch);
  req.set_client_id("groups-cli-test");
  req.add_subscribed_topic_names(topic);
  req.set_rebalance_timeout_ms(30'000);
  gv1::ConsumerGroupHeartbeatResponse resp;
  grpc::Status s = Groups(c, node)->ConsumerGroupHeartbeat(&ctx, req, &resp);
  if (!s.ok()) {
    resp.mutable_error()->set_code(-2);
    resp.mutable_error()->set_name("RPC: " + s.error_message());
  }
  return resp;
}

TEST(GroupsCliTest, ListDescribeResetAndDeleteOnARealCluster) {
  ClusterOptions options;
  options.tls = false;  // the in-process CLI speaks plaintext here
  StrandCluster c(options);
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(c.CreateTopic("orders", 3, 3), "NONE");
  std::string bootstrap;
  for (int b : c.broker_ids()) bootstrap += (bootstrap.empty() ? "" : ",") + c.address(b);

  // 30, 20 and 10 records in partitions 0, 1 and 2.
  const std::map<int32_t, int> records = {{0, 30}, {1, 20}, {2, 10}};
  for (const auto& [partition, n] : records) {
    ASSERT_TRUE(c.WaitForPartition("orders", partition, 30s).has_value());
    TestProducer producer(c, "orders", partition, -1, false);
    ASSERT_TRUE(producer.Send(std::vector<std::string>(static_cast<size_t>(n), "x"), 20s).acked);
  }

  const std::string group = "billing";
  const int32_t coordinator = WaitForCoordinator(c, group);
  ASSERT_GE(coordinator, 0);
  std::string committed_error;
  ASSERT_TRUE(Eventually(
      [&] {
        committed_error =
            CommitAsSimpleGroup(c, coordinator, group, {{{"orders", 0}, 10}, {{"orders", 1}, 20}});
        return committed_error == "NONE";
      },
      30s))
      << committed_error;

  // ---- list and describe: lag = high watermark - committed.
  CliResult r = Strand(bootstrap, {"groups", "list", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  bool listed = false;
  const json listing = json::parse(r.out);
  for (const auto& g : listing["groups"]) {
    if (g["group_id"] != group) continue;
    listed = true;
    EXPECT_EQ(g["state"], "Empty");
    EXPECT_EQ(g["members"], 0);
    EXPECT_EQ(g["coordinator"], coordinator);
  }
  EXPECT_TRUE(listed) << r.out;

  r = Strand(bootstrap, {"groups", "describe", group, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  {
    const json d = json::parse(r.out)["groups"][0];
    EXPECT_EQ(d["state"], "Empty");
    ASSERT_EQ(d["offsets"].size(), 2u) << r.out;
    EXPECT_EQ(d["offsets"][0]["partition"], 0);
    EXPECT_EQ(d["offsets"][0]["committed"], 10);
    EXPECT_EQ(d["offsets"][0]["log_end_offset"], 30);
    EXPECT_EQ(d["offsets"][0]["lag"], 20);
    EXPECT_EQ(d["offsets"][1]["committed"], 20);
    EXPECT_EQ(d["offsets"][1]["log_end_offset"], 20);
    EXPECT_EQ(d["offsets"][1]["lag"], 0);
  }
  r = Strand(bootstrap, {"groups", "describe", group});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("CURRENT-OFFSET  LOG-END-OFFSET  LAG"));
  EXPECT_THAT(r.out, HasSubstr("billing  orders  0          10              30              20"));
  // With only a controller to bootstrap from, list and describe give the same (the controller
  // asks the brokers); a call only brokers serve says a broker is needed.
  const std::string controller = c.address(1);
  r = Strand(controller, {"groups", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(group));
  r = Strand(controller, {"groups", "describe", group});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("billing  orders  0          10              30              20"));
  r = Strand(controller, {"groups", "delete", group});
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("broker"));

  // ---- dry runs: the plan is printed, nothing changes.
  const std::map<TopicPartition, int64_t> before = {{{"orders", 0}, 10}, {{"orders", 1}, 20}};
  r = Strand(bootstrap, {"groups", "reset-offsets", group, "--to-earliest", "--topic", "orders"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("billing  orders  0          10              0\n"));
  EXPECT_THAT(r.out, HasSubstr("billing  orders  2          -               0\n"));
  EXPECT_THAT(r.err, HasSubstr("dry run: nothing changed; add --execute"));
  EXPECT_EQ(Committed(c, coordinator, group), before);

  r = Strand(bootstrap,
             {"groups", "reset-offsets", group, "--shift-by", "5", "--all-topics", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  {
    const json plan = json::parse(r.out);
    EXPECT_EQ(plan["executed"], false);
    ASSERT_EQ(plan["partitions"].size(), 2u);
    EXPECT_EQ(plan["partitions"][0]["new_offset"], 15);
    EXPECT_EQ(plan["partitions"][1]["new_offset"], 20);  // 25 clamped to the log end
  }
  r = Strand(bootstrap, {"groups", "reset-offsets", group, "--to-datetime",
                         "2100-01-01T00:00:00.000Z", "--topic", "orders:0,2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("billing  orders  0          10              30\n"));
  EXPECT_THAT(r.out, HasSubstr("billing  orders  2          -               10\n"));
  EXPECT_EQ(Committed(c, coordinator, group), before);

  // ---- execute: the offsets move.
  r = Strand(bootstrap, {"groups", "reset-offsets", group, "--to-offset", "5", "--topic",
                         "orders:0,1", "--execute"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("dry run")));
  const std::map<TopicPartition, int64_t> reset = {{{"orders", 0}, 5}, {{"orders", 1}, 5}};
  EXPECT_EQ(Committed(c, coordinator, group), reset);

  // ---- a live member: reset and delete are refused, nothing changes.
  gv1::ConsumerGroupHeartbeatResponse joined;
  ASSERT_TRUE(Eventually(
      [&] {
        joined = Beat(c, coordinator, group, "member-1", 0, "orders");
        return joined.error().code() == 0;
      },
      20s))
      << joined.error().name() << " " << joined.error().message();
  r = Strand(bootstrap, {"groups", "describe", group, "--members"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("member-1"));
  EXPECT_THAT(r.out, HasSubstr("groups-cli-test"));

  r = Strand(bootstrap,
             {"groups", "reset-offsets", group, "--to-latest", "--all-topics", "--execute"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.err, HasSubstr("error: Assignments can only be reset if the group 'billing' is "
                               "inactive, but the current state is "));
  EXPECT_THAT(r.err, HasSubstr("nothing changed"));
  EXPECT_EQ(Committed(c, coordinator, group), reset);

  r = Strand(bootstrap, {"groups", "delete", group});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("error: NON_EMPTY_GROUP: "));
  EXPECT_EQ(Committed(c, coordinator, group), reset);

  // ---- the member leaves: delete goes through and the offsets are gone.
  gv1::ConsumerGroupHeartbeatResponse left = Beat(c, coordinator, group, "member-1", -1, "orders");
  ASSERT_EQ(left.error().code(), 0) << left.error().name();
  r = Strand(bootstrap, {"groups", "delete", group});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "Deleted group billing.\n");
  EXPECT_TRUE(Committed(c, coordinator, group).empty());
  r = Strand(bootstrap, {"groups", "describe", group});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("GROUP_ID_NOT_FOUND"));
}

}  // namespace
}  // namespace strand::testing
