#pragma once

// The plaintext HTTP endpoint of every strand-server process (metrics.listen), served by
// civetweb:
//   GET /metrics  Prometheus text format of the process's registry, plus the free and total bytes
//                 of its data directory's file system (read at each scrape)
//   GET /healthz  liveness: 200 "ok", or 503 and why (common/health.h)
//   GET /readyz   readiness: 200 "ready", or 503 and why
// Kubernetes probes it (its gRPC probe cannot present a client certificate to an mTLS listener),
// and so can anything that speaks HTTP. Anything else is 404.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/health.h"

namespace prometheus {
class Registry;
}

namespace strand::server {

class MetricsHttp {
 public:
  // Binds `address` (host:port; port 0 picks one) and serves until the process exits.
  static absl::StatusOr<std::unique_ptr<MetricsHttp>> Start(
      const std::string& address, std::shared_ptr<prometheus::Registry> registry,
      std::shared_ptr<ProcessHealth> health, const std::string& data_dir);
  ~MetricsHttp();
  int port() const;

  struct State;  // shared with civetweb's handler threads

 private:
  MetricsHttp() = default;
  std::unique_ptr<State> state_;
};

}  // namespace strand::server
