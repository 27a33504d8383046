#pragma once

// MetadataManager: keeps a client's view of the cluster (ClusterMetadata) fresh. It asks any
// broker — the known brokers first, then the bootstrap list — for the metadata of the topics the
// client uses, when asked to (RequestUpdate: an unknown topic, NOT_LEADER_OR_FOLLOWER, a dead
// connection) or every metadata.max.age.ms. One Metadata RPC at a time, asynchronous (gRPC's
// callback API); a failed one moves to the next address and backs off (retry.backoff.ms doubling
// to retry.backoff.max.ms).
//
// Threading: thread-safe. The owner's loop (the producer's sender thread, the consumer's Poll)
// calls Poll(now) to start due refreshes; the answer is applied on a gRPC thread, which then calls
// the listener so the owner wakes up. Readers take current() (a shared_ptr<const>, never locked
// while used). The destructor cancels an RPC in flight and waits for its callback.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "client/common/backoff.h"
#include "client/common/broker_channels.h"
#include "client/common/cluster_metadata.h"
#include "common/clock.h"

namespace strand::client {

struct MetadataOptions {
  int64_t request_timeout_ms = 30'000;
  int64_t retry_backoff_ms = 100;
  int64_t retry_backoff_max_ms = 1'000;
  int64_t max_age_ms = 300'000;
};

class MetadataManager {
 public:
  MetadataManager(std::vector<std::string> bootstrap, BrokerChannels& channels,
                  MetadataOptions options, const Clock& clock);
  ~MetadataManager();
  MetadataManager(const MetadataManager&) = delete;
  MetadataManager& operator=(const MetadataManager&) = delete;

  std::shared_ptr<const ClusterMetadata> current() const;
  // Successful refreshes so far (0: nothing known yet).
  uint64_t version() const;
  // Completed refreshes, successful or not.
  uint64_t attempts() const;

  // Adds topics to those refreshed; a new one requests an update. Returns whether any was new.
  bool AddTopics(const std::vector<std::string>& topics);
  void RequestUpdate();
  // KIP-951: a NOT_LEADER_OR_FOLLOWER answer named the new leader; use it before the refresh.
  void UpdateLeader(const TopicPartition& tp, int32_t leader, int32_t leader_epoch);

  // Starts a refresh if one is due. Returns the monotonic ms at which to call again (INT64_MAX
  // while an RPC is in flight: the listener will say when it ends).
  int64_t Poll();
  // Waits until a refresh that started after this call has completed (successfully or not), or
  // until `deadline_ms` (monotonic). Returns false on timeout. The owner must keep polling, and
  // someone must have requested the refresh (RequestUpdate, AddTopics) or it never starts.
  bool AwaitRefresh(int64_t deadline_ms);
  // The error of the last failed refresh (OK if the last one succeeded).
  absl::Status last_error() const;

  // Called (from any thread) whenever a refresh completes or a hint changes the metadata.
  // Setting null waits for a listener call in progress to return (owners do so before they die).
  void set_listener(std::function<void()> listener);

 private:
  struct Call;
  void Start(std::unique_lock<std::mutex>& lock, int64_t now_ms);
  void OnDone(Call* call, const grpc::Status& status);
  std::string NextAddress();

  const std::vector<std::string> bootstrap_;
  BrokerChannels& channels_;
  const MetadataOptions options_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const ClusterMetadata> current_;
  std::set<std::string> topics_;
  std::function<void()> listener_;
  std::unique_ptr<Call> call_;  // the refresh in flight
  bool update_requested_ = true;
  int64_t next_attempt_ms_ = 0;
  int64_t last_success_ms_ = 0;
  uint64_t version_ = 0;
  uint64_t attempts_ = 0;
  uint64_t started_ = 0;
  int listeners_running_ = 0;
  size_t address_index_ = 0;
  Backoff backoff_;
  absl::Status last_error_;
};

}  // namespace strand::client
