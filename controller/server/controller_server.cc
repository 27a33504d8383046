#include "controller/server/controller_server.h"

#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "common/grpc_listener.h"
#include "common/grpc_server.h"
#include "common/logging.h"
#include "common/node_guard.h"
#include "common/tls_credentials.h"
#include "controller/server/admin_service.h"
#include "controller/server/controller_group_service.h"
#include "controller/server/controller_probe.h"
#include "controller/server/controller_service.h"
#include "controller/server/metadata_events.h"
#include "raft/storage/rocksdb_storage.h"
#include "raft/transport/grpc_transport.h"

namespace strand::controller {
namespace {

spdlog::logger& Log() {
  static auto logger = GetLogger("controller");
  return *logger;
}

// The Raft log as the QuorumController's MetadataLog (loop thread only).
class RaftMetadataLog final : public MetadataLog {
 public:
  void set_driver(raft::RaftDriver* driver) { driver_ = driver; }
  absl::StatusOr<uint64_t> Append(const v1::MetadataBatch& batch) override {
    auto index = driver_->ProposeInLoop(batch.SerializeAsString());
    if (!index.ok()) return index.status();
    return index->value();
  }

 private:
  raft::RaftDriver* driver_ = nullptr;
};

}  // namespace

struct ControllerServer::Parts {
  ControllerServerOptions options;
  std::unique_ptr<raft::RocksDbStorage> storage;
  MetadataStateMachine machine;
  RaftMetadataLog metadata_log;
  std::unique_ptr<QuorumController> controller;
  std::unique_ptr<ControllerProbe> probe;
  std::unique_ptr<raft::RaftDriver> driver;
  std::unique_ptr<raft::GrpcTransport> transport;
  std::unique_ptr<ControllerContext> context;
  std::unique_ptr<ControllerServiceImpl> controller_service;
  std::vector<std::unique_ptr<AdminServiceImpl>> admin_services;        // one per listener
  std::vector<std::unique_ptr<ControllerGroupService>> group_services;  // one per listener
  std::shared_ptr<grpc::ChannelCredentials> to_brokers;                 // the controller plane's
  std::unique_ptr<ListenerServers> servers;
  int64_t next_probe_ms = 0;
  int raft_loop = -1;  // the Raft loop's handle in options.health
  // A co-located broker's callbacks (combined mode), under observer_mu.
  std::mutex observer_mu;
  MetadataStateMachine::ApplyListener observer_apply;
  MetadataStateMachine::RestoreListener observer_restore;
  bool stopped = false;
};

namespace {

raft::Config RaftConfig(const ControllerServerOptions& o) {
  raft::Config c;
  c.id = o.node_id;
  for (const auto& [id, address] : o.voters) c.voters.push_back(id);
  c.election_timeout_ticks = o.election_ticks;
  c.heartbeat_interval_ticks = 1;
  c.snapshot_interval_entries = o.snapshot_interval_entries;
  c.snapshot_trailing_entries = o.snapshot_trailing_entries;
  return c;
}

ControllerConfig QuorumConfig(const ControllerServerOptions& o) {
  ControllerConfig c;
  c.node_id = o.node_id;
  c.cluster_id = o.cluster_id;
  for (const auto& [id, address] : o.voters) c.controller_ids.push_back(id);
  c.broker_session_timeout_ms = o.broker_session_timeout_ms;
  c.broker_stream_grace_ms = o.broker_stream_grace_ms;
  c.static_configs = o.static_configs;
  return c;
}

// Connects the parts' callbacks; everything here runs on the Raft loop thread.
void Wire(ControllerServer::Parts& p) {
  p.machine.SetApplyListener([&p](const MetadataDelta& delta, uint64_t offset) {
    // What changed, for operators: the active controller at info, standbys at debug.
    const auto level = p.controller->active() ? spdlog::level::info : spdlog::level::debug;
    if (Log().should_log(level)) {
      for (const std::string& line : DescribeMetadataDelta(delta, p.machine.image())) {
        Log().log(level, "[metadata offset={}] {}", offset, line);
      }
    }
    // Settings given to one process and not the others: each controller speaks for itself, the
    // active one for the brokers.
    for (const std::string& line :
         DescribeStaticSettingMismatches(delta, p.machine.image(), p.options.node_id,
                                         p.controller->static_settings(), p.controller->active())) {
      Log().warn("[metadata offset={}] {}", offset, line);
    }
    p.controller->OnCommitted(offset);
    std::lock_guard lock(p.observer_mu);
    if (p.observer_apply) p.observer_apply(delta, offset);
  });
  p.machine.SetRestoreListener([&p](uint64_t offset) {
    p.controller->OnCommitted(offset);
    std::lock_guard lock(p.observer_mu);
    if (p.observer_restore) p.observer_restore(offset);
  });
  p.driver->SetLeadershipListener([&p](const raft::NodeStatus& status, bool ready) {
    if (ready) {
      Log().info("[controller node={} term={}] active controller", p.options.node_id, status.term);
      p.controller->BecomeActive(p.machine.image(), status.term.value(),
                                 ControllerContext::NowMs());
    } else if (status.role != raft::Role::kLeader && p.controller->active()) {
      Log().info("[controller node={} term={}] no longer active; leader is {}", p.options.node_id,
                 status.term, status.leader);
      p.controller->BecomeStandby();
    }
  });
  p.driver->SetTickListener([&p] {
    const int64_t now = ControllerContext::NowMs();
    p.options.health->Beat(p.raft_loop);
    p.controller->Tick(now);
    if (now >= p.next_probe_ms) {
      p.next_probe_ms = now + 1000;
      p.probe->Update(p.machine.image(), *p.controller, p.controller->active());
      // Ready: a voter (every controller is) that knows the current leader.
      const raft::NodeStatus status = p.driver->Status();
      if (status.leader != kNoNode) {
        p.options.health->SetReady("controller", true);
      } else {
        p.options.health->SetReady(
            "controller", false,
            fmt::format("no controller leader known in term {} (an election is under way, "
                        "or this controller cannot reach a majority)",
                        status.term));
      }
    }
  });
}

}  // namespace

absl::StatusOr<std::unique_ptr<ControllerServer>> ControllerServer::Start(
    ControllerServerOptions options) {
  auto p = std::make_unique<Parts>();
  p->options = std::move(options);
  if (!p->options.health) p->options.health = std::make_shared<ProcessHealth>();
  const ControllerServerOptions& o = p->options;
  if (!o.voters.count(o.node_id)) {
    return absl::InvalidArgumentError(
        fmt::format("node {} is not in the controller quorum", o.node_id));
  }
  auto storage = raft::RocksDbStorage::Open(o.data_dir + "/metadata");
  if (!storage.ok()) return storage.status();
  p->storage = *std::move(storage);
  p->controller = std::make_unique<QuorumController>(
      QuorumConfig(o), p->metadata_log,
      static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()));
  p->probe = std::make_unique<ControllerProbe>(o.registry);
  raft::DriverOptions driver_options;
  driver_options.tick_ms = o.tick_ms;
  p->driver = std::make_unique<raft::RaftDriver>(RaftConfig(o), driver_options, *p->storage,
                                                 p->machine, o.registry);
  p->metadata_log.set_driver(p->driver.get());
  raft::GrpcTransportOptions t;
  t.cluster_id = o.cluster_id;
  t.self = o.node_id;
  t.self_address = o.voters.at(o.node_id);
  for (const auto& [id, address] : o.voters) {
    if (id != o.node_id) t.peers[id] = address;
  }
  // Raft streams only from the node the caller's certificate names (on TLS); the Raft core then
  // drops voter-only messages from anyone outside the voter set.
  const std::string controller_listener = o.listeners.ControllerListener().name;
  auto to_peers = ChannelCredentialsFor(o.listeners, controller_listener);
  t.credentials = to_peers;
  auto guard = std::make_shared<const NodeGuard>(o.listeners, controller_listener);
  t.authorize_sender = [guard](const grpc::ServerContext& context, NodeId from) {
    return guard->CheckNode(context, from.value(),
                            [&] { return fmt::format("a Raft stream from node {}", from); });
  };
  // An observer's address comes from its broker registration, not from whoever claims its id
  // on a stream: the metadata log goes only where the registered broker listens.
  // Only its controller-plane listener takes the metadata log.
  const MetadataStateMachine* machine = &p->machine;
  const ListenerConfig* listeners = &p->options.listeners;
  t.accept_learned_address = [machine, listeners](NodeId node, const std::string& address) {
    return machine->Read([&](const MetadataImage& image) {
      const BrokerRegistration* b = image.broker(node);
      if (b == nullptr) return false;
      for (const auto& l : b->listeners) {
        if (listeners->IsControllerListenerName(l.name) &&
            Endpoint{l.name, l.host, l.port}.Address() == address) {
          return true;
        }
      }
      return false;
    });
  };
  raft::RaftDriver* driver = p->driver.get();
  p->transport = std::make_unique<raft::GrpcTransport>(
      t, [driver](raft::Message m) { driver->Deliver(std::move(m)); },
      [driver](NodeId n) { driver->ReportUnreachable(n); });
  p->driver->SetTransport(p->transport.get());
  p->context = std::make_unique<ControllerContext>(o.cluster_id, o.node_id, o.voters, *p->driver,
                                                   p->machine, *p->controller, *p->probe, to_peers);
  p->controller_service = std::make_unique<ControllerServiceImpl>(*p->context, guard);
  p->to_brokers = to_peers;
  Wire(*p);

  Parts* parts = p.get();
  auto add_services = [parts](const Endpoint&, unsigned planes, grpc::ServerBuilder& builder) {
    if (planes & kControllerPlane) {
      builder.RegisterService(parts->transport->service());
      builder.RegisterService(parts->controller_service.get());
    }
    auto& admin =
        parts->admin_services.emplace_back(std::make_unique<AdminServiceImpl>(*parts->context));
    builder.RegisterService(admin.get());
    auto& groups = parts->group_services.emplace_back(std::make_unique<ControllerGroupService>(
        *parts->context, parts->options.listeners, parts->to_brokers));
    builder.RegisterService(groups.get());
  };
  auto servers = ListenerServers::Start(o.listeners, o.request_bytes_max, add_services);
  if (!servers.ok()) return servers.status();
  p->servers = *std::move(servers);
  p->servers->WatchHealth(o.health);
  o.health->SetReady("controller", false, "no controller leader known yet");
  // The Raft loop ticks every tick_ms; 10 s without one is a stuck process.
  p->raft_loop = o.health->AddLoop("raft", std::chrono::seconds(10));
  if (absl::Status s = p->driver->Start(); !s.ok()) return s;
  p->servers->SetServing(true);
  Log().info("[controller node={}] serving on {} (cluster '{}', {} voters)", o.node_id,
             p->servers->Describe(), o.cluster_id, o.voters.size());
  return std::unique_ptr<ControllerServer>(new ControllerServer(std::move(p)));
}

ControllerServer::ControllerServer(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

const MetadataStateMachine& ControllerServer::metadata() const { return parts_->machine; }

void ControllerServer::SubscribeMetadata(MetadataStateMachine::ApplyListener apply,
                                         MetadataStateMachine::RestoreListener restore) {
  std::lock_guard lock(parts_->observer_mu);
  parts_->observer_apply = std::move(apply);
  parts_->observer_restore = std::move(restore);
}

ControllerServer::~ControllerServer() { Shutdown(); }

void ControllerServer::Shutdown() {
  Parts& p = *parts_;
  if (p.stopped) return;
  p.stopped = true;
  // A planned stop of the leader hands leadership over first, so writes pause for one round
  // trip instead of an election timeout.
  const raft::NodeStatus status = p.driver->Status();
  if (status.role == raft::Role::kLeader && p.options.voters.size() > 1) {
    for (const auto& [id, address] : p.options.voters) {
      if (id == p.options.node_id) continue;
      p.driver->TransferLeadership(id);
      break;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (p.driver->Status().leader == p.options.node_id &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  p.servers->SetServing(false);
  p.options.health->SetReady("controller", false, "stopping");
  // Long-lived streams (Raft traffic, broker heartbeats) never end by themselves: in-flight calls
  // get a moment to finish, then everything left is cancelled.
  p.servers->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  p.driver->Stop();
  p.options.health->RemoveLoop(p.raft_loop);
  p.transport->Stop();
  Log().info("[controller node={}] stopped", p.options.node_id);
}

}  // namespace strand::controller
