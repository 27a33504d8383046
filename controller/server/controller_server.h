#pragma once

// ControllerServer: one controller process's parts, wired together — RocksDB storage for the
// metadata log, the MetadataStateMachine, the Raft driver, the gRPC transport, the
// QuorumController and the ControllerService / AdminService, on one gRPC server per listener
// (common/listener_config.h): the controller listener carries Raft, the ControllerService and
// the AdminService (brokers forward admin calls there); any other listener only the
// AdminService. Every listener also serves the group API's ListGroups / DescribeGroups
// (ControllerGroupService), health and reflection.
//
// Lifecycle: Start() returns once the listener is bound and the node runs; Shutdown() hands
// leadership to another controller if this one leads (so failover is immediate on a planned
// restart), stops serving and stops the node.

#include <map>
#include <memory>
#include <string>

#include <prometheus/registry.h>

#include "absl/status/statusor.h"
#include "common/health.h"
#include "common/ids.h"
#include "common/listener_config.h"
#include "controller/state/metadata_state_machine.h"

namespace strand::controller {

struct ControllerServerOptions {
  NodeId node_id = kNoNode;
  std::map<NodeId, std::string> voters;  // controller.quorum.voters
  ListenerConfig listeners;              // listeners by plane
  int request_bytes_max = 100 << 20;     // socket.request.max.bytes
  std::string data_dir;
  std::string cluster_id = "strand";
  int tick_ms = 50;
  int election_ticks = 10;  // election timeout: 10-20 ticks (0.5-1 s)
  uint64_t snapshot_interval_entries = 20'000;
  uint64_t snapshot_trailing_entries = 1'000;  // kept after a snapshot for slightly slow peers
  int64_t broker_session_timeout_ms = 3'000;
  int64_t broker_stream_grace_ms = 300;
  std::map<std::string, std::string> static_configs;
  std::shared_ptr<prometheus::Registry> registry;
  // Readiness and liveness, as the server sees them (common/health.h); one is made when null.
  std::shared_ptr<ProcessHealth> health;
};

class ControllerServer {
 public:
  static absl::StatusOr<std::unique_ptr<ControllerServer>> Start(ControllerServerOptions options);
  ~ControllerServer();
  void Shutdown();

  // Combined mode: the co-located broker reads this controller's metadata. `Subscribe` adds
  // callbacks run after each applied batch and restored snapshot (on the Raft loop thread; keep
  // them short); null callbacks remove them, waiting for one that is running.
  const MetadataStateMachine& metadata() const;
  void SubscribeMetadata(MetadataStateMachine::ApplyListener apply,
                         MetadataStateMachine::RestoreListener restore);

  struct Parts;  // defined in the .cc; public so the wiring helpers there can name it

 private:
  explicit ControllerServer(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace strand::controller
