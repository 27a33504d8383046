#include "client/consumer/group_coordinator.h"

#include <fmt/format.h>

#include <chrono>
#include <set>
#include <utility>

#include "client/common/cluster_metadata.h"
#include "client/logger.h"
#include "common/kafka_error.h"
#include "strand/record.h"

namespace strand::client {
namespace {

void SetDeadline(grpc::ClientContext& context, int64_t timeout_ms) {
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
}

// An OffsetCommit sent without waiting: what the gRPC callback needs alive until it runs.
struct AsyncCommit {
  grpc::ClientContext context;
  group::v1::OffsetCommitRequest request;
  group::v1::OffsetCommitResponse response;
  std::string address;
  CoordinatorClient::CommitDone done;
};

}  // namespace

CoordinatorClient::CoordinatorClient(std::string group_id, std::vector<std::string> bootstrap,
                                     BrokerChannels& channels, const MetadataManager& metadata,
                                     int64_t request_timeout_ms)
    : group_id_(std::move(group_id)),
      bootstrap_(std::move(bootstrap)),
      channels_(channels),
      metadata_(metadata),
      request_timeout_ms_(request_timeout_ms) {}

group::v1::GroupService::Stub* CoordinatorClient::Stub(const std::string& address) {
  std::lock_guard lock(mu_);
  auto& stub = stubs_[address];
  if (!stub) stub = group::v1::GroupService::NewStub(channels_.Channel(address));
  return stub.get();
}

void CoordinatorClient::MarkUnknown() {
  std::lock_guard lock(mu_);
  address_.clear();
}

std::string CoordinatorClient::address() const {
  std::lock_guard lock(mu_);
  return address_;
}

int CoordinatorClient::lookups() const {
  std::lock_guard lock(mu_);
  return lookups_;
}

absl::StatusOr<std::string> CoordinatorClient::Find() {
  if (std::string known = address(); !known.empty()) return known;
  std::lock_guard lookup(lookup_mu_);
  if (std::string known = address(); !known.empty()) return known;  // found meanwhile
  absl::StatusOr<std::string> found = Lookup();
  if (found.ok()) {
    std::lock_guard lock(mu_);
    address_ = *found;
  }
  return found;
}

absl::StatusOr<std::string> CoordinatorClient::Lookup() {
  // Brokers the metadata names first (the bootstrap list may be a load balancer or stale).
  std::vector<std::string> addresses;
  std::set<std::string> seen;
  for (const auto& [id, node] : metadata_.current()->brokers()) {
    if (seen.insert(node.address()).second) addresses.push_back(node.address());
  }
  for (const std::string& address : bootstrap_) {
    if (seen.insert(address).second) addresses.push_back(address);
  }
  std::string last_failure = "no broker known";
  for (const std::string& address : addresses) {
    {
      std::lock_guard lock(mu_);
      ++lookups_;
    }
    group::v1::FindCoordinatorRequest request;
    request.add_group_ids(group_id_);
    group::v1::FindCoordinatorResponse response;
    grpc::ClientContext context;
    SetDeadline(context, request_timeout_ms_);
    grpc::Status status = Stub(address)->FindCoordinator(&context, request, &response);
    if (!status.ok()) {
      last_failure = fmt::format("{}: {}", address, status.error_message());
      ClientLogger()->debug("FindCoordinator({}) at {} failed: {}", group_id_, address,
                            status.error_message());
      continue;
    }
    for (const group::v1::Coordinator& c : response.coordinators()) {
      if (c.group_id() != group_id_) continue;
      const auto error = static_cast<KafkaError>(c.error().code());
      if (error != KafkaError::kNone) {
        return KafkaStatus(error,
                           fmt::format("FindCoordinator({}): {}", group_id_, c.error().message()));
      }
      BrokerNode node;
      node.id = c.node_id();
      node.host = c.host();
      node.port = c.port();
      ClientLogger()->debug("group {}: coordinator is broker {} at {}", group_id_, c.node_id(),
                            node.address());
      return node.address();
    }
    last_failure = fmt::format("{} did not answer about group {}", address, group_id_);
  }
  return KafkaStatus(
      KafkaError::kCoordinatorNotAvailable,
      fmt::format("FindCoordinator({}): no broker answered (last: {})", group_id_, last_failure));
}

absl::Status CoordinatorClient::CoordinatorError(const common::v1::Error& error,
                                                 const std::string& address) {
  const auto code = static_cast<KafkaError>(error.code());
  switch (code) {
    case KafkaError::kNotCoordinator:
    case KafkaError::kCoordinatorNotAvailable: {
      std::lock_guard lock(mu_);
      if (address_ == address) address_.clear();
      return KafkaStatus(code, error.message());
    }
    case KafkaError::kCoordinatorLoadInProgress:
      return KafkaStatus(code, error.message());
    default:
      return absl::OkStatus();
  }
}

absl::Status CoordinatorClient::TransportFailure(const char* method, const std::string& address,
                                                 const grpc::Status& status) {
  {
    std::lock_guard lock(mu_);
    if (address_ == address) address_.clear();  // dead or moved: look it up again
  }
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  const KafkaError error = KafkaErrorOfCall(code).error;
  return KafkaStatus(
      error == KafkaError::kNone ? KafkaError::kNetworkException : error,
      fmt::format("{} to the coordinator at {}: {}", method, address, status.error_message()));
}

template <typename Response, typename Invoke>
absl::StatusOr<Response> CoordinatorClient::Call(const char* method, const Invoke& invoke) {
  absl::StatusOr<std::string> address = Find();
  if (!address.ok()) return address.status();
  Response response;
  grpc::ClientContext context;
  SetDeadline(context, request_timeout_ms_);
  grpc::Status status = invoke(*Stub(*address), &context, &response);
  if (!status.ok()) return TransportFailure(method, *address, status);
  if (absl::Status error = CoordinatorError(response.error(), *address); !error.ok()) {
    return error;
  }
  return response;
}

absl::StatusOr<group::v1::ConsumerGroupHeartbeatResponse> CoordinatorClient::Heartbeat(
    const group::v1::ConsumerGroupHeartbeatRequest& request) {
  return Call<group::v1::ConsumerGroupHeartbeatResponse>(
      "ConsumerGroupHeartbeat",
      [&](group::v1::GroupService::Stub& stub, grpc::ClientContext* context, auto* response) {
        return stub.ConsumerGroupHeartbeat(context, request, response);
      });
}

absl::StatusOr<group::v1::OffsetCommitResponse> CoordinatorClient::OffsetCommit(
    const group::v1::OffsetCommitRequest& request) {
  return Call<group::v1::OffsetCommitResponse>(
      "OffsetCommit",
      [&](group::v1::GroupService::Stub& stub, grpc::ClientContext* context, auto* response) {
        return stub.OffsetCommit(context, request, response);
      });
}

absl::StatusOr<group::v1::OffsetFetchResponse> CoordinatorClient::OffsetFetch(
    const group::v1::OffsetFetchRequest& request) {
  return Call<group::v1::OffsetFetchResponse>(
      "OffsetFetch", [&](group::v1::GroupService::Stub& stub, grpc::ClientContext* context,
                         auto* response) { return stub.OffsetFetch(context, request, response); });
}

void CoordinatorClient::OffsetCommitAsync(const group::v1::OffsetCommitRequest& request,
                                          CommitDone done) {
  absl::StatusOr<std::string> address = Find();
  if (!address.ok()) {
    done(address.status());
    return;
  }
  auto* call = new AsyncCommit;
  call->request = request;
  call->address = *address;
  call->done = std::move(done);
  SetDeadline(call->context, request_timeout_ms_);
  Stub(*address)->async()->OffsetCommit(
      &call->context, &call->request, &call->response, [this, call](grpc::Status status) {
        std::unique_ptr<AsyncCommit> owned(call);
        if (!status.ok()) {
          owned->done(TransportFailure("OffsetCommit", owned->address, status));
          return;
        }
        if (absl::Status error = CoordinatorError(owned->response.error(), owned->address);
            !error.ok()) {
          owned->done(error);
          return;
        }
        owned->done(std::move(owned->response));
      });
}

}  // namespace strand::client
