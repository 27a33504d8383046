#pragma once

// CoordinatorClient: the GroupService calls of one consumer, sent to its group's coordinator.
// The coordinator is found with FindCoordinator, asked of any broker — those of the latest
// metadata first, then the bootstrap list — and remembered until NOT_COORDINATOR,
// COORDINATOR_NOT_AVAILABLE or a failed call (the broker died or moved) makes the next call look
// it up again. Each call is one attempt with request.timeout.ms as its deadline; the callers
// decide about retries (GroupMember for heartbeats, OffsetCommitter for commits and fetches).
//
// Errors: a call returns a status when no usable answer came back — the lookup failed
// (COORDINATOR_NOT_AVAILABLE and COORDINATOR_LOAD_IN_PROGRESS are retriable; INVALID_GROUP_ID and
// GROUP_AUTHORIZATION_FAILED are not), the call failed on the wire (NETWORK_EXCEPTION,
// REQUEST_TIMED_OUT), or the answer's request-level error concerns the coordinator itself
// (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS). Other errors stay
// in the response for the caller (FENCED_MEMBER_EPOCH, STALE_MEMBER_EPOCH, ...).
//
// Threading: thread-safe. The heartbeat thread and the polling thread both call it; one lookup
// runs at a time and no lock is held while a call is on the wire. Owned by the consumer.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/common/broker_channels.h"
#include "client/common/metadata_manager.h"
#include "proto/group/v1/group.grpc.pb.h"

namespace strand::client {

class CoordinatorClient {
 public:
  CoordinatorClient(std::string group_id, std::vector<std::string> bootstrap,
                    BrokerChannels& channels, const MetadataManager& metadata,
                    int64_t request_timeout_ms);

  absl::StatusOr<group::v1::ConsumerGroupHeartbeatResponse> Heartbeat(
      const group::v1::ConsumerGroupHeartbeatRequest& request);
  absl::StatusOr<group::v1::OffsetCommitResponse> OffsetCommit(
      const group::v1::OffsetCommitRequest& request);
  absl::StatusOr<group::v1::OffsetFetchResponse> OffsetFetch(
      const group::v1::OffsetFetchRequest& request);

  using CommitDone = std::function<void(absl::StatusOr<group::v1::OffsetCommitResponse>)>;
  // The same as OffsetCommit, without waiting: `done` runs once, on a gRPC thread (or on this
  // one when the coordinator is unknown and cannot be found). The lookup, if needed, is made
  // synchronously first.
  void OffsetCommitAsync(const group::v1::OffsetCommitRequest& request, CommitDone done);

  // Forgets the coordinator: the next call looks it up.
  void MarkUnknown();
  // host:port of the known coordinator, "" when unknown.
  std::string address() const;
  // FindCoordinator calls made so far.
  int lookups() const;

 private:
  // The coordinator's address, looked up if unknown.
  absl::StatusOr<std::string> Find();
  absl::StatusOr<std::string> Lookup();
  group::v1::GroupService::Stub* Stub(const std::string& address);
  // The status for a request-level error about the coordinator itself (OK otherwise).
  absl::Status CoordinatorError(const common::v1::Error& error, const std::string& address);
  absl::Status TransportFailure(const char* method, const std::string& address,
                                const grpc::Status& status);
  template <typename Response, typename Invoke>
  absl::StatusOr<Response> Call(const char* method, const Invoke& invoke);

  const std::string group_id_;
  const std::vector<std::string> bootstrap_;
  BrokerChannels& channels_;
  const MetadataManager& metadata_;
  const int64_t request_timeout_ms_;
  std::mutex lookup_mu_;  // one lookup at a time
  mutable std::mutex mu_;
  std::string address_;
  int lookups_ = 0;
  std::map<std::string, std::unique_ptr<group::v1::GroupService::Stub>> stubs_;
};

}  // namespace strand::client
