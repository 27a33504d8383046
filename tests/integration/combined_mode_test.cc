// Combined mode (process.roles=broker,controller) on real processes, driven by the `strand` CLI:
//   - one process from a server.properties file is a whole cluster: ready on /readyz, topics,
//     produce, a consumer group, both roles' metrics; SIGTERM exits 0, and a restart on the same
//     data serves what was written;
//   - three combined processes are a replicated cluster: with one of them SIGKILLed (whichever
//     was the active controller), acks=all writes to an RF3 topic go on, and the restarted node
//     is ready again once it is back in the ISR. Nothing acknowledged is lost.
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/strand_cluster.h"
#include "tests/integration/test_process.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;

struct CliRun {
  int status = -1;
  std::string output;  // stdout
  std::string errors;  // stderr
};

// Runs `strand` with `args` (and `input` on stdin); its exit status and output.
CliRun Cli(const std::string& args, const std::string& input = "") {
  TempDir dir("combined-cli");
  const std::string in = dir.path() + "/in";
  {
    std::ofstream out(in);
    out << input;
  }
  CliRun r;
  FILE* pipe = popen(fmt::format("timeout 60 {}/strand --timeout-ms 20000 {} < {} 2> {}/err",
                                 BinDir(), args, in, dir.path())
                         .c_str(),
                     "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buffer{};
  for (size_t n; (n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0;) {
    r.output.append(buffer.data(), n);
  }
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(dir.path() + "/err");
  r.errors.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
  return r;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    out.push_back(text.substr(start, nl - start));
  }
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

// One combined-mode node: its ports, its properties file, its process.
struct Node {
  int id = 0;
  int client = 0, controller = 0, replication = 0, metrics = 0;
  std::string properties;
  std::unique_ptr<ChildProcess> process;

  std::string client_address() const { return fmt::format("127.0.0.1:{}", client); }
  std::string metrics_address() const { return fmt::format("127.0.0.1:{}", metrics); }
};

class CombinedCluster {
 public:
  CombinedCluster(int nodes, const std::string& extra) : dir_("combined") {
    for (int id = 1; id <= nodes; ++id) {
      Node& n = nodes_[id];
      n.id = id;
      n.client = FreePort();
      n.controller = FreePort();
      n.replication = FreePort();
      n.metrics = FreePort();
    }
    std::string voters;
    for (const auto& [id, n] : nodes_) {
      voters += fmt::format("{}{}@127.0.0.1:{}", voters.empty() ? "" : ",", id, n.controller);
    }
    for (auto& [id, n] : nodes_) {
      n.properties = fmt::format("{}/node-{}.properties", dir_.path(), id);
      std::ofstream out(n.properties);
      out << fmt::format(
          "process.roles=broker,controller\n"
          "node.id={}\n"
          "controller.quorum.voters={}\n"
          "listeners=PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{},"
          "REPLICATION://127.0.0.1:{}\n"
          "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
          "REPLICATION:PLAINTEXT\n"
          "controller.listener.names=CONTROLLER\n"
          "inter.broker.listener.name=REPLICATION\n"
          "log.dirs={}/data-{}\n"
          "metrics.listen=127.0.0.1:{}\n"
          "strand.log.level=debug\n"
          "{}",
          id, voters, n.client, n.controller, n.replication, dir_.path(), id, n.metrics, extra);
    }
  }

  void Start(int id) {
    Node& n = nodes_.at(id);
    n.process = std::make_unique<ChildProcess>(
        "strand-server", std::vector<std::string>{"--config-file", n.properties},
        fmt::format("{}/node-{}.log", dir_.path(), id));
  }
  bool Ready(int id) { return HttpFetch(nodes_.at(id).metrics_address(), "/readyz").status == 200; }
  Node& node(int id) { return nodes_.at(id); }
  std::string bootstrap() const {
    std::string out;
    for (const auto& [id, n] : nodes_) out += (out.empty() ? "" : ",") + n.client_address();
    return out;
  }
  std::string log(int id) { return Tail(fmt::format("{}/node-{}.log", dir_.path(), id), 30); }

 private:
  TempDir dir_;
  std::map<int, Node> nodes_;
};

TEST(CombinedModeTest, OneProcessIsAWholeCluster) {
  CombinedCluster c(1,
                    "default.replication.factor=1\n"
                    "offsets.topic.replication.factor=1\n"
                    "offsets.topic.num.partitions=3\n");
  c.Start(1);
  ASSERT_TRUE(Eventually([&] { return c.Ready(1); }, 30s))
      << HttpFetch(c.node(1).metrics_address(), "/readyz").body << c.log(1);
  const std::string b = "--bootstrap " + c.node(1).client_address();

  CliRun r = Cli(b + " topics create orders --partitions 3");
  ASSERT_EQ(r.status, 0) << r.output << r.errors;
  std::string records;
  for (int i = 0; i < 100; ++i) records += fmt::format("order-{}\n", i);
  r = Cli(b + " produce --topic orders", records);
  ASSERT_EQ(r.status, 0) << r.output << r.errors;
  r = Cli(b + " consume --topic orders --group billing --from-beginning --max-records 100");
  ASSERT_EQ(r.status, 0) << r.output << r.errors;
  std::vector<std::string> seen = Lines(r.output);
  std::sort(seen.begin(), seen.end());
  std::vector<std::string> want = Lines(records);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(seen, want);
  r = Cli(b + " groups list");
  EXPECT_EQ(r.status, 0) << r.output << r.errors;
  EXPECT_NE(r.output.find("billing"), std::string::npos) << r.output << r.errors;

  // The controller answers on its own listener and sees its own broker.
  r = Cli(fmt::format("--bootstrap 127.0.0.1:{} cluster describe --json", c.node(1).controller));
  EXPECT_EQ(r.status, 0) << r.output << r.errors;
  EXPECT_NE(r.output.find("\"active_controller\": 1"), std::string::npos) << r.output << r.errors;
  EXPECT_NE(r.output.find("\"state\": \"running\""), std::string::npos) << r.output << r.errors;

  // Both roles' metrics in one exposition.
  const std::string metrics = HttpGet(c.node(1).metrics_address(), "/metrics");
  EXPECT_NE(metrics.find("strand_controller_active 1"), std::string::npos);
  EXPECT_NE(metrics.find("strand_broker_partitions{state=\"leader\"}"), std::string::npos);
  EXPECT_NE(metrics.find("strand_raft_is_leader 1"), std::string::npos);

  c.node(1).process->Signal(SIGTERM);
  const int status = c.node(1).process->Wait(20s);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << c.log(1);

  // Restarted on the same data: what was written is there, and the group's offsets too.
  c.Start(1);
  ASSERT_TRUE(Eventually([&] { return c.Ready(1); }, 30s)) << c.log(1);
  r = Cli(b + " consume --topic orders --from-beginning --max-records 100");
  EXPECT_EQ(r.status, 0) << r.output << r.errors;
  EXPECT_EQ(Lines(r.output).size(), 100u);
  r = Cli(b + " groups describe billing");
  EXPECT_EQ(r.status, 0) << r.output << r.errors;
  EXPECT_NE(r.output.find("orders"), std::string::npos) << r.output << r.errors;
}

TEST(CombinedModeTest, ThreeProcessesReplicateAndSurviveTheActiveControllerDying) {
  CombinedCluster c(3, "offsets.topic.num.partitions=3\n");
  for (int id : {1, 2, 3}) c.Start(id);
  for (int id : {1, 2, 3}) {
    ASSERT_TRUE(Eventually([&] { return c.Ready(id); }, 40s))
        << "node " << id << ": " << HttpFetch(c.node(id).metrics_address(), "/readyz").body
        << c.log(id);
  }
  const std::string b = "--bootstrap " + c.bootstrap();
  CliRun r = Cli(b +
                 " topics create orders --partitions 3 --replication-factor 3 --config "
                 "min.insync.replicas=2");
  ASSERT_EQ(r.status, 0) << r.output << r.errors;
  std::string first, second;
  for (int i = 0; i < 100; ++i) first += fmt::format("a-{}\n", i);
  for (int i = 0; i < 100; ++i) second += fmt::format("b-{}\n", i);
  r = Cli(b + " produce --topic orders", first);
  ASSERT_EQ(r.status, 0) << r.output << r.errors;

  // The active controller's process dies: its broker with it.
  int active = 0;
  for (int id : {1, 2, 3}) {
    if (HttpGet(c.node(id).metrics_address(), "/metrics").find("strand_controller_active 1") !=
        std::string::npos) {
      active = id;
    }
  }
  ASSERT_NE(active, 0);
  c.node(active).process->Signal(SIGKILL);
  c.node(active).process->Wait(10s);
  r = Cli(b + " produce --topic orders", second);  // the CLI retries through the failover
  ASSERT_EQ(r.status, 0) << r.output << r.errors;

  c.Start(active);
  EXPECT_TRUE(Eventually([&] { return c.Ready(active); }, 60s))
      << HttpFetch(c.node(active).metrics_address(), "/readyz").body << c.log(active);
  r = Cli(b + " consume --topic orders --from-beginning --max-records 200");
  ASSERT_EQ(r.status, 0) << r.output << r.errors;
  std::vector<std::string> seen = Lines(r.output);
  std::sort(seen.begin(), seen.end());
  std::vector<std::string> want = Lines(first + second);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(seen, want);
}

}  // namespace
}  // namespace strand::testing
