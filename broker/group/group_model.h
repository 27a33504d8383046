#pragma once

// GroupModel: the assignors' shared, index-based view of an AssignmentSpec. Members are sorted
// by id and topics by name so that every loop over them is deterministic whatever order the
// spec listed them in; topics nobody subscribes to, or missing from the metadata, are left out.
// Built once per Assign call and read-only afterwards; internal to broker/group.

#include <cstdint>
#include <string>
#include <vector>

#include "broker/group/assignor.h"

namespace strand::broker::group {

inline constexpr int32_t kNoMember = -1;

struct GroupModel {
  std::vector<const MemberSpec*> members;           // sorted by member id
  std::vector<std::string> topic_names;             // sorted; subscribed by someone and existing
  std::vector<const TopicSpec*> topics;             // parallel to topic_names
  std::vector<std::vector<int32_t>> topic_members;  // per topic: subscribed member indexes, sorted
  std::vector<std::vector<int32_t>> member_topics;  // per member: subscribed topic indexes, sorted
  // Per topic, per partition: the member whose current assignment holds it and who still
  // subscribes to the topic, else kNoMember. When two members claim a partition, the one whose
  // id sorts first keeps it.
  std::vector<std::vector<int32_t>> current_owner;

  int32_t partition_count(int32_t topic) const { return topics[topic]->partition_count; }
};

// `spec` must have passed ValidateSpec and must outlive the model.
GroupModel BuildGroupModel(const AssignmentSpec& spec);

// Every member of the model with an empty assignment, ready to be filled.
GroupAssignment EmptyAssignment(const GroupModel& model);

// The Assign implementations; declared here so that AssignorByName can hold one of each.
class UniformAssignor final : public PartitionAssignor {
 public:
  std::string_view Name() const override { return "uniform"; }
  absl::StatusOr<GroupAssignment> Assign(const AssignmentSpec& spec,
                                         const AssignmentLimits& limits) const override;
};

class RangeAssignor final : public PartitionAssignor {
 public:
  std::string_view Name() const override { return "range"; }
  absl::StatusOr<GroupAssignment> Assign(const AssignmentSpec& spec,
                                         const AssignmentLimits& limits) const override;
};

}  // namespace strand::broker::group
