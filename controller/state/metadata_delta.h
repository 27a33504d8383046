#pragma once

// MetadataDelta: what one or more committed metadata batches changed, as Kafka's MetadataDelta.
// MetadataImage::Replay fills it (replay.cc holds the only switch over record types, so a new
// record type is handled in one place and the compiler flags a missing case); every consumer
// reads the delta instead of the records: the controller's operator log lines
// (controller/server/metadata_events.cc), the broker's replica reconciliation
// (broker/server/local_changes.h), and what comes next (groups, transactions, ACL caches).
//
// The delta keeps the state *before* the change for everything it touches; the state after is
// the image it was replayed into. Merging two deltas (a broker that reconciles less often than
// batches arrive) keeps the earliest "before" and the union of what was touched.
//
// A plain value type; deterministic (ordered containers only).

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "common/ids.h"
#include "controller/state/metadata_image.h"
#include "controller/state/topic_id.h"

namespace strand::controller {

struct TopicDelta {
  std::string name;
  bool created = false;  // a TopicRecord in this delta
  bool deleted = false;  // a RemoveTopicRecord in this delta
  // Partitions created or changed, with their state before the delta (nullopt: created by it).
  // A deleted topic lists every partition it had, so consumers know which replicas go.
  std::map<int32_t, std::optional<PartitionState>> partitions;
};

struct MetadataDelta {
  // A snapshot replaced the whole image: nothing else is listed, consumers look at everything.
  bool snapshot = false;
  // Brokers registered, changed (fencing, controlled shutdown) or unregistered, with their
  // registration before (nullopt: registered by this delta).
  std::map<NodeId, std::optional<BrokerRegistration>> brokers;
  std::map<TopicId, TopicDelta> topics;
  // Dynamic configs set or removed, with the value before (nullopt: was unset).
  std::map<ConfigResource, std::map<std::string, std::optional<std::string>>> configs;
  std::set<std::string> acls;                              // ids of entries added or removed
  std::map<std::string, std::optional<int32_t>> features;  // level before
  std::optional<int64_t> next_producer_id_before;          // a ProducerIdsRecord applied
  bool active_controller = false;                          // an ActiveControllerRecord applied

  bool empty() const;
  // True when a config outside any one topic changed (a broker's or the cluster default):
  // every topic's effective settings may differ.
  bool NonTopicConfigsChanged() const;
  // `later` happened after this delta.
  void Merge(const MetadataDelta& later);

  // Used by MetadataImage::Replay, before it changes what is named (first touch wins).
  void NoteBroker(NodeId id, const BrokerRegistration* before);
  TopicDelta& NoteTopic(const TopicId& id, const std::string& name);
  void NotePartition(const TopicId& id, const std::string& name, int32_t partition,
                     const PartitionState* before);
  void NoteConfig(const ConfigResource& resource, const std::string& name,
                  std::optional<std::string> before);
};

}  // namespace strand::controller
