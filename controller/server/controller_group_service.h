#pragma once

// ControllerGroupService: the consumer-group API (proto/group/v1/group.proto) on a controller's
// listeners, for its two admin reads, so that `strand groups list|describe` and grpcurl work
// through any node of the cluster (ARCHITECTURE.md §3). Groups live on the brokers' group
// coordinators; a controller asks them over the controller plane, where each broker answers
// these two calls to controllers only (broker/server/group_service.h):
//   ListGroups      every unfenced broker asked in parallel for its own groups; brokers that do
//                   not answer are listed in unreachable_coordinators, the first one's error in
//                   the answer's error
//   DescribeGroups  each group asked of its coordinator, the leader of its `__consumer_offsets`
//                   partition by Kafka's rule (common/group_partition.h); COORDINATOR_NOT_AVAILABLE
//                   for a group whose partition has no leader or whose coordinator does not
//                   answer, GROUP_ID_NOT_FOUND while `__consumer_offsets` does not exist
// The brokers named are those of this controller's committed metadata image. Every other call
// (membership, commits, deletes) answers UNIMPLEMENTED: those go to brokers, as in Kafka, and
// the client library moves on to the next bootstrap address when a controller answers so.

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/grpcpp.h>

#include "common/listener_config.h"
#include "controller/server/controller_context.h"
#include "proto/group/v1/group.grpc.pb.h"

namespace strand::controller {

class ControllerGroupService final : public ::strand::group::v1::GroupService::CallbackService {
 public:
  // `to_brokers`: this controller's credentials on the controller plane (plaintext when null).
  ControllerGroupService(ControllerContext& context, const ListenerConfig& listeners,
                         std::shared_ptr<grpc::ChannelCredentials> to_brokers,
                         int64_t fan_out_timeout_ms = 5'000);

  grpc::ServerUnaryReactor* ListGroups(grpc::CallbackServerContext* call,
                                       const ::strand::group::v1::ListGroupsRequest* req,
                                       ::strand::group::v1::ListGroupsResponse* resp) override;
  grpc::ServerUnaryReactor* DescribeGroups(
      grpc::CallbackServerContext* call, const ::strand::group::v1::DescribeGroupsRequest* req,
      ::strand::group::v1::DescribeGroupsResponse* resp) override;

  grpc::ServerUnaryReactor* FindCoordinator(grpc::CallbackServerContext* call,
                                            const ::strand::group::v1::FindCoordinatorRequest*,
                                            ::strand::group::v1::FindCoordinatorResponse*) override;
  grpc::ServerUnaryReactor* ConsumerGroupHeartbeat(
      grpc::CallbackServerContext* call, const ::strand::group::v1::ConsumerGroupHeartbeatRequest*,
      ::strand::group::v1::ConsumerGroupHeartbeatResponse*) override;
  grpc::ServerUnaryReactor* OffsetCommit(grpc::CallbackServerContext* call,
                                         const ::strand::group::v1::OffsetCommitRequest*,
                                         ::strand::group::v1::OffsetCommitResponse*) override;
  grpc::ServerUnaryReactor* OffsetFetch(grpc::CallbackServerContext* call,
                                        const ::strand::group::v1::OffsetFetchRequest*,
                                        ::strand::group::v1::OffsetFetchResponse*) override;
  grpc::ServerUnaryReactor* DeleteGroups(grpc::CallbackServerContext* call,
                                         const ::strand::group::v1::DeleteGroupsRequest*,
                                         ::strand::group::v1::DeleteGroupsResponse*) override;
  grpc::ServerUnaryReactor* OffsetDelete(grpc::CallbackServerContext* call,
                                         const ::strand::group::v1::OffsetDeleteRequest*,
                                         ::strand::group::v1::OffsetDeleteResponse*) override;

 private:
  // The controller-plane address of a registered broker, or "" when it has none.
  std::string AddressOf(const BrokerRegistration& broker) const;
  std::shared_ptr<::strand::group::v1::GroupService::Stub> StubFor(const std::string& address);
  grpc::ServerUnaryReactor* Unimplemented(grpc::CallbackServerContext* call, const char* api);
  std::chrono::system_clock::time_point FanOutDeadline(
      const grpc::CallbackServerContext& call) const;

  ControllerContext& ctx_;
  const ListenerConfig& listeners_;
  const std::shared_ptr<grpc::ChannelCredentials> to_brokers_;
  const int64_t fan_out_timeout_ms_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;  // by address
};

}  // namespace strand::controller
