#pragma once

// One gRPC server per listener (common/listener_config.h), with the connection settings of the
// planes it carries, and a catch-all that answers a call for a service the listener does not
// carry with UNIMPLEMENTED naming the listener and its planes (never service).
//
// Connection settings:
//   - Client-plane listeners, and a controller's controller listener (which serves operators'
//     admin calls too), serve applications that hold a channel open and call now and then,
//     with gRPC's default client settings (no keepalive pings of their own). Such a client does
//     not read its socket between calls unless something polls its channel, so it cannot answer
//     a server's keepalive ping while idle: the server pings only after gRPC's default two hours,
//     and closes connections idle for kClientIdleMs instead (Kafka's connections.max.idle.ms,
//     10 minutes, with a graceful GOAWAY the client reconnects through on its next call). It
//     accepts clients' own keepalive pings down to once a second.
//   - Internal listeners (a broker's controller and replication-only listeners) carry only Strand's own
//     channels, which ping every second: the server pings too and notices a dead peer within
//     about two seconds.
// When every listener used the internal profile, an idle application channel was cut after about
// 2 s ("UNAVAILABLE: Socket closed" on its next call): the server's ping went unanswered. The
// server's pings are also not limited by HTTP/2 "pings without data" (gRPC's default of 2 would
// block the third keepalive ping on a quiet connection).

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/health.h"
#include "common/listener_config.h"

namespace strand {

class ConnectionLimiter;

inline constexpr int kClientKeepaliveMs = 2 * 3600'000;  // gRPC's default
inline constexpr int kClientKeepaliveTimeoutMs = 20'000;
inline constexpr int kClientIdleMs = 600'000;
inline constexpr int kInternalKeepaliveMs = 1'000;
// Strand's own channels ping idle connections every second: accept that.
inline constexpr int kMinClientPingIntervalMs = 1'000;

// grpc.health.v1 service names that answer for the whole process rather than one service.
inline constexpr std::string_view kReadinessService = "readiness";
inline constexpr std::string_view kLivenessService = "liveness";

void ConfigureClientListener(grpc::ServerBuilder& builder);
void ConfigureInternalListener(grpc::ServerBuilder& builder);

// The running servers of one process, one per listener.
class ListenerServers {
 public:
  // Adds the services a listener serves to its builder (called once per listener).
  using Register =
      std::function<void(const Endpoint& listener, unsigned planes, grpc::ServerBuilder& builder)>;

  // Binds every listener of `config` with its credentials (common/tls_credentials.h) and starts
  // its server; fails naming the listener that could not be bound. `request_bytes_max` caps a
  // request message (socket.request.max.bytes).
  static absl::StatusOr<std::unique_ptr<ListenerServers>> Start(const ListenerConfig& config,
                                                                int request_bytes_max,
                                                                const Register& add_services);
  ~ListenerServers();

  // grpc.health.v1 on every listener: the overall status ("") and that of each service the
  // listener serves, by its full name (a broker's "strand.broker.v1.BrokerService" while it
  // takes requests).
  void SetServing(bool serving);
  // Publishes the process's probes (common/health.h) as the health services kReadinessService
  // and kLivenessService, for tools that speak gRPC: a thread reads `health` every 250 ms (so a
  // stalled loop shows even though it cannot report itself) until Shutdown.
  void WatchHealth(std::shared_ptr<ProcessHealth> health);
  // The client listeners' connections and refusals (all zero when there are none).
  ConnectionStats Connections() const;
  // Stops every server: in-flight calls get until `deadline`, then are cancelled.
  void Shutdown(std::chrono::system_clock::time_point deadline);
  // The port a listener is bound to (the one asked for, or the one picked for port 0).
  int BoundPort(const std::string& name) const;
  // "CLIENT://127.0.0.1:9092 (client), ..." for logs.
  std::string Describe() const;

 private:
  struct Server;
  ListenerServers() = default;
  void SetProbes(bool ready, bool live);

  std::vector<std::unique_ptr<Server>> servers_;
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool watch_stop_ = false;
  std::thread watcher_;
  std::shared_ptr<ConnectionLimiter> limiter_;  // shared by the client listeners
};

}  // namespace strand
