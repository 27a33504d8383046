#include "client/producer/accumulator.h"

#include <fmt/format.h>

#include <algorithm>

#include "client/producer/partitioner.h"
#include "common/check.h"
#include "record/record_batch.h"

namespace strand::client {
namespace {

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// A compressed batch never holds more raw bytes than this multiple of batch.size, however well
// the data compresses, so one batch's memory stays bounded.
constexpr double kCompressionRatioMin = 0.25;

}  // namespace

AccumulatorConfig AccumulatorConfig::From(const ProducerConfig& c) {
  AccumulatorConfig a;
  a.batch_size_bytes = c.batch_size_bytes;
  a.linger_ms = c.linger_ms;
  a.max_block_ms = c.max_block_ms;
  a.delivery_timeout_ms = c.delivery_timeout_ms;
  a.max_request_size_bytes = c.max_request_size_bytes;
  a.compressed = c.compression != CompressionType::kNone;
  a.idempotent = c.enable_idempotence;
  return a;
}

Accumulator::Accumulator(AccumulatorConfig config, MemoryBudget& memory)
    : config_(config), memory_(memory), random_(std::random_device{}()) {}

Accumulator::TopicState* Accumulator::FindTopic(std::string_view topic) {
  auto it = topics_.find(AbslView(topic));
  return it == topics_.end() ? nullptr : &it->second;
}

void Accumulator::SetTopicPartitions(std::string_view topic, int32_t count,
                                     std::span<const int32_t> available) {
  std::lock_guard lock(mu_);
  TopicState& state = topics_[AbslView(topic)];
  state.partition_count = count;
  state.available.assign(available.begin(), available.end());
  if (state.sticky_partition >= count) state.sticky_partition = -1;
}

void Accumulator::UpdateTopics(const ClusterMetadata& cluster) {
  std::lock_guard lock(mu_);
  for (auto& [name, state] : topics_) {
    const TopicMetadata* t = cluster.topic(name);
    if (t == nullptr || t->error != KafkaError::kNone || t->partitions.empty()) continue;
    state.partition_count = static_cast<int32_t>(t->partitions.size());
    state.available = t->available_partitions;
    if (state.sticky_partition >= state.partition_count) state.sticky_partition = -1;
  }
}

int32_t Accumulator::PartitionCount(std::string_view topic) const {
  std::lock_guard lock(mu_);
  auto it = topics_.find(AbslView(topic));
  return it == topics_.end() ? -1 : it->second.partition_count;
}

size_t Accumulator::NewBatchCapacity(const TopicState& topic, size_t record_bytes,
                                     const TopicPartition& tp,
                                     const ProducerBatch* previous) const {
  const size_t header = record::batch_layout::kHeaderSize;
  const size_t batch_size = static_cast<size_t>(std::max(config_.batch_size_bytes, 0));
  size_t capacity = std::min(batch_size, kFirstBatchBytes);
  if (auto grown = next_capacity_.find(tp); grown != next_capacity_.end()) {
    capacity = std::min(batch_size, std::max(capacity, grown->second));
  }
  if (previous != nullptr && previous->attempts == 0 && previous->full()) {
    capacity = std::min(batch_size, std::max(capacity, 2 * previous->capacity_bytes()));
  }
  if (config_.compressed) {
    const double ratio = std::max(topic.compression_ratio, kCompressionRatioMin);
    capacity = static_cast<size_t>(static_cast<double>(capacity) / ratio);
  }
  return std::max(capacity, header + record_bytes);
}

bool Accumulator::TryAppendLocked(const TopicPartition& tp, const RecordRef& r,
                                  SendCallback& callback, bool* full) {
  auto it = deques_.find(tp);
  if (it == deques_.end() || it->second.empty()) return false;
  ProducerBatch& open = *it->second.back();
  if (open.sealed() || open.attempts > 0) return false;
  if (!open.TryAppend(r.timestamp_ms, r.key, r.value, r.headers, callback)) {
    *full = true;
    return false;
  }
  // batch.size 0 means no batching: one record per batch.
  *full = config_.batch_size_bytes == 0 || open.free_bytes() < record::batch_layout::kMinRecordSize;
  return true;
}

int32_t Accumulator::StickyPartitionLocked(std::string_view topic, TopicState& state,
                                           size_t record_bytes, const RecordRef& r) {
  if (state.sticky_partition < 0) {
    state.sticky_partition =
        NextStickyPartition(state.available, state.partition_count, -1, random_);
    return state.sticky_partition;
  }
  // Stay while the open batch has room; a new batch moves the topic on (KIP-480).
  auto it = deques_.find(TopicPartition{std::string(topic), state.sticky_partition});
  if (it != deques_.end() && !it->second.empty()) {
    ProducerBatch& open = *it->second.back();
    if (open.attempts == 0 && open.Fits(r.timestamp_ms, r.key, r.value, r.headers)) {
      return state.sticky_partition;
    }
    if (open.attempts == 0) open.mark_full();
  }
  state.sticky_partition =
      NextStickyPartition(state.available, state.partition_count, state.sticky_partition, random_);
  return state.sticky_partition;
}

absl::StatusOr<Accumulator::AppendResult> Accumulator::Append(const RecordRef& r,
                                                              SendCallback& callback,
                                                              int64_t now_ms, bool may_block) {
  const size_t record_bytes = ProducerBatch::RecordSizeBytes(r.key, r.value, r.headers);
  const size_t batch_bytes = record::batch_layout::kHeaderSize + record_bytes;
  if (batch_bytes > static_cast<size_t>(config_.max_request_size_bytes) ||
      static_cast<int64_t>(batch_bytes) > memory_.total_bytes()) {
    return KafkaStatus(
        KafkaError::kMessageTooLarge,
        fmt::format("the record is {} bytes serialized, more than "
                    "max.request.size ({}) or buffer.memory ({})",
                    batch_bytes, config_.max_request_size_bytes, memory_.total_bytes()));
  }
  int64_t reserved = 0;  // memory taken while unlocked, for the batch this call creates
  for (int round = 0;; ++round) {
    std::unique_lock lock(mu_);
    if (closed_) {
      if (reserved > 0) memory_.Release(reserved);
      return absl::FailedPreconditionError("the producer is closed");
    }
    TopicState* topic = FindTopic(r.topic);
    STRAND_CHECK_MSG(topic != nullptr && topic->partition_count > 0,
                     "append to topic {} before its metadata", r.topic);
    const int32_t partition =
        r.partition >= 0 ? r.partition : StickyPartitionLocked(r.topic, *topic, record_bytes, r);
    TopicPartition tp{std::string(r.topic), partition};
    bool full = false;
    if (TryAppendLocked(tp, r, callback, &full)) {
      lock.unlock();
      if (reserved > 0) memory_.Release(reserved);
      return AppendResult{std::move(tp), full};
    }
    auto queued = deques_.find(tp);
    const size_t capacity = NewBatchCapacity(
        *topic, record_bytes, tp,
        queued != deques_.end() && !queued->second.empty() ? queued->second.back().get() : nullptr);
    const int64_t needed = static_cast<int64_t>(capacity);
    if (reserved < needed) {
      if (reserved > 0) memory_.Release(reserved);
      reserved = 0;
      if (!memory_.TryAcquire(needed)) {
        lock.unlock();
        if (!may_block || round > 4 ||
            !memory_.Acquire(needed, std::chrono::milliseconds(config_.max_block_ms))) {
          return KafkaStatus(
              KafkaError::kRequestTimedOut,
              fmt::format("no room in buffer.memory for {} bytes within max.block.ms ({} ms)",
                          needed, may_block ? config_.max_block_ms : 0));
        }
        reserved = needed;
        continue;  // another thread may have opened a batch meanwhile
      }
      reserved = needed;
    }
    auto batch = std::make_shared<ProducerBatch>(tp, capacity, reserved, now_ms);
    batch->id = next_batch_id_++;
    STRAND_CHECK(batch->TryAppend(r.timestamp_ms, r.key, r.value, r.headers, callback));
    incomplete_.insert(batch->id);
    deques_[tp].push_back(std::move(batch));
    return AppendResult{std::move(tp), true};
  }
}

bool Accumulator::ReadyLocked(const ProducerBatch& head, size_t deque_size, int64_t now_ms,
                              int64_t* next_check_ms) const {
  if (head.attempts > 0) {
    if (now_ms >= head.retry_at_ms) return true;
    *next_check_ms = std::min(*next_check_ms, head.retry_at_ms);
    return false;
  }
  if (deque_size > 1 || head.full() || flushes_in_progress_ > 0 || closed_ ||
      config_.linger_ms == 0 || head.free_bytes() < record::batch_layout::kMinRecordSize) {
    return true;
  }
  const int64_t linger_end = head.created_ms() + config_.linger_ms;
  if (now_ms >= linger_end) return true;
  *next_check_ms = std::min(*next_check_ms, linger_end);
  return false;
}

Accumulator::DrainResult Accumulator::Drain(const ClusterMetadata& cluster, int64_t now_ms,
                                            const std::function<bool(int32_t)>& node_has_room,
                                            const PartitionGate& gate) {
  DrainResult result;
  const bool memory_wanted = memory_.has_waiters();
  std::lock_guard lock(mu_);
  std::vector<std::pair<const TopicPartition*, std::deque<BatchPtr>*>> queues;
  for (auto& [tp, deque] : deques_) {
    if (!deque.empty()) queues.emplace_back(&tp, &deque);
  }
  if (queues.empty()) return result;
  std::map<int32_t, bool> room;              // node -> may take a request
  std::map<int32_t, int64_t> request_bytes;  // node -> bytes drained so far
  const size_t start = drain_start_++ % queues.size();
  for (size_t i = 0; i < queues.size(); ++i) {
    auto& [tp, deque] = queues[(start + i) % queues.size()];
    const ProducerBatch& head = *deque->front();
    const PartitionMetadata* known = cluster.partition(tp->topic, tp->partition);
    const int32_t leader = known != nullptr ? known->leader : -1;
    if (leader < 0) {
      result.topics_without_leader.insert(tp->topic);
      continue;
    }
    const int32_t epoch = known->leader_epoch;
    // As KIP-951: a batch waiting out its retry backoff goes at once once the partition has a
    // new leader (a higher leader epoch) since its last attempt — the backoff was for the old one.
    const bool new_leader = head.attempts > 0 && epoch > head.sent_leader_epoch;
    int64_t next = result.next_check_ms;
    const bool ready =
        memory_wanted || new_leader || ReadyLocked(head, deque->size(), now_ms, &next);
    result.next_check_ms = next;
    if (!ready) continue;
    auto [room_it, inserted] = room.try_emplace(leader, false);
    if (inserted) room_it->second = node_has_room(leader);
    if (!room_it->second || !gate(head)) continue;
    int64_t& bytes = request_bytes[leader];
    const auto size = static_cast<int64_t>(head.wire_size_bytes());
    if (bytes > 0 && bytes + size > config_.max_request_size_bytes) continue;
    bytes += size;
    if (head.attempts == 0) {
      // Its partition's next batch: twice this one when it filled up, else back to the start.
      if (head.full() || head.free_bytes() < record::batch_layout::kMinRecordSize) {
        next_capacity_[*tp] = 2 * head.capacity_bytes();
      } else {
        next_capacity_.erase(*tp);
      }
    }
    deque->front()->sent_leader_epoch = epoch;
    result.batches[leader].push_back(std::move(deque->front()));
    deque->pop_front();
  }
  return result;
}

void Accumulator::Reenqueue(BatchPtr batch) {
  std::lock_guard lock(mu_);
  std::deque<BatchPtr>& deque = deques_[batch->topic_partition()];
  if (!config_.idempotent || batch->base_sequence < 0) {
    deque.push_front(std::move(batch));
    return;
  }
  // Among the retried (sequenced) batches at the front, keep sequence order.
  auto it = deque.begin();
  while (it != deque.end() && (*it)->base_sequence >= 0 &&
         (*it)->base_sequence < batch->base_sequence) {
    ++it;
  }
  deque.insert(it, std::move(batch));
}

std::vector<BatchPtr> Accumulator::RemoveExpired(int64_t now_ms) {
  std::vector<BatchPtr> expired;
  std::lock_guard lock(mu_);
  for (auto& [tp, deque] : deques_) {
    for (auto it = deque.begin(); it != deque.end();) {
      if (now_ms >= (*it)->created_ms() + config_.delivery_timeout_ms) {
        expired.push_back(std::move(*it));
        it = deque.erase(it);
      } else {
        ++it;
      }
    }
  }
  return expired;
}

std::vector<BatchPtr> Accumulator::RemoveAll() {
  std::vector<BatchPtr> all;
  std::lock_guard lock(mu_);
  for (auto& [tp, deque] : deques_) {
    for (BatchPtr& batch : deque) all.push_back(std::move(batch));
    deque.clear();
  }
  return all;
}

std::vector<BatchPtr> Accumulator::RemoveIf(
    const std::function<bool(const ProducerBatch&)>& select) {
  std::vector<BatchPtr> removed;
  std::lock_guard lock(mu_);
  for (auto& [tp, deque] : deques_) {
    for (auto it = deque.begin(); it != deque.end();) {
      if (select(**it)) {
        removed.push_back(std::move(*it));
        it = deque.erase(it);
      } else {
        ++it;
      }
    }
  }
  return removed;
}

void Accumulator::ForEachQueued(const std::function<void(ProducerBatch&)>& visit) {
  std::lock_guard lock(mu_);
  for (auto& [tp, deque] : deques_) {
    for (BatchPtr& batch : deque) visit(*batch);
  }
}

void Accumulator::Deallocate(const ProducerBatch& batch) {
  memory_.Release(batch.reserved_bytes());
  std::lock_guard lock(mu_);
  incomplete_.erase(batch.id);
  if (flushes_in_progress_ > 0) flush_cv_.notify_all();
}

void Accumulator::RecordCompressionRatio(std::string_view topic, double ratio) {
  std::lock_guard lock(mu_);
  TopicState* state = FindTopic(topic);
  if (state == nullptr) return;
  // Kafka's CompressionRatioEstimator: quick to grow (an oversized batch is costly), slow to
  // shrink.
  double& estimate = state->compression_ratio;
  if (ratio > estimate) {
    estimate = std::max(estimate + 0.05, ratio);
  } else if (ratio < estimate) {
    estimate = std::max(estimate - 0.005, ratio);
  }
  estimate = std::min(estimate, 2.0);
}

uint64_t Accumulator::BeginFlush() {
  std::lock_guard lock(mu_);
  ++flushes_in_progress_;
  return next_batch_id_;
}

void Accumulator::AwaitFlush(uint64_t mark) {
  std::unique_lock lock(mu_);
  flush_cv_.wait(lock, [&] { return incomplete_.empty() || *incomplete_.begin() >= mark; });
}

void Accumulator::EndFlush() {
  std::lock_guard lock(mu_);
  --flushes_in_progress_;
}

void Accumulator::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
}

bool Accumulator::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

bool Accumulator::HasQueued() const {
  std::lock_guard lock(mu_);
  for (const auto& [tp, deque] : deques_) {
    if (!deque.empty()) return true;
  }
  return false;
}

size_t Accumulator::IncompleteCount() const {
  std::lock_guard lock(mu_);
  return incomplete_.size();
}

}  // namespace strand::client
