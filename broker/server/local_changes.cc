#include "broker/server/local_changes.h"

namespace strand::broker {

LocalChanges ComputeLocalChanges(const controller::MetadataImage& image,
                                 const controller::MetadataDelta& delta, NodeId self) {
  LocalChanges out;
  out.everything = delta.snapshot || delta.NonTopicConfigsChanged();
  auto add_topic = [&](const controller::TopicImage& t) {
    const std::string id = t.id.Bytes();
    if (!out.topic_ids.insert(id).second) return;
    for (size_t i = 0; i < t.partitions.size(); ++i) {
      const controller::PartitionState& ps = t.partitions[i];
      if (!ps.IsReplica(self)) continue;
      LocalPartition p{{t.name, static_cast<int32_t>(i)}, id, ps};
      (ps.leader == self ? out.leaders : out.followers).push_back(std::move(p));
    }
  };
  if (out.everything) {
    for (const auto& [name, t] : image.topics()) add_topic(t);
    return out;
  }
  for (const auto& [id, t] : delta.topics) {
    const controller::TopicImage* now = t.deleted ? nullptr : image.topic(id);
    if (now != nullptr) add_topic(*now);
    out.topic_ids.insert(id.Bytes());
    for (const auto& [index, before] : t.partitions) {
      if (!before || !before->IsReplica(self)) continue;
      const bool kept = now != nullptr && index >= 0 &&
                        index < static_cast<int32_t>(now->partitions.size()) &&
                        now->partitions[static_cast<size_t>(index)].IsReplica(self);
      if (!kept) out.deletes.push_back({{t.name, index}, id.Bytes(), now == nullptr});
    }
  }
  for (const auto& [resource, names] : delta.configs) {
    if (resource.type != controller::v1::TOPIC) continue;
    if (const controller::TopicImage* t = image.topic(resource.name)) add_topic(*t);
  }
  return out;
}

}  // namespace strand::broker
