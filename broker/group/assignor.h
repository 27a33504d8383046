#pragma once

// Server-side partition assignors of KIP-848 consumer groups: given the group's members (their
// subscriptions, racks and current target assignment) and the topics' metadata, compute the
// group's next target assignment. The group coordinator (next to come) calls an assignor each
// time membership or metadata changes and then reconciles members towards the result.
//
// Everything here is pure and deterministic: the same spec gives the same assignment (members
// and topics are ordered by name inside, no randomness), so a replayed or failed-over
// coordinator computes exactly what its predecessor did. No threads, clocks or I/O.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace strand::broker::group {

// topic -> partition indexes (sorted ascending in every output).
using TopicPartitions = std::map<std::string, std::vector<int32_t>>;

struct MemberSpec {
  std::string member_id;
  std::optional<std::string> rack;
  std::set<std::string> subscribed_topics;
  // The member's current target assignment: what the assignor tries to keep (stickiness).
  // Partitions of topics the member no longer subscribes to, or that no longer exist, are
  // dropped; a partition claimed by two members stays with the one whose id sorts first.
  TopicPartitions current;
};

struct TopicSpec {
  int32_t partition_count = 0;
  // Empty when unknown; else one entry per partition: the racks holding its replicas.
  std::vector<std::set<std::string>> partition_racks;
};

struct AssignmentSpec {
  std::vector<MemberSpec> members;
  // name -> metadata. A subscribed topic missing here is ignored (not created yet, or deleted).
  std::map<std::string, TopicSpec> topics;
};

// member id -> topic -> sorted partitions. Every member of the spec appears, possibly with an
// empty map.
using GroupAssignment = std::map<std::string, TopicPartitions>;

// Bounds on what one assignment may cost; a spec past them is refused with InvalidArgument
// rather than stalling the coordinator.
struct AssignmentLimits {
  int32_t members_max = 10'000;
  // Sum of partition counts over the subscribed topics that exist.
  int64_t partitions_total_max = 1'000'000;
  // Sum over members of their subscribed topic count.
  int64_t subscriptions_total_max = 1'000'000;
};

// Checks the spec against `limits` and for malformed input (empty or duplicate member ids,
// negative partition counts, rack lists whose length is not the partition count).
absl::Status ValidateSpec(const AssignmentSpec& spec, const AssignmentLimits& limits);

// An assignor is stateless: one instance serves every group, from any thread.
class PartitionAssignor {
 public:
  virtual ~PartitionAssignor() = default;
  // The name clients ask for in ConsumerGroupHeartbeat ("uniform", "range").
  virtual std::string_view Name() const = 0;
  // Validates the spec (ValidateSpec) and computes the new target assignment.
  virtual absl::StatusOr<GroupAssignment> Assign(const AssignmentSpec& spec,
                                                 const AssignmentLimits& limits = {}) const = 0;
};

// The assignor called `name`, or nullptr when there is none (the coordinator answers
// UNSUPPORTED_ASSIGNOR). The returned object lives for the whole process.
const PartitionAssignor* AssignorByName(std::string_view name);

// The default assignor when a member names none (Kafka's default too).
inline constexpr std::string_view kDefaultAssignorName = "uniform";

}  // namespace strand::broker::group
