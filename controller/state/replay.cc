// MetadataImage::Replay: the only code that changes metadata state (CONVENTIONS.md rule 3).
// Deterministic: no clocks, no randomness, no iteration over unordered containers.
#include <algorithm>

#include <fmt/format.h>

#include "controller/state/metadata_delta.h"
#include "controller/state/metadata_image.h"

namespace strand::controller {
namespace {

absl::Status Invalid(std::string message) {
  return absl::FailedPreconditionError(std::move(message));
}

std::string NormalizedName(std::string name) {
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

}  // namespace

absl::Status MetadataImage::ReplayBatch(const v1::MetadataBatch& batch, uint64_t offset,
                                        MetadataDelta* delta) {
  absl::Status first;
  for (const v1::MetadataRecord& r : batch.records()) {
    absl::Status s = Replay(r, offset, delta);
    if (first.ok() && !s.ok()) first = s;
  }
  offset_ = std::max(offset_, offset);
  return first;
}

absl::Status MetadataImage::ReplayRegistrationChange(const v1::BrokerRegistrationChangeRecord& r,
                                                     MetadataDelta* delta) {
  auto it = brokers_.find(NodeId(r.broker_id()));
  if (it == brokers_.end() || it->second.epoch != r.broker_epoch()) {
    return Invalid(fmt::format("registration change for broker {} epoch {} which is not "
                               "registered",
                               r.broker_id(), r.broker_epoch()));
  }
  BrokerRegistration& b = it->second;
  if (delta != nullptr) delta->NoteBroker(b.id, &b);
  if (r.fence() == v1::FENCE_CHANGE_FENCE) b.fenced = true;
  if (r.fence() == v1::FENCE_CHANGE_UNFENCE) b.fenced = false;
  if (r.in_controlled_shutdown()) b.in_controlled_shutdown = true;
  if (r.clear_controlled_shutdown()) b.in_controlled_shutdown = false;
  return absl::OkStatus();
}

absl::Status MetadataImage::ReplayPartitionChange(const v1::PartitionChangeRecord& r,
                                                  MetadataDelta* delta) {
  auto id = TopicId::FromBytes(r.topic_id());
  TopicImage* t = id ? mutable_topic(*id) : nullptr;
  if (t == nullptr || r.partition() < 0 ||
      r.partition() >= static_cast<int32_t>(t->partitions.size())) {
    return Invalid(fmt::format("change for unknown partition {}", r.partition()));
  }
  PartitionState& p = t->partitions[static_cast<size_t>(r.partition())];
  if (delta != nullptr) delta->NotePartition(t->id, t->name, r.partition(), &p);
  bool bump_leader_epoch = false;
  if (r.has_leader() && NodeId(r.leader()) != p.leader) {
    p.leader = NodeId(r.leader());
    bump_leader_epoch = true;
  }
  if (r.set_isr()) p.isr = ToNodeIds(r.isr());
  if (r.set_replicas()) {
    // Followers must notice a new replica set, so it counts as a new leader epoch (as in Kafka).
    if (ToNodeIds(r.replicas()) != p.replicas) bump_leader_epoch = true;
    CountReplicas(p.replicas, -1);
    p.replicas = ToNodeIds(r.replicas());
    CountReplicas(p.replicas, +1);
  }
  if (r.set_reassignment()) {
    p.adding_replicas = ToNodeIds(r.adding_replicas());
    p.removing_replicas = ToNodeIds(r.removing_replicas());
  }
  if (bump_leader_epoch) p.leader_epoch = p.leader_epoch + 1;
  p.partition_epoch += 1;
  return absl::OkStatus();
}

absl::Status MetadataImage::Replay(const v1::MetadataRecord& record, uint64_t offset,
                                   MetadataDelta* delta) {
  switch (record.record_case()) {
    case v1::MetadataRecord::kRegisterBroker: {
      const auto& r = record.register_broker();
      BrokerRegistration b;
      b.id = NodeId(r.broker_id());
      b.incarnation_id = r.incarnation_id();
      // The epoch is the offset of the registration (a snapshot carries it explicitly).
      b.epoch = r.broker_epoch() > 0 ? r.broker_epoch() : static_cast<int64_t>(offset);
      for (const auto& l : r.listeners()) {
        b.listeners.push_back({l.name(), l.host(), l.port(), l.security()});
      }
      b.rack = r.rack();
      b.fenced = r.fenced();
      for (const v1::SettingDigest& d : r.static_settings())
        b.static_settings[d.name()] = d.digest();
      if (delta != nullptr) delta->NoteBroker(b.id, broker(b.id));
      brokers_[b.id] = std::move(b);
      return absl::OkStatus();
    }
    case v1::MetadataRecord::kBrokerRegistrationChange:
      return ReplayRegistrationChange(record.broker_registration_change(), delta);
    case v1::MetadataRecord::kUnregisterBroker: {
      const auto& r = record.unregister_broker();
      auto it = brokers_.find(NodeId(r.broker_id()));
      if (it == brokers_.end()) return Invalid(fmt::format("unknown broker {}", r.broker_id()));
      if (delta != nullptr) delta->NoteBroker(it->first, &it->second);
      brokers_.erase(it);
      return absl::OkStatus();
    }
    case v1::MetadataRecord::kTopic: {
      const auto& r = record.topic();
      auto id = TopicId::FromBytes(r.topic_id());
      if (!id || id->IsZero()) return Invalid("topic record without a valid id");
      if (topics_.count(r.name()) || topic_names_.count(*id)) {
        return Invalid(fmt::format("topic {} already exists", r.name()));
      }
      if (delta != nullptr) delta->NoteTopic(*id, r.name()).created = true;
      topics_[r.name()] = TopicImage{r.name(), *id, {}};
      topic_names_[*id] = r.name();
      normalized_names_[NormalizedName(r.name())] = r.name();
      return absl::OkStatus();
    }
    case v1::MetadataRecord::kPartition: {
      const auto& r = record.partition();
      auto id = TopicId::FromBytes(r.topic_id());
      TopicImage* t = id ? mutable_topic(*id) : nullptr;
      if (t == nullptr || r.partition() < 0) return Invalid("partition of an unknown topic");
      const auto index = static_cast<size_t>(r.partition());
      if (delta != nullptr) {
        // A snapshot may re-create a partition that exists; otherwise it is new.
        delta->NotePartition(t->id, t->name, r.partition(),
                             index < t->partitions.size() ? &t->partitions[index] : nullptr);
      }
      if (index >= t->partitions.size()) {
        partition_count_ += index + 1 - t->partitions.size();
        t->partitions.resize(index + 1);
      }
      PartitionState& p = t->partitions[index];
      CountReplicas(p.replicas, -1);  // a snapshot may re-create a partition
      p.replicas = ToNodeIds(r.replicas());
      CountReplicas(p.replicas, +1);
      p.isr = ToNodeIds(r.isr());
      p.adding_replicas = ToNodeIds(r.adding_replicas());
      p.removing_replicas = ToNodeIds(r.removing_replicas());
      p.leader = NodeId(r.leader());
      p.leader_epoch = LeaderEpoch(r.leader_epoch());
      p.partition_epoch = r.partition_epoch();
      return absl::OkStatus();
    }
    case v1::MetadataRecord::kPartitionChange:
      return ReplayPartitionChange(record.partition_change(), delta);
    case v1::MetadataRecord::kRemoveTopic: {
      auto id = TopicId::FromBytes(record.remove_topic().topic_id());
      auto it = id ? topic_names_.find(*id) : topic_names_.end();
      if (it == topic_names_.end()) return Invalid("removal of an unknown topic");
      const std::string name = it->second;
      if (delta != nullptr) {
        const TopicImage& gone = topics_.at(name);
        delta->NoteTopic(*id, name).deleted = true;
        for (size_t i = 0; i < gone.partitions.size(); ++i) {
          delta->NotePartition(*id, name, static_cast<int32_t>(i), &gone.partitions[i]);
        }
        auto configs = configs_.find(ConfigResource{v1::TOPIC, name});
        if (configs != configs_.end()) {
          for (const auto& [config, value] : configs->second) {
            delta->NoteConfig(configs->first, config, value);
          }
        }
      }
      partition_count_ -= topics_.at(name).partitions.size();
      for (const PartitionState& p : topics_.at(name).partitions) CountReplicas(p.replicas, -1);
      normalized_names_.erase(NormalizedName(name));
      topics_.erase(name);
      topic_names_.erase(it);
      configs_.erase(ConfigResource{v1::TOPIC, name});
      return absl::OkStatus();
    }
    case v1::MetadataRecord::kConfig: {
      const auto& r = record.config();
      ConfigResource resource{r.resource_type(), r.resource_name()};
      if (delta != nullptr) delta->NoteConfig(resource, r.name(), config(resource, r.name()));
      if (r.remove()) {
        auto it = configs_.find(resource);
        if (it != configs_.end()) {
          it->second.erase(r.name());
          if (it->second.empty()) configs_.erase(it);
        }
      } else {
        configs_[resource][r.name()] = r.value();
      }
      return absl::OkStatus();
    }
    case v1::MetadataRecord::kProducerIds: {
      const int64_t next = record.producer_ids().next_producer_id();
      if (next < next_producer_id_) return Invalid("producer id block went backwards");
      if (delta != nullptr && !delta->next_producer_id_before) {
        delta->next_producer_id_before = next_producer_id_;
      }
      next_producer_id_ = next;
      return absl::OkStatus();
    }
    case v1::MetadataRecord::kAccessControlEntry: {
      const auto& r = record.access_control_entry();
      if (delta != nullptr) delta->acls.insert(r.id());
      acls_[r.id()] = AclEntry{r.resource_type(), r.resource_name(), r.pattern_type(),
                               r.principal(), r.host(), r.operation(), r.permission_type()};
      return absl::OkStatus();
    }
    case v1::MetadataRecord::kRemoveAccessControlEntry:
      if (delta != nullptr) delta->acls.insert(record.remove_access_control_entry().id());
      acls_.erase(record.remove_access_control_entry().id());
      return absl::OkStatus();
    case v1::MetadataRecord::kFeatureLevel:
      if (delta != nullptr) {
        auto it = features_.find(record.feature_level().name());
        delta->features.emplace(
            record.feature_level().name(),
            it == features_.end() ? std::nullopt : std::optional<int32_t>(it->second));
      }
      features_[record.feature_level().name()] = record.feature_level().feature_level();
      return absl::OkStatus();
    case v1::MetadataRecord::kActiveController:
      if (delta != nullptr) delta->active_controller = true;
      active_controller_ = NodeId(record.active_controller().controller_id());
      active_controller_term_ = record.active_controller().term();
      active_controller_static_settings_.clear();
      for (const v1::SettingDigest& d : record.active_controller().static_settings()) {
        active_controller_static_settings_[d.name()] = d.digest();
      }
      return absl::OkStatus();
    case v1::MetadataRecord::RECORD_NOT_SET:
      break;
  }
  return Invalid("empty or unknown metadata record");
}

}  // namespace strand::controller
