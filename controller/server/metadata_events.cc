#include "controller/server/metadata_events.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace strand::controller {
namespace {

// A broker failure can move thousands of leaders in one batch: name the first few.
constexpr size_t kMaxPartitionLines = 20;

std::string Ids(const std::vector<NodeId>& ids) {
  std::vector<int32_t> raw;
  raw.reserve(ids.size());
  for (NodeId id : ids) raw.push_back(id.value());
  return fmt::format("[{}]", fmt::join(raw, ","));
}

void DescribeBroker(NodeId id, const std::optional<BrokerRegistration>& before,
                    const MetadataImage& after, std::vector<std::string>& out) {
  const BrokerRegistration* now = after.broker(id);
  if (now == nullptr) {
    if (before) out.push_back(fmt::format("broker {} unregistered", id));
    return;
  }
  if (!before || before->incarnation_id != now->incarnation_id || before->epoch != now->epoch) {
    out.push_back(fmt::format("broker {} registered (epoch {}, rack '{}', {})", id, now->epoch,
                              now->rack, now->fenced ? "fenced" : "unfenced"));
    return;
  }
  std::vector<std::string> what;
  if (before->fenced != now->fenced) what.push_back(now->fenced ? "fenced" : "unfenced");
  if (!before->in_controlled_shutdown && now->in_controlled_shutdown) {
    what.push_back("in controlled shutdown");
  }
  if (before->in_controlled_shutdown && !now->in_controlled_shutdown) {
    what.push_back("controlled shutdown ended");
  }
  if (!what.empty()) {
    out.push_back(fmt::format("broker {} (epoch {}) {}", id, now->epoch, fmt::join(what, ", ")));
  }
}

// What changed between two states of a partition, or "" when nothing an operator follows did.
std::string PartitionChangeText(const PartitionState& before, const PartitionState& now) {
  std::vector<std::string> what;
  if (before.leader != now.leader) {
    what.push_back(now.leader.value() < 0 ? std::string("offline (no eligible leader)")
                                          : fmt::format("leader {}", now.leader));
  }
  if (before.isr != now.isr) what.push_back("ISR " + Ids(now.isr));
  if (before.replicas != now.replicas) what.push_back("replicas " + Ids(now.replicas));
  if (before.adding_replicas != now.adding_replicas ||
      before.removing_replicas != now.removing_replicas) {
    what.push_back(fmt::format("reassignment adding {} removing {}", Ids(now.adding_replicas),
                               Ids(now.removing_replicas)));
  }
  if (what.empty()) return "";
  return fmt::format("{} (leader epoch {})", fmt::join(what, ", "), now.leader_epoch.value());
}

}  // namespace

std::vector<std::string> DescribeMetadataDelta(const MetadataDelta& delta,
                                               const MetadataImage& after) {
  std::vector<std::string> out;
  if (delta.snapshot) {
    out.push_back(fmt::format("metadata snapshot loaded: {} broker(s), {} topic(s)",
                              after.brokers().size(), after.topics().size()));
    return out;
  }
  for (const auto& [id, before] : delta.brokers) DescribeBroker(id, before, after, out);

  size_t partition_lines = 0, partition_lines_dropped = 0;
  std::vector<std::string> topic_lines;
  for (const auto& [id, t] : delta.topics) {
    if (t.deleted) {
      topic_lines.push_back(fmt::format("topic {} deleted", t.name));
      continue;
    }
    const TopicImage* now = after.topic(id);
    if (now == nullptr) continue;
    int created = 0;
    for (const auto& [index, before] : t.partitions) {
      if (!before) {
        ++created;
        continue;
      }
      if (index < 0 || index >= static_cast<int32_t>(now->partitions.size())) continue;
      std::string text = PartitionChangeText(*before, now->partitions[static_cast<size_t>(index)]);
      if (text.empty()) continue;
      if (partition_lines >= kMaxPartitionLines) {
        ++partition_lines_dropped;
        continue;
      }
      ++partition_lines;
      out.push_back(fmt::format("partition {}-{}: {}", now->name, index, text));
    }
    if (created > 0) {
      topic_lines.push_back(fmt::format("topic {}: {} partition(s) created", now->name, created));
    }
  }
  out.insert(out.end(), topic_lines.begin(), topic_lines.end());
  if (partition_lines_dropped > 0) {
    out.push_back(fmt::format("... and {} more partition changes in this batch",
                              partition_lines_dropped));
  }

  for (const auto& [resource, names] : delta.configs) {
    if (resource.type == v1::TOPIC && after.topic(resource.name) == nullptr) continue;  // deleted
    const char* type = resource.type == v1::TOPIC ? "topic" : "broker";
    const std::string name = resource.name.empty() ? "<cluster default>" : resource.name;
    for (const auto& [config, before] : names) {
      const std::optional<std::string> now = after.config(resource, config);
      if (now == before) continue;
      out.push_back(now ? fmt::format("config {} {}: {}={}", type, name, config, *now)
                        : fmt::format("config {} {}: {} removed", type, name, config));
    }
  }
  return out;
}

std::vector<std::string> DescribeStaticSettingMismatches(const MetadataDelta& delta,
                                                         const MetadataImage& after, NodeId self,
                                                         const SettingDigests& mine,
                                                         bool include_brokers) {
  std::vector<std::string> out;
  const NodeId active = after.active_controller();
  const SettingDigests& reference = after.active_controller_static_settings();
  if (active == kNoNode || reference.empty()) return out;
  const bool new_reference = delta.active_controller || delta.snapshot;
  if (new_reference && active != self) {
    const auto names = DifferingStaticSettings(after, mine, reference);
    if (!names.empty()) {
      out.push_back(fmt::format(
          "static cluster setting(s) {} of this controller differ from active controller {}'s: "
          "give every node the same values (or set them dynamically with strand configs alter "
          "--cluster)",
          fmt::join(names, ", "), active));
    }
  }
  if (!include_brokers) return out;
  auto check = [&](NodeId id, const BrokerRegistration& b) {
    const auto names = DifferingStaticSettings(after, b.static_settings, reference, id.value());
    if (names.empty()) return;
    out.push_back(fmt::format(
        "broker {} runs with static cluster setting(s) {} differing from active controller {}'s: "
        "give every node the same values (or set them dynamically with strand configs alter "
        "--cluster)",
        id, fmt::join(names, ", "), active));
  };
  if (new_reference) {
    for (const auto& [id, b] : after.brokers()) check(id, b);
    return out;
  }
  for (const auto& [id, before] : delta.brokers) {
    const BrokerRegistration* now = after.broker(id);
    if (now != nullptr && (!before || before->epoch != now->epoch)) check(id, *now);
  }
  return out;
}

}  // namespace strand::controller
