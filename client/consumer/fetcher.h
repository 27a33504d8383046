#pragma once

// Fetcher: builds the consumer's Fetch requests and applies their answers. One request in flight
// per broker, for the fetchable partitions that broker serves to this consumer — the partition's
// leader, or the replica the leader named as preferred for client.rack (KIP-392) until
// metadata.max.age.ms passes or that replica fails. Answers decode into the partitions' buffers;
// errors move a partition on: OFFSET_OUT_OF_RANGE to an offset reset (or, with
// auto.offset.reset=none, an error for Poll), leadership errors to a metadata refresh and a
// retry after retry.backoff.ms. The consumer's thread only.

#include <cstdint>
#include <functional>
#include <memory>
#include <set>

#include "client/common/cluster_metadata.h"
#include "client/common/metadata_manager.h"
#include "client/consumer/consumer_calls.h"
#include "client/consumer/subscription.h"
#include "strand/consumer.h"

namespace strand::client {

class Fetcher {
 public:
  using Send = std::function<void(std::unique_ptr<FetchCall>)>;

  explicit Fetcher(const ConsumerConfig& config) : config_(config) {}

  // Sends a Fetch to every broker without one in flight that serves fetchable partitions.
  void SendFetches(SubscriptionState& subscription, const ClusterMetadata& cluster,
                   MetadataManager& metadata, int64_t now_ms, const Send& send);
  // Applies an answer (or a failed call).
  void OnAnswer(FetchCall& call, SubscriptionState& subscription, MetadataManager& metadata,
                int64_t now_ms);
  // When a partition in backoff becomes fetchable again (INT64_MAX: none).
  int64_t NextRetryMs(SubscriptionState& subscription) const;

 private:
  // The broker to fetch `p` from, or -1 (no leader known).
  int32_t NodeFor(PartitionState& p, const ClusterMetadata& cluster, int64_t now_ms) const;
  void OnPartition(PartitionState& p, broker::v1::FetchPartitionResponse& answer,
                   bool from_follower, MetadataManager& metadata, int64_t now_ms);
  void Backoff(PartitionState& p, int64_t now_ms) const;

  const ConsumerConfig& config_;
  std::set<int32_t> nodes_in_flight_;
};

}  // namespace strand::client
