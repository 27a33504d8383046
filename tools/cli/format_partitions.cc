#include "tools/cli/format_partitions.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "tools/cli/format_topics.h"
#include "tools/cli/table.h"

namespace strand::cli {
namespace {

std::vector<admin::v1::OngoingReassignment> Sorted(
    const admin::v1::ListPartitionReassignmentsResponse& r) {
  std::vector<admin::v1::OngoingReassignment> out(r.reassignments().begin(),
                                                  r.reassignments().end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.partition().topic(), a.partition().partition()) <
           std::make_pair(b.partition().topic(), b.partition().partition());
  });
  return out;
}

std::vector<int32_t> Ids(const google::protobuf::RepeatedField<int32_t>& ids) {
  return {ids.begin(), ids.end()};
}

}  // namespace

std::string PartitionName(const admin::v1::TopicPartition& partition) {
  return fmt::format("{}-{}", partition.topic(), partition.partition());
}

nlohmann::ordered_json ReassignmentsJson(const admin::v1::ListPartitionReassignmentsResponse& r) {
  nlohmann::ordered_json out;
  out["reassignments"] = nlohmann::ordered_json::array();
  for (const admin::v1::OngoingReassignment& o : Sorted(r)) {
    out["reassignments"].push_back({{"topic", o.partition().topic()},
                                    {"partition", o.partition().partition()},
                                    {"replicas", Ids(o.replicas())},
                                    {"adding_replicas", Ids(o.adding_replicas())},
                                    {"removing_replicas", Ids(o.removing_replicas())}});
  }
  return out;
}

std::string FormatReassignments(const admin::v1::ListPartitionReassignmentsResponse& r) {
  if (r.reassignments().empty()) return "(no reassignments in progress)\n";
  Table table({"TOPIC", "PARTITION", "REPLICAS", "ADDING", "REMOVING"});
  for (const admin::v1::OngoingReassignment& o : Sorted(r)) {
    table.AddRow({o.partition().topic(), std::to_string(o.partition().partition()),
                  IdList(o.replicas()), IdList(o.adding_replicas()),
                  IdList(o.removing_replicas())});
  }
  return table.Render();
}

}  // namespace strand::cli
