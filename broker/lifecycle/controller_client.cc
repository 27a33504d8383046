#include "broker/lifecycle/controller_client.h"

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "common/grpc_channel.h"
#include "common/kafka_error.h"

namespace strand::broker {

ControllerClient::ControllerClient(std::map<NodeId, std::string> controllers,
                                   std::function<bool()> blocked,
                                   std::shared_ptr<grpc::ChannelCredentials> credentials)
    : controllers_(std::move(controllers)),
      blocked_(std::move(blocked)),
      credentials_(credentials ? std::move(credentials) : grpc::InsecureChannelCredentials()) {}

controller::v1::ControllerService::Stub* ControllerClient::Stub(NodeId id) {
  auto it = stubs_.find(id);
  if (it != stubs_.end()) return it->second.get();
  auto channel =
      grpc::CreateCustomChannel(controllers_.at(id), credentials_, InternalChannelArguments(1'000));
  return stubs_.emplace(id, controller::v1::ControllerService::NewStub(channel))
      .first->second.get();
}

template <typename Req, typename Resp>
absl::StatusOr<Resp> ControllerClient::Call(
    const Req& req, int64_t timeout_ms,
    grpc::Status (controller::v1::ControllerService::Stub::*method)(grpc::ClientContext*,
                                                                    const Req&, Resp*)) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  NodeId target;
  {
    std::lock_guard lock(mu_);
    target = active_ != kNoNode ? active_ : controllers_.begin()->first;
  }
  std::string last_error = "no controller answered";
  while (std::chrono::steady_clock::now() < deadline) {
    if (blocked_ && blocked_()) return absl::UnavailableError("cut off from the controllers");
    controller::v1::ControllerService::Stub* stub;
    {
      std::lock_guard lock(mu_);
      stub = Stub(target);
    }
    grpc::ClientContext ctx;
    // Wait for a connection rather than fail fast: a channel that failed once (the controller
    // restarted) can otherwise keep failing fast for seconds after the peer is back.
    ctx.set_wait_for_ready(true);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::min(left, std::chrono::milliseconds(2'000)));
    Resp resp;
    grpc::Status s = (stub->*method)(&ctx, req, &resp);
    NodeId next = kNoNode;
    if (s.ok() && resp.error().code() != static_cast<int32_t>(KafkaError::kNotController)) {
      std::lock_guard lock(mu_);
      active_ = target;
      return resp;
    }
    if (s.ok()) {
      last_error = resp.error().message();
      const NodeId hinted(resp.controller().active_controller_id());
      if (controllers_.count(hinted) && hinted != target) next = hinted;
    } else {
      last_error = fmt::format("controller {}: {}", target, s.error_message());
    }
    if (next == kNoNode) {
      auto it = controllers_.upper_bound(target);
      next = it == controllers_.end() ? controllers_.begin()->first : it->first;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    target = next;
  }
  return absl::DeadlineExceededError(last_error);
}

absl::StatusOr<controller::v1::AlterPartitionResponse> ControllerClient::AlterPartition(
    const controller::v1::AlterPartitionRequest& req, int64_t timeout_ms) {
  return Call(req, timeout_ms, &controller::v1::ControllerService::Stub::AlterPartition);
}

absl::StatusOr<controller::v1::AllocateProducerIdsResponse> ControllerClient::AllocateProducerIds(
    const controller::v1::AllocateProducerIdsRequest& req, int64_t timeout_ms) {
  return Call(req, timeout_ms, &controller::v1::ControllerService::Stub::AllocateProducerIds);
}

absl::StatusOr<controller::v1::CreateOffsetsTopicResponse> ControllerClient::CreateOffsetsTopic(
    const controller::v1::CreateOffsetsTopicRequest& req, int64_t timeout_ms) {
  return Call(req, timeout_ms, &controller::v1::ControllerService::Stub::CreateOffsetsTopic);
}

}  // namespace strand::broker
