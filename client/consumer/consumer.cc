// Consumer: the public face (strand/consumer.h) over the subscription state, the fetcher, offset
// lookups and the metadata manager, all driven from the caller's thread by Pump(); with a
// group.id also the group member (heartbeats on its own thread) and the offset committer, whose
// reconciliation and callbacks run on the caller's thread too (ReconcileGroup, in Poll).

#include "strand/consumer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "absl/strings/escaping.h"
#include "client/common/broker_channels.h"
#include "client/common/metadata_manager.h"
#include "client/consumer/consumer_calls.h"
#include "client/consumer/fetcher.h"
#include "client/consumer/group_coordinator.h"
#include "client/consumer/group_member.h"
#include "client/consumer/offset_committer.h"
#include "client/consumer/offset_lookup.h"
#include "client/consumer/subscription.h"
#include "client/logger.h"
#include "common/check.h"
#include "common/clock.h"
#include "common/status.h"

namespace strand::client {
namespace {

constexpr int64_t kTimestampLatest = -1;
constexpr int64_t kTimestampEarliest = -2;

// A member id as KIP-1082 has clients make them: a random (version 4) UUID in Kafka's text form,
// URL-safe base64 without padding (22 characters).
std::string NewMemberId() {
  std::random_device device;
  std::mt19937_64 random((uint64_t{device()} << 32) ^ device());
  std::string bytes(16, '\0');
  for (size_t i = 0; i < bytes.size(); i += 8) {
    uint64_t word = random();
    for (size_t j = 0; j < 8; ++j) bytes[i + j] = static_cast<char>(word >> (8 * j));
  }
  bytes[6] = static_cast<char>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<char>((bytes[8] & 0x3f) | 0x80);  // IETF variant
  return absl::WebSafeBase64Escape(bytes);
}

// How the consumer gets its partitions: not yet, Assign, or Subscribe (group membership).
enum class Mode { kNone, kAssigned, kSubscribed };

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
        fetcher_(config_),
        member_id_(NewMemberId()) {
    metadata_.set_listener([this] { queue_.Wake(); });
    for (const std::string& name : config_.ignored_settings) {
      ClientLogger()->warn(
          "{} is ignored: under the consumer group protocol the broker owns it "
          "(group.consumer.{})",
          name, name);
    }
    if (!config_.group_id.empty()) {
      coordinator_ =
          std::make_unique<CoordinatorClient>(config_.group_id, config_.bootstrap_servers,
                                              channels_, metadata_, config_.request_timeout_ms);
      MembershipConfig membership;
      membership.group_id = config_.group_id;
      membership.member_id = member_id_;
      membership.instance_id = config_.group_instance_id;
      membership.rack_id = config_.client_rack;
      membership.rebalance_timeout_ms =
          static_cast<int32_t>(std::min<int64_t>(config_.max_poll_interval_ms, INT32_MAX));
      membership.server_assignor = config_.group_remote_assignor;
      membership.client_id = config_.client_id;
      membership.retry_backoff_ms = config_.retry_backoff_ms;
      membership.retry_backoff_max_ms = config_.retry_backoff_max_ms;
      member_ = std::make_unique<GroupMember>(std::move(membership), config_.max_poll_interval_ms,
                                              *coordinator_, clock_, [this] { queue_.Wake(); });
      committer_ = std::make_unique<OffsetCommitter>(
          config_.group_id, *coordinator_, member_.get(), clock_, config_.retry_backoff_ms,
          config_.retry_backoff_max_ms, [this] { queue_.Wake(); });
      next_auto_commit_ms_ = clock_.NowMonotonicMs() + config_.auto_commit_interval_ms;
    }
  }
  ~ConsumerImpl() override {
    Close();
    committer_.reset();
    member_.reset();
    metadata_.set_listener(nullptr);
  }

  absl::Status Assign(const std::vector<TopicPartition>& partitions) override;
  std::vector<TopicPartition> Assignment() const override { return subscription_.Assigned(); }
  absl::Status Subscribe(const std::vector<std::string>& topics,
                         std::shared_ptr<ConsumerRebalanceListener> listener) override;
  absl::Status SubscribePattern(const std::string& re2,
                                std::shared_ptr<ConsumerRebalanceListener> listener) override;
  absl::Status Unsubscribe() override;
  absl::Status CommitSync() override { return CommitSync(AssignedPositions()); }
  absl::Status CommitSync(const std::map<TopicPartition, OffsetAndMetadata>& offsets) override;
  void CommitAsync(OffsetCommitCallback callback) override {
    CommitAsync(AssignedPositions(), std::move(callback));
  }
  void CommitAsync(const std::map<TopicPartition, OffsetAndMetadata>& offsets,
                   OffsetCommitCallback callback) override;
  absl::StatusOr<std::map<TopicPartition, std::optional<OffsetAndMetadata>>> Committed(
      const std::vector<TopicPartition>& partitions) override;
  std::string MemberId() const override { return member_id_; }
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

  // ---- Groups (consumer_group part of this file).
  absl::Status StartSubscription(std::vector<std::string> topics, std::string regex,
                                 std::shared_ptr<ConsumerRebalanceListener> listener);
  absl::Status NeedGroup(std::string_view what) const;
  // Applies what the group member's heartbeats decided: lost, revoked, then added partitions,
  // with their callbacks; returns a fatal group error.
  absl::Status ReconcileGroup(int64_t deadline_ms);
  void RevokeAll(bool leave_temporarily);
  void DropPartitions(const std::vector<TopicPartition>& partitions);
  std::map<TopicPartition, OffsetAndMetadata> AssignedPositions();
  std::map<TopicPartition, OffsetAndMetadata> PositionsOf(
      const std::vector<TopicPartition>& partitions);
  void MaybeAutoCommit(int64_t now_ms);

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
  // Groups (with a group.id): the heartbeat thread lives in member_.
  const std::string member_id_;
  Mode mode_ = Mode::kNone;
  std::unique_ptr<CoordinatorClient> coordinator_;
  std::unique_ptr<GroupMember> member_;
  std::unique_ptr<OffsetCommitter> committer_;
  std::shared_ptr<ConsumerRebalanceListener> listener_;
  int64_t next_auto_commit_ms_ = 0;
  int64_t assign_retry_at_ms_ = 0;  // after a failed OffsetFetch for new partitions
  std::map<TopicPartition, OffsetAndMetadata> last_auto_commit_;
};

absl::Status ConsumerImpl::Assign(const std::vector<TopicPartition>& partitions) {
  if (closed_) return absl::FailedPreconditionError("the consumer is closed");
  if (mode_ == Mode::kSubscribed) {
    return absl::FailedPreconditionError(
        "the consumer is subscribed: Assign and Subscribe do not mix (Unsubscribe first)");
  }
  for (const TopicPartition& tp : partitions) {
    if (tp.topic.empty() || tp.partition < 0) {
      return absl::InvalidArgumentError(fmt::format("invalid partition {}", tp.ToString()));
    }
  }
  subscription_.Assign(partitions);
  metadata_.AddTopics(subscription_.Topics());
  mode_ = partitions.empty() ? Mode::kNone : Mode::kAssigned;
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
  if (config_.enable_auto_commit && committer_) wake_ms = std::min(wake_ms, next_auto_commit_ms_);
  // Poll's loop renews the poll timer: wake it well within max.poll.interval.ms.
  if (mode_ == Mode::kSubscribed) {
    wake_ms = std::min(wake_ms, now_ms + std::max<int64_t>(1, config_.max_poll_interval_ms / 3));
  }
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
    // Waiting inside Poll is polling: a long Poll timeout must not trip the poll timer.
    if (member_) member_->RecordPoll();
    if (wakeup_.exchange(false)) return absl::CancelledError("woken up");
    Pump(first ? 0 : deadline_ms);
    first = false;
    if (wakeup_.exchange(false)) return absl::CancelledError("woken up");
    if (committer_) committer_->RunCallbacks();
    if (absl::Status group = ReconcileGroup(deadline_ms); !group.ok()) return group;
    const int64_t now_ms = clock_.NowMonotonicMs();
    MaybeAutoCommit(now_ms);
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
  if (committer_) {
    if (mode_ == Mode::kSubscribed) {
      RevokeAll(/*leave_temporarily=*/true);
    } else if (mode_ == Mode::kAssigned && config_.enable_auto_commit) {
      if (absl::Status s = committer_->CommitSync(AssignedPositions(), ApiDeadlineMs()); !s.ok()) {
        ClientLogger()->warn("group {}: commit on close failed: {}", config_.group_id,
                             MessageOf(s));
      }
    }
    committer_->AwaitAsync(ApiDeadlineMs());
  }
  closed_ = true;
  for (auto& [raw, call] : in_flight_) call->context.TryCancel();
  while (!in_flight_.empty()) Pump(clock_.NowMonotonicMs() + 100);
  lookups_.clear();
  reset_lookup_.reset();
}

// ---------------------------------------------------------------- Groups

absl::Status ConsumerImpl::NeedGroup(std::string_view what) const {
  if (closed_) return absl::FailedPreconditionError("the consumer is closed");
  if (!committer_) {
    return KafkaStatus(KafkaError::kInvalidGroupId,
                       fmt::format("{} needs a group.id in the consumer's settings", what));
  }
  return absl::OkStatus();
}

absl::Status ConsumerImpl::Subscribe(const std::vector<std::string>& topics,
                                     std::shared_ptr<ConsumerRebalanceListener> listener) {
  if (topics.empty()) return Unsubscribe();
  for (const std::string& topic : topics) {
    if (topic.empty()) return absl::InvalidArgumentError("an empty topic name");
  }
  std::set<std::string> unique(topics.begin(), topics.end());
  return StartSubscription({unique.begin(), unique.end()}, "", std::move(listener));
}

absl::Status ConsumerImpl::SubscribePattern(const std::string& re2,
                                            std::shared_ptr<ConsumerRebalanceListener> listener) {
  if (re2.empty()) return absl::InvalidArgumentError("an empty topic pattern");
  return StartSubscription({}, re2, std::move(listener));
}

absl::Status ConsumerImpl::StartSubscription(std::vector<std::string> topics, std::string regex,
                                             std::shared_ptr<ConsumerRebalanceListener> listener) {
  if (absl::Status s = NeedGroup("Subscribe"); !s.ok()) return s;
  if (mode_ == Mode::kAssigned) {
    return absl::FailedPreconditionError(
        "partitions are assigned: Assign and Subscribe do not mix (Unsubscribe first)");
  }
  if (!topics.empty()) metadata_.AddTopics(topics);
  listener_ = std::move(listener);
  mode_ = Mode::kSubscribed;
  member_->Subscribe(std::move(topics), std::move(regex));
  return absl::OkStatus();
}

absl::Status ConsumerImpl::Unsubscribe() {
  if (closed_) return absl::FailedPreconditionError("the consumer is closed");
  if (mode_ == Mode::kSubscribed) {
    RevokeAll(/*leave_temporarily=*/true);
  } else {
    subscription_.Assign({});
  }
  mode_ = Mode::kNone;
  listener_.reset();
  return absl::OkStatus();
}

// Leaves the group the orderly way: commit (auto commit), OnPartitionsRevoked, drop, then the
// leave heartbeat; a member that was fenced or failed reports its partitions lost instead.
void ConsumerImpl::RevokeAll(bool leave_temporarily) {
  const Membership::Work work = member_->PendingWork();
  const std::vector<TopicPartition> owned = member_->Owned();
  const bool lost = work.lost || member_->state() != MemberState::kMember;
  if (!owned.empty()) {
    if (lost) {
      if (listener_) listener_->OnPartitionsLost(owned);
    } else {
      if (config_.enable_auto_commit) {
        absl::Status s = committer_->CommitSync(PositionsOf(owned), ApiDeadlineMs());
        if (!s.ok()) {
          ClientLogger()->warn("group {}: commit before leaving failed: {}", config_.group_id,
                               MessageOf(s));
        }
      }
      if (listener_) listener_->OnPartitionsRevoked(owned);
    }
  }
  DropPartitions(subscription_.Assigned());
  member_->Leave(leave_temporarily);
  member_->CompleteLost();  // owned is empty; a member that left does not rejoin
}

void ConsumerImpl::DropPartitions(const std::vector<TopicPartition>& partitions) {
  std::set<TopicPartition> dropped(partitions.begin(), partitions.end());
  std::vector<TopicPartition> kept;
  for (const TopicPartition& tp : subscription_.Assigned()) {
    if (dropped.count(tp) == 0) kept.push_back(tp);
  }
  subscription_.Assign(kept);
  for (const TopicPartition& tp : partitions) last_auto_commit_.erase(tp);
}

absl::Status ConsumerImpl::ReconcileGroup(int64_t deadline_ms) {
  if (mode_ != Mode::kSubscribed) return absl::OkStatus();
  const Membership::Work work = member_->PendingWork();
  if (work.lost) {
    // Another member may own them already: no commit, and they go before the rejoin.
    if (listener_ && !work.owned.empty()) listener_->OnPartitionsLost(work.owned);
    DropPartitions(work.owned);
    member_->CompleteLost();
  }
  if (!work.fatal.ok()) return work.fatal;
  if (!work.revoked.empty()) {
    if (config_.enable_auto_commit) {
      const int64_t commit_deadline_ms =
          clock_.NowMonotonicMs() +
          std::min(config_.default_api_timeout_ms, config_.max_poll_interval_ms);
      absl::Status s = committer_->CommitSync(PositionsOf(work.revoked), commit_deadline_ms);
      if (!s.ok()) {
        ClientLogger()->warn("group {}: commit before revoking {} partition(s) failed: {}",
                             config_.group_id, work.revoked.size(), MessageOf(s));
      }
    }
    if (listener_) listener_->OnPartitionsRevoked(work.revoked);
    DropPartitions(work.revoked);
    member_->CompleteRevocation(work.revoked);  // only now may the coordinator hear of it
  }
  const int64_t now_ms = clock_.NowMonotonicMs();
  if (!work.added.empty() && now_ms >= assign_retry_at_ms_) {
    auto committed = committer_->Fetch(work.added, std::max(deadline_ms, now_ms));
    if (!committed.ok()) {
      const KafkaError error = KafkaErrorOf(committed.status()).value_or(KafkaError::kNone);
      if (error != KafkaError::kRequestTimedOut && !KafkaErrorRetriable(error)) {
        return committed.status();
      }
      ClientLogger()->debug("group {}: committed offsets not fetched yet: {}", config_.group_id,
                            MessageOf(committed.status()));
      assign_retry_at_ms_ = now_ms + std::max<int64_t>(1, config_.retry_backoff_ms);
      return absl::OkStatus();
    }
    std::vector<TopicPartition> all = subscription_.Assigned();
    all.insert(all.end(), work.added.begin(), work.added.end());
    subscription_.Assign(all);
    std::vector<std::string> topics;
    for (const TopicPartition& tp : work.added) {
      topics.push_back(tp.topic);
      const std::optional<OffsetAndMetadata>& offset = (*committed)[tp];
      if (offset) subscription_.Find(tp)->position = offset->offset;  // else auto.offset.reset
    }
    metadata_.AddTopics(topics);
    if (listener_) listener_->OnPartitionsAssigned(work.added);
    member_->CompleteAssignment(work.added);
  }
  return absl::OkStatus();
}

std::map<TopicPartition, OffsetAndMetadata> ConsumerImpl::PositionsOf(
    const std::vector<TopicPartition>& partitions) {
  std::map<TopicPartition, OffsetAndMetadata> out;
  for (const TopicPartition& tp : partitions) {
    PartitionState* p = subscription_.Find(tp);
    if (p != nullptr && p->position) out[tp] = OffsetAndMetadata{*p->position, -1, ""};
  }
  return out;
}

std::map<TopicPartition, OffsetAndMetadata> ConsumerImpl::AssignedPositions() {
  return PositionsOf(subscription_.Assigned());
}

void ConsumerImpl::MaybeAutoCommit(int64_t now_ms) {
  if (!config_.enable_auto_commit || !committer_ || now_ms < next_auto_commit_ms_) return;
  next_auto_commit_ms_ = now_ms + config_.auto_commit_interval_ms;
  // A member commits only with an epoch the coordinator gave it.
  if (mode_ == Mode::kSubscribed && member_->state() != MemberState::kMember) return;
  std::map<TopicPartition, OffsetAndMetadata> positions = AssignedPositions();
  if (positions.empty() || positions == last_auto_commit_) return;
  last_auto_commit_ = positions;
  committer_->CommitAsync(positions, [group = config_.group_id](const auto&, const auto& status) {
    if (!status.ok()) {
      ClientLogger()->warn("group {}: auto commit failed: {}", group, MessageOf(status));
    }
  });
}

absl::Status ConsumerImpl::CommitSync(const std::map<TopicPartition, OffsetAndMetadata>& offsets) {
  if (absl::Status s = NeedGroup("CommitSync"); !s.ok()) return s;
  return committer_->CommitSync(offsets, ApiDeadlineMs());
}

void ConsumerImpl::CommitAsync(const std::map<TopicPartition, OffsetAndMetadata>& offsets,
                               OffsetCommitCallback callback) {
  if (absl::Status s = NeedGroup("CommitAsync"); !s.ok()) {
    if (callback) callback(offsets, s);
    return;
  }
  committer_->CommitAsync(offsets, std::move(callback));
}

absl::StatusOr<std::map<TopicPartition, std::optional<OffsetAndMetadata>>> ConsumerImpl::Committed(
    const std::vector<TopicPartition>& partitions) {
  if (absl::Status s = NeedGroup("Committed"); !s.ok()) return s;
  return committer_->Fetch(partitions, ApiDeadlineMs());
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
