// bench-controller: the controller quorum's metadata throughput, failover time and scale.
//
// Starts three strand-server controllers on 127.0.0.1 and three brokers stood in for by
// BrokerLifecycle sessions (so topics can be placed), then, by --mode:
//   ops       topic creations (1 partition, RF 3) for --seconds with 1, 16 and 64 callers in
//             flight: creations/s and latency p50/p99/max, measured at the client
//   failover  --kills times: SIGKILL the active controller, time until the next creation is
//             acknowledged (the client retries every controller), restart it; p50/p99/max
//   scale     create topics up to --partitions partitions (RF 3), then report each controller's
//             resident memory, the snapshot size, how long a controller takes to load it at
//             restart, and the failover time with that image
// Run by hand; everything shares the machine's cores, client included.

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include "broker/lifecycle/broker_lifecycle.h"
#include "proto/admin/v1/admin.grpc.pb.h"
#include "tests/integration/test_process.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace admin = strand::admin::v1;
using strand::NodeId;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

class Cluster {
 public:
  explicit Cluster(std::vector<std::string> extra) : extra_(std::move(extra)) {
    for (int id = 1; id <= 3; ++id) {
      addresses_[id] = fmt::format("127.0.0.1:{}", strand::testing::FreePort());
      voters_[NodeId(id)] = addresses_[id];
      quorum_ += fmt::format("{}{}@{}", id == 1 ? "" : ",", id, addresses_[id]);
    }
    for (int id = 1; id <= 3; ++id) {
      Start(id);
      stubs_[id] = admin::AdminService::NewStub(
          grpc::CreateChannel(addresses_[id], grpc::InsecureChannelCredentials()));
    }
    for (int id = 101; id <= 103; ++id) {
      strand::broker::BrokerLifecycleOptions o;
      o.cluster_id = "bench";
      o.broker_id = NodeId(id);
      strand::controller::v1::Listener l;
      l.set_name("CLIENT");
      l.set_host("127.0.0.1");
      l.set_port(40000 + id);
      o.listeners = {l};
      o.rack = fmt::format("rack-{}", id % 3);
      o.controllers = voters_;
      brokers_.push_back(
          std::make_unique<strand::broker::BrokerLifecycle>(o, [] { return UINT64_MAX; }));
      brokers_.back()->Start();
    }
    for (auto& b : brokers_) b->WaitUnfenced(30s);
  }

  void Start(int id) {
    std::vector<std::string> args{"--node-id=" + std::to_string(id),
                                  "--controller-quorum=" + quorum_, "--config=listeners=CONTROLLER://" + addresses_[id],
 "--config=controller.listener.names=CONTROLLER",
                                  fmt::format("--data-dir={}/c{}", dir_.path(), id),
                                  "--cluster-id=bench", "--log-level=warn",
                                  fmt::format("--metrics-listen=127.0.0.1:{}",
                                              strand::testing::FreePort()),
                                  // The scale mode goes far past the default partition limits
                                  // (its brokers are stand-ins that open no logs).
                                  "--config", "max.broker.partitions=1000000",
                                  "--config", "max.partitions=10000000"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    nodes_[id] = std::make_unique<strand::testing::ChildProcess>(
        "strand-server", args, fmt::format("{}/c{}.log", dir_.path(), id));
  }

  int Active() {
    for (int id = 1; id <= 3; ++id) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 500ms);
      admin::DescribeClusterResponse r;
      if (nodes_[id]->Running() && stubs_[id]->DescribeCluster(&ctx, {}, &r).ok() &&
          r.active_controller() > 0 && r.error().code() == 0) {
        return r.active_controller();
      }
    }
    return 0;
  }

  // A synchronous creation on controller `id`: true when acknowledged.
  bool Create(int id, const std::string& name, int partitions) {
    admin::CreateTopicsRequest req;
    auto* t = req.add_topics();
    t->set_name(name);
    t->set_partitions(partitions);
    t->set_replication_factor(3);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 2s);
    admin::CreateTopicsResponse resp;
    return stubs_[id]->CreateTopics(&ctx, req, &resp).ok() && resp.topics(0).error().code() == 0;
  }

  strand::testing::TempDir dir_{"strand-bench-controller"};
  std::vector<std::string> extra_;
  std::map<int, std::string> addresses_;
  std::map<NodeId, std::string> voters_;
  std::string quorum_;
  std::map<int, std::unique_ptr<strand::testing::ChildProcess>> nodes_;
  std::map<int, std::unique_ptr<admin::AdminService::Stub>> stubs_;
  std::vector<std::unique_ptr<strand::broker::BrokerLifecycle>> brokers_;
};

// Keeps `in_flight` creations outstanding against the active controller for `seconds`.
void RunOps(Cluster& c, int in_flight, int seconds, int* counter) {
  const int active = c.Active();
  std::mutex mu;
  std::condition_variable cv;
  std::vector<double> latencies;
  uint64_t failed = 0;
  int outstanding = in_flight;
  const auto start = Clock::now();
  const auto end = start + std::chrono::seconds(seconds);
  std::function<void()> issue = [&] {
    struct Call {
      grpc::ClientContext ctx;
      admin::CreateTopicsRequest req;
      admin::CreateTopicsResponse resp;
      Clock::time_point started = Clock::now();
    };
    auto call = std::make_shared<Call>();
    auto* t = call->req.add_topics();
    {
      std::lock_guard lock(mu);
      t->set_name(fmt::format("ops-{}", (*counter)++));
    }
    t->set_partitions(1);
    t->set_replication_factor(3);
    call->ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    c.stubs_[active]->async()->CreateTopics(
        &call->ctx, &call->req, &call->resp, [&, call](grpc::Status s) {
          bool again;
          {
            std::lock_guard lock(mu);
            if (s.ok() && call->resp.topics(0).error().code() == 0) {
              latencies.push_back(Ms(Clock::now() - call->started));
            } else {
              ++failed;
            }
            again = Clock::now() < end;
            if (!again) --outstanding;
            cv.notify_all();
          }
          if (again) issue();
        });
  };
  for (int i = 0; i < in_flight; ++i) issue();
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return outstanding == 0; });
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("creations in_flight=%d ops/s=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f failed=%lu\n",
              in_flight, static_cast<double>(latencies.size()) / secs,
              Percentile(latencies, 0.5), Percentile(latencies, 0.99),
              Percentile(latencies, 1.0), failed);
  std::fflush(stdout);
}

// SIGKILL the active controller; ms until a creation is acknowledged anywhere.
double OneFailover(Cluster& c, int* counter) {
  const int victim = c.Active();
  c.nodes_[victim]->Signal(SIGKILL);
  c.nodes_[victim]->Wait(5s);
  const auto killed = Clock::now();
  int target = victim % 3 + 1;
  while (Clock::now() - killed < 30s) {
    if (c.Create(target, fmt::format("failover-{}", (*counter)++), 1)) break;
    target = target % 3 + 1;
    if (target == victim) target = target % 3 + 1;
  }
  const double ms = Ms(Clock::now() - killed);
  c.Start(victim);
  std::this_thread::sleep_for(1500ms);  // let it rejoin before the next kill
  return ms;
}

void Failover(Cluster& c, int kills, int* counter) {
  std::vector<double> times;
  for (int i = 0; i < kills; ++i) {
    if (c.Active() == 0) std::this_thread::sleep_for(1s);
    times.push_back(OneFailover(c, counter));
    std::printf("  kill %d: first acknowledged creation after %.0f ms\n", i + 1, times.back());
    std::fflush(stdout);
  }
  std::printf("failover kills=%d p50_ms=%.0f p99_ms=%.0f max_ms=%.0f\n", kills,
              Percentile(times, 0.5), Percentile(times, 0.99), Percentile(times, 1.0));
}

long RssKb(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

void Scale(Cluster& c, int partitions, int* counter) {
  const int per_topic = 100;
  const auto start = Clock::now();
  for (int made = 0; made < partitions;) {
    int active = c.Active();
    if (active && c.Create(active, fmt::format("scale-{}", (*counter)++), per_topic)) {
      made += per_topic;
    }
  }
  std::printf("scale: created %d partitions (RF 3) in %.1f s\n", partitions,
              Ms(Clock::now() - start) / 1000);
  std::this_thread::sleep_for(3s);
  for (int id = 1; id <= 3; ++id) {
    std::printf("scale: controller %d resident memory %.1f MiB\n", id,
                static_cast<double>(RssKb(c.nodes_[id]->pid())) / 1024);
  }
  // Snapshot size: the newest snapshot file of any controller.
  uintmax_t snapshot = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(c.dir_.path())) {
    if (e.path().extension() == ".snap") snapshot = std::max(snapshot, e.file_size());
  }
  std::printf("scale: snapshot size %.1f MiB\n", static_cast<double>(snapshot) / (1 << 20));
  // Load time: restart a standby and time until it answers a linearizable read.
  const int standby = c.Active() % 3 + 1;
  c.nodes_[standby]->Stop();
  const auto restarted = Clock::now();
  c.Start(standby);
  while (Clock::now() - restarted < 120s) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 1s);
    admin::ListTopicsResponse r;
    if (c.stubs_[standby]->ListTopics(&ctx, {}, &r).ok() && r.error().code() == 0 &&
        r.topics_size() > partitions / per_topic / 2) {
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  std::printf("scale: restart to first linearizable read (snapshot load + catch-up) %.0f ms\n",
              Ms(Clock::now() - restarted));
  std::vector<double> times;
  for (int i = 0; i < 3; ++i) times.push_back(OneFailover(c, counter));
  std::printf("scale: failover with %d partitions p50_ms=%.0f max_ms=%.0f (3 kills)\n", partitions,
              Percentile(times, 0.5), Percentile(times, 1.0));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench-controller: metadata throughput, failover and scale of the controllers"};
  std::string mode = "ops";
  int seconds = 5, kills = 20, partitions = 100'000;
  app.add_option("--mode", mode, "ops, failover or scale")
      ->check(CLI::IsMember({"ops", "failover", "scale"}));
  app.add_option("--seconds", seconds, "duration of each ops case");
  app.add_option("--kills", kills, "failover: SIGKILLs of the active controller");
  app.add_option("--partitions", partitions, "scale: partitions to create");
  CLI11_PARSE(app, argc, argv);
  std::vector<std::string> extra;
  if (mode == "scale") extra = {"--snapshot-interval=200", "--snapshot-trailing-entries=10"};
  Cluster cluster(extra);
  int counter = 0;
  while (cluster.Active() == 0) std::this_thread::sleep_for(20ms);
  std::printf("bench-controller: 3 controllers + 3 broker sessions on 127.0.0.1, mode %s\n",
              mode.c_str());
  if (mode == "ops") {
    for (int n : {1, 16, 64}) RunOps(cluster, n, seconds, &counter);
  } else if (mode == "failover") {
    Failover(cluster, kills, &counter);
  } else {
    Scale(cluster, partitions, &counter);
  }
  for (auto& b : cluster.brokers_) b->Stop();
  for (auto& [id, n] : cluster.nodes_) n->Stop();
  return 0;
}
