#pragma once

// Sender: the producer's one thread of its own. Each turn of its loop it
//   1. applies the answers that gRPC delivered since the last turn (completing batches, running
//      their callbacks, or putting them back for a retry),
//   2. gets (or, after an unrepairable sequence error, bumps) the idempotent producer id,
//   3. refreshes metadata when due (MetadataManager),
//   4. fails batches past delivery.timeout.ms,
//   5. drains ready batches from the accumulator, one per partition, grouped by leader, within
//      max.in.flight.requests.per.connection per broker, seals them (sequence, compression, CRC)
//      and sends one Produce request per broker with gRPC's callback API,
// then sleeps until the next linger or backoff deadline or until woken (a new or full batch, an
// answer, a metadata refresh, Flush, Close).
//
// Threading: all of its state is touched by its own thread only, except the completion queue
// (gRPC threads push answers) and the wake flag. Record callbacks run on this thread.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "client/common/broker_channels.h"
#include "client/common/metadata_manager.h"
#include "client/producer/accumulator.h"
#include "client/producer/idempotence.h"
#include "common/clock.h"
#include "record/record_batch.h"
#include "strand/producer.h"

namespace strand::client {

struct ProducerCounters {
  std::atomic<int64_t> records_sent{0};
  std::atomic<int64_t> records_failed{0};
  std::atomic<int64_t> batches_sent{0};
  std::atomic<int64_t> batches_retried{0};
  std::atomic<int64_t> requests_sent{0};
  std::atomic<int64_t> epoch_bumps{0};
};

class Sender {
 public:
  Sender(const ProducerConfig& config, Accumulator& accumulator, MetadataManager& metadata,
         BrokerChannels& channels, const Clock& clock, ProducerCounters& counters);
  ~Sender();  // after Stop
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  void Start();
  void Wakeup();
  // Graceful stop: the loop ends once nothing is queued or in flight. Returns whether that
  // happened within `timeout_ms`; if not, everything left is failed ("producer closed") and the
  // loop ends anyway. Joins the thread.
  bool Stop(int64_t timeout_ms);
  bool OnSenderThread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  struct InFlight;  // a Produce request on the wire
  struct PidCall;   // an InitProducerId request on the wire

  void Run();
  void RunOnce();
  int64_t SendReady(int64_t now_ms);
  void SealAndStamp(std::vector<BatchPtr>& batches, std::vector<BatchPtr>* sendable);
  void SendProduce(int32_t node, std::vector<BatchPtr> batches, int64_t now_ms);
  void OnProduceDone(InFlight* call, const grpc::Status& status);
  void ProcessAnswers();
  void HandleAnswer(InFlight& call);
  // Decides one batch's fate from its answer.
  void Resolve(const BatchPtr& batch, KafkaError error, const std::string& message,
               bool outcome_unknown, int64_t base_offset, int64_t log_append_time_ms,
               const broker::v1::LeaderHint* hint);
  // Re-queues a batch for another attempt, after retry.backoff.ms (doubling) when `backoff`.
  void Retry(const BatchPtr& batch, const absl::Status& error, bool outcome_unknown,
             bool backoff);
  void Complete(const BatchPtr& batch, const absl::Status& status, int64_t base_offset,
                int64_t log_append_time_ms);
  void ExpireBatches(int64_t now_ms);
  // Idempotence: InitProducerId at start and after an epoch bump request.
  int64_t MaintainProducerId(int64_t now_ms);
  void StartEpochBump();
  void OnPidDone(const grpc::Status& status);
  void RefreshTopicPartitions();
  void FailEverything(const absl::Status& status);
  int64_t BackoffMs(int32_t attempts);
  std::string AnyBrokerAddress();

  const ProducerConfig config_;
  const record::Compression codec_;
  Accumulator& accumulator_;
  MetadataManager& metadata_;
  BrokerChannels& channels_;
  const Clock& clock_;
  ProducerCounters& counters_;
  IdempotenceState idempotence_;

  std::thread thread_;
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  std::condition_variable finished_cv_;
  bool woken_ = false;
  bool stopping_ = false;    // graceful close requested
  bool force_stop_ = false;  // close timed out: fail what is left
  bool finished_ = false;    // the loop has ended

  // Answers delivered by gRPC threads, applied by the sender thread.
  std::mutex answers_mu_;
  std::vector<InFlight*> answers_;
  std::unique_ptr<PidCall> pid_answer_;

  std::map<InFlight*, std::unique_ptr<InFlight>> in_flight_;
  std::map<int32_t, int> in_flight_per_node_;
  std::unique_ptr<PidCall> pid_call_;  // in flight
  int64_t pid_retry_at_ms_ = 0;
  int32_t pid_attempts_ = 0;
  size_t pid_address_index_ = 0;
  uint64_t metadata_version_seen_ = 0;
  std::minstd_rand random_;
};

}  // namespace strand::client
