// Health on real processes, the way probes see it: /healthz and /readyz on every process's
// metrics port, and grpc.health.v1 per service name on its gRPC listeners.
//   - A serving cluster: every process live and ready; each listener's services SERVING by
//     name, "readiness" and "liveness" too; an unknown name NOT_FOUND.
//   - A broker cut off from the controllers (fault injection) is fenced: not ready, its client
//     services NOT_SERVING; ready again once the cut heals.
//   - A broker restarted while the leader of a partition it follows is paused cannot rejoin that
//     ISR: it stays not ready, saying so, until the controllers move the leadership and it
//     catches up; then it is ready.
//   - A controller left alone (the other two stopped) knows no leader: not ready, until they
//     return.
#include <algorithm>
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "proto/broker/v1/fault.grpc.pb.h"
#include "proto/health/v1/health.grpc.pb.h"
#include "tests/integration/strand_cluster.h"
#include "tests/integration/test_process.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// The status of `service` on a node's listener, or -1 with the gRPC error when the call failed.
struct Check {
  int status = -1;
  grpc::StatusCode code = grpc::StatusCode::OK;
};

Check HealthOf(StrandCluster& c, int node, Listener listener, const std::string& service) {
  auto health = grpc::health::v1::Health::NewStub(c.Channel(node, listener));
  HealthCheckRequest req;
  req.set_service(service);
  HealthCheckResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  const grpc::Status s = health->Check(&ctx, req, &resp);
  if (!s.ok()) return {-1, s.error_code()};
  return {static_cast<int>(resp.status()), grpc::StatusCode::OK};
}

bool Serving(StrandCluster& c, int node, Listener listener, const std::string& service) {
  return HealthOf(c, node, listener, service).status == HealthCheckResponse::SERVING;
}

ClusterOptions Options() {
  ClusterOptions o;
  o.broker_args = {"--enable-fault-injection"};
  return o;
}

TEST(HealthTest, ServingClusterIsLiveAndReadyEverywhere) {
  StrandCluster c(Options());
  ASSERT_TRUE(c.WaitForBrokers(30s));
  for (int id : {1, 2, 3, 101, 102, 103}) {
    // Readiness follows the monitor (once a second): poll.
    EXPECT_TRUE(
        Eventually([&] { return HttpFetch(c.metrics_address(id), "/readyz").status == 200; }, 10s))
        << "node " << id << ": " << HttpFetch(c.metrics_address(id), "/readyz").body;
    const HttpResponse ready = HttpFetch(c.metrics_address(id), "/readyz");
    EXPECT_EQ(ready.body, "ready\n") << "node " << id;
    const HttpResponse live = HttpFetch(c.metrics_address(id), "/healthz");
    EXPECT_EQ(live.status, 200) << "node " << id << ": " << live.body;
    EXPECT_EQ(live.body, "ok\n");
    EXPECT_EQ(HttpFetch(c.metrics_address(id), "/nothing").status, 404);

    const Listener listener = id < 100 ? Listener::kController : Listener::kClient;
    EXPECT_TRUE(Eventually([&] { return Serving(c, id, listener, "readiness"); }, 5s))
        << "node " << id;
    EXPECT_TRUE(Serving(c, id, listener, "liveness")) << "node " << id;
    EXPECT_TRUE(Serving(c, id, listener, "")) << "node " << id;
    EXPECT_EQ(HealthOf(c, id, listener, "no.such.Service").code, grpc::StatusCode::NOT_FOUND);
  }
  // Each service a listener serves answers by its name.
  EXPECT_TRUE(Serving(c, 101, Listener::kClient, "strand.broker.v1.BrokerService"));
  EXPECT_TRUE(Serving(c, 101, Listener::kClient, "strand.admin.v1.AdminService"));
  EXPECT_TRUE(Serving(c, 101, Listener::kClient, "strand.group.v1.GroupService"));
  EXPECT_TRUE(Serving(c, 101, Listener::kReplication, "strand.broker.v1.BrokerService"));
  EXPECT_TRUE(Serving(c, 1, Listener::kController, "strand.admin.v1.AdminService"));
  EXPECT_TRUE(Serving(c, 1, Listener::kController, "strand.controller.v1.ControllerService"));
  // Not served on a broker's client listener: unknown there.
  EXPECT_EQ(HealthOf(c, 101, Listener::kClient, "strand.controller.v1.ControllerService").code,
            grpc::StatusCode::NOT_FOUND);
}

TEST(HealthTest, BrokerCutOffFromControllersIsNotReady) {
  StrandCluster c(Options());
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_TRUE(
      Eventually([&] { return HttpFetch(c.metrics_address(102), "/readyz").status == 200; }, 10s));
  auto set_isolated = [&](bool isolated) {
    auto faults =
        broker::v1::FaultInjectionService::NewStub(c.Channel(102, Listener::kReplication));
    broker::v1::SetFaultsRequest req;
    req.set_isolate_from_controllers(isolated);
    broker::v1::SetFaultsResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    return faults->SetFaults(&ctx, req, &resp).ok();
  };
  ASSERT_TRUE(set_isolated(true));
  EXPECT_TRUE(
      Eventually([&] { return HttpFetch(c.metrics_address(102), "/readyz").status == 503; }, 20s));
  const HttpResponse ready = HttpFetch(c.metrics_address(102), "/readyz");
  EXPECT_NE(ready.body.find("fenced"), std::string::npos) << ready.body;
  EXPECT_TRUE(Eventually([&] { return !Serving(c, 102, Listener::kClient, ""); }, 5s));
  EXPECT_FALSE(Serving(c, 102, Listener::kClient, "strand.broker.v1.BrokerService"));
  // The probes' names follow within a quarter second.
  EXPECT_TRUE(Eventually([&] { return !Serving(c, 102, Listener::kClient, "readiness"); }, 5s));
  // Still live: its loops run; only the controllers are out of reach.
  EXPECT_EQ(HttpFetch(c.metrics_address(102), "/healthz").status, 200);
  EXPECT_TRUE(Serving(c, 102, Listener::kClient, "liveness"));

  ASSERT_TRUE(set_isolated(false));
  EXPECT_TRUE(
      Eventually([&] { return HttpFetch(c.metrics_address(102), "/readyz").status == 200; }, 30s))
      << HttpFetch(c.metrics_address(102), "/readyz").body;
  EXPECT_TRUE(Eventually([&] { return Serving(c, 102, Listener::kClient, ""); }, 5s));
}

TEST(HealthTest, RestartedBrokerIsNotReadyUntilBackInTheIsr) {
  ClusterOptions o = Options();
  // Long enough for the restarted broker to start and unfence before the paused leader is
  // fenced.
  o.controller_args = {"--broker-session-timeout-ms=10000"};
  StrandCluster c(o);
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(c.CreateTopic("orders", 1, 3, {{"min.insync.replicas", "2"}}), "NONE");
  auto p = c.WaitForPartition("orders", 0, 10s, 3);
  ASSERT_TRUE(p);
  // The restarted broker is one that does not lead the partition.
  const int leader = p->leader;
  const int restarted = leader == 103 ? 102 : 103;
  c.Kill(restarted);
  ASSERT_TRUE(c.WaitForPartition("orders", 0, 20s, 2));
  // The leader stops answering (but is not yet fenced): the restarted broker registers and
  // unfences, yet cannot fetch from it, so cannot rejoin the ISR.
  c.Pause(leader);
  c.Start(restarted);
  std::string reason;
  EXPECT_TRUE(Eventually(
      [&] {
        const HttpResponse r = HttpFetch(c.metrics_address(restarted), "/readyz");
        if (r.status == 503 && r.body.find("ISR") != std::string::npos) reason = r.body;
        return !reason.empty();
      },
      20s))
      << "never held back for the ISR; last answer: "
      << HttpFetch(c.metrics_address(restarted), "/readyz").body;
  EXPECT_NE(reason.find("not back in their ISR"), std::string::npos) << reason;
  // The controllers fence the paused leader and elect the remaining ISR member; the restarted
  // broker catches up from it and is ready.
  EXPECT_TRUE(Eventually(
      [&] { return HttpFetch(c.metrics_address(restarted), "/readyz").status == 200; }, 30s))
      << HttpFetch(c.metrics_address(restarted), "/readyz").body;
  auto after = c.Partition("orders", 0);
  ASSERT_TRUE(after);
  EXPECT_NE(std::find(after->isr.begin(), after->isr.end(), restarted), after->isr.end());
  c.Resume(leader);
}

TEST(HealthTest, ControllerWithoutQuorumIsNotReady) {
  ClusterOptions o;
  o.brokers = 0;
  StrandCluster c(o);
  ASSERT_TRUE(
      Eventually([&] { return HttpFetch(c.metrics_address(1), "/readyz").status == 200; }, 20s));
  c.Kill(2);
  c.Kill(3);
  EXPECT_TRUE(
      Eventually([&] { return HttpFetch(c.metrics_address(1), "/readyz").status == 503; }, 20s));
  const HttpResponse r = HttpFetch(c.metrics_address(1), "/readyz");
  EXPECT_NE(r.body.find("no controller leader"), std::string::npos) << r.body;
  EXPECT_EQ(HttpFetch(c.metrics_address(1), "/healthz").status, 200);
  c.Start(2);
  c.Start(3);
  EXPECT_TRUE(
      Eventually([&] { return HttpFetch(c.metrics_address(1), "/readyz").status == 200; }, 20s))
      << HttpFetch(c.metrics_address(1), "/readyz").body;
}

}  // namespace
}  // namespace strand::testing
