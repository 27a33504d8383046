#pragma once

// ControllerClient: a broker's unary calls to the active controller (AlterPartition,
// AllocateProducerIds, CreateOffsetsTopic). It remembers which controller was active, follows
// NOT_CONTROLLER hints, and tries the other controllers when one does not answer, within a total
// deadline.
// Thread-safe; calls block the calling thread (brokers make them from background threads).

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/security/credentials.h>

#include "absl/status/statusor.h"
#include "common/ids.h"
#include "proto/controller/v1/controller.grpc.pb.h"

namespace strand::broker {

class ControllerClient {
 public:
  // `blocked` (may be null) lets tests cut the broker off from the controllers. `credentials`:
  // for the controllers' controller listener (plaintext when null).
  ControllerClient(std::map<NodeId, std::string> controllers, std::function<bool()> blocked,
                   std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);

  absl::StatusOr<controller::v1::AlterPartitionResponse> AlterPartition(
      const controller::v1::AlterPartitionRequest& req, int64_t timeout_ms);
  absl::StatusOr<controller::v1::AllocateProducerIdsResponse> AllocateProducerIds(
      const controller::v1::AllocateProducerIdsRequest& req, int64_t timeout_ms);
  // Asks for `__consumer_offsets` (the group coordinator, on first use). The answer's error is
  // INVALID_REPLICATION_FACTOR while too few brokers are alive for it: ask again later.
  absl::StatusOr<controller::v1::CreateOffsetsTopicResponse> CreateOffsetsTopic(
      const controller::v1::CreateOffsetsTopicRequest& req, int64_t timeout_ms);

 private:
  template <typename Req, typename Resp>
  absl::StatusOr<Resp> Call(const Req& req, int64_t timeout_ms,
                            grpc::Status (controller::v1::ControllerService::Stub::*method)(
                                grpc::ClientContext*, const Req&, Resp*));
  controller::v1::ControllerService::Stub* Stub(NodeId id);

  const std::map<NodeId, std::string> controllers_;
  const std::function<bool()> blocked_;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::mutex mu_;
  NodeId active_ = kNoNode;
  std::map<NodeId, std::unique_ptr<controller::v1::ControllerService::Stub>> stubs_;
};

}  // namespace strand::broker
