#pragma once

// strand::client::AdminClient — the C++ client of strand.admin.v1.AdminService
// (proto/admin/v1/admin.proto): topics, partitions, configs, leader election, reassignment and
// the cluster description; and of the admin side of strand.group.v1.GroupService
// (proto/group/v1/group.proto): list, describe, delete consumer groups, delete and reset their
// committed offsets. The `strand` CLI is built on it.
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
// Consumer groups are served by brokers only: for the group methods the bootstrap list must name
// at least one broker (a controller answers UNIMPLEMENTED and the next address is tried). A call
// about one group goes to the group's coordinator, found with FindCoordinator on a bootstrap
// broker; NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE and COORDINATOR_LOAD_IN_PROGRESS (and the
// other retriable errors) find the coordinator again after a backoff, within api_timeout_ms.
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
#include "proto/group/v1/group.pb.h"

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

// ---- Resetting a group's committed offsets (kafka-consumer-groups.sh --reset-offsets).

// Where each partition's new offset comes from. Every target is clamped to the partition's
// [log start offset, log end offset] (the high watermark), as Kafka does.
enum class OffsetResetStrategy {
  kToEarliest,  // the log start offset
  kToLatest,    // the log end offset
  kToDatetime,  // the first offset whose timestamp is >= value (ms since the epoch); the log
                // end offset when no record is that recent
  kToOffset,    // value
  kShiftBy,     // the committed offset + value (negative moves back); a partition without a
                // committed offset cannot be shifted (FAILED_PRECONDITION, as Kafka refuses)
};

// "to-earliest", "to-latest", "to-datetime", "to-offset", "shift-by".
std::string_view OffsetResetStrategyName(OffsetResetStrategy strategy);

struct OffsetResetTopic {
  std::string topic;
  std::vector<int32_t> partitions;  // empty: every partition of the topic
};

struct OffsetResetSpec {
  std::string group_id;
  OffsetResetStrategy strategy = OffsetResetStrategy::kToEarliest;
  int64_t value = 0;                     // see OffsetResetStrategy
  bool all_topics = false;               // every partition the group has a committed offset for
  std::vector<OffsetResetTopic> topics;  // else these (at least one)
};

struct OffsetResetEntry {
  std::string topic;
  int32_t partition = 0;
  int64_t current_offset = -1;  // committed now; -1 none
  int64_t new_offset = -1;
  int64_t requested_offset = -1;  // what the strategy asked for, before clamping to the bounds
  int64_t log_start_offset = -1;  // the bounds the new offset was clamped to
  int64_t log_end_offset = -1;
};

struct OffsetResetPlan {
  std::string group_id;
  std::string group_state;  // "Empty", "Stable", ...; "Dead" when the group does not exist
  int32_t members = 0;
  std::vector<OffsetResetEntry> entries;  // sorted by topic, then partition

  // Kafka resets only an inactive group: no members ("Empty", or "Dead": no group yet).
  bool resettable() const { return members == 0; }
};

class ChannelPool;
class GroupAdmin;

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

  // ---- Consumer groups (brokers only; see the top of this file).

  // Every group of the cluster, from any broker (it asks every coordinator). A coordinator that
  // could not be asked is named in unreachable_coordinators, its groups missing, and the first
  // such failure is the response's error: a partial answer, returned as such (not retried).
  absl::StatusOr<group::v1::ListGroupsResponse> ListGroups(
      const group::v1::ListGroupsRequest& request = {});
  // One answer per group id, in the request's order, each from the group's coordinator
  // (GROUP_ID_NOT_FOUND for an unknown group, state "Dead"). include_offsets adds the committed
  // offsets with the partitions' high watermarks and lag.
  absl::StatusOr<group::v1::DescribeGroupsResponse> DescribeGroups(
      const group::v1::DescribeGroupsRequest& request);
  // One answer per group id, in the request's order (NON_EMPTY_GROUP while it has members).
  absl::StatusOr<group::v1::DeleteGroupsResponse> DeleteGroups(
      const group::v1::DeleteGroupsRequest& request);
  // Committed offsets of one group (no topics: every one), from its coordinator.
  absl::StatusOr<group::v1::OffsetFetchResponse> FetchOffsets(
      const group::v1::OffsetFetchRequest& request);
  // Commits offsets for one group on its coordinator. member_id "" / member_epoch -1 commits as
  // an admin or a simple group, refused (UNKNOWN_MEMBER_ID) while the group has members.
  absl::StatusOr<group::v1::OffsetCommitResponse> CommitOffsets(
      const group::v1::OffsetCommitRequest& request);
  // Deletes committed offsets of one group. A topic listed without partitions means every
  // partition of it the group has an offset for (asked first with FetchOffsets); per partition
  // GROUP_SUBSCRIBED_TO_TOPIC while a member subscribes to the topic.
  absl::StatusOr<group::v1::OffsetDeleteResponse> DeleteOffsets(
      const group::v1::OffsetDeleteRequest& request);

  // The dry run of a reset: the group's state, its committed offsets and the partitions' log
  // bounds (ListOffsets on their leaders) turned into the new offsets. Changes nothing, whatever
  // the group's state. Errors: unreachable as above; a Kafka error (KafkaErrorOf: an unknown
  // topic or partition, a coordinator still unavailable at the deadline, ...);
  // INVALID_ARGUMENT for a spec without group or scope; FAILED_PRECONDITION for a shift of a
  // partition with no committed offset.
  absl::StatusOr<OffsetResetPlan> PlanOffsetReset(const OffsetResetSpec& spec);
  // Applies a plan: checks again that the group has no members (DescribeGroups), then commits
  // every entry's new offset as an admin (member id "", epoch -1). Not OK means nothing was
  // committed: FAILED_PRECONDITION "Assignments can only be reset if the group 'G' is inactive,
  // but the current state is Stable." (also when the coordinator refuses because a member joined
  // since), a Kafka error, or unreachable. An OK answer may still carry per-partition errors.
  absl::StatusOr<group::v1::OffsetCommitResponse> ExecuteOffsetReset(const OffsetResetPlan& plan);

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
  std::unique_ptr<GroupAdmin> groups_;        // the GroupService side, on the same channels
};

}  // namespace strand::client
