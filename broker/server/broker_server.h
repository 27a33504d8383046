#pragma once

// BrokerServer: one broker process's parts, wired together — the LogManager (partition logs
// under <data-dir>/logs), the MetadataFollower (the metadata log as a Raft observer, under
// <data-dir>/metadata), the BrokerLifecycle (registration and heartbeats), the ReplicaManager
// (partitions, replica fetchers, ISR changes), the FetchPurgatory, the BrokerService and the
// AdminProxy, on one gRPC server per listener (common/listener_config.h): the controller
// listener takes only the metadata log the controllers push (Raft), the inter-broker listener
// follower fetches (and the FaultInjectionService when enabled), client listeners the client API
// and admin calls; every listener serves health and reflection.
//
// Start() returns once the listener is bound; the broker registers, catches up with the
// metadata log and is unfenced in the background (health turns SERVING once unfenced).
// Shutdown() is a controlled shutdown: the controllers move this broker's leaderships away and
// take it out of every ISR, then it stops serving, saves producer state and closes its logs
// cleanly (so the next start scans nothing).

#include <map>
#include <memory>
#include <optional>
#include <string>

#include <prometheus/registry.h>

#include "absl/status/statusor.h"
#include "broker/server/broker_config.h"
#include "broker/server/metadata_follower.h"
#include "common/health.h"
#include "common/ids.h"
#include "common/listener_config.h"

namespace strand::broker {

struct BrokerServerOptions {
  NodeId node_id = kNoNode;
  std::map<NodeId, std::string> voters;  // controller.quorum.voters
  ListenerConfig listeners;              // listeners by plane (bound and advertised)
  int request_bytes_max = 100 << 20;     // socket.request.max.bytes
  std::string data_dir;
  std::string cluster_id = "strand";
  std::string rack;
  int tick_ms = 50;  // the metadata log's Raft tick
  BrokerSettings settings;
  bool enable_fault_injection = false;
  std::shared_ptr<prometheus::Registry> registry;
  // Combined mode (process.roles=broker,controller): the metadata of the controller in this
  // process, read directly. The broker then binds and registers every listener of `listeners`
  // but the controller's, which the controller binds.
  std::optional<LocalMetadata> local_metadata;
  // Readiness and liveness, as the server sees them (common/health.h); one is made when null.
  std::shared_ptr<ProcessHealth> health;
};

class BrokerServer {
 public:
  static absl::StatusOr<std::unique_ptr<BrokerServer>> Start(BrokerServerOptions options);
  ~BrokerServer();
  // Controlled shutdown, then stop. Idempotent.
  void Shutdown();

  struct Parts;  // defined in the .cc

 private:
  explicit BrokerServer(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace strand::broker
