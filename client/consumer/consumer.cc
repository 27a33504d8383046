// Consumer: the public face (strand/consumer.h) over the subscription state, the fetcher, offset
// lookups and the metadata manager, all driven from the caller's thread by Pump().

#include "strand/consumer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <atomic>
#include <map>
#include <mutex>

#include "client/common/broker_channels.h"
#include "client/common/metadata_manager.h"
#include "client/consumer/consumer_calls.h"
#include "client/consumer/fetcher.h"
#include "client/consumer/offset_lookup.h"
#include "client/consumer/subscription.h"
#include "common/check.h"
#include "common/clock.h"
#include "common/status.h"

namespace strand::client {
namespace {

constexpr int64_t kTimestampLatest = -1;
constexpr int64_t kTimestampEarliest = -2;

class ConsumerImpl final : public Consumer {
 public:
  ConsumerImpl(const ConsumerConfig& config, std::shared_ptr<grpc::ChannelCredentials> credentials)
      : config_(config),
        clock_(SystemClock::Instance()),
        channels_(std::move(credentials),
                  ChannelOptions{config.connect_timeout_ms, config.reconnect_backoff_max_ms}),
        metadata_(config.bootstrap_servers, channels_,
                  MetadataOptions{config.request_timeout_ms, config.retry_backoff_ms,
                                  config.retry_backoff_max_ms, config.metadata_max_age_ms},
                  clock_),
        fetcher_(config_) {
    metadata_.set_listener([this] { queue_.Wake(); });
  }
  ~ConsumerImpl() override {
    Close();
    metadata_.set_listener(nullptr);
  }

  absl::Status Assign(const std::vector<TopicPartition>& partitions) override;
  std::vector<TopicPartition> Assignment() const override { return subscription_.Assigned(); }
  absl::Status Subscribe(const std::vector<std::string>& topics) override {
    return absl::UnimplementedError(
        "consumer groups are not available yet: assign partitions with Assign()");
  }
  absl::StatusOr<std::vector<ConsumerRecord>> Poll(std::chrono::milliseconds timeout) override;
  absl::Status Seek(const TopicPartition& tp, int64_t offset) override;
  absl::Status SeekToBeginning(const std::vector<TopicPartition>& partitions) override {
    return SeekTo(partitions, OffsetResetPolicy::kEarliest);
  }
  absl::Status SeekToEnd(const std::vector<TopicPartition>& partitions) override {
    return SeekTo(partitions, OffsetResetPolicy::kLatest);
  }
  absl::StatusOr<int64_t> Position(const TopicPartition& tp) override;
  absl::StatusOr<std::map<TopicPartition, std::optional<OffsetAndTimestamp>>> OffsetsForTimes(
      const std::map<TopicPartition, int64_t>& timestamps_ms) override;
  absl::StatusOr<std::map<TopicPartition, int64_t>> BeginningOffsets(
      const std::vector<TopicPartition>& partitions) override {
    return ListOffsets(partitions, kTimestampEarliest);
  }
  absl::StatusOr<std::map<TopicPartition, int64_t>> EndOffsets(
      const std::vector<TopicPartition>& partitions) override {
    return ListOffsets(partitions, kTimestampLatest);
  }
  absl::StatusOr<int32_t> PartitionCount(const std::string& topic) override;
  void Wakeup() override {
    wakeup_ = true;
    queue_.Wake();
  }
  void Close() override;
  const ConsumerConfig& config() const override { return config_; }

 private:
  // Applies answers that came back; with `wait_until_ms` in the future, first waits for one (or
  // for a due retry, a metadata refresh, a Wakeup) until then.
  void Pump(int64_t wait_until_ms);
  void Dispatch(std::unique_ptr<ConsumerCall> call);
  void SendCall(std::unique_ptr<ConsumerCall> call);
  // Starts offset lookups for partitions without a position; fails for auto.offset.reset=none.
  absl::Status StartResets(int64_t now_ms);
  void ApplyResetResults(const std::vector<TopicPartition>& resolved);
  void SendDue(int64_t now_ms);
  // Runs a lookup to completion (or the deadline) from this thread.
  absl::StatusOr<std::map<TopicPartition, OffsetLookup::Result>> RunLookup(
      std::map<TopicPartition, int64_t> timestamps, int64_t deadline_ms);
  absl::StatusOr<std::map<TopicPartition, int64_t>> ListOffsets(
      const std::vector<TopicPartition>& partitions, int64_t timestamp);
  absl::Status SeekTo(const std::vector<TopicPartition>& partitions, OffsetResetPolicy policy);
  absl::Status TakeError();
  int64_t ApiDeadlineMs() const { return clock_.NowMonotonicMs() + config_.default_api_timeout_ms; }

  const ConsumerConfig config_;
  const Clock& clock_;
  BrokerChannels channels_;
  MetadataManager metadata_;
  CallQueue queue_;
  SubscriptionState subscription_;
  Fetcher fetcher_;
  std::unique_ptr<OffsetLookup> reset_lookup_;
  std::map<uint64_t, OffsetLookup*> lookups_;  // live lookups by id (the reset one included)
  uint64_t next_lookup_id_ = 1;
  std::map<ConsumerCall*, std::unique_ptr<ConsumerCall>> in_flight_;
  std::atomic<bool> wakeup_{false};
  bool closed_ = false;
};

absl::Status ConsumerImpl::Assign(const std::vector<TopicPartition>& partitions) {
  if (closed_) return absl::FailedPreconditionError("the consumer is closed");
  for (const TopicPartition& tp : partitions) {
    if (tp.topic.empty() || tp.partition < 0) {
      return absl::InvalidArgumentError(fmt::format("invalid partition {}", tp.ToString()));
    }
  }
  subscription_.Assign(partitions);
  metadata_.AddTopics(subscription_.Topics());
  return absl::OkStatus();
}

absl::Status ConsumerImpl::Seek(const TopicPartition& tp, int64_t offset) {
  PartitionState* p = subscription_.Find(tp);
  if (p == nullptr) {
    return absl::FailedPreconditionError(fmt::format("{} is not assigned", tp.ToString()));
  }
  if (offset < 0) return absl::InvalidArgumentError("offsets are >= 0");
  p->ClearBuffer();
  p->position = offset;
  p->reset.reset();
  p->error = absl::OkStatus();
  p->retry_at_ms = 0;
  return absl::OkStatus();
}

absl::Status ConsumerImpl::SeekTo(const std::vector<TopicPartition>& partitions,
                                  OffsetResetPolicy policy) {
  const std::vector<TopicPartition> targets =
      partitions.empty() ? subscription_.Assigned() : partitions;
  for (const TopicPartition& tp : targets) {
    if (subscription_.Find(tp) == nullptr) {
      return absl::FailedPreconditionError(fmt::format("{} is not assigned", tp.ToString()));
    }
  }
  for (const TopicPartition& tp : targets) {
    PartitionState* p = subscription_.Find(tp);
    p->ClearBuffer();
    p->position.reset();
    p->reset = policy;
    p->reset_in_flight = false;
    p->error = absl::OkStatus();
  }
  if (reset_lookup_) {  // its answers would be for the old request; start afresh
    lookups_.erase(reset_lookup_->id());
    reset_lookup_.reset();
    for (auto& [tp, p] : subscription_.partitions()) p.reset_in_flight = false;
  }
  return absl::OkStatus();
}

void ConsumerImpl::SendCall(std::unique_ptr<ConsumerCall> call) {
  ConsumerCall* raw = call.get();
  in_flight_[raw] = std::move(call);
  auto* stub = channels_.Stub(raw->address);
  auto done = [this, raw](grpc::Status status) {
    raw->status = std::move(status);
    queue_.Push(raw);
  };
  if (raw->kind == ConsumerCall::Kind::kFetch) {
    auto* fetch = static_cast<FetchCall*>(raw);
    stub->async()->Fetch(&fetch->context, &fetch->request, &fetch->response, done);
  } else {
    auto* list = static_cast<ListOffsetsCall*>(raw);
    list->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::milliseconds(config_.request_timeout_ms));
    stub->async()->ListOffsets(&list->context, &list->request, &list->response, done);
  }
}

void ConsumerImpl::Dispatch(std::unique_ptr<ConsumerCall> call) {
  const int64_t now_ms = clock_.NowMonotonicMs();
  if (call->kind == ConsumerCall::Kind::kFetch) {
    fetcher_.OnAnswer(static_cast<FetchCall&>(*call), subscription_, metadata_, now_ms);
    return;
  }
  auto& list = static_cast<ListOffsetsCall&>(*call);
  auto it = lookups_.find(list.lookup_id);
  if (it == lookups_.end()) return;  // a lookup abandoned meanwhile
  std::vector<TopicPartition> resolved = it->second->OnAnswer(list, metadata_, now_ms);
  if (reset_lookup_ && it->second == reset_lookup_.get()) ApplyResetResults(resolved);
}

void ConsumerImpl::ApplyResetResults(const std::vector<TopicPartition>& resolved) {
  for (const TopicPartition& tp : resolved) {
    PartitionState* p = subscription_.Find(tp);
    if (p == nullptr || !p->reset_in_flight) continue;
    p->reset_in_flight = false;
    const OffsetLookup::Result& r = reset_lookup_->results().at(tp);
    if (!r.status.ok()) {
      p->error = r.status;
      continue;
    }
    p->position = r.offset;
    p->reset.reset();
    p->retry_at_ms = 0;
  }
  if (reset_lookup_->done()) {
    lookups_.erase(reset_lookup_->id());
    reset_lookup_.reset();
  }
}

void ConsumerImpl::Pump(int64_t wait_until_ms) {
  const int64_t now_ms = clock_.NowMonotonicMs();
  int64_t wake_ms = std::min(wait_until_ms, metadata_.Poll());
  wake_ms = std::min(wake_ms, fetcher_.NextRetryMs(subscription_));
  for (const auto& [id, lookup] : lookups_) wake_ms = std::min(wake_ms, lookup->next_due_ms());
  if (wake_ms > now_ms) queue_.Wait(wake_ms - now_ms);
  for (ConsumerCall* raw : queue_.Take()) {
    auto it = in_flight_.find(raw);
    STRAND_CHECK(it != in_flight_.end());
    std::unique_ptr<ConsumerCall> call = std::move(it->second);
    in_flight_.erase(it);
    if (!closed_) Dispatch(std::move(call));
  }
}

absl::Status ConsumerImpl::StartResets(int64_t now_ms) {
  std::map<TopicPartition, int64_t> wanted;
  std::vector<std::string> without_policy;
  for (auto& [tp, p] : subscription_.partitions()) {
    if (p.position || p.reset_in_flight || !p.error.ok()) continue;
    const OffsetResetPolicy policy = p.reset.value_or(config_.auto_offset_reset);
    if (policy == OffsetResetPolicy::kNone) {
      without_policy.push_back(tp.ToString());
      continue;
    }
    wanted[tp] = policy == OffsetResetPolicy::kEarliest ? kTimestampEarliest : kTimestampLatest;
  }
  if (!without_policy.empty()) {
    return KafkaStatus(KafkaError::kOffsetOutOfRange,
                       fmt::format("no position for {} and auto.offset.reset is none (Seek first)",
                                   fmt::join(without_policy, ", ")));
  }
  if (wanted.empty() || reset_lookup_) return absl::OkStatus();
  for (const auto& [tp, timestamp] : wanted) subscription_.Find(tp)->reset_in_flight = true;
  reset_lookup_ = std::make_unique<OffsetLookup>(next_lookup_id_++, std::move(wanted),
                                                 config_.read_committed, config_.retry_backoff_ms);
  lookups_[reset_lookup_->id()] = reset_lookup_.get();
  (void)now_ms;
  return absl::OkStatus();
}

void ConsumerImpl::SendDue(int64_t now_ms) {
  auto cluster = metadata_.current();
  for (const auto& [id, lookup] : lookups_) {
    lookup->SendDue(*cluster, metadata_, now_ms,
                    [this](std::unique_ptr<ListOffsetsCall> call) { SendCall(std::move(call)); });
  }
  fetcher_.SendFetches(subscription_, *cluster, metadata_, now_ms,
                       [this](std::unique_ptr<FetchCall> call) { SendCall(std::move(call)); });
}

absl::Status ConsumerImpl::TakeError() {
  for (auto& [tp, p] : subscription_.partitions()) {
    if (!p.error.ok()) {
      absl::Status error = std::move(p.error);
      p.error = absl::OkStatus();
      return error;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ConsumerRecord>> ConsumerImpl::Poll(std::chrono::milliseconds timeout) {
  if (closed_) return absl::FailedPreconditionError("the consumer is closed");
  const int64_t deadline_ms = clock_.NowMonotonicMs() + std::max<int64_t>(0, timeout.count());
  bool first = true;
  while (true) {
    if (wakeup_.exchange(false)) return absl::CancelledError("woken up");
    Pump(first ? 0 : deadline_ms);
    first = false;
    if (wakeup_.exchange(false)) return absl::CancelledError("woken up");
    const int64_t now_ms = clock_.NowMonotonicMs();
    if (absl::Status error = TakeError(); !error.ok()) return error;
    if (absl::Status reset = StartResets(now_ms); !reset.ok()) return reset;
    std::vector<ConsumerRecord> records =
        subscription_.TakeRecords(static_cast<size_t>(config_.max_poll_records));
    SendDue(now_ms);  // the next fetches overlap the caller's processing
    if (!records.empty() || now_ms >= deadline_ms) return records;
  }
}

absl::StatusOr<int64_t> ConsumerImpl::Position(const TopicPartition& tp) {
  PartitionState* p = subscription_.Find(tp);
  if (p == nullptr) {
    return absl::FailedPreconditionError(fmt::format("{} is not assigned", tp.ToString()));
  }
  const int64_t deadline_ms = ApiDeadlineMs();
  while (!p->position) {
    if (absl::Status error = TakeError(); !error.ok()) return error;
    if (absl::Status reset = StartResets(clock_.NowMonotonicMs()); !reset.ok()) return reset;
    SendDue(clock_.NowMonotonicMs());
    if (clock_.NowMonotonicMs() >= deadline_ms) {
      return KafkaStatus(KafkaError::kRequestTimedOut,
                         fmt::format("no position for {} within default.api.timeout.ms ({} ms)",
                                     tp.ToString(), config_.default_api_timeout_ms));
    }
    Pump(deadline_ms);
  }
  return *p->position;
}

absl::StatusOr<std::map<TopicPartition, OffsetLookup::Result>> ConsumerImpl::RunLookup(
    std::map<TopicPartition, int64_t> timestamps, int64_t deadline_ms) {
  std::vector<std::string> topics;
  for (const auto& [tp, ts] : timestamps) topics.push_back(tp.topic);
  metadata_.AddTopics(topics);
  OffsetLookup lookup(next_lookup_id_++, std::move(timestamps), config_.read_committed,
                      config_.retry_backoff_ms);
  lookups_[lookup.id()] = &lookup;
  while (!lookup.done() && clock_.NowMonotonicMs() < deadline_ms) {
    SendDue(clock_.NowMonotonicMs());
    Pump(deadline_ms);
  }
  lookups_.erase(lookup.id());
  if (!lookup.done()) {
    if (metadata_.version() == 0) {
      return KafkaStatus(
          KafkaError::kNetworkException,
          fmt::format("cannot reach the cluster: {}", MessageOf(metadata_.last_error())));
    }
    return KafkaStatus(KafkaError::kRequestTimedOut,
                       fmt::format("offsets not found within default.api.timeout.ms ({} ms)",
                                   config_.default_api_timeout_ms));
  }
  return lookup.results();
}

absl::StatusOr<std::map<TopicPartition, std::optional<OffsetAndTimestamp>>>
ConsumerImpl::OffsetsForTimes(const std::map<TopicPartition, int64_t>& timestamps_ms) {
  for (const auto& [tp, ts] : timestamps_ms) {
    if (ts < 0) return absl::InvalidArgumentError("timestamps are >= 0");
  }
  auto results = RunLookup(timestamps_ms, ApiDeadlineMs());
  if (!results.ok()) return results.status();
  std::map<TopicPartition, std::optional<OffsetAndTimestamp>> out;
  for (const auto& [tp, r] : *results) {
    if (!r.status.ok()) return r.status;
    if (r.offset < 0) {
      out[tp] = std::nullopt;
    } else {
      out[tp] = OffsetAndTimestamp{r.offset, r.timestamp_ms, r.leader_epoch};
    }
  }
  return out;
}

absl::StatusOr<std::map<TopicPartition, int64_t>> ConsumerImpl::ListOffsets(
    const std::vector<TopicPartition>& partitions, int64_t timestamp) {
  std::map<TopicPartition, int64_t> wanted;
  for (const TopicPartition& tp : partitions) wanted[tp] = timestamp;
  auto results = RunLookup(std::move(wanted), ApiDeadlineMs());
  if (!results.ok()) return results.status();
  std::map<TopicPartition, int64_t> out;
  for (const auto& [tp, r] : *results) {
    if (!r.status.ok()) return r.status;
    out[tp] = r.offset;
  }
  return out;
}

absl::StatusOr<int32_t> ConsumerImpl::PartitionCount(const std::string& topic) {
  metadata_.AddTopics({topic});
  const int64_t deadline_ms = ApiDeadlineMs();
  uint64_t seen = 0;
  while (true) {
    auto cluster = metadata_.current();
    const TopicMetadata* t = cluster->topic(topic);
    if (t != nullptr && t->error == KafkaError::kNone && !t->partitions.empty()) {
      return static_cast<int32_t>(t->partitions.size());
    }
    if (t != nullptr && metadata_.version() > seen) {
      // An answer says the topic is missing: that is final for a reader.
      return KafkaStatus(
          t->error == KafkaError::kNone ? KafkaError::kUnknownTopicOrPartition : t->error,
          fmt::format("topic {}", topic));
    }
    if (clock_.NowMonotonicMs() >= deadline_ms) {
      return KafkaStatus(
          metadata_.version() == 0 ? KafkaError::kNetworkException : KafkaError::kRequestTimedOut,
          fmt::format("cannot reach the cluster: no metadata for {} within {} ms: "
                      "{}",
                      topic, config_.default_api_timeout_ms, MessageOf(metadata_.last_error())));
    }
    seen = metadata_.version();
    Pump(std::min(deadline_ms, clock_.NowMonotonicMs() + 50));
  }
}

void ConsumerImpl::Close() {
  if (closed_) return;
  closed_ = true;
  for (auto& [raw, call] : in_flight_) call->context.TryCancel();
  while (!in_flight_.empty()) Pump(clock_.NowMonotonicMs() + 100);
  lookups_.clear();
  reset_lookup_.reset();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(
    const Properties& properties, std::shared_ptr<grpc::ChannelCredentials> credentials) {
  absl::StatusOr<ConsumerConfig> config = ConsumerConfig::FromProperties(properties);
  if (!config.ok()) return config.status();
  return CreateFromConfig(*config, std::move(credentials));
}

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::CreateFromConfig(
    const ConsumerConfig& config, std::shared_ptr<grpc::ChannelCredentials> credentials) {
  auto resolved = ClientCredentials(config, std::move(credentials));
  if (!resolved.ok()) return resolved.status();
  return std::unique_ptr<Consumer>(new ConsumerImpl(config, *std::move(resolved)));
}

}  // namespace strand::client
