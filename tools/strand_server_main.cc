// strand-server: one Strand process, in the roles given by --roles.
//
//   strand-server --roles=controller --node-id=1
//       --controller-quorum=1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095
//       --config listeners=CONTROLLER://127.0.0.1:9093 --config controller.listener.names=CONTROLLER
//       --data-dir=/var/lib/strand/1 --metrics-listen=127.0.0.1:9193
//
//   strand-server --roles=broker --node-id=101
//       --controller-quorum=1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095
//       --config listeners=CLIENT://127.0.0.1:9092,REPLICATION://127.0.0.1:9192,CONTROLLER://127.0.0.1:9292
//       --config listener.security.protocol.map=CLIENT:PLAINTEXT,REPLICATION:PLAINTEXT,CONTROLLER:PLAINTEXT
//       --config controller.listener.names=CONTROLLER --config inter.broker.listener.name=REPLICATION
//       --data-dir=/var/lib/strand/101 --rack=a
//
// Each listener carries a plane (common/listener_config.h, docs/security.md): the controller
// plane (Raft, the ControllerService), the replication plane (follower fetches) and the client
// plane. Every listener serves grpc.health.v1 and server reflection, and Prometheus metrics are on
// --metrics-listen. SIGTERM or SIGINT stops either gracefully: an active controller hands over
// leadership first; a broker does a controlled shutdown (its leaderships move away first).

#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include "absl/strings/numbers.h"
#include "common/grpc_server.h"
#include "common/listener_config.h"
#include "common/logging.h"
#include "common/quorum_spec.h"
#include "broker/server/broker_server.h"
#include "controller/server/controller_server.h"
#include "controller/state/config_defs.h"

namespace {

// The largest request a listener accepts (Kafka's name).
constexpr char kRequestBytesMax[] = "socket.request.max.bytes";

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "strand-server: %s\n", message.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"strand-server: a Strand controller and/or broker"};
  std::string roles = "controller", quorum, data_dir, metrics_listen, rack;
  std::string log_level = "info";
  std::vector<std::string> configs;
  int node_id = -1;
  strand::controller::ControllerServerOptions options;
  app.add_option("--roles", roles, "controller, broker, or controller,broker");
  app.add_option("--node-id", node_id, "this process's node id (unique across roles)")
      ->required()->check(CLI::Range(0, 1 << 30));
  app.add_option("--controller-quorum", quorum, "id@host:port,... of every controller")
      ->required();
  app.add_option("--data-dir", data_dir, "directory for this node's data")->required();
  app.add_option("--metrics-listen", metrics_listen, "host:port for Prometheus /metrics");
  app.add_option("--cluster-id", options.cluster_id, "cluster identity; peers must agree");
  app.add_option("--rack", rack, "this broker's rack (rack-aware placement)");
  app.add_option("--config", configs,
                 "a setting key=value (repeatable): listeners, a broker setting or a static cluster "
                 "setting (docs/configuration.md)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  app.add_option("--tick-ms", options.tick_ms, "Raft tick (advanced)")->check(CLI::Range(1, 1000));
  app.add_option("--election-ticks", options.election_ticks, "election timeout in ticks")
      ->check(CLI::Range(2, 1000));
  app.add_option("--snapshot-interval", options.snapshot_interval_entries,
                 "metadata log entries between snapshots");
  app.add_option("--snapshot-trailing-entries", options.snapshot_trailing_entries,
                 "log entries kept after a snapshot, for followers slightly behind");
  app.add_option("--broker-session-timeout-ms", options.broker_session_timeout_ms,
                 "a broker silent this long is fenced");
  bool fault_injection = false;
  app.add_flag("--enable-fault-injection", fault_injection,
               "broker: serve FaultInjectionService (tests and drills only)");
  CLI11_PARSE(app, argc, argv);
  strand::InitLogging(log_level);
  strand::TuneProcessRuntime();

  const bool broker = roles == "broker";
  if (roles != "controller" && roles != "broker") {
    return Fail(2, "--roles=" + roles +
                       ": use controller or broker (combined mode is not available yet: run a "
                       "controller and a broker as two processes)");
  }
  auto voters = strand::ParseQuorumVoters(quorum);
  if (!voters.ok()) return Fail(2, "--controller-quorum: " + std::string(voters.status().message()));
  std::map<std::string, std::string> config_map, node_settings;
  for (const std::string& kv : configs) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return Fail(2, "--config " + kv + ": expected key=value");
    const std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
    if (strand::IsListenerSetting(key) || key == kRequestBytesMax) {
      node_settings[key] = value;
      continue;
    }
    if (!broker) {
      if (absl::Status s = strand::controller::ValidateClusterConfig(key, value); !s.ok()) {
        return Fail(2, "--config " + kv + ": " + std::string(s.message()));
      }
    }
    config_map[key] = value;
  }
  options.static_configs = config_map;
  auto listeners = strand::ParseListenerConfig(node_settings, !broker, broker);
  if (!listeners.ok()) return Fail(2, "--config " + std::string(listeners.status().message()));
  int request_bytes_max = 100 << 20;  // Kafka's socket.request.max.bytes default
  if (auto it = node_settings.find(kRequestBytesMax); it != node_settings.end()) {
    if (!absl::SimpleAtoi(it->second, &request_bytes_max) || request_bytes_max < (1 << 20)) {
      return Fail(2, std::string("--config ") + kRequestBytesMax + "=" + it->second +
                         ": expected a byte count of at least 1048576");
    }
  }
  auto broker_settings = strand::broker::ParseBrokerSettings(broker ? config_map
                                                                    : decltype(config_map){});
  if (!broker_settings.ok()) {
    return Fail(2, "--config: " + std::string(broker_settings.status().message()));
  }
  options.node_id = strand::NodeId(node_id);
  options.voters = *voters;
  options.listeners = *listeners;
  options.request_bytes_max = request_bytes_max;
  options.data_dir = data_dir;
  options.registry = std::make_shared<prometheus::Registry>();

  // Signals are taken synchronously by the main thread; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<prometheus::Exposer> exposer;
  if (!metrics_listen.empty()) {
    try {
      exposer = std::make_unique<prometheus::Exposer>(metrics_listen);
    } catch (const std::exception& e) {
      return Fail(1, "--metrics-listen " + metrics_listen + ": " + e.what());
    }
    exposer->RegisterCollectable(options.registry);
  }
  int signal = 0;
  if (broker) {
    strand::broker::BrokerServerOptions b;
    b.node_id = options.node_id;
    b.voters = options.voters;
    b.listeners = *listeners;
    b.request_bytes_max = request_bytes_max;
    b.data_dir = data_dir;
    b.cluster_id = options.cluster_id;
    b.rack = rack;
    b.tick_ms = options.tick_ms;
    b.settings = *std::move(broker_settings);
    b.enable_fault_injection = fault_injection;
    b.registry = options.registry;
    auto server = strand::broker::BrokerServer::Start(b);
    if (!server.ok()) return Fail(1, server.status().ToString());
    sigwait(&signals, &signal);
    strand::GetLogger("server")->info("signal {}: controlled shutdown", signal);
    (*server)->Shutdown();
    return 0;
  }
  auto server = strand::controller::ControllerServer::Start(options);
  if (!server.ok()) return Fail(1, server.status().ToString());
  sigwait(&signals, &signal);
  strand::GetLogger("server")->info("signal {}: shutting down", signal);
  (*server)->Shutdown();
  return 0;
}
