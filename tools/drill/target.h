#pragma once

// Target: the cluster a drill runs against, and the faults it can make to whole processes there.
// Scenarios (tools/drill/scenarios.h) speak only to this interface, so the same drill runs on a
// local cluster (LocalTarget: the processes of scripts/local-cluster.sh, signalled by PID) and,
// through another implementation, on Kubernetes.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strand/properties.h"

namespace strand::drill {

enum class Role { kController, kBroker };

struct Node {
  int id = 0;
  Role role = Role::kBroker;
  std::string address;          // a broker's client listener, a controller's controller listener
  std::string metrics_address;  // host:port of /metrics, /healthz and /readyz; "" when unknown
};

class Target {
 public:
  virtual ~Target() = default;

  // What the target is, for reports: "local cluster in /srv/strand/.run".
  virtual std::string Describe() const = 0;
  virtual const std::vector<Node>& nodes() const = 0;
  // The brokers' client listeners, comma-separated (what clients bootstrap from).
  virtual std::string bootstrap() const = 0;
  // Client settings every client of the drill gets (security.protocol, ssl.*); may be empty.
  virtual const client::Properties& client_settings() const = 0;

  // SIGKILL the node's process; returns once it is gone.
  virtual absl::Status Kill(int node) = 0;
  // SIGTERM, and wait up to `grace` for the process to exit (an error if it did not; it is then
  // SIGKILLed so that the drill can go on).
  virtual absl::Status Stop(int node, std::chrono::seconds grace) = 0;
  // Starts a node that is down again, as it ran before (same command line, data and log).
  virtual absl::Status Start(int node) = 0;
  virtual absl::Status Pause(int node) = 0;   // SIGSTOP
  virtual absl::Status Resume(int node) = 0;  // SIGCONT
  virtual bool Running(int node) = 0;
  // The identity of the node's current process (a PID, a pod UID): changes at each restart.
  virtual std::string Incarnation(int node) = 0;

  // Network faults, made on `node`'s side of its links (a target that cannot make them answers
  // UNIMPLEMENTED saying why). Several may be in force at once; Heal removes every one.
  // Drops every packet between `node` and each of `peers`, both ways.
  virtual absl::Status Cut(int node, const std::vector<int>& peers) = 0;
  // Drops each packet between `node` and each of `peers` with probability percent/100.
  virtual absl::Status Lossy(int node, const std::vector<int>& peers, int percent) = 0;
  virtual absl::Status Heal(int node) = 0;
  // Packets dropped by `node`'s network faults since they were made: the evidence that a cut
  // took effect.
  virtual absl::StatusOr<int64_t> Dropped(int node) = 0;
  // Delays the connections `from` opens to `to`'s listeners by `delay` plus a random jitter in
  // [0, jitter], each direction, through a userspace proxy (delay_proxy.h) until Heal(from).
  virtual absl::Status Delay(int from, int to, std::chrono::microseconds delay,
                             std::chrono::microseconds jitter) = 0;
  // Chunks of bytes `from`'s delayed links held back so far: the evidence that a delay applied.
  virtual absl::StatusOr<int64_t> Delayed(int from) = 0;
};

// The cluster scripts/local-cluster.sh runs in `dir` (its cluster.env and pids files). Every node
// must be running: its command line and environment are read from /proc, to start it again the
// same way after a fault. Restarts append to DIR/node-ID.log and update DIR/pids and
// DIR/cluster.env, so that `local-cluster.sh down` stops the new processes.
absl::StatusOr<std::unique_ptr<Target>> OpenLocalTarget(const std::string& dir);

}  // namespace strand::drill
