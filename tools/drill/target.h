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

// Faults of a broker's partition-log disk, made by its FaultInjectionService (brokers started
// with --enable-fault-injection: `scripts/local-cluster.sh up --fault-injection`).
struct DiskFaults {
  bool full = false;                        // writes and creations fail with ENOSPC
  std::chrono::milliseconds sync_delay{0};  // each fsync waits this long first
  bool hold_syncs = false;                  // fsyncs block until cleared
};

// The broker's counters since it started (the evidence that a disk fault took effect) and its
// wall clock (CLOCK_REALTIME) when it answered.
struct DiskCounters {
  int64_t syncs = 0, syncs_slowed = 0, injected_errors = 0;
  int64_t wall_clock_ms = 0;
};

// What a power cut did.
struct PowerCutReport {
  int64_t bytes_cut = 0;  // bytes written but never fsynced, cut off the nodes' files
  int64_t files_cut = 0;
};

// Where a bit was flipped.
struct BitFlip {
  std::string segment;       // the file
  int64_t batch_offset = 0;  // the base offset of the batch it landed in
  int64_t position = 0;      // its byte position in the file
};

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

  // Puts `faults` in force on broker `node`'s disk (replacing the ones before; DiskFaults{}
  // clears them) and answers its counters.
  virtual absl::StatusOr<DiskCounters> SetDiskFaults(int node, const DiskFaults& faults) = 0;
  // A power cut of `nodes` (brokers): SIGKILLs them all at once, then cuts every file they wrote
  // back to the length their last fsync made durable (each broker's synced-length journal,
  // storage/fault_injecting_filesystem.h). They stay down until Start.
  virtual absl::StatusOr<PowerCutReport> PowerCut(const std::vector<int>& nodes) = 0;
  // Sets the offset of `node`'s CLOCK_REALTIME from the real one (CLOCK_MONOTONIC untouched)
  // while it runs: the first call restarts the node (SIGTERM) under libfaketime, reading its
  // offset from a file the later calls rewrite. An offset of zero leaves it under libfaketime.
  virtual absl::Status ShiftClock(int node, std::chrono::seconds offset) = 0;
  // Flips one bit inside a record batch of the oldest closed segment of broker `node`'s replica
  // of topic/partition (framing intact, so only its CRC-32C can tell). The node must be down:
  // what a process appended itself it has checked already, and a restart reads it afresh.
  // FAILED_PRECONDITION while the replica has no closed segment yet.
  virtual absl::StatusOr<BitFlip> FlipBit(int node, const std::string& topic,
                                          int32_t partition) = 0;
};

// The cluster scripts/local-cluster.sh runs in `dir` (its cluster.env and pids files). Every node
// must be running: its command line and environment are read from /proc, to start it again the
// same way after a fault. Restarts append to DIR/node-ID.log and update DIR/pids and
// DIR/cluster.env, so that `local-cluster.sh down` stops the new processes.
absl::StatusOr<std::unique_ptr<Target>> OpenLocalTarget(const std::string& dir);

}  // namespace strand::drill
