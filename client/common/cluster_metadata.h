#pragma once

// ClusterMetadata: one immutable view of the cluster as a broker's Metadata answer described it —
// brokers (id, address, rack) and, per topic, each partition's leader, leader epoch, replicas and
// ISR. Clients hold it by shared_ptr<const>; the metadata manager swaps in a new one after each
// refresh, so readers never lock. Pure data plus lookups. As Kafka's clients do (KIP-320), a
// partition whose leader epoch in an answer is older than the one already known keeps what is
// known: a broker with stale metadata cannot send a client back to a deposed leader.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/kafka_error.h"
#include "proto/broker/v1/broker.pb.h"
#include "strand/record.h"

namespace strand::client {

struct BrokerNode {
  int32_t id = -1;
  std::string host;
  int32_t port = 0;
  std::string rack;
  std::string address() const;  // host:port ([host]:port for IPv6)
};

struct PartitionMetadata {
  int32_t partition = 0;
  KafkaError error = KafkaError::kNone;
  int32_t leader = -1;  // -1: offline
  int32_t leader_epoch = -1;
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
};

struct TopicMetadata {
  std::string name;
  std::string topic_id;
  KafkaError error = KafkaError::kNone;
  std::vector<PartitionMetadata> partitions;  // indexed by partition number
  std::vector<int32_t> available_partitions;  // those with a leader
};

class ClusterMetadata {
 public:
  ClusterMetadata() = default;

  // Builds from an answer; topics absent from `response` are copied from `previous` (a refresh
  // for some topics keeps what is known about the others). Partitions are indexed by number;
  // an answer with gaps marks the missing ones offline.
  static ClusterMetadata FromResponse(const broker::v1::MetadataResponse& response,
                                      const ClusterMetadata* previous);

  // A copy where `tp`'s leader is `leader` at `leader_epoch`, if that epoch is newer than the
  // known one (KIP-951: a NOT_LEADER_OR_FOLLOWER answer names the new leader).
  std::optional<ClusterMetadata> WithLeader(const TopicPartition& tp, int32_t leader,
                                            int32_t leader_epoch) const;

  const BrokerNode* broker(int32_t id) const;
  const TopicMetadata* topic(std::string_view name) const;
  const PartitionMetadata* partition(std::string_view topic, int32_t partition) const;
  // The leader's id, or -1 when unknown or offline.
  int32_t leader(std::string_view topic, int32_t partition) const;

  const std::map<int32_t, BrokerNode>& brokers() const { return brokers_; }
  const std::string& cluster_id() const { return cluster_id_; }

 private:
  std::string cluster_id_;
  std::map<int32_t, BrokerNode> brokers_;
  absl::flat_hash_map<std::string, TopicMetadata> topics_;
};

// Errors after which the client's view of a partition (its leader, replica or epoch) is wrong:
// the producer and the consumer refresh metadata before trying again.
bool NeedsMetadataRefresh(KafkaError error);

}  // namespace strand::client
