#include "client/testing/fake_broker.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "client/testing/fake_broker_service.h"
#include "common/check.h"
#include "record/record_batch_builder.h"

namespace strand::client::testing {
namespace {

bool NamesTopic(const std::string& wanted, const std::string& topic) {
  return wanted.empty() || wanted == topic;
}

}  // namespace

FakeBrokerCluster::FakeBrokerCluster(int brokers, int32_t first_id, AddServices add_services) {
  brokers_.resize(static_cast<size_t>(brokers));
  for (int i = 0; i < brokers; ++i) {
    Broker& b = brokers_[static_cast<size_t>(i)];
    b.id = first_id + i;
    b.rack = fmt::format("rack-{}", i);
    b.service = std::make_unique<FakeBrokerService>(*this, b.id);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &b.port);
    builder.RegisterService(b.service.get());
    if (add_services) add_services(b.id, builder);
    b.server = builder.BuildAndStart();
    STRAND_CHECK_MSG(b.server != nullptr && b.port > 0, "cannot start fake broker {}", b.id);
  }
}

FakeBrokerCluster::~FakeBrokerCluster() {
  for (Broker& b : brokers_) StopBroker(b.id);
}

std::string FakeBrokerCluster::bootstrap() const {
  std::string out;
  for (const Broker& b : brokers_) {
    out += fmt::format("{}127.0.0.1:{}", out.empty() ? "" : ",", b.port);
  }
  return out;
}

std::string FakeBrokerCluster::address(int32_t broker) const {
  for (const Broker& b : brokers_) {
    if (b.id == broker) return fmt::format("127.0.0.1:{}", b.port);
  }
  return "";
}

std::vector<int32_t> FakeBrokerCluster::broker_ids() const {
  std::vector<int32_t> ids;
  for (const Broker& b : brokers_) ids.push_back(b.id);
  return ids;
}

void FakeBrokerCluster::CreateTopic(const std::string& name, int partitions,
                                    int replication_factor) {
  std::lock_guard lock(mu_);
  std::vector<Partition>& topic = topics_[name];
  const int n = static_cast<int>(brokers_.size());
  const int rf = std::clamp(replication_factor, 1, n);
  for (int p = static_cast<int>(topic.size()); p < partitions; ++p) {
    Partition partition;
    for (int r = 0; r < rf; ++r) {
      partition.replicas.push_back(brokers_[static_cast<size_t>((p + r) % n)].id);
    }
    partition.leader = partition.replicas[0];
    topic.push_back(std::move(partition));
  }
}

FakeBrokerCluster::Partition* FakeBrokerCluster::FindPartition(const std::string& topic,
                                                               int partition) {
  auto it = topics_.find(topic);
  if (it == topics_.end() || partition < 0 || partition >= static_cast<int>(it->second.size())) {
    return nullptr;
  }
  return &it->second[static_cast<size_t>(partition)];
}

const FakeBrokerCluster::Partition* FakeBrokerCluster::FindPartition(const std::string& topic,
                                                                     int partition) const {
  return const_cast<FakeBrokerCluster*>(this)->FindPartition(topic, partition);
}

void FakeBrokerCluster::SetLeader(const std::string& topic, int partition, int32_t broker) {
  std::lock_guard lock(mu_);
  Partition* p = FindPartition(topic, partition);
  STRAND_CHECK(p != nullptr);
  p->leader = broker;
  ++p->leader_epoch;
  appended_.notify_all();
}

int32_t FakeBrokerCluster::Leader(const std::string& topic, int partition) const {
  std::lock_guard lock(mu_);
  const Partition* p = FindPartition(topic, partition);
  return p == nullptr ? -1 : p->leader;
}

int32_t FakeBrokerCluster::LeaderEpoch(const std::string& topic, int partition) const {
  std::lock_guard lock(mu_);
  const Partition* p = FindPartition(topic, partition);
  return p == nullptr ? -1 : p->leader_epoch;
}

std::vector<int32_t> FakeBrokerCluster::Replicas(const std::string& topic, int partition) const {
  std::lock_guard lock(mu_);
  const Partition* p = FindPartition(topic, partition);
  return p == nullptr ? std::vector<int32_t>{} : p->replicas;
}

void FakeBrokerCluster::SetRack(int32_t broker, const std::string& rack) {
  std::lock_guard lock(mu_);
  for (Broker& b : brokers_) {
    if (b.id == broker) b.rack = rack;
  }
}

void FakeBrokerCluster::StopBroker(int32_t broker) {
  grpc::Server* server = nullptr;
  {
    std::lock_guard lock(mu_);
    for (Broker& b : brokers_) {
      if (b.id == broker && !b.stopped) {
        b.stopped = true;
        server = b.server.get();
      }
    }
    appended_.notify_all();  // long polls on it end
  }
  if (server == nullptr) return;
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  server->Wait();
}

void FakeBrokerCluster::PushFault(BrokerFault fault) {
  std::lock_guard lock(mu_);
  faults_.push_back(std::move(fault));
}

int FakeBrokerCluster::PendingFaults() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(faults_.size());
}

int FakeBrokerCluster::Calls(const std::string& method, int32_t broker) const {
  std::lock_guard lock(mu_);
  int total = 0;
  for (const auto& [key, count] : calls_) {
    if (key.first == method && (broker < 0 || key.second == broker)) total += count;
  }
  return total;
}

std::vector<FakeRecord> FakeBrokerCluster::Records(const std::string& topic, int partition) const {
  std::lock_guard lock(mu_);
  const Partition* p = FindPartition(topic, partition);
  return p == nullptr ? std::vector<FakeRecord>{} : p->log.Records();
}

int64_t FakeBrokerCluster::EndOffset(const std::string& topic, int partition) const {
  std::lock_guard lock(mu_);
  const Partition* p = FindPartition(topic, partition);
  return p == nullptr ? -1 : p->log.log_end_offset();
}

int64_t FakeBrokerCluster::StartOffset(const std::string& topic, int partition) const {
  std::lock_guard lock(mu_);
  const Partition* p = FindPartition(topic, partition);
  return p == nullptr ? -1 : p->log.log_start_offset();
}

void FakeBrokerCluster::DeleteRecordsBefore(const std::string& topic, int partition,
                                            int64_t offset) {
  std::lock_guard lock(mu_);
  Partition* p = FindPartition(topic, partition);
  STRAND_CHECK(p != nullptr);
  p->log.DeleteBefore(offset);
}

void FakeBrokerCluster::AppendValues(const std::string& topic, int partition,
                                     const std::vector<std::string>& values,
                                     int64_t base_timestamp_ms, bool with_keys) {
  record::RecordBatchBuilder builder({});
  std::vector<std::string> keys;
  for (size_t i = 0; i < values.size(); ++i) keys.push_back(fmt::format("key-{}", i));
  for (size_t i = 0; i < values.size(); ++i) {
    builder.Append(base_timestamp_ms + static_cast<int64_t>(i),
                   with_keys ? std::optional<std::string_view>(keys[i]) : std::nullopt, values[i]);
  }
  auto batch = builder.Build();
  STRAND_CHECK(batch.ok());
  std::lock_guard lock(mu_);
  Partition* p = FindPartition(topic, partition);
  STRAND_CHECK(p != nullptr);
  auto result = p->log.Append(batch->view(), p->leader_epoch);
  STRAND_CHECK_MSG(result.error == KafkaError::kNone, "{}", result.message);
  appended_.notify_all();
}

int32_t FakeBrokerCluster::last_acks() const {
  std::lock_guard lock(mu_);
  return last_acks_;
}

std::string FakeBrokerCluster::last_fetch_rack() const {
  std::lock_guard lock(mu_);
  return last_fetch_rack_;
}

grpc::Status FakeBrokerCluster::Handle(
    const std::string& method, int32_t broker, const std::string& topic,
    const std::function<grpc::Status(const BrokerFault* fault)>& work) {
  std::optional<BrokerFault> fault;
  {
    std::lock_guard lock(mu_);
    ++calls_[{method, broker}];
    for (auto it = faults_.begin(); it != faults_.end(); ++it) {
      if ((it->method.empty() || it->method == method) &&
          (it->broker < 0 || it->broker == broker) && NamesTopic(it->topic, topic)) {
        fault = *it;
        if (--it->times <= 0) faults_.erase(it);
        break;
      }
    }
  }
  if (fault && fault->delay_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(fault->delay_ms));
  }
  if (fault && fault->grpc_code != grpc::StatusCode::OK && !fault->lose_answer) {
    return grpc::Status(fault->grpc_code, "scripted fault");
  }
  grpc::Status status = work(fault ? &*fault : nullptr);
  if (fault && fault->lose_answer) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "scripted fault: the answer was lost");
  }
  return status;
}

}  // namespace strand::client::testing
