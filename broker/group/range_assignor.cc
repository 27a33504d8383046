// The range assignor: per topic, its subscribers sorted by member id share the partitions in
// contiguous ranges, the first (partitions % subscribers) of them one partition more. Members
// keep what they hold while it fits their share, so a membership change moves only what it
// must. Each topic is computed by the same function of (sorted subscribers, partition count,
// what each holds), which is what keeps co-partitioned topics aligned: identical inputs for two
// topics give identical partition numbers to each member.
#include <algorithm>
#include <vector>

#include "broker/group/group_model.h"
#include "common/check.h"

namespace strand::broker::group {
namespace {

// The partitions (ascending) each subscriber of `topic` ends up with; parallel to
// model.topic_members[topic].
std::vector<std::vector<int32_t>> AssignTopic(const GroupModel& model, int32_t topic) {
  const std::vector<int32_t>& subscribers = model.topic_members[topic];
  const auto member_count = static_cast<int32_t>(subscribers.size());
  const int32_t partition_count = model.partition_count(topic);
  std::vector<std::vector<int32_t>> result(member_count);
  if (member_count == 0) return result;
  const int32_t base = partition_count / member_count;
  int32_t extras = partition_count % member_count;

  // What each subscriber holds now, ascending (current_owner only names subscribers).
  std::vector<std::vector<int32_t>> held(member_count);
  std::vector<int32_t> slot_of_member(model.members.size(), -1);
  for (int32_t i = 0; i < member_count; ++i) slot_of_member[subscribers[i]] = i;
  const std::vector<int32_t>& owners = model.current_owner[topic];
  for (int32_t p = 0; p < partition_count; ++p) {
    if (owners[p] != kNoMember) held[slot_of_member[owners[p]]].push_back(p);
  }

  // The extra partitions go first to members already holding more than the base share (so
  // they need not give one up), then to the first members by id, as a fresh range would.
  std::vector<int32_t> quota(member_count, base);
  for (int32_t i = 0; i < member_count && extras > 0; ++i) {
    if (static_cast<int32_t>(held[i].size()) > base) ++quota[i], --extras;
  }
  for (int32_t i = 0; i < member_count && extras > 0; ++i) {
    if (quota[i] == base) ++quota[i], --extras;
  }
  STRAND_CHECK(extras == 0);

  // Keep the lowest-numbered held partitions up to the quota; the rest are free.
  std::vector<bool> taken(partition_count, false);
  for (int32_t i = 0; i < member_count; ++i) {
    const auto keep = std::min<size_t>(held[i].size(), quota[i]);
    result[i].assign(held[i].begin(), held[i].begin() + keep);
    for (int32_t p : result[i]) taken[p] = true;
  }
  int32_t next_free = 0;
  for (int32_t i = 0; i < member_count; ++i) {
    while (static_cast<int32_t>(result[i].size()) < quota[i]) {
      while (next_free < partition_count && taken[next_free]) ++next_free;
      STRAND_CHECK(next_free < partition_count);
      result[i].push_back(next_free);
      taken[next_free] = true;
    }
    std::sort(result[i].begin(), result[i].end());
  }
  return result;
}

}  // namespace

absl::StatusOr<GroupAssignment> RangeAssignor::Assign(const AssignmentSpec& spec,
                                                      const AssignmentLimits& limits) const {
  if (absl::Status status = ValidateSpec(spec, limits); !status.ok()) return status;
  const GroupModel model = BuildGroupModel(spec);
  GroupAssignment assignment = EmptyAssignment(model);
  for (int32_t t = 0; t < static_cast<int32_t>(model.topic_names.size()); ++t) {
    std::vector<std::vector<int32_t>> partitions = AssignTopic(model, t);
    const std::vector<int32_t>& subscribers = model.topic_members[t];
    for (size_t i = 0; i < subscribers.size(); ++i) {
      if (partitions[i].empty()) continue;
      assignment[model.members[subscribers[i]]->member_id][model.topic_names[t]] =
          std::move(partitions[i]);
    }
  }
  return assignment;
}

}  // namespace strand::broker::group
