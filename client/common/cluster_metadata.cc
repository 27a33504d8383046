#include "client/common/cluster_metadata.h"

#include <algorithm>

#include <fmt/format.h>

namespace strand::client {
namespace {

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

TopicMetadata TopicFrom(const broker::v1::TopicMetadata& t) {
  TopicMetadata topic;
  topic.name = t.name();
  topic.topic_id = t.topic_id();
  topic.error = static_cast<KafkaError>(t.error().code());
  int32_t count = 0;
  for (const auto& p : t.partitions()) count = std::max(count, p.partition() + 1);
  topic.partitions.resize(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; ++i) {
    topic.partitions[static_cast<size_t>(i)].partition = i;
    topic.partitions[static_cast<size_t>(i)].error = KafkaError::kLeaderNotAvailable;
  }
  for (const auto& p : t.partitions()) {
    if (p.partition() < 0) continue;
    PartitionMetadata& m = topic.partitions[static_cast<size_t>(p.partition())];
    m.error = static_cast<KafkaError>(p.error().code());
    m.leader = p.leader();
    m.leader_epoch = p.leader_epoch();
    m.replicas.assign(p.replicas().begin(), p.replicas().end());
    m.isr.assign(p.isr().begin(), p.isr().end());
  }
  return topic;
}

void ListAvailable(TopicMetadata& topic) {
  topic.available_partitions.clear();
  for (const PartitionMetadata& m : topic.partitions) {
    if (m.leader >= 0) topic.available_partitions.push_back(m.partition);
  }
}

// Keeps, per partition, what `known` says when the answer's leader epoch is older (same topic:
// a recreated topic starts its epochs again).
void KeepNewerEpochs(const TopicMetadata& known, TopicMetadata& answer) {
  if (known.topic_id.empty() || known.topic_id != answer.topic_id) return;
  const size_t n = std::min(known.partitions.size(), answer.partitions.size());
  for (size_t i = 0; i < n; ++i) {
    if (known.partitions[i].leader_epoch > answer.partitions[i].leader_epoch) {
      answer.partitions[i] = known.partitions[i];
    }
  }
}

}  // namespace

std::string BrokerNode::address() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

ClusterMetadata ClusterMetadata::FromResponse(const broker::v1::MetadataResponse& response,
                                              const ClusterMetadata* previous) {
  ClusterMetadata m;
  m.cluster_id_ = response.cluster_id();
  for (const auto& b : response.brokers()) {
    m.brokers_[b.id()] = BrokerNode{b.id(), b.host(), b.port(), b.rack()};
  }
  if (previous != nullptr) m.topics_ = previous->topics_;
  for (const auto& t : response.topics()) {
    TopicMetadata topic = TopicFrom(t);
    if (auto it = m.topics_.find(t.name()); it != m.topics_.end())
      KeepNewerEpochs(it->second, topic);
    ListAvailable(topic);
    m.topics_[t.name()] = std::move(topic);
  }
  return m;
}

std::optional<ClusterMetadata> ClusterMetadata::WithLeader(const TopicPartition& tp, int32_t leader,
                                                           int32_t leader_epoch) const {
  const PartitionMetadata* known = partition(tp.topic, tp.partition);
  if (known == nullptr || leader < 0 || leader_epoch <= known->leader_epoch ||
      brokers_.count(leader) == 0) {
    return std::nullopt;
  }
  ClusterMetadata copy = *this;
  TopicMetadata& topic = copy.topics_.find(AbslView(tp.topic))->second;
  PartitionMetadata& p = topic.partitions[static_cast<size_t>(tp.partition)];
  p.leader = leader;
  p.leader_epoch = leader_epoch;
  p.error = KafkaError::kNone;
  topic.available_partitions.clear();
  for (const PartitionMetadata& m : topic.partitions) {
    if (m.leader >= 0) topic.available_partitions.push_back(m.partition);
  }
  return copy;
}

const BrokerNode* ClusterMetadata::broker(int32_t id) const {
  auto it = brokers_.find(id);
  return it == brokers_.end() ? nullptr : &it->second;
}

const TopicMetadata* ClusterMetadata::topic(std::string_view name) const {
  auto it = topics_.find(AbslView(name));
  return it == topics_.end() ? nullptr : &it->second;
}

const PartitionMetadata* ClusterMetadata::partition(std::string_view topic_name,
                                                    int32_t partition) const {
  const TopicMetadata* t = topic(topic_name);
  if (t == nullptr || partition < 0 || partition >= static_cast<int32_t>(t->partitions.size())) {
    return nullptr;
  }
  return &t->partitions[static_cast<size_t>(partition)];
}

int32_t ClusterMetadata::leader(std::string_view topic_name, int32_t partition_number) const {
  const PartitionMetadata* p = partition(topic_name, partition_number);
  return p == nullptr ? -1 : p->leader;
}

bool NeedsMetadataRefresh(KafkaError error) {
  switch (error) {
    case KafkaError::kNotLeaderOrFollower:
    case KafkaError::kUnknownTopicOrPartition:
    case KafkaError::kLeaderNotAvailable:
    case KafkaError::kFencedLeaderEpoch:
    case KafkaError::kUnknownLeaderEpoch:
    case KafkaError::kReplicaNotAvailable:
    case KafkaError::kKafkaStorageError:
    case KafkaError::kOffsetNotAvailable:
    case KafkaError::kNetworkException:
    case KafkaError::kBrokerNotAvailable:
      return true;
    default:
      return false;
  }
}

}  // namespace strand::client
