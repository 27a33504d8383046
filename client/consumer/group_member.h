#pragma once

// GroupMember: the heartbeat driver of a subscribed consumer. It owns the Membership state
// machine and the one background thread of the consumer's group membership, which sends the
// heartbeats (when Membership says one is due: every interval the coordinator names, and at once
// when the subscription or the owned partitions change), applies their answers, wakes the
// polling thread when there is reconciliation to do, and enforces the poll timer: when the
// application has not polled for max.poll.interval.ms it leaves the group (epoch -1) and logs a
// warning; the next Poll reports the partitions lost and rejoins.
//
// Lifecycle: created with the consumer when it has a group.id; the thread starts at the first
// Subscribe and stops in Leave (Unsubscribe, Close) or the destructor.
// Threading: every method is thread-safe; Membership is touched only under mu_, and no RPC is
// made while holding it.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "client/consumer/group_coordinator.h"
#include "client/consumer/membership.h"
#include "common/clock.h"

namespace strand::client {

class GroupMember {
 public:
  // `wake_poller` is called (from the heartbeat thread) when the polling thread has work.
  GroupMember(MembershipConfig config, int64_t max_poll_interval_ms, CoordinatorClient& coordinator,
              const Clock& clock, std::function<void()> wake_poller);
  ~GroupMember();
  GroupMember(const GroupMember&) = delete;
  GroupMember& operator=(const GroupMember&) = delete;

  // Joins (or changes the subscription): topics or a regex, exactly one non-empty.
  void Subscribe(std::vector<std::string> topics, std::string regex);
  // Sends the leave heartbeat (epoch -1; -2 for a static member when `temporarily`), one
  // attempt, after any heartbeat in flight, and stops the thread. The caller drops the owned
  // partitions (CompleteRevocation or CompleteLost) before or after.
  void Leave(bool temporarily);

  // The application polled: the poll timer restarts.
  void RecordPoll();
  Membership::Work PendingWork();
  void CompleteLost();
  void CompleteRevocation(const std::vector<TopicPartition>& revoked);
  void CompleteAssignment(const std::vector<TopicPartition>& added);

  // Whom an OffsetCommit comes from: a member's id and epoch, or "" / -1 when not in the group.
  std::pair<std::string, int32_t> CommitIdentity() const;
  MemberState state() const;
  bool subscribed() const;
  std::vector<TopicPartition> Owned() const;
  // Waits until a heartbeat answered after this call (or `deadline_ms`, monotonic); false on
  // timeout. Commits answered STALE_MEMBER_EPOCH retry after it.
  bool AwaitHeartbeat(int64_t deadline_ms);

 private:
  void Run();
  void StartThread();
  void StopThread();

  CoordinatorClient& coordinator_;
  const Clock& clock_;
  const int64_t max_poll_interval_ms_;
  const std::function<void()> wake_poller_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Membership membership_;
  bool in_flight_ = false;
  bool stop_ = false;
  int64_t last_poll_ms_;
  std::thread thread_;
};

}  // namespace strand::client
