#pragma once

// ReplicationQuota: one side of this broker's replication throttle (Kafka's
// ReplicationQuotaManager): which partitions are throttled here, and one byte rate shared by all
// of them. The ReplicaManager owns two: the leader side (the bytes this broker returns to its
// followers' fetches for the replicas listed in a topic's leader.replication.throttled.replicas
// with this broker's id, bounded by leader.replication.throttled.rate) and the follower side
// (the bytes this broker fetches for the replicas listed in follower.replication.throttled.
// replicas with its id, bounded by follower.replication.throttled.rate). The reconciler sets
// both from the metadata; the Fetch handler and the replica fetchers consult them.
//
// As in Kafka, every byte of a throttled partition counts against the rate, but only replicas
// outside the ISR are held back: an in-sync follower is never slowed (acks=all latency does not
// depend on a reassignment in progress). Set the rate above the write rate of the throttled
// partitions, or the moving replicas never catch up.
//
// The rate is a token bucket refilled at rate_bytes_per_s and holding at most burst_ms worth of
// bytes (it starts full: the "initial burst"). Bytes are recorded after they are moved, so one
// fetch (up to replica.fetch.max.bytes) may put the bucket into debt; while it is empty,
// throttled replicas get nothing. Over any interval T the bytes moved stay below
// rate * T + burst + one fetch.
//
// Time comes from the Clock seam (a ManualClock in tests). Thread-safe: gRPC threads (leader
// side) and fetcher threads (follower side) read it while the reconciler updates it.

#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "common/clock.h"
#include "storage/log_manager.h"

namespace strand::broker {

class ReplicationQuota {
 public:
  static constexpr int64_t kUnlimited = std::numeric_limits<int64_t>::max();
  // Longest DelayMs: a rate of 0 (throttled replicas never move) is re-checked this often, so
  // that raising the rate takes effect.
  static constexpr int64_t kDelayMsMax = 1'000;

  explicit ReplicationQuota(Clock& clock, int64_t burst_ms = 1'000);

  // The rate in bytes per second (>= 0; kUnlimited: no throttle).
  void SetRate(int64_t rate_bytes_per_s);
  int64_t rate_bytes_per_s() const;

  // The partitions of `topic` throttled on this broker: every one (`all`), or those listed.
  // Nothing listed and not `all` forgets the topic.
  void SetThrottled(const std::string& topic, bool all, std::set<int32_t> partitions);
  // Forgets every topic not in `topics` (deleted ones).
  void RetainTopics(const std::set<std::string>& topics);
  bool IsThrottled(const storage::TopicPartition& tp) const;

  // Whether a throttled replica must wait now: the bucket is empty (never when unlimited).
  bool IsExceeded();
  // Whether the replica of `tp` must be held back now, on either side: it is throttled, outside
  // the ISR (`in_sync` false: an in-sync replica is never slowed) and the bucket is empty.
  bool HoldsBack(const storage::TopicPartition& tp, bool in_sync) {
    return !in_sync && IsThrottled(tp) && IsExceeded();
  }
  // How long until the bucket holds bytes again: 0 when it does now, at most kDelayMsMax.
  int64_t DelayMs();
  // Bytes of a throttled partition just moved (returned by the leader, fetched by a follower).
  void Record(int64_t bytes);
  // A throttled replica held back once (for the metrics).
  void NoteHeldBack();

  // Totals for the metrics: bytes recorded, and times a replica was held back.
  int64_t recorded_bytes_total() const;
  int64_t held_back_total() const;

 private:
  void RefillLocked();  // mu_ held
  double CapacityLocked() const { return static_cast<double>(rate_) * burst_ms_ / 1000.0; }

  Clock& clock_;
  const int64_t burst_ms_;
  mutable std::mutex mu_;
  int64_t rate_ = kUnlimited;
  double tokens_bytes_ = 0;  // may go negative: debt from a fetch larger than what was left
  int64_t refilled_at_us_ = 0;
  struct Throttled {
    bool all = false;
    std::set<int32_t> partitions;
  };
  std::map<std::string, Throttled, std::less<>> topics_;
  int64_t recorded_bytes_total_ = 0;
  int64_t held_back_total_ = 0;
};

}  // namespace strand::broker
