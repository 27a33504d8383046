#pragma once

// MetadataImage: the cluster's metadata as of some offset of the metadata log — brokers, topics
// and partitions, configs, producer-id allocation, ACLs, feature levels and the active
// controller. It changes only through Replay (replay.cc): applying the same records in the same
// order always yields the same image, on every controller and every broker.
//
// A plain value type: copyable (the active controller keeps a working copy ahead of the
// committed one), comparable (tests), no I/O, no locking (owners serialize access).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/ids.h"
#include "controller/state/topic_id.h"
#include "proto/controller/v1/metadata.pb.h"

namespace strand::controller {

struct MetadataDelta;

struct Listener {
  std::string name;
  std::string host;
  int32_t port = 0;
  std::string security;
  bool operator==(const Listener&) const = default;
};

struct BrokerRegistration {
  NodeId id;
  std::string incarnation_id;
  int64_t epoch = 0;  // the metadata offset of its RegisterBroker record
  std::vector<Listener> listeners;
  std::string rack;
  bool fenced = true;
  bool in_controlled_shutdown = false;
  // Digests of its static cluster settings, by name (see SettingDigest in metadata.proto).
  std::map<std::string, uint64_t> static_settings;
  bool operator==(const BrokerRegistration&) const = default;
  // The listener registered under this name (a client's, the inter-broker, ...), or null.
  const Listener* FindListener(std::string_view name) const;
};

struct PartitionState {
  std::vector<NodeId> replicas;  // preferred order
  std::vector<NodeId> isr;
  std::vector<NodeId> adding_replicas;
  std::vector<NodeId> removing_replicas;
  NodeId leader = kNoNode;
  LeaderEpoch leader_epoch{0};
  int32_t partition_epoch = 0;

  bool InIsr(NodeId node) const;
  bool IsReplica(NodeId node) const;
  bool Reassigning() const { return !adding_replicas.empty() || !removing_replicas.empty(); }
  bool operator==(const PartitionState&) const = default;
};

struct TopicImage {
  std::string name;
  TopicId id;
  std::vector<PartitionState> partitions;
  bool operator==(const TopicImage&) const = default;
};

struct ConfigResource {
  v1::ConfigResourceType type = v1::CONFIG_RESOURCE_TYPE_UNSPECIFIED;
  std::string name;  // topic name; broker id as text; "" for the cluster default
  auto operator<=>(const ConfigResource&) const = default;
};

struct AclEntry {
  int32_t resource_type = 0;
  std::string resource_name;
  int32_t pattern_type = 0;
  std::string principal;
  std::string host;
  int32_t operation = 0;
  int32_t permission_type = 0;
  bool operator==(const AclEntry&) const = default;
};

class MetadataImage {
 public:
  // Applies one record found at metadata log index `offset`. Records are validated before they
  // are written, so an error here means a record that cannot apply (a bug or a corrupt log): the
  // record is skipped — identically on every node — and the error returned for logging. When
  // `delta` is given, what the record changed is added to it (metadata_delta.h); a skipped
  // record adds nothing.
  absl::Status Replay(const v1::MetadataRecord& record, uint64_t offset,
                      MetadataDelta* delta = nullptr);
  // Applies every record of a batch; returns the first error (the others still apply).
  absl::Status ReplayBatch(const v1::MetadataBatch& batch, uint64_t offset,
                           MetadataDelta* delta = nullptr);

  // The records that rebuild this image from empty (a snapshot), and the inverse.
  v1::MetadataSnapshot ToSnapshot() const;
  static absl::StatusOr<MetadataImage> FromSnapshot(const v1::MetadataSnapshot& snapshot);

  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t offset) { offset_ = offset; }

  const std::map<NodeId, BrokerRegistration>& brokers() const { return brokers_; }
  const BrokerRegistration* broker(NodeId id) const;
  bool BrokerIsActive(NodeId id) const;  // registered and unfenced

  const std::map<std::string, TopicImage>& topics() const { return topics_; }
  const TopicImage* topic(const std::string& name) const;
  const TopicImage* topic(const TopicId& id) const;
  const PartitionState* partition(const TopicId& id, int32_t partition) const;
  size_t partition_count() const { return partition_count_; }
  // A different existing topic whose name collides with `name` once '.' and '_' are treated
  // alike (Kafka forbids such pairs: their metric names would clash), or nullptr.
  const std::string* TopicCollidingWith(const std::string& name) const;
  // Replicas each broker hosts, and partitions each broker is the preferred leader of, kept up
  // to date by Replay so that placement never scans every partition.
  const std::map<NodeId, int64_t>& replica_counts() const { return replica_counts_; }
  const std::map<NodeId, int64_t>& preferred_leader_counts() const {
    return preferred_leader_counts_;
  }

  const std::map<ConfigResource, std::map<std::string, std::string>>& configs() const {
    return configs_;
  }
  // A dynamic config value, if set on that resource.
  std::optional<std::string> config(const ConfigResource& resource, const std::string& name) const;

  int64_t next_producer_id() const { return next_producer_id_; }
  const std::map<std::string, AclEntry>& acls() const { return acls_; }
  const std::map<std::string, int32_t>& features() const { return features_; }
  NodeId active_controller() const { return active_controller_; }
  uint64_t active_controller_term() const { return active_controller_term_; }
  // Digests of the active controller's static cluster settings (empty before one recorded them).
  const std::map<std::string, uint64_t>& active_controller_static_settings() const {
    return active_controller_static_settings_;
  }

  bool operator==(const MetadataImage& other) const;

 private:
  absl::Status ReplayPartitionChange(const v1::PartitionChangeRecord& r, MetadataDelta* delta);
  absl::Status ReplayRegistrationChange(const v1::BrokerRegistrationChangeRecord& r,
                                        MetadataDelta* delta);
  TopicImage* mutable_topic(const TopicId& id);
  // Adds (sign +1) or removes (-1) a replica set from the per-broker counts.
  void CountReplicas(const std::vector<NodeId>& replicas, int sign);

  uint64_t offset_ = 0;
  std::map<NodeId, BrokerRegistration> brokers_;
  std::map<std::string, TopicImage> topics_;  // by name
  absl::flat_hash_map<TopicId, std::string> topic_names_;
  size_t partition_count_ = 0;
  // Derived from topics_ (not part of equality): see the accessors.
  std::map<std::string, std::string> normalized_names_;
  std::map<NodeId, int64_t> replica_counts_;
  std::map<NodeId, int64_t> preferred_leader_counts_;
  std::map<ConfigResource, std::map<std::string, std::string>> configs_;
  int64_t next_producer_id_ = 0;
  std::map<std::string, AclEntry> acls_;  // by 16-byte id
  std::map<std::string, int32_t> features_;
  NodeId active_controller_ = kNoNode;
  uint64_t active_controller_term_ = 0;
  std::map<std::string, uint64_t> active_controller_static_settings_;
};

// Conversions shared by the replay, the controller and the services.
std::vector<NodeId> ToNodeIds(const google::protobuf::RepeatedField<int32_t>& ids);
void FromNodeIds(const std::vector<NodeId>& ids, google::protobuf::RepeatedField<int32_t>* out);

}  // namespace strand::controller
