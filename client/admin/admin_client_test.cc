// Tests AdminClient against FakeAdminServer (a scripted AdminService on 127.0.0.1): bootstrap
// failover from a dead address, retry of NOT_CONTROLLER, non-retriable errors returned as-is,
// gRPC errors passed through, and the total time budget honoured whether the cluster is dead or
// keeps answering with a retriable error. Times are real but short; every wait is bounded.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "client/admin/testing/fake_admin_service.h"
#include "strand/admin.h"
#include "tests/integration/test_process.h"

namespace strand::client {
namespace {

using testing::FakeAdminServer;
using testing::Fault;
using ::testing::HasSubstr;

using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

std::string DeadAddress() { return "127.0.0.1:" + std::to_string(strand::testing::FreePort()); }

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

TEST(AdminClient, Create_RejectsBadBootstrapAndOptions) {
  EXPECT_EQ(AdminClient::Create("nohost").status().code(), absl::StatusCode::kInvalidArgument);
  AdminClientOptions options;
  options.retry_backoff_ms = 2'000;  // above retry_backoff_max_ms
  EXPECT_EQ(AdminClient::Create("127.0.0.1:1", options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = {};
  options.api_timeout_ms = 0;
  EXPECT_FALSE(options.Validate().ok());
}

TEST(AdminClient, DescribeCluster_ReturnsTheAnswer) {
  FakeAdminServer server;
  auto client = MustCreate(server.address());
  auto r = client->DescribeCluster();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->cluster_id(), "fake-cluster");
  EXPECT_EQ(r->active_controller(), 1);
  EXPECT_EQ(r->brokers_size(), 3);
}

TEST(AdminClient, Bootstrap_FailsOverFromDeadAddressAndRemembersTheLiveOne) {
  FakeAdminServer server;
  auto client = MustCreate(DeadAddress() + "," + server.address());
  const auto start = Clock::now();
  auto first = client->ListTopics();
  ASSERT_TRUE(first.ok()) << first.status();
  // A refused connection costs no backoff: the live address is tried at once.
  EXPECT_LT(MsSince(start), 1'000);
  auto second = client->ListTopics();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(server.service().Calls("ListTopics"), 2);
}

TEST(AdminClient, NotController_RetriedThenSucceeds) {
  FakeAdminServer server;
  server.service().PushFault(Fault{.error = KafkaError::kNotController});
  server.service().PushFault(Fault{.error = KafkaError::kNotController});
  auto client = MustCreate(server.address());
  admin::v1::CreateTopicsRequest request;
  request.add_topics()->set_name("orders");
  auto r = client->CreateTopics(request);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->topics_size(), 1);
  EXPECT_EQ(r->topics(0).error().code(), 0) << r->topics(0).error().name();
  EXPECT_EQ(r->topics(0).topic_id(), "id-orders");
  EXPECT_EQ(server.service().Calls("CreateTopics"), 3);
}

TEST(AdminClient, NonRetriableError_ReturnedAsIsAfterOneCall) {
  FakeAdminServer server;
  server.service().PushFault(Fault{.error = KafkaError::kPolicyViolation});
  auto client = MustCreate(server.address());
  admin::v1::AlterConfigsRequest request;
  request.set_resource_type(admin::v1::BROKER);
  auto r = client->AlterConfigs(request);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->error().code(), static_cast<int>(KafkaError::kPolicyViolation));
  EXPECT_EQ(r->error().name(), "POLICY_VIOLATION");
  EXPECT_EQ(server.service().Calls("AlterConfigs"), 1);
}

TEST(AdminClient, PerItemError_StaysInTheResponse) {
  FakeAdminServer server;
  server.service().AddTopic("orders", 3, 3);
  auto client = MustCreate(server.address());
  admin::v1::CreateTopicsRequest request;
  request.add_topics()->set_name("orders");
  request.add_topics()->set_name("payments");
  auto r = client->CreateTopics(request);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->topics_size(), 2);
  EXPECT_EQ(r->topics(0).error().name(), "TOPIC_ALREADY_EXISTS");
  EXPECT_EQ(r->topics(1).error().code(), 0);
  EXPECT_EQ(server.service().Calls("CreateTopics"), 1);
}

TEST(AdminClient, GrpcError_ReturnedWithItsCodeWithoutRetry) {
  FakeAdminServer server;
  server.service().PushFault(Fault{.grpc_code = grpc::StatusCode::PERMISSION_DENIED});
  auto client = MustCreate(server.address());
  auto r = client->DescribeCluster();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(IsUnreachable(r.status()));
  EXPECT_EQ(server.service().TotalCalls(), 1);
}

TEST(AdminClient, SlowAnswer_TimesOutAndIsRetried) {
  FakeAdminServer server;
  server.service().PushFault(Fault{.delay_ms = 1'500});
  AdminClientOptions options = FastOptions();
  options.request_timeout_ms = 200;
  auto client = MustCreate(server.address(), options);
  const auto start = Clock::now();
  auto r = client->DescribeCluster();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LT(MsSince(start), 1'400);  // did not wait for the slow answer
  EXPECT_EQ(server.service().Calls("DescribeCluster"), 2);
}

TEST(AdminClient, DeadCluster_UnreachableWithinTheBudgetNamingEveryAddress) {
  const std::string a = DeadAddress(), b = DeadAddress();
  AdminClientOptions options = FastOptions();
  options.api_timeout_ms = 400;
  auto client = MustCreate(a + "," + b, options);
  const auto start = Clock::now();
  auto r = client->DescribeCluster();
  const int64_t elapsed_ms = MsSince(start);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(IsUnreachable(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(a));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(b));
  EXPECT_GE(elapsed_ms, 350);
  EXPECT_LT(elapsed_ms, 1'500);
}

TEST(AdminClient, RetriableErrorForever_LastAnswerReturnedWhenTheBudgetEnds) {
  FakeAdminServer server;
  for (int i = 0; i < 500; ++i) {
    server.service().PushFault(Fault{.error = KafkaError::kRequestTimedOut});
  }
  AdminClientOptions options = FastOptions();
  options.api_timeout_ms = 400;
  auto client = MustCreate(server.address(), options);
  const auto start = Clock::now();
  auto r = client->ListTopics();
  const int64_t elapsed_ms = MsSince(start);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->error().name(), "REQUEST_TIMED_OUT");
  EXPECT_GE(elapsed_ms, 350);
  EXPECT_LT(elapsed_ms, 1'500);
  EXPECT_GT(server.service().Calls("ListTopics"), 3);
}

TEST(AdminClient, AttemptsMax_BoundsRetries) {
  FakeAdminServer server;
  for (int i = 0; i < 10; ++i) {
    server.service().PushFault(Fault{.error = KafkaError::kNotController});
  }
  AdminClientOptions options = FastOptions();
  options.attempts_max = 3;
  auto client = MustCreate(server.address(), options);
  auto r = client->DescribeCluster();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->error().name(), "NOT_CONTROLLER");
  EXPECT_EQ(server.service().Calls("DescribeCluster"), 3);
}

}  // namespace
}  // namespace strand::client
