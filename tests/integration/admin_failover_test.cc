// Admin calls through the brokers while the active controller dies, as a user sees them: the
// real `strand` binary, bootstrapped from the brokers only (as the CLI, grpcurl and a Kubernetes
// bootstrap Service are), creates a topic right after a SIGKILL of the active controller. Its
// first invocation must succeed, and within 1 s of the quorum electing a new controller: a
// broker's AdminService must not wait on the dead controller for the caller's whole deadline.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/integration/strand_cluster.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// The active controller as controller `node` reports it (-1: none, or no answer).
int ActiveControllerOf(StrandCluster& c, int node) {
  auto stub = admin::v1::AdminService::NewStub(c.Channel(node, Listener::kController));
  grpc::ClientContext ctx;
  ctx.set_deadline(In(300ms));
  admin::v1::DescribeClusterRequest req;
  admin::v1::DescribeClusterResponse resp;
  if (!stub->DescribeCluster(&ctx, req, &resp).ok()) return -1;
  return resp.active_controller();
}

TEST(AdminFailoverTest, TopicsCreateThroughBroker_SucceedsFirstTryAfterActiveControllerKill) {
  StrandCluster c;
  ASSERT_TRUE(c.WaitForBrokers(30s));
  if (c.tls()) GTEST_SKIP() << "plaintext only: the CLI is run without TLS settings";
  std::string bootstrap;
  for (int b : c.broker_ids()) bootstrap += (bootstrap.empty() ? "" : ",") + c.address(b);
  // The brokers must know the active controller before the kill, or the test proves nothing
  // about a stale one: a first topic through a broker.
  ASSERT_EQ(c.CreateTopic("before", 1, 3), "NONE");
  int active = -1;
  ASSERT_TRUE(Eventually([&] { return (active = ActiveControllerOf(c, 1)) > 0; }, 10s));

  // Watch the survivors for the new active controller from the moment of the kill.
  std::atomic<bool> stop{false};
  std::atomic<int64_t> elected_us{-1};
  std::atomic<int> successor{-1};
  const auto killed = Clock::now();
  c.Kill(active);
  std::thread watcher([&] {
    while (!stop && Clock::now() - killed < 30s) {
      for (int node = 1; node <= 3 && elected_us < 0; ++node) {
        if (node == active) continue;
        const int seen = ActiveControllerOf(c, node);
        if (seen > 0 && seen != active) {
          elected_us =
              std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - killed).count();
          successor = seen;
        }
      }
      if (elected_us >= 0) return;
      std::this_thread::sleep_for(10ms);
    }
  });
  TempDir dir("strand-admin-failover");
  ChildProcess cli("strand",
                   {"--bootstrap", bootstrap, "topics", "create", "after-kill", "--partitions", "1",
                    "--replication-factor", "3"},
                   dir.path() + "/cli.log");
  const int status = cli.Wait(60s);
  const auto answered = Clock::now();
  stop = true;
  watcher.join();
  const std::string output = Tail(dir.path() + "/cli.log");
  ASSERT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "strand topics create through the brokers failed after the active controller " << active
      << " was killed:\n"
      << output;
  ASSERT_GE(elected_us.load(), 0) << "no new active controller seen";
  const double elected_ms = static_cast<double>(elected_us.load()) / 1000;
  const double answered_ms = Ms(answered - killed);
  std::printf(
      "active controller %d killed; controller %d active after %.0f ms; topic created "
      "through a broker after %.0f ms\n",
      active, successor.load(), elected_ms, answered_ms);
  EXPECT_LT(answered_ms, elected_ms + 1000)
      << "the broker's admin forwarding took more than 1 s after the election";
  EXPECT_TRUE(c.WaitForPartition("after-kill", 0, 10s));
  c.Start(active);
}

}  // namespace
}  // namespace strand::testing
