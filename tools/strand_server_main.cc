// strand-server: one Strand process, in the roles process.roles names: controller, broker, or
// both (combined mode, broker,controller: one process is a controller and a broker with the same
// node id; the broker reads the metadata its controller applies; the single-node dev setup).
//
//   strand-server --roles=controller --node-id=1
//       --controller-quorum=1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095
//       --config listeners=CONTROLLER://127.0.0.1:9093 --config
//       controller.listener.names=CONTROLLER
//       --data-dir=/var/lib/strand/1 --metrics-listen=127.0.0.1:9193
//
//   strand-server --config-file=/etc/strand/server.properties   # the same, by Kafka's names:
//       # process.roles=broker, node.id=101, controller.quorum.voters=..., listeners=...,
//       # log.dirs=/var/lib/strand/101, broker.rack=a, metrics.listen=0.0.0.0:9190
//
// Settings come from --config-file, then the command line (--config NAME=VALUE and the named
// flags), then $STRAND_<NAME>, each overriding the one before (tools/server_settings.h). An
// unknown or invalid setting exits with status 2 and names the setting.
//
// Each listener carries a plane (common/listener_config.h, docs/security.md): the controller
// plane (Raft, the ControllerService), the replication plane (follower fetches) and the client
// plane. Every listener serves grpc.health.v1 and server reflection, and Prometheus metrics are on
// metrics.listen. SIGTERM or SIGINT stops either gracefully: an active controller hands over
// leadership first; a broker does a controlled shutdown (its leaderships move away first).

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/ranges.h>
#include <prometheus/registry.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "broker/replica/mutants.h"
#include "broker/server/broker_config.h"
#include "broker/server/broker_server.h"
#include "common/grpc_server.h"
#include "common/health.h"
#include "common/listener_config.h"
#include "common/logging.h"
#include "common/meta_properties.h"
#include "common/properties.h"
#include "common/quorum_spec.h"
#include "controller/server/controller_server.h"
#include "controller/state/config_defs.h"
#include "tools/metrics_http.h"
#include "tools/server_settings.h"

namespace {

// The largest request a listener accepts (Kafka's name).
constexpr char kRequestBytesMax[] = "socket.request.max.bytes";
// Where /metrics is served unless metrics.listen says otherwise (an empty value turns it off).
constexpr char kDefaultMetricsListen[] = "0.0.0.0:9190";

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "strand-server: %s\n", message.c_str());
  return code;
}

std::string ReadFile(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = std::strerror(errno);
    return "";
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "strand-server: a Strand controller, broker, or both (combined mode). Settings come from "
      "--config-file, then the command line, then $STRAND_<NAME> (docs/configuration.md)"};
  std::string config_file, roles, quorum, data_dir, metrics_listen, rack, cluster_id, log_level,
      node_id_text;
  std::vector<std::string> configs;
  strand::controller::ControllerServerOptions options;
  app.add_option("--config-file", config_file,
                 "a server.properties file (Kafka's names); the command line and $STRAND_<NAME> "
                 "override it");
  app.add_option("--roles", roles,
                 "process.roles: controller, broker, or broker,controller (combined mode)");
  app.add_option("--node-id", node_id_text, "node.id: this node's id (unique across roles)");
  app.add_option("--controller-quorum", quorum,
                 "controller.quorum.voters: id@host:port,... of every controller");
  app.add_option("--data-dir", data_dir, "log.dirs: this node's data directory");
  app.add_option("--metrics-listen", metrics_listen,
                 "metrics.listen: host:port for /metrics (default 0.0.0.0:9190; empty: off)");
  app.add_option("--cluster-id", cluster_id, "cluster.id: the cluster's identity; peers agree");
  app.add_option("--rack", rack, "broker.rack: this broker's rack (rack-aware placement)");
  app.add_option("--config", configs,
                 "a setting NAME=VALUE (repeatable): a listener, broker or static cluster setting "
                 "(docs/configuration.md)");
  app.add_option("--log-level", log_level, "strand.log.level: trace, debug, info, warn, error");
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;  // --help is not an error; a bad flag is a usage error
  }

  // The settings: the file, then the command line, then the environment.
  strand::server::SettingsLayers layers;
  if (!config_file.empty()) {
    std::string error;
    const std::string text = ReadFile(config_file, &error);
    if (!error.empty()) return Fail(2, "--config-file " + config_file + ": " + error);
    auto parsed = strand::ParsePropertiesText(text);
    if (!parsed.ok()) {
      return Fail(2,
                  "--config-file " + config_file + ": " + std::string(parsed.status().message()));
    }
    layers.file = *std::move(parsed);
  }
  auto items = strand::ParseKeyValueItems(configs);
  if (!items.ok()) return Fail(2, "--config: " + std::string(items.status().message()));
  layers.flags = *std::move(items);
#ifdef STRAND_BROKER_MUTANTS
  // strand-server-mutants only: the planted bug $STRAND_MUTANT names (broker/replica/mutants.h).
  if (const char* name = std::getenv("STRAND_MUTANT"); name != nullptr && *name != '\0') {
    namespace mutant = strand::broker::mutant;
    const std::optional<mutant::Mutant> m = mutant::MutantByName(name);
    if (!m) return Fail(2, std::string("STRAND_MUTANT=") + name + ": no such mutant");
    mutant::SetActive(m);
    if (*m == mutant::Mutant::kUncleanElection) {
      layers.flags["unclean.leader.election.enable"] = "true";  // whatever was asked
    }
    for (const auto& info : mutant::AllMutants()) {
      if (info.mutant == *m) {
        std::fprintf(stderr, "strand-server-mutants: PLANTED BUG ACTIVE: %s: %s\n", name,
                     std::string(info.description).c_str());
      }
    }
  }
#endif
  auto flag = [&](const char* option, const char* setting, const std::string& value) {
    if (app.count(option) > 0) layers.flags[setting] = value;
  };
  flag("--roles", "process.roles", roles);
  flag("--node-id", "node.id", node_id_text);
  flag("--controller-quorum", "controller.quorum.voters", quorum);
  flag("--data-dir", "log.dirs", data_dir);
  flag("--metrics-listen", "metrics.listen", metrics_listen);
  flag("--cluster-id", "cluster.id", cluster_id);
  flag("--rack", "broker.rack", rack);
  flag("--log-level", "strand.log.level", log_level);
  layers.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  auto resolved = strand::server::ResolveServerSettings(layers);
  if (!resolved.ok()) return Fail(2, std::string(resolved.status().message()));
  const strand::server::ServerSettings& settings = *resolved;
  for (const auto& [setting, option] : std::vector<std::pair<std::string, std::string>>{
           {"node.id", "--node-id"},
           {"controller.quorum.voters", "--controller-quorum"},
           {"log.dirs", "--data-dir"}}) {
    if (!settings.Has(setting)) {
      return Fail(2, setting + " is required: " + option + ", " + setting +
                         "= in --config-file, or $" + strand::server::EnvironmentName(setting));
    }
  }
  roles = settings.Get("process.roles", "controller");
  quorum = settings.Get("controller.quorum.voters");
  data_dir = settings.Get("log.dirs");
  metrics_listen = settings.Get("metrics.listen", kDefaultMetricsListen);  // "" turns it off
  rack = settings.Get("broker.rack");
  options.cluster_id = settings.Get("cluster.id", options.cluster_id);
  const int node_id = std::stoi(settings.Get("node.id"));  // checked by ResolveServerSettings
  log_level = settings.Get("strand.log.level", "info");
  if (spdlog::level::from_str(log_level) == spdlog::level::off && log_level != "off") {
    return Fail(2, "strand.log.level=" + log_level + ": use trace, debug, info, warn or error");
  }
  strand::InitLogging(log_level);
  strand::TuneProcessRuntime();

  bool broker = false, controller = false;
  for (absl::string_view role : absl::StrSplit(roles, ',')) {
    const std::string r(absl::StripAsciiWhitespace(role));
    if (r == "broker" && !broker) {
      broker = true;
    } else if (r == "controller" && !controller) {
      controller = true;
    } else {
      return Fail(2, "process.roles=" + roles +
                         ": use controller, broker, or broker,controller (combined mode)");
    }
  }
  const bool combined = broker && controller;
  auto voters = strand::ParseQuorumVoters(quorum);
  if (!voters.ok()) {
    return Fail(2, "controller.quorum.voters: " + std::string(voters.status().message()));
  }
  std::map<std::string, std::string> config_map, node_settings;
  std::vector<std::string> ignored;
  for (const auto& [key, value] : settings.values) {
    if (strand::server::ProcessSettingNames().count(key) != 0) continue;
    if (strand::IsListenerSetting(key) || key == kRequestBytesMax) {
      node_settings[key] = value;
      continue;
    }
    if (!broker) {
      if (strand::broker::BrokerSettingNames().count(key) != 0) {
        ignored.push_back(key);  // a file shared with the brokers
        continue;
      }
      if (absl::Status s = strand::controller::ValidateClusterConfig(key, value); !s.ok()) {
        return Fail(2, key + "=" + value + " (from " + settings.origin.at(key) +
                           "): " + std::string(s.message()));
      }
    }
    config_map[key] = value;
  }
  if (!ignored.empty()) {
    strand::GetLogger("server")->info("broker settings ignored by a controller: {}",
                                      fmt::join(ignored, ", "));
  }
  options.static_configs = config_map;
  auto listeners = strand::ParseListenerConfig(node_settings, controller, broker);
  if (!listeners.ok()) return Fail(2, std::string(listeners.status().message()));
  int request_bytes_max = 100 << 20;  // Kafka's socket.request.max.bytes default
  if (auto it = node_settings.find(kRequestBytesMax); it != node_settings.end()) {
    if (!absl::SimpleAtoi(it->second, &request_bytes_max) || request_bytes_max < (1 << 20)) {
      return Fail(2, std::string(kRequestBytesMax) + "=" + it->second +
                         ": expected a byte count of at least 1048576");
    }
  }
  auto broker_settings =
      strand::broker::ParseBrokerSettings(broker ? config_map : decltype(config_map){});
  if (!broker_settings.ok()) return Fail(2, std::string(broker_settings.status().message()));
  options.node_id = strand::NodeId(node_id);
  options.voters = *voters;
  options.listeners = *listeners;
  options.request_bytes_max = request_bytes_max;
  options.data_dir = data_dir;
  // The directory's stamp: a volume attached to the wrong node refuses to start.
  if (absl::Status s = strand::StampDataDirectory(data_dir, options.cluster_id, node_id); !s.ok()) {
    return Fail(1, "log.dirs=" + data_dir + ": " + std::string(s.message()));
  }
  options.registry = std::make_shared<prometheus::Registry>();

  // Signals are taken synchronously by the main thread; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  options.health = std::make_shared<strand::ProcessHealth>();
  std::unique_ptr<strand::server::MetricsHttp> http;
  if (!metrics_listen.empty()) {
    auto started = strand::server::MetricsHttp::Start(metrics_listen, options.registry,
                                                      options.health, data_dir);
    if (!started.ok()) {
      return Fail(
          1, "metrics.listen=" + metrics_listen + ": " + std::string(started.status().message()));
    }
    http = *std::move(started);
  }
  int signal = 0;
  strand::broker::BrokerServerOptions b;
  if (broker) {
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
    b.health = options.health;
  }
  if (!controller) {
    auto server = strand::broker::BrokerServer::Start(b);
    if (!server.ok()) return Fail(1, server.status().ToString());
    sigwait(&signals, &signal);
    strand::GetLogger("server")->info("signal {}: controlled shutdown", signal);
    (*server)->Shutdown();
    server->reset();
    (void)http.release();  // see below
    return 0;
  }
  if (combined) {
    // The controller binds the controller listener, the broker every other one; the controller
    // gets the cluster settings, the broker its own too.
    auto others = [&](const strand::Endpoint& e) {
      return !listeners->IsControllerListenerName(e.name);
    };
    std::erase_if(options.listeners.listeners, others);
    std::erase_if(options.listeners.advertised, others);
    options.static_configs = b.settings.cluster;
    // Not ready until both roles are.
    options.health->SetReady("broker", false, "starting");
  }
  auto server = strand::controller::ControllerServer::Start(options);
  if (!server.ok()) return Fail(1, server.status().ToString());
  std::unique_ptr<strand::broker::BrokerServer> combined_broker;
  if (combined) {
    strand::controller::ControllerServer* ctl = server->get();
    b.local_metadata = strand::broker::LocalMetadata{
        &ctl->metadata(), [ctl](auto apply, auto restore) {
          ctl->SubscribeMetadata(std::move(apply), std::move(restore));
        }};
    auto started = strand::broker::BrokerServer::Start(b);
    if (!started.ok()) {
      (*server)->Shutdown();
      return Fail(1, started.status().ToString());
    }
    combined_broker = *std::move(started);
  }
  sigwait(&signals, &signal);
  strand::GetLogger("server")->info("signal {}: shutting down", signal);
  if (combined_broker) {
    // The broker first: its controlled shutdown needs the controllers.
    combined_broker->Shutdown();
    combined_broker.reset();
  }
  (*server)->Shutdown();
  server->reset();
  // The metrics endpoint is left to the exit: stopping its HTTP server (civetweb) waits about a
  // second for its listening thread, which made every planned stop a second longer. Nothing
  // else is running by now, and the registry it reads lives as long as it does.
  (void)http.release();
  return 0;
}
