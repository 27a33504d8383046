#pragma once

// SubscriptionState: the consumer's assigned partitions and, for each, where it stands — the
// position (next offset Poll returns), records fetched but not yet returned, a pending offset
// reset, the preferred read replica (KIP-392), the high watermark and error backoff. Only the
// consumer's thread touches it.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "strand/consumer.h"
#include "strand/record.h"

namespace strand::client {

struct PartitionState {
  TopicPartition tp;
  std::shared_ptr<const std::string> topic_name;  // shared by every record of the partition
  std::optional<int64_t> position;                // nullopt: to be reset
  std::optional<OffsetResetPolicy> reset;         // how (SeekToBeginning/End, out of range)
  std::deque<ConsumerRecord> buffered;            // fetched, not yet returned by Poll
  int64_t next_offset_after_buffered = -1;        // the position once `buffered` is returned
  int64_t high_watermark = -1;
  int32_t preferred_replica = -1;
  int64_t preferred_replica_until_ms = 0;
  bool fetch_in_flight = false;
  int64_t fetch_offset_in_flight = -1;  // to ignore answers made stale by a Seek
  bool reset_in_flight = false;
  int64_t retry_at_ms = 0;  // backoff after an error
  absl::Status error;       // surfaced by the next Poll, then cleared

  // Fetchable now: a position, nothing buffered, no fetch or error pending.
  bool Fetchable(int64_t now_ms) const {
    return position.has_value() && buffered.empty() && !fetch_in_flight && error.ok() &&
           now_ms >= retry_at_ms;
  }
  // Drops what was fetched (after a Seek or a reset).
  void ClearBuffer() {
    buffered.clear();
    next_offset_after_buffered = -1;
  }
};

class SubscriptionState {
 public:
  // Replaces the assignment; partitions kept keep their state.
  void Assign(const std::vector<TopicPartition>& partitions);
  std::vector<TopicPartition> Assigned() const;
  PartitionState* Find(const TopicPartition& tp);
  std::map<TopicPartition, PartitionState>& partitions() { return partitions_; }
  std::vector<std::string> Topics() const;

  // Up to `max_records` buffered records, taken round-robin across partitions (so one busy
  // partition does not starve the others); positions advance past what is returned.
  std::vector<ConsumerRecord> TakeRecords(size_t max_records);

 private:
  std::map<TopicPartition, PartitionState> partitions_;
  size_t next_start_ = 0;
};

}  // namespace strand::client
