#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "client/admin/admin_retry.h"
#include "client/admin/group_admin.h"
#include "client/common/backoff.h"
#include "client/common/bootstrap.h"
#include "client/common/channel_pool.h"
#include "client/logger.h"
#include "strand/admin.h"

namespace strand::client {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kRequestTimeoutMsMax = 3'600'000;  // one hour
constexpr int64_t kApiTimeoutMsMax = 86'400'000;     // one day

int64_t MsUntil(Clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
}

std::string JoinAddresses(const std::vector<std::string>& addresses) {
  return fmt::format("{}", fmt::join(addresses, ", "));
}

}  // namespace

absl::Status AdminClientOptions::Validate() const {
  if (request_timeout_ms < 1 || request_timeout_ms > kRequestTimeoutMsMax) {
    return absl::InvalidArgumentError(
        fmt::format("request_timeout_ms must be in 1..{}", kRequestTimeoutMsMax));
  }
  if (api_timeout_ms < 1 || api_timeout_ms > kApiTimeoutMsMax) {
    return absl::InvalidArgumentError(
        fmt::format("api_timeout_ms must be in 1..{}", kApiTimeoutMsMax));
  }
  if (retry_backoff_ms < 1 || retry_backoff_max_ms < retry_backoff_ms ||
      retry_backoff_max_ms > kApiTimeoutMsMax) {
    return absl::InvalidArgumentError(
        "retry_backoff_ms must be positive and at most retry_backoff_max_ms");
  }
  if (attempts_max < 1) return absl::InvalidArgumentError("attempts_max must be positive");
  if (connect_timeout_ms < 1 || connect_timeout_ms > kRequestTimeoutMsMax) {
    return absl::InvalidArgumentError(
        fmt::format("connect_timeout_ms must be in 1..{}", kRequestTimeoutMsMax));
  }
  return absl::OkStatus();
}

bool IsUnreachable(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded;
}

absl::StatusOr<std::unique_ptr<AdminClient>> AdminClient::Create(
    std::string_view bootstrap, AdminClientOptions options,
    std::shared_ptr<grpc::ChannelCredentials> credentials) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  absl::StatusOr<std::vector<std::string>> addresses = ParseBootstrap(bootstrap);
  if (!addresses.ok()) return addresses.status();
  return std::unique_ptr<AdminClient>(
      new AdminClient(*std::move(addresses), options, std::move(credentials)));
}

AdminClient::AdminClient(std::vector<std::string> addresses, AdminClientOptions options,
                         std::shared_ptr<grpc::ChannelCredentials> credentials)
    : addresses_(std::move(addresses)), options_(options) {
  ChannelOptions channel_options;
  channel_options.connect_timeout_ms = options_.connect_timeout_ms;
  channel_options.reconnect_backoff_max_ms = options_.retry_backoff_max_ms;
  channels_ = std::make_unique<ChannelPool>(std::move(credentials), channel_options);
  for (const std::string& address : addresses_) {
    stubs_.push_back(admin::v1::AdminService::NewStub(channels_->Get(address)));
  }
  groups_ = std::make_unique<GroupAdmin>(addresses_, options_, *channels_);
}

AdminClient::~AdminClient() = default;

absl::Status AdminClient::Invoke(std::string_view method, const Attempt& attempt,
                                 const Verdict& verdict) {
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + std::chrono::milliseconds(options_.api_timeout_ms);
  Backoff backoff(options_.retry_backoff_ms, options_.retry_backoff_max_ms);
  absl::Status last_failure;
  size_t unanswered_in_a_row = 0;
  int32_t attempts = 0;
  while (true) {
    ++attempts;
    const size_t index = current_.load() % addresses_.size();
    const std::string& address = addresses_[index];
    grpc::ClientContext context;
    // gRPC deadlines are on the system clock; the budget is kept on the monotonic one.
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(std::clamp<int64_t>(
                             MsUntil(deadline), 1, options_.request_timeout_ms)));
    const grpc::Status status = attempt(*stubs_[index], context);
    bool rotate = false;
    bool wait = true;
    if (status.ok()) {
      const int32_t error = verdict();
      if (error == 0) return absl::OkStatus();
      last_failure = absl::OkStatus();  // an answer: the response carries the error
      unanswered_in_a_row = 0;
      rotate = static_cast<KafkaError>(error) == KafkaError::kNotController;
      ClientLogger()->debug("{} on {}: {}, retrying", method, address,
                            KafkaErrorName(static_cast<KafkaError>(error)));
    } else if (IsTransportFailure(status)) {
      last_failure = absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                                  fmt::format("{}: {}", address, status.error_message()));
      rotate = true;
      // Try every address once before waiting: a dead one should cost nothing.
      wait = ++unanswered_in_a_row % addresses_.size() == 0;
      ClientLogger()->debug("{} on {}: no answer ({})", method, address, status.error_message());
    } else {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          fmt::format("{} on {}: {}", method, address, status.error_message()));
    }
    if (rotate) {
      size_t expected = index;
      current_.compare_exchange_strong(expected, (index + 1) % addresses_.size());
    }
    const int64_t left_ms = MsUntil(deadline);
    if (left_ms <= 0 || attempts >= options_.attempts_max) break;
    if (wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(left_ms, backoff.NextMs())));
    }
    if (MsUntil(deadline) <= 0) break;
  }
  if (last_failure.ok()) return last_failure;
  const int64_t elapsed_ms = -MsUntil(start);
  return absl::Status(last_failure.code(),
                      fmt::format("cannot reach the cluster: no answer from {} ({} attempts in {} "
                                  "ms; last error: {})",
                                  JoinAddresses(addresses_), attempts, elapsed_ms,
                                  std::string(last_failure.message())));
}

template <typename Request, typename Response>
absl::StatusOr<Response> AdminClient::Call(std::string_view method,
                                           grpc::Status (Stub::*rpc)(grpc::ClientContext*,
                                                                     const Request&, Response*),
                                           const Request& request) {
  Response response;
  absl::Status status = Invoke(
      method,
      [&](Stub& stub, grpc::ClientContext& context) {
        response.Clear();
        return (stub.*rpc)(&context, request, &response);
      },
      [&]() -> int32_t {
        std::optional<KafkaError> error = RetriableError(response);
        return error ? static_cast<int32_t>(*error) : 0;
      });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<admin::v1::DescribeClusterResponse> AdminClient::DescribeCluster(
    const admin::v1::DescribeClusterRequest& request) {
  return Call("DescribeCluster", &Stub::DescribeCluster, request);
}
absl::StatusOr<admin::v1::CreateTopicsResponse> AdminClient::CreateTopics(
    const admin::v1::CreateTopicsRequest& request) {
  return Call("CreateTopics", &Stub::CreateTopics, request);
}
absl::StatusOr<admin::v1::DeleteTopicsResponse> AdminClient::DeleteTopics(
    const admin::v1::DeleteTopicsRequest& request) {
  return Call("DeleteTopics", &Stub::DeleteTopics, request);
}
absl::StatusOr<admin::v1::ListTopicsResponse> AdminClient::ListTopics(
    const admin::v1::ListTopicsRequest& request) {
  return Call("ListTopics", &Stub::ListTopics, request);
}
absl::StatusOr<admin::v1::DescribeTopicsResponse> AdminClient::DescribeTopics(
    const admin::v1::DescribeTopicsRequest& request) {
  return Call("DescribeTopics", &Stub::DescribeTopics, request);
}
absl::StatusOr<admin::v1::CreatePartitionsResponse> AdminClient::CreatePartitions(
    const admin::v1::CreatePartitionsRequest& request) {
  return Call("CreatePartitions", &Stub::CreatePartitions, request);
}
absl::StatusOr<admin::v1::DescribeConfigsResponse> AdminClient::DescribeConfigs(
    const admin::v1::DescribeConfigsRequest& request) {
  return Call("DescribeConfigs", &Stub::DescribeConfigs, request);
}
absl::StatusOr<admin::v1::AlterConfigsResponse> AdminClient::AlterConfigs(
    const admin::v1::AlterConfigsRequest& request) {
  return Call("AlterConfigs", &Stub::AlterConfigs, request);
}
absl::StatusOr<admin::v1::ElectLeadersResponse> AdminClient::ElectLeaders(
    const admin::v1::ElectLeadersRequest& request) {
  return Call("ElectLeaders", &Stub::ElectLeaders, request);
}
absl::StatusOr<admin::v1::AlterPartitionReassignmentsResponse>
AdminClient::AlterPartitionReassignments(
    const admin::v1::AlterPartitionReassignmentsRequest& request) {
  return Call("AlterPartitionReassignments", &Stub::AlterPartitionReassignments, request);
}
absl::StatusOr<admin::v1::ListPartitionReassignmentsResponse>
AdminClient::ListPartitionReassignments(
    const admin::v1::ListPartitionReassignmentsRequest& request) {
  return Call("ListPartitionReassignments", &Stub::ListPartitionReassignments, request);
}
absl::StatusOr<admin::v1::UnregisterBrokerResponse> AdminClient::UnregisterBroker(
    const admin::v1::UnregisterBrokerRequest& request) {
  return Call("UnregisterBroker", &Stub::UnregisterBroker, request);
}

}  // namespace strand::client
