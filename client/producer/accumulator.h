#pragma once

// RecordAccumulator: Kafka's producer-side queue of batches, one deque per partition. Send
// threads append records (encoded at once into the partition's open batch, see producer_batch.h);
// the sender thread drains batches that are ready — full, lingered for linger.ms, due to a flush
// or a close, or wanted because Send waits for memory — one per partition per request, grouped by
// the partition's leader, and puts failed batches back at the front in sequence order for retry.
//
// Partitions are chosen here for keyless records (sticky per batch, KIP-480): when the sticky
// partition's open batch cannot take a record, the topic moves to another sticky partition and
// the record starts a batch there.
//
// Memory: every batch holds its capacity of buffer.memory (MemoryBudget) from creation to
// completion. Append waits for memory without holding the lock.
//
// Threading: everything is guarded by one mutex; Append is called by any thread, the rest by the
// sender thread. Batches returned by Drain belong to the sender until Reenqueue or Deallocate.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "client/common/cluster_metadata.h"
#include "client/producer/memory_budget.h"
#include "client/producer/producer_batch.h"
#include "record/record.h"
#include "strand/producer.h"

namespace strand::client {

using BatchPtr = std::shared_ptr<ProducerBatch>;

struct AccumulatorConfig {
  int32_t batch_size_bytes = 16384;
  int64_t linger_ms = 5;
  int64_t max_block_ms = 60'000;
  int64_t delivery_timeout_ms = 120'000;
  int32_t max_request_size_bytes = 1 << 20;
  bool compressed = false;  // batches may hold more raw bytes than batch.size (ratio estimate)
  bool idempotent = false;  // retried batches go back in sequence order

  static AccumulatorConfig From(const ProducerConfig& config);
};

class Accumulator {
 public:
  // A partition's first batch, and one after its queue emptied (see NewBatchCapacity).
  static constexpr size_t kFirstBatchBytes = 16384;

  Accumulator(AccumulatorConfig config, MemoryBudget& memory);

  // A record on its way in. `partition` -1: sticky (keyless, or keys ignored).
  struct RecordRef {
    std::string_view topic;
    int32_t partition = -1;
    int64_t timestamp_ms = 0;
    std::optional<std::string_view> key;
    std::optional<std::string_view> value;
    std::span<const record::RecordHeaderView> headers;
  };
  struct AppendResult {
    TopicPartition tp;
    bool wake_sender = false;  // a batch became full or a new one was started
  };
  // Appends, creating a batch when needed (waiting up to max.block.ms for memory unless
  // `may_block` is false). The topic's partitions must be known (SetTopicPartitions). Errors:
  // REQUEST_TIMED_OUT (no memory in time, or none at once when !may_block), MESSAGE_TOO_LARGE,
  // FAILED_PRECONDITION after Close.
  absl::StatusOr<AppendResult> Append(const RecordRef& record, SendCallback& callback,
                                      int64_t now_ms, bool may_block);

  // What a producer learnt from metadata: partition count and which have a leader (for the sticky
  // choice). Called by Send threads after a metadata wait and by the sender after refreshes.
  void SetTopicPartitions(std::string_view topic, int32_t count,
                          std::span<const int32_t> available);
  // SetTopicPartitions for every topic already known here, from fresh metadata.
  void UpdateTopics(const ClusterMetadata& cluster);
  // The known partition count of a topic, or -1.
  int32_t PartitionCount(std::string_view topic) const;

  struct DrainResult {
    std::map<int32_t, std::vector<BatchPtr>> batches;  // by leader node
    int64_t next_check_ms = INT64_MAX;  // when a lingering or backing-off batch becomes ready
    std::set<std::string> topics_without_leader;
  };
  // May the sender take `head` of its partition now (idempotence gates: in-flight counts,
  // retries alone). Called under the accumulator's lock: must not call back into it.
  using PartitionGate = std::function<bool(const ProducerBatch& head)>;
  // Takes ready batches, at most one per partition and max.request.size bytes per node, for
  // nodes that `node_has_room`.
  DrainResult Drain(const ClusterMetadata& cluster, int64_t now_ms,
                    const std::function<bool(int32_t node)>& node_has_room,
                    const PartitionGate& gate);

  // Puts a batch back for a retry (front of its deque; sequenced batches in sequence order).
  void Reenqueue(BatchPtr batch);
  // Removes queued batches whose delivery.timeout.ms has passed (for the sender to fail).
  std::vector<BatchPtr> RemoveExpired(int64_t now_ms);
  // Removes every queued batch (force close, fatal errors).
  std::vector<BatchPtr> RemoveAll();
  // Removes the queued batches `select` picks.
  std::vector<BatchPtr> RemoveIf(const std::function<bool(const ProducerBatch&)>& select);
  // Queued batches that carry a sequence (for an idempotent epoch reset), in deque order.
  void ForEachQueued(const std::function<void(ProducerBatch&)>& visit);
  // Returns a completed batch's memory and marks it done for Flush.
  void Deallocate(const ProducerBatch& batch);
  // After sealing a batch: the observed compression ratio of its topic, for sizing new batches.
  void RecordCompressionRatio(std::string_view topic, double ratio);

  // Flush: every queued batch is ready until EndFlush. AwaitFlush waits until every batch created
  // before BeginFlush has been deallocated.
  uint64_t BeginFlush();
  void AwaitFlush(uint64_t mark);
  void EndFlush();
  // Refuses appends from now on; every batch becomes ready.
  void Close();
  bool closed() const;
  bool HasQueued() const;
  // Batches created and not yet deallocated (queued or in flight).
  size_t IncompleteCount() const;

 private:
  struct TopicState {
    int32_t partition_count = -1;
    std::vector<int32_t> available;
    int32_t sticky_partition = -1;
    double compression_ratio = 1.0;  // estimated compressed/uncompressed
  };
  TopicState* FindTopic(std::string_view topic);
  // The batch capacity for a new batch of `topic` able to take a record of `record_bytes`.
  // A new batch's capacity: kFirstBatchBytes (or batch.size when smaller), doubling up to
  // batch.size for each batch of the partition that was full (still queued, or sent full); a
  // batch sent before it was full (after linger.ms) brings the partition back to
  // kFirstBatchBytes. A partition written slowly holds small batches; a busy one grows to
  // batch.size within a few batches, also under sticky partitioning (a batch per partition in
  // turn).
  size_t NewBatchCapacity(const TopicState& topic, size_t record_bytes, const TopicPartition& tp,
                          const ProducerBatch* previous) const;
  // Appends to the open batch of `tp` if there is one with room (lock held).
  bool TryAppendLocked(const TopicPartition& tp, const RecordRef& r, SendCallback& callback,
                       bool* full);
  int32_t StickyPartitionLocked(std::string_view topic, TopicState& state, size_t record_bytes,
                                const RecordRef& r);
  bool ReadyLocked(const ProducerBatch& head, size_t deque_size, int64_t now_ms,
                   int64_t* next_check_ms) const;

  const AccumulatorConfig config_;
  MemoryBudget& memory_;
  mutable std::mutex mu_;
  std::condition_variable flush_cv_;
  absl::flat_hash_map<std::string, TopicState> topics_;
  std::map<TopicPartition, std::deque<BatchPtr>> deques_;
  // Partitions whose next batch is larger than kFirstBatchBytes (NewBatchCapacity).
  std::map<TopicPartition, size_t> next_capacity_;
  std::set<uint64_t> incomplete_;  // ids of batches not yet deallocated
  uint64_t next_batch_id_ = 1;
  int flushes_in_progress_ = 0;
  bool closed_ = false;
  size_t drain_start_ = 0;
  std::minstd_rand random_;
};

}  // namespace strand::client
