#pragma once

// What a process tells its probes (Kubernetes, load balancers, drills), the same over gRPC
// (grpc.health.v1 services "readiness" and "liveness", common/grpc_listener.h) and over HTTP on
// the metrics port (/readyz and /healthz, tools/metrics_http.h):
//   readiness  the process may take its share of traffic and a rolling restart may move on (a
//              broker registered, unfenced, caught up, not shutting down, its replicas back in
//              the ISR; a controller a voter that knows the leader). Set by the server's monitor.
//   liveness   the process's loops make progress: each loop beats at least once per its limit.
// Thread-safe; one per process, shared by the server and the HTTP endpoint.

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

namespace strand {

class ProcessHealth {
 public:
  using Clock = std::chrono::steady_clock;

  struct Report {
    bool ok = false;
    std::string reason;  // why not, or what holds (empty when ok)
  };

  // Readiness is that of every component (a controller, a broker, or both in combined mode):
  // ready when each of them is, else the first reason. With no component yet: "starting".
  void SetReady(const std::string& component, bool ready, std::string reason = {});
  Report Readiness() const;

  // A loop that liveness watches: it must Beat() at least once every `limit`. Returns its handle.
  int AddLoop(std::string name, std::chrono::milliseconds limit);
  void Beat(int loop);
  // A loop that ended on purpose (a planned stop) is no longer watched.
  void RemoveLoop(int loop);
  // Fails naming every loop that has not beaten within its limit.
  Report Liveness() const;
  Report Liveness(Clock::time_point now) const;

 private:
  struct Loop {
    std::string name;
    std::chrono::milliseconds limit{0};
    Clock::time_point last{};
    bool active = false;
  };
  mutable std::mutex mu_;
  struct Component {
    std::string name;
    bool ready = false;
    std::string reason;
  };
  std::vector<Component> components_;
  std::vector<Loop> loops_;
};

}  // namespace strand
