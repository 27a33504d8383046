#pragma once

// AdminService on a controller (proto/admin/v1/admin.proto). Writes run on the active
// controller; a standby controller forwards them once to the active one (a forwarded request is
// never forwarded again) or answers NOT_CONTROLLER while no controller is active. Reads pass a
// linearizable read barrier (ReadIndex) and are built from the committed image; if the barrier
// fails (no quorum), the local view is returned with a NOT_CONTROLLER error saying it may be
// stale — what an operator wants to see during an outage.

#include <functional>
#include <string>

#include "controller/server/controller_context.h"
#include "proto/admin/v1/admin.grpc.pb.h"

namespace strand::controller {

class AdminServiceImpl final : public admin::v1::AdminService::CallbackService {
 public:
  explicit AdminServiceImpl(ControllerContext& context) : ctx_(context) {}

  grpc::ServerUnaryReactor* DescribeCluster(grpc::CallbackServerContext* call,
                                            const admin::v1::DescribeClusterRequest* req,
                                            admin::v1::DescribeClusterResponse* resp) override;
  grpc::ServerUnaryReactor* CreateTopics(grpc::CallbackServerContext* call,
                                         const admin::v1::CreateTopicsRequest* req,
                                         admin::v1::CreateTopicsResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteTopics(grpc::CallbackServerContext* call,
                                         const admin::v1::DeleteTopicsRequest* req,
                                         admin::v1::DeleteTopicsResponse* resp) override;
  grpc::ServerUnaryReactor* ListTopics(grpc::CallbackServerContext* call,
                                       const admin::v1::ListTopicsRequest* req,
                                       admin::v1::ListTopicsResponse* resp) override;
  grpc::ServerUnaryReactor* DescribeTopics(grpc::CallbackServerContext* call,
                                           const admin::v1::DescribeTopicsRequest* req,
                                           admin::v1::DescribeTopicsResponse* resp) override;
  grpc::ServerUnaryReactor* CreatePartitions(grpc::CallbackServerContext* call,
                                             const admin::v1::CreatePartitionsRequest* req,
                                             admin::v1::CreatePartitionsResponse* resp) override;
  grpc::ServerUnaryReactor* DescribeConfigs(grpc::CallbackServerContext* call,
                                            const admin::v1::DescribeConfigsRequest* req,
                                            admin::v1::DescribeConfigsResponse* resp) override;
  grpc::ServerUnaryReactor* AlterConfigs(grpc::CallbackServerContext* call,
                                         const admin::v1::AlterConfigsRequest* req,
                                         admin::v1::AlterConfigsResponse* resp) override;
  grpc::ServerUnaryReactor* ElectLeaders(grpc::CallbackServerContext* call,
                                         const admin::v1::ElectLeadersRequest* req,
                                         admin::v1::ElectLeadersResponse* resp) override;
  grpc::ServerUnaryReactor* AlterPartitionReassignments(
      grpc::CallbackServerContext* call,
      const admin::v1::AlterPartitionReassignmentsRequest* req,
      admin::v1::AlterPartitionReassignmentsResponse* resp) override;
  grpc::ServerUnaryReactor* ListPartitionReassignments(
      grpc::CallbackServerContext* call, const admin::v1::ListPartitionReassignmentsRequest* req,
      admin::v1::ListPartitionReassignmentsResponse* resp) override;
  grpc::ServerUnaryReactor* UnregisterBroker(grpc::CallbackServerContext* call,
                                             const admin::v1::UnregisterBrokerRequest* req,
                                             admin::v1::UnregisterBrokerResponse* resp) override;

  // How a write is done locally, forwarded, and failed (per-item errors from the request).
  template <typename Req, typename Resp>
  struct WriteOp {
    std::string api;
    std::function<void(QuorumController&, const Req&, Done<Resp>)> local;
    std::function<void(admin::v1::AdminService::Stub*, grpc::ClientContext*, const Req*, Resp*,
                       std::function<void(grpc::Status)>)>
        forward;
    std::function<void(const Req&, const ControllerError&, Resp*)> fail;
  };

 private:
  template <typename Req, typename Resp>
  grpc::ServerUnaryReactor* Write(grpc::CallbackServerContext* call, const Req* req, Resp* resp,
                                  WriteOp<Req, Resp> op);
  template <typename Resp>
  grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext* call, Resp* resp,
                                 const std::string& api,
                                 std::function<void(Resp*, bool fresh)> build);

  ControllerContext& ctx_;
};

}  // namespace strand::controller
