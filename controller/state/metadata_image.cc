// MetadataImage: lookups and the snapshot (image <-> records). Replay lives in replay.cc.
#include "controller/state/metadata_image.h"

#include <algorithm>

namespace strand::controller {

std::vector<NodeId> ToNodeIds(const google::protobuf::RepeatedField<int32_t>& ids) {
  std::vector<NodeId> out;
  out.reserve(ids.size());
  for (int32_t id : ids) out.push_back(NodeId(id));
  return out;
}

void FromNodeIds(const std::vector<NodeId>& ids, google::protobuf::RepeatedField<int32_t>* out) {
  out->Clear();
  out->Reserve(static_cast<int>(ids.size()));
  for (NodeId id : ids) out->Add(id.value());
}

const Listener* BrokerRegistration::FindListener(std::string_view name) const {
  for (const Listener& l : listeners) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

bool PartitionState::InIsr(NodeId node) const {
  return std::find(isr.begin(), isr.end(), node) != isr.end();
}

bool PartitionState::IsReplica(NodeId node) const {
  return std::find(replicas.begin(), replicas.end(), node) != replicas.end();
}

const BrokerRegistration* MetadataImage::broker(NodeId id) const {
  auto it = brokers_.find(id);
  return it == brokers_.end() ? nullptr : &it->second;
}

bool MetadataImage::BrokerIsActive(NodeId id) const {
  const BrokerRegistration* b = broker(id);
  return b != nullptr && !b->fenced;
}

const TopicImage* MetadataImage::topic(const std::string& name) const {
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : &it->second;
}

const TopicImage* MetadataImage::topic(const TopicId& id) const {
  auto it = topic_names_.find(id);
  return it == topic_names_.end() ? nullptr : topic(it->second);
}

TopicImage* MetadataImage::mutable_topic(const TopicId& id) {
  auto it = topic_names_.find(id);
  if (it == topic_names_.end()) return nullptr;
  return &topics_.at(it->second);
}

const PartitionState* MetadataImage::partition(const TopicId& id, int32_t partition) const {
  const TopicImage* t = topic(id);
  if (t == nullptr || partition < 0 || partition >= static_cast<int32_t>(t->partitions.size())) {
    return nullptr;
  }
  return &t->partitions[static_cast<size_t>(partition)];
}

namespace {

std::string NormalizedTopicName(std::string name) {
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

}  // namespace

const std::string* MetadataImage::TopicCollidingWith(const std::string& name) const {
  auto it = normalized_names_.find(NormalizedTopicName(name));
  if (it == normalized_names_.end() || it->second == name) return nullptr;
  return &it->second;
}

void MetadataImage::CountReplicas(const std::vector<NodeId>& replicas, int sign) {
  for (NodeId r : replicas) {
    if ((replica_counts_[r] += sign) == 0) replica_counts_.erase(r);
  }
  if (!replicas.empty()) {
    NodeId preferred = replicas.front();
    if ((preferred_leader_counts_[preferred] += sign) == 0) {
      preferred_leader_counts_.erase(preferred);
    }
  }
}

std::optional<std::string> MetadataImage::config(const ConfigResource& resource,
                                                 const std::string& name) const {
  auto it = configs_.find(resource);
  if (it == configs_.end()) return std::nullopt;
  auto v = it->second.find(name);
  if (v == it->second.end()) return std::nullopt;
  return v->second;
}

bool MetadataImage::operator==(const MetadataImage& o) const {
  return offset_ == o.offset_ && brokers_ == o.brokers_ && topics_ == o.topics_ &&
         configs_ == o.configs_ && next_producer_id_ == o.next_producer_id_ && acls_ == o.acls_ &&
         features_ == o.features_ && active_controller_ == o.active_controller_ &&
         active_controller_term_ == o.active_controller_term_ &&
         active_controller_static_settings_ == o.active_controller_static_settings_;
}

v1::MetadataSnapshot MetadataImage::ToSnapshot() const {
  v1::MetadataSnapshot snap;
  snap.set_last_index(offset_);
  for (const auto& [name, level] : features_) {
    auto* r = snap.add_records()->mutable_feature_level();
    r->set_name(name);
    r->set_feature_level(level);
  }
  for (const auto& [id, b] : brokers_) {
    auto* r = snap.add_records()->mutable_register_broker();
    r->set_broker_id(id.value());
    r->set_incarnation_id(b.incarnation_id);
    r->set_broker_epoch(b.epoch);
    r->set_rack(b.rack);
    r->set_fenced(b.fenced);
    for (const auto& [name, digest] : b.static_settings) {
      auto* d = r->add_static_settings();
      d->set_name(name);
      d->set_digest(digest);
    }
    for (const Listener& l : b.listeners) {
      auto* pl = r->add_listeners();
      pl->set_name(l.name);
      pl->set_host(l.host);
      pl->set_port(l.port);
      pl->set_security(l.security);
    }
    if (b.in_controlled_shutdown) {
      auto* c = snap.add_records()->mutable_broker_registration_change();
      c->set_broker_id(id.value());
      c->set_broker_epoch(b.epoch);
      c->set_in_controlled_shutdown(true);
    }
  }
  for (const auto& [name, t] : topics_) {
    auto* tr = snap.add_records()->mutable_topic();
    tr->set_name(name);
    tr->set_topic_id(t.id.Bytes());
    for (size_t p = 0; p < t.partitions.size(); ++p) {
      const PartitionState& ps = t.partitions[p];
      auto* pr = snap.add_records()->mutable_partition();
      pr->set_topic_id(t.id.Bytes());
      pr->set_partition(static_cast<int32_t>(p));
      FromNodeIds(ps.replicas, pr->mutable_replicas());
      FromNodeIds(ps.isr, pr->mutable_isr());
      FromNodeIds(ps.adding_replicas, pr->mutable_adding_replicas());
      FromNodeIds(ps.removing_replicas, pr->mutable_removing_replicas());
      pr->set_leader(ps.leader.value());
      pr->set_leader_epoch(ps.leader_epoch.value());
      pr->set_partition_epoch(ps.partition_epoch);
    }
  }
  for (const auto& [resource, values] : configs_) {
    for (const auto& [name, value] : values) {
      auto* c = snap.add_records()->mutable_config();
      c->set_resource_type(resource.type);
      c->set_resource_name(resource.name);
      c->set_name(name);
      c->set_value(value);
    }
  }
  if (next_producer_id_ > 0) {
    snap.add_records()->mutable_producer_ids()->set_next_producer_id(next_producer_id_);
  }
  for (const auto& [id, acl] : acls_) {
    auto* a = snap.add_records()->mutable_access_control_entry();
    a->set_id(id);
    a->set_resource_type(acl.resource_type);
    a->set_resource_name(acl.resource_name);
    a->set_pattern_type(acl.pattern_type);
    a->set_principal(acl.principal);
    a->set_host(acl.host);
    a->set_operation(acl.operation);
    a->set_permission_type(acl.permission_type);
  }
  if (active_controller_ != kNoNode) {
    auto* a = snap.add_records()->mutable_active_controller();
    a->set_controller_id(active_controller_.value());
    a->set_term(active_controller_term_);
    for (const auto& [name, digest] : active_controller_static_settings_) {
      auto* d = a->add_static_settings();
      d->set_name(name);
      d->set_digest(digest);
    }
  }
  return snap;
}

absl::StatusOr<MetadataImage> MetadataImage::FromSnapshot(const v1::MetadataSnapshot& snapshot) {
  MetadataImage image;
  for (const v1::MetadataRecord& r : snapshot.records()) {
    if (absl::Status s = image.Replay(r, snapshot.last_index()); !s.ok()) return s;
  }
  image.offset_ = snapshot.last_index();
  return image;
}

}  // namespace strand::controller
