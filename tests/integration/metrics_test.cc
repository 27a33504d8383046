// Every process's /metrics against Prometheus's own linter, on a real cluster (3 controllers,
// 3 brokers) after a topic is written, read by a consumer group and its offsets committed — so
// the replication, request, storage and group series all exist: `promtool check metrics` (from
// Debian's prometheus package, installed by scripts/install-deps.sh) finds nothing to say about
// any of them (base units, _total counters, no _count gauges, help text, label names); every
// series docs/metrics.md lists exists on the processes it names, with its type, and every
// family a process exports is listed there.
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/client_cluster_support.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;

struct Lint {
  int status = -1;     // promtool's exit status; -1 when it could not run
  std::string output;  // what it printed
};

Lint PromtoolCheckMetrics(const std::string& exposition, const std::string& dir) {
  const std::string path = dir + "/metrics.txt";
  {
    std::ofstream out(path);
    out << exposition;
  }
  Lint lint;
  FILE* pipe = popen(fmt::format("promtool check metrics < {} 2>&1", path).c_str(), "r");
  if (pipe == nullptr) return lint;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    lint.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  lint.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return lint;
}

// A row of docs/metrics.md's series table.
struct Documented {
  std::string type;     // counter, gauge, histogram
  std::string process;  // controller, broker, both
  bool on_event = false;  // its series appear only once something happens (an error)
};

std::map<std::string, Documented> DocumentedSeries() {
  std::ifstream in(std::string(STRAND_SOURCE_DIR) + "/docs/metrics.md");
  std::map<std::string, Documented> out;
  const std::regex row(R"(^\| `(strand_[a-z0-9_]+)` \| (counter|gauge|histogram) \| [^|]* \| (controller|broker|both) \| (.*)\|$)");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, row)) continue;
    out[m[1]] = {m[2], m[3], m[4].str().find("appear with the first") != std::string::npos};
  }
  return out;
}

// "# TYPE name type" lines of an exposition.
std::map<std::string, std::string> Families(const std::string& exposition) {
  std::map<std::string, std::string> out;
  std::istringstream in(exposition);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    std::istringstream words(line.substr(7));
    std::string name, type;
    words >> name >> type;
    out[name] = type;
  }
  return out;
}

TEST(MetricsTest, EveryProcessPassesPromtoolCheckMetrics) {
  ClusterOptions options;
  options.broker_args = {"--config=offsets.topic.num.partitions=3"};
  options.controller_args = {"--config=offsets.topic.num.partitions=3"};
  StrandCluster c(options);
  ASSERT_TRUE(c.WaitForBrokers(30s));
  CreateTopicAndWait(c, "orders", 3);
  {
    auto producer = MakeProducer(c);
    ASSERT_NE(producer, nullptr);
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(
          producer->Send({.topic = "orders", .value = fmt::format("v{}", i)}, nullptr).ok());
    }
    producer->Flush();
  }
  {
    auto consumer = MakeConsumer(c, {{"group.id", "billing"}, {"enable.auto.commit", "false"}});
    ASSERT_NE(consumer, nullptr);
    ASSERT_TRUE(consumer->Subscribe({"orders"}).ok());
    size_t seen = 0;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (seen < 100 && std::chrono::steady_clock::now() < deadline) {
      auto records = consumer->Poll(200ms);
      if (records.ok()) seen += records->size();
    }
    EXPECT_EQ(seen, 100u);
    EXPECT_TRUE(consumer->CommitSync().ok());
    consumer->Close();
  }

  // The coordinator computes lag every 10 s.
  EXPECT_TRUE(Eventually(
      [&] {
        for (int id : {101, 102, 103}) {
          if (HttpGet(c.metrics_address(id), "/metrics").find("strand_consumer_group_lag{") !=
              std::string::npos) {
            return true;
          }
        }
        return false;
      },
      30s));

  const std::map<std::string, Documented> documented = DocumentedSeries();
  ASSERT_GT(documented.size(), 50u) << "docs/metrics.md's table was not read";
  std::map<std::string, std::set<std::string>> exported;  // family -> roles exporting it
  TempDir dir("metrics");
  for (int id : {1, 2, 3, 101, 102, 103}) {
    const std::string exposition = HttpGet(c.metrics_address(id), "/metrics");
    for (const auto& [name, type] : Families(exposition)) {
      exported[name].insert(id < 100 ? "controller" : "broker");
      auto doc = documented.find(name);
      if (doc == documented.end()) {
        ADD_FAILURE() << "node " << id << " exports " << name
                      << ", which docs/metrics.md does not list";
        continue;
      }
      EXPECT_EQ(type, doc->second.type) << name << " on node " << id;
    }
    ASSERT_FALSE(exposition.empty()) << "node " << id << " served no /metrics";
    const Lint lint = PromtoolCheckMetrics(exposition, dir.path());
    EXPECT_EQ(lint.status, 0) << "node " << id << ": promtool check metrics:\n" << lint.output;
    EXPECT_EQ(lint.output, "") << "node " << id;
    const bool controller = id < 100;
    for (const char* family :
         controller
             ? std::vector<const char*>{"strand_controller_active", "strand_controller_partitions"}
             : std::vector<const char*>{"strand_broker_requests_total",
                                        "strand_group_coordinator_groups",
                                        "strand_storage_fsync_duration_seconds"}) {
      EXPECT_NE(exposition.find(std::string("# TYPE ") + family + " "), std::string::npos)
          << "node " << id << " exports no " << family;
    }
  }
  for (const auto& [name, doc] : documented) {
    if (doc.on_event) continue;
    const std::set<std::string> roles = doc.process == "both"
                                            ? std::set<std::string>{"controller", "broker"}
                                            : std::set<std::string>{doc.process};
    EXPECT_EQ(exported[name], roles) << name << ": docs/metrics.md says " << doc.process;
  }
}

}  // namespace
}  // namespace strand::testing
