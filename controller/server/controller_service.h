#pragma once

// ControllerService: the broker-facing gRPC API (proto/controller/v1/controller.proto). Every
// request runs on the Raft loop thread through RunInLoop; answers that wait for a commit are
// finished from the QuorumController's completions. A standby controller answers NOT_CONTROLLER
// with a hint naming the active one.

#include "common/node_guard.h"
#include "controller/server/controller_context.h"
#include "proto/controller/v1/controller.grpc.pb.h"

namespace strand::controller {

class ControllerServiceImpl final : public v1::ControllerService::CallbackService {
 public:
  // `guard`: the controller listener's identity check (common/node_guard.h): on TLS, every
  // request's broker_id must be the caller's own node.
  ControllerServiceImpl(ControllerContext& context, std::shared_ptr<const NodeGuard> guard)
      : ctx_(context), guard_(std::move(guard)) {}

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
  grpc::ServerUnaryReactor* CreateOffsetsTopic(grpc::CallbackServerContext* call,
                                               const v1::CreateOffsetsTopicRequest* req,
                                               v1::CreateOffsetsTopicResponse* resp) override;

 private:
  // PERMISSION_DENIED (counted) unless the caller may speak for `broker`.
  grpc::Status CheckBroker(const grpc::ServerContextBase& call, int32_t broker, const char* api);

  ControllerContext& ctx_;
  const std::shared_ptr<const NodeGuard> guard_;
};

}  // namespace strand::controller
