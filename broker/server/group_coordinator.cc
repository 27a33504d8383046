// GroupCoordinator: see the header.
#include "broker/server/group_coordinator.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include <fmt/format.h>

#include "common/group_partition.h"
#include "broker/server/fetch_purgatory.h"
#include "common/error_proto.h"
#include "common/thread_name.h"
#include "record/batch_validator.h"
#include "record/record_batch_builder.h"
#include "record/record_batch_reader.h"

namespace strand::broker {

namespace {

constexpr int64_t kLoadReadBytes = 4 << 20;
constexpr size_t kDecompressedMaxBytes = 64 << 20;

// Kafka's mapping of an append failure to what a group call answers.
KafkaError AppendError(KafkaError e) {
  switch (e) {
    case KafkaError::kNotLeaderOrFollower:
    case KafkaError::kFencedLeaderEpoch:
    case KafkaError::kUnknownTopicOrPartition:
      return KafkaError::kNotCoordinator;
    case KafkaError::kNotEnoughReplicas:
    case KafkaError::kNotEnoughReplicasAfterAppend:
    case KafkaError::kRequestTimedOut:
    case KafkaError::kKafkaStorageError:
      return KafkaError::kCoordinatorNotAvailable;
    case KafkaError::kMessageTooLarge:
    case KafkaError::kRecordListTooLarge:
      return KafkaError::kInvalidCommitOffsetSize;
    default:
      return KafkaError::kUnknownServerError;
  }
}

// Sets the error of a response that has a top-level one.
template <typename Response>
void SetTopError(Response* r, KafkaError e, const std::string& message) {
  r->Clear();
  SetKafkaError(r->mutable_error(), e, message);
}

}  // namespace

struct GroupCoordinator::Shard {
  int32_t partition = 0;
  uint64_t generation = 0;
  std::shared_ptr<Partition> log_partition;
  LeaderEpoch leader_epoch{-1};
  bool loading = true;
  Offset load_end{0};
  std::unique_ptr<group::GroupShard> groups;
  // Appends in flight, oldest first; each with the calls waiting for it.
  struct Append {
    uint64_t seq = 0;
    bool done = false;
    std::vector<Finish> waiting;
  };
  std::deque<Append> appends;
  uint64_t next_seq = 1;
};

GroupCoordinator::GroupCoordinator(GroupCoordinatorOptions options, ReplicaManager& replicas,
                                   MetadataFollower& metadata)
    : options_(std::move(options)), replicas_(replicas), metadata_(metadata) {}

GroupCoordinator::~GroupCoordinator() { Stop(); }

void GroupCoordinator::Start() {
  thread_ = NamedThread("group-coord", [this] { Loop(); });
}

void GroupCoordinator::Stop() {
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t GroupCoordinator::NowWallMs() const {
  return (options_.clock != nullptr ? *options_.clock : SystemClock::Instance()).NowWallMs();
}

void GroupCoordinator::Post(std::function<void()> task) {
  {
    std::lock_guard lock(queue_mu_);
    queue_.push_back(std::move(task));
  }
  queue_cv_.notify_one();
}

bool GroupCoordinator::Enqueue(std::function<void()> task) {
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_ || queue_.size() >= options_.queue_max) return false;
    queue_.push_back(std::move(task));
  }
  queue_cv_.notify_one();
  return true;
}

void GroupCoordinator::Loop() {
  int64_t next_tick = 0;
  while (true) {
    std::deque<std::function<void()>> tasks;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait_for(lock, std::chrono::milliseconds(options_.tick_ms),
                         [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;
      tasks.swap(queue_);
    }
    for (auto& task : tasks) task();
    const int64_t now = NowMs();
    if (now >= next_tick) {
      Tick(NowWallMs());
      next_tick = now + options_.tick_ms;
    }
  }
  // Stopping: whoever still waits hears the coordinator is gone.
  for (auto& [partition, shard] : shards_) {
    for (auto& append : shard->appends) {
      for (auto& finish : append.waiting) {
        finish(KafkaError::kNotCoordinator, "the broker is shutting down");
      }
    }
  }
  shards_.clear();
  std::deque<std::function<void()>> rest;
  {
    std::lock_guard lock(queue_mu_);
    rest.swap(queue_);
  }
  // Queued calls run against no shards: each answers NOT_COORDINATOR.
  for (auto& task : rest) task();
}

int32_t GroupCoordinator::OffsetsPartitionCount() const {
  return metadata_.Read([&](const controller::MetadataImage& image) {
    const controller::TopicImage* t = image.topic(std::string(kGroupOffsetsTopic));
    return t == nullptr ? 0 : static_cast<int32_t>(t->partitions.size());
  });
}

std::optional<int32_t> GroupCoordinator::PartitionFor(const std::string& group_id) const {
  const int32_t count = OffsetsPartitionCount();
  if (count <= 0) return std::nullopt;
  return PartitionForGroup(group_id, count);
}

group::MapTopicCatalog GroupCoordinator::Catalog() const {
  group::MapTopicCatalog catalog;
  metadata_.Read([&](const controller::MetadataImage& image) {
    for (const auto& [name, t] : image.topics()) {
      group::TopicInfo& info = catalog.topics[name];
      info.topic_id = t.id.ToString();
      info.partition_count = static_cast<int32_t>(t.partitions.size());
      bool any_rack = false;
      info.partition_racks.resize(t.partitions.size());
      for (size_t i = 0; i < t.partitions.size(); ++i) {
        for (NodeId r : t.partitions[i].replicas) {
          const controller::BrokerRegistration* b = image.broker(r);
          if (b != nullptr && !b->rack.empty()) {
            info.partition_racks[i].insert(b->rack);
            any_rack = true;
          }
        }
      }
      if (!any_rack) info.partition_racks.clear();
    }
  });
  return catalog;
}

// ---------------------------------------------------------------- shards

void GroupCoordinator::Tick(int64_t now_ms) {
  const int32_t count = OffsetsPartitionCount();
  // Leadership changes: drop shards no longer led here, load newly led ones.
  for (auto it = shards_.begin(); it != shards_.end();) {
    const int32_t partition = it->first;
    Shard& s = *it->second;
    auto p = replicas_.Get({std::string(kGroupOffsetsTopic), partition});
    ++it;
    if (p == nullptr || p != s.log_partition || p->role() != PartitionRole::kLeader ||
        p->leader_epoch() != s.leader_epoch) {
      Unload(partition, KafkaError::kNotCoordinator,
             fmt::format("broker {} no longer leads {}-{}", options_.self, kGroupOffsetsTopic,
                         partition));
    }
  }
  for (int32_t partition = 0; partition < count; ++partition) {
    if (shards_.count(partition) != 0) continue;
    auto p = replicas_.Get({std::string(kGroupOffsetsTopic), partition});
    if (p != nullptr && p->role() == PartitionRole::kLeader) Load(partition, p);
  }
  GroupCoordinatorStats stats;
  const bool expire_offsets = now_ms >= next_offsets_expiry_ms_;
  if (expire_offsets)
    next_offsets_expiry_ms_ = now_ms + options_.offsets_retention_check_interval_ms;
  for (auto& [partition, shard] : shards_) {
    Shard& s = *shard;
    if (s.loading) {
      if (s.log_partition->high_watermark() < s.load_end) {
        ++stats.partitions_loading;
        continue;
      }
      s.loading = false;
      s.groups->ResetTimers(now_ms);
      GroupsLog()->info("[broker {}] coordinator of {}-{}: {} group(s) loaded (leader epoch {})",
                        options_.self, kGroupOffsetsTopic, partition, s.groups->group_count(),
                        s.leader_epoch);
    }
    ++stats.partitions_loaded;
    std::vector<std::string> expired;
    std::vector<group::GroupRecord> records = s.groups->ExpireMembers(now_ms, &expired);
    for (const std::string& e : expired) {
      GroupsLog()->info("[broker {}] group member {} removed", options_.self, e);
    }
    if (expire_offsets) {
      for (auto& r : s.groups->ExpireOffsets(now_ms)) records.push_back(std::move(r));
    }
    if (!records.empty()) {
      const int32_t p = partition;  // a structured binding cannot be captured (clang 14)
      Write(s, std::move(records), [p](KafkaError e, const std::string& message) {
        if (e != KafkaError::kNone) {
          GroupsLog()->warn("group expiry in {}-{} not written: {} {}", kGroupOffsetsTopic, p,
                            KafkaErrorName(e), message);
        }
      });
    }
    if (shards_.count(partition) == 0) break;  // the write failed and unloaded it
    for (const gv1::ListedGroup& g : s.groups->ListGroups()) {
      ++stats.groups;
      stats.members += g.members();
      stats.group_states[g.group_id()] = g.state();
      for (const auto& [tp, offset] : s.groups->CommittedOffsets(g.group_id())) {
        stats.committed[{g.group_id(), tp.first, tp.second}] = offset;
      }
    }
  }
  std::lock_guard lock(stats_mu_);
  stats_ = std::move(stats);
}

void GroupCoordinator::Load(int32_t partition, std::shared_ptr<Partition> p) {
  auto shard = std::make_unique<Shard>();
  shard->partition = partition;
  shard->generation = next_generation_++;
  shard->log_partition = p;
  shard->leader_epoch = p->leader_epoch();
  shard->groups = std::make_unique<group::GroupShard>(options_.groups);
  std::shared_ptr<storage::Log> log = p->log();
  Offset offset = log->LogStartOffset();
  const Offset end = log->LogEndOffset();
  int64_t records = 0;
  int64_t skipped = 0;
  while (offset < end) {
    auto read = log->Read(offset, kLoadReadBytes, end);
    if (!read.ok()) {
      GroupsLog()->error("[broker {}] cannot load {}-{} at offset {}: {}; retrying", options_.self,
                         kGroupOffsetsTopic, partition, offset, read.status().ToString());
      return;  // the next tick tries again
    }
    if (read->records.size() == 0) break;
    auto extents = record::SplitBatches(read->records.span());
    if (!extents.ok()) {
      GroupsLog()->error("[broker {}] cannot load {}-{} at offset {}: {}", options_.self,
                         kGroupOffsetsTopic, partition, offset, extents.status().ToString());
      return;
    }
    for (const record::BatchExtent& e : *extents) {
      auto batch = record::DecodedBatch::Decode(read->records.span().subspan(e.position, e.size),
                                                kDecompressedMaxBytes);
      if (!batch.ok()) {
        GroupsLog()->error("[broker {}] cannot load {}-{} near offset {}: {}", options_.self,
                           kGroupOffsetsTopic, partition, offset, batch.status().ToString());
        return;
      }
      if (batch->header().is_control()) continue;
      for (const record::RecordView& r : batch->records()) {
        if (!r.key) {
          ++skipped;
          continue;
        }
        group::GroupRecord g;
        g.key = std::string(*r.key);
        if (r.value) g.value = std::string(*r.value);
        if (absl::Status s = shard->groups->Replay(g); !s.ok()) {
          ++skipped;  // a record of a kind this version does not know
          continue;
        }
        ++records;
      }
    }
    offset = read->next_offset;
  }
  shard->load_end = end;
  GroupsLog()->info(
      "[broker {}] loading {}-{}: {} record(s) replayed{}, serving once the high "
      "watermark reaches {}",
      options_.self, kGroupOffsetsTopic, partition, records,
      skipped > 0 ? fmt::format(" ({} skipped)", skipped) : "", end);
  shards_[partition] = std::move(shard);
}

void GroupCoordinator::Unload(int32_t partition, KafkaError error, const std::string& message) {
  auto it = shards_.find(partition);
  if (it == shards_.end()) return;
  std::unique_ptr<Shard> shard = std::move(it->second);
  shards_.erase(it);
  GroupsLog()->info("[broker {}] coordinator of {}-{} unloaded: {}", options_.self,
                    kGroupOffsetsTopic, partition, message);
  for (auto& append : shard->appends) {
    for (auto& finish : append.waiting) finish(error, message);
  }
}

GroupCoordinator::Shard* GroupCoordinator::ShardFor(const std::string& group_id, KafkaError* error,
                                                    std::string* message) {
  const std::optional<int32_t> partition = PartitionFor(group_id);
  if (!partition) {
    *error = KafkaError::kCoordinatorNotAvailable;
    *message = fmt::format("{} does not exist yet", kGroupOffsetsTopic);
    return nullptr;
  }
  auto it = shards_.find(*partition);
  if (it == shards_.end()) {
    auto p = replicas_.Get({std::string(kGroupOffsetsTopic), *partition});
    if (p != nullptr && p->role() == PartitionRole::kLeader) {
      // Leader already; the next tick loads it.
      *error = KafkaError::kCoordinatorLoadInProgress;
      *message = fmt::format("broker {} is about to load {}-{}", options_.self, kGroupOffsetsTopic,
                             *partition);
      return nullptr;
    }
    *error = KafkaError::kNotCoordinator;
    *message = fmt::format("broker {} is not the coordinator of group '{}' ({}-{})", options_.self,
                           group_id, kGroupOffsetsTopic, *partition);
    return nullptr;
  }
  if (it->second->loading) {
    *error = KafkaError::kCoordinatorLoadInProgress;
    *message =
        fmt::format("broker {} is loading {}-{}", options_.self, kGroupOffsetsTopic, *partition);
    return nullptr;
  }
  return it->second.get();
}

void GroupCoordinator::Write(Shard& shard, std::vector<group::GroupRecord> records, Finish finish) {
  if (records.empty()) {
    if (shard.appends.empty()) {
      finish(KafkaError::kNone, "");
    } else {
      shard.appends.back().waiting.push_back(std::move(finish));
    }
    return;
  }
  const int64_t now = NowWallMs();
  record::RecordBatchBuilder builder(record::BatchOptions{});
  for (const group::GroupRecord& r : records) {
    absl::Status s = shard.groups->Replay(r);
    STRAND_CHECK_MSG(s.ok(), "replaying a generated group record failed: {}", s.ToString());
    std::optional<std::string_view> value;
    if (r.value) value = *r.value;
    builder.Append(now, std::string_view(r.key), value);
  }
  auto batch = builder.Build();
  const uint64_t seq = shard.next_seq++;
  shard.appends.push_back(Shard::Append{seq, false, {}});
  shard.appends.back().waiting.push_back(std::move(finish));
  if (!batch.ok()) {
    OnAppended(shard.partition, shard.generation, seq,
               ProduceOutcome{.error = KafkaError::kCorruptMessage,
                              .message = std::string(batch.status().message())});
    return;
  }
  const int32_t partition = shard.partition;
  const uint64_t generation = shard.generation;
  shard.log_partition->Produce(
      batch->span(), -1, NowMs() + options_.commit_timeout_ms,
      [this, partition, generation, seq](ProduceOutcome outcome) {
        Post([this, partition, generation, seq, outcome = std::move(outcome)]() mutable {
          OnAppended(partition, generation, seq, std::move(outcome));
        });
      });
}

void GroupCoordinator::OnAppended(int32_t partition, uint64_t generation, uint64_t seq,
                                  ProduceOutcome outcome) {
  auto it = shards_.find(partition);
  if (it == shards_.end() || it->second->generation != generation) return;  // unloaded since
  Shard& s = *it->second;
  if (outcome.error != KafkaError::kNone) {
    // The shard may now be ahead of its log: fail everyone waiting and reload from the log.
    const KafkaError answer = AppendError(outcome.error);
    const std::string message =
        fmt::format("writing to {}-{} failed: {} {}", kGroupOffsetsTopic, partition,
                    KafkaErrorName(outcome.error), outcome.message);
    GroupsLog()->warn("[broker {}] {}; reloading the partition's groups", options_.self, message);
    Unload(partition, answer, message);
    return;
  }
  for (auto& a : s.appends) {
    if (a.seq == seq) a.done = true;
  }
  while (!s.appends.empty() && s.appends.front().done) {
    std::vector<Finish> waiting = std::move(s.appends.front().waiting);
    s.appends.pop_front();
    for (auto& finish : waiting) finish(KafkaError::kNone, "");
  }
}

// ---------------------------------------------------------------- calls

template <typename Response>
void GroupCoordinator::Run(
    const std::string& group_id,
    std::function<group::GroupResult<Response>(group::GroupShard&, int64_t)> op,
    Done<Response> done) {
  auto task = [this, group_id, op = std::move(op), done]() {
    bool stopping;
    {
      std::lock_guard lock(queue_mu_);
      stopping = stopping_;
    }
    KafkaError error = KafkaError::kNone;
    std::string message;
    Shard* shard = stopping ? nullptr : ShardFor(group_id, &error, &message);
    if (shard == nullptr) {
      if (stopping) {
        error = KafkaError::kNotCoordinator;
        message = "the broker is shutting down";
      }
      Response r;
      SetTopError(&r, error, message);
      done(std::move(r));
      return;
    }
    group::GroupResult<Response> result = op(*shard->groups, NowWallMs());
    auto response = std::make_shared<Response>(std::move(result.response));
    Write(*shard, std::move(result.records),
          [done, response](KafkaError e, const std::string& why) {
            if (e != KafkaError::kNone) SetTopError(response.get(), e, why);
            done(std::move(*response));
          });
  };
  if (!Enqueue(std::move(task))) {
    Response r;
    SetTopError(&r, KafkaError::kCoordinatorNotAvailable,
                fmt::format("broker {}'s group coordinator is overloaded or stopping ({} calls "
                            "waiting)",
                            options_.self, options_.queue_max));
    done(std::move(r));
  }
}

void GroupCoordinator::Heartbeat(const gv1::ConsumerGroupHeartbeatRequest& request,
                                 Done<gv1::ConsumerGroupHeartbeatResponse> done) {
  Run<gv1::ConsumerGroupHeartbeatResponse>(
      request.group_id(),
      [this, request](group::GroupShard& shard, int64_t now) {
        return shard.Heartbeat(request, now, Catalog());
      },
      std::move(done));
}

void GroupCoordinator::CommitOffsets(const gv1::OffsetCommitRequest& request,
                                     Done<gv1::OffsetCommitResponse> done) {
  Run<gv1::OffsetCommitResponse>(
      request.group_id(),
      [this, request](group::GroupShard& shard, int64_t now) {
        return shard.CommitOffsets(request, now, Catalog());
      },
      std::move(done));
}

void GroupCoordinator::FetchOffsets(const gv1::OffsetFetchRequest& request,
                                    Done<gv1::OffsetFetchResponse> done) {
  Run<gv1::OffsetFetchResponse>(
      request.group_id(),
      [request](group::GroupShard& shard, int64_t) {
        return group::GroupResult<gv1::OffsetFetchResponse>{{}, shard.FetchOffsets(request)};
      },
      std::move(done));
}

void GroupCoordinator::DescribeGroup(const std::string& group_id, Done<gv1::DescribedGroup> done) {
  const int32_t self = options_.self.value();
  Run<gv1::DescribedGroup>(
      group_id,
      [group_id, self](group::GroupShard& shard, int64_t) {
        gv1::DescribedGroup d = shard.Describe(group_id);
        d.set_coordinator(self);
        return group::GroupResult<gv1::DescribedGroup>{{}, std::move(d)};
      },
      [group_id, done](gv1::DescribedGroup d) {
        d.set_group_id(group_id);
        done(std::move(d));
      });
}

void GroupCoordinator::DeleteGroup(const std::string& group_id, Done<gv1::DeletedGroup> done) {
  Run<gv1::DeletedGroup>(
      group_id,
      [group_id](group::GroupShard& shard, int64_t) { return shard.DeleteGroup(group_id); },
      [group_id, done](gv1::DeletedGroup d) {
        d.set_group_id(group_id);
        done(std::move(d));
      });
}

void GroupCoordinator::DeleteOffsets(const gv1::OffsetDeleteRequest& request,
                                     Done<gv1::OffsetDeleteResponse> done) {
  Run<gv1::OffsetDeleteResponse>(
      request.group_id(),
      [this, request](group::GroupShard& shard, int64_t) {
        return shard.DeleteOffsets(request, Catalog());
      },
      std::move(done));
}

void GroupCoordinator::ListGroups(Done<std::pair<std::vector<gv1::ListedGroup>, bool>> done) {
  auto task = [this, done] {
    std::vector<gv1::ListedGroup> out;
    bool loading = false;
    for (auto& [partition, shard] : shards_) {
      if (shard->loading) {
        loading = true;
        continue;
      }
      for (auto& g : shard->groups->ListGroups()) {
        g.set_coordinator(options_.self.value());
        out.push_back(std::move(g));
      }
    }
    done({std::move(out), loading});
  };
  if (!Enqueue(task)) done({{}, true});
}

GroupCoordinatorStats GroupCoordinator::Stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

}  // namespace strand::broker
