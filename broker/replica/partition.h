#pragma once

// Partition: this broker's replica of one topic partition — its Log and its role in the
// partition (leader, follower, or none), as the metadata log assigns them.
//
// As leader it appends producer batches (after the idempotence check), keeps the LeaderState
// of its followers from their fetches, advances the high watermark to the lowest durable offset
// of the ISR (frozen while the ISR is below min.insync.replicas), answers acks=all producers
// once the high watermark passes their batch, and proposes ISR changes. As follower it appends
// what its fetcher brings, truncates on divergence, and takes the leader's high watermark.
// Producer state is kept in both roles so a new leader can deduplicate retries at once.
//
// Fencing: every role change carries the leader epoch from the metadata log; requests with an
// older epoch get FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH (KIP-320), and a
// partition that is no longer leader answers NOT_LEADER_OR_FOLLOWER — including acks=all
// producers still waiting, whose writes may or may not end up committed.
//
// Thread-safe: one mutex guards the role, the leader state, producer state and waiters; log
// reads run outside it. Callbacks (produce completions, the progress listener) run with no lock
// held. Owned by the ReplicaManager (shared_ptr; fetch threads hold references).

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "broker/logger.h"
#include "broker/replica/divergence.h"
#include "broker/replica/leader_state.h"
#include "broker/replica/producer_state.h"
#include "common/kafka_error.h"
#include "storage/log.h"
#include "storage/log_manager.h"

namespace strand::broker {

struct PartitionAssignment {
  std::string topic_id;  // 16 bytes, from the metadata log
  NodeId leader = kNoNode;
  LeaderEpoch leader_epoch{-1};
  int32_t partition_epoch = 0;
  std::vector<NodeId> replicas;
  std::vector<NodeId> isr;
  bool InIsr(NodeId node) const { return std::find(isr.begin(), isr.end(), node) != isr.end(); }
};

struct PartitionSettings {
  int32_t min_insync_replicas = 1;
  int64_t replica_lag_time_max_ms = 10'000;
  int64_t producer_id_expiration_ms = 86'400'000;
  size_t producer_ids_max = 10'000;  // strand.producer.ids.per.partition.max
};

enum class PartitionRole { kNone, kLeader, kFollower };

struct ProduceOutcome {
  KafkaError error = KafkaError::kNone;
  std::string message;
  Offset base_offset{-1};
  Offset last_offset{-1};
  int64_t log_append_time_ms = -1;
  Offset log_start_offset{0};
  NodeId leader = kNoNode;  // hint, with NOT_LEADER_OR_FOLLOWER
  LeaderEpoch leader_epoch{-1};
  bool held = false;  // the batch overtook earlier ones of its producer and was held (Produce)
  // Where an acks=all write's time went, in the partition clock's monotonic microseconds (0: not
  // reached): appended to the leader's log, fsynced there, and committed (the high watermark
  // passed it: every ISR member reported it durable).
  int64_t appended_us = 0;
  int64_t leader_durable_us = 0;
  int64_t committed_us = 0;
};

struct ReadOutcome {
  KafkaError error = KafkaError::kNone;
  std::string message;
  storage::ReadResult data;
  std::optional<Divergence> divergence;  // follower fetches only
  NodeId leader = kNoNode;
  LeaderEpoch leader_epoch{-1};
};

// An ISR change the leader wants the controller to make.
struct IsrProposal {
  std::string topic_id;
  int32_t partition = 0;
  LeaderEpoch leader_epoch{-1};
  int32_t partition_epoch = 0;
  std::vector<NodeId> isr;
};

class Partition : public std::enable_shared_from_this<Partition> {
 public:
  using ProduceDone = std::function<void(ProduceOutcome)>;
  // Told when the high watermark or log end moved (to wake long-polling fetches).
  using ProgressListener = std::function<void(const storage::TopicPartition&)>;

  // `clock`: broker wall time for idempotent producers' expiry.
  Partition(storage::TopicPartition tp, std::shared_ptr<storage::Log> log, NodeId self,
            ProgressListener listener, Clock& clock = SystemClock::Instance());

  // ---- roles (the reconciler, from metadata) ----
  absl::Status BecomeLeader(const PartitionAssignment& a, const PartitionSettings& s,
                            int64_t now_ms);
  absl::Status BecomeFollower(const PartitionAssignment& a, const PartitionSettings& s);
  // Same leader epoch, new ISR / replicas / settings (e.g. an ISR change committed).
  void UpdateAssignment(const PartitionAssignment& a, const PartitionSettings& s, int64_t now_ms);
  // No longer a replica (or the topic is gone): fail waiters, refuse everything.
  void Stop();

  // ---- leader ----
  // Appends and answers per `acks` (0 and 1 at once; -1 once the high watermark passes the
  // batch, or with REQUEST_TIMED_OUT at deadline_ms). `records` is rewritten in place.
  //
  // In-order produce: the requests of one connection are handled concurrently, so an idempotent
  // producer's batch can get here before the batches it sent earlier. Such a batch (its sequence
  // past the next one expected: ProducerStateManager::MayFollowLater) is held back, copied, for
  // up to kInOrderWaitMs, and appended as soon as the batches before it are; only if they never
  // come (or fail) is it refused with OUT_OF_ORDER_SEQUENCE_NUMBER, which the producer resends.
  // At most kHeldPerProducer batches per producer and kHeldMax per partition are held.
  static constexpr int64_t kInOrderWaitMs = 500;
  static constexpr size_t kHeldPerProducer = 5;  // Kafka's max.in.flight for idempotence
  static constexpr size_t kHeldMax = 1000;
  void Produce(std::span<uint8_t> records, int16_t acks, int64_t deadline_ms, ProduceDone done);
  // A follower's fetch: bookkeeping (its progress, the high watermark) and its data, unless its
  // log diverged (then only the divergence).
  ReadOutcome FollowerFetch(NodeId follower, Offset fetch_offset, LeaderEpoch last_fetched_epoch,
                            Offset durable_offset, LeaderEpoch current_leader_epoch,
                            int64_t max_bytes, int64_t now_ms);
  // A consumer's read, up to the high watermark. Leaders serve it; followers too when
  // `allow_follower` (fetch from the closest replica, KIP-392).
  ReadOutcome ConsumerRead(Offset fetch_offset, LeaderEpoch current_leader_epoch, int64_t max_bytes,
                           bool allow_follower);
  // Expires acks=all waiters past their deadline and returns the ISR change to propose, if any
  // (one at a time: none while a proposal is outstanding, nor for a moment after a refusal).
  // `eligible` (may be null) says which brokers may join the ISR (registered, unfenced, not
  // shutting down: the controller refuses the others).
  std::optional<IsrProposal> Tick(int64_t now_ms,
                                  const std::function<bool(NodeId)>& eligible = nullptr);
  // The controller's answer to the last proposal. When accepted, no new proposal is made until
  // the metadata log brings the change (partition epoch `partition_epoch`), or for 10 s.
  void IsrProposalDone(bool accepted, int32_t partition_epoch, int64_t now_ms);

  // ---- a leader cut off ----
  // Told (periodically, by the broker's monitor) whether this broker is cut off from the
  // controllers. A leader that is cut off while every other ISR member has stopped fetching from
  // it for kStrandedAfterMs can no longer commit anything (the controllers have most likely
  // fenced it and elected another leader): it is *stranded* — it fails its acks=all waiters and
  // refuses produce and consumer reads with NOT_LEADER_OR_FOLLOWER, so that clients look for the
  // new leader at once instead of waiting for their request timeout. A leader whose followers
  // still fetch (the controllers are down, not this broker) keeps serving. Cleared when the
  // controllers answer again or a new role arrives.
  void CheckStranded(bool cut_off, int64_t now_ms);
  bool stranded() const;
  static constexpr int64_t kStrandedAfterMs = 1000;

  // ---- follower ----
  // Appends fetched batches and takes the leader's high watermark. With `fetched_at` (the
  // fetch offset the records answer), fails with ABORTED, appending nothing, when the log end
  // moved since the fetch was sent (a corrupt suffix was cut meanwhile): the next fetch asks
  // again from the new end.
  // `caller_flushes`: the caller waits for durability right after (Log::WaitDurable, which
  // fsyncs on its thread): no flusher thread is woken for these records.
  absl::StatusOr<storage::AppendInfo> AppendFromLeader(
      std::span<uint8_t> records, Offset leader_high_watermark, Offset leader_log_start,
      std::optional<Offset> fetched_at = std::nullopt, bool caller_flushes = false);
  // Truncates a divergent suffix; returns the new log end.
  absl::StatusOr<Offset> Truncate(const Divergence& divergence);
  // Starts over at `offset` (the follower is behind the leader's log start).
  absl::Status ResetTo(Offset offset);
  // A read found a stored batch failing its CRC (storage never serves it). On a follower this
  // schedules a repair from the first corrupt batch (a scrub of the whole log, only when
  // corruption shows). While RepairPending(), the broker reports the replica offline to the
  // controllers, which take it out of the ISR and keep it out. The log is cut back only once
  // the replica is out of the ISR, never while it counts toward the high watermark, and the
  // repair ends once the fetched log reaches the end it had when the corruption showed: only
  // then may the leader bring it back (on fetches made after the cut).
  // A leader keeps refusing the read (its followers hold the good copy).
  void RepairCorruption(const absl::Status& status);
  bool RepairPending() const;
  // The fetcher calls this before each fetch of the partition: cuts the log back once the
  // replica is out of the ISR, and ends the repair once it has fetched far enough.
  void AdvanceRepair();

  // ---- facts ----
  const storage::TopicPartition& tp() const { return tp_; }
  std::string topic_id() const;
  std::shared_ptr<storage::Log> log() const { return log_; }
  PartitionRole role() const;
  LeaderEpoch leader_epoch() const;
  NodeId leader() const;
  std::vector<NodeId> isr() const;
  bool InIsr(NodeId node) const;
  Offset high_watermark() const { return log_->HighWatermark(); }
  // Writes the producer-state snapshot (clean shutdown).
  void SaveProducerState();

 private:
  struct Waiter {
    int64_t deadline_ms;
    ProduceOutcome outcome;
    ProduceDone done;
  };
  using Completions = std::vector<std::pair<ProduceDone, ProduceOutcome>>;
  // A batch held back until the batches its producer sent before it land (in-order produce).
  struct Held {
    ProducerEpoch epoch{0};
    int32_t first_sequence = 0;
    std::string records;  // a copy: the caller's buffer is gone by the time it is appended
    int16_t acks = -1;
    int64_t deadline_ms = 0;
    int64_t give_up_ms = 0;  // then OUT_OF_ORDER_SEQUENCE_NUMBER
    ProduceDone done;
  };

  std::optional<KafkaError> CheckEpoch(LeaderEpoch requested) const;  // mu_ held
  std::string StrandedMessage() const;
  // A batch ahead of its producer's sequence is held (*wait is then set) rather than refused,
  // unless it is `released` (a held batch let through by ReleaseHeldLocked).
  ProduceOutcome AppendLocked(std::span<uint8_t> records, int16_t acks, int64_t deadline_ms,
                              ProduceDone* done, bool* wait, bool released);  // mu_ held
  // Appends the held batches of `producer` that are now in sequence (or answers those that can
  // no longer be), in sequence order.
  void ReleaseHeldLocked(ProducerId producer);
  // Answers held batches with `error`: all of them (no producer), or one producer's of `epoch`.
  void FailHeldLocked(KafkaError error, const std::string& message,
                      std::optional<std::pair<ProducerId, ProducerEpoch>> only = std::nullopt);
  // Answers the held batches `pick` selects with `error` and `message`, into `out`.
  void AnswerHeldLocked(const std::function<bool(ProducerId, const Held&)>& pick, KafkaError error,
                        const std::function<std::string(ProducerId, const Held&)>& message,
                        Completions* out);
  void AdvanceHighWatermarkLocked(Completions* ready);
  void FailWaitersLocked(KafkaError error, const std::string& message, Completions* ready);
  void RebuildProducerStateLocked();
  void SaveProducerStateLocked();
  void UpdateProducerStateLocked(std::span<const uint8_t> records);
  void Finish(Completions ready);
  void NotifyProgress();
  void TakeOfflineOnIoError(const absl::Status& status);
  std::string SnapshotPath() const;

  const storage::TopicPartition tp_;
  const PartitionLogger log_context_;
  const std::shared_ptr<storage::Log> log_;
  const NodeId self_;
  const ProgressListener listener_;

  mutable std::mutex mu_;
  PartitionRole role_ = PartitionRole::kNone;
  bool stopped_ = false;
  PartitionAssignment assignment_;
  // A repair (RepairCorruption): cut back to corrupt_from_ once out of the ISR (repair_cut_),
  // done once the log reaches repair_until_ again.
  std::optional<Offset> corrupt_from_;
  Offset repair_until_{0};
  bool repair_cut_ = false;
  PartitionSettings settings_;
  std::optional<LeaderState> leader_state_;
  ProducerStateManager producers_;
  Clock& clock_;
  std::multimap<Offset, Waiter> waiters_;  // by the last offset they wait for
  std::map<ProducerId, std::vector<Held>> held_;  // in-order produce (see Produce)
  size_t held_count_ = 0;
  Offset appended_up_to_{-1};  // the last offset appended (or deduplicated) under this lock hold
  bool proposal_outstanding_ = false;
  int64_t proposal_since_ms_ = 0;
  int32_t awaited_partition_epoch_ = -1;  // an accepted change not yet seen in the metadata
  int64_t next_proposal_ms_ = 0;          // after a refusal, wait before proposing again
  int64_t bytes_since_snapshot_ = 0;
  Completions deferred_;   // completions found while appending, run by Finish without the lock
  bool hw_moved_ = false;  // the high watermark advanced: Finish wakes long-polling fetches
  bool stranded_ = false;  // see CheckStranded
};

// The Kafka error for a storage failure (OFFSET_OUT_OF_RANGE, CORRUPT_MESSAGE, ...).
KafkaError StorageError(const absl::Status& status);

}  // namespace strand::broker
