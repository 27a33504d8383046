#pragma once

// GroupCoordinator: this broker's consumer groups — one GroupShard (broker/group/group_shard.h)
// for each `__consumer_offsets` partition it leads.
//
// Loading: when the broker becomes leader of an offsets partition (the tick notices it), the
// coordinator replays the partition from its log start into a fresh shard, then waits until the
// high watermark reaches what it read (so it never serves state a failover could lose); until
// then calls get COORDINATOR_LOAD_IN_PROGRESS. When the broker loses the leadership (or the
// leader epoch changes) the shard is dropped and waiting calls get NOT_COORDINATOR; a call
// about a group another broker coordinates gets NOT_COORDINATOR at once.
//
// Writing: every operation runs on the coordinator's one thread. It generates its records,
// replays them into the shard, appends them to the partition as one batch with acks=all
// (Partition::Produce, bounded by offsets.commit.timeout.ms) and answers once they are
// committed; an operation that writes nothing answers once every earlier write of its shard has
// committed, so no answer shows state a failover could lose. A failed append (lost leadership,
// too few in-sync replicas, timeout) fails every waiting call of the shard and reloads it from
// the log, which is the truth.
//
// Timers: each tick expires members whose session lapsed or who did not revoke within their
// rebalance timeout; every offsets.retention.check.interval.ms, offsets of empty groups past
// offsets.retention.minutes.
//
// Thread-safe: calls enqueue work for the coordinator thread (at most queue_max waiting; past
// it, COORDINATOR_NOT_AVAILABLE) and answer through their callback, from the coordinator thread
// or a partition's completion thread.

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "broker/group/group_shard.h"
#include "broker/server/metadata_follower.h"
#include "broker/server/replica_manager.h"
#include "common/internal_topics.h"
#include "common/kafka_error.h"
#include "common/logging.h"
#include "proto/group/v1/group.pb.h"

namespace strand::broker {

inline constexpr std::string_view kGroupOffsetsTopic = kConsumerOffsetsTopic;

namespace gv1 = ::strand::group::v1;

// The "broker.groups" logger of the coordinator, its service and its probe.
inline const std::shared_ptr<spdlog::logger>& GroupsLog() {
  static const auto logger = GetLogger("broker.groups");
  return logger;
}

struct GroupCoordinatorOptions {
  NodeId self = kNoNode;
  group::GroupConfig groups;
  int64_t tick_ms = 100;
  int64_t offsets_retention_check_interval_ms = 600'000;  // offsets.retention.check.interval.ms
  int64_t commit_timeout_ms = 5'000;                      // offsets.commit.timeout.ms
  size_t queue_max = 100'000;  // calls waiting for the coordinator thread
  Clock* clock = nullptr;      // wall time of commits and sessions; default SystemClock
};

// What the coordinator holds, for metrics.
struct GroupCoordinatorStats {
  int64_t partitions_loaded = 0;
  int64_t partitions_loading = 0;
  int64_t groups = 0;
  int64_t members = 0;
  // (group, topic, partition) -> committed offset, for the lag series.
  std::map<std::tuple<std::string, std::string, int32_t>, int64_t> committed;
  std::map<std::string, std::string> group_states;  // group -> "Stable", ...
};

class GroupCoordinator {
 public:
  template <typename T>
  using Done = std::function<void(T)>;

  GroupCoordinator(GroupCoordinatorOptions options, ReplicaManager& replicas,
                   MetadataFollower& metadata);
  ~GroupCoordinator();

  void Start();
  void Stop();

  // The offsets partition of `group_id`, or nullopt while `__consumer_offsets` does not exist.
  std::optional<int32_t> PartitionFor(const std::string& group_id) const;

  void Heartbeat(const group::v1::ConsumerGroupHeartbeatRequest& request,
                 Done<group::v1::ConsumerGroupHeartbeatResponse> done);
  void CommitOffsets(const group::v1::OffsetCommitRequest& request,
                     Done<group::v1::OffsetCommitResponse> done);
  void FetchOffsets(const group::v1::OffsetFetchRequest& request,
                    Done<group::v1::OffsetFetchResponse> done);
  void DescribeGroup(const std::string& group_id, Done<group::v1::DescribedGroup> done);
  void DeleteGroup(const std::string& group_id, Done<group::v1::DeletedGroup> done);
  void DeleteOffsets(const group::v1::OffsetDeleteRequest& request,
                     Done<group::v1::OffsetDeleteResponse> done);
  // The groups of every loaded shard; `loading` (may be null) says whether some shard this
  // broker leads is still loading (its groups are missing).
  void ListGroups(Done<std::pair<std::vector<group::v1::ListedGroup>, bool>> done);

  GroupCoordinatorStats Stats() const;

 private:
  struct Shard;
  using Finish = std::function<void(KafkaError, const std::string&)>;

  void Loop();
  void Post(std::function<void()> task);
  // Enqueues `task`, or answers `refuse` at once when the queue is full.
  bool Enqueue(std::function<void()> task);
  void Tick(int64_t now_ms);
  void Load(int32_t partition, std::shared_ptr<Partition> p);
  void Unload(int32_t partition, KafkaError error, const std::string& message);
  // The shard serving `group_id`, or null with the error to answer.
  Shard* ShardFor(const std::string& group_id, KafkaError* error, std::string* message);
  // Replays and appends `records` for `shard`; `finish` runs once they (or, with none, every
  // earlier append of the shard) are committed, or with the error that prevented it.
  void Write(Shard& shard, std::vector<group::GroupRecord> records, Finish finish);
  void OnAppended(int32_t partition, uint64_t generation, uint64_t seq, ProduceOutcome outcome);
  // Runs `op` on the shard of `group_id` on the coordinator thread and answers with its
  // response once its records are committed.
  template <typename Response>
  void Run(const std::string& group_id,
           std::function<group::GroupResult<Response>(group::GroupShard&, int64_t)> op,
           Done<Response> done);
  // Partitions of `__consumer_offsets` in the metadata image (0 while it does not exist).
  int32_t OffsetsPartitionCount() const;
  // A catalog of the topics in the metadata image (partition counts, replica racks).
  group::MapTopicCatalog Catalog() const;
  int64_t NowWallMs() const;

  const GroupCoordinatorOptions options_;
  ReplicaManager& replicas_;
  MetadataFollower& metadata_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;

  // Coordinator thread only.
  std::map<int32_t, std::unique_ptr<Shard>> shards_;
  uint64_t next_generation_ = 1;
  int64_t next_offsets_expiry_ms_ = 0;

  mutable std::mutex stats_mu_;
  GroupCoordinatorStats stats_;  // refreshed by the tick

  std::thread thread_;
};

}  // namespace strand::broker
