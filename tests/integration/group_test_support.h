#pragma once

// Helpers for consumer-group tests on a real StrandCluster that speak GroupService directly (what
// grpcurl does), next to the client library: the cluster options the group tests share, and the
// group as its coordinator sees it (coordinator, description, committed offsets, listing). Each
// asks the brokers still running and returns nullopt / -1 on any error, so that a test can poll
// it with Eventually across a coordinator's failover.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "proto/group/v1/group.grpc.pb.h"
#include "tests/integration/strand_cluster.h"

namespace strand::testing {

// Sets `stop` and joins `thread` when it goes out of scope, so that a test's background thread
// stops on every way out of the test, a failed ASSERT included.
struct JoinOnExit {
  std::atomic<bool>& stop;
  std::thread& thread;
  ~JoinOnExit() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
};

// 3 controllers and 3 brokers with a 6 s member session and 300 ms heartbeats (groups react in
// seconds), and 6 __consumer_offsets partitions (the controllers create it, so they get the
// setting too).
ClusterOptions GroupCluster();

// The coordinator of `group` as the first running broker that answers names it; -1 when none
// does (no leader for its __consumer_offsets partition yet, every broker down).
int32_t FindGroupCoordinator(StrandCluster& cluster, const std::string& group);

// The group as its coordinator describes it (nullopt: no coordinator, or an error such as
// GROUP_ID_NOT_FOUND).
std::optional<group::v1::DescribedGroup> DescribeGroup(StrandCluster& cluster,
                                                       const std::string& group,
                                                       bool include_offsets = false);

using GroupOffsets = std::map<std::pair<std::string, int32_t>, int64_t>;  // (topic, p) -> next
// Every offset `group` has committed, from its coordinator's OffsetFetch (an unknown group has
// none); nullopt on an error, with its name in `error` when given.
std::optional<GroupOffsets> FetchCommitted(StrandCluster& cluster, const std::string& group,
                                           std::string* error = nullptr);

// ListGroups through any running broker (it asks every coordinator); nullopt on an error or
// when a coordinator could not be asked.
std::optional<std::vector<group::v1::ListedGroup>> ListAllGroups(StrandCluster& cluster);

}  // namespace strand::testing
