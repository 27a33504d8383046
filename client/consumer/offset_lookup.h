#pragma once

// OffsetLookup: one ListOffsets question about many partitions (a timestamp each: -1 latest,
// -2 earliest, else the first offset at or after it), answered by their leaders. Requests go one
// per leader; a partition whose leader is unknown or answered a retriable error
// (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE, FENCED_LEADER_EPOCH, ...) is asked again after a
// backoff and a metadata refresh; any other error is its result. The consumer drives it from its
// own thread (SendDue, OnAnswer) both for offset resets and for OffsetsForTimes & co.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "client/common/cluster_metadata.h"
#include "client/common/metadata_manager.h"
#include "client/consumer/consumer_calls.h"
#include "strand/consumer.h"

namespace strand::client {

class OffsetLookup {
 public:
  struct Result {
    absl::Status status;  // OK: offset (-1: no record at or after the timestamp)
    int64_t offset = -1;
    int64_t timestamp_ms = -1;
    int32_t leader_epoch = -1;
  };
  using Send = std::function<void(std::unique_ptr<ListOffsetsCall>)>;

  OffsetLookup(uint64_t id, std::map<TopicPartition, int64_t> timestamps, bool read_committed,
               int64_t retry_backoff_ms);

  uint64_t id() const { return id_; }
  // Sends a request to each leader of partitions not yet answered, not in flight and due.
  void SendDue(const ClusterMetadata& cluster, MetadataManager& metadata, int64_t now_ms,
               const Send& send);
  // Applies an answer (or a failed call); returns the partitions it resolved.
  std::vector<TopicPartition> OnAnswer(const ListOffsetsCall& call, MetadataManager& metadata,
                                       int64_t now_ms);
  bool done() const { return results_.size() == pending_.size(); }
  const std::map<TopicPartition, Result>& results() const { return results_; }
  // When SendDue has something to do next (INT64_MAX: waiting for answers only).
  int64_t next_due_ms() const;

 private:
  struct Pending {
    int64_t timestamp = -1;
    bool in_flight = false;
    int64_t due_ms = 0;
  };
  void RetryLater(const TopicPartition& tp, int64_t now_ms);

  const uint64_t id_;
  const bool read_committed_;
  const int64_t retry_backoff_ms_;
  std::map<TopicPartition, Pending> pending_;
  std::map<TopicPartition, Result> results_;
};

}  // namespace strand::client
