#include "client/consumer/fetcher.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "client/common/cluster_metadata.h"
#include "client/consumer/fetch_decoder.h"
#include "client/logger.h"

namespace strand::client {
int32_t Fetcher::NodeFor(PartitionState& p, const ClusterMetadata& cluster, int64_t now_ms) const {
  if (p.preferred_replica >= 0) {
    if (now_ms < p.preferred_replica_until_ms && cluster.broker(p.preferred_replica) != nullptr) {
      return p.preferred_replica;
    }
    p.preferred_replica = -1;
  }
  const int32_t leader = cluster.leader(p.tp.topic, p.tp.partition);
  return leader >= 0 && cluster.broker(leader) != nullptr ? leader : -1;
}

void Fetcher::SendFetches(SubscriptionState& subscription, const ClusterMetadata& cluster,
                          MetadataManager& metadata, int64_t now_ms, const Send& send) {
  std::map<int32_t, std::unique_ptr<FetchCall>> calls;
  bool missing_leader = false;
  for (auto& [tp, p] : subscription.partitions()) {
    if (!p.Fetchable(now_ms)) continue;
    const int32_t node = NodeFor(p, cluster, now_ms);
    if (node < 0) {
      missing_leader = true;
      continue;
    }
    if (nodes_in_flight_.count(node) > 0) continue;
    auto& call = calls[node];
    if (!call) {
      call = std::make_unique<FetchCall>();
      call->node = node;
      call->address = cluster.broker(node)->address();
      broker::v1::FetchRequest& r = call->request;
      r.set_replica_id(-1);
      r.set_max_wait_ms(config_.fetch_max_wait_ms);
      r.set_min_bytes(config_.fetch_min_bytes);
      r.set_max_bytes(config_.fetch_max_bytes);
      r.set_isolation_level(config_.read_committed ? broker::v1::READ_COMMITTED
                                                   : broker::v1::READ_UNCOMMITTED);
      r.set_rack_id(config_.client_rack);
    }
    broker::v1::FetchTopic* topic = nullptr;
    for (auto& t : *call->request.mutable_topics()) {
      if (t.topic() == tp.topic) topic = &t;
    }
    if (topic == nullptr) {
      topic = call->request.add_topics();
      topic->set_topic(tp.topic);
    }
    auto* fp = topic->add_partitions();
    fp->set_partition(tp.partition);
    fp->set_fetch_offset(*p.position);
    const PartitionMetadata* pm = cluster.partition(tp.topic, tp.partition);
    fp->set_current_leader_epoch(pm != nullptr ? pm->leader_epoch : -1);
    fp->set_last_fetched_epoch(-1);
    fp->set_log_start_offset(-1);
    fp->set_partition_max_bytes(config_.max_partition_fetch_bytes);
    p.fetch_in_flight = true;
    p.fetch_offset_in_flight = *p.position;
  }
  if (missing_leader) metadata.RequestUpdate();
  for (auto& [node, call] : calls) {
    nodes_in_flight_.insert(node);
    call->context.set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::milliseconds(config_.request_timeout_ms + config_.fetch_max_wait_ms));
    send(std::move(call));
  }
}

void Fetcher::Backoff(PartitionState& p, int64_t now_ms) const {
  p.retry_at_ms = now_ms + std::max<int64_t>(1, config_.retry_backoff_ms);
}

void Fetcher::OnAnswer(FetchCall& call, SubscriptionState& subscription, MetadataManager& metadata,
                       int64_t now_ms) {
  nodes_in_flight_.erase(call.node);
  std::map<TopicPartition, broker::v1::FetchPartitionResponse*> answers;
  if (call.status.ok()) {
    for (auto& t : *call.response.mutable_topics()) {
      for (auto& p : *t.mutable_partitions()) answers[{t.topic(), p.partition()}] = &p;
    }
  } else {
    ClientLogger()->debug("fetch from broker {} ({}) failed: {}", call.node, call.address,
                          call.status.error_message());
    metadata.RequestUpdate();
  }
  for (const auto& t : call.request.topics()) {
    for (const auto& fp : t.partitions()) {
      PartitionState* p = subscription.Find({t.topic(), fp.partition()});
      if (p == nullptr || !p->fetch_in_flight) continue;  // unassigned meanwhile
      p->fetch_in_flight = false;
      // A Seek or reset since the request was sent makes its answer stale.
      if (!p->position || *p->position != fp.fetch_offset()) continue;
      const bool from_follower = p->preferred_replica == call.node;
      auto it = answers.find(p->tp);
      if (it == answers.end()) {
        if (from_follower) p->preferred_replica = -1;
        Backoff(*p, now_ms);
        continue;
      }
      OnPartition(*p, *it->second, from_follower, metadata, now_ms);
    }
  }
}

void Fetcher::OnPartition(PartitionState& p, broker::v1::FetchPartitionResponse& answer,
                          bool from_follower, MetadataManager& metadata, int64_t now_ms) {
  const auto error = static_cast<KafkaError>(answer.error().code());
  if (error == KafkaError::kNone) {
    p.high_watermark = answer.high_watermark();
    if (answer.preferred_read_replica() >= 0 &&
        answer.preferred_read_replica() != p.preferred_replica) {
      p.preferred_replica = answer.preferred_read_replica();
      p.preferred_replica_until_ms = now_ms + config_.metadata_max_age_ms;
      return;  // fetch from there next
    }
    if (answer.records().empty()) return;
    auto bytes = std::make_shared<std::string>();
    bytes->swap(*answer.mutable_records());
    absl::StatusOr<DecodedFetch> decoded = DecodeFetchedRecords(
        std::move(bytes), p.topic_name, p.tp.partition, *p.position, config_.check_crcs);
    if (!decoded.ok()) {
      p.error = decoded.status();
      return;
    }
    for (ConsumerRecord& r : decoded->records) p.buffered.push_back(std::move(r));
    if (p.buffered.empty()) {
      p.position = decoded->next_fetch_offset;  // only control batches or compaction gaps
    } else {
      p.next_offset_after_buffered = decoded->next_fetch_offset;
    }
    return;
  }
  if (error == KafkaError::kOffsetOutOfRange) {
    if (from_follower) {  // the follower may lag; ask the leader
      p.preferred_replica = -1;
      return;
    }
    if (config_.auto_offset_reset == OffsetResetPolicy::kNone) {
      p.error = KafkaStatus(error, fmt::format("fetch offset {} is out of range for {} and "
                                               "auto.offset.reset is none",
                                               *p.position, p.tp.ToString()));
      Backoff(p, now_ms);
      return;
    }
    ClientLogger()->debug("{}: offset {} out of range, resetting", p.tp.ToString(), *p.position);
    p.position.reset();
    p.reset = config_.auto_offset_reset;
    return;
  }
  p.preferred_replica = -1;
  if (NeedsMetadataRefresh(error)) {
    metadata.RequestUpdate();
    if (answer.has_current_leader() && answer.current_leader().leader_id() >= 0) {
      metadata.UpdateLeader(p.tp, answer.current_leader().leader_id(),
                            answer.current_leader().leader_epoch());
    }
    Backoff(p, now_ms);
    return;
  }
  if (KafkaErrorRetriable(error)) {
    Backoff(p, now_ms);
    return;
  }
  p.error = KafkaStatus(error, fmt::format("{}: {}", p.tp.ToString(), answer.error().message()));
  Backoff(p, now_ms);
}

int64_t Fetcher::NextRetryMs(SubscriptionState& subscription) const {
  int64_t next = INT64_MAX;
  for (auto& [tp, p] : subscription.partitions()) {
    if (p.position && p.buffered.empty() && !p.fetch_in_flight && p.error.ok()) {
      next = std::min(next, p.retry_at_ms);
    }
  }
  return next;
}

}  // namespace strand::client
