// Integration test of the Raft library with real processes: three raft-node processes (gRPC
// transport, RocksDB storage, fsync) on 127.0.0.1 commit a stream of proposals; the leader is
// SIGKILLed mid-stream; a new leader must be elected and take over; every proposal that was
// acknowledged as committed must be present, at its index, on every node — after the killed
// node restarts, and again after all three restart.
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <thread>

#include "proto/raft/v1/raft_node.grpc.pb.h"
#include "tests/integration/test_process.h"

namespace strand::raft {
namespace {

using namespace std::chrono_literals;
using strand::testing::ChildProcess;

uint64_t Fnv1a(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

class RaftClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string voters;
    for (int id = 1; id <= 3; ++id) {
      ports_[id] = strand::testing::FreePort();
      voters += fmt::format("{}{}@127.0.0.1:{}", id == 1 ? "" : ",", id, ports_[id]);
    }
    voters_ = voters;
    for (int id = 1; id <= 3; ++id) {
      Start(id);
      auto channel = grpc::CreateChannel(fmt::format("127.0.0.1:{}", ports_[id]),
                                         grpc::InsecureChannelCredentials());
      stubs_[id] = v1::RaftNode::NewStub(channel);
    }
  }

  void Start(int id) {
    nodes_[id] = std::make_unique<ChildProcess>(
        "raft-node",
        std::vector<std::string>{"--id", std::to_string(id), "--voters", voters_, "--listen",
                                 fmt::format("127.0.0.1:{}", ports_[id]), "--data-dir",
                                 fmt::format("{}/node-{}", dir_.path(), id), "--tick-ms", "20",
                                 "--snapshot-interval", "200"},
        fmt::format("{}/node-{}.log", dir_.path(), id));
  }

  std::optional<v1::StatusResponse> StatusOf(int id) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 500ms);
    v1::StatusResponse r;
    if (!stubs_[id]->Status(&ctx, v1::StatusRequest(), &r).ok()) return std::nullopt;
    return r;
  }

  // The node every live node agrees leads, within `timeout`.
  std::optional<int> WaitForLeader(std::chrono::milliseconds timeout, int excluded = 0) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      for (int id = 1; id <= 3; ++id) {
        if (id == excluded) continue;
        auto s = StatusOf(id);
        if (s && s->role() == "leader") return id;
      }
      std::this_thread::sleep_for(20ms);
    }
    return std::nullopt;
  }

  // Proposes `data` to `leader`; returns the committed index, or 0 (and updates `leader` from the
  // hint when the node was not the leader).
  uint64_t Propose(int& leader, const std::string& data) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 2s);
    v1::ProposeRequest req;
    req.set_data(data);
    v1::ProposeResponse resp;
    if (!stubs_[leader]->Propose(&ctx, req, &resp).ok()) return 0;
    if (!resp.error().empty()) {
      if (resp.leader_hint() >= 1 && resp.leader_hint() <= 3) leader = resp.leader_hint();
      return 0;
    }
    return resp.index();
  }

  std::map<uint64_t, uint64_t> AppliedOn(int id) {
    std::map<uint64_t, uint64_t> out;
    uint64_t from = 1;
    while (true) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 5s);
      v1::AppliedRequest req;
      req.set_from_index(from);
      req.set_max_entries(10'000);
      v1::AppliedResponse resp;
      if (!stubs_[id]->Applied(&ctx, req, &resp).ok() || resp.entries_size() == 0) break;
      for (const auto& e : resp.entries()) out[e.index()] = e.hash();
      from = resp.entries(resp.entries_size() - 1).index() + 1;
    }
    return out;
  }

  // Waits until every node has applied at least `index`.
  bool WaitApplied(uint64_t index, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      bool all = true;
      for (int id = 1; id <= 3; ++id) {
        auto s = StatusOf(id);
        all = all && s && s->applied_index() >= index;
      }
      if (all) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  void ExpectAllAcknowledgedEverywhere(const std::map<uint64_t, uint64_t>& acked) {
    for (int id = 1; id <= 3; ++id) {
      auto applied = AppliedOn(id);
      size_t missing = 0;
      for (const auto& [index, hash] : acked) {
        auto it = applied.find(index);
        if (it == applied.end() || it->second != hash) ++missing;
      }
      EXPECT_EQ(missing, 0u) << "node " << id << " lacks acknowledged entries\n"
                             << strand::testing::Tail(nodes_[id]->log_path());
    }
  }

  strand::testing::TempDir dir_{"strand-raft-cluster"};
  std::string voters_;
  std::map<int, int> ports_;
  std::map<int, std::unique_ptr<ChildProcess>> nodes_;
  std::map<int, std::unique_ptr<v1::RaftNode::Stub>> stubs_;
};

TEST_F(RaftClusterTest, LeaderKilledMidStream_AcknowledgedProposalsSurvive) {
  auto first = WaitForLeader(20s);
  ASSERT_TRUE(first.has_value()) << strand::testing::Tail(nodes_[1]->log_path());
  int leader = *first;
  std::map<uint64_t, uint64_t> acked;  // index -> hash of every acknowledged proposal
  int sequence = 0;
  int killed = 0;
  std::chrono::steady_clock::time_point killed_at;
  std::optional<double> failover_ms;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (acked.size() < 1200 && std::chrono::steady_clock::now() < deadline) {
    const std::string data = fmt::format("proposal-{}", sequence++);
    const uint64_t index = Propose(leader, data);
    if (index > 0) {
      acked[index] = Fnv1a(data);
      if (killed != 0 && !failover_ms) {
        failover_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - killed_at)
                .count();
      }
    } else if (killed != 0 && leader == killed) {
      leader = leader % 3 + 1;  // the dead node gives no hint; try another
    }
    if (acked.size() == 400 && killed == 0) {
      killed = leader;
      nodes_[killed]->Signal(SIGKILL);  // mid-stream, no warning
      nodes_[killed]->Wait(5s);
      killed_at = std::chrono::steady_clock::now();
    }
  }
  ASSERT_NE(killed, 0);
  ASSERT_TRUE(failover_ms.has_value()) << "no proposal was committed after the leader died";
  ASSERT_GE(acked.size(), 1200u);
  auto second = WaitForLeader(10s, killed);
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(*second, killed);
  std::printf("failover: first acknowledged write %.0f ms after SIGKILL of leader %d\n",
              *failover_ms, killed);

  Start(killed);  // the killed node restarts and must catch up
  ASSERT_TRUE(WaitApplied(acked.rbegin()->first, 30s));
  ExpectAllAcknowledgedEverywhere(acked);

  // Restart everything: what was acknowledged is still there, from disk.
  for (int id = 1; id <= 3; ++id) nodes_[id]->Stop();
  for (int id = 1; id <= 3; ++id) Start(id);
  ASSERT_TRUE(WaitForLeader(20s).has_value());
  ASSERT_TRUE(WaitApplied(acked.rbegin()->first, 30s));
  ExpectAllAcknowledgedEverywhere(acked);
}

}  // namespace
}  // namespace strand::raft
