#pragma once

// FakeGroupCluster: a scripted stand-in for a cluster's brokers as the group admin calls see
// them, for tests of AdminClient's group methods and of `strand groups`. It runs N servers on
// 127.0.0.1 (free ports), broker ids 101, 102, ..., each serving
//   GroupService   FindCoordinator (the group's coordinator: set with AddGroup, else broker 101),
//                  and per-group calls answered only by that coordinator (others: NOT_COORDINATOR):
//                  DescribeGroups (lag from the fake logs' end offsets), DeleteGroups
//                  (NON_EMPTY_GROUP while members remain), OffsetCommit (an admin commit, member
//                  "" epoch -1, refused UNKNOWN_MEMBER_ID while members remain; a member commits
//                  only as itself), OffsetFetch, OffsetDelete (GROUP_SUBSCRIBED_TO_TOPIC for a
//                  topic a member subscribes to), ListGroups (every group, minus those of the
//                  coordinators marked unreachable);
//   BrokerService  Metadata and ListOffsets (earliest, latest, by timestamp; leaders only) over
//                  fake logs that hold only offsets and timestamps.
// One model shared by every server; the real coordinator's validation is not reproduced beyond
// what the tests need. Faults (GroupFault) are consumed in order by the first matching call.
// Thread-safe.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "common/kafka_error.h"
#include "proto/broker/v1/broker.grpc.pb.h"
#include "proto/group/v1/group.grpc.pb.h"

namespace strand::client::testing {

struct GroupFault {
  std::string method;   // "FindCoordinator", "DescribeGroups", "Metadata", ...; "" any
  int32_t broker = -1;  // -1: any broker
  grpc::StatusCode grpc_code = grpc::StatusCode::OK;  // not OK: fail the call with it
  KafkaError error = KafkaError::kNone;  // else answer with it (per group / request level)
  int times = 1;
};

class FakeGroupCluster {
 public:
  explicit FakeGroupCluster(int brokers = 3);
  ~FakeGroupCluster();
  FakeGroupCluster(const FakeGroupCluster&) = delete;
  FakeGroupCluster& operator=(const FakeGroupCluster&) = delete;

  std::string bootstrap() const;  // every broker, comma-separated
  std::string address(int32_t broker) const;
  // Stops answering on this broker's address (calls fail UNAVAILABLE).
  void StopBroker(int32_t broker);

  // A topic whose partition p is led by broker 101 + p mod N, its log holding offsets
  // [log_start, log_end), offset o written at first_timestamp_ms + o * step_ms.
  void AddTopic(const std::string& name, int partitions, int64_t log_start, int64_t log_end,
                int64_t first_timestamp_ms = 1'000'000, int64_t step_ms = 1'000);
  // A group (type consumer, state Empty) coordinated by `coordinator`.
  void AddGroup(const std::string& group_id, int32_t coordinator = 101);
  void MoveCoordinator(const std::string& group_id, int32_t coordinator);
  // A member (the group's state becomes Stable) with its assignment and subscriptions.
  void AddMember(const std::string& group_id, const group::v1::DescribedMember& member);
  void RemoveMembers(const std::string& group_id);
  void SetOffset(const std::string& group_id, const std::string& topic, int32_t partition,
                 int64_t offset);
  // The committed offset, nullopt when none (or no group).
  std::optional<int64_t> Offset(const std::string& group_id, const std::string& topic,
                                int32_t partition) const;
  bool HasGroup(const std::string& group_id) const;
  // ListGroups leaves out the groups of these brokers and names them unreachable.
  void SetUnreachableCoordinators(std::vector<int32_t> brokers);

  void PushFault(GroupFault fault);
  int Calls(const std::string& method, int32_t broker = -1) const;
  int TotalCalls() const;
  std::vector<group::v1::OffsetCommitRequest> commits() const;  // every OffsetCommit received

  // ---- Used by the per-broker services.
  grpc::Status FindCoordinator(int32_t broker, const group::v1::FindCoordinatorRequest& request,
                               group::v1::FindCoordinatorResponse* response);
  grpc::Status ListGroups(int32_t broker, const group::v1::ListGroupsRequest& request,
                          group::v1::ListGroupsResponse* response);
  grpc::Status DescribeGroups(int32_t broker, const group::v1::DescribeGroupsRequest& request,
                              group::v1::DescribeGroupsResponse* response);
  grpc::Status DeleteGroups(int32_t broker, const group::v1::DeleteGroupsRequest& request,
                            group::v1::DeleteGroupsResponse* response);
  grpc::Status OffsetCommit(int32_t broker, const group::v1::OffsetCommitRequest& request,
                            group::v1::OffsetCommitResponse* response);
  grpc::Status OffsetFetch(int32_t broker, const group::v1::OffsetFetchRequest& request,
                           group::v1::OffsetFetchResponse* response);
  grpc::Status OffsetDelete(int32_t broker, const group::v1::OffsetDeleteRequest& request,
                            group::v1::OffsetDeleteResponse* response);
  grpc::Status Metadata(int32_t broker, const broker::v1::MetadataRequest& request,
                        broker::v1::MetadataResponse* response);
  grpc::Status ListOffsets(int32_t broker, const broker::v1::ListOffsetsRequest& request,
                           broker::v1::ListOffsetsResponse* response);

 private:
  struct Log {
    int32_t leader = 101;
    int64_t start = 0;
    int64_t end = 0;
    int64_t first_timestamp_ms = 0;
    int64_t step_ms = 1;
  };
  struct Group {
    int32_t coordinator = 101;
    int32_t epoch = 0;
    std::vector<group::v1::DescribedMember> members;
    std::map<std::pair<std::string, int32_t>, int64_t> offsets;
  };
  struct Node;

  // Counts the call and pops the first matching fault.
  std::optional<GroupFault> Begin(const std::string& method, int32_t broker);
  int32_t CoordinatorOf(const std::string& group_id) const;  // locked
  // NOT_COORDINATOR (with its message) when `broker` is not the group's coordinator.
  bool NotCoordinator(int32_t broker, const std::string& group_id,
                      common::v1::Error* error) const;  // locked
  std::string StateOf(const Group& g) const;

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::map<std::string, std::vector<Log>> topics_;
  std::map<std::string, Group> groups_;
  std::vector<int32_t> unreachable_;
  std::deque<GroupFault> faults_;
  std::map<std::pair<std::string, int32_t>, int> calls_;
  std::vector<group::v1::OffsetCommitRequest> commits_;
};

}  // namespace strand::client::testing
