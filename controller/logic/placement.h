#pragma once

// Replica placement for new topics and partitions: balanced (each broker gets within one
// replica, and within one leader, of every other for the topic being placed) and rack-aware (no
// two replicas of a partition in one rack while there are enough racks). Cluster-wide load is
// the tie-breaker, so successive topics spread over lightly loaded brokers. Pure function.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/ids.h"

namespace strand::controller {

struct PlacementBroker {
  NodeId id;
  std::string rack;  // empty: no rack
};

struct PlacementLoad {
  std::map<NodeId, int64_t> replicas;  // replicas each broker hosts today
  std::map<NodeId, int64_t> leaders;   // preferred leaderships each broker has today
};

// Assignments for `partitions` partitions of `replication_factor` replicas over `brokers` (the
// active ones). `rotation` varies the start so ties do not always favour the same broker.
// INVALID_REPLICATION_FACTOR-style errors are returned as InvalidArgument.
absl::StatusOr<std::vector<std::vector<NodeId>>> PlaceReplicas(
    int32_t partitions, int32_t replication_factor, const std::vector<PlacementBroker>& brokers,
    const PlacementLoad& load, uint64_t rotation);

}  // namespace strand::controller
