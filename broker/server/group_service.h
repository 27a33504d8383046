#pragma once

// GroupServiceImpl: the consumer-group API (proto/group/v1/group.proto) on a broker's client
// listeners. Calls about one group are answered by the GroupCoordinator when this broker leads
// the group's `__consumer_offsets` partition, else with NOT_COORDINATOR (the client finds the
// coordinator again). Every call uses gRPC's callback API, so a call waiting for its records to
// commit holds no thread.
//
//   FindCoordinator  the leader of the group's offsets partition, by Kafka's rule; the first
//                    call of the cluster has the active controller create `__consumer_offsets`
//                    (COORDINATOR_NOT_AVAILABLE meanwhile, and while its leader is unknown)
//   ListGroups       every group of the cluster: this broker's, and every other broker's asked
//                    in parallel (unreachable ones are listed in the answer)
//   DescribeGroups   with include_offsets, each committed offset with its partition's high
//                    watermark and the lag, from the partitions' leaders (ListOffsets)
// A second instance on the controller-plane listener answers the controllers' ListGroups and
// DescribeGroups (controller/server/controller_group_service.h) and nothing else.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>

#include "broker/server/broker_probe.h"
#include "broker/server/group_coordinator.h"
#include "broker/server/metadata_follower.h"
#include "common/listener_config.h"
#include "proto/broker/v1/broker.grpc.pb.h"
#include "proto/group/v1/group.grpc.pb.h"

namespace strand::broker {

struct GroupServiceOptions {
  NodeId self = kNoNode;
  std::string listener = "PLAINTEXT";  // FindCoordinator answers endpoints on this listener
  // For calls to other brokers on this listener (ListGroups, ListOffsets); plaintext when null.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  int64_t fan_out_timeout_ms = 5'000;
  // Asks the active controller to create `__consumer_offsets` (blocking; run off the gRPC
  // threads). Null: never created here (tests of the service alone).
  std::function<absl::Status()> create_offsets_topic;
  // The instance on the broker's controller-plane listener, where the controllers list and
  // describe groups for callers that reached a controller: it answers ListGroups (this broker's
  // groups only) and DescribeGroups to callers `check_caller` accepts, and refuses every other
  // call with PERMISSION_DENIED. `listener` still names the client listener other brokers are
  // asked on (ListOffsets for the lag).
  bool controller_plane = false;
  std::function<grpc::Status(const grpc::ServerContextBase&)> check_caller;
};

class GroupServiceImpl final : public ::strand::group::v1::GroupService::CallbackService {
 public:
  GroupServiceImpl(GroupServiceOptions options, MetadataFollower& metadata,
                   GroupCoordinator& coordinator, BrokerProbe& probe);
  ~GroupServiceImpl() override;

  grpc::ServerUnaryReactor* FindCoordinator(
      grpc::CallbackServerContext* context,
      const ::strand::group::v1::FindCoordinatorRequest* request,
      ::strand::group::v1::FindCoordinatorResponse* response) override;
  grpc::ServerUnaryReactor* ConsumerGroupHeartbeat(
      grpc::CallbackServerContext* context,
      const ::strand::group::v1::ConsumerGroupHeartbeatRequest* request,
      ::strand::group::v1::ConsumerGroupHeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* OffsetCommit(
      grpc::CallbackServerContext* context, const ::strand::group::v1::OffsetCommitRequest* request,
      ::strand::group::v1::OffsetCommitResponse* response) override;
  grpc::ServerUnaryReactor* OffsetFetch(
      grpc::CallbackServerContext* context, const ::strand::group::v1::OffsetFetchRequest* request,
      ::strand::group::v1::OffsetFetchResponse* response) override;
  grpc::ServerUnaryReactor* ListGroups(grpc::CallbackServerContext* context,
                                       const ::strand::group::v1::ListGroupsRequest* request,
                                       ::strand::group::v1::ListGroupsResponse* response) override;
  grpc::ServerUnaryReactor* DescribeGroups(
      grpc::CallbackServerContext* context,
      const ::strand::group::v1::DescribeGroupsRequest* request,
      ::strand::group::v1::DescribeGroupsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteGroups(
      grpc::CallbackServerContext* context, const ::strand::group::v1::DeleteGroupsRequest* request,
      ::strand::group::v1::DeleteGroupsResponse* response) override;
  grpc::ServerUnaryReactor* OffsetDelete(
      grpc::CallbackServerContext* context, const ::strand::group::v1::OffsetDeleteRequest* request,
      ::strand::group::v1::OffsetDeleteResponse* response) override;

 public:
  using LagKey = std::tuple<std::string, std::string, int32_t>;  // group, topic, partition
  // The lag of each committed offset (high watermark from the partition's leader, minus the
  // offset; partitions whose leader does not answer are left out); `done` may run on another
  // thread.
  void ComputeLag(const std::map<LagKey, int64_t>& committed,
                  std::function<void(std::map<LagKey, int64_t>)> done);

 private:
  // Starts creating `__consumer_offsets` on a background thread unless that is under way or
  // was tried less than a second ago; returns the last attempt's error, if any.
  std::string RequestOffsetsTopic();
  // On the controller-plane instance, the refusal of `api` unless it is a read a controller
  // makes; OK on client listeners.
  grpc::Status PlaneCheck(const grpc::CallbackServerContext& context, std::string_view api) const;
  std::shared_ptr<::strand::group::v1::GroupService::Stub> GroupStubFor(NodeId id);
  std::shared_ptr<v1::BrokerService::Stub> BrokerStubFor(NodeId id);
  std::shared_ptr<grpc::Channel> ChannelFor(NodeId id);
  // Fills high watermarks and lag of `groups`' offsets from the partitions' leaders, then runs
  // `done`.
  void FillLag(std::shared_ptr<::strand::group::v1::DescribeGroupsResponse> groups,
               std::function<void()> done);

  const GroupServiceOptions options_;
  MetadataFollower& metadata_;
  GroupCoordinator& coordinator_;
  BrokerProbe& probe_;

  std::mutex create_mu_;
  bool creating_ = false;
  int64_t last_create_ms_ = 0;
  std::string last_create_error_;
  std::thread creator_;

  std::mutex channels_mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;  // by address
};

}  // namespace strand::broker
