// Partition: roles, the produce path, the high watermark and producer state. Reads and the
// follower paths are in partition_fetch.cc.
#include "broker/replica/partition.h"

#include "broker/replica/mutants.h"

#include <fmt/format.h>

#include "common/big_endian.h"
#include "common/check.h"
#include "record/record_batch.h"
#include "storage/errc.h"
#include "storage/file.h"

namespace strand::broker {
namespace {

constexpr int64_t kSnapshotEveryBytes = 64 << 20;
constexpr int64_t kScanChunkBytes = 1 << 20;
constexpr int64_t kMaxSnapshotBytes = 256 << 20;
constexpr int64_t kProposalWaitMs = 10'000;
constexpr int64_t kRefusedBackoffMs = 500;

}  // namespace

KafkaError StorageError(const absl::Status& status) { return storage::ToKafkaError(status); }

void Partition::TakeOfflineOnIoError(const absl::Status& status) {
  // An I/O error means a dying disk: stop using the log, as Kafka takes a log directory
  // offline. The broker then asks to be fenced (broker_server.cc). A full disk passes: the log
  // cut the failed append back, and the broker stays fenced only while the disk is full.
  if (storage::StorageErrcOf(status) == storage::Errc::kIoError) log_->TakeOffline(status);
}

Partition::Partition(storage::TopicPartition tp, std::shared_ptr<storage::Log> log, NodeId self,
                     ProgressListener listener, Clock& clock)
    : tp_(std::move(tp)),
      log_context_(tp_),
      log_(std::move(log)),
      self_(self),
      listener_(std::move(listener)),
      clock_(clock) {
  std::lock_guard lock(mu_);
  RebuildProducerStateLocked();
}

PartitionRole Partition::role() const {
  std::lock_guard lock(mu_);
  return role_;
}

LeaderEpoch Partition::leader_epoch() const {
  std::lock_guard lock(mu_);
  return assignment_.leader_epoch;
}

NodeId Partition::leader() const {
  std::lock_guard lock(mu_);
  return assignment_.leader;
}

std::vector<NodeId> Partition::isr() const {
  std::lock_guard lock(mu_);
  return assignment_.isr;
}

bool Partition::InIsr(NodeId node) const {
  std::lock_guard lock(mu_);
  return assignment_.InIsr(node);
}

std::optional<KafkaError> Partition::CheckEpoch(LeaderEpoch requested) const {
  if (requested == kNoLeaderEpoch) return std::nullopt;  // an old client: no check
  if (requested < assignment_.leader_epoch) return KafkaError::kFencedLeaderEpoch;
  if (requested > assignment_.leader_epoch) return KafkaError::kUnknownLeaderEpoch;
  return std::nullopt;
}

absl::Status Partition::BecomeLeader(const PartitionAssignment& a, const PartitionSettings& s,
                                     int64_t now_ms) {
  {
    std::lock_guard lock(mu_);
    if (stopped_ || a.leader_epoch < assignment_.leader_epoch) return absl::OkStatus();
    if (role_ == PartitionRole::kLeader && a.leader_epoch == assignment_.leader_epoch) {
      return absl::OkStatus();
    }
    if (!a.InIsr(self_)) {
      // The controllers never write this (they check it before appending); refuse rather than
      // lead with a high watermark that counts no copy of its own.
      return absl::FailedPreconditionError(
          fmt::format("the metadata makes broker {} leader at epoch {} with an ISR that lacks it",
                      self_, a.leader_epoch));
    }
    const Offset end = log_->LogEndOffset();
    // The epoch starts at our log end: a follower's fetch of an older epoch past this point
    // is a divergence (KIP-101).
    if (absl::Status st = log_->AssignLeaderEpoch(a.leader_epoch, end); !st.ok()) return st;
    assignment_ = a;
    settings_ = s;
    leader_state_.emplace(self_, a.replicas, a.isr, end, now_ms);
    role_ = PartitionRole::kLeader;
    stranded_ = false;
    proposal_outstanding_ = false;
    awaited_partition_epoch_ = -1;
  }
  NotifyProgress();
  return absl::OkStatus();
}

absl::Status Partition::BecomeFollower(const PartitionAssignment& a, const PartitionSettings& s) {
  Completions ready;
  {
    std::lock_guard lock(mu_);
    if (stopped_ || a.leader_epoch < assignment_.leader_epoch) return absl::OkStatus();
    assignment_ = a;
    settings_ = s;
    leader_state_.reset();
    role_ = PartitionRole::kFollower;
    stranded_ = false;
    proposal_outstanding_ = false;
    FailWaitersLocked(KafkaError::kNotLeaderOrFollower,
                      fmt::format("leadership moved to broker {}", a.leader), &ready);
  }
  Finish(std::move(ready));
  NotifyProgress();
  return absl::OkStatus();
}

std::string Partition::StrandedMessage() const {
  return fmt::format(
      "broker {} is cut off from the controllers and its followers: it may no "
      "longer lead {}-{} (ask another broker for the leader)",
      self_, tp_.topic, tp_.partition);
}

void Partition::CheckStranded(bool cut_off, int64_t now_ms) {
  Completions ready;
  {
    std::lock_guard lock(mu_);
    if (!cut_off) {
      stranded_ = false;
      return;
    }
    if (stranded_ || stopped_ || role_ != PartitionRole::kLeader) return;
    bool others = false;
    for (NodeId member : leader_state_->isr()) {
      if (member == self_) continue;
      others = true;
      const FollowerProgress* f = leader_state_->follower(member);
      if (f != nullptr && now_ms - f->last_fetch_ms < kStrandedAfterMs) return;  // still here
    }
    if (!others) return;  // alone in the ISR: no other replica can have been elected
    stranded_ = true;
    FailWaitersLocked(KafkaError::kNotLeaderOrFollower, StrandedMessage(), &ready);
  }
  log_context_.Warn(
      "stranded: cut off from the controllers and every follower; refusing produce "
      "and reads until the controllers answer");
  Finish(std::move(ready));
}

bool Partition::stranded() const {
  std::lock_guard lock(mu_);
  return stranded_;
}

void Partition::UpdateAssignment(const PartitionAssignment& a, const PartitionSettings& s,
                                 int64_t now_ms) {
  Completions ready;
  {
    std::lock_guard lock(mu_);
    if (stopped_ || a.leader_epoch != assignment_.leader_epoch) return;
    if (role_ == PartitionRole::kLeader && !a.InIsr(self_)) {
      log_context_.Error("ignoring an assignment at epoch {} whose ISR lacks its leader {}",
                         a.leader_epoch, self_);
      return;
    }
    const bool partition_changed = a.partition_epoch != assignment_.partition_epoch;
    assignment_ = a;
    settings_ = s;
    if (awaited_partition_epoch_ >= 0 && a.partition_epoch >= awaited_partition_epoch_) {
      proposal_outstanding_ = false;
      awaited_partition_epoch_ = -1;
    }
    if (role_ == PartitionRole::kLeader) {
      leader_state_->Update(a.replicas, a.isr, now_ms);
      // The committed ISR now says whether a pending expansion made it.
      if (partition_changed) leader_state_->ClearPendingMembers();
      if (static_cast<int32_t>(a.isr.size()) < s.min_insync_replicas) {
        // Kafka's NOT_ENOUGH_REPLICAS_AFTER_APPEND: written here, but it cannot commit now.
        FailWaitersLocked(KafkaError::kNotEnoughReplicasAfterAppend,
                          fmt::format("the ISR shrank to {} below min.insync.replicas={}",
                                      a.isr.size(), s.min_insync_replicas),
                          &ready);
      }
      AdvanceHighWatermarkLocked(&ready);
    }
  }
  Finish(std::move(ready));
}

void Partition::Stop() {
  Completions ready;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    role_ = PartitionRole::kNone;
    leader_state_.reset();
    FailWaitersLocked(KafkaError::kNotLeaderOrFollower, "this broker no longer hosts the partition",
                      &ready);
  }
  Finish(std::move(ready));
}

void Partition::Produce(std::span<uint8_t> records, int16_t acks, int64_t deadline_ms,
                        ProduceDone done) {
  bool wait = false;
  ProduceOutcome outcome;
  Offset appended{-1};
  {
    std::lock_guard lock(mu_);
    outcome = AppendLocked(records, acks, deadline_ms, &done, &wait, /*released=*/false);
    appended = std::exchange(appended_up_to_, Offset(-1));
  }
  if (appended >= Offset(0)) {
    // Outside the lock: the callback may run inline when the offset is already durable.
    std::weak_ptr<Partition> self = weak_from_this();
    log_->NotifyWhenDurable(appended, [self](absl::Status status) {
      // Not durable (truncated away, log closed or failed): nothing to advance. This runs
      // inline from TruncateTo, which Truncate calls with mu_ held — so never lock then.
      // Waiters end at their deadline or when the partition changes role.
      if (!status.ok()) return;
      auto p = self.lock();
      if (!p) return;
      Completions ready;
      {
        std::lock_guard lock(p->mu_);
        p->AdvanceHighWatermarkLocked(&ready);
      }
      p->Finish(std::move(ready));
    });
    NotifyProgress();  // the log end moved: wake followers waiting for data
  }
  if (!wait) done(std::move(outcome));
  Finish({});
}

ProduceOutcome Partition::AppendLocked(std::span<uint8_t> records, int16_t acks,
                                       int64_t deadline_ms, ProduceDone* done, bool* wait,
                                       bool released) {
  const bool may_hold = !released;
  ProduceOutcome out;
  out.held = released;
  out.leader = assignment_.leader;
  out.leader_epoch = assignment_.leader_epoch;
  auto fail = [&](KafkaError e, std::string message) {
    out.error = e;
    out.message = std::move(message);
    return out;
  };
  if (stopped_ || role_ != PartitionRole::kLeader) {
    return fail(KafkaError::kNotLeaderOrFollower,
                fmt::format("broker {} does not lead {}-{}", self_, tp_.topic, tp_.partition));
  }
  if (stranded_) {
    return fail(KafkaError::kNotLeaderOrFollower, StrandedMessage());
  }
  if (acks == -1 &&
      static_cast<int32_t>(leader_state_->isr().size()) < settings_.min_insync_replicas) {
    std::string message = fmt::format("the ISR has {} replica(s); min.insync.replicas is {}",
                                      leader_state_->isr().size(), settings_.min_insync_replicas);
    FailHeldLocked(KafkaError::kNotEnoughReplicas, message);
    return fail(KafkaError::kNotEnoughReplicas, std::move(message));
  }
  if (records.size() < record::batch_layout::kHeaderSize) {
    return fail(KafkaError::kCorruptMessage, "the records are shorter than a batch header");
  }
  const auto header = record::RecordBatchHeader::Parse(records.data());
  if (header.size_bytes() < static_cast<int64_t>(record::batch_layout::kHeaderSize) ||
      header.size_bytes() > static_cast<int64_t>(records.size())) {
    return fail(KafkaError::kCorruptMessage,
                fmt::format("the first batch claims {} bytes; {} were sent", header.size_bytes(),
                            records.size()));
  }
  const bool idempotent = header.producer_id >= ProducerId(0);
  int32_t last_sequence = 0;
  if (idempotent) {
    if (static_cast<size_t>(header.size_bytes()) != records.size()) {
      return fail(KafkaError::kInvalidRecord,
                  "an idempotent produce carries exactly one batch per partition");
    }
    last_sequence = LastSequence(header.base_sequence, header.record_count);
    auto decision =
        producers_.Check(header.producer_id, header.producer_epoch, header.base_sequence,
                         last_sequence, settings_.producer_ids_max);
    if (!decision.ok()) {
      const KafkaError e =
          ErrcOf<KafkaError>(decision.status()).value_or(KafkaError::kUnknownServerError);
      const bool ahead =
          (e == KafkaError::kOutOfOrderSequenceNumber || e == KafkaError::kUnknownProducerId) &&
          producers_.MayFollowLater(header.producer_id, header.producer_epoch,
                                    header.base_sequence);
      if (ahead && may_hold) {
        auto& held = held_[header.producer_id];
        if (held.size() < kHeldPerProducer && held_count_ < kHeldMax) {
          // Overtook batches sent before it: wait for them (in-order produce, see Produce).
          held.push_back(Held{header.producer_epoch, header.base_sequence,
                              std::string(records.begin(), records.end()), acks, deadline_ms,
                              std::min(deadline_ms, clock_.NowMonotonicMs() + kInOrderWaitMs),
                              std::move(*done)});
          ++held_count_;
          *wait = true;
          return out;
        }
        if (held.empty()) held_.erase(header.producer_id);
      }
      if (!ahead) {
        // A refused batch leaves a gap its producer's held batches would wait on in vain.
        FailHeldLocked(KafkaError::kOutOfOrderSequenceNumber,
                       fmt::format("a batch of producer {} sent before this one was refused ({})",
                                   header.producer_id, KafkaErrorName(e)),
                       std::pair{header.producer_id, header.producer_epoch});
      }
      return fail(e, std::string(decision.status().message()));
    }
    if (decision->duplicate) {
      // A retry: answer with the original offsets, and (for acks=all) once they are committed.
      out.base_offset = decision->duplicate->first_offset;
      out.last_offset = decision->duplicate->last_offset;
      out.log_start_offset = log_->LogStartOffset();
    }
  }
  if (out.base_offset == Offset(-1)) {
    auto info = log_->AppendAsLeader(records, assignment_.leader_epoch);
    if (!info.ok()) {
      TakeOfflineOnIoError(info.status());
      if (idempotent) {
        FailHeldLocked(KafkaError::kOutOfOrderSequenceNumber,
                       fmt::format("a batch of producer {} sent before this one failed: {}",
                                   header.producer_id, std::string(info.status().message())),
                       std::pair{header.producer_id, header.producer_epoch});
      }
      return fail(StorageError(info.status()), std::string(info.status().message()));
    }
    out.base_offset = info->base_offset;
    out.last_offset = info->last_offset;
    out.appended_us = clock_.NowMonotonicUs();
    out.log_append_time_ms = info->log_append_time_ms;
    out.log_start_offset = info->log_start_offset;
    if (idempotent) {
      producers_.Update(header.producer_id, header.producer_epoch,
                        ProducerBatch{header.base_sequence, last_sequence, info->base_offset,
                                      info->last_offset, header.max_timestamp},
                        clock_.NowWallMs());
    }
    bytes_since_snapshot_ += static_cast<int64_t>(records.size());
  }
  appended_up_to_ = std::max(appended_up_to_, out.last_offset);
  // (A planted bug in strand-server-mutants only: answer at once, as if acks were 1.)
  if (acks == -1 && !STRAND_BROKER_MUTANT(kAckBeforeReplication)) {
    *wait = true;
    waiters_.emplace(out.last_offset, Waiter{deadline_ms, out, std::move(*done)});
    Completions ready;
    AdvanceHighWatermarkLocked(&ready);
    // Completions found here run on return, outside the lock (Finish is lock-free of mu_).
    for (auto& [cb, o] : ready) deferred_.emplace_back(std::move(cb), std::move(o));
  }
  if (idempotent && may_hold && !held_.empty()) ReleaseHeldLocked(header.producer_id);
  return out;
}

void Partition::ReleaseHeldLocked(ProducerId producer) {
  while (true) {
    auto it = held_.find(producer);
    if (it == held_.end()) return;
    auto& held = it->second;
    // The first held batch whose outcome is now known: in sequence, a duplicate, or refused.
    auto next = std::find_if(held.begin(), held.end(), [&](const Held& h) {
      return !producers_.MayFollowLater(producer, h.epoch, h.first_sequence);
    });
    if (next == held.end()) return;
    Held h = std::move(*next);
    held.erase(next);
    --held_count_;
    if (held.empty()) held_.erase(it);
    bool wait = false;
    std::span<uint8_t> span(reinterpret_cast<uint8_t*>(h.records.data()), h.records.size());
    ProduceOutcome o = AppendLocked(span, h.acks, h.deadline_ms, &h.done, &wait,
                                    /*released=*/true);
    if (!wait) deferred_.emplace_back(std::move(h.done), std::move(o));
  }
}

void Partition::FailHeldLocked(KafkaError error, const std::string& message,
                               std::optional<std::pair<ProducerId, ProducerEpoch>> only) {
  AnswerHeldLocked(
      [&](ProducerId producer, const Held& h) {
        return !only || (producer == only->first && h.epoch == only->second);
      },
      error, [&](ProducerId, const Held&) { return message; }, &deferred_);
}

void Partition::AnswerHeldLocked(const std::function<bool(ProducerId, const Held&)>& pick,
                                 KafkaError error,
                                 const std::function<std::string(ProducerId, const Held&)>& message,
                                 Completions* out) {
  for (auto it = held_.begin(); it != held_.end();) {
    auto& held = it->second;
    for (auto h = held.begin(); h != held.end();) {
      if (!pick(it->first, *h)) {
        ++h;
        continue;
      }
      ProduceOutcome o;
      o.held = true;
      o.error = error;
      o.message = message(it->first, *h);
      o.leader = assignment_.leader;
      o.leader_epoch = assignment_.leader_epoch;
      out->emplace_back(std::move(h->done), std::move(o));
      h = held.erase(h);
      --held_count_;
    }
    it = held.empty() ? held_.erase(it) : std::next(it);
  }
}

void Partition::AdvanceHighWatermarkLocked(Completions* ready) {
  if (role_ != PartitionRole::kLeader) return;
  const Offset old = log_->HighWatermark();
  const Offset durable = log_->DurableOffset();
  const Offset hw = leader_state_->HighWatermark(durable, old, settings_.min_insync_replicas);
  // The replication rules (ARCHITECTURE.md section 5): the leader counts itself, and the high
  // watermark neither passes the log end nor moves back.
  STRAND_CHECK_MSG(leader_state_->InIsr(self_), "{} leader {} is not in its ISR",
                   log_context_.prefix(), self_);
  STRAND_CHECK_MSG(hw >= old, "{} high watermark moved back from {} to {}", log_context_.prefix(),
                   old, hw);
  STRAND_CHECK_MSG(hw <= log_->LogEndOffset(), "{} high watermark {} is past the log end {}",
                   log_context_.prefix(), hw, log_->LogEndOffset());
  if (hw > old) {
    log_->SetHighWatermark(hw);
    hw_moved_ = true;
  }
  if (waiters_.empty()) return;
  // Stage times (ProduceOutcome): the waiters the leader's fsync now covers, then those the
  // high watermark (never past `durable`) passed — committed (a retried batch may have been
  // committed long ago).
  const int64_t now_us = clock_.NowMonotonicUs();
  for (auto it = waiters_.begin(); it != waiters_.end() && it->first < durable; ++it) {
    if (it->second.outcome.leader_durable_us == 0) it->second.outcome.leader_durable_us = now_us;
  }
  while (!waiters_.empty() && waiters_.begin()->first < hw) {
    auto node = waiters_.extract(waiters_.begin());
    node.mapped().outcome.committed_us = now_us;
    ready->emplace_back(std::move(node.mapped().done), std::move(node.mapped().outcome));
  }
}

void Partition::FailWaitersLocked(KafkaError error, const std::string& message,
                                  Completions* ready) {
  for (auto& [offset, w] : waiters_) {
    w.outcome.error = error;
    w.outcome.message = message;
    w.outcome.leader = assignment_.leader;
    w.outcome.leader_epoch = assignment_.leader_epoch;
    ready->emplace_back(std::move(w.done), std::move(w.outcome));
  }
  waiters_.clear();
  // Held batches were never appended (the ISR shrinking after an append does not concern them).
  FailHeldLocked(
      error == KafkaError::kNotEnoughReplicasAfterAppend ? KafkaError::kNotEnoughReplicas : error,
      message);
}

void Partition::Finish(Completions ready) {
  Completions deferred;
  bool moved = false;
  {
    std::lock_guard lock(mu_);
    deferred.swap(deferred_);
    moved = std::exchange(hw_moved_, false);
  }
  for (auto& [done, outcome] : ready) done(std::move(outcome));
  for (auto& [done, outcome] : deferred) done(std::move(outcome));
  if (moved) NotifyProgress();
}

void Partition::NotifyProgress() {
  if (listener_) listener_(tp_);
}

std::optional<IsrProposal> Partition::Tick(int64_t now_ms,
                                           const std::function<bool(NodeId)>& eligible) {
  Completions ready;
  std::optional<IsrProposal> proposal;
  {
    std::lock_guard lock(mu_);
    while (!waiters_.empty()) {
      auto it = std::min_element(
          waiters_.begin(), waiters_.end(),
          [](const auto& a, const auto& b) { return a.second.deadline_ms < b.second.deadline_ms; });
      if (it->second.deadline_ms > now_ms) break;
      it->second.outcome.error = KafkaError::kRequestTimedOut;
      it->second.outcome.message = "not replicated to the ISR in time";
      ready.emplace_back(std::move(it->second.done), std::move(it->second.outcome));
      waiters_.erase(it);
    }
    AnswerHeldLocked(
        [&](ProducerId, const Held& h) { return h.give_up_ms <= now_ms; },
        KafkaError::kOutOfOrderSequenceNumber,
        [](ProducerId producer, const Held& h) {
          return fmt::format(
              "producer {} sent sequence {}; the batches it sent before never came (waited up to "
              "{} ms)",
              producer, h.first_sequence, kInOrderWaitMs);
        },
        &ready);
    if (role_ == PartitionRole::kLeader) {
      AdvanceHighWatermarkLocked(&ready);
      if (proposal_outstanding_ && now_ms - proposal_since_ms_ > kProposalWaitMs) {
        proposal_outstanding_ = false;  // the answer or the metadata never came: try again
      }
      if (!proposal_outstanding_ && now_ms >= next_proposal_ms_) {
        auto isr = leader_state_->ProposedIsr(now_ms, settings_.replica_lag_time_max_ms,
                                              log_->HighWatermark());
        if (isr && eligible) {
          // Only brokers the controller would accept may join.
          std::erase_if(*isr, [&](NodeId n) { return !leader_state_->InIsr(n) && !eligible(n); });
          if (*isr == leader_state_->isr()) isr.reset();
        }
        if (isr) {
          leader_state_->AddPendingMembers(*isr);
          proposal_outstanding_ = true;
          proposal_since_ms_ = now_ms;
          awaited_partition_epoch_ = -1;
          proposal = IsrProposal{assignment_.topic_id, tp_.partition, assignment_.leader_epoch,
                                 assignment_.partition_epoch, *isr};
        }
      }
      producers_.Expire(clock_.NowWallMs(), settings_.producer_id_expiration_ms);
    }
    if (bytes_since_snapshot_ >= kSnapshotEveryBytes) SaveProducerStateLocked();
  }
  Finish(std::move(ready));
  return proposal;
}

void Partition::IsrProposalDone(bool accepted, int32_t partition_epoch, int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (accepted && assignment_.partition_epoch < partition_epoch) {
    awaited_partition_epoch_ = partition_epoch;
    proposal_since_ms_ = now_ms;
    return;  // still outstanding until the metadata log brings it
  }
  proposal_outstanding_ = false;
  if (!accepted) next_proposal_ms_ = now_ms + kRefusedBackoffMs;
  // Refused while the controller's partition epoch is still the one we know: the expansion
  // did not happen. (No answer, or a newer epoch: wait for the metadata log to tell.)
  if (!accepted && partition_epoch >= 0 && partition_epoch == assignment_.partition_epoch &&
      leader_state_) {
    leader_state_->ClearPendingMembers();
  }
}

std::string Partition::SnapshotPath() const { return log_->dir() + "/producer-state.snapshot"; }

void Partition::SaveProducerState() {
  std::lock_guard lock(mu_);
  SaveProducerStateLocked();
}

void Partition::SaveProducerStateLocked() {
  // Header: the log end the state corresponds to. Written to a temporary file and renamed, so a
  // crash leaves the old snapshot or the new one; a stale one only means a longer replay.
  std::string data(8, '\0');
  StoreBigEndian64(reinterpret_cast<uint8_t*>(data.data()),
                   static_cast<uint64_t>(log_->LogEndOffset().value()));
  data += producers_.Serialize();
  // Through the log's file system, written atomically and fsynced: a crash leaves the old
  // snapshot or the new one, and a stale one only means a longer replay.
  absl::Status s = storage::WriteFileAtomically(log_->filesystem(), SnapshotPath(), data);
  if (!s.ok()) return;
  bytes_since_snapshot_ = 0;
}

void Partition::RebuildProducerStateLocked() {
  producers_.Clear();
  Offset from = log_->LogStartOffset();
  auto file = storage::ReadSmallFile(log_->filesystem(), SnapshotPath(), kMaxSnapshotBytes);
  const std::string data = file.ok() ? *std::move(file) : std::string();
  if (data.size() >= 8) {
    const Offset at(
        static_cast<int64_t>(LoadBigEndian64(reinterpret_cast<const uint8_t*>(data.data()))));
    auto parsed = ProducerStateManager::Parse(std::string_view(data).substr(8));
    if (parsed.ok() && at <= log_->LogEndOffset() && at >= from) {
      producers_ = *std::move(parsed);
      from = at;
    }
  }
  // Replay what the snapshot does not cover.
  while (from < log_->LogEndOffset()) {
    auto read = log_->Read(from, kScanChunkBytes);
    if (!read.ok() || read->records.empty()) break;
    UpdateProducerStateLocked(read->records.span());
    if (read->next_offset <= from) break;
    from = read->next_offset;
  }
}

void Partition::UpdateProducerStateLocked(std::span<const uint8_t> records) {
  const int64_t now_ms = clock_.NowWallMs();
  size_t pos = 0;
  while (pos + record::batch_layout::kHeaderSize <= records.size()) {
    const auto h = record::RecordBatchHeader::Parse(records.data() + pos);
    if (h.size_bytes() <= 0 || pos + static_cast<size_t>(h.size_bytes()) > records.size()) break;
    if (h.producer_id >= ProducerId(0) && !h.is_control() && h.base_sequence >= 0) {
      producers_.Update(
          h.producer_id, h.producer_epoch,
          ProducerBatch{h.base_sequence, LastSequence(h.base_sequence, h.record_count),
                        h.base_offset, h.last_offset(), h.max_timestamp},
          now_ms);
    }
    pos += static_cast<size_t>(h.size_bytes());
  }
}

}  // namespace strand::broker
