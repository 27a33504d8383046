// The sender's loop, draining and sending. Answers are handled in sender_answers.cc.

#include "client/producer/sender.h"

#include <fmt/format.h>

#include <algorithm>

#include "client/logger.h"
#include "client/producer/sender_internal.h"
#include "common/check.h"
#include "common/status.h"
#include "common/thread_name.h"

namespace strand::client {

Sender::Sender(const ProducerConfig& config, Accumulator& accumulator, MetadataManager& metadata,
               BrokerChannels& channels, const Clock& clock, ProducerCounters& counters)
    : config_(config),
      codec_(static_cast<record::Compression>(config.compression)),
      accumulator_(accumulator),
      metadata_(metadata),
      channels_(channels),
      clock_(clock),
      counters_(counters),
      random_(std::random_device{}()) {}

Sender::~Sender() {
  STRAND_CHECK(!thread_.joinable());
  STRAND_CHECK(in_flight_.empty() && pid_call_ == nullptr);  // gRPC would answer into freed memory
}

void Sender::Start() {
  thread_ = NamedThread("producer-sender", [this] { Run(); });
}

void Sender::Wakeup() {
  std::lock_guard lock(wake_mu_);
  woken_ = true;
  wake_cv_.notify_one();
}

bool Sender::Stop(int64_t timeout_ms) {
  std::unique_lock lock(wake_mu_);
  stopping_ = true;
  woken_ = true;
  wake_cv_.notify_one();
  constexpr int64_t kWaitMsMax = int64_t{100} * 24 * 3'600'000;  // "forever", without overflow
  const bool graceful = finished_cv_.wait_for(
      lock, std::chrono::milliseconds(std::min(timeout_ms, kWaitMsMax)), [&] { return finished_; });
  if (!graceful) {
    force_stop_ = true;
    woken_ = true;
    wake_cv_.notify_one();
  }
  lock.unlock();
  thread_.join();
  return graceful;
}

void Sender::Run() {
  while (true) {
    RunOnce();
    bool stopping = false, force = false;
    {
      std::lock_guard lock(wake_mu_);
      stopping = stopping_;
      force = force_stop_;
    }
    if (force) {
      FailEverything(absl::FailedPreconditionError("the producer was closed before delivery"));
      if (in_flight_.empty() && pid_call_ == nullptr) break;
      continue;  // the cancelled calls answer soon
    }
    if (stopping && in_flight_.empty() && !accumulator_.HasQueued()) {
      // Nothing left to deliver; an InitProducerId still in flight (an epoch bump after a failed
      // batch) writes into this object when it answers, so it must end before the loop does.
      if (pid_call_ == nullptr) break;
      pid_call_->context.TryCancel();
    }
  }
  std::lock_guard lock(wake_mu_);
  finished_ = true;
  finished_cv_.notify_all();
}

void Sender::RunOnce() {
  ProcessAnswers();
  const int64_t now_ms = clock_.NowMonotonicMs();
  const uint64_t version = metadata_.version();
  if (version != metadata_version_seen_) {
    metadata_version_seen_ = version;
    RefreshTopicPartitions();
  }
  int64_t next_ms = metadata_.Poll();
  if (config_.enable_idempotence) next_ms = std::min(next_ms, MaintainProducerId(now_ms));
  ExpireBatches(now_ms);
  next_ms = std::min(next_ms, SendReady(now_ms));
  // Stuck batches (no leader, no producer id) are checked for expiry now and then.
  if (accumulator_.HasQueued()) next_ms = std::min(next_ms, now_ms + 50);
  std::unique_lock lock(wake_mu_);
  if (!woken_ && !force_stop_) {
    const int64_t wait_ms = std::clamp<int64_t>(next_ms - clock_.NowMonotonicMs(), 0, 1000);
    if (wait_ms > 0) {
      wake_cv_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                        [&] { return woken_ || force_stop_; });
    }
  }
  woken_ = false;
}

void Sender::RefreshTopicPartitions() { accumulator_.UpdateTopics(*metadata_.current()); }

int64_t Sender::SendReady(int64_t now_ms) {
  auto cluster = metadata_.current();
  Accumulator::DrainResult drain = accumulator_.Drain(
      *cluster, now_ms,
      [&](int32_t node) {
        return in_flight_per_node_[node] < config_.max_in_flight_requests_per_connection;
      },
      [&](const ProducerBatch& head) {
        return !config_.enable_idempotence || idempotence_.MaySend(head);
      });
  if (!drain.topics_without_leader.empty()) metadata_.RequestUpdate();
  bool sent = false;
  for (auto& [node, batches] : drain.batches) {
    std::vector<BatchPtr> sendable;
    SealAndStamp(batches, &sendable);
    if (sendable.empty()) continue;
    SendProduce(node, std::move(sendable), now_ms);
    sent = true;
  }
  // More batches of the same partitions may be ready: look again at once.
  return sent ? now_ms : drain.next_check_ms;
}

void Sender::SealAndStamp(std::vector<BatchPtr>& batches, std::vector<BatchPtr>* sendable) {
  for (BatchPtr& batch : batches) {
    if (config_.enable_idempotence && batch->base_sequence < 0) {
      idempotence_.AssignSequence(*batch);
    }
    if (!batch->sealed()) {
      absl::Status sealed = batch->Seal(codec_, config_.compression_level);
      if (!sealed.ok()) {
        if (config_.enable_idempotence) idempotence_.RequestEpochBump();  // a sequence gap
        Complete(batch, KafkaStatus(KafkaError::kUnknownServerError, MessageOf(sealed)), -1, -1);
        continue;
      }
      if (codec_ != record::Compression::kNone && batch->uncompressed_records_bytes() > 0) {
        accumulator_.RecordCompressionRatio(
            batch->topic_partition().topic,
            static_cast<double>(batch->wire_size_bytes()) /
                static_cast<double>(batch->uncompressed_records_bytes() +
                                    record::batch_layout::kHeaderSize));
      }
    }
    sendable->push_back(std::move(batch));
  }
}

void Sender::SendProduce(int32_t node, std::vector<BatchPtr> batches, int64_t now_ms) {
  auto call = std::make_unique<InFlight>();
  call->node = node;
  call->sent_ms = now_ms;
  call->request.set_acks(config_.acks);
  call->request.set_timeout_ms(static_cast<int32_t>(config_.request_timeout_ms));
  std::map<std::string_view, int> topic_index;
  for (const BatchPtr& batch : batches) {
    const TopicPartition& tp = batch->topic_partition();
    auto [it, inserted] = topic_index.try_emplace(tp.topic, call->request.topics_size());
    if (inserted) call->request.add_topics()->set_topic(tp.topic);
    broker::v1::TopicProduceData* topic = call->request.mutable_topics(it->second);
    broker::v1::PartitionProduceData* data = topic->add_partitions();
    data->set_partition(tp.partition);
    data->mutable_records()->swap(batch->wire());  // moved, not copied; swapped back after
    call->slots.push_back({it->second, topic->partitions_size() - 1});
    ++batch->attempts;
    if (batch->attempts > 1) counters_.batches_retried.fetch_add(1, std::memory_order_relaxed);
    batch->in_flight = true;
    if (config_.enable_idempotence) {
      batch->sent_as_first = idempotence_.IsFirstUnresolved(*batch) &&
                             idempotence_.InFlight(batch->topic_partition()) == 0;
      idempotence_.OnSent(*batch);
    }
  }
  call->batches = std::move(batches);
  counters_.batches_sent.fetch_add(static_cast<int64_t>(call->batches.size()),
                                   std::memory_order_relaxed);
  counters_.requests_sent.fetch_add(1, std::memory_order_relaxed);
  const BrokerNode* broker = metadata_.current()->broker(node);
  call->address = broker != nullptr ? broker->address() : std::string();
  call->context.set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(config_.request_timeout_ms + kProduceDeadlineSlackMs));
  InFlight* raw = call.get();
  in_flight_[raw] = std::move(call);
  ++in_flight_per_node_[node];
  if (raw->address.empty()) {
    OnProduceDone(raw, grpc::Status(grpc::StatusCode::UNAVAILABLE, "broker not in metadata"));
    return;
  }
  channels_.Stub(raw->address)
      ->async()
      ->Produce(&raw->context, &raw->request, &raw->response,
                [this, raw](grpc::Status status) { OnProduceDone(raw, status); });
  if (config_.acks == 0) {
    // Nobody waits for an answer with acks=0 (as in Kafka): the records are done once sent.
    for (const BatchPtr& batch : raw->batches) Complete(batch, absl::OkStatus(), -1, -1);
    raw->completed_on_send = true;
  }
}

void Sender::OnProduceDone(InFlight* call, const grpc::Status& status) {
  {
    std::lock_guard lock(answers_mu_);
    call->status = status;
    answers_.push_back(call);
  }
  Wakeup();
}

void Sender::ExpireBatches(int64_t now_ms) {
  for (const BatchPtr& batch : accumulator_.RemoveExpired(now_ms)) {
    if (config_.enable_idempotence && batch->base_sequence >= 0) {
      idempotence_.RequestEpochBump();
    }
    std::string last =
        batch->last_error.ok() ? std::string("none") : std::string(MessageOf(batch->last_error));
    Complete(batch,
             KafkaStatus(KafkaError::kRequestTimedOut,
                         fmt::format("expiring {} record(s) for {}: {} ms has passed since batch "
                                     "creation (delivery.timeout.ms); last error: {}",
                                     batch->record_count(), batch->topic_partition().ToString(),
                                     now_ms - batch->created_ms(), last)),
             -1, -1);
  }
}

void Sender::FailEverything(const absl::Status& status) {
  for (const BatchPtr& batch : accumulator_.RemoveAll()) Complete(batch, status, -1, -1);
  for (auto& [raw, call] : in_flight_) call->context.TryCancel();
  if (pid_call_) pid_call_->context.TryCancel();
}

int64_t Sender::BackoffMs(int32_t attempts) {
  const int64_t initial = std::max<int64_t>(1, config_.retry_backoff_ms);
  const int64_t max = std::max<int64_t>(initial, config_.retry_backoff_max_ms);
  int64_t backoff = initial;
  for (int32_t i = 1; i < attempts && backoff < max; ++i) backoff *= 2;
  backoff = std::min(backoff, max);
  std::uniform_int_distribution<int64_t> jitter(-backoff / 5, backoff / 5);
  return std::max<int64_t>(1, backoff + jitter(random_));
}

std::string Sender::AnyBrokerAddress() {
  std::vector<std::string> addresses;
  for (const auto& [id, broker] : metadata_.current()->brokers()) {
    addresses.push_back(broker.address());
  }
  if (addresses.empty()) addresses = config_.bootstrap_servers;
  return addresses[pid_address_index_++ % addresses.size()];
}

}  // namespace strand::client
