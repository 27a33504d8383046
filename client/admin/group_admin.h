#pragma once

// GroupAdmin: the GroupService half of AdminClient (strand/admin.h) — where each group call is
// sent and what is retried. Owned by the AdminClient, sharing its ChannelPool.
//
//   - Calls that any broker answers (FindCoordinator, ListGroups, Metadata) go to the bootstrap
//     addresses in turn: one that does not answer is skipped for the next (every address is
//     tried before backing off), and one that answers UNIMPLEMENTED is a controller that does
//     not serve that call and is skipped too. Controllers answer ListGroups and DescribeGroups
//     (asking the brokers), so `strand groups list|describe` work with controllers alone in the
//     bootstrap list; any other call then fails with UNIMPLEMENTED saying that it needs a
//     broker in the bootstrap list.
//   - Calls about one group go to its coordinator (FindCoordinator's node, at the host:port it
//     names, remembered until it fails). A retriable Kafka error in the answer — NOT_COORDINATOR,
//     COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS, REQUEST_TIMED_OUT, ... — or no
//     answer at all makes it find the coordinator again after a backoff; when the deadline comes
//     the last answer is returned with its error (or, if the coordinator never answered, an
//     UNAVAILABLE / DEADLINE_EXCEEDED status naming it).
//   - ListOffsets goes to each partition's leader from a Metadata answer; a retriable error
//     refreshes the metadata and asks again after a backoff.
//
// Every method takes the caller's deadline, so a composite operation (a reset plan: describe,
// fetch, metadata, three ListOffsets passes) shares one api_timeout_ms. Thread-safe.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/common/channel_pool.h"
#include "proto/broker/v1/broker.grpc.pb.h"
#include "proto/group/v1/group.grpc.pb.h"
#include "strand/admin.h"

namespace strand::client {

using GroupTopicPartition = std::pair<std::string, int32_t>;

class GroupAdmin {
 public:
  using Clock = std::chrono::steady_clock;

  GroupAdmin(std::vector<std::string> bootstrap, AdminClientOptions options, ChannelPool& channels);

  // ---- Any broker.
  absl::StatusOr<group::v1::ListGroupsResponse> ListGroups(
      const group::v1::ListGroupsRequest& request, Clock::time_point deadline);
  absl::StatusOr<broker::v1::MetadataResponse> Metadata(const std::vector<std::string>& topics,
                                                        Clock::time_point deadline);

  // ---- The group's coordinator. Kafka errors stay in the answers.
  absl::StatusOr<group::v1::DescribedGroup> Describe(const std::string& group_id,
                                                     bool include_offsets,
                                                     Clock::time_point deadline);
  absl::StatusOr<group::v1::DeletedGroup> Delete(const std::string& group_id,
                                                 Clock::time_point deadline);
  absl::StatusOr<group::v1::OffsetFetchResponse> FetchOffsets(
      const group::v1::OffsetFetchRequest& request, Clock::time_point deadline);
  absl::StatusOr<group::v1::OffsetCommitResponse> CommitOffsets(
      const group::v1::OffsetCommitRequest& request, Clock::time_point deadline);
  absl::StatusOr<group::v1::OffsetDeleteResponse> DeleteOffsets(
      const group::v1::OffsetDeleteRequest& request, Clock::time_point deadline);

  // ---- Partition leaders. The offset of each partition for its timestamp (-2 earliest, -1
  // latest: the high watermark, else the first offset at or after it, -1 when none is). A
  // partition that does not exist, or any other non-retriable error, fails the whole call with
  // its Kafka error (KafkaStatus).
  absl::StatusOr<std::map<GroupTopicPartition, int64_t>> ListOffsets(
      const std::map<GroupTopicPartition, int64_t>& timestamps, Clock::time_point deadline);

 private:
  // One attempt on `address` with `context` (its deadline set).
  using Attempt =
      std::function<grpc::Status(const std::string& address, grpc::ClientContext& context)>;
  // After an answered attempt on a coordinator: the Kafka error in the answer (0: none).
  using ErrorOf = std::function<const common::v1::Error&()>;
  // Puts FindCoordinator's error for the group into the caller's answer.
  using SetError = std::function<void(const common::v1::Error&)>;

  absl::Status OnAnyBroker(std::string_view method, Clock::time_point deadline,
                           const Attempt& attempt);
  absl::Status OnCoordinator(std::string_view method, const std::string& group_id,
                             Clock::time_point deadline, const Attempt& attempt,
                             const ErrorOf& error_of, const SetError& set_error);
  // The coordinator as remembered, else from FindCoordinator (its error in the answer).
  absl::StatusOr<group::v1::Coordinator> Coordinator(const std::string& group_id,
                                                     Clock::time_point deadline);
  void Forget(const std::string& group_id);
  // Sets `context`'s deadline: one attempt's timeout, within the caller's deadline.
  void SetDeadline(grpc::ClientContext& context, Clock::time_point deadline) const;
  // Sleeps the next backoff, cut at the deadline; false when no time is left.
  bool Wait(int64_t wait_ms, Clock::time_point deadline) const;

  const std::vector<std::string> bootstrap_;
  const AdminClientOptions options_;
  ChannelPool& channels_;
  std::atomic<size_t> current_{0};  // the bootstrap address tried first by the next call
  std::mutex mu_;
  std::map<std::string, group::v1::Coordinator> coordinators_;  // by group id
};

// "host:port", bracketing an IPv6 host.
std::string HostPort(const std::string& host, int32_t port);

}  // namespace strand::client
