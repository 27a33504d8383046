#include <algorithm>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tools/cli/errors.h"
#include "tools/cli/format_groups.h"
#include "tools/cli/table.h"

namespace strand::cli {
namespace {

namespace gv1 = ::strand::group::v1;
using json = nlohmann::ordered_json;

std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }
std::string OrDash(int64_t value) { return value < 0 ? "-" : std::to_string(value); }

// Topic -> sorted partitions.
std::map<std::string, std::vector<int32_t>> ByTopic(
    const google::protobuf::RepeatedPtrField<gv1::TopicPartitions>& tps) {
  std::map<std::string, std::vector<int32_t>> out;
  for (const gv1::TopicPartitions& t : tps) {
    auto& partitions = out[t.topic()];
    partitions.insert(partitions.end(), t.partitions().begin(), t.partitions().end());
  }
  for (auto& [topic, partitions] : out) std::sort(partitions.begin(), partitions.end());
  return out;
}

std::string Assignment(const google::protobuf::RepeatedPtrField<gv1::TopicPartitions>& tps) {
  std::vector<std::string> items;
  for (const auto& [topic, partitions] : ByTopic(tps)) {
    if (!partitions.empty())
      items.push_back(fmt::format("{}({})", topic, fmt::join(partitions, ",")));
  }
  return items.empty() ? "-" : fmt::format("{}", fmt::join(items, ","));
}

size_t PartitionCount(const google::protobuf::RepeatedPtrField<gv1::TopicPartitions>& tps) {
  size_t n = 0;
  for (const auto& [topic, partitions] : ByTopic(tps)) n += partitions.size();
  return n;
}

std::vector<gv1::PartitionLag> SortedOffsets(const gv1::DescribedGroup& group) {
  std::vector<gv1::PartitionLag> rows(group.offsets().begin(), group.offsets().end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return std::forward_as_tuple(a.topic(), a.partition()) <
           std::forward_as_tuple(b.topic(), b.partition());
  });
  return rows;
}

std::vector<gv1::DescribedMember> SortedMembers(const gv1::DescribedGroup& group) {
  std::vector<gv1::DescribedMember> members(group.members().begin(), group.members().end());
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a.member_id() < b.member_id(); });
  return members;
}

}  // namespace

json GroupListJson(const gv1::ListGroupsResponse& groups) {
  std::vector<gv1::ListedGroup> sorted(groups.groups().begin(), groups.groups().end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.group_id() < b.group_id(); });
  json out;
  out["groups"] = json::array();
  for (const gv1::ListedGroup& g : sorted) {
    out["groups"].push_back({{"group_id", g.group_id()},
                             {"type", g.type()},
                             {"state", g.state()},
                             {"coordinator", g.coordinator()},
                             {"members", g.members()}});
  }
  std::vector<int32_t> unreachable(groups.unreachable_coordinators().begin(),
                                   groups.unreachable_coordinators().end());
  std::sort(unreachable.begin(), unreachable.end());
  out["unreachable_coordinators"] = unreachable;
  return out;
}

std::string FormatGroupList(const gv1::ListGroupsResponse& groups) {
  if (groups.groups().empty()) return "(no groups)\n";
  Table table({"GROUP", "TYPE", "STATE", "COORDINATOR", "MEMBERS"});
  const json sorted = GroupListJson(groups);
  for (const auto& g : sorted["groups"]) {
    table.AddRow({g["group_id"].get<std::string>(), g["type"].get<std::string>(),
                  g["state"].get<std::string>(), std::to_string(g["coordinator"].get<int>()),
                  std::to_string(g["members"].get<int>())});
  }
  return table.Render();
}

json GroupJson(const gv1::DescribedGroup& group) {
  json out;
  out["group_id"] = group.group_id();
  out["type"] = group.type();
  out["state"] = group.state();
  out["coordinator"] = group.coordinator();
  out["group_epoch"] = group.group_epoch();
  out["assignment_epoch"] = group.assignment_epoch();
  out["assignor"] = group.assignor();
  out["members"] = json::array();
  for (const gv1::DescribedMember& m : SortedMembers(group)) {
    json assignment = json::array();
    for (const auto& [topic, partitions] : ByTopic(m.assignment())) {
      assignment.push_back({{"topic", topic}, {"partitions", partitions}});
    }
    out["members"].push_back(
        {{"member_id", m.member_id()},
         {"instance_id", m.instance_id()},
         {"client_id", m.client_id()},
         {"client_host", m.client_host()},
         {"rack", m.rack()},
         {"member_epoch", m.member_epoch()},
         {"state", m.state()},
         {"subscribed_topics",
          std::vector<std::string>(m.subscribed_topics().begin(), m.subscribed_topics().end())},
         {"subscribed_regex", m.subscribed_regex()},
         {"assignment", assignment}});
  }
  out["offsets"] = json::array();
  for (const gv1::PartitionLag& o : SortedOffsets(group)) {
    out["offsets"].push_back({{"topic", o.topic()},
                              {"partition", o.partition()},
                              {"committed", o.committed()},
                              {"log_end_offset", o.high_watermark()},
                              {"lag", o.lag()},
                              {"owner", o.owner()}});
  }
  return out;
}

std::string FormatGroupSummary(const gv1::DescribedGroup& group) {
  return fmt::format(
      "Group: {}  Type: {}  State: {}  Members: {}  Coordinator: {}  Epoch: {}  Assignor: {}\n",
      group.group_id(), OrDash(group.type()), group.state(), group.members_size(),
      group.coordinator(), group.group_epoch(), OrDash(group.assignor()));
}

std::string FormatGroupOffsets(const gv1::DescribedGroup& group) {
  std::map<std::string, const gv1::DescribedMember*> members;
  for (const gv1::DescribedMember& m : group.members()) members[m.member_id()] = &m;
  Table table({"GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
               "CONSUMER-ID", "HOST", "CLIENT-ID"});
  for (const gv1::PartitionLag& o : SortedOffsets(group)) {
    auto it = members.find(o.owner());
    const gv1::DescribedMember* m = it == members.end() ? nullptr : it->second;
    table.AddRow({group.group_id(), o.topic(), std::to_string(o.partition()), OrDash(o.committed()),
                  OrDash(o.high_watermark()), OrDash(o.lag()), OrDash(o.owner()),
                  m == nullptr ? "-" : OrDash(m->client_host()),
                  m == nullptr ? "-" : OrDash(m->client_id())});
  }
  return table.Render();
}

std::string FormatGroupMembers(const gv1::DescribedGroup& group) {
  Table table({"GROUP", "MEMBER-ID", "INSTANCE-ID", "CLIENT-ID", "HOST", "RACK", "EPOCH", "STATE",
               "#PARTITIONS", "ASSIGNMENT"});
  for (const gv1::DescribedMember& m : SortedMembers(group)) {
    table.AddRow({group.group_id(), m.member_id(), OrDash(m.instance_id()), OrDash(m.client_id()),
                  OrDash(m.client_host()), OrDash(m.rack()), std::to_string(m.member_epoch()),
                  OrDash(m.state()), std::to_string(PartitionCount(m.assignment())),
                  Assignment(m.assignment())});
  }
  return table.Render();
}

json ResetPlanJson(const client::OffsetResetPlan& plan, bool executed) {
  json out;
  out["group_id"] = plan.group_id;
  out["state"] = plan.group_state;
  out["members"] = plan.members;
  out["executed"] = executed;
  out["partitions"] = json::array();
  for (const client::OffsetResetEntry& e : plan.entries) {
    out["partitions"].push_back({{"topic", e.topic},
                                 {"partition", e.partition},
                                 {"current_offset", e.current_offset},
                                 {"new_offset", e.new_offset},
                                 {"log_start_offset", e.log_start_offset},
                                 {"log_end_offset", e.log_end_offset}});
  }
  return out;
}

std::string FormatResetPlan(const client::OffsetResetPlan& plan) {
  Table table({"GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET"});
  for (const client::OffsetResetEntry& e : plan.entries) {
    table.AddRow({plan.group_id, e.topic, std::to_string(e.partition), OrDash(e.current_offset),
                  std::to_string(e.new_offset)});
  }
  return table.Render();
}

std::string FormatOffsetDelete(const gv1::OffsetDeleteResponse& response) {
  std::vector<std::pair<std::pair<std::string, int32_t>, std::string>> rows;
  for (const gv1::OffsetCommitTopicResponse& t : response.topics()) {
    for (const gv1::OffsetCommitPartitionResponse& p : t.partitions()) {
      rows.push_back({{t.name(), p.partition()},
                      HasError(p.error()) ? "Error: " + ErrorText(p.error(), "") : "Successful"});
    }
  }
  std::sort(rows.begin(), rows.end());
  Table table({"TOPIC", "PARTITION", "STATUS"});
  for (const auto& [tp, status] : rows) table.AddRow({tp.first, std::to_string(tp.second), status});
  return table.Render();
}

}  // namespace strand::cli
