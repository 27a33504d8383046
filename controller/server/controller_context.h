#pragma once

// ControllerContext: what the gRPC services of a controller share. The Raft driver's loop
// thread owns the state machine (committed image) and the QuorumController; services reach them
// only through driver->RunInLoop / ReadBarrier. The rest is immutable or thread-safe.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/grpcpp.h>

#include "controller/logic/quorum_controller.h"
#include "controller/server/admin_reads.h"
#include "controller/state/metadata_state_machine.h"
#include "proto/admin/v1/admin.grpc.pb.h"
#include "proto/controller/v1/controller.pb.h"
#include "raft/driver/raft_driver.h"

namespace strand::controller {

class ControllerProbe;

class ControllerContext {
 public:
  ControllerContext(std::string cluster_id, NodeId self, std::map<NodeId, std::string> voters,
                    raft::RaftDriver& driver, MetadataStateMachine& machine,
                    QuorumController& controller, ControllerProbe& probe,
                    std::shared_ptr<grpc::ChannelCredentials> to_controllers);

  raft::RaftDriver& driver() { return driver_; }
  // Loop thread only.
  MetadataStateMachine& machine() { return machine_; }
  QuorumController& controller() { return controller_; }
  ControllerProbe& probe() { return probe_; }

  const std::string& cluster_id() const { return cluster_id_; }
  NodeId self() const { return self_; }
  const std::map<NodeId, std::string>& voters() const { return voters_; }

  static int64_t NowMs();
  // Who leads, as this node knows it (thread-safe).
  v1::ControllerHint Hint() const;
  QuorumView View() const;
  // A cached admin stub to another controller (for forwarding writes).
  admin::v1::AdminService::Stub* AdminStub(NodeId controller);

 private:
  const std::string cluster_id_;
  const NodeId self_;
  const std::map<NodeId, std::string> voters_;
  const std::shared_ptr<grpc::ChannelCredentials> to_controllers_;  // admin calls forwarded
  raft::RaftDriver& driver_;
  MetadataStateMachine& machine_;
  QuorumController& controller_;
  ControllerProbe& probe_;
  std::mutex mu_;
  std::map<NodeId, std::unique_ptr<admin::v1::AdminService::Stub>> stubs_;
};

}  // namespace strand::controller
