#include "tools/cli/format_topics.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <vector>

#include "tools/cli/table.h"

namespace strand::cli {
namespace {

std::vector<admin::v1::PartitionInfo> SortedPartitions(const admin::v1::TopicDescription& topic) {
  std::vector<admin::v1::PartitionInfo> partitions(topic.partitions().begin(),
                                                   topic.partitions().end());
  std::sort(partitions.begin(), partitions.end(),
            [](const auto& a, const auto& b) { return a.partition() < b.partition(); });
  return partitions;
}

std::vector<int32_t> Ids(const google::protobuf::RepeatedField<int32_t>& ids) {
  return {ids.begin(), ids.end()};
}

// Sorted by key (protobuf maps have no order).
std::map<std::string, std::string> SortedConfigs(const admin::v1::TopicDescription& topic) {
  return {topic.configs().begin(), topic.configs().end()};
}

}  // namespace

std::string IdList(const google::protobuf::RepeatedField<int32_t>& ids) {
  return ids.empty() ? "-" : fmt::format("{}", fmt::join(ids, ","));
}

nlohmann::ordered_json TopicListJson(const admin::v1::ListTopicsResponse& topics) {
  std::vector<admin::v1::TopicListing> sorted(topics.topics().begin(), topics.topics().end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.name() < b.name(); });
  nlohmann::ordered_json out;
  out["topics"] = nlohmann::ordered_json::array();
  for (const admin::v1::TopicListing& t : sorted) {
    out["topics"].push_back({{"name", t.name()},
                             {"topic_id", t.topic_id()},
                             {"partitions", t.partitions()},
                             {"replication_factor", t.replication_factor()}});
  }
  return out;
}

std::string FormatTopicList(const admin::v1::ListTopicsResponse& topics) {
  if (topics.topics().empty()) return "(no topics)\n";
  Table table({"NAME", "PARTITIONS", "REPLICATION-FACTOR", "TOPIC-ID"});
  const nlohmann::ordered_json sorted = TopicListJson(topics);
  for (const auto& t : sorted["topics"]) {
    table.AddRow({t["name"].get<std::string>(), std::to_string(t["partitions"].get<int>()),
                  std::to_string(t["replication_factor"].get<int>()),
                  t["topic_id"].get<std::string>()});
  }
  return table.Render();
}

nlohmann::ordered_json TopicJson(const admin::v1::TopicDescription& topic) {
  nlohmann::ordered_json out;
  out["name"] = topic.name();
  out["topic_id"] = topic.topic_id();
  out["partitions"] = nlohmann::ordered_json::array();
  for (const admin::v1::PartitionInfo& p : SortedPartitions(topic)) {
    out["partitions"].push_back({{"partition", p.partition()},
                                 {"leader", p.leader()},
                                 {"leader_epoch", p.leader_epoch()},
                                 {"partition_epoch", p.partition_epoch()},
                                 {"replicas", Ids(p.replicas())},
                                 {"isr", Ids(p.isr())},
                                 {"adding_replicas", Ids(p.adding_replicas())},
                                 {"removing_replicas", Ids(p.removing_replicas())},
                                 {"offline_replicas", Ids(p.offline_replicas())}});
  }
  out["configs"] = nlohmann::ordered_json::object();
  for (const auto& [key, value] : SortedConfigs(topic)) out["configs"][key] = value;
  return out;
}

std::string FormatTopic(const admin::v1::TopicDescription& topic) {
  const std::vector<admin::v1::PartitionInfo> partitions = SortedPartitions(topic);
  const int replication_factor = partitions.empty() ? 0 : partitions[0].replicas_size();
  std::string out =
      fmt::format("Topic: {}  TopicId: {}  Partitions: {}  ReplicationFactor: {}\n", topic.name(),
                  topic.topic_id(), partitions.size(), replication_factor);
  std::vector<std::string> configs;
  for (const auto& [key, value] : SortedConfigs(topic)) configs.push_back(key + "=" + value);
  out += fmt::format("Configs: {}\n",
                     configs.empty() ? "(none)" : fmt::format("{}", fmt::join(configs, ",")));
  const bool reassigning = std::any_of(partitions.begin(), partitions.end(), [](const auto& p) {
    return !p.adding_replicas().empty() || !p.removing_replicas().empty();
  });
  std::vector<std::string> header = {"PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "OFFLINE"};
  if (reassigning) header.insert(header.end(), {"ADDING", "REMOVING"});
  Table table(header);
  for (const admin::v1::PartitionInfo& p : partitions) {
    std::vector<std::string> row = {std::to_string(p.partition()),
                                    p.leader() < 0 ? "none" : std::to_string(p.leader()),
                                    std::to_string(p.leader_epoch()),
                                    IdList(p.replicas()),
                                    IdList(p.isr()),
                                    IdList(p.offline_replicas())};
    if (reassigning)
      row.insert(row.end(), {IdList(p.adding_replicas()), IdList(p.removing_replicas())});
    table.AddRow(std::move(row));
  }
  return out + table.Render();
}

}  // namespace strand::cli
