// strand-server configured the Kubernetes way, on real processes:
//   - a controller and a broker started from server.properties files alone (Kafka's names), the
//     broker's node id from strand.node.id.base + $STRAND_POD_INDEX and its rack from
//     $STRAND_BROKER_RACK over the file's: the broker registers as node 101 in rack zone-b, its
//     /metrics answers on the file's metrics.listen, and a broker setting in the controller's file
//     (a file shared by both roles) is ignored by the controller; its data directory is stamped
//     (meta.properties) and refuses another node id;
//   - bad settings exit with status 2 and name the setting: an unknown name in the file, a
//     malformed $STRAND_NODE_ID, a missing node.id, an invalid cluster setting, a missing file.
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "proto/admin/v1/admin.grpc.pb.h"
#include "tests/integration/test_process.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

// Runs strand-server with `args` and `env`, expecting it to exit by itself; its exit status, or
// -1 when it kept running (then it is killed).
int ExitStatus(const TempDir& dir, const std::string& name, const std::vector<std::string>& args,
               const std::vector<std::string>& env = {}) {
  ChildProcess server("strand-server", args, dir.path() + "/" + name + ".log", env);
  const int status = server.Wait(20s);
  if (status == -1 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST(ServerConfigTest, ControllerAndBrokerFromPropertiesFiles) {
  TempDir dir("server-config");
  const int controller_port = FreePort();
  const int client_port = FreePort(), replication_port = FreePort(), observer_port = FreePort();
  const std::string metrics = fmt::format("127.0.0.1:{}", FreePort());
  const std::string voters = fmt::format("1@127.0.0.1:{}", controller_port);
  WriteFile(dir.path() + "/controller.properties",
            fmt::format("# a controller, by Kafka's names\n"
                        "process.roles=controller\n"
                        "node.id=1\n"
                        "controller.quorum.voters={}\n"
                        "listeners=CONTROLLER://127.0.0.1:{}\n"
                        "controller.listener.names=CONTROLLER\n"
                        "log.dirs={}/c1\n"
                        "cluster.id=config-test\n"
                        "offsets.topic.replication.factor=1\n"
                        "! a broker setting, as in a file shared by both roles\n"
                        "group.consumer.session.timeout.ms=30000\n",
                        voters, controller_port, dir.path()));
  WriteFile(dir.path() + "/broker.properties",
            fmt::format("process.roles: broker\n"
                        "strand.node.id.base=100\n"
                        "controller.quorum.voters={}\n"
                        "listeners=CLIENT://127.0.0.1:{},REPLICATION://127.0.0.1:{},"
                        "CONTROLLER://127.0.0.1:{}\n"
                        "listener.security.protocol.map=CLIENT:PLAINTEXT,REPLICATION:PLAINTEXT,"
                        "CONTROLLER:PLAINTEXT\n"
                        "controller.listener.names=CONTROLLER\n"
                        "inter.broker.listener.name=REPLICATION\n"
                        "log.dirs={}/b\n"
                        "cluster.id=config-test\n"
                        "broker.rack=zone-a\n"
                        "metrics.listen={}\n"
                        "offsets.topic.replication.factor=1\n",
                        voters, client_port, replication_port, observer_port, dir.path(), metrics));
  // The controller's metrics port from the environment (the default, 0.0.0.0:9190, could be
  // taken on a shared machine).
  const std::string controller_metrics = fmt::format("127.0.0.1:{}", FreePort());
  ChildProcess controller("strand-server", {"--config-file", dir.path() + "/controller.properties"},
                          dir.path() + "/controller.log",
                          {"STRAND_METRICS_LISTEN=" + controller_metrics});
  ChildProcess broker("strand-server", {"--config-file", dir.path() + "/broker.properties"},
                      dir.path() + "/broker.log",
                      {"STRAND_POD_INDEX=1", "STRAND_BROKER_RACK=zone-b"});

  auto admin = admin::v1::AdminService::NewStub(grpc::CreateChannel(
      fmt::format("127.0.0.1:{}", controller_port), grpc::InsecureChannelCredentials()));
  admin::v1::DescribeClusterResponse cluster;
  bool registered = false;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!registered && std::chrono::steady_clock::now() < deadline) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 2s);
    cluster.Clear();
    if (admin->DescribeCluster(&ctx, {}, &cluster).ok()) {
      for (const auto& b : cluster.brokers()) {
        registered |= b.id() == 101 && b.state() == admin::v1::RUNNING;
      }
    }
    if (!registered) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(registered) << cluster.DebugString() << Tail(dir.path() + "/broker.log")
                          << Tail(dir.path() + "/controller.log");
  ASSERT_EQ(cluster.brokers_size(), 1);
  EXPECT_EQ(cluster.brokers(0).rack(), "zone-b");  // $STRAND_BROKER_RACK over the file
  EXPECT_EQ(cluster.cluster_id(), "config-test");
  EXPECT_NE(HttpGet(metrics, "/metrics").find("# TYPE"), std::string::npos);
  EXPECT_NE(HttpGet(controller_metrics, "/metrics").find("strand_controller_active"),
            std::string::npos);
  EXPECT_NE(Tail(dir.path() + "/controller.log", 200)
                .find("broker settings ignored by a controller: group.consumer.session.timeout.ms"),
            std::string::npos);
  broker.Stop(10s);
  // Its data directory is stamped with its cluster and node id: the same volume under another
  // node id (a PersistentVolume attached to the wrong pod) refuses to start.
  std::ifstream stamp(dir.path() + "/b/meta.properties");
  std::string stamped((std::istreambuf_iterator<char>(stamp)), std::istreambuf_iterator<char>());
  EXPECT_NE(stamped.find("cluster.id=config-test\nnode.id=101\n"), std::string::npos) << stamped;
  EXPECT_EQ(ExitStatus(dir, "wrong-volume", {"--config-file", dir.path() + "/broker.properties"},
                       {"STRAND_POD_INDEX=2"}),
            1);
  EXPECT_NE(Tail(dir.path() + "/wrong-volume.log")
                .find("belongs to node 101 of cluster 'config-test', but this is node 102"),
            std::string::npos)
      << Tail(dir.path() + "/wrong-volume.log");
  controller.Stop(10s);
}

TEST(ServerConfigTest, BadSettingsExitWithStatus2AndNameTheSetting) {
  TempDir dir("server-config-bad");
  const std::string good = fmt::format(
      "process.roles=controller\nnode.id=1\ncontroller.quorum.voters=1@127.0.0.1:{0}\n"
      "listeners=CONTROLLER://127.0.0.1:{0}\ncontroller.listener.names=CONTROLLER\n"
      "log.dirs={1}/c1\n",
      FreePort(), dir.path());
  const std::string file = dir.path() + "/server.properties";

  WriteFile(file, good + "log.retention.hourz=5\n");
  EXPECT_EQ(ExitStatus(dir, "unknown", {"--config-file", file}), 2);
  EXPECT_NE(Tail(dir.path() + "/unknown.log")
                .find("log.retention.hourz (from --config-file): "
                      "unknown setting"),
            std::string::npos)
      << Tail(dir.path() + "/unknown.log");

  WriteFile(file, good);
  EXPECT_EQ(ExitStatus(dir, "env", {"--config-file", file}, {"STRAND_NODE_ID=one"}), 2);
  EXPECT_NE(Tail(dir.path() + "/env.log").find("node.id=one (from $STRAND_NODE_ID)"),
            std::string::npos)
      << Tail(dir.path() + "/env.log");

  WriteFile(file, good.substr(good.find("controller.quorum.voters")));  // no process.roles, node.id
  EXPECT_EQ(ExitStatus(dir, "missing", {"--config-file", file}), 2);
  EXPECT_NE(Tail(dir.path() + "/missing.log").find("node.id is required"), std::string::npos)
      << Tail(dir.path() + "/missing.log");

  WriteFile(file, good);
  EXPECT_EQ(
      ExitStatus(dir, "invalid", {"--config-file", file, "--config", "min.insync.replicas=x"}), 2);
  EXPECT_NE(Tail(dir.path() + "/invalid.log").find("min.insync.replicas=x (from the command line)"),
            std::string::npos)
      << Tail(dir.path() + "/invalid.log");

  EXPECT_EQ(ExitStatus(dir, "nofile", {"--config-file", dir.path() + "/absent.properties"}), 2);
  EXPECT_NE(Tail(dir.path() + "/nofile.log").find("absent.properties"), std::string::npos);
}

}  // namespace
}  // namespace strand::testing
