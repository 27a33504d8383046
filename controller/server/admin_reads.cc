#include "controller/server/admin_reads.h"

#include <optional>

#include <fmt/format.h>

#include "controller/state/config_defs.h"

namespace strand::controller {
namespace {

void Error(KafkaError code, std::string message, strand::common::v1::Error* out) {
  SetError({code, std::move(message)}, out);
}

admin::v1::BrokerState StateOf(const BrokerRegistration& b) {
  if (b.in_controlled_shutdown) return admin::v1::CONTROLLED_SHUTDOWN;
  return b.fenced ? admin::v1::FENCED : admin::v1::RUNNING;
}

void FillPartition(const MetadataImage& image, int32_t index, const PartitionState& p,
                   admin::v1::PartitionInfo* out) {
  out->set_partition(index);
  out->set_leader(p.leader.value());
  out->set_leader_epoch(p.leader_epoch.value());
  out->set_partition_epoch(p.partition_epoch);
  FromNodeIds(p.replicas, out->mutable_replicas());
  FromNodeIds(p.isr, out->mutable_isr());
  FromNodeIds(p.adding_replicas, out->mutable_adding_replicas());
  FromNodeIds(p.removing_replicas, out->mutable_removing_replicas());
  for (NodeId r : p.replicas) {
    if (!image.BrokerIsActive(r)) out->add_offline_replicas(r.value());
  }
}

}  // namespace

PartitionHealth ComputeHealth(const MetadataImage& image, const QuorumController& controller) {
  PartitionHealth h;
  for (const auto& [name, t] : image.topics()) {
    const int64_t min_isr = ConfigAsLong(controller.TopicConfig(image, name, "min.insync.replicas"));
    for (const PartitionState& p : t.partitions) {
      ++h.partitions;
      if (p.leader == kNoNode) ++h.offline;
      if (p.isr.size() < p.replicas.size()) ++h.under_replicated;
      if (static_cast<int64_t>(p.isr.size()) < min_isr) ++h.under_min_isr;
    }
  }
  return h;
}

admin::v1::DescribeClusterResponse DescribeCluster(const MetadataImage& image,
                                                   const QuorumController& controller,
                                                   const QuorumView& quorum) {
  admin::v1::DescribeClusterResponse resp;
  resp.set_cluster_id(quorum.cluster_id);
  resp.set_active_controller(quorum.leader.value());
  resp.set_controller_term(quorum.term);
  resp.set_metadata_offset(image.offset());
  for (const auto& [id, address] : quorum.voters) {
    auto* c = resp.add_controllers();
    c->set_id(id.value());
    c->set_address(address);
    c->set_active(id == quorum.leader);
    c->set_reachable(std::find(quorum.reachable.begin(), quorum.reachable.end(), id) !=
                         quorum.reachable.end() ||
                     id == quorum.self);
    if (id == quorum.self) {
      for (const std::string& name : DifferingStaticSettings(
               image, controller.static_settings(), image.active_controller_static_settings())) {
        c->add_static_settings_differing(name);
      }
    }
  }
  std::map<NodeId, std::pair<int32_t, int32_t>> counts;  // leaders, replicas
  for (const auto& [name, t] : image.topics()) {
    for (const PartitionState& p : t.partitions) {
      if (p.leader != kNoNode) counts[p.leader].first++;
      for (NodeId r : p.replicas) counts[r].second++;
    }
  }
  for (const auto& [id, b] : image.brokers()) {
    auto* out = resp.add_brokers();
    out->set_id(id.value());
    out->set_rack(b.rack);
    for (const Listener& l : b.listeners) {
      out->add_listeners(fmt::format("{}://{}:{}", l.name, l.host, l.port));
    }
    out->set_state(StateOf(b));
    out->set_leader_count(counts[id].first);
    out->set_replica_count(counts[id].second);
    for (const std::string& name : DifferingStaticSettings(
             image, b.static_settings, image.active_controller_static_settings(), id.value())) {
      out->add_static_settings_differing(name);
    }
  }
  const PartitionHealth h = ComputeHealth(image, controller);
  resp.set_topics(static_cast<int32_t>(image.topics().size()));
  resp.set_partitions(static_cast<int32_t>(h.partitions));
  resp.set_offline_partitions(static_cast<int32_t>(h.offline));
  resp.set_under_replicated_partitions(static_cast<int32_t>(h.under_replicated));
  resp.set_under_min_isr_partitions(static_cast<int32_t>(h.under_min_isr));
  if (quorum.leader == kNoNode) {
    Error(KafkaError::kNotController,
          "no active controller is known (election in progress or no quorum); this view may be "
          "stale",
          resp.mutable_error());
  }
  return resp;
}

admin::v1::ListTopicsResponse ListTopics(const MetadataImage& image,
                                         const admin::v1::ListTopicsRequest& req) {
  admin::v1::ListTopicsResponse resp;
  for (const auto& [name, t] : image.topics()) {
    if (!req.include_internal() && name.rfind("__", 0) == 0) continue;
    auto* out = resp.add_topics();
    out->set_name(name);
    out->set_topic_id(t.id.ToString());
    out->set_partitions(static_cast<int32_t>(t.partitions.size()));
    out->set_replication_factor(
        t.partitions.empty() ? 0 : static_cast<int32_t>(t.partitions.front().replicas.size()));
  }
  return resp;
}

admin::v1::DescribeTopicsResponse DescribeTopics(const MetadataImage& image,
                                                 const admin::v1::DescribeTopicsRequest& req) {
  admin::v1::DescribeTopicsResponse resp;
  std::vector<std::string> names(req.names().begin(), req.names().end());
  if (names.empty()) {
    for (const auto& [name, t] : image.topics()) names.push_back(name);
  }
  for (const std::string& name : names) {
    auto* out = resp.add_topics();
    out->set_name(name);
    const TopicImage* t = image.topic(name);
    if (t == nullptr) {
      Error(KafkaError::kUnknownTopicOrPartition, fmt::format("topic '{}' does not exist", name),
            out->mutable_error());
      continue;
    }
    out->set_topic_id(t->id.ToString());
    for (size_t i = 0; i < t->partitions.size(); ++i) {
      FillPartition(image, static_cast<int32_t>(i), t->partitions[i], out->add_partitions());
    }
    auto it = image.configs().find(ConfigResource{v1::TOPIC, name});
    if (it != image.configs().end()) {
      for (const auto& [k, v] : it->second) (*out->mutable_configs())[k] = v;
    }
  }
  return resp;
}

admin::v1::DescribeConfigsResponse DescribeConfigs(const MetadataImage& image,
                                                   const QuorumController& controller,
                                                   const admin::v1::DescribeConfigsRequest& req) {
  admin::v1::DescribeConfigsResponse resp;
  const bool topic = req.resource_type() == admin::v1::TOPIC;
  if (topic && image.topic(req.resource_name()) == nullptr) {
    Error(KafkaError::kUnknownTopicOrPartition,
          fmt::format("topic '{}' does not exist", req.resource_name()), resp.mutable_error());
    return resp;
  }
  if (!topic && req.resource_type() != admin::v1::BROKER) {
    Error(KafkaError::kInvalidRequest, "resource type must be TOPIC or BROKER",
          resp.mutable_error());
    return resp;
  }
  // One broker's configs (BROKER "<id>"; "cluster" or "" is the cluster default): its own
  // dynamic values first, for the settings a broker may have its own of.
  const std::string& name = req.resource_name();
  const bool one_broker = !topic && !name.empty() && name != "cluster";
  const auto& defs = topic ? TopicConfigDefs() : ClusterConfigDefs();
  for (const ConfigDef& def : defs) {
    admin::v1::ConfigSource source = admin::v1::DEFAULT_CONFIG;
    std::string value = def.default_value;
    const std::string cluster_name = topic ? def.cluster_synonym : def.name;
    std::optional<std::string> broker_value;
    if (one_broker && def.per_broker) broker_value = image.config({v1::BROKER, name}, def.name);
    if (topic && image.config({v1::TOPIC, req.resource_name()}, def.name)) {
      source = admin::v1::DYNAMIC_TOPIC_CONFIG;
      value = *image.config({v1::TOPIC, req.resource_name()}, def.name);
    } else if (topic && cluster_name.empty()) {
      // A topic-only setting left at its default (no cluster-level synonym).
    } else if (broker_value) {
      source = admin::v1::DYNAMIC_BROKER_CONFIG;
      value = *broker_value;
    } else if (auto v = image.config({v1::BROKER, ""}, cluster_name)) {
      source = admin::v1::DYNAMIC_DEFAULT_BROKER_CONFIG;
      value = *v;
    } else if (controller.ClusterConfig(image, cluster_name) != def.default_value) {
      source = admin::v1::STATIC_BROKER_CONFIG;
      value = controller.ClusterConfig(image, cluster_name);
    }
    if (source == admin::v1::DEFAULT_CONFIG && !req.include_defaults()) continue;
    auto* out = resp.add_configs();
    out->set_name(def.name);
    out->set_value(value);
    out->set_source(source);
    out->set_documentation(def.doc);
  }
  return resp;
}

admin::v1::ListPartitionReassignmentsResponse ListReassignments(const MetadataImage& image) {
  admin::v1::ListPartitionReassignmentsResponse resp;
  for (const auto& [name, t] : image.topics()) {
    for (size_t i = 0; i < t.partitions.size(); ++i) {
      const PartitionState& p = t.partitions[i];
      if (!p.Reassigning()) continue;
      auto* out = resp.add_reassignments();
      out->mutable_partition()->set_topic(name);
      out->mutable_partition()->set_partition(static_cast<int32_t>(i));
      FromNodeIds(p.replicas, out->mutable_replicas());
      FromNodeIds(p.adding_replicas, out->mutable_adding_replicas());
      FromNodeIds(p.removing_replicas, out->mutable_removing_replicas());
    }
  }
  return resp;
}

}  // namespace strand::controller
