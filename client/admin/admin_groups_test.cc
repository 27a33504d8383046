// Tests AdminClient's consumer-group methods against FakeGroupCluster (three fake brokers on
// 127.0.0.1 serving GroupService, Metadata and ListOffsets): each per-group call reaches the
// group's coordinator whichever broker bootstraps, the coordinator errors are retried within the
// budget (and the last answer returned when it ends), a bootstrap list of controllers only is
// named as such, a reset plan changes nothing while an executed one commits as an admin, and a
// group with members is refused with Kafka's sentence before anything is committed.
#include <chrono>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/admin/testing/fake_admin_service.h"
#include "client/admin/testing/fake_group_cluster.h"
#include "strand/admin.h"
#include "strand/record.h"
#include "tests/integration/test_process.h"

namespace strand::client {
namespace {

namespace gv1 = ::strand::group::v1;
using ::testing::ElementsAre;
using testing::FakeGroupCluster;
using testing::GroupFault;
using ::testing::HasSubstr;

using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

AdminClientOptions FastOptions() {
  AdminClientOptions options;
  options.request_timeout_ms = 2'000;
  options.api_timeout_ms = 5'000;
  options.retry_backoff_ms = 10;
  options.retry_backoff_max_ms = 50;
  options.connect_timeout_ms = 1'000;
  return options;
}

std::unique_ptr<AdminClient> MustCreate(const std::string& bootstrap,
                                        AdminClientOptions options = FastOptions()) {
  auto client = AdminClient::Create(bootstrap, options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

gv1::DescribedMember Member(const std::string& id, const std::string& topic,
                            std::vector<int32_t> partitions) {
  gv1::DescribedMember m;
  m.set_member_id(id);
  m.set_client_id("client-" + id);
  m.set_member_epoch(3);
  m.set_state("stable");
  m.add_subscribed_topics(topic);
  gv1::TopicPartitions* a = m.add_assignment();
  a->set_topic(topic);
  for (int32_t p : partitions) a->add_partitions(p);
  return m;
}

gv1::DescribeGroupsRequest DescribeRequest(std::vector<std::string> ids, bool offsets = true) {
  gv1::DescribeGroupsRequest request;
  for (const std::string& id : ids) request.add_group_ids(id);
  request.set_include_offsets(offsets);
  return request;
}

TEST(AdminGroups, ListGroups_AnyBrokerWithUnreachableCoordinatorsNamed) {
  FakeGroupCluster cluster;
  cluster.AddGroup("a", 101);
  cluster.AddGroup("b", 102);
  cluster.AddMember("b", Member("m1", "orders", {0}));
  cluster.AddGroup("c", 103);
  cluster.SetUnreachableCoordinators({103});
  auto admin = MustCreate(cluster.address(102));
  auto r = admin->ListGroups();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->groups_size(), 2);
  EXPECT_EQ(r->groups(0).group_id(), "a");
  EXPECT_EQ(r->groups(1).state(), "Stable");
  EXPECT_EQ(r->groups(1).members(), 1);
  EXPECT_THAT(r->unreachable_coordinators(), ElementsAre(103));
  EXPECT_EQ(r->error().name(), "COORDINATOR_NOT_AVAILABLE");
  EXPECT_EQ(cluster.Calls("ListGroups"), 1);  // a partial answer is returned, not retried
}

TEST(AdminGroups, DescribeGroups_EachGroupFromItsCoordinatorInRequestOrder) {
  FakeGroupCluster cluster;
  cluster.AddTopic("orders", 3, 0, 100);
  cluster.AddGroup("g2", 102);
  cluster.SetOffset("g2", "orders", 1, 60);
  cluster.AddGroup("g3", 103);
  cluster.AddMember("g3", Member("m1", "orders", {0, 2}));
  auto admin = MustCreate(cluster.address(101));  // not a coordinator of either
  auto r = admin->DescribeGroups(DescribeRequest({"g3", "g2", "nosuch"}));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->groups_size(), 3);
  EXPECT_EQ(r->groups(0).group_id(), "g3");
  EXPECT_EQ(r->groups(0).state(), "Stable");
  ASSERT_EQ(r->groups(0).members_size(), 1);
  EXPECT_EQ(r->groups(0).offsets_size(), 2);  // owned, nothing committed
  EXPECT_EQ(r->groups(0).offsets(0).owner(), "m1");
  const gv1::DescribedGroup& g2 = r->groups(1);
  EXPECT_EQ(g2.error().code(), 0);
  ASSERT_EQ(g2.offsets_size(), 1);
  EXPECT_EQ(g2.offsets(0).committed(), 60);
  EXPECT_EQ(g2.offsets(0).high_watermark(), 100);
  EXPECT_EQ(g2.offsets(0).lag(), 40);
  EXPECT_EQ(r->groups(2).error().name(), "GROUP_ID_NOT_FOUND");
  EXPECT_EQ(r->groups(2).state(), "Dead");
  EXPECT_EQ(cluster.Calls("DescribeGroups", 101), 1);  // "nosuch" lives on 101 (the default)
  EXPECT_EQ(cluster.Calls("DescribeGroups", 102), 1);
  EXPECT_EQ(cluster.Calls("DescribeGroups", 103), 1);
}

TEST(AdminGroups, CoordinatorErrors_RetriedUntilAnAnswer) {
  FakeGroupCluster cluster;
  cluster.AddGroup("g", 102);
  cluster.PushFault({.method = "FindCoordinator", .error = KafkaError::kCoordinatorNotAvailable});
  cluster.PushFault({.method = "DescribeGroups", .error = KafkaError::kCoordinatorLoadInProgress});
  auto admin = MustCreate(cluster.bootstrap());
  auto r = admin->DescribeGroups(DescribeRequest({"g"}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->groups(0).error().code(), 0) << r->groups(0).error().name();
  EXPECT_EQ(r->groups(0).state(), "Empty");
  EXPECT_EQ(cluster.Calls("FindCoordinator"), 3);
  EXPECT_EQ(cluster.Calls("DescribeGroups"), 2);
}

TEST(AdminGroups, NotCoordinator_FindsTheCoordinatorAgain) {
  FakeGroupCluster cluster;
  cluster.AddGroup("g", 102);
  auto admin = MustCreate(cluster.bootstrap());
  ASSERT_TRUE(admin->DescribeGroups(DescribeRequest({"g"})).ok());
  cluster.MoveCoordinator("g", 103);
  auto r = admin->DescribeGroups(DescribeRequest({"g"}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->groups(0).error().code(), 0) << r->groups(0).error().name();
  EXPECT_EQ(cluster.Calls("DescribeGroups", 102), 2);  // the remembered one said NOT_COORDINATOR
  EXPECT_EQ(cluster.Calls("DescribeGroups", 103), 1);
  EXPECT_EQ(cluster.Calls("FindCoordinator"), 2);
}

TEST(AdminGroups, RetriableErrorForever_LastAnswerWhenTheBudgetEnds) {
  FakeGroupCluster cluster;
  cluster.PushFault(
      {.method = "OffsetFetch", .error = KafkaError::kCoordinatorLoadInProgress, .times = 1'000});
  AdminClientOptions options = FastOptions();
  options.api_timeout_ms = 400;
  auto admin = MustCreate(cluster.bootstrap(), options);
  gv1::OffsetFetchRequest request;
  request.set_group_id("g");
  const auto start = Clock::now();
  auto r = admin->FetchOffsets(request);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->error().name(), "COORDINATOR_LOAD_IN_PROGRESS");
  EXPECT_GE(MsSince(start), 350);
  EXPECT_LT(MsSince(start), 1'500);
  EXPECT_GT(cluster.Calls("OffsetFetch"), 2);
}

TEST(AdminGroups, CoordinatorDown_UnreachableNamingIt) {
  FakeGroupCluster cluster;
  cluster.AddGroup("g", 103);
  cluster.StopBroker(103);
  AdminClientOptions options = FastOptions();
  options.api_timeout_ms = 400;
  auto admin = MustCreate(cluster.address(101), options);
  auto r = admin->DescribeGroups(DescribeRequest({"g"}));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(IsUnreachable(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("cannot reach the coordinator of group 'g' (broker 103"));
}

TEST(AdminGroups, Bootstrap_DeadAddressSkippedAndControllersNamed) {
  FakeGroupCluster cluster;
  cluster.AddGroup("g", 101);
  const std::string dead = "127.0.0.1:" + std::to_string(strand::testing::FreePort());
  auto admin = MustCreate(dead + "," + cluster.address(102));
  auto r = admin->ListGroups();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->groups_size(), 1);

  testing::FakeAdminServer controller;  // an AdminService only, as a controller serves
  auto only_controllers = MustCreate(controller.address());
  auto refused = only_controllers->ListGroups();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("consumer groups are served by brokers"));
}

TEST(AdminGroups, DeleteGroups_RefusedWhileMembersRemain) {
  FakeGroupCluster cluster;
  cluster.AddGroup("busy", 102);
  cluster.AddMember("busy", Member("m1", "orders", {0}));
  cluster.AddGroup("idle", 103);
  auto admin = MustCreate(cluster.address(101));
  gv1::DeleteGroupsRequest request;
  request.add_group_ids("busy");
  request.add_group_ids("idle");
  request.add_group_ids("nosuch");
  auto r = admin->DeleteGroups(request);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->groups_size(), 3);
  EXPECT_EQ(r->groups(0).error().name(), "NON_EMPTY_GROUP");
  EXPECT_EQ(r->groups(1).error().code(), 0);
  EXPECT_EQ(r->groups(2).error().name(), "GROUP_ID_NOT_FOUND");
  EXPECT_TRUE(cluster.HasGroup("busy"));
  EXPECT_FALSE(cluster.HasGroup("idle"));
}

TEST(AdminGroups, DeleteOffsets_AWholeTopicMeansItsCommittedPartitions) {
  FakeGroupCluster cluster;
  cluster.AddGroup("g", 102);
  cluster.SetOffset("g", "orders", 0, 5);
  cluster.SetOffset("g", "orders", 2, 7);
  cluster.SetOffset("g", "other", 0, 1);
  auto admin = MustCreate(cluster.bootstrap());
  gv1::OffsetDeleteRequest request;
  request.set_group_id("g");
  request.add_topics()->set_name("orders");
  auto r = admin->DeleteOffsets(request);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->topics_size(), 1);
  ASSERT_EQ(r->topics(0).partitions_size(), 2);
  EXPECT_EQ(r->topics(0).partitions(1).partition(), 2);
  EXPECT_FALSE(cluster.Offset("g", "orders", 0).has_value());
  EXPECT_FALSE(cluster.Offset("g", "orders", 2).has_value());
  EXPECT_EQ(cluster.Offset("g", "other", 0), 1);
}

TEST(AdminGroups, PlanOffsetReset_DryRunChangesNothing) {
  FakeGroupCluster cluster;
  // orders-p holds [10, 100), offset o written at 1,000,000 + o * 1,000 ms.
  cluster.AddTopic("orders", 3, 10, 100);
  cluster.AddGroup("g", 102);
  cluster.SetOffset("g", "orders", 0, 50);
  cluster.SetOffset("g", "orders", 1, 60);
  auto admin = MustCreate(cluster.bootstrap());

  OffsetResetSpec spec;
  spec.group_id = "g";
  spec.strategy = OffsetResetStrategy::kToDatetime;
  spec.value = 1'000'000 + 42 * 1'000 - 1;  // just before offset 42
  spec.topics = {{"orders", {}}};
  auto plan = admin->PlanOffsetReset(spec);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->group_state, "Empty");
  EXPECT_TRUE(plan->resettable());
  ASSERT_EQ(plan->entries.size(), 3u);
  EXPECT_EQ(plan->entries[0].current_offset, 50);
  EXPECT_EQ(plan->entries[0].new_offset, 42);
  EXPECT_EQ(plan->entries[2].current_offset, -1);
  EXPECT_EQ(plan->entries[2].new_offset, 42);
  EXPECT_EQ(plan->entries[2].log_start_offset, 10);
  EXPECT_EQ(plan->entries[2].log_end_offset, 100);

  spec.strategy = OffsetResetStrategy::kShiftBy;
  spec.value = -45;
  spec.all_topics = true;
  spec.topics.clear();
  plan = admin->PlanOffsetReset(spec);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->entries.size(), 2u);         // only what the group committed
  EXPECT_EQ(plan->entries[0].new_offset, 10);  // 50 - 45 below the log start
  EXPECT_EQ(plan->entries[1].new_offset, 15);
  EXPECT_TRUE(cluster.commits().empty());
  EXPECT_EQ(cluster.Offset("g", "orders", 0), 50);

  spec.all_topics = false;
  spec.topics = {{"nosuch", {}}};
  EXPECT_EQ(KafkaErrorOf(admin->PlanOffsetReset(spec).status()),
            KafkaError::kUnknownTopicOrPartition);
}

TEST(AdminGroups, ExecuteOffsetReset_CommitsAsAnAdmin) {
  FakeGroupCluster cluster;
  cluster.AddTopic("orders", 2, 0, 80);
  cluster.AddGroup("g", 103);
  cluster.SetOffset("g", "orders", 0, 30);
  auto admin = MustCreate(cluster.address(101));
  OffsetResetSpec spec;
  spec.group_id = "g";
  spec.strategy = OffsetResetStrategy::kToLatest;
  spec.topics = {{"orders", {0, 1}}};
  auto plan = admin->PlanOffsetReset(spec);
  ASSERT_TRUE(plan.ok()) << plan.status();
  auto r = admin->ExecuteOffsetReset(*plan);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(cluster.Offset("g", "orders", 0), 80);
  EXPECT_EQ(cluster.Offset("g", "orders", 1), 80);
  ASSERT_EQ(cluster.commits().size(), 1u);
  EXPECT_EQ(cluster.commits()[0].member_id(), "");
  EXPECT_EQ(cluster.commits()[0].member_epoch(), -1);
}

TEST(AdminGroups, ExecuteOffsetReset_RefusedWhileTheGroupHasMembers) {
  FakeGroupCluster cluster;
  cluster.AddTopic("orders", 1, 0, 80);
  cluster.AddGroup("g", 102);
  cluster.SetOffset("g", "orders", 0, 30);
  cluster.AddMember("g", Member("m1", "orders", {0}));
  auto admin = MustCreate(cluster.bootstrap());
  OffsetResetSpec spec;
  spec.group_id = "g";
  spec.strategy = OffsetResetStrategy::kToEarliest;
  spec.all_topics = true;
  auto plan = admin->PlanOffsetReset(spec);  // planning is allowed: it changes nothing
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->group_state, "Stable");
  EXPECT_EQ(plan->members, 1);
  EXPECT_FALSE(plan->resettable());
  auto r = admin->ExecuteOffsetReset(*plan);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message(),
            "Assignments can only be reset if the group 'g' is inactive, but the current state "
            "is Stable.");
  EXPECT_TRUE(cluster.commits().empty());

  // A member that joins after the check: the coordinator's refusal reads the same way.
  cluster.RemoveMembers("g");
  cluster.PushFault({.method = "OffsetCommit", .error = KafkaError::kUnknownMemberId});
  r = admin->ExecuteOffsetReset(*plan);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("Assignments can only be reset if the group 'g' is inactive; the "
                        "coordinator refused the commit (UNKNOWN_MEMBER_ID"));
  EXPECT_EQ(cluster.Offset("g", "orders", 0), 30);
}

}  // namespace
}  // namespace strand::client
