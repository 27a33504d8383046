#pragma once

// ControllerService: the broker-facing gRPC API (proto/controller/v1/controller.proto). Every
// request runs on the Raft loop thread through RunInLoop; answers that wait for a commit are
// finished from the QuorumController's completions. A standby controller answers NOT_CONTROLLER
// with a hint naming the active one.

#include "controller/server/controller_context.h"
#include "proto/controller/v1/controller.grpc.pb.h"

namespace strand::controller {

class ControllerServiceImpl final : public v1::ControllerService::CallbackService {
 public:
  explicit ControllerServiceImpl(ControllerContext& context) : ctx_(context) {}

  grpc::ServerUnaryReactor* RegisterBroker(grpc::CallbackServerContext* call,
                                           const v1::RegisterBrokerRequest* req,
                                           v1::RegisterBrokerResponse* resp) override;
  grpc::ServerBidiReactor<v1::BrokerHeartbeatRequest, v1::BrokerHeartbeatResponse>*
  BrokerHeartbeat(grpc::CallbackServerContext* call) override;
  grpc::ServerUnaryReactor* AlterPartition(grpc::CallbackServerContext* call,
                                           const v1::AlterPartitionRequest* req,
                                           v1::AlterPartitionResponse* resp) override;
  grpc::ServerUnaryReactor* AllocateProducerIds(grpc::CallbackServerContext* call,
                                                const v1::AllocateProducerIdsRequest* req,
                                                v1::AllocateProducerIdsResponse* resp) override;

 private:
  ControllerContext& ctx_;
};

}  // namespace strand::controller
