#include "client/consumer/offset_committer.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

#include "client/common/backoff.h"
#include "client/logger.h"
#include "common/kafka_error.h"
#include "common/status.h"

namespace strand::client {
namespace {

bool Retriable(KafkaError error) {
  return KafkaErrorRetriable(error) || error == KafkaError::kUnreleasedInstanceId;
}

// A request-level error, else the first per-partition one (naming the partition), else OK.
template <typename Response, typename Partitions>
absl::Status FirstError(const Response& response, const Partitions& topics) {
  if (response.error().code() != 0) {
    return KafkaStatus(static_cast<KafkaError>(response.error().code()),
                       response.error().message());
  }
  for (const auto& t : topics) {
    for (const auto& p : t.partitions()) {
      if (p.error().code() != 0) {
        return KafkaStatus(static_cast<KafkaError>(p.error().code()),
                           fmt::format("{}-{}: {}", t.name(), p.partition(), p.error().message()));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

OffsetCommitter::OffsetCommitter(std::string group_id, CoordinatorClient& coordinator,
                                 GroupMember* member, const Clock& clock, int64_t retry_backoff_ms,
                                 int64_t retry_backoff_max_ms, std::function<void()> wake_poller)
    : group_id_(std::move(group_id)),
      coordinator_(coordinator),
      member_(member),
      clock_(clock),
      retry_backoff_ms_(std::max<int64_t>(1, retry_backoff_ms)),
      retry_backoff_max_ms_(std::max(retry_backoff_ms_, retry_backoff_max_ms)),
      wake_poller_(std::move(wake_poller)) {}

OffsetCommitter::~OffsetCommitter() {
  // The gRPC callbacks of async commits point at this object: wait for every one.
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return async_in_flight_ == 0; });
}

group::v1::OffsetCommitRequest OffsetCommitter::BuildCommit(const OffsetMap& offsets) const {
  group::v1::OffsetCommitRequest request;
  request.set_group_id(group_id_);
  const auto [member_id, member_epoch] =
      member_ != nullptr ? member_->CommitIdentity() : std::pair<std::string, int32_t>{"", -1};
  request.set_member_id(member_id);
  request.set_member_epoch(member_epoch);
  group::v1::OffsetCommitTopic* topic = nullptr;
  for (const auto& [tp, offset] : offsets) {  // sorted by topic: one entry per topic
    if (topic == nullptr || topic->name() != tp.topic) {
      topic = request.add_topics();
      topic->set_name(tp.topic);
    }
    group::v1::OffsetCommitPartition* p = topic->add_partitions();
    p->set_partition(tp.partition);
    p->set_offset(offset.offset);
    p->set_leader_epoch(offset.leader_epoch);
    p->set_metadata(offset.metadata);
  }
  return request;
}

absl::Status OffsetCommitter::CommitOutcome(
    const absl::StatusOr<group::v1::OffsetCommitResponse>& answer) {
  if (!answer.ok()) return answer.status();
  return FirstError(*answer, answer->topics());
}

void OffsetCommitter::Sleep(int64_t ms, int64_t deadline_ms) const {
  const int64_t wait_ms = std::min(ms, deadline_ms - clock_.NowMonotonicMs());
  if (wait_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
}

absl::Status OffsetCommitter::CommitSync(const OffsetMap& offsets, int64_t deadline_ms) {
  AwaitAsync(deadline_ms);  // earlier async commits first, as Kafka orders them
  if (offsets.empty()) return absl::OkStatus();
  Backoff backoff(retry_backoff_ms_, retry_backoff_max_ms_);
  absl::Status last;
  while (true) {
    last = CommitOutcome(coordinator_.OffsetCommit(BuildCommit(offsets)));
    if (last.ok()) return last;
    const KafkaError error = KafkaErrorOf(last).value_or(KafkaError::kUnknownServerError);
    if (clock_.NowMonotonicMs() >= deadline_ms) break;
    if (error == KafkaError::kStaleMemberEpoch && member_ != nullptr) {
      // The coordinator is ahead of this member's epoch: the next heartbeat brings it.
      if (!member_->AwaitHeartbeat(deadline_ms)) break;
      continue;
    }
    if (!Retriable(error)) return last;
    ClientLogger()->debug("group {}: commit failed, retrying: {}", group_id_, MessageOf(last));
    Sleep(backoff.NextMs(), deadline_ms);
    if (clock_.NowMonotonicMs() >= deadline_ms) break;
  }
  return KafkaStatus(KafkaError::kRequestTimedOut,
                     fmt::format("offsets of group {} not committed in time; last error: {}",
                                 group_id_, MessageOf(last)));
}

void OffsetCommitter::CommitAsync(const OffsetMap& offsets, OffsetCommitCallback callback) {
  if (offsets.empty()) {
    std::lock_guard lock(mu_);
    completed_.push_back({offsets, absl::OkStatus(), std::move(callback)});
    return;
  }
  {
    std::lock_guard lock(mu_);
    ++async_in_flight_;
  }
  coordinator_.OffsetCommitAsync(
      BuildCommit(offsets), [this, offsets, callback = std::move(callback)](
                                absl::StatusOr<group::v1::OffsetCommitResponse> answer) mutable {
        absl::Status status = CommitOutcome(answer);
        if (!status.ok()) {
          ClientLogger()->debug("group {}: async commit failed: {}", group_id_, MessageOf(status));
        }
        // Last touch of `this`: the destructor may run as soon as the count drops.
        std::lock_guard lock(mu_);
        completed_.push_back({std::move(offsets), std::move(status), std::move(callback)});
        wake_poller_();  // takes only the call queue's lock, never ours
        --async_in_flight_;
        cv_.notify_all();
      });
}

void OffsetCommitter::RunCallbacks() {
  std::deque<Completion> done;
  {
    std::lock_guard lock(mu_);
    done.swap(completed_);
  }
  for (Completion& c : done) {
    if (c.callback) c.callback(c.offsets, c.status);
  }
}

void OffsetCommitter::AwaitAsync(int64_t deadline_ms) {
  {
    std::unique_lock lock(mu_);
    while (async_in_flight_ > 0) {
      const int64_t left_ms = deadline_ms - clock_.NowMonotonicMs();
      if (left_ms <= 0) break;
      cv_.wait_for(lock, std::chrono::milliseconds(left_ms));
    }
  }
  RunCallbacks();
}

absl::StatusOr<std::map<TopicPartition, std::optional<OffsetAndMetadata>>> OffsetCommitter::Fetch(
    const std::vector<TopicPartition>& partitions, int64_t deadline_ms) {
  std::map<TopicPartition, std::optional<OffsetAndMetadata>> out;
  if (partitions.empty()) return out;
  group::v1::OffsetFetchRequest request;
  request.set_group_id(group_id_);
  std::map<std::string, std::vector<int32_t>> by_topic;
  for (const TopicPartition& tp : partitions) by_topic[tp.topic].push_back(tp.partition);
  for (const auto& [topic, list] : by_topic) {
    group::v1::OffsetFetchTopic* t = request.add_topics();
    t->set_name(topic);
    for (int32_t p : list) t->add_partitions(p);
  }
  Backoff backoff(retry_backoff_ms_, retry_backoff_max_ms_);
  absl::Status last;
  while (true) {
    auto answer = coordinator_.OffsetFetch(request);
    last = answer.ok() ? FirstError(*answer, answer->topics()) : answer.status();
    if (last.ok()) {
      for (const TopicPartition& tp : partitions) out[tp] = std::nullopt;
      for (const auto& t : answer->topics()) {
        for (const auto& p : t.partitions()) {
          if (p.offset() < 0) continue;
          out[{t.name(), p.partition()}] =
              OffsetAndMetadata{p.offset(), p.leader_epoch(), p.metadata()};
        }
      }
      return out;
    }
    const KafkaError error = KafkaErrorOf(last).value_or(KafkaError::kUnknownServerError);
    if (!Retriable(error)) return last;
    Sleep(backoff.NextMs(), deadline_ms);
    if (clock_.NowMonotonicMs() >= deadline_ms) break;
  }
  return KafkaStatus(KafkaError::kRequestTimedOut,
                     fmt::format("committed offsets of group {} not fetched in time; last "
                                 "error: {}",
                                 group_id_, MessageOf(last)));
}

}  // namespace strand::client
