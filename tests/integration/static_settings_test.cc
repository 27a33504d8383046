// Static cluster settings given to one process and not the others, on a real cluster (3
// controllers, 3 brokers): broker 102 starts with log.retention.ms and controller 3 with
// num.partitions that no other node has. Every node records digests of its static cluster
// settings (brokers with their registration, controllers with each activation); the check is
// against the active controller's. Asserted: DescribeCluster names each differing setting per
// broker (a standby forwards it to the active controller, which reports none of its own), the
// active controller's metric counts the brokers concerned, a standby whose settings differ says
// so in its log and metric, and the logs name the setting. Then a dynamic cluster-wide value of
// log.retention.ms overrides the static ones everywhere, and the report for it goes away.
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/strand_cluster.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
namespace av1 = admin::v1;

std::optional<av1::DescribeClusterResponse> Describe(StrandCluster& c, int controller) {
  auto stub = av1::AdminService::NewStub(c.Channel(controller));
  grpc::ClientContext ctx;
  ctx.set_deadline(In(5s));
  av1::DescribeClusterResponse resp;
  if (!stub->DescribeCluster(&ctx, {}, &resp).ok() || resp.active_controller() < 0) {
    return std::nullopt;
  }
  return resp;
}

std::map<int, std::vector<std::string>> BrokerDifferences(const av1::DescribeClusterResponse& r) {
  std::map<int, std::vector<std::string>> out;
  for (const auto& b : r.brokers()) {
    out[b.id()] = {b.static_settings_differing().begin(), b.static_settings_differing().end()};
  }
  return out;
}

bool LogHas(StrandCluster& c, int node, const std::string& text) {
  return Tail(c.log_path(node), 100000).find(text) != std::string::npos;
}

TEST(StaticSettingsTest, SettingsGivenToOneNodeAreReportedByName) {
  ClusterOptions options;
  options.node_args[3] = {"--config=num.partitions=7"};
  options.node_args[102] = {"--config=log.retention.ms=1234"};
  StrandCluster c(options);
  ASSERT_TRUE(c.WaitForBrokers(30s));

  // What every answering controller reports depends on which controller is active: the odd one
  // (3) makes num.partitions differ on every other node.
  std::optional<av1::DescribeClusterResponse> seen;
  const bool settled = Eventually(
      [&] {
        seen = Describe(c, 1);
        return seen && seen->brokers_size() == 3 && !BrokerDifferences(*seen)[102].empty();
      },
      30s);
  ASSERT_TRUE(settled) << (seen ? seen->DebugString() : "no answer");
  const int active = seen->active_controller();
  std::printf("active controller %d; DescribeCluster from controller 1:\n%s", active,
              seen->DebugString().c_str());
  auto differences = BrokerDifferences(*seen);
  using Names = std::vector<std::string>;
  if (active == 3) {
    EXPECT_EQ(differences[101], Names{"num.partitions"});
    EXPECT_EQ(differences[102], (Names{"log.retention.ms", "num.partitions"}));
    EXPECT_EQ(differences[103], Names{"num.partitions"});
  } else {
    EXPECT_EQ(differences[101], Names{});
    EXPECT_EQ(differences[102], Names{"log.retention.ms"});
    EXPECT_EQ(differences[103], Names{});
  }
  // A standby forwards DescribeCluster to the active controller, which answers and speaks only
  // for itself: its own settings never differ from its own. (Whether a standby differs shows in
  // its log line and its metric, below.)
  for (const auto& ctl : seen->controllers()) {
    EXPECT_EQ(Names(ctl.static_settings_differing().begin(), ctl.static_settings_differing().end()),
              Names{})
        << "controller " << ctl.id();
  }

  // The active controller's metric and log line; broker 102's own log line.
  const std::string brokers_metric =
      fmt::format("strand_controller_brokers_static_settings_differing {}", active == 3 ? 3 : 1);
  EXPECT_TRUE(Eventually(
      [&] {
        return HttpGet(c.metrics_address(active), "/metrics").find(brokers_metric) != std::string::npos;
      },
      15s))
      << HttpGet(c.metrics_address(active), "/metrics");
  EXPECT_TRUE(Eventually(
      [&] {
        return LogHas(c, active, "broker 102 runs with static cluster setting(s) log.retention.ms");
      },
      10s));
  EXPECT_TRUE(LogHas(c, 102, "static cluster setting(s) log.retention.ms"));
  // Controller 3, when it is not the active one, says its own num.partitions differs.
  if (active != 3) {
    EXPECT_TRUE(LogHas(c, 3, "static cluster setting(s) num.partitions of this controller differ"));
    EXPECT_TRUE(Eventually(
        [&] {
          return HttpGet(c.metrics_address(3), "/metrics")
                     .find("strand_controller_static_settings_differing 1") != std::string::npos;
        },
        15s));
  } else {
    // Controller 3 active: every standby's num.partitions differs from its.
    EXPECT_TRUE(Eventually(
        [&] { return LogHas(c, 1, "static cluster setting(s) num.partitions of this controller"); },
        10s));
    EXPECT_TRUE(Eventually(
        [&] {
          return HttpGet(c.metrics_address(1), "/metrics")
                     .find("strand_controller_static_settings_differing 1") != std::string::npos;
        },
        15s));
  }

  // A dynamic cluster-wide value overrides the static ones: no longer reported.
  std::string message;
  ASSERT_EQ(AlterConfig(c, av1::BROKER, "", "log.retention.ms", "86400000", &message), "NONE")
      << message;
  EXPECT_TRUE(Eventually(
      [&] {
        seen = Describe(c, 1);
        if (!seen) return false;
        for (const std::string& name : BrokerDifferences(*seen)[102]) {
          if (name == "log.retention.ms") return false;
        }
        return true;
      },
      10s));
}

}  // namespace
}  // namespace strand::testing
