#include "broker/group/assignor.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "broker/group/group_model.h"
#include "common/check.h"

namespace strand::broker::group {
namespace {

absl::Status ValidateTopics(const AssignmentSpec& spec, const std::set<std::string>& subscribed,
                            const AssignmentLimits& limits) {
  int64_t partitions_total = 0;
  for (const auto& [name, topic] : spec.topics) {
    if (topic.partition_count < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("topic ", name, " has a negative partition count ", topic.partition_count));
    }
    if (!topic.partition_racks.empty() &&
        topic.partition_racks.size() != static_cast<size_t>(topic.partition_count)) {
      return absl::InvalidArgumentError(
          absl::StrCat("topic ", name, " lists racks for ", topic.partition_racks.size(),
                       " partitions but has ", topic.partition_count));
    }
    if (subscribed.contains(name)) partitions_total += topic.partition_count;
  }
  if (partitions_total > limits.partitions_total_max) {
    return absl::InvalidArgumentError(
        absl::StrCat("the group's subscribed topics have ", partitions_total,
                     " partitions in total, more than the limit of ", limits.partitions_total_max));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSpec(const AssignmentSpec& spec, const AssignmentLimits& limits) {
  if (spec.members.size() > static_cast<size_t>(limits.members_max)) {
    return absl::InvalidArgumentError(absl::StrCat("the group has ", spec.members.size(),
                                                   " members, more than the limit of ",
                                                   limits.members_max));
  }
  std::set<std::string_view> ids;
  std::set<std::string> subscribed;
  int64_t subscriptions_total = 0;
  for (const MemberSpec& member : spec.members) {
    if (member.member_id.empty()) return absl::InvalidArgumentError("a member has an empty id");
    if (!ids.insert(member.member_id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("member id ", member.member_id, " appears twice"));
    }
    subscriptions_total += static_cast<int64_t>(member.subscribed_topics.size());
    if (subscriptions_total > limits.subscriptions_total_max) {
      return absl::InvalidArgumentError(absl::StrCat("the members subscribe to more than ",
                                                     limits.subscriptions_total_max,
                                                     " topics in total (the limit)"));
    }
    subscribed.insert(member.subscribed_topics.begin(), member.subscribed_topics.end());
  }
  return ValidateTopics(spec, subscribed, limits);
}

GroupModel BuildGroupModel(const AssignmentSpec& spec) {
  GroupModel model;
  for (const MemberSpec& member : spec.members) model.members.push_back(&member);
  std::sort(model.members.begin(), model.members.end(),
            [](const MemberSpec* a, const MemberSpec* b) { return a->member_id < b->member_id; });
  std::set<std::string> subscribed;
  for (const MemberSpec* member : model.members) {
    subscribed.insert(member->subscribed_topics.begin(), member->subscribed_topics.end());
  }
  std::map<std::string_view, int32_t> topic_index;
  for (const std::string& name : subscribed) {  // std::set: sorted by name
    auto it = spec.topics.find(name);
    if (it == spec.topics.end()) continue;
    topic_index[name] = static_cast<int32_t>(model.topic_names.size());
    model.topic_names.push_back(name);
    model.topics.push_back(&it->second);
  }
  const auto topic_count = model.topic_names.size();
  model.topic_members.resize(topic_count);
  model.member_topics.resize(model.members.size());
  model.current_owner.resize(topic_count);
  for (size_t t = 0; t < topic_count; ++t) {
    model.current_owner[t].assign(model.topics[t]->partition_count, kNoMember);
  }
  for (int32_t m = 0; m < static_cast<int32_t>(model.members.size()); ++m) {
    const MemberSpec& member = *model.members[m];
    for (const std::string& name : member.subscribed_topics) {
      auto it = topic_index.find(name);
      if (it == topic_index.end()) continue;
      model.member_topics[m].push_back(it->second);  // sorted: names iterate in order
      model.topic_members[it->second].push_back(m);  // sorted: members iterate in order
      auto current = member.current.find(name);
      if (current == member.current.end()) continue;
      std::vector<int32_t>& owners = model.current_owner[it->second];
      for (int32_t partition : current->second) {
        if (partition < 0 || partition >= static_cast<int32_t>(owners.size())) continue;
        if (owners[partition] == kNoMember) owners[partition] = m;
      }
    }
  }
  return model;
}

GroupAssignment EmptyAssignment(const GroupModel& model) {
  GroupAssignment assignment;
  for (const MemberSpec* member : model.members) assignment[member->member_id];
  return assignment;
}

const PartitionAssignor* AssignorByName(std::string_view name) {
  static const UniformAssignor kUniform;
  static const RangeAssignor kRange;
  if (name == kUniform.Name()) return &kUniform;
  if (name == kRange.Name()) return &kRange;
  return nullptr;
}

}  // namespace strand::broker::group
