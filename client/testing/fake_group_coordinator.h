#pragma once

// FakeGroupCoordinator: a scripted stand-in for the brokers' GroupService
// (proto/group/v1/group.proto), for tests of the consumer's group membership and commits. It is
// served beside FakeBrokerCluster's BrokerService on every fake broker (pass Hook() to the
// cluster's constructor), all sharing this one model:
//   FindCoordinator          every broker: the broker set by SetCoordinator (or a pushed error);
//   ConsumerGroupHeartbeat   the coordinator: a pushed error if any, else the member epoch of the
//                            current assignment (SetAssignment bumps it), the heartbeat interval
//                            and the assignment (the same for any member: tests run one);
//                            epoch -1/-2 (leave) answers that epoch and nothing else;
//   OffsetCommit             the coordinator: a pushed error (request-level) or stores offsets;
//   OffsetFetch              the coordinator: the stored offsets (-1 none);
//   anything else            UNIMPLEMENTED. Other brokers answer NOT_COORDINATOR.
// Every request is recorded in arrival order for assertions. Thread-safe.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/kafka_error.h"
#include "proto/group/v1/group.grpc.pb.h"

namespace strand::client::testing {

using GroupHeartbeat = group::v1::ConsumerGroupHeartbeatRequest;
using TopicPartitionList = std::vector<std::pair<std::string, int32_t>>;

class FakeGroupCoordinator {
 public:
  FakeGroupCoordinator();
  ~FakeGroupCoordinator();
  FakeGroupCoordinator(const FakeGroupCoordinator&) = delete;
  FakeGroupCoordinator& operator=(const FakeGroupCoordinator&) = delete;

  // For FakeBrokerCluster's constructor: adds a GroupService to each broker.
  std::function<void(int32_t, grpc::ServerBuilder&)> Hook();

  // The broker FindCoordinator names (host 127.0.0.1, `port`).
  void SetCoordinator(int32_t broker, int port);
  // The assignment every member's heartbeat gets from now on; bumps the member epoch.
  void SetAssignment(const TopicPartitionList& partitions);
  int32_t epoch() const;
  void SetHeartbeatIntervalMs(int32_t interval_ms);
  // Scripted errors, consumed in order by the next calls of that method.
  void PushFindCoordinatorError(KafkaError error);
  void PushHeartbeatError(KafkaError error, const std::string& message = "scripted");
  void PushCommitError(KafkaError error);

  void SetCommitted(const std::string& topic, int32_t partition, int64_t offset);
  std::optional<int64_t> Committed(const std::string& topic, int32_t partition) const;

  std::vector<GroupHeartbeat> Heartbeats() const;
  std::vector<group::v1::OffsetCommitRequest> Commits() const;
  int Calls(const std::string& method) const;
  // Waits up to `timeout` for a heartbeat (from the `from`-th on) that `match`es; returns its
  // index in Heartbeats(), or -1. `match` runs under the fake's lock: it must not call the fake.
  int WaitForHeartbeat(const std::function<bool(const GroupHeartbeat&)>& match,
                       std::chrono::milliseconds timeout, size_t from = 0) const;
  // The same for commits.
  int WaitForCommit(const std::function<bool(const group::v1::OffsetCommitRequest&)>& match,
                    std::chrono::milliseconds timeout, size_t from = 0) const;

  // ---- Used by the per-broker services.
  grpc::Status FindCoordinator(int32_t broker, const group::v1::FindCoordinatorRequest& request,
                               group::v1::FindCoordinatorResponse* response);
  grpc::Status Heartbeat(int32_t broker, const GroupHeartbeat& request,
                         group::v1::ConsumerGroupHeartbeatResponse* response);
  grpc::Status OffsetCommit(int32_t broker, const group::v1::OffsetCommitRequest& request,
                            group::v1::OffsetCommitResponse* response);
  grpc::Status OffsetFetch(int32_t broker, const group::v1::OffsetFetchRequest& request,
                           group::v1::OffsetFetchResponse* response);

 private:
  class Service;
  struct ScriptedError {
    KafkaError error;
    std::string message;
  };

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::vector<std::unique_ptr<Service>> services_;
  int32_t coordinator_ = -1;
  int coordinator_port_ = 0;
  int32_t epoch_ = 1;
  int32_t heartbeat_interval_ms_ = 100;
  TopicPartitionList assignment_;
  std::deque<KafkaError> find_errors_;
  std::deque<ScriptedError> heartbeat_errors_;
  std::deque<KafkaError> commit_errors_;
  std::map<std::pair<std::string, int32_t>, int64_t> committed_;
  std::vector<GroupHeartbeat> heartbeats_;
  std::vector<group::v1::OffsetCommitRequest> commits_;
  std::map<std::string, int> calls_;
};

}  // namespace strand::client::testing
