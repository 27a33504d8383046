#pragma once

// ReplicaManager: the partitions this broker hosts, kept in line with the metadata log.
//
// A reconciler thread takes the metadata changes the MetadataFollower reports, and for every
// touched partition of which this broker is a replica: opens (or creates) its log with the
// topic's settings, makes it leader or follower at the metadata's leader epoch, and points the
// replica fetchers at the new leader. Partitions this broker no longer hosts are stopped and
// their logs deleted — but only once the broker has caught up with the metadata log (a stale
// local copy must never delete data). A topic re-created under the same name (a new topic id)
// gets a fresh log: each log directory records its topic id in "partition.metadata", and the
// LogManager sets aside (as a stray) any directory recorded for another id or for none.
//
// A replica whose log cannot be opened or created (a disk error, the file-descriptor reserve
// reached) is offline: it is retried every second, and reported to the controller in every
// heartbeat (OfflineReplicas), which takes it out of the ISR and elects another leader — or
// shows the partition offline when it was the last in-sync replica — as Kafka does for an
// offline log directory.
//
// A PartitionTicker (partition_ticker.h) runs each partition's Tick (acks=all deadlines, ISR
// decisions); an IsrChangeSender (isr_sender.h) sends the ISR changes to the active controller
// (AlterPartition) from its own thread. The desired local state of each metadata change is
// LocalChanges (local_changes.h), a pure function. The reconciler also keeps the replication
// throttles (replication_quota.h) in line with the topics' throttled-replica lists and this
// broker's throttle rates; every cluster-level setting is read as this broker's (its own
// dynamic value first, docs/configuration.md).
//
// Thread-safe. Start / Stop once.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "broker/lifecycle/controller_client.h"
#include "broker/replica/partition.h"
#include "broker/server/fetch_purgatory.h"
#include "broker/server/isr_sender.h"
#include "broker/server/metadata_follower.h"
#include "broker/server/partition_ticker.h"
#include "broker/server/replica_fetcher.h"
#include "broker/server/replication_quota.h"
#include "storage/log_manager.h"

namespace strand::broker {

struct ReplicaManagerOptions {
  NodeId self = kNoNode;
  FetcherOptions fetcher;
  int64_t tick_ms = 50;                  // acks=all deadline granularity, ISR checks
  int64_t alter_partition_timeout_ms = 5'000;
  int64_t full_reconcile_interval_ms = 30'000;  // safety net: compare everything
  std::map<std::string, std::string> static_configs;  // --config key=value
  std::string incarnation;  // the registration's, sent with AlterPartition
  std::string inter_broker_listener = "PLAINTEXT";  // where followers fetch from leaders
  Clock* clock = nullptr;  // the replication throttles' time; default: SystemClock
};

struct ReplicaCounts {
  int64_t partitions = 0;
  int64_t leaders = 0;
  int64_t under_replicated = 0;  // led here, ISR smaller than the replica set
  int64_t under_min_isr = 0;     // led here, ISR below min.insync.replicas
  int64_t offline_logs = 0;      // hosted partitions whose log failed or cannot be opened
  int64_t failed_logs = 0;       // of those, logs that failed in use (I/O error, full disk)
};

// A replica this broker should host but cannot: its log could not be opened or created.
struct OfflineReplica {
  std::string topic_id;  // 16 bytes
  int32_t partition = 0;
};

class ReplicaManager {
 public:
  ReplicaManager(ReplicaManagerOptions options, storage::LogManager& logs,
                 MetadataFollower& metadata, ControllerClient& controllers,
                 FetchPurgatory& purgatory, std::function<int64_t()> broker_epoch,
                 std::function<bool()> caught_up);
  ~ReplicaManager();

  void Start();
  // Stops the threads and the fetchers and saves every partition's producer state (the logs
  // themselves are closed by the LogManager).
  void Stop();

  // From the metadata follower's listener: cheap, any thread.
  void OnMetadataChange(const controller::MetadataDelta& delta);
  // Reconciles now and waits for it (tests, start-up).
  void ReconcileNow();

  // Tells every partition whether the controllers have been silent too long
  // (Partition::CheckStranded). From the broker's monitor.
  void CheckStranded(bool controllers_silent, int64_t now_ms);
  // Whether the last CheckStranded found the controllers silent: only then can a partition here
  // be stranded.
  bool ControllersSilent() const { return controllers_silent_.load(); }
  // Whether `tp` is a leadership this broker gave up while cut off (Partition::stranded).
  bool Stranded(const storage::TopicPartition& tp) const;

  std::shared_ptr<Partition> Get(const storage::TopicPartition& tp) const;
  std::vector<std::shared_ptr<Partition>> All() const;
  ReplicaCounts Counts() const;
  // Partitions with a leader elsewhere whose ISR lacks this broker although it is a replica, by
  // the metadata (so also those not hosted yet): what a restarted broker must catch up on.
  int64_t OutOfIsr() const;
  uint64_t isr_shrinks() const { return isr_sender_.shrinks(); }
  uint64_t isr_expands() const { return isr_sender_.expands(); }

  // Replicas whose log cannot be opened (reported to the controller in every heartbeat).
  std::vector<OfflineReplica> OfflineReplicas() const;
  // Why `tp` is offline here, if it is.
  std::optional<std::string> OfflineReason(const storage::TopicPartition& tp) const;

  // The replication throttles: the leader side (Fetch handler) and the follower side (fetchers).
  ReplicationQuota& leader_quota() { return leader_quota_; }
  ReplicationQuota& follower_quota() { return follower_quota_; }

  // host:port of another broker's listener with this name, from the metadata.
  std::optional<std::string> AddressOf(NodeId broker, std::string_view listener) const;

 private:
  struct Desired;
  struct Hosted {
    std::shared_ptr<Partition> partition;
    std::string topic_id;
    storage::LogConfig config;
    int32_t min_isr = 1;
    size_t replicas = 0;
  };

  void ReconcileLoop();
  void Reconcile(const controller::MetadataDelta& change);
  // The throttle rates (this broker's) and, for `topics`, the throttled replicas on this broker;
  // with `everything`, topics no longer in the image are forgotten. Under the image's lock.
  void UpdateQuotas(const controller::MetadataImage& image, const std::set<std::string>& topics,
                    bool everything);
  void Apply(const Desired& d);
  void Drop(const storage::TopicPartition& tp, bool delete_log);
  absl::StatusOr<std::shared_ptr<storage::Log>> OpenLog(const Desired& d);
  bool TopicExists(const std::string& topic_id) const;
  void MarkOffline(const Desired& d, const absl::Status& error);
  void MarkOnline(const storage::TopicPartition& tp);

  const ReplicaManagerOptions options_;
  storage::LogManager& logs_;
  MetadataFollower& metadata_;
  FetchPurgatory& purgatory_;
  const std::function<bool()> caught_up_;
  // Before fetchers_, which uses the follower side.
  ReplicationQuota leader_quota_;
  ReplicationQuota follower_quota_;
  ReplicaFetcherManager fetchers_;

  // The hosted partitions; written by the reconciler only, read by any thread.
  mutable std::mutex mu_;
  std::map<storage::TopicPartition, Hosted> hosted_;
  struct Offline {
    std::string topic_id;
    std::string error;
    int64_t since_ms = 0;
  };
  std::map<storage::TopicPartition, Offline> offline_;  // written by the reconciler only

  // Reconciler input.
  std::mutex change_mu_;
  std::condition_variable change_cv_;
  controller::MetadataDelta pending_;  // merged; `snapshot` set asks for a full pass
  uint64_t requested_ = 0;  // ReconcileNow generations
  uint64_t completed_ = 0;
  std::condition_variable done_cv_;
  std::set<storage::TopicPartition> deferred_deletes_;  // reconciler thread only
  bool retry_ = false;                                  // reconciler thread only

  IsrChangeSender isr_sender_;
  PartitionTicker ticker_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> controllers_silent_{false};  // the last CheckStranded's
  std::thread reconciler_;
};

}  // namespace strand::broker
