// FakeBrokerCluster's BrokerService methods (see fake_broker.h for what each does).

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "client/testing/fake_broker.h"

namespace strand::client::testing {
namespace {

constexpr int kLongPollMsMax = 1'000;
constexpr int32_t kPartitionMaxBytesDefault = 1 << 20;

void SetHint(broker::v1::LeaderHint* hint, int32_t leader, int32_t epoch) {
  hint->set_leader_id(leader);
  hint->set_leader_epoch(epoch);
}

}  // namespace

grpc::Status FakeBrokerCluster::Metadata(int32_t broker, const broker::v1::MetadataRequest& request,
                                         broker::v1::MetadataResponse* response) {
  return Handle("Metadata", broker, "", [&](const BrokerFault* fault) {
    std::lock_guard lock(mu_);
    response->set_cluster_id("fake-cluster");
    response->set_controller_id(1);
    for (const Broker& b : brokers_) {
      if (b.stopped) continue;
      auto* e = response->add_brokers();
      e->set_id(b.id);
      e->set_host("127.0.0.1");
      e->set_port(b.port);
      e->set_rack(b.rack);
    }
    std::vector<std::string> names(request.topics().begin(), request.topics().end());
    if (names.empty()) {
      for (const auto& [name, partitions] : topics_) names.push_back(name);
    }
    for (const std::string& name : names) {
      auto* t = response->add_topics();
      t->set_name(name);
      auto it = topics_.find(name);
      if (it == topics_.end()) {
        SetKafkaError(t->mutable_error(), KafkaError::kUnknownTopicOrPartition,
                      fmt::format("topic {} does not exist", name));
        continue;
      }
      t->set_topic_id("id-" + name);
      for (size_t p = 0; p < it->second.size(); ++p) {
        const Partition& partition = it->second[p];
        auto* pm = t->add_partitions();
        pm->set_partition(static_cast<int32_t>(p));
        pm->set_leader(partition.leader);
        pm->set_leader_epoch(partition.leader_epoch);
        for (int32_t r : partition.replicas) {
          pm->add_replicas(r);
          pm->add_isr(r);
        }
        if (partition.leader < 0) {
          SetKafkaError(pm->mutable_error(), KafkaError::kLeaderNotAvailable, "offline");
        }
      }
    }
    (void)fault;
    return grpc::Status::OK;
  });
}

grpc::Status FakeBrokerCluster::Produce(int32_t broker, const broker::v1::ProduceRequest& request,
                                        broker::v1::ProduceResponse* response) {
  const std::string first_topic = request.topics_size() > 0 ? request.topics(0).topic() : "";
  return Handle("Produce", broker, first_topic, [&](const BrokerFault* fault) {
    std::lock_guard lock(mu_);
    last_acks_ = request.acks();
    for (const auto& t : request.topics()) {
      auto* tr = response->add_topics();
      tr->set_topic(t.topic());
      for (const auto& pd : t.partitions()) {
        auto* pr = tr->add_partitions();
        pr->set_partition(pd.partition());
        pr->set_base_offset(-1);
        pr->set_log_append_time_ms(-1);
        Partition* p = FindPartition(t.topic(), pd.partition());
        if (p == nullptr) {
          SetKafkaError(pr->mutable_error(), KafkaError::kUnknownTopicOrPartition,
                        fmt::format("{}-{} does not exist", t.topic(), pd.partition()));
          continue;
        }
        if (fault != nullptr && fault->error != KafkaError::kNone) {
          SetKafkaError(pr->mutable_error(), fault->error, "scripted fault");
          if (fault->error == KafkaError::kNotLeaderOrFollower) {
            SetHint(pr->mutable_current_leader(), p->leader, p->leader_epoch);
          }
          continue;
        }
        if (p->leader != broker) {
          SetKafkaError(
              pr->mutable_error(), KafkaError::kNotLeaderOrFollower,
              fmt::format("broker {} does not lead {}-{}", broker, t.topic(), pd.partition()));
          SetHint(pr->mutable_current_leader(), p->leader, p->leader_epoch);
          continue;
        }
        FakePartition::AppendResult result = p->log.Append(pd.records(), p->leader_epoch);
        if (result.error != KafkaError::kNone) {
          SetKafkaError(pr->mutable_error(), result.error, result.message);
          continue;
        }
        pr->set_base_offset(result.base_offset);
        pr->set_log_start_offset(p->log.log_start_offset());
      }
    }
    appended_.notify_all();
    return grpc::Status::OK;
  });
}

size_t FakeBrokerCluster::FetchPartition(int32_t broker, const broker::v1::FetchRequest& request,
                                         const std::string& topic,
                                         const broker::v1::FetchPartition& fp,
                                         broker::v1::FetchPartitionResponse* out) {
  out->Clear();
  out->set_partition(fp.partition());
  out->set_preferred_read_replica(-1);
  Partition* p = FindPartition(topic, fp.partition());
  if (p == nullptr) {
    SetKafkaError(out->mutable_error(), KafkaError::kUnknownTopicOrPartition, "no such partition");
    return 0;
  }
  const bool is_replica =
      std::find(p->replicas.begin(), p->replicas.end(), broker) != p->replicas.end();
  if (p->leader != broker && !is_replica) {
    SetKafkaError(out->mutable_error(), KafkaError::kNotLeaderOrFollower, "not a replica");
    SetHint(out->mutable_current_leader(), p->leader, p->leader_epoch);
    return 0;
  }
  if (fp.current_leader_epoch() >= 0 && fp.current_leader_epoch() < p->leader_epoch) {
    SetKafkaError(out->mutable_error(), KafkaError::kFencedLeaderEpoch, "stale leader epoch");
    return 0;
  }
  if (fp.current_leader_epoch() > p->leader_epoch) {
    SetKafkaError(out->mutable_error(), KafkaError::kUnknownLeaderEpoch, "leader epoch ahead");
    return 0;
  }
  out->set_high_watermark(p->log.log_end_offset());
  out->set_last_stable_offset(p->log.log_end_offset());
  out->set_log_start_offset(p->log.log_start_offset());
  if (fp.fetch_offset() < p->log.log_start_offset() ||
      fp.fetch_offset() > p->log.log_end_offset()) {
    SetKafkaError(out->mutable_error(), KafkaError::kOffsetOutOfRange,
                  fmt::format("offset {} not in [{}, {}]", fp.fetch_offset(),
                              p->log.log_start_offset(), p->log.log_end_offset()));
    return 0;
  }
  // KIP-392: the leader points a consumer at a replica in its rack.
  if (p->leader == broker && !request.rack_id().empty()) {
    for (int32_t r : p->replicas) {
      for (const Broker& b : brokers_) {
        if (b.id == r && r != broker && b.rack == request.rack_id() && !b.stopped) {
          out->set_preferred_read_replica(r);
          return 0;
        }
      }
    }
  }
  const int64_t max_bytes =
      fp.partition_max_bytes() > 0 ? fp.partition_max_bytes() : kPartitionMaxBytesDefault;
  out->set_records(p->log.Read(fp.fetch_offset(), max_bytes));
  return out->records().size();
}

grpc::Status FakeBrokerCluster::Fetch(int32_t broker, const broker::v1::FetchRequest& request,
                                      broker::v1::FetchResponse* response) {
  const std::string first_topic = request.topics_size() > 0 ? request.topics(0).topic() : "";
  return Handle("Fetch", broker, first_topic, [&](const BrokerFault* fault) {
    std::unique_lock lock(mu_);
    last_fetch_rack_ = request.rack_id();
    const auto deadline =
        std::chrono::steady_clock::now() +
        std::chrono::milliseconds(std::clamp(request.max_wait_ms(), 0, kLongPollMsMax));
    while (true) {
      response->Clear();
      size_t bytes = 0;
      bool errors = false;
      for (const auto& t : request.topics()) {
        auto* tr = response->add_topics();
        tr->set_topic(t.topic());
        for (const auto& fp : t.partitions()) {
          auto* pr = tr->add_partitions();
          if (fault != nullptr && fault->error != KafkaError::kNone) {
            pr->set_partition(fp.partition());
            SetKafkaError(pr->mutable_error(), fault->error, "scripted fault");
            errors = true;
            continue;
          }
          bytes += FetchPartition(broker, request, t.topic(), fp, pr);
          errors |= pr->error().code() != 0 || pr->preferred_read_replica() >= 0;
        }
      }
      const bool stopped = std::any_of(brokers_.begin(), brokers_.end(), [&](const Broker& b) {
        return b.id == broker && b.stopped;
      });
      if (errors || stopped || bytes >= static_cast<size_t>(std::max(1, request.min_bytes())) ||
          std::chrono::steady_clock::now() >= deadline) {
        return grpc::Status::OK;
      }
      appended_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() +
                                                        std::chrono::milliseconds(20)));
    }
  });
}

grpc::Status FakeBrokerCluster::ListOffsets(int32_t broker,
                                            const broker::v1::ListOffsetsRequest& request,
                                            broker::v1::ListOffsetsResponse* response) {
  const std::string first_topic = request.topics_size() > 0 ? request.topics(0).topic() : "";
  return Handle("ListOffsets", broker, first_topic, [&](const BrokerFault* fault) {
    std::lock_guard lock(mu_);
    for (const auto& t : request.topics()) {
      auto* tr = response->add_topics();
      tr->set_topic(t.topic());
      for (const auto& lp : t.partitions()) {
        auto* pr = tr->add_partitions();
        pr->set_partition(lp.partition());
        pr->set_offset(-1);
        pr->set_timestamp(-1);
        Partition* p = FindPartition(t.topic(), lp.partition());
        if (p == nullptr) {
          SetKafkaError(pr->mutable_error(), KafkaError::kUnknownTopicOrPartition, "no such");
          continue;
        }
        if (fault != nullptr && fault->error != KafkaError::kNone) {
          SetKafkaError(pr->mutable_error(), fault->error, "scripted fault");
          continue;
        }
        if (p->leader != broker) {
          SetKafkaError(pr->mutable_error(), KafkaError::kNotLeaderOrFollower, "not the leader");
          continue;
        }
        if (lp.current_leader_epoch() >= 0 && lp.current_leader_epoch() < p->leader_epoch) {
          SetKafkaError(pr->mutable_error(), KafkaError::kFencedLeaderEpoch, "stale epoch");
          continue;
        }
        int64_t timestamp = -1;
        pr->set_offset(p->log.OffsetForTimestamp(lp.timestamp(), &timestamp));
        pr->set_timestamp(timestamp);
        pr->set_leader_epoch(p->leader_epoch);
      }
    }
    return grpc::Status::OK;
  });
}

grpc::Status FakeBrokerCluster::InitProducerId(int32_t broker,
                                               const broker::v1::InitProducerIdRequest& request,
                                               broker::v1::InitProducerIdResponse* response) {
  return Handle("InitProducerId", broker, "", [&](const BrokerFault* fault) {
    std::lock_guard lock(mu_);
    if (fault != nullptr && fault->error != KafkaError::kNone) {
      SetKafkaError(response->mutable_error(), fault->error, "scripted fault");
      return grpc::Status::OK;
    }
    auto it = producer_epochs_.find(request.producer_id());
    if (request.producer_id() >= 0 && it != producer_epochs_.end()) {
      if (request.producer_epoch() != it->second) {
        SetKafkaError(response->mutable_error(), KafkaError::kInvalidProducerEpoch,
                      "epoch mismatch");
        return grpc::Status::OK;
      }
      ++it->second;
      response->set_producer_id(it->first);
      response->set_producer_epoch(it->second);
      return grpc::Status::OK;
    }
    const int64_t id = next_producer_id_++;
    producer_epochs_[id] = 0;
    response->set_producer_id(id);
    response->set_producer_epoch(0);
    return grpc::Status::OK;
  });
}

}  // namespace strand::client::testing
