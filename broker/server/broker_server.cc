#include "broker/server/broker_server.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "broker/lifecycle/broker_lifecycle.h"
#include "broker/lifecycle/controller_client.h"
#include "broker/replica/mutants.h"
#include "broker/server/admin_proxy.h"
#include "broker/server/broker_probe.h"
#include "broker/server/broker_service.h"
#include "broker/server/fetch_purgatory.h"
#include "broker/server/group_coordinator.h"
#include "broker/server/group_probe.h"
#include "broker/server/group_service.h"
#include "broker/server/metadata_follower.h"
#include "broker/server/producer_ids.h"
#include "broker/server/replica_manager.h"
#include "common/grpc_listener.h"
#include "common/grpc_server.h"
#include "common/logging.h"
#include "common/node_guard.h"
#include "common/thread_name.h"
#include "common/tls_credentials.h"
#include "controller/state/config_defs.h"
#include "proto/broker/v1/fault.grpc.pb.h"
#include "raft/transport/grpc_transport.h"
#include "storage/fault_injecting_filesystem.h"
#include "storage/log_manager.h"

namespace strand::broker {
namespace {

spdlog::logger& Log() {
  static auto logger = GetLogger("broker");
  return *logger;
}

class FaultService final : public v1::FaultInjectionService::Service {
 public:
  FaultService(std::atomic<bool>& isolated, storage::FaultInjectingFilesystem* disk)
      : isolated_(isolated), disk_(disk) {}
  grpc::Status SetFaults(grpc::ServerContext*, const v1::SetFaultsRequest* req,
                         v1::SetFaultsResponse* resp) override {
    isolated_ = req->isolate_from_controllers();
    {
      std::lock_guard lock(mu_);
      const auto state = std::make_tuple(req->fail_log_writes(), req->disk_full(),
                                         req->sync_delay_ms(), req->hold_syncs());
      if (state != state_) {
        disk_->ClearFaults();
        if (req->fail_log_writes()) {
          disk_->FailWritesWithIoError();
          disk_->FailSyncs();
        }
        if (req->disk_full()) {
          disk_->FailWritesWithNoSpace();
          disk_->FailCreates();
        }
        disk_->DelaySyncs(std::chrono::milliseconds(req->sync_delay_ms()));
        if (req->hold_syncs()) disk_->HoldSyncs();
        state_ = state;
      }
      resp->set_fail_log_writes(std::get<0>(state_));
      resp->set_disk_full(std::get<1>(state_));
      resp->set_sync_delay_ms(std::get<2>(state_));
      resp->set_hold_syncs(std::get<3>(state_));
    }
    Log().warn(
        "fault injection: isolate_from_controllers={} fail_log_writes={} disk_full={} "
        "sync_delay_ms={} hold_syncs={}",
        req->isolate_from_controllers(), req->fail_log_writes(), req->disk_full(),
        req->sync_delay_ms(), req->hold_syncs());
    resp->set_isolate_from_controllers(isolated_.load());
    resp->set_syncs(disk_->syncs());
    resp->set_syncs_slowed(disk_->syncs_slowed());
    resp->set_injected_errors(disk_->injected_errors());
    resp->set_wall_clock_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
    return grpc::Status::OK;
  }

 private:
  std::atomic<bool>& isolated_;
  storage::FaultInjectingFilesystem* const disk_;
  std::mutex mu_;
  // fail_log_writes, disk_full, sync_delay_ms, hold_syncs
  std::tuple<bool, bool, uint32_t, bool> state_{false, false, 0, false};
};

}  // namespace

struct BrokerServer::Parts {
  BrokerServerOptions options;
  std::atomic<bool> isolated{false};
  std::atomic<bool> caught_up{false};
  std::unique_ptr<storage::FaultInjectingFilesystem> disk;  // --enable-fault-injection only
  std::unique_ptr<storage::Filesystem> mutant_fs;  // strand-server-mutants' skip-fsync only
  // The monitor thread's view of a full disk (CheckDiskFull).
  bool disk_full = false;
  int64_t disk_full_errors_seen = 0;
  std::chrono::steady_clock::time_point next_space_probe;
  std::chrono::steady_clock::time_point disk_full_cleared;
  std::chrono::milliseconds space_probe_interval{1000};
  bool io_failed = false;  // a log failed on an I/O error: fenced until restart
  std::unique_ptr<storage::LogManager> logs;
  std::unique_ptr<MetadataFollower> metadata;
  std::unique_ptr<ControllerClient> controllers;
  std::unique_ptr<BrokerLifecycle> lifecycle;
  std::unique_ptr<FetchPurgatory> purgatory;
  std::unique_ptr<ProducerIdSource> producer_ids;
  std::unique_ptr<BrokerProbe> probe;  // before replicas: their fetchers report to it
  std::unique_ptr<ReplicaManager> replicas;
  std::vector<std::unique_ptr<BrokerServiceImpl>> services;  // one per listener that has one
  std::vector<std::unique_ptr<AdminProxy>> admins;           // one per client listener
  std::unique_ptr<GroupCoordinator> groups;
  std::unique_ptr<GroupProbe> group_probe;
  std::atomic<bool> lag_in_flight{false};
  std::chrono::steady_clock::time_point next_lag{};
  std::vector<std::unique_ptr<GroupServiceImpl>> group_services;  // one per client listener
  std::unique_ptr<FaultService> faults;
  std::unique_ptr<ListenerServers> servers;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::thread monitor;  // metrics, health, "caught up"
  bool stopped = false;
  std::atomic<bool> shutting_down{false};  // a controlled shutdown has begun: not ready
  int monitor_loop = -1;                   // the monitor's handle in options.health
  // Readiness waits for this broker's replicas to rejoin their ISRs until then (set when it
  // first unfences after the start).
  std::optional<std::chrono::steady_clock::time_point> isr_wait_until;

  // Readiness (common/health.h), with what holds it back.
  // Cut off from the controllers: no heartbeat answer for 5 s, or three heartbeat intervals
  // when those are longer.
  std::chrono::milliseconds CutOffAfter() const {
    return std::chrono::milliseconds(
        std::max<int64_t>(5000, 3 * int64_t{options.settings.heartbeat_interval_ms}));
  }

  // Silent controllers for this long let a leader whose followers left give up its leadership:
  // two missed heartbeats and more, at least 2 s.
  std::chrono::milliseconds StrandAfter() const {
    return std::chrono::milliseconds(
        std::max<int64_t>(2000, 3 * int64_t{options.settings.heartbeat_interval_ms}));
  }

  ProcessHealth::Report Readiness(bool unfenced, bool exhausted, int64_t out_of_isr) {
    if (shutting_down) return {false, "in controlled shutdown"};
    if (!lifecycle->registered()) return {false, "not registered with the controllers yet"};
    if (lifecycle->SinceLastAnswer() > CutOffAfter()) {
      return {false, fmt::format("fenced or about to be: no answer from the controllers for {} ms",
                                 lifecycle->SinceLastAnswer().count())};
    }
    if (!unfenced) {
      return {false,
              "fenced: catching up with the metadata log, or cut off from the "
              "controllers"};
    }
    if (exhausted) return {false, "out of file descriptors for logs"};
    const auto now = std::chrono::steady_clock::now();
    if (!isr_wait_until) {
      isr_wait_until = now + std::chrono::milliseconds(options.settings.readiness_isr_wait_ms);
    }
    if (out_of_isr == 0) return {true, {}};
    if (now < *isr_wait_until) {
      return {false, fmt::format("{} replica(s) here not back in their ISR yet (ready anyway "
                                 "after strand.readiness.isr.wait.ms={})",
                                 out_of_isr, options.settings.readiness_isr_wait_ms)};
    }
    return {true, fmt::format("{} replica(s) here not in their ISR", out_of_isr)};
  }

  // The coordinator's gauges, and every 10 s the lag of its groups' committed offsets (high
  // watermarks asked of the partitions' leaders, one round at a time).
  void UpdateGroupMetrics() {
    GroupCoordinatorStats stats = groups->Stats();
    group_probe->Update(stats);
    const auto now = std::chrono::steady_clock::now();
    if (group_services.empty() || now < next_lag || lag_in_flight.exchange(true)) return;
    next_lag = now + std::chrono::seconds(10);
    group_services.front()->ComputeLag(stats.committed,
                                       [this](std::map<GroupProbe::LagKey, int64_t> lag) {
                                         group_probe->UpdateLag(lag);
                                         lag_in_flight = false;
                                       });
  }

  // A full disk: any write that failed with ENOSPC since the last look sets disk_full; while it
  // is set, a probe write of kSpaceProbeBytes clears it once it fits again. Probes start 1 s
  // apart; a disk that fills again within a minute of being cleared doubles the interval (up
  // to a minute), so that a nearly full disk does not flap leaderships every second.
  static constexpr int64_t kSpaceProbeBytes = 1 << 20;
  static constexpr std::chrono::seconds kSpaceProbeMax{60};
  void CheckDiskFull() {
    const int64_t errors = logs->probe().disk_full_errors();
    const auto now = std::chrono::steady_clock::now();
    if (errors > disk_full_errors_seen) {
      disk_full_errors_seen = errors;
      if (!disk_full) {
        const bool again = now - disk_full_cleared < kSpaceProbeMax;
        space_probe_interval =
            again ? std::min<std::chrono::milliseconds>(space_probe_interval * 2, kSpaceProbeMax)
                  : std::chrono::milliseconds(1000);
        next_space_probe = now + space_probe_interval;
      }
      disk_full = true;
    } else if (disk_full && now >= next_space_probe) {
      next_space_probe = now + space_probe_interval;
      if (logs->ProbeSpace(kSpaceProbeBytes).ok()) {
        disk_full = false;
        disk_full_cleared = now;
        disk_full_errors_seen = logs->probe().disk_full_errors();
      }
    }
  }

  void Monitor() {
    bool serving = false;
    bool out_of_descriptors = false;
    std::unique_lock lock(mu);
    while (!stopping) {
      lock.unlock();
      // A broker the controllers have not answered for a while is cut off from them: they
      // fence it after their session timeout (3 s by default), but cannot tell it so. It stops
      // reporting SERVING and ready rather than wait to be told.
      const bool cut_off = lifecycle->registered() && lifecycle->SinceLastAnswer() > CutOffAfter();
      // Leaders whose followers left while the controllers are silent give up early
      // (Partition::CheckStranded): sooner than the readiness cut-off, since a follower that
      // stopped fetching is the second witness.
      replicas->CheckStranded(
          lifecycle->registered() && lifecycle->SinceLastAnswer() > StrandAfter(), NowMs());
      const bool unfenced = lifecycle->registered() && !lifecycle->fenced() && !cut_off;
      if (unfenced && !caught_up.exchange(true)) {
        Log().info("[broker {}] unfenced: caught up with the metadata log at offset {}",
                   options.node_id, metadata->offset());
      }
      // Out of descriptors for logs (the reserve kept for connections is all that is left):
      // unhealthy until some free up, so that probes and operators see it.
      const bool exhausted = logs->descriptors().Exhausted();
      if (exhausted != out_of_descriptors) {
        const storage::DescriptorUsage u = logs->descriptors().Usage();
        if (exhausted) {
          Log().error(
              "[broker {}] out of file descriptors for logs ({} open, limit {}, {} kept "
              "in reserve): new replicas cannot be created here; health is NOT_SERVING "
              "until descriptors free up. Raise the limit (ulimit -n) or move "
              "partitions away.",
              options.node_id, u.open, u.limit, u.reserve);
        } else {
          Log().info("[broker {}] file descriptors available again ({} open, limit {})",
                     options.node_id, u.open, u.limit);
        }
        out_of_descriptors = exhausted;
      }
      const bool healthy = unfenced && !exhausted;
      if (healthy != serving) {
        servers->SetServing(healthy);
        serving = healthy;
      }
      const auto counts = replicas->Counts();
      ProcessHealth::Report ready =
          Readiness(unfenced, exhausted, unfenced ? replicas->OutOfIsr() : 0);
      options.health->SetReady("broker", ready.ok, std::move(ready.reason));
      options.health->Beat(monitor_loop);
      CheckDiskFull();
      // A log that failed on an I/O error keeps the broker fenced until it restarts, even once
      // that replica is deleted or moved away (the disk is still dying).
      io_failed = io_failed || counts.failed_logs > 0;
      const bool want_fence = io_failed || disk_full;
      if (want_fence && !lifecycle->fence_requested()) {
        // As Kafka does when its only log directory fails: stop leading anything. The other
        // replicas take over.
        if (io_failed) {
          Log().error(
              "[broker {}] {} partition log(s) failed on an I/O error; asking the controller to "
              "fence this broker so other replicas take over its leaderships. Fix the disk, "
              "then restart the broker.",
              options.node_id, counts.failed_logs);
        } else {
          Log().error(
              "[broker {}] the disk of {} is full (writes fail with ENOSPC); asking the "
              "controller to fence this broker so other replicas take over its leaderships. It "
              "asks to be unfenced once {} bytes fit again: free space or grow the volume.",
              options.node_id, logs->config().data_dir, kSpaceProbeBytes);
        }
        lifecycle->RequestFence();
      } else if (!want_fence && lifecycle->fence_requested()) {
        Log().info("[broker {}] space on {} again; asking the controller to unfence this broker",
                   options.node_id, logs->config().data_dir);
        lifecycle->CancelFenceRequest();
      }
      probe->Update(counts, replicas->isr_shrinks(), replicas->isr_expands(), metadata->offset(),
                    !unfenced, purgatory->waiting());
      probe->UpdateThrottles(replicas->leader_quota(), replicas->follower_quota());
      probe->UpdateConnections(servers->Connections());
      std::vector<BrokerProbe::PartitionSize> sizes;
      for (const auto& partition : replicas->All()) {
        sizes.push_back(
            {partition->tp().topic, partition->tp().partition, partition->log()->SizeBytes()});
      }
      probe->UpdateLogSizes(sizes);
      UpdateGroupMetrics();
      lock.lock();
      // Every second while all is well; often while the controllers are silent or it is not.
      const bool quiet = healthy && lifecycle->SinceLastAnswer() < std::chrono::seconds(1);
      cv.wait_for(lock, std::chrono::milliseconds(quiet ? 1000 : 50), [&] { return stopping; });
    }
  }
};

absl::StatusOr<std::unique_ptr<BrokerServer>> BrokerServer::Start(BrokerServerOptions options) {
  auto p = std::make_unique<Parts>();
  p->options = std::move(options);
  BrokerServerOptions& o = p->options;
  if (o.voters.count(o.node_id) && !o.local_metadata) {
    return absl::InvalidArgumentError(fmt::format(
        "node {} is in the controller quorum; in combined mode use --roles=controller,broker",
        o.node_id));
  }
  // To the controllers, this broker presents its controller listener's identity (in combined
  // mode, the one its own controller binds).
  const std::string controller_listener = o.listeners.ControllerListener().name;
  if (o.local_metadata) {
    auto controller_side = [&](const Endpoint& e) {
      return o.listeners.IsControllerListenerName(e.name);
    };
    std::erase_if(o.listeners.listeners, controller_side);
    std::erase_if(o.listeners.advertised, controller_side);
  }
  Parts* parts = p.get();
  auto isolated = [parts] { return parts->isolated.load(std::memory_order_relaxed); };
  if (!o.health) o.health = std::make_shared<ProcessHealth>();
  o.health->SetReady("broker", false, "opening logs");

  // Logs first: recovery of every local log happens here.
  storage::LogManagerConfig log_config = o.settings.logs;
  log_config.data_dir = o.data_dir + "/logs";
  storage::LogManagerOptions log_options;
  log_options.registry = o.registry;
  if (o.enable_fault_injection) {
    p->disk = std::make_unique<storage::FaultInjectingFilesystem>(storage::PosixFilesystem());
    // The power-loss drill's record of what an fsync made durable (beside logs/, not in it).
    const std::string journal = o.data_dir + "/fault-synced-lengths";
    if (absl::Status s = p->disk->RecordSyncedLengths(journal); !s.ok()) return s;
    log_options.fs = p->disk.get();
  }
#ifdef STRAND_BROKER_MUTANTS
  if (STRAND_BROKER_MUTANT(kSkipFsync)) {
    p->mutant_fs = mutant::SkipSyncs(log_options.fs ? *log_options.fs : storage::PosixFilesystem());
    log_options.fs = p->mutant_fs.get();
  }
#endif
  auto logs = storage::LogManager::Open(log_config, storage::LogConfig{}, log_options);
  if (!logs.ok()) return logs.status();
  p->logs = *std::move(logs);
  const storage::StartupReport& report = p->logs->startup_report();
  Log().info("[broker {}] opened {} logs in {} ms ({} clean, {} with a torn tail cut)", o.node_id,
             report.logs, report.duration_us / 1000, report.clean, report.cut);

  MetadataFollowerOptions m;
  m.self = o.node_id;
  m.voters = o.voters;
  if (!o.local_metadata) m.self_address = o.listeners.ControllerListener().Address();
  m.data_dir = o.data_dir;
  m.cluster_id = o.cluster_id;
  m.tick_ms = o.tick_ms;
  m.registry = o.registry;
  m.isolated = isolated;
  // Only controllers (the voters, by their certificates on TLS) may push it the metadata log.
  auto to_controllers = ChannelCredentialsFor(o.listeners, controller_listener);
  m.credentials = to_controllers;
  auto controller_guard = std::make_shared<const NodeGuard>(o.listeners, controller_listener);
  m.authorize_sender = [controller_guard, voters = o.voters](const grpc::ServerContext& context,
                                                             NodeId from) {
    if (!voters.count(from)) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          fmt::format("node {} is not a controller: only controllers push the "
                                      "metadata log to a broker",
                                      from));
    }
    return controller_guard->CheckNode(context, from.value(), [&] {
      return fmt::format("a metadata log stream from controller {}", from);
    });
  };
  if (o.local_metadata) {
    p->metadata = MetadataFollower::CreateLocal(*o.local_metadata);
  } else {
    auto metadata = MetadataFollower::Create(m);
    if (!metadata.ok()) return metadata.status();
    p->metadata = *std::move(metadata);
  }

  p->controllers = std::make_unique<ControllerClient>(o.voters, isolated, to_controllers);
  BrokerLifecycleOptions l;
  l.cluster_id = o.cluster_id;
  l.broker_id = o.node_id;
  for (const Endpoint& e : o.listeners.advertised) {
    controller::v1::Listener& listener = l.listeners.emplace_back();
    listener.set_name(e.name);
    listener.set_host(e.host);
    listener.set_port(e.port);
    listener.set_security(std::string(SecurityProtocolName(e.protocol)));
  }
  l.rack = o.rack;
  l.combined = o.local_metadata.has_value();
  for (const auto& [name, digest] : controller::StaticSettingDigests(o.settings.cluster)) {
    controller::v1::SettingDigest& d = l.static_settings.emplace_back();
    d.set_name(name);
    d.set_digest(digest);
  }
  l.controllers = o.voters;
  l.credentials = to_controllers;
  l.heartbeat_interval_ms = o.settings.heartbeat_interval_ms;
  l.blocked = isolated;
  l.offline_replicas = [parts] {
    std::vector<controller::v1::ReplicaRef> out;
    if (parts->replicas == nullptr) return out;
    for (const OfflineReplica& r : parts->replicas->OfflineReplicas()) {
      controller::v1::ReplicaRef& ref = out.emplace_back();
      ref.set_topic_id(r.topic_id);
      ref.set_partition(r.partition);
    }
    return out;
  };
  MetadataFollower* follower = p->metadata.get();
  p->lifecycle = std::make_unique<BrokerLifecycle>(l, [follower] { return follower->offset(); });
  BrokerLifecycle* lifecycle = p->lifecycle.get();
  auto broker_epoch = [lifecycle] { return lifecycle->epoch(); };

  p->probe = std::make_unique<BrokerProbe>(o.registry);
  p->purgatory = std::make_unique<FetchPurgatory>();
  p->producer_ids = std::make_unique<ProducerIdSource>(o.node_id, *p->controllers, broker_epoch,
                                                       lifecycle->incarnation_id());
  ReplicaManagerOptions r;
  r.self = o.node_id;
  r.fetcher = o.settings.fetcher;
  r.fetcher.self = o.node_id;
  r.fetcher.credentials =
      ChannelCredentialsFor(o.listeners, o.listeners.inter_broker_listener_name);
  r.fetcher.incarnation = lifecycle->incarnation_id();
  r.incarnation = lifecycle->incarnation_id();
  r.inter_broker_listener = o.listeners.inter_broker_listener_name;
  BrokerProbe* probe = p->probe.get();
  r.fetcher.on_appended = [probe](int64_t bytes) { probe->ReplicationBytesIn(bytes); };
  r.fetcher.on_stages = [probe](double append_s, double fsync_s) {
    probe->FollowerStages(append_s, fsync_s);
  };
  r.static_configs = o.settings.cluster;
  p->replicas =
      std::make_unique<ReplicaManager>(r, *p->logs, *p->metadata, *p->controllers, *p->purgatory,
                                       broker_epoch, [parts] { return parts->caught_up.load(); });
  ReplicaManager* replicas = p->replicas.get();
  p->metadata->SetListener([replicas, follower, self = o.node_id,
                            mine = controller::StaticSettingDigests(o.settings.cluster)](
                               const controller::MetadataDelta& delta, uint64_t) {
    replicas->OnMetadataChange(delta);
    if (!delta.active_controller && !delta.snapshot) return;
    // A (new) active controller recorded its static cluster settings: say which of this
    // broker's differ (the controllers report it in cluster describe and a metric too).
    auto [active, names] = follower->Read([&](const controller::MetadataImage& image) {
      return std::make_pair(
          image.active_controller(),
          controller::DifferingStaticSettings(
              image, mine, image.active_controller_static_settings(), self.value()));
    });
    if (names.empty()) return;
    Log().warn(
        "[broker {}] static cluster setting(s) {} of this broker differ from active "
        "controller {}'s: give every node the same values (or set them dynamically with "
        "strand configs alter --cluster)",
        self, fmt::join(names, ", "), active);
  });

  GroupCoordinatorOptions g;
  g.self = o.node_id;
  g.groups = o.settings.groups;
  g.offsets_retention_check_interval_ms = o.settings.offsets_retention_check_interval_ms;
  g.commit_timeout_ms = o.settings.offsets_commit_timeout_ms;
  p->groups = std::make_unique<GroupCoordinator>(g, *p->replicas, *p->metadata);
  p->group_probe = std::make_unique<GroupProbe>(o.registry);

  if (o.enable_fault_injection) {
    p->faults = std::make_unique<FaultService>(p->isolated, p->disk.get());
    Log().warn("[broker {}] fault injection is enabled (tests only), on listener {}", o.node_id,
               o.listeners.inter_broker_listener_name);
  }
  auto add_services = [parts, isolated, to_controllers](const Endpoint& listener, unsigned planes,
                                                        grpc::ServerBuilder& builder) {
    const BrokerServerOptions& opts = parts->options;
    if (planes & kControllerPlane) {
      builder.RegisterService(parts->metadata->service());
      // The controllers' ListGroups / DescribeGroups (answered for callers that reached a
      // controller): only from controllers, and only those two calls.
      GroupServiceOptions gs;
      gs.self = opts.node_id;
      gs.controller_plane = true;
      for (const Endpoint& client : opts.listeners.listeners) {
        if (opts.listeners.PlanesOf(client.name) & kClientPlane) {
          gs.listener = client.name;  // where the lag's ListOffsets go
          gs.credentials = ChannelCredentialsFor(opts.listeners, client.name);
          break;
        }
      }
      std::vector<int64_t> controllers;
      for (const auto& [id, address] : opts.voters) controllers.push_back(id.value());
      auto guard = std::make_shared<const NodeGuard>(opts.listeners, listener.name);
      gs.check_caller = [guard, controllers](const grpc::ServerContextBase& context) {
        return guard->CheckNodeAmong(context, controllers, [] { return "a group listing"; });
      };
      auto& groups = parts->group_services.emplace_back(
          std::make_unique<GroupServiceImpl>(gs, *parts->metadata, *parts->groups, *parts->probe));
      builder.RegisterService(groups.get());
    }
    if (planes & (kClientPlane | kReplicationPlane)) {
      BrokerServiceOptions s;
      s.self = opts.node_id;
      s.listener = listener.name;
      s.planes = planes;
      s.cluster_id = opts.cluster_id;
      s.rack = opts.rack;
      s.fetch_waiting_max = static_cast<size_t>(opts.settings.fetch_waiting_max);
      s.guard = std::make_shared<const NodeGuard>(opts.listeners, listener.name);
      s.credentials = ChannelCredentialsFor(opts.listeners, listener.name);
      auto& service = parts->services.emplace_back(std::make_unique<BrokerServiceImpl>(
          s, *parts->metadata, *parts->replicas, *parts->purgatory, *parts->producer_ids,
          *parts->probe));
      builder.RegisterService(service.get());
    }
    if (planes & kClientPlane) {
      auto& admin = parts->admins.emplace_back(std::make_unique<AdminProxy>(
          opts.voters, *parts->metadata, isolated, to_controllers, parts->probe.get()));
      builder.RegisterService(admin.get());
      GroupServiceOptions gs;
      gs.self = opts.node_id;
      gs.listener = listener.name;
      gs.credentials = ChannelCredentialsFor(opts.listeners, listener.name);
      gs.create_offsets_topic = [p = parts]() -> absl::Status {
        controller::v1::CreateOffsetsTopicRequest req;
        req.set_broker_id(p->options.node_id.value());
        req.set_broker_epoch(p->lifecycle->epoch());
        req.set_incarnation_id(p->lifecycle->incarnation_id());
        auto resp = p->controllers->CreateOffsetsTopic(req, 10'000);
        if (!resp.ok()) return resp.status();
        if (resp->error().code() != 0) {
          return absl::FailedPreconditionError(
              fmt::format("{}: {}", resp->error().name(), resp->error().message()));
        }
        return absl::OkStatus();
      };
      auto& groups = parts->group_services.emplace_back(
          std::make_unique<GroupServiceImpl>(gs, *parts->metadata, *parts->groups, *parts->probe));
      builder.RegisterService(groups.get());
    }
    if ((planes & kReplicationPlane) && parts->faults) builder.RegisterService(parts->faults.get());
  };
  auto servers = ListenerServers::Start(o.listeners, o.request_bytes_max, add_services);
  if (!servers.ok()) return servers.status();
  p->servers = *std::move(servers);
  p->servers->WatchHealth(o.health);
  o.health->SetReady("broker", false, "not registered with the controllers yet");

  if (absl::Status st = p->metadata->Start(); !st.ok()) return st;
  p->replicas->Start();
  p->groups->Start();
  p->lifecycle->Start();
  // The monitor passes at least once a second while healthy; 15 s of silence is a stuck process.
  p->monitor_loop = o.health->AddLoop("broker monitor", std::chrono::seconds(15));
  p->monitor = NamedThread("broker-monitor", [parts] { parts->Monitor(); });
  Log().info("[broker {}] serving on {} (cluster '{}', rack '{}', data {})", o.node_id,
             p->servers->Describe(), o.cluster_id, o.rack, o.data_dir);
  return std::unique_ptr<BrokerServer>(new BrokerServer(std::move(p)));
}

BrokerServer::BrokerServer(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

BrokerServer::~BrokerServer() { Shutdown(); }

void BrokerServer::Shutdown() {
  Parts& p = *parts_;
  if (p.stopped) return;
  p.stopped = true;
  const auto start = std::chrono::steady_clock::now();
  const int64_t timeout = p.options.settings.controlled_shutdown_timeout_ms;
  p.shutting_down = true;
  p.options.health->SetReady("broker", false, "in controlled shutdown");
  if (p.lifecycle->registered() && timeout > 0) {
    Log().info("[broker {}] controlled shutdown: moving leaderships away", p.options.node_id);
    if (!p.lifecycle->ControlledShutdown(std::chrono::milliseconds(timeout))) {
      Log().warn("[broker {}] controlled shutdown did not finish within {} ms; stopping anyway",
                 p.options.node_id, timeout);
    }
  }
  {
    std::lock_guard lock(p.mu);
    p.stopping = true;
  }
  p.cv.notify_all();
  if (p.monitor.joinable()) p.monitor.join();
  p.options.health->RemoveLoop(p.monitor_loop);
  // A lag round in flight calls back into Parts: let it end (its calls have a 5 s deadline).
  for (int i = 0; i < 120 && p.lag_in_flight.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  p.servers->SetServing(false);
  p.purgatory->Stop();  // answers every waiting fetch
  p.groups->Stop();     // answers every waiting group call (NOT_COORDINATOR)
  // Long-lived streams (the controllers' Raft traffic) never end by themselves: in-flight calls
  // get a moment to finish, then everything left is cancelled.
  p.servers->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  p.replicas->Stop();
  p.lifecycle->Stop();
  p.metadata->Stop();
  p.logs->Shutdown();
  Log().info("[broker {}] stopped after {} ms", p.options.node_id,
             std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - start)
                 .count());
}

}  // namespace strand::broker
