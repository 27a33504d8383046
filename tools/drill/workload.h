#pragma once

// The drill's workload: what a cluster serves while a fault hits it, recorded so that the checker
// can judge it and the report can time it.
//   - producers: idempotent, acks=all client::Producers writing at a fixed total rate, round
//     robin over the topic's partitions, each record a value unique to the run
//     ("RUN:PRODUCER:SEQUENCE:padding"); every acknowledgement goes to memory and to an
//     acknowledgement log file (one "PARTITION OFFSET VALUE" line each), read back after the run
//     as an independent count;
//   - a consumer group: client::Consumers subscribed to the topic, committing their positions
//     every commit interval, watching for offsets that go back;
//   - metadata operations: a topic created through the brokers every admin interval (250 ms), as
//   users
//     do (each must exist afterwards).
// Every loop is bounded by the run's stop and by its own timeouts.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "strand/admin.h"
#include "strand/consumer.h"
#include "strand/producer.h"
#include "tools/drill/checker.h"
#include "tools/drill/target.h"

namespace strand::drill {

using Clock = std::chrono::steady_clock;

struct WorkloadOptions {
  std::string run_id;  // unique per run: part of every value, topic and group name
  std::string topic;
  std::string group;
  int32_t partitions = 3;
  int producers = 2;
  int consumers = 2;
  int rate = 600;         // records per second, all producers together
  int value_bytes = 100;  // each value padded to this size
  std::chrono::milliseconds commit_interval{500};
  // Between metadata operations' starts (0: none); short, so that the window after a fault is
  // measured to within it.
  std::chrono::milliseconds admin_interval{250};
  std::string ack_log_path;
};

struct AckEvent {
  int32_t partition = 0;
  int64_t offset = -1;
  std::string value;
  Clock::time_point sent, acked;
};

struct ConsumeEvent {
  int32_t partition = 0;
  Clock::time_point sent;  // when the record was sent (from its value)
  Clock::time_point at;
};

struct AdminEvent {
  std::string topic;
  Clock::time_point start, end;
  bool ok = false;
  std::string error;
};

// Counts for the live progress line.
struct Progress {
  int64_t sent = 0, acknowledged = 0, failed = 0, consumed = 0, commits = 0, admin_ok = 0,
          admin_failed = 0;
};

class Workload {
 public:
  Workload(Target& target, WorkloadOptions options);
  ~Workload();
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  // Creates the clients and starts every thread.
  absl::Status Start();
  // Stops sending, then waits (up to `timeout`) for every record sent to be acknowledged or
  // failed; closes the producers.
  void StopProducing(std::chrono::milliseconds timeout);
  // Lets the consumers read until each partition is delivered past its last acknowledged offset
  // (or `timeout`, or 15 s without a new record); then they commit, close and leave the group.
  // True when they got there.
  bool StopConsuming(std::chrono::milliseconds timeout);
  void StopAdmin();

  Progress progress() const;
  // True once every partition has an acknowledgement of a record sent at or after `since`.
  bool WritesResumed(Clock::time_point since) const;
  // True once an admin operation started at or after `since` succeeded.
  bool AdminResumed(Clock::time_point since) const;

  // After the Stop calls.
  std::vector<AckEvent> acks() const;
  std::vector<std::string> failures() const;  // "VALUE: error", one per failed record
  std::vector<ConsumeEvent> consumes() const;
  std::vector<AdminEvent> admin_events() const;
  ConsumerObservations consumer_observations() const;
  int64_t ack_log_lines_written() const;

  const WorkloadOptions& options() const { return options_; }
  Clock::time_point started() const { return started_; }

 private:
  class Member;
  void ProduceLoop();
  void AdminLoop();
  int64_t AcknowledgedCommit(int32_t partition) const;  // -1: none
  void CommitAcknowledged(int32_t partition, int64_t offset);
  void OnAck(std::string value, int32_t partition, Clock::time_point sent,
             const absl::StatusOr<client::RecordMetadata>& result);

  Target& target_;
  const WorkloadOptions options_;
  Clock::time_point started_;
  std::vector<std::unique_ptr<client::Producer>> producers_;
  std::vector<std::unique_ptr<Member>> members_;
  std::unique_ptr<client::AdminClient> admin_;

  std::atomic<bool> stop_producing_{false}, stop_admin_{false};
  std::thread produce_thread_, admin_thread_;

  mutable std::mutex mu_;
  std::vector<AckEvent> acks_;
  std::vector<std::string> failures_;
  std::vector<Clock::time_point> last_ack_sent_;  // per partition: latest send time acknowledged
  std::vector<AdminEvent> admin_events_;
  Clock::time_point last_admin_ok_start_{};
  std::map<int32_t, int64_t> acknowledged_commits_;
  int64_t commits_ = 0;
  std::ofstream ack_log_;
  int64_t ack_log_lines_ = 0;
  std::atomic<int64_t> sent_{0};
};

}  // namespace strand::drill
