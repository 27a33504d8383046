// raft-node: a standalone process that replicates an append-only log with the Strand Raft
// library (RocksDB storage, gRPC transport, the driver). Used by the Raft integration test and
// bench-raft, and a compact example of embedding the library.
//
//   raft-node --id 1 --voters 1@127.0.0.1:7001,2@127.0.0.1:7002,3@127.0.0.1:7003
//             --listen 127.0.0.1:7001 --data-dir /tmp/raft-1
//
// Clients use the RaftNode service (proto/raft/v1/raft_node.proto) on the same port.

#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <mutex>

#include "common/grpc_server.h"
#include "common/logging.h"
#include "common/quorum_spec.h"
#include "proto/raft/v1/raft_node.grpc.pb.h"
#include "raft/core/errc.h"
#include "raft/driver/raft_driver.h"
#include "raft/storage/rocksdb_storage.h"
#include "raft/transport/grpc_transport.h"

namespace strand::raft {
namespace {

uint64_t Fnv1a(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

// The replicated state: (index, hash) of every applied entry. Applied on the driver thread,
// read by gRPC threads.
class LogMachine final : public StateMachine {
 public:
  void Apply(const Entry& e) override {
    std::lock_guard lock(mu_);
    entries_.push_back({e.index.value(), Fnv1a(e.data)});
  }
  std::string TakeSnapshot() override {
    std::lock_guard lock(mu_);
    std::string out(entries_.size() * 16, '\0');
    std::memcpy(out.data(), entries_.data(), out.size());
    return out;
  }
  absl::Status Restore(const std::string& data, LogIndex) override {
    if (data.size() % 16 != 0) return absl::DataLossError("snapshot size is not a multiple of 16");
    std::lock_guard lock(mu_);
    entries_.resize(data.size() / 16);
    std::memcpy(entries_.data(), data.data(), data.size());
    return absl::OkStatus();
  }
  void Read(uint64_t from, uint32_t max, v1::AppliedResponse* out) {
    std::lock_guard lock(mu_);
    auto it = std::lower_bound(entries_.begin(), entries_.end(), from,
                               [](const Item& i, uint64_t v) { return i.index < v; });
    for (; it != entries_.end() && out->entries_size() < static_cast<int>(max); ++it) {
      auto* e = out->add_entries();
      e->set_index(it->index);
      e->set_hash(it->hash);
    }
  }
  uint64_t count() {
    std::lock_guard lock(mu_);
    return entries_.size();
  }

 private:
  struct Item {
    uint64_t index;
    uint64_t hash;
  };
  std::mutex mu_;
  std::vector<Item> entries_;
};

class NodeService final : public v1::RaftNode::CallbackService {
 public:
  NodeService(RaftDriver& driver, LogMachine& machine, std::map<NodeId, std::string> voters)
      : driver_(driver), machine_(machine), voters_(std::move(voters)) {}

  grpc::ServerUnaryReactor* Propose(grpc::CallbackServerContext* ctx,
                                    const v1::ProposeRequest* request,
                                    v1::ProposeResponse* response) override {
    auto* reactor = ctx->DefaultReactor();
    driver_.Propose(request->data(), [this, reactor, response](absl::StatusOr<LogIndex> r) {
      if (r.ok()) {
        response->set_index(r->value());
      } else {
        response->set_error(std::string(r.status().message()));
        const NodeId leader = driver_.Status().leader;
        response->set_leader_hint(leader.value());
        if (auto it = voters_.find(leader); it != voters_.end()) {
          response->set_leader_address(it->second);
        }
      }
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

  grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext* ctx, const v1::ReadRequest*,
                                 v1::ReadResponse* response) override {
    auto* reactor = ctx->DefaultReactor();
    driver_.ReadBarrier([this, reactor, response](absl::Status s) {
      if (s.ok()) {
        response->set_applied_entries(machine_.count());
      } else {
        response->set_error(std::string(s.message()));
      }
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

  grpc::ServerUnaryReactor* Applied(grpc::CallbackServerContext* ctx,
                                    const v1::AppliedRequest* request,
                                    v1::AppliedResponse* response) override {
    machine_.Read(request->from_index(), std::min<uint32_t>(request->max_entries(), 100'000),
                  response);
    response->set_applied_index(driver_.Status().applied.value());
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx, const v1::StatusRequest*,
                                   v1::StatusResponse* response) override {
    const NodeStatus s = driver_.Status();
    response->set_id(s.id.value());
    response->set_role(std::string(RoleName(s.role)));
    response->set_term(s.term.value());
    response->set_leader(s.leader.value());
    response->set_last_index(s.last_index.value());
    response->set_commit_index(s.commit.value());
    response->set_applied_index(s.applied.value());
    response->set_snapshot_index(s.snapshot_index.value());
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* TransferLeadership(grpc::CallbackServerContext* ctx,
                                               const v1::TransferRequest* request,
                                               v1::TransferResponse*) override {
    driver_.TransferLeadership(NodeId(request->target()));
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  RaftDriver& driver_;
  LogMachine& machine_;
  const std::map<NodeId, std::string> voters_;
};

int Main(int argc, char** argv) {
  CLI::App app{"raft-node: one member of a replicated append-only log (Strand Raft library)"};
  int id = -1;
  std::string voters_spec, listen, data_dir, cluster_id = "raft-node", log_level = "info";
  std::string metrics_listen;
  DriverOptions options;
  Config config;
  app.add_option("--id", id, "this node's id (one of --voters)")->required();
  app.add_option("--voters", voters_spec, "id@host:port,... of every voter")->required();
  app.add_option("--listen", listen, "host:port for Raft and client traffic")->required();
  app.add_option("--data-dir", data_dir, "directory for the log and snapshots")->required();
  app.add_option("--cluster-id", cluster_id, "peers with another id are refused");
  app.add_option("--tick-ms", options.tick_ms, "Raft tick")->check(CLI::Range(1, 10'000));
  app.add_option("--election-ticks", config.election_timeout_ticks, "election timeout in ticks")
      ->check(CLI::Range(2, 1'000));
  app.add_option("--snapshot-interval", config.snapshot_interval_entries,
                 "entries between snapshots")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  app.add_option("--metrics-listen", metrics_listen, "host:port for /metrics (off when empty)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  CLI11_PARSE(app, argc, argv);
  InitLogging(log_level);
  TuneProcessRuntime();

  // Signals are taken synchronously by the main thread; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto voters = ParseQuorumVoters(voters_spec);
  if (!voters.ok()) {
    std::fprintf(stderr, "raft-node: --voters: %s\n",
                 std::string(voters.status().message()).c_str());
    return 2;
  }
  config.id = NodeId(id);
  for (const auto& [voter, address] : *voters) config.voters.push_back(voter);
  if (absl::Status s = config.Validate(); !s.ok()) {
    std::fprintf(stderr, "raft-node: %s\n", s.ToString().c_str());
    return 2;
  }
  auto storage = RocksDbStorage::Open(data_dir);
  if (!storage.ok()) {
    std::fprintf(stderr, "raft-node: %s\n", storage.status().ToString().c_str());
    return 1;
  }
  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<prometheus::Exposer> exposer;
  if (!metrics_listen.empty()) {
    exposer = std::make_unique<prometheus::Exposer>(metrics_listen);
    exposer->RegisterCollectable(registry);
  }
  LogMachine machine;
  RaftDriver driver(config, options, **storage, machine, registry);
  GrpcTransportOptions topts;
  topts.cluster_id = cluster_id;
  topts.self = config.id;
  topts.self_address = voters->at(config.id);
  for (const auto& [voter, address] : *voters) {
    if (voter != config.id) topts.peers[voter] = address;
  }
  GrpcTransport transport(
      topts, [&](Message m) { driver.Deliver(std::move(m)); },
      [&](NodeId n) { driver.ReportUnreachable(n); });
  driver.SetTransport(&transport);
  NodeService service(driver, machine, *voters);

  EnableServerConventions();
  grpc::ServerBuilder builder;
  ConfigureRaftServer(builder);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials());
  builder.RegisterService(transport.service());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "raft-node: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  if (absl::Status s = driver.Start(); !s.ok()) {
    std::fprintf(stderr, "raft-node: %s\n", s.ToString().c_str());
    return 1;
  }
  int signal = 0;
  sigwait(&signals, &signal);
  GetLogger("raft-node")->info("signal {}: shutting down", signal);
  driver.Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  transport.Stop();
  return 0;
}

}  // namespace
}  // namespace strand::raft

int main(int argc, char** argv) { return strand::raft::Main(argc, argv); }
