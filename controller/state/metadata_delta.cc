#include "controller/state/metadata_delta.h"

namespace strand::controller {

bool MetadataDelta::empty() const {
  return !snapshot && brokers.empty() && topics.empty() && configs.empty() && acls.empty() &&
         features.empty() && !next_producer_id_before && !active_controller;
}

bool MetadataDelta::NonTopicConfigsChanged() const {
  for (const auto& [resource, names] : configs) {
    if (resource.type != v1::TOPIC) return true;
  }
  return false;
}

void MetadataDelta::Merge(const MetadataDelta& later) {
  snapshot = snapshot || later.snapshot;
  brokers.insert(later.brokers.begin(), later.brokers.end());  // keeps the earlier "before"
  for (const auto& [id, t] : later.topics) {
    TopicDelta& mine = topics[id];
    if (!t.name.empty()) mine.name = t.name;
    mine.created = mine.created || t.created;
    mine.deleted = mine.deleted || t.deleted;
    mine.partitions.insert(t.partitions.begin(), t.partitions.end());
  }
  for (const auto& [resource, names] : later.configs) {
    configs[resource].insert(names.begin(), names.end());
  }
  acls.insert(later.acls.begin(), later.acls.end());
  features.insert(later.features.begin(), later.features.end());
  if (!next_producer_id_before) next_producer_id_before = later.next_producer_id_before;
  active_controller = active_controller || later.active_controller;
}

void MetadataDelta::NoteBroker(NodeId id, const BrokerRegistration* before) {
  if (brokers.count(id)) return;
  brokers.emplace(id,
                  before != nullptr ? std::optional<BrokerRegistration>(*before) : std::nullopt);
}

TopicDelta& MetadataDelta::NoteTopic(const TopicId& id, const std::string& name) {
  TopicDelta& t = topics[id];
  if (t.name.empty()) t.name = name;
  return t;
}

void MetadataDelta::NotePartition(const TopicId& id, const std::string& name, int32_t partition,
                                  const PartitionState* before) {
  TopicDelta& t = NoteTopic(id, name);
  if (t.partitions.count(partition)) return;
  t.partitions.emplace(partition,
                       before != nullptr ? std::optional<PartitionState>(*before) : std::nullopt);
}

void MetadataDelta::NoteConfig(const ConfigResource& resource, const std::string& name,
                               std::optional<std::string> before) {
  configs[resource].emplace(name, std::move(before));
}

}  // namespace strand::controller
