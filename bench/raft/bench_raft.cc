// bench-raft: committed proposals per second and commit latency of a 3-node Raft cluster.
//
// Starts three raft-node processes on 127.0.0.1 (gRPC transport, RocksDB with an fsync before
// every acknowledgement), finds the leader, and for each entry size (100 B, 1 KiB) and each
// concurrency (1 proposer, 64 in flight) proposes for --seconds, printing one line per case:
// proposals/s, MB/s and latency p50/p99/max measured at the client (propose -> committed and
// applied on the leader). Run by hand: build/bin/bench-raft [--seconds 5]. Everything shares
// this machine's cores, client included.

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "proto/raft/v1/raft_node.grpc.pb.h"
#include "tests/integration/test_process.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace v1 = strand::raft::v1;

struct Result {
  uint64_t ok = 0;
  uint64_t failed = 0;
  std::vector<double> latencies_ms;
  double seconds = 0;
};

// Keeps `in_flight` proposals outstanding against the leader for `duration`.
Result Run(v1::RaftNode::Stub& stub, size_t entry_bytes, int in_flight,
           std::chrono::seconds duration) {
  Result result;
  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0;
  const std::string payload(entry_bytes, 'x');
  const auto start = Clock::now();
  const auto end = start + duration;
  std::function<void()> issue;
  issue = [&] {
    struct Call {
      grpc::ClientContext ctx;
      v1::ProposeRequest req;
      v1::ProposeResponse resp;
      Clock::time_point started;
    };
    auto call = std::make_shared<Call>();
    call->req.set_data(payload);
    call->ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    call->started = Clock::now();
    stub.async()->Propose(&call->ctx, &call->req, &call->resp, [&, call](grpc::Status s) {
      const double ms =
          std::chrono::duration<double, std::milli>(Clock::now() - call->started).count();
      bool again;
      {
        std::lock_guard lock(mu);
        if (s.ok() && call->resp.error().empty()) {
          ++result.ok;
          result.latencies_ms.push_back(ms);
        } else {
          ++result.failed;
        }
        again = Clock::now() < end;
        if (!again) --outstanding;
        cv.notify_all();
      }
      if (again) issue();
    });
  };
  {
    std::lock_guard lock(mu);
    outstanding = in_flight;
  }
  for (int i = 0; i < in_flight; ++i) issue();
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return outstanding == 0; });
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench-raft: throughput and commit latency of a 3-node Strand Raft cluster"};
  int seconds = 5;
  int tick_ms = 50;
  app.add_option("--seconds", seconds, "duration of each case")->check(CLI::Range(1, 600));
  app.add_option("--tick-ms", tick_ms, "Raft tick of the nodes");
  CLI11_PARSE(app, argc, argv);

  strand::testing::TempDir dir("strand-bench-raft");
  std::string voters;
  int ports[4];
  for (int id = 1; id <= 3; ++id) {
    ports[id] = strand::testing::FreePort();
    voters += fmt::format("{}{}@127.0.0.1:{}", id == 1 ? "" : ",", id, ports[id]);
  }
  std::vector<std::unique_ptr<strand::testing::ChildProcess>> nodes;
  std::vector<std::unique_ptr<v1::RaftNode::Stub>> stubs(4);
  for (int id = 1; id <= 3; ++id) {
    nodes.push_back(std::make_unique<strand::testing::ChildProcess>(
        "raft-node",
        std::vector<std::string>{"--id", std::to_string(id), "--voters", voters, "--listen",
                                 fmt::format("127.0.0.1:{}", ports[id]), "--data-dir",
                                 fmt::format("{}/node-{}", dir.path(), id), "--tick-ms",
                                 std::to_string(tick_ms), "--log-level", "warn"},
        fmt::format("{}/node-{}.log", dir.path(), id)));
    stubs[id] = v1::RaftNode::NewStub(grpc::CreateChannel(fmt::format("127.0.0.1:{}", ports[id]),
                                                          grpc::InsecureChannelCredentials()));
  }
  int leader = 0;
  for (int attempt = 0; attempt < 500 && leader == 0; ++attempt) {
    for (int id = 1; id <= 3 && leader == 0; ++id) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 200ms);
      v1::StatusResponse s;
      if (stubs[id]->Status(&ctx, v1::StatusRequest(), &s).ok() && s.role() == "leader") {
        leader = id;
      }
    }
    if (leader == 0) std::this_thread::sleep_for(20ms);
  }
  if (leader == 0) {
    std::fprintf(stderr, "bench-raft: no leader elected\n");
    return 1;
  }
  std::printf(
      "bench-raft: 3 raft-node processes on 127.0.0.1, RocksDB fsync per Ready, leader "
      "node %d, %d s per case\n",
      leader, seconds);
  for (size_t bytes : {size_t{100}, size_t{1024}}) {
    for (int in_flight : {1, 64}) {
      Result r = Run(*stubs[leader], bytes, in_flight, std::chrono::seconds(seconds));
      const double rate = static_cast<double>(r.ok) / r.seconds;
      std::printf(
          "entry=%zuB proposers=%d committed/s=%.0f MB/s=%.2f p50_ms=%.2f p99_ms=%.2f "
          "max_ms=%.2f failed=%lu\n",
          bytes, in_flight, rate, rate * static_cast<double>(bytes) / 1e6,
          Percentile(r.latencies_ms, 0.50), Percentile(r.latencies_ms, 0.99),
          Percentile(r.latencies_ms, 1.0), r.failed);
      std::fflush(stdout);
    }
  }
  for (auto& n : nodes) n->Stop();
  return 0;
}
