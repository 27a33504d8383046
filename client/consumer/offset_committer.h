#pragma once

// OffsetCommitter: the consumer's committed offsets, through its group's coordinator —
// OffsetCommit (synchronous with retries, or asynchronous with a callback) and OffsetFetch.
// A commit carries the member id and epoch of a group member (GroupMember::CommitIdentity), or
// "" / -1 for a consumer that assigns its own partitions (a "simple" group).
//
// Retries of the synchronous calls, until their deadline: coordinator errors and lost calls
// (CoordinatorClient looks the coordinator up again), other retriable errors after a backoff,
// and STALE_MEMBER_EPOCH after the member's next heartbeat (the coordinator moved the epoch on;
// the heartbeat brings the new one). UNKNOWN_MEMBER_ID and FENCED_MEMBER_EPOCH are final: the
// member lost its partitions and must not commit for them.
//
// Asynchronous commits make one attempt; their callbacks run on the polling thread
// (RunCallbacks, called by Poll, CommitSync and Close), in the order the commits ended.
// Threading: the polling thread calls every method; gRPC threads only queue completions.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/consumer/group_coordinator.h"
#include "client/consumer/group_member.h"
#include "common/clock.h"
#include "strand/consumer.h"

namespace strand::client {

using OffsetMap = std::map<TopicPartition, OffsetAndMetadata>;

class OffsetCommitter {
 public:
  // `member` is null for a consumer without subscriptions ever (no group membership).
  OffsetCommitter(std::string group_id, CoordinatorClient& coordinator, GroupMember* member,
                  const Clock& clock, int64_t retry_backoff_ms, int64_t retry_backoff_max_ms,
                  std::function<void()> wake_poller);
  ~OffsetCommitter();

  absl::Status CommitSync(const OffsetMap& offsets, int64_t deadline_ms);
  void CommitAsync(const OffsetMap& offsets, OffsetCommitCallback callback);
  // Runs the callbacks of the asynchronous commits that ended.
  void RunCallbacks();
  // Waits for asynchronous commits in flight (up to `deadline_ms`), then runs their callbacks.
  void AwaitAsync(int64_t deadline_ms);
  absl::StatusOr<std::map<TopicPartition, std::optional<OffsetAndMetadata>>> Fetch(
      const std::vector<TopicPartition>& partitions, int64_t deadline_ms);

 private:
  struct Completion {
    OffsetMap offsets;
    absl::Status status;
    OffsetCommitCallback callback;
  };
  group::v1::OffsetCommitRequest BuildCommit(const OffsetMap& offsets) const;
  // The outcome of one answer: OK, or the error (retriable or not: see Retriable).
  static absl::Status CommitOutcome(const absl::StatusOr<group::v1::OffsetCommitResponse>& answer);
  void Sleep(int64_t ms, int64_t deadline_ms) const;

  const std::string group_id_;
  CoordinatorClient& coordinator_;
  GroupMember* const member_;
  const Clock& clock_;
  const int64_t retry_backoff_ms_;
  const int64_t retry_backoff_max_ms_;
  const std::function<void()> wake_poller_;
  std::mutex mu_;
  std::condition_variable cv_;
  int async_in_flight_ = 0;
  std::deque<Completion> completed_;
};

}  // namespace strand::client
