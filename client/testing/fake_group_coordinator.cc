#include "client/testing/fake_group_coordinator.h"

#include <algorithm>
#include <map>

#include "common/error_proto.h"

namespace strand::client::testing {

// One broker's GroupService: forwards to the shared model.
class FakeGroupCoordinator::Service final : public group::v1::GroupService::Service {
 public:
  Service(FakeGroupCoordinator& model, int32_t broker) : model_(model), broker_(broker) {}

  grpc::Status FindCoordinator(grpc::ServerContext*,
                               const group::v1::FindCoordinatorRequest* request,
                               group::v1::FindCoordinatorResponse* response) override {
    return model_.FindCoordinator(broker_, *request, response);
  }
  grpc::Status ConsumerGroupHeartbeat(
      grpc::ServerContext*, const GroupHeartbeat* request,
      group::v1::ConsumerGroupHeartbeatResponse* response) override {
    return model_.Heartbeat(broker_, *request, response);
  }
  grpc::Status OffsetCommit(grpc::ServerContext*, const group::v1::OffsetCommitRequest* request,
                            group::v1::OffsetCommitResponse* response) override {
    return model_.OffsetCommit(broker_, *request, response);
  }
  grpc::Status OffsetFetch(grpc::ServerContext*, const group::v1::OffsetFetchRequest* request,
                           group::v1::OffsetFetchResponse* response) override {
    return model_.OffsetFetch(broker_, *request, response);
  }

 private:
  FakeGroupCoordinator& model_;
  const int32_t broker_;
};

FakeGroupCoordinator::FakeGroupCoordinator() = default;
FakeGroupCoordinator::~FakeGroupCoordinator() = default;

std::function<void(int32_t, grpc::ServerBuilder&)> FakeGroupCoordinator::Hook() {
  return [this](int32_t broker, grpc::ServerBuilder& builder) {
    std::lock_guard lock(mu_);
    services_.push_back(std::make_unique<Service>(*this, broker));
    builder.RegisterService(services_.back().get());
  };
}

void FakeGroupCoordinator::SetCoordinator(int32_t broker, int port) {
  std::lock_guard lock(mu_);
  coordinator_ = broker;
  coordinator_port_ = port;
}

void FakeGroupCoordinator::SetAssignment(const TopicPartitionList& partitions) {
  std::lock_guard lock(mu_);
  assignment_ = partitions;
  ++epoch_;
}

int32_t FakeGroupCoordinator::epoch() const {
  std::lock_guard lock(mu_);
  return epoch_;
}

void FakeGroupCoordinator::SetHeartbeatIntervalMs(int32_t interval_ms) {
  std::lock_guard lock(mu_);
  heartbeat_interval_ms_ = interval_ms;
}

void FakeGroupCoordinator::PushFindCoordinatorError(KafkaError error) {
  std::lock_guard lock(mu_);
  find_errors_.push_back(error);
}

void FakeGroupCoordinator::PushHeartbeatError(KafkaError error, const std::string& message) {
  std::lock_guard lock(mu_);
  heartbeat_errors_.push_back({error, message});
}

void FakeGroupCoordinator::PushCommitError(KafkaError error) {
  std::lock_guard lock(mu_);
  commit_errors_.push_back(error);
}

void FakeGroupCoordinator::SetCommitted(const std::string& topic, int32_t partition,
                                        int64_t offset) {
  std::lock_guard lock(mu_);
  committed_[{topic, partition}] = offset;
}

std::optional<int64_t> FakeGroupCoordinator::Committed(const std::string& topic,
                                                       int32_t partition) const {
  std::lock_guard lock(mu_);
  auto it = committed_.find({topic, partition});
  if (it == committed_.end()) return std::nullopt;
  return it->second;
}

std::vector<GroupHeartbeat> FakeGroupCoordinator::Heartbeats() const {
  std::lock_guard lock(mu_);
  return heartbeats_;
}

std::vector<group::v1::OffsetCommitRequest> FakeGroupCoordinator::Commits() const {
  std::lock_guard lock(mu_);
  return commits_;
}

int FakeGroupCoordinator::Calls(const std::string& method) const {
  std::lock_guard lock(mu_);
  auto it = calls_.find(method);
  return it == calls_.end() ? 0 : it->second;
}

int FakeGroupCoordinator::WaitForHeartbeat(const std::function<bool(const GroupHeartbeat&)>& match,
                                           std::chrono::milliseconds timeout, size_t from) const {
  std::unique_lock lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t next = from;
  while (true) {
    for (; next < heartbeats_.size(); ++next) {
      if (match(heartbeats_[next])) return static_cast<int>(next);
    }
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) {
      for (; next < heartbeats_.size(); ++next) {
        if (match(heartbeats_[next])) return static_cast<int>(next);
      }
      return -1;
    }
  }
}

int FakeGroupCoordinator::WaitForCommit(
    const std::function<bool(const group::v1::OffsetCommitRequest&)>& match,
    std::chrono::milliseconds timeout, size_t from) const {
  std::unique_lock lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t next = from;
  while (true) {
    for (; next < commits_.size(); ++next) {
      if (match(commits_[next])) return static_cast<int>(next);
    }
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) {
      for (; next < commits_.size(); ++next) {
        if (match(commits_[next])) return static_cast<int>(next);
      }
      return -1;
    }
  }
}

grpc::Status FakeGroupCoordinator::FindCoordinator(int32_t broker,
                                                   const group::v1::FindCoordinatorRequest& request,
                                                   group::v1::FindCoordinatorResponse* response) {
  std::lock_guard lock(mu_);
  ++calls_["FindCoordinator"];
  for (const std::string& group : request.group_ids()) {
    group::v1::Coordinator* c = response->add_coordinators();
    c->set_group_id(group);
    c->set_node_id(-1);
    if (!find_errors_.empty()) {
      SetKafkaError(c->mutable_error(), find_errors_.front(), "scripted");
      find_errors_.pop_front();
      continue;
    }
    if (coordinator_ < 0) {
      SetKafkaError(c->mutable_error(), KafkaError::kCoordinatorNotAvailable, "none set");
      continue;
    }
    c->set_node_id(coordinator_);
    c->set_host("127.0.0.1");
    c->set_port(coordinator_port_);
  }
  changed_.notify_all();
  return grpc::Status::OK;
}

grpc::Status FakeGroupCoordinator::Heartbeat(int32_t broker, const GroupHeartbeat& request,
                                             group::v1::ConsumerGroupHeartbeatResponse* response) {
  std::lock_guard lock(mu_);
  ++calls_["ConsumerGroupHeartbeat"];
  heartbeats_.push_back(request);
  changed_.notify_all();
  if (broker != coordinator_) {
    SetKafkaError(response->mutable_error(), KafkaError::kNotCoordinator, "not this broker");
    return grpc::Status::OK;
  }
  if (!heartbeat_errors_.empty()) {
    SetKafkaError(response->mutable_error(), heartbeat_errors_.front().error,
                  heartbeat_errors_.front().message);
    heartbeat_errors_.pop_front();
    return grpc::Status::OK;
  }
  response->set_member_id(request.member_id());
  response->set_heartbeat_interval_ms(heartbeat_interval_ms_);
  if (request.member_epoch() < 0) {
    response->set_member_epoch(request.member_epoch());
    return grpc::Status::OK;
  }
  response->set_member_epoch(epoch_);
  std::map<std::string, std::vector<int32_t>> by_topic;
  for (const auto& [topic, partition] : assignment_) by_topic[topic].push_back(partition);
  for (auto& [topic, partitions] : by_topic) {
    group::v1::TopicPartitions* t = response->add_assignment();
    t->set_topic(topic);
    std::sort(partitions.begin(), partitions.end());
    for (int32_t p : partitions) t->add_partitions(p);
  }
  return grpc::Status::OK;
}

grpc::Status FakeGroupCoordinator::OffsetCommit(int32_t broker,
                                                const group::v1::OffsetCommitRequest& request,
                                                group::v1::OffsetCommitResponse* response) {
  std::lock_guard lock(mu_);
  ++calls_["OffsetCommit"];
  commits_.push_back(request);
  changed_.notify_all();
  if (broker != coordinator_) {
    SetKafkaError(response->mutable_error(), KafkaError::kNotCoordinator, "not this broker");
    return grpc::Status::OK;
  }
  if (!commit_errors_.empty()) {
    SetKafkaError(response->mutable_error(), commit_errors_.front(), "scripted");
    commit_errors_.pop_front();
    return grpc::Status::OK;
  }
  for (const auto& t : request.topics()) {
    group::v1::OffsetCommitTopicResponse* tr = response->add_topics();
    tr->set_name(t.name());
    for (const auto& p : t.partitions()) {
      committed_[{t.name(), p.partition()}] = p.offset();
      tr->add_partitions()->set_partition(p.partition());
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeGroupCoordinator::OffsetFetch(int32_t broker,
                                               const group::v1::OffsetFetchRequest& request,
                                               group::v1::OffsetFetchResponse* response) {
  std::lock_guard lock(mu_);
  ++calls_["OffsetFetch"];
  if (broker != coordinator_) {
    SetKafkaError(response->mutable_error(), KafkaError::kNotCoordinator, "not this broker");
    return grpc::Status::OK;
  }
  for (const auto& t : request.topics()) {
    group::v1::OffsetFetchTopicResponse* tr = response->add_topics();
    tr->set_name(t.name());
    for (int32_t partition : t.partitions()) {
      group::v1::OffsetFetchPartition* p = tr->add_partitions();
      p->set_partition(partition);
      auto it = committed_.find({t.name(), partition});
      p->set_offset(it == committed_.end() ? -1 : it->second);
      p->set_leader_epoch(-1);
    }
  }
  return grpc::Status::OK;
}

}  // namespace strand::client::testing
