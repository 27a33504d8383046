// The group coordinator on a real cluster (3 controllers, 3 brokers), driven through
// GroupService with a plain gRPC client (what grpcurl does):
//   - FindCoordinator creates __consumer_offsets on first use (50 partitions, RF 3, compacted)
//     and answers the leader of the group's partition by Kafka's rule;
//   - two members join a 6-partition topic by heartbeats and converge on 3 partitions each,
//     never both owning one; offsets commit with member epochs, describe shows lag;
//   - SIGKILL of the coordinator broker: another broker loads the partition, the members keep
//     their epochs and every committed offset is there;
//   - offsets of a simple group survive the restart of every broker;
//   - admin calls: ListGroups through any broker or controller, DescribeGroups through a
//     controller, DeleteGroups refused while members remain;
// and on a cluster with one broker, FindCoordinator answers COORDINATOR_NOT_AVAILABLE naming
// the replication factor it cannot meet (no silent fallback to RF 1).
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "proto/group/v1/group.grpc.pb.h"
#include "tests/integration/strand_cluster.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
namespace gv1 = ::strand::group::v1;
using TopicPartition = std::pair<std::string, int32_t>;

constexpr int32_t kNoCoordinator = -1;

std::unique_ptr<gv1::GroupService::Stub> Groups(StrandCluster& c, int node) {
  return gv1::GroupService::NewStub(c.Channel(node));
}

// The coordinator of `group` as broker `via` answers it (-1 with the error in `error`).
int32_t FindCoordinator(StrandCluster& c, int via, const std::string& group,
                        std::string* error = nullptr) {
  grpc::ClientContext ctx;
  ctx.set_deadline(In(5s));
  gv1::FindCoordinatorRequest req;
  req.add_group_ids(group);
  gv1::FindCoordinatorResponse resp;
  grpc::Status s = Groups(c, via)->FindCoordinator(&ctx, req, &resp);
  if (!s.ok()) {
    if (error) *error = s.error_message();
    return kNoCoordinator;
  }
  const auto& co = resp.coordinators(0);
  if (co.error().code() != 0) {
    if (error) *error = co.error().name() + ": " + co.error().message();
    return kNoCoordinator;
  }
  return co.node_id();
}

int32_t WaitForCoordinator(StrandCluster& c, int via, const std::string& group,
                           std::chrono::milliseconds timeout, int32_t not_this = -2) {
  int32_t found = kNoCoordinator;
  Eventually(
      [&] {
        found = FindCoordinator(c, via, group);
        return found != kNoCoordinator && found != not_this;
      },
      timeout);
  return found;
}

struct Member {
  std::string id;
  std::string instance_id;
  int32_t epoch = 0;
  std::set<TopicPartition> owned;
};

// One heartbeat of `m` to `node`; applies the answer as a client does.
gv1::ConsumerGroupHeartbeatResponse Beat(StrandCluster& c, int node, const std::string& group,
                                         Member& m, const std::string& topic,
                                         std::optional<int32_t> epoch = std::nullopt) {
  grpc::ClientContext ctx;
  ctx.set_deadline(In(10s));
  gv1::ConsumerGroupHeartbeatRequest req;
  req.set_group_id(group);
  req.set_member_id(m.id);
  req.set_member_epoch(epoch.value_or(m.epoch));
  req.set_instance_id(m.instance_id);
  req.add_subscribed_topic_names(topic);
  req.set_rebalance_timeout_ms(30'000);
  std::map<std::string, gv1::TopicPartitions*> by_topic;
  for (const auto& [t, p] : m.owned) {
    auto*& tps = by_topic[t];
    if (tps == nullptr) {
      tps = req.add_owned();
      tps->set_topic(t);
    }
    tps->add_partitions(p);
  }
  gv1::ConsumerGroupHeartbeatResponse resp;
  grpc::Status s = Groups(c, node)->ConsumerGroupHeartbeat(&ctx, req, &resp);
  if (!s.ok()) {
    resp.mutable_error()->set_code(-2);
    resp.mutable_error()->set_name("RPC_FAILED");
    resp.mutable_error()->set_message(s.error_message());
    return resp;
  }
  if (resp.error().code() == 0 && resp.member_epoch() >= 0) {
    m.epoch = resp.member_epoch();
    m.owned.clear();
    for (const auto& t : resp.assignment()) {
      for (int32_t p : t.partitions()) m.owned.emplace(t.topic(), p);
    }
  }
  return resp;
}

void ExpectDisjoint(const std::vector<Member*>& members) {
  std::map<TopicPartition, std::string> seen;
  for (const Member* m : members) {
    for (const auto& tp : m->owned) {
      auto [it, inserted] = seen.emplace(tp, m->id);
      EXPECT_TRUE(inserted) << tp.first << "-" << tp.second << " owned by " << it->second << " and "
                            << m->id;
    }
  }
}

gv1::OffsetCommitResponse Commit(StrandCluster& c, int node, const std::string& group,
                                 const std::string& member, int32_t epoch,
                                 const std::map<TopicPartition, int64_t>& offsets) {
  grpc::ClientContext ctx;
  ctx.set_deadline(In(10s));
  gv1::OffsetCommitRequest req;
  req.set_group_id(group);
  req.set_member_id(member);
  req.set_member_epoch(epoch);
  std::map<std::string, gv1::OffsetCommitTopic*> by_topic;
  for (const auto& [tp, offset] : offsets) {
    auto*& t = by_topic[tp.first];
    if (t == nullptr) {
      t = req.add_topics();
      t->set_name(tp.first);
    }
    auto* p = t->add_partitions();
    p->set_partition(tp.second);
    p->set_offset(offset);
    p->set_leader_epoch(-1);
    p->set_metadata("test");
  }
  gv1::OffsetCommitResponse resp;
  grpc::Status s = Groups(c, node)->OffsetCommit(&ctx, req, &resp);
  if (!s.ok()) resp.mutable_error()->set_code(-2);
  return resp;
}

bool CommitOk(const gv1::OffsetCommitResponse& r) {
  if (r.error().code() != 0) return false;
  for (const auto& t : r.topics()) {
    for (const auto& p : t.partitions()) {
      if (p.error().code() != 0) return false;
    }
  }
  return true;
}

// Committed offsets of `group` (every one), or nullopt on an error.
std::optional<std::map<TopicPartition, int64_t>> Fetch(StrandCluster& c, int node,
                                                       const std::string& group,
                                                       std::string* error = nullptr) {
  grpc::ClientContext ctx;
  ctx.set_deadline(In(10s));
  gv1::OffsetFetchRequest req;
  req.set_group_id(group);
  gv1::OffsetFetchResponse resp;
  grpc::Status s = Groups(c, node)->OffsetFetch(&ctx, req, &resp);
  if (!s.ok() || resp.error().code() != 0) {
    if (error) *error = s.ok() ? resp.error().name() : s.error_message();
    return std::nullopt;
  }
  std::map<TopicPartition, int64_t> out;
  for (const auto& t : resp.topics()) {
    for (const auto& p : t.partitions()) out[{t.name(), p.partition()}] = p.offset();
  }
  return out;
}

// Heartbeats both members until each holds half of `partitions` (checking they never share
// one); false on timeout.
bool Converge(StrandCluster& c, int node, const std::string& group, const std::string& topic,
              std::vector<Member*> members, size_t partitions, std::chrono::seconds timeout) {
  return Eventually(
      [&] {
        size_t total = 0;
        bool balanced = true;
        for (Member* m : members) {
          auto r = Beat(c, node, group, *m, topic);
          // Retriable while the coordinator's metadata catches up with FindCoordinator's.
          const std::set<std::string> retriable = {"NONE", "RPC_FAILED", "NOT_COORDINATOR",
                                                   "COORDINATOR_LOAD_IN_PROGRESS"};
          EXPECT_TRUE(r.error().code() == 0 || retriable.count(r.error().name()))
              << r.error().name() << " " << r.error().message();
          ExpectDisjoint(members);
          total += m->owned.size();
          balanced = balanced && m->owned.size() == partitions / members.size();
        }
        return total == partitions && balanced;
      },
      timeout);
}

TEST(GroupCoordinatorTest, MembershipOffsetsAndCoordinatorFailover) {
  ClusterOptions options;
  options.broker_args = {"--config=group.consumer.session.timeout.ms=8000",
                         "--config=group.consumer.heartbeat.interval.ms=500"};
  StrandCluster c(options);
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(c.CreateTopic("orders", 6, 3), "NONE");
  const int via = c.broker_ids().front();

  // First use: __consumer_offsets is created, then the coordinator is known.
  const int32_t coordinator = WaitForCoordinator(c, via, "g1", 30s);
  ASSERT_NE(coordinator, kNoCoordinator);
  auto offsets_topic = c.WaitForPartition("__consumer_offsets", 49, 30s);
  ASSERT_TRUE(offsets_topic.has_value());
  EXPECT_EQ(offsets_topic->replicas.size(), 3u);
  // Every broker names the same coordinator.
  for (int b : c.broker_ids()) EXPECT_EQ(FindCoordinator(c, b, "g1"), coordinator);

  // A broker that is not the coordinator says so.
  const int other = c.broker_ids()[coordinator == c.broker_ids()[0] ? 1 : 0];
  Member probe{"probe"};
  auto not_coordinator = Beat(c, other, "g1", probe, "orders");
  EXPECT_EQ(not_coordinator.error().name(), "NOT_COORDINATOR");

  Member a{"member-a"};
  Member b{"member-b", "instance-b"};
  ASSERT_TRUE(Converge(c, coordinator, "g1", "orders", {&a, &b}, 6, 30s));
  EXPECT_EQ(a.epoch, b.epoch);

  // Commits with the member epoch; a stale epoch and a non-member are refused.
  std::map<TopicPartition, int64_t> committed;
  for (const auto& tp : a.owned) committed[tp] = 10 + tp.second;
  ASSERT_TRUE(CommitOk(Commit(c, coordinator, "g1", a.id, a.epoch, committed)));
  EXPECT_EQ(Commit(c, coordinator, "g1", a.id, a.epoch - 1, committed).error().name(),
            "STALE_MEMBER_EPOCH");
  EXPECT_EQ(Commit(c, coordinator, "g1", "", -1, committed).error().name(), "UNKNOWN_MEMBER_ID");
  auto fetched = Fetch(c, coordinator, "g1");
  ASSERT_TRUE(fetched.has_value());
  EXPECT_EQ(*fetched, committed);

  // Describe with lag: 20 records in one of a's partitions, 10 + p committed.
  const TopicPartition lagging = *a.owned.begin();
  {
    TestProducer producer(c, "orders", lagging.second, -1, false);
    std::vector<std::string> values(20, "x");
    ASSERT_TRUE(producer.Send(values, 20s).acked);
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10s));
    gv1::DescribeGroupsRequest req;
    req.add_group_ids("g1");
    req.set_include_offsets(true);
    gv1::DescribeGroupsResponse resp;
    ASSERT_TRUE(Groups(c, coordinator)->DescribeGroups(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.groups_size(), 1);
    const auto& g = resp.groups(0);
    EXPECT_EQ(g.error().code(), 0) << g.error().message();
    EXPECT_EQ(g.state(), "Stable");
    EXPECT_EQ(g.members_size(), 2);
    EXPECT_EQ(g.assignor(), "uniform");
    bool found = false;
    for (const auto& o : g.offsets()) {
      if (o.topic() != lagging.first || o.partition() != lagging.second) continue;
      found = true;
      EXPECT_EQ(o.high_watermark(), 20);
      EXPECT_EQ(o.lag(), 20 - (10 + lagging.second));
      EXPECT_EQ(o.owner(), a.id);
    }
    EXPECT_TRUE(found);
  }

  // The coordinator exports the lag as a Prometheus series (refreshed every 10 s).
  const std::string lag_line =
      fmt::format("strand_consumer_group_lag{{group=\"g1\",partition=\"{}\",topic=\"orders\"}} {}",
                  lagging.second, 20 - (10 + lagging.second));
  EXPECT_TRUE(Eventually(
      [&] {
        // The members keep heartbeating meanwhile (their session is 8 s).
        Beat(c, coordinator, "g1", a, "orders");
        Beat(c, coordinator, "g1", b, "orders");
        std::this_thread::sleep_for(200ms);
        return HttpGet(c.metrics_address(coordinator), "/metrics").find(lag_line) != std::string::npos;
      },
      25s))
      << lag_line;
  Beat(c, coordinator, "g1", a, "orders");
  Beat(c, coordinator, "g1", b, "orders");
  const std::string scraped = HttpGet(c.metrics_address(coordinator), "/metrics");
  EXPECT_NE(scraped.find("strand_group_coordinator_groups 1"), std::string::npos);
  EXPECT_NE(scraped.find("strand_group_coordinator_members 2"), std::string::npos);

  // ListGroups through any broker shows the group; DeleteGroups refuses a group with members.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10s));
    gv1::ListGroupsResponse resp;
    ASSERT_TRUE(Groups(c, other)->ListGroups(&ctx, {}, &resp).ok());
    ASSERT_EQ(resp.groups_size(), 1) << resp.DebugString();
    EXPECT_EQ(resp.groups(0).group_id(), "g1");
    EXPECT_EQ(resp.groups(0).coordinator(), coordinator);
    EXPECT_EQ(resp.groups(0).members(), 2);
    EXPECT_EQ(resp.unreachable_coordinators_size(), 0);
  }
  // ... and through a controller, which asks the brokers over the controller plane; the
  // controller describes it too (from its coordinator, lag included), and sends everything
  // else to brokers.
  for (int controller : {1, 2}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10s));
    gv1::ListGroupsResponse resp;
    ASSERT_TRUE(Groups(c, controller)->ListGroups(&ctx, {}, &resp).ok());
    ASSERT_EQ(resp.groups_size(), 1) << resp.DebugString();
    EXPECT_EQ(resp.groups(0).group_id(), "g1");
    EXPECT_EQ(resp.groups(0).coordinator(), coordinator);
    EXPECT_EQ(resp.groups(0).members(), 2);
    EXPECT_EQ(resp.unreachable_coordinators_size(), 0);
    EXPECT_EQ(resp.error().code(), 0) << resp.error().message();
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10s));
    gv1::DescribeGroupsRequest req;
    req.add_group_ids("g1");
    req.add_group_ids("no-such-group");
    req.set_include_offsets(true);
    gv1::DescribeGroupsResponse resp;
    ASSERT_TRUE(Groups(c, 3)->DescribeGroups(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.groups_size(), 2);
    EXPECT_EQ(resp.groups(0).error().code(), 0) << resp.groups(0).error().message();
    EXPECT_EQ(resp.groups(0).coordinator(), coordinator);
    EXPECT_EQ(resp.groups(0).members_size(), 2);
    bool found = false;
    for (const auto& o : resp.groups(0).offsets()) {
      if (o.topic() == lagging.first && o.partition() == lagging.second) {
        found = true;
        EXPECT_EQ(o.lag(), 20 - (10 + lagging.second));
      }
    }
    EXPECT_TRUE(found);
    EXPECT_EQ(resp.groups(1).group_id(), "no-such-group");
    EXPECT_EQ(resp.groups(1).error().name(), "GROUP_ID_NOT_FOUND");
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10s));
    gv1::ConsumerGroupHeartbeatRequest req;
    req.set_group_id("g1");
    gv1::ConsumerGroupHeartbeatResponse resp;
    const grpc::Status s = Groups(c, 1)->ConsumerGroupHeartbeat(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED) << s.error_message();
  }
  // A broker's controller-plane listener answers the controllers' listing of its own groups
  // only, and nothing that changes a group. Over mTLS only controllers may list there: the
  // test's certificate names no node.
  if (c.tls()) {
    auto plane = gv1::GroupService::NewStub(c.Channel(coordinator, Listener::kController));
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10s));
    gv1::ListGroupsResponse listed;
    const grpc::Status s = plane->ListGroups(&ctx, {}, &listed);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  } else {
    auto plane = gv1::GroupService::NewStub(c.Channel(coordinator, Listener::kController));
    grpc::ClientContext list_ctx;
    list_ctx.set_deadline(In(10s));
    gv1::ListGroupsResponse listed;
    ASSERT_TRUE(plane->ListGroups(&list_ctx, {}, &listed).ok());
    ASSERT_EQ(listed.groups_size(), 1);
    auto other_plane = gv1::GroupService::NewStub(c.Channel(other, Listener::kController));
    grpc::ClientContext other_ctx;
    other_ctx.set_deadline(In(10s));
    gv1::ListGroupsResponse other_listed;
    ASSERT_TRUE(other_plane->ListGroups(&other_ctx, {}, &other_listed).ok());
    EXPECT_EQ(other_listed.groups_size(), 0) << other_listed.DebugString();
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10s));
    gv1::OffsetCommitRequest req;
    req.set_group_id("g1");
    gv1::OffsetCommitResponse resp;
    const grpc::Status s = plane->OffsetCommit(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10s));
    gv1::DeleteGroupsRequest req;
    req.add_group_ids("g1");
    gv1::DeleteGroupsResponse resp;
    ASSERT_TRUE(Groups(c, coordinator)->DeleteGroups(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.groups(0).error().name(), "NON_EMPTY_GROUP");
  }

  // SIGKILL the coordinator: another broker takes over the partition and the group resumes —
  // the members keep their epochs and partitions, and every committed offset is there.
  const auto killed_at = std::chrono::steady_clock::now();
  c.Kill(coordinator);
  const int survivor = c.broker_ids()[coordinator == c.broker_ids()[0] ? 1 : 0];
  const int32_t next = WaitForCoordinator(c, survivor, "g1", 30s, coordinator);
  ASSERT_NE(next, kNoCoordinator);
  ASSERT_NE(next, coordinator);
  const int32_t epoch_before = a.epoch;
  ASSERT_TRUE(
      Eventually([&] { return Beat(c, next, "g1", a, "orders").error().code() == 0; }, 30s));
  const double resumed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  fmt::print("group resumed {:.2f} s after the coordinator's SIGKILL\n", resumed_s);
  EXPECT_LT(resumed_s, 10.0);
  EXPECT_EQ(a.epoch, epoch_before);
  auto after = Fetch(c, next, "g1");
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(*after, committed);
  auto rb = Beat(c, next, "g1", b, "orders");
  EXPECT_EQ(rb.error().code(), 0) << rb.error().message();
  EXPECT_EQ(a.owned.size() + b.owned.size(), 6u);
  ExpectDisjoint({&a, &b});

  // A member leaving: its partitions move to the other.
  auto left = Beat(c, next, "g1", b, "orders", -1);
  EXPECT_EQ(left.error().code(), 0);
  EXPECT_EQ(left.member_epoch(), -1);
  b.owned.clear();
  ASSERT_TRUE(Eventually(
      [&] { return Beat(c, next, "g1", a, "orders").error().code() == 0 && a.owned.size() == 6; },
      20s));

  // A simple group's offsets (no members) survive the restart of every broker.
  c.Start(coordinator);
  ASSERT_TRUE(c.WaitForBrokers(30s));
  const int32_t simple = WaitForCoordinator(c, via, "simple-group", 30s);
  ASSERT_NE(simple, kNoCoordinator);
  const std::map<TopicPartition, int64_t> simple_offsets = {{{"orders", 0}, 5}, {{"orders", 5}, 7}};
  ASSERT_TRUE(CommitOk(Commit(c, simple, "simple-group", "", -1, simple_offsets)));
  for (int id : c.broker_ids()) c.Stop(id, 10s);
  for (int id : c.broker_ids()) c.Start(id);
  ASSERT_TRUE(c.WaitForBrokers(60s));
  std::optional<std::map<TopicPartition, int64_t>> restored;
  ASSERT_TRUE(Eventually(
      [&] {
        const int32_t co = FindCoordinator(c, via, "simple-group");
        if (co == kNoCoordinator) return false;
        restored = Fetch(c, co, "simple-group");
        return restored.has_value();
      },
      60s));
  EXPECT_EQ(*restored, simple_offsets);
  std::optional<std::map<TopicPartition, int64_t>> g1_restored;
  ASSERT_TRUE(Eventually(
      [&] {
        const int32_t co = FindCoordinator(c, via, "g1");
        if (co == kNoCoordinator) return false;
        g1_restored = Fetch(c, co, "g1");
        return g1_restored.has_value();
      },
      60s));
  EXPECT_EQ(*g1_restored, committed);
}

TEST(GroupCoordinatorTest, TooFewBrokersForTheOffsetsTopic) {
  ClusterOptions options;
  options.controllers = 1;
  options.brokers = 1;
  StrandCluster c(options);
  ASSERT_TRUE(c.WaitForBrokers(30s));
  const int via = c.broker_ids().front();
  std::string error;
  // The first call starts the creation; the refusal reaches later answers.
  ASSERT_TRUE(Eventually(
      [&] {
        EXPECT_EQ(FindCoordinator(c, via, "g", &error), kNoCoordinator);
        return error.find("INVALID_REPLICATION_FACTOR") != std::string::npos;
      },
      20s))
      << error;
  EXPECT_NE(error.find("COORDINATOR_NOT_AVAILABLE"), std::string::npos) << error;
  EXPECT_FALSE(c.Partition("__consumer_offsets", 0).has_value());
}

}  // namespace
}  // namespace strand::testing
