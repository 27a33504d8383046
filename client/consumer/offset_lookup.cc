#include "client/consumer/offset_lookup.h"

#include <fmt/format.h>

#include <algorithm>

namespace strand::client {
namespace {

// The partition's leader has moved or is not ready: ask again after a metadata refresh.
bool RetryAtLeader(KafkaError error) {
  switch (error) {
    case KafkaError::kNotLeaderOrFollower:
    case KafkaError::kLeaderNotAvailable:
    case KafkaError::kFencedLeaderEpoch:
    case KafkaError::kUnknownLeaderEpoch:
    case KafkaError::kUnknownTopicOrPartition:
    case KafkaError::kOffsetNotAvailable:
    case KafkaError::kRequestTimedOut:
    case KafkaError::kKafkaStorageError:
      return true;
    default:
      return KafkaErrorRetriable(error);
  }
}

}  // namespace

OffsetLookup::OffsetLookup(uint64_t id, std::map<TopicPartition, int64_t> timestamps,
                           bool read_committed, int64_t retry_backoff_ms)
    : id_(id),
      read_committed_(read_committed),
      retry_backoff_ms_(std::max<int64_t>(1, retry_backoff_ms)) {
  for (const auto& [tp, timestamp] : timestamps) pending_[tp].timestamp = timestamp;
}

void OffsetLookup::SendDue(const ClusterMetadata& cluster, MetadataManager& metadata,
                           int64_t now_ms, const Send& send) {
  std::map<int32_t, std::unique_ptr<ListOffsetsCall>> calls;
  bool missing_leader = false;
  for (auto& [tp, p] : pending_) {
    if (results_.count(tp) > 0 || p.in_flight || now_ms < p.due_ms) continue;
    const PartitionMetadata* pm = cluster.partition(tp.topic, tp.partition);
    if (pm == nullptr || pm->leader < 0 || cluster.broker(pm->leader) == nullptr) {
      missing_leader = true;
      p.due_ms = now_ms + retry_backoff_ms_;
      continue;
    }
    auto& call = calls[pm->leader];
    if (!call) {
      call = std::make_unique<ListOffsetsCall>();
      call->lookup_id = id_;
      call->node = pm->leader;
      call->address = cluster.broker(pm->leader)->address();
      call->request.set_replica_id(-1);
      call->request.set_isolation_level(read_committed_ ? broker::v1::READ_COMMITTED
                                                        : broker::v1::READ_UNCOMMITTED);
    }
    broker::v1::ListOffsetsTopic* topic = nullptr;
    for (auto& t : *call->request.mutable_topics()) {
      if (t.topic() == tp.topic) topic = &t;
    }
    if (topic == nullptr) {
      topic = call->request.add_topics();
      topic->set_topic(tp.topic);
    }
    auto* lp = topic->add_partitions();
    lp->set_partition(tp.partition);
    lp->set_current_leader_epoch(pm->leader_epoch);
    lp->set_timestamp(p.timestamp);
    p.in_flight = true;
  }
  if (missing_leader) metadata.RequestUpdate();
  for (auto& [node, call] : calls) send(std::move(call));
}

void OffsetLookup::RetryLater(const TopicPartition& tp, int64_t now_ms) {
  Pending& p = pending_[tp];
  p.in_flight = false;
  p.due_ms = now_ms + retry_backoff_ms_;
}

std::vector<TopicPartition> OffsetLookup::OnAnswer(const ListOffsetsCall& call,
                                                   MetadataManager& metadata, int64_t now_ms) {
  std::vector<TopicPartition> resolved;
  std::map<TopicPartition, const broker::v1::ListOffsetsPartitionResponse*> answers;
  if (call.status.ok()) {
    for (const auto& t : call.response.topics()) {
      for (const auto& p : t.partitions()) answers[{t.topic(), p.partition()}] = &p;
    }
  } else {
    metadata.RequestUpdate();
  }
  for (const auto& t : call.request.topics()) {
    for (const auto& lp : t.partitions()) {
      const TopicPartition tp{t.topic(), lp.partition()};
      auto it = answers.find(tp);
      if (it == answers.end()) {
        RetryLater(tp, now_ms);
        continue;
      }
      const auto error = static_cast<KafkaError>(it->second->error().code());
      if (error != KafkaError::kNone && RetryAtLeader(error)) {
        metadata.RequestUpdate();
        RetryLater(tp, now_ms);
        continue;
      }
      Result result;
      if (error != KafkaError::kNone) {
        result.status =
            KafkaStatus(error, fmt::format("{}: {}", tp.ToString(), it->second->error().message()));
      }
      result.offset = it->second->offset();
      result.timestamp_ms = it->second->timestamp();
      result.leader_epoch = it->second->leader_epoch();
      pending_[tp].in_flight = false;
      results_[tp] = result;
      resolved.push_back(tp);
    }
  }
  return resolved;
}

int64_t OffsetLookup::next_due_ms() const {
  int64_t next = INT64_MAX;
  for (const auto& [tp, p] : pending_) {
    if (results_.count(tp) == 0 && !p.in_flight) next = std::min(next, p.due_ms);
  }
  return next;
}

}  // namespace strand::client
