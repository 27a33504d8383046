#pragma once

// strand::client::AdminClient — the C++ client of strand.admin.v1.AdminService
// (proto/admin/v1/admin.proto): topics, partitions, configs, leader election, reassignment and
// the cluster description. The `strand` CLI is built on it.
//
//   auto admin = strand::client::AdminClient::Create("127.0.0.1:9091,127.0.0.1:9092");
//   if (!admin.ok()) ...                                   // a malformed bootstrap list
//   strand::admin::v1::CreateTopicsRequest request;
//   auto* topic = request.add_topics();
//   topic->set_name("orders");
//   topic->set_partitions(6);
//   absl::StatusOr<strand::admin::v1::CreateTopicsResponse> r = (*admin)->CreateTopics(request);
//   if (!r.ok()) ...                                 // no answer (IsUnreachable) or gRPC error
//   for (const auto& t : r->topics()) if (t.error().code() != 0) ...  // per-item Kafka errors
//
// Errors, in two tiers:
//   - The returned absl::Status is not OK only when no usable answer came back: the cluster
//     could not be reached within the time budget (IsUnreachable: UNAVAILABLE or
//     DEADLINE_EXCEEDED, naming the addresses tried), or a gRPC error other than those
//     (UNIMPLEMENTED, INVALID_ARGUMENT, ...; its code and message are kept).
//   - Kafka errors (common.v1.Error, by code and name) stay in the response, request-level or
//     per item, for the caller to report. Retriable ones (see client/admin/admin_retry.h) are
//     retried first; if the budget runs out, the last answer is returned with its error.
//
// Retries: an address that does not answer is skipped for the next bootstrap address (all are
// tried before backing off); a retriable Kafka error is retried after a backoff (NOT_CONTROLLER
// also moves to the next address). Everything is bounded by api_timeout_ms and attempts_max.
// A write that timed out may have been applied; retrying it then yields the error that says so
// (e.g. TOPIC_ALREADY_EXISTS), as with Kafka's admin client.
//
// Threading: every method is synchronous and thread-safe; the client keeps one gRPC channel per
// bootstrap address for its whole life. Cheap to share, expensive to create per call.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/admin/v1/admin.grpc.pb.h"
#include "proto/admin/v1/admin.pb.h"

namespace strand::client {

// Kafka's names are given for each setting.
struct AdminClientOptions {
  int64_t request_timeout_ms = 30'000;   // one attempt on one address (request.timeout.ms)
  int64_t api_timeout_ms = 60'000;       // the whole call, retries included
                                         // (default.api.timeout.ms)
  int64_t retry_backoff_ms = 100;        // first wait before a retry (retry.backoff.ms)
  int64_t retry_backoff_max_ms = 1'000;  // doubling stops here (retry.backoff.max.ms)
  int32_t attempts_max = 1'000;          // attempts per call, besides the time budget
  int64_t connect_timeout_ms = 10'000;   // one connection attempt
                                         // (socket.connection.setup.timeout.ms)

  // Every value positive, backoff <= backoff max, request timeout <= one hour, API timeout <=
  // one day.
  absl::Status Validate() const;
};

// The cluster could not be reached (no address answered within the budget).
bool IsUnreachable(const absl::Status& status);

class ChannelPool;

class AdminClient {
 public:
  // `bootstrap`: "host:port[,host:port...]" of any controllers or brokers. `credentials`: null
  // for plaintext; pass grpc::SslCredentials(...) for TLS.
  static absl::StatusOr<std::unique_ptr<AdminClient>> Create(
      std::string_view bootstrap, AdminClientOptions options = {},
      std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);
  ~AdminClient();
  AdminClient(const AdminClient&) = delete;
  AdminClient& operator=(const AdminClient&) = delete;

  // The parsed bootstrap addresses, in the order they are tried.
  const std::vector<std::string>& addresses() const { return addresses_; }
  const AdminClientOptions& options() const { return options_; }

  absl::StatusOr<admin::v1::DescribeClusterResponse> DescribeCluster(
      const admin::v1::DescribeClusterRequest& request = {});
  absl::StatusOr<admin::v1::CreateTopicsResponse> CreateTopics(
      const admin::v1::CreateTopicsRequest& request);
  absl::StatusOr<admin::v1::DeleteTopicsResponse> DeleteTopics(
      const admin::v1::DeleteTopicsRequest& request);
  absl::StatusOr<admin::v1::ListTopicsResponse> ListTopics(
      const admin::v1::ListTopicsRequest& request = {});
  absl::StatusOr<admin::v1::DescribeTopicsResponse> DescribeTopics(
      const admin::v1::DescribeTopicsRequest& request);
  absl::StatusOr<admin::v1::CreatePartitionsResponse> CreatePartitions(
      const admin::v1::CreatePartitionsRequest& request);
  absl::StatusOr<admin::v1::DescribeConfigsResponse> DescribeConfigs(
      const admin::v1::DescribeConfigsRequest& request);
  absl::StatusOr<admin::v1::AlterConfigsResponse> AlterConfigs(
      const admin::v1::AlterConfigsRequest& request);
  absl::StatusOr<admin::v1::ElectLeadersResponse> ElectLeaders(
      const admin::v1::ElectLeadersRequest& request);
  absl::StatusOr<admin::v1::AlterPartitionReassignmentsResponse> AlterPartitionReassignments(
      const admin::v1::AlterPartitionReassignmentsRequest& request);
  absl::StatusOr<admin::v1::ListPartitionReassignmentsResponse> ListPartitionReassignments(
      const admin::v1::ListPartitionReassignmentsRequest& request = {});
  absl::StatusOr<admin::v1::UnregisterBrokerResponse> UnregisterBroker(
      const admin::v1::UnregisterBrokerRequest& request);

 private:
  using Stub = admin::v1::AdminService::Stub;
  // One attempt: send on `stub` with `context`, fill the caller's response.
  using Attempt = std::function<grpc::Status(Stub& stub, grpc::ClientContext& context)>;
  // After an answered attempt: the retriable Kafka error in it, or 0 when the answer is final.
  using Verdict = std::function<int32_t()>;

  AdminClient(std::vector<std::string> addresses, AdminClientOptions options,
              std::shared_ptr<grpc::ChannelCredentials> credentials);

  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(std::string_view method,
                                grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Request&,
                                                          Response*),
                                const Request& request);
  // The retry loop shared by every method. OK once an attempt gave a final answer, or when the
  // budget ran out after an answer with a retriable error (the response holds it).
  absl::Status Invoke(std::string_view method, const Attempt& attempt, const Verdict& verdict);

  const std::vector<std::string> addresses_;
  const AdminClientOptions options_;
  std::unique_ptr<ChannelPool> channels_;
  std::vector<std::unique_ptr<Stub>> stubs_;  // parallel to addresses_
  std::atomic<size_t> current_{0};            // the address tried first by the next attempt
};

}  // namespace strand::client
