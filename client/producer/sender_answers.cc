// The sender's handling of answers: per-batch outcomes (complete, retry, fail), and the
// idempotent producer id (InitProducerId at start, epoch bumps).

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <utility>

#include "client/common/cluster_metadata.h"
#include "client/logger.h"
#include "client/producer/sender.h"
#include "client/producer/sender_internal.h"
#include "common/check.h"
#include "common/status.h"

namespace strand::client {
namespace {

bool IsSequenceError(KafkaError error) {
  return error == KafkaError::kOutOfOrderSequenceNumber ||
         error == KafkaError::kUnknownProducerId || error == KafkaError::kInvalidProducerEpoch ||
         error == KafkaError::kProducerFenced;
}

}  // namespace

void Sender::ProcessAnswers() {
  std::vector<InFlight*> answers;
  bool pid_done = false;
  {
    std::lock_guard lock(answers_mu_);
    answers.swap(answers_);
    pid_done = pid_call_ != nullptr && pid_call_->done;
  }
  for (InFlight* raw : answers) {
    auto it = in_flight_.find(raw);
    STRAND_CHECK(it != in_flight_.end());
    std::unique_ptr<InFlight> call = std::move(it->second);
    in_flight_.erase(it);
    --in_flight_per_node_[call->node];
    HandleAnswer(*call);
  }
  if (pid_done) OnPidDone(pid_call_->status);
}

void Sender::HandleAnswer(InFlight& call) {
  // Index the answer by (topic, partition).
  std::map<std::pair<std::string_view, int32_t>, const broker::v1::PartitionProduceResponse*>
      answers;
  if (call.status.ok()) {
    for (const auto& t : call.response.topics()) {
      for (const auto& p : t.partitions()) answers[{t.topic(), p.partition()}] = &p;
    }
  }
  const auto [transport_error, transport_unknown] =
      KafkaErrorOfCall(static_cast<absl::StatusCode>(call.status.error_code()));
  if (!call.status.ok()) {
    metadata_.RequestUpdate();
    ClientLogger()->debug("produce to broker {} ({}) failed: {}", call.node, call.address,
                          call.status.error_message());
  }
  for (size_t i = 0; i < call.batches.size(); ++i) {
    const BatchPtr& batch = call.batches[i];
    const InFlight::Slot slot = call.slots[i];
    // The bytes come back to the batch for a possible retry.
    call.request.mutable_topics(slot.topic)
        ->mutable_partitions(slot.partition)
        ->mutable_records()
        ->swap(batch->wire());
    batch->in_flight = false;
    if (config_.enable_idempotence) idempotence_.OnAnswered(*batch);
    if (call.completed_on_send) continue;
    if (!call.status.ok()) {
      Resolve(
          batch, transport_error,
          fmt::format("broker {} ({}): {}", call.node, call.address, call.status.error_message()),
          transport_unknown, -1, -1, nullptr);
      continue;
    }
    const TopicPartition& tp = batch->topic_partition();
    auto it = answers.find({tp.topic, tp.partition});
    if (it == answers.end()) {
      Resolve(batch, KafkaError::kUnknownServerError,
              fmt::format("broker {} did not answer for {}", call.node, tp.ToString()), true, -1,
              -1, nullptr);
      continue;
    }
    const broker::v1::PartitionProduceResponse& p = *it->second;
    const auto error = static_cast<KafkaError>(p.error().code());
    // Written on the leader but not known to be replicated: the outcome is unknown.
    const bool unknown =
        error == KafkaError::kRequestTimedOut || error == KafkaError::kNotEnoughReplicasAfterAppend;
    Resolve(batch, error, p.error().message(), unknown, p.base_offset(), p.log_append_time_ms(),
            p.has_current_leader() ? &p.current_leader() : nullptr);
  }
}

void Sender::Resolve(const BatchPtr& batch, KafkaError error, const std::string& message,
                     bool outcome_unknown, int64_t base_offset, int64_t log_append_time_ms,
                     const broker::v1::LeaderHint* hint) {
  if (error == KafkaError::kNone || error == KafkaError::kDuplicateSequenceNumber) {
    Complete(batch, absl::OkStatus(), base_offset, log_append_time_ms);
    return;
  }
  const TopicPartition& tp = batch->topic_partition();
  bool retriable =
      KafkaErrorRetriable(error) || outcome_unknown || error == KafkaError::kNetworkException;
  // Overtaken: an earlier batch of the partition had not landed when this one arrived. gRPC
  // brokers handle the requests of one connection concurrently (unlike Kafka's, which handle a
  // connection's requests in order), so a later request can get to the partition first; the
  // broker then has a gap (OUT_OF_ORDER_SEQUENCE_NUMBER) or, before the producer's first batch
  // landed, no state at all (UNKNOWN_PRODUCER_ID). The batch is resent at once after the earlier
  // ones resolve (IdempotenceState::MaySend holds it until then): no backoff, no epoch bump.
  bool overtaken = false;
  if (config_.enable_idempotence && IsSequenceError(error)) {
    if ((error == KafkaError::kOutOfOrderSequenceNumber ||
         error == KafkaError::kUnknownProducerId) &&
        !batch->sent_as_first) {
      overtaken = true;
    } else {
      // The broker's sequence state cannot be repaired: restart the sequences under a new epoch.
      // The broker refused this batch, so it is resent, not lost.
      idempotence_.RequestEpochBump();
    }
    retriable = true;
  }
  if (NeedsMetadataRefresh(error) || outcome_unknown) metadata_.RequestUpdate();
  if (hint != nullptr && hint->leader_id() >= 0) {
    metadata_.UpdateLeader(tp, hint->leader_id(), hint->leader_epoch());
  }
  absl::Status status = KafkaStatus(error, message);
  const int64_t now_ms = clock_.NowMonotonicMs();
  const bool expired = now_ms >= batch->created_ms() + config_.delivery_timeout_ms;
  bool force = false;
  {
    std::lock_guard lock(wake_mu_);
    force = force_stop_;
  }
  if (retriable && !expired && !force && batch->attempts <= config_.retries) {
    ClientLogger()->debug("{}: {} (attempt {}), retrying", tp.ToString(), MessageOf(status),
                          batch->attempts);
    Retry(batch, status, outcome_unknown, /*backoff=*/!overtaken);
    return;
  }
  if (expired) {
    status = KafkaStatus(KafkaError::kRequestTimedOut,
                         fmt::format("expiring {} record(s) for {}: delivery.timeout.ms ({}) has "
                                     "passed since batch creation; last error: {}",
                                     batch->record_count(), tp.ToString(),
                                     config_.delivery_timeout_ms, MessageOf(status)));
  }
  // A sequenced batch that will never land leaves a gap later batches cannot cross.
  if (config_.enable_idempotence && batch->base_sequence >= 0) idempotence_.RequestEpochBump();
  Complete(batch, status, -1, -1);
}

void Sender::Retry(const BatchPtr& batch, const absl::Status& error, bool outcome_unknown,
                   bool backoff) {
  batch->last_error = error;
  batch->outcome_unknown = outcome_unknown;
  batch->retry_at_ms = clock_.NowMonotonicMs() + (backoff ? BackoffMs(batch->attempts) : 0);
  accumulator_.Reenqueue(batch);
}

void Sender::Complete(const BatchPtr& batch, const absl::Status& status, int64_t base_offset,
                      int64_t log_append_time_ms) {
  if (config_.enable_idempotence) idempotence_.OnCompleted(*batch);
  (status.ok() ? counters_.records_sent : counters_.records_failed)
      .fetch_add(batch->record_count(), std::memory_order_relaxed);
  batch->Complete(status, base_offset, log_append_time_ms);
  accumulator_.Deallocate(*batch);
}

int64_t Sender::MaintainProducerId(int64_t now_ms) {
  if (pid_call_ != nullptr) return INT64_MAX;  // its answer wakes us
  const bool bump = idempotence_.has_producer_id() && idempotence_.bump_needed();
  if (idempotence_.has_producer_id() && !bump) return INT64_MAX;
  if (bump && !in_flight_.empty()) return INT64_MAX;  // wait until every answer is in
  if (now_ms < pid_retry_at_ms_) return pid_retry_at_ms_;
  {
    std::lock_guard lock(wake_mu_);
    if (force_stop_) return INT64_MAX;
    // Closing with nothing left to send: no producer id is needed any more.
    if (stopping_ && !accumulator_.HasQueued()) return INT64_MAX;
  }
  if (bump) StartEpochBump();
  auto call = std::make_unique<PidCall>();
  call->bump = bump;
  call->address = AnyBrokerAddress();
  call->request.set_producer_id(bump ? idempotence_.producer_id() : -1);
  call->request.set_producer_epoch(bump ? idempotence_.producer_epoch() : -1);
  call->context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::milliseconds(config_.request_timeout_ms));
  PidCall* raw = call.get();
  pid_call_ = std::move(call);
  channels_.Stub(raw->address)
      ->async()
      ->InitProducerId(&raw->context, &raw->request, &raw->response,
                       [this, raw](grpc::Status status) {
                         {
                           std::lock_guard lock(answers_mu_);
                           raw->status = status;
                           raw->done = true;
                         }
                         Wakeup();
                       });
  return INT64_MAX;
}

void Sender::StartEpochBump() {
  // Nothing is in flight. Batches whose last attempt got no answer may already be written under
  // the old epoch: resending them under the new one could write them twice, so they fail (their
  // callers learn the outcome is unknown). Batches the broker refused are resent, resequenced.
  const absl::Status reason = KafkaStatus(
      KafkaError::kOutOfOrderSequenceNumber,
      "the idempotent producer reset its sequence numbers (epoch bump) while this batch's outcome "
      "was unknown; it may or may not have been written");
  for (const BatchPtr& batch : accumulator_.RemoveIf(
           [](const ProducerBatch& b) { return b.base_sequence >= 0 && b.outcome_unknown; })) {
    Complete(batch, reason, -1, -1);
  }
  accumulator_.ForEachQueued([](ProducerBatch& b) { b.base_sequence = -1; });
  idempotence_.ResetForEpochBump();
  ClientLogger()->info("idempotent producer {}: bumping epoch {}", idempotence_.producer_id(),
                       idempotence_.producer_epoch());
}

void Sender::OnPidDone(const grpc::Status& status) {
  std::unique_ptr<PidCall> call = std::move(pid_call_);
  const int64_t now_ms = clock_.NowMonotonicMs();
  const auto error = static_cast<KafkaError>(call->response.error().code());
  if (status.ok() && error == KafkaError::kNone) {
    if (call->bump) counters_.epoch_bumps.fetch_add(1, std::memory_order_relaxed);
    idempotence_.SetProducerId(call->response.producer_id(),
                               static_cast<int16_t>(call->response.producer_epoch()));
    pid_attempts_ = 0;
    pid_retry_at_ms_ = 0;
    return;
  }
  ClientLogger()->debug("InitProducerId on {}: {}", call->address,
                        status.ok() ? std::string(KafkaErrorName(error)) : status.error_message());
  if (!status.ok()) metadata_.RequestUpdate();
  // INVALID_PRODUCER_EPOCH on a bump: start over with a new id.
  if (call->bump &&
      (error == KafkaError::kInvalidProducerEpoch || error == KafkaError::kProducerFenced)) {
    idempotence_.SetProducerId(-1, -1);
  }
  pid_retry_at_ms_ = now_ms + BackoffMs(++pid_attempts_);
}

}  // namespace strand::client
