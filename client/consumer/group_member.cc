#include "client/consumer/group_member.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "client/logger.h"
#include "common/kafka_error.h"
#include "common/status.h"
#include "common/thread_name.h"
#include "strand/record.h"

namespace strand::client {

GroupMember::GroupMember(MembershipConfig config, int64_t max_poll_interval_ms,
                         CoordinatorClient& coordinator, const Clock& clock,
                         std::function<void()> wake_poller)
    : coordinator_(coordinator),
      clock_(clock),
      max_poll_interval_ms_(max_poll_interval_ms),
      wake_poller_(std::move(wake_poller)),
      membership_(std::move(config)),
      last_poll_ms_(clock.NowMonotonicMs()) {}

GroupMember::~GroupMember() { StopThread(); }

void GroupMember::StartThread() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = NamedThread("group-member", [this] { Run(); });
}

void GroupMember::StopThread() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void GroupMember::Subscribe(std::vector<std::string> topics, std::string regex) {
  std::lock_guard lock(mu_);
  membership_.Subscribe(std::move(topics), std::move(regex));
  last_poll_ms_ = clock_.NowMonotonicMs();
  StartThread();
  cv_.notify_all();
}

void GroupMember::Leave(bool temporarily) {
  std::optional<group::v1::ConsumerGroupHeartbeatRequest> request;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !in_flight_; });  // the leave goes after it, never before
    request = membership_.Leave(temporarily);
  }
  StopThread();
  if (!request) return;
  // One attempt, and one more if the coordinator had moved: a member that cannot say goodbye
  // is removed after the session timeout anyway.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto answer = coordinator_.Heartbeat(*request);
    if (answer.ok()) {
      ClientLogger()->debug("group {}: member {} left (epoch {})", request->group_id(),
                            request->member_id(), request->member_epoch());
      return;
    }
    const auto error = KafkaErrorOf(answer.status());
    if (error != KafkaError::kNotCoordinator && error != KafkaError::kCoordinatorNotAvailable &&
        error != KafkaError::kNetworkException) {
      ClientLogger()->debug("group {}: leave failed: {}", request->group_id(),
                            MessageOf(answer.status()));
      return;
    }
  }
}

void GroupMember::RecordPoll() {
  std::lock_guard lock(mu_);
  last_poll_ms_ = clock_.NowMonotonicMs();
}

Membership::Work GroupMember::PendingWork() {
  std::lock_guard lock(mu_);
  membership_.CheckLease(clock_.NowMonotonicMs());
  return membership_.PendingWork();
}

void GroupMember::CompleteLost() {
  std::lock_guard lock(mu_);
  membership_.CompleteLost();
  cv_.notify_all();
}

void GroupMember::CompleteRevocation(const std::vector<TopicPartition>& revoked) {
  std::lock_guard lock(mu_);
  membership_.CompleteRevocation(revoked);
  cv_.notify_all();
}

void GroupMember::CompleteAssignment(const std::vector<TopicPartition>& added) {
  std::lock_guard lock(mu_);
  membership_.CompleteAssignment(added);
  cv_.notify_all();
}

std::pair<std::string, int32_t> GroupMember::CommitIdentity() const {
  std::lock_guard lock(mu_);
  if (membership_.state() == MemberState::kNotMember) return {"", -1};
  return {membership_.member_id(), membership_.member_epoch()};
}

MemberState GroupMember::state() const {
  std::lock_guard lock(mu_);
  return membership_.state();
}

bool GroupMember::subscribed() const {
  std::lock_guard lock(mu_);
  return membership_.subscribed();
}

std::vector<TopicPartition> GroupMember::Owned() const {
  std::lock_guard lock(mu_);
  return {membership_.owned().begin(), membership_.owned().end()};
}

bool GroupMember::AwaitHeartbeat(int64_t deadline_ms) {
  std::unique_lock lock(mu_);
  const uint64_t seen = membership_.answers();
  membership_.HeartbeatNow();
  cv_.notify_all();
  while (membership_.answers() == seen) {
    const int64_t left_ms = deadline_ms - clock_.NowMonotonicMs();
    if (left_ms <= 0) return false;
    cv_.wait_for(lock, std::chrono::milliseconds(left_ms));
  }
  return true;
}

void GroupMember::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    const int64_t now_ms = clock_.NowMonotonicMs();
    if (membership_.CheckLease(now_ms)) {
      lock.unlock();
      wake_poller_();
      lock.lock();
    }
    const MemberState state = membership_.state();
    const bool in_group = state == MemberState::kJoining || state == MemberState::kMember;
    if (in_group && now_ms - last_poll_ms_ > max_poll_interval_ms_) {
      ClientLogger()->warn(
          "group member {}: no Poll for {} ms (max.poll.interval.ms {}): leaving the group; its "
          "partitions are lost and the next Poll rejoins. Poll more often or lower "
          "max.poll.records",
          membership_.member_id(), now_ms - last_poll_ms_, max_poll_interval_ms_);
      auto leave = membership_.LeaveForPollTimeout();
      if (leave) {
        in_flight_ = true;
        lock.unlock();
        (void)coordinator_.Heartbeat(*leave);
        lock.lock();
        in_flight_ = false;
        cv_.notify_all();
      }
      lock.unlock();
      wake_poller_();
      lock.lock();
      continue;
    }
    if (!membership_.HeartbeatDue(now_ms)) {
      int64_t wake_ms = membership_.next_heartbeat_ms();
      if (in_group) wake_ms = std::min(wake_ms, last_poll_ms_ + max_poll_interval_ms_ + 1);
      wake_ms = std::min(wake_ms, membership_.lease_deadline_ms());
      if (wake_ms == std::numeric_limits<int64_t>::max()) {
        cv_.wait(lock);
      } else {
        cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(1, wake_ms - now_ms)));
      }
      continue;
    }
    const group::v1::ConsumerGroupHeartbeatRequest request = membership_.BuildHeartbeat(now_ms);
    const uint64_t session = membership_.session();
    in_flight_ = true;
    lock.unlock();
    auto answer = coordinator_.Heartbeat(request);
    lock.lock();
    in_flight_ = false;
    membership_.OnHeartbeatAnswer(session, answer, clock_.NowMonotonicMs());
    cv_.notify_all();
    const Membership::Work work = membership_.PendingWork();
    if (work.lost || !work.revoked.empty() || !work.added.empty() || !work.fatal.ok()) {
      lock.unlock();
      wake_poller_();
      lock.lock();
    }
  }
}

}  // namespace strand::client
