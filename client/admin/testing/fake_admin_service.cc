#include "client/admin/testing/fake_admin_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/check.h"

namespace strand::client::testing {
namespace {

using admin::v1::ResourceType;

constexpr int kFirstBroker = 101;
constexpr int kBrokers = 3;

// Applies a scripted Kafka error to a response: returns true when the call should end there.
template <typename Response>
bool ApplyRequestError(const Fault& fault, Response* response) {
  if (fault.error == KafkaError::kNone) return false;
  SetKafkaError(response->mutable_error(), fault.error, "scripted by the test");
  return true;
}

std::vector<int> Difference(const google::protobuf::RepeatedField<int32_t>& a,
                            const google::protobuf::RepeatedField<int32_t>& b) {
  std::vector<int> out;
  for (int x : a) {
    if (std::find(b.begin(), b.end(), x) == b.end()) out.push_back(x);
  }
  return out;
}

}  // namespace

FakeAdminService::FakeAdminService() {
  cluster_.set_cluster_id("fake-cluster");
  cluster_.set_active_controller(1);
  cluster_.set_controller_term(4);
  cluster_.set_metadata_offset(42);
  for (int id = 1; id <= 3; ++id) {
    auto* c = cluster_.add_controllers();
    c->set_id(id);
    c->set_address(fmt::format("127.0.0.1:{}", 9090 + id));
    c->set_active(id == 1);
    c->set_reachable(true);
  }
  for (int id = kFirstBroker; id < kFirstBroker + kBrokers; ++id) {
    auto* b = cluster_.add_brokers();
    b->set_id(id);
    b->set_rack(fmt::format("rack-{}", id % 3));
    b->add_listeners(fmt::format("PLAINTEXT://127.0.0.1:{}", 9000 + id));
    b->set_state(admin::v1::RUNNING);
    b->set_broker_epoch(7);
  }
}

Fault FakeAdminService::Begin(const std::string& method) {
  Fault fault;
  {
    std::lock_guard lock(mu_);
    ++calls_[method];
    if (!faults_.empty()) {
      fault = faults_.front();
      faults_.pop_front();
    }
  }
  if (fault.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(fault.delay_ms));
  return fault;
}

void FakeAdminService::PushFault(Fault fault) {
  std::lock_guard lock(mu_);
  faults_.push_back(fault);
}

int FakeAdminService::Calls(const std::string& method) const {
  std::lock_guard lock(mu_);
  auto it = calls_.find(method);
  return it == calls_.end() ? 0 : it->second;
}

int FakeAdminService::TotalCalls() const {
  std::lock_guard lock(mu_);
  int total = 0;
  for (const auto& [method, count] : calls_) total += count;
  return total;
}

void FakeAdminService::AddTopic(const std::string& name, int partitions, int replication_factor) {
  admin::v1::NewTopic topic;
  topic.set_name(name);
  topic.set_partitions(partitions);
  topic.set_replication_factor(replication_factor);
  std::lock_guard lock(mu_);
  AddTopicLocked(topic);
}

void FakeAdminService::AddTopicLocked(const admin::v1::NewTopic& topic) {
  admin::v1::TopicDescription& t = topics_[topic.name()];
  t.set_name(topic.name());
  t.set_topic_id(fmt::format("id-{}", topic.name()));
  const int count =
      topic.assignments_size() > 0 ? topic.assignments_size() : std::max(1, topic.partitions());
  const int rf = std::clamp(topic.replication_factor(), 1, kBrokers);
  for (int p = 0; p < count; ++p) {
    auto* info = t.add_partitions();
    info->set_partition(p);
    if (topic.assignments_size() > 0) {
      *info->mutable_replicas() = topic.assignments(p).replicas();
    } else {
      for (int r = 0; r < rf; ++r) info->add_replicas(kFirstBroker + (p + r) % kBrokers);
    }
    *info->mutable_isr() = info->replicas();
    info->set_leader(info->replicas(0));
  }
  for (const auto& [key, value] : topic.configs()) (*t.mutable_configs())[key] = value;
  configs_[{ResourceType::TOPIC, topic.name()}].insert(topic.configs().begin(),
                                                       topic.configs().end());
}

admin::v1::PartitionInfo* FakeAdminService::FindPartition(const admin::v1::TopicPartition& tp) {
  auto it = topics_.find(tp.topic());
  if (it == topics_.end() || tp.partition() < 0 || tp.partition() >= it->second.partitions_size()) {
    return nullptr;
  }
  return it->second.mutable_partitions(tp.partition());
}

admin::v1::CreateTopicsRequest FakeAdminService::last_create_topics() const {
  std::lock_guard lock(mu_);
  return last_create_topics_;
}
admin::v1::AlterConfigsRequest FakeAdminService::last_alter_configs() const {
  std::lock_guard lock(mu_);
  return last_alter_configs_;
}
admin::v1::ElectLeadersRequest FakeAdminService::last_elect_leaders() const {
  std::lock_guard lock(mu_);
  return last_elect_leaders_;
}

grpc::Status FakeAdminService::DescribeCluster(grpc::ServerContext*,
                                               const admin::v1::DescribeClusterRequest*,
                                               admin::v1::DescribeClusterResponse* response) {
  const Fault fault = Begin("DescribeCluster");
  if (fault.grpc_code != grpc::StatusCode::OK) return {fault.grpc_code, "scripted"};
  if (ApplyRequestError(fault, response)) return grpc::Status::OK;
  std::lock_guard lock(mu_);
  *response = cluster_;
  response->set_topics(static_cast<int32_t>(topics_.size()));
  int partitions = 0;
  for (const auto& [name, topic] : topics_) partitions += topic.partitions_size();
  response->set_partitions(partitions);
  return grpc::Status::OK;
}

grpc::Status FakeAdminService::CreateTopics(grpc::ServerContext*,
                                            const admin::v1::CreateTopicsRequest* request,
                                            admin::v1::CreateTopicsResponse* response) {
  const Fault fault = Begin("CreateTopics");
  if (fault.grpc_code != grpc::StatusCode::OK) return {fault.grpc_code, "scripted"};
  std::lock_guard lock(mu_);
  last_create_topics_ = *request;
  for (const admin::v1::NewTopic& topic : request->topics()) {
    auto* result = response->add_topics();
    result->set_name(topic.name());
    if (fault.error != KafkaError::kNone) {
      SetKafkaError(result->mutable_error(), fault.error, "scripted by the test");
    } else if (topics_.count(topic.name()) > 0) {
      SetKafkaError(result->mutable_error(), KafkaError::kTopicAlreadyExists,
                    fmt::format("Topic '{}' already exists.", topic.name()));
    } else if (topic.replication_factor() > kBrokers) {
      SetKafkaError(result->mutable_error(), KafkaError::kInvalidReplicationFactor,
                    fmt::format("Replication factor {} is larger than the {} available brokers.",
                                topic.replication_factor(), kBrokers));
    } else {
      result->set_topic_id(fmt::format("id-{}", topic.name()));
      if (!request->validate_only()) AddTopicLocked(topic);
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeAdminService::DeleteTopics(grpc::ServerContext*,
                                            const admin::v1::DeleteTopicsRequest* request,
                                            admin::v1::DeleteTopicsResponse* response) {
  const Fault fault = Begin("DeleteTopics");
  if (fault.grpc_code != grpc::StatusCode::OK) return {fault.grpc_code, "scripted"};
  std::lock_guard lock(mu_);
  for (const std::string& name : request->names()) {
    auto* result = response->add_topics();
    result->set_name(name);
    if (fault.error != KafkaError::kNone) {
      SetKafkaError(result->mutable_error(), fault.error, "scripted by the test");
    } else if (topics_.erase(name) == 0) {
      SetKafkaError(result->mutable_error(), KafkaError::kUnknownTopicOrPartition,
                    fmt::format("Topic '{}' does not exist.", name));
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeAdminService::ListTopics(grpc::ServerContext*,
                                          const admin::v1::ListTopicsRequest* request,
                                          admin::v1::ListTopicsResponse* response) {
  const Fault fault = Begin("ListTopics");
  if (fault.grpc_code != grpc::StatusCode::OK) return {fault.grpc_code, "scripted"};
  if (ApplyRequestError(fault, response)) return grpc::Status::OK;
  std::lock_guard lock(mu_);
  for (const auto& [name, topic] : topics_) {
    if (!request->include_internal() && name.rfind("__", 0) == 0) continue;
    auto* listing = response->add_topics();
    listing->set_name(name);
    listing->set_topic_id(topic.topic_id());
    listing->set_partitions(topic.partitions_size());
    listing->set_replication_factor(topic.partitions(0).replicas_size());
  }
  return grpc::Status::OK;
}

grpc::Status FakeAdminService::DescribeTopics(grpc::ServerContext*,
                                              const admin::v1::DescribeTopicsRequest* request,
                                              admin::v1::DescribeTopicsResponse* response) {
  const Fault fault = Begin("DescribeTopics");
  if (fault.grpc_code != grpc::StatusCode::OK) return {fault.grpc_code, "scripted"};
  std::lock_guard lock(mu_);
  std::vector<std::string> names(request->names().begin(), request->names().end());
  if (names.empty()) {
    for (const auto& [name, topic] : topics_) names.push_back(name);
  }
  for (const std::string& name : names) {
    auto it = topics_.find(name);
    admin::v1::TopicDescription* out = response->add_topics();
    if (fault.error != KafkaError::kNone) {
      out->set_name(name);
      SetKafkaError(out->mutable_error(), fault.error, "scripted by the test");
    } else if (it == topics_.end()) {
      out->set_name(name);
      SetKafkaError(out->mutable_error(), KafkaError::kUnknownTopicOrPartition,
                    fmt::format("Topic '{}' does not exist.", name));
    } else {
      *out = it->second;
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeAdminService::CreatePartitions(grpc::ServerContext*,
                                                const admin::v1::CreatePartitionsRequest* request,
                                                admin::v1::CreatePartitionsResponse* response) {
  const Fault fault = Begin("CreatePartitions");
  if (fault.grpc_code != grpc::StatusCode::OK) return {fault.grpc_code, "scripted"};
  if (ApplyRequestError(fault, response)) return grpc::Status::OK;
  std::lock_guard lock(mu_);
  auto it = topics_.find(request->topic());
  if (it == topics_.end()) {
    SetKafkaError(response->mutable_error(), KafkaError::kUnknownTopicOrPartition,
                  fmt::format("Topic '{}' does not exist.", request->topic()));
    return grpc::Status::OK;
  }
  admin::v1::TopicDescription& topic = it->second;
  if (request->total_count() <= topic.partitions_size()) {
    SetKafkaError(response->mutable_error(), KafkaError::kInvalidPartitions,
                  fmt::format("Topic currently has {} partitions, {} would not be an increase.",
                              topic.partitions_size(), request->total_count()));
    return grpc::Status::OK;
  }
  if (request->validate_only()) return grpc::Status::OK;
  const admin::v1::PartitionInfo first = topic.partitions(0);
  for (int p = topic.partitions_size(); p < request->total_count(); ++p) {
    auto* info = topic.add_partitions();
    *info = first;
    info->set_partition(p);
  }
  return grpc::Status::OK;
}

grpc::Status FakeAdminService::DescribeConfigs(grpc::ServerContext*,
                                               const admin::v1::DescribeConfigsRequest* request,
                                               admin::v1::DescribeConfigsResponse* response) {
  const Fault fault = Begin("DescribeConfigs");
  if (fault.grpc_code != grpc::StatusCode::OK) return {fault.grpc_code, "scripted"};
  if (ApplyRequestError(fault, response)) return grpc::Status::OK;
  std::lock_guard lock(mu_);
  const bool topic = request->resource_type() == ResourceType::TOPIC;
  if (topic && topics_.count(request->resource_name()) == 0) {
    SetKafkaError(response->mutable_error(), KafkaError::kUnknownTopicOrPartition,
                  fmt::format("Topic '{}' does not exist.", request->resource_name()));
    return grpc::Status::OK;
  }
  const auto source = topic                              ? admin::v1::DYNAMIC_TOPIC_CONFIG
                      : request->resource_name().empty() ? admin::v1::DYNAMIC_DEFAULT_BROKER_CONFIG
                                                         : admin::v1::DYNAMIC_BROKER_CONFIG;
  const auto& dynamic = configs_[{request->resource_type(), request->resource_name()}];
  for (const auto& [name, value] : dynamic) {
    auto* entry = response->add_configs();
    entry->set_name(name);
    entry->set_value(value);
    entry->set_source(source);
  }
  if (request->include_defaults() && dynamic.count("retention.ms") == 0) {
    auto* entry = response->add_configs();
    entry->set_name("retention.ms");
    entry->set_value("604800000");
    entry->set_source(admin::v1::DEFAULT_CONFIG);
  }
  return grpc::Status::OK;
}

grpc::Status FakeAdminService::AlterConfigs(grpc::ServerContext*,
                                            const admin::v1::AlterConfigsRequest* request,
                                            admin::v1::AlterConfigsResponse* response) {
  const Fault fault = Begin("AlterConfigs");
  if (fault.grpc_code != grpc::StatusCode::OK) return {fault.grpc_code, "scripted"};
  if (ApplyRequestError(fault, response)) return grpc::Status::OK;
  std::lock_guard lock(mu_);
  last_alter_configs_ = *request;
  if (request->resource_type() == ResourceType::TOPIC &&
      topics_.count(request->resource_name()) == 0) {
    SetKafkaError(response->mutable_error(), KafkaError::kUnknownTopicOrPartition,
                  fmt::format("Topic '{}' does not exist.", request->resource_name()));
    return grpc::Status::OK;
  }
  if (request->validate_only()) return grpc::Status::OK;
  auto& dynamic = configs_[{request->resource_type(), request->resource_name()}];
  for (const admin::v1::ConfigChange& change : request->changes()) {
    if (change.op() == admin::v1::SET) {
      dynamic[change.name()] = change.value();
    } else {
      dynamic.erase(change.name());
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeAdminService::ElectLeaders(grpc::ServerContext*,
                                            const admin::v1::ElectLeadersRequest* request,
                                            admin::v1::ElectLeadersResponse* response) {
  const Fault fault = Begin("ElectLeaders");
  if (fault.grpc_code != grpc::StatusCode::OK) return {fault.grpc_code, "scripted"};
  std::lock_guard lock(mu_);
  last_elect_leaders_ = *request;
  std::vector<admin::v1::TopicPartition> partitions(request->partitions().begin(),
                                                    request->partitions().end());
  if (partitions.empty()) {
    for (const auto& [name, topic] : topics_) {
      for (const auto& p : topic.partitions()) {
        partitions.emplace_back().set_topic(name);
        partitions.back().set_partition(p.partition());
      }
    }
  }
  for (const admin::v1::TopicPartition& tp : partitions) {
    auto* result = response->add_results();
    *result->mutable_partition() = tp;
    admin::v1::PartitionInfo* info = FindPartition(tp);
    if (fault.error != KafkaError::kNone) {
      SetKafkaError(result->mutable_error(), fault.error, "scripted by the test");
    } else if (info == nullptr) {
      SetKafkaError(result->mutable_error(), KafkaError::kUnknownTopicOrPartition,
                    fmt::format("{}-{} does not exist.", tp.topic(), tp.partition()));
    } else if (info->leader() == info->replicas(0)) {
      SetKafkaError(result->mutable_error(), KafkaError::kElectionNotNeeded,
                    "The preferred replica already leads.");
      result->set_leader(info->leader());
    } else {
      info->set_leader(info->replicas(0));
      info->set_leader_epoch(info->leader_epoch() + 1);
      result->set_leader(info->leader());
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeAdminService::AlterPartitionReassignments(
    grpc::ServerContext*, const admin::v1::AlterPartitionReassignmentsRequest* request,
    admin::v1::AlterPartitionReassignmentsResponse* response) {
  const Fault fault = Begin("AlterPartitionReassignments");
  if (fault.grpc_code != grpc::StatusCode::OK) return {fault.grpc_code, "scripted"};
  std::lock_guard lock(mu_);
  for (const admin::v1::Reassignment& r : request->reassignments()) {
    auto* result = response->add_results();
    *result->mutable_partition() = r.partition();
    const auto key = std::make_pair(r.partition().topic(), r.partition().partition());
    admin::v1::PartitionInfo* info = FindPartition(r.partition());
    if (fault.error != KafkaError::kNone) {
      SetKafkaError(result->mutable_error(), fault.error, "scripted by the test");
    } else if (info == nullptr) {
      SetKafkaError(result->mutable_error(), KafkaError::kUnknownTopicOrPartition,
                    "no such partition");
    } else if (r.replicas().empty()) {
      if (reassignments_.erase(key) == 0) {
        SetKafkaError(result->mutable_error(), KafkaError::kNoReassignmentInProgress,
                      "No reassignment in progress.");
      }
    } else {
      admin::v1::OngoingReassignment& ongoing = reassignments_[key];
      *ongoing.mutable_partition() = r.partition();
      *ongoing.mutable_replicas() = r.replicas();
      for (int b : Difference(r.replicas(), info->replicas())) ongoing.add_adding_replicas(b);
      for (int b : Difference(info->replicas(), r.replicas())) ongoing.add_removing_replicas(b);
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeAdminService::ListPartitionReassignments(
    grpc::ServerContext*, const admin::v1::ListPartitionReassignmentsRequest*,
    admin::v1::ListPartitionReassignmentsResponse* response) {
  const Fault fault = Begin("ListPartitionReassignments");
  if (fault.grpc_code != grpc::StatusCode::OK) return {fault.grpc_code, "scripted"};
  if (ApplyRequestError(fault, response)) return grpc::Status::OK;
  std::lock_guard lock(mu_);
  for (const auto& [key, ongoing] : reassignments_) *response->add_reassignments() = ongoing;
  return grpc::Status::OK;
}

grpc::Status FakeAdminService::UnregisterBroker(grpc::ServerContext*,
                                                const admin::v1::UnregisterBrokerRequest*,
                                                admin::v1::UnregisterBrokerResponse* response) {
  const Fault fault = Begin("UnregisterBroker");
  if (fault.grpc_code != grpc::StatusCode::OK) return {fault.grpc_code, "scripted"};
  ApplyRequestError(fault, response);
  return grpc::Status::OK;
}

FakeAdminServer::FakeAdminServer() {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service_);
  server_ = builder.BuildAndStart();
  STRAND_CHECK(server_ != nullptr && port > 0);
  address_ = fmt::format("127.0.0.1:{}", port);
}

FakeAdminServer::~FakeAdminServer() {
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

}  // namespace strand::client::testing
