#pragma once

// A drill: one scenario (a fault schedule) run against a target under the workload, then judged
// by the checker. RunScenario does, in order:
//   1. preflight: a broker answers within 10 s, every node running, an active controller, every
//      broker RUNNING;
//   2. a fresh topic (RF3, min.insync.replicas=2) and consumer group named after the run;
//   3. the workload (workload.h), warmed up until every partition is acknowledged and consumed;
//   4. the scenario's faults, each recorded with the observation that shows it took effect (a
//      fault with no observable effect fails the drill);
//   5. recovery: every node running, every broker RUNNING, the topic's ISRs full again;
//   6. cool-down, then the workload stops: producers flush, consumers drain and commit;
//   7. every replica of every partition read back, the checker's verdict, the report (per fault:
//      how long writes, consumption and metadata operations were unavailable).

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "strand/admin.h"
#include "tools/drill/checker.h"
#include "tools/drill/target.h"
#include "tools/drill/workload.h"

namespace strand::drill {

struct DrillOptions {
  uint64_t seed = 1;
  int32_t partitions = 3;
  int producers = 2;
  int consumers = 2;
  int rate = 600;  // records per second, all producers together
  std::chrono::milliseconds warmup{2000};
  std::chrono::milliseconds cooldown{2000};
  std::chrono::seconds recovery_max{120};
  int repeat = 1;                    // times the scenario's fault is made in one run
  std::string work_dir;              // the acknowledgement logs go here
  std::ostream* progress = nullptr;  // the live progress line (stderr); null: none
  bool progress_tty = false;         // rewrite one line (\r) rather than print one every 5 s
};

struct FaultRecord {
  std::string name;  // "SIGKILL broker 102, leader of partition 1"
  int node = -1;
  Clock::time_point at{};
  double held_ms = 0;  // how long the fault lasted (until the node was back, the link healed)
  std::string effect;  // what showed that it took effect
  bool took_effect = false;
  // The longest stretch, in any partition, without an acknowledgement (produce) or a delivery to
  // the group (consume), from the fault until 10 s after it ended; the time from the fault to the
  // first metadata operation started after it that succeeded (-1: none did).
  double produce_window_ms = -1, consume_window_ms = -1, admin_window_ms = -1;
};

struct WindowStats {
  double p50 = -1, p99 = -1, max = -1;
};

struct ScenarioReport {
  std::string scenario;
  uint64_t seed = 0;
  std::string target;
  std::string topic;
  double duration_s = 0;
  Verdict verdict;
  std::vector<FaultRecord> faults;
  int64_t sent = 0;
  int64_t failed = 0;  // records whose delivery failed (not acknowledged; not counted as lost)
  std::vector<std::string> failed_examples;
  int64_t admin_ok = 0, admin_failed = 0;
  int64_t metadata_lost = 0;  // topics created successfully that do not exist afterwards
  int64_t ack_log_lines = 0;  // the acknowledgement log, read back after the run
  std::string ack_log;
  WindowStats produce_window, consume_window, admin_window;
  std::vector<std::string> errors;  // the drill itself failed: a fault without effect, no recovery
  bool ok() const { return errors.empty() && verdict.ok(); }
};

class DrillContext;

struct Scenario {
  std::string name;
  std::string summary;
  // A failed delivery or metadata operation is a violation (a retrying client must see none).
  bool no_failed_requests = false;
  // Makes the fault once; records it with ctx.Begin and its effect with ctx.Effect.
  std::function<absl::Status(DrillContext& ctx)> fault;
};

// Every scenario `strand drill list` names, in the order of docs/drills.md.
const std::vector<Scenario>& Scenarios();
const Scenario* FindScenario(const std::string& name);

// What a scenario's fault works with.
class DrillContext {
 public:
  DrillContext(Target& target, client::AdminClient& admin, Workload& workload, std::string topic,
               uint64_t seed, std::chrono::seconds recovery_max)
      : target(target),
        admin(admin),
        workload(workload),
        topic(std::move(topic)),
        rng(seed),
        recovery_max(recovery_max) {}

  Target& target;
  client::AdminClient& admin;
  Workload& workload;
  const std::string topic;
  std::mt19937_64 rng;
  const std::chrono::seconds recovery_max;
  std::vector<FaultRecord> faults;

  // Starts a fault record (its time is now); returns its index.
  size_t Begin(std::string name, int node);
  void Effect(size_t fault, bool took_effect, std::string effect);
  void Held(size_t fault);  // the fault ends now
  void SetPhase(std::string phase);
  std::string phase() const;

  absl::StatusOr<admin::v1::PartitionInfo> Partition(int32_t partition);
  absl::StatusOr<admin::v1::DescribeClusterResponse> Cluster();
  absl::StatusOr<int> ActiveController();
  // Polls `condition` every 50 ms until it holds or `timeout` passes; its last answer.
  bool Wait(const std::function<bool()>& condition, std::chrono::milliseconds timeout);
  // Every node running, an active controller, every broker RUNNING and the topic's ISRs full;
  // an error naming what is missing after recovery_max.
  absl::Status WaitHealthy();
  int32_t RandomPartition();
  std::vector<int> Nodes(Role role) const;
  // Broker `node`'s copy of the topic's partition read back (as the checker does, CRCs
  // checked); set by RunScenario.
  std::function<absl::StatusOr<std::vector<StoredRecord>>(int node, int32_t partition)>
      read_replica;
  // The sum of the samples of metric `name` on node's /metrics.
  absl::StatusOr<double> Metric(int node, const std::string& name);

 private:
  mutable std::mutex mu_;
  std::string phase_;
};

ScenarioReport RunScenario(Target& target, const Scenario& scenario, const DrillOptions& options);

std::string FormatReport(const ScenarioReport& report);
nlohmann::json ReportJson(const ScenarioReport& report);

}  // namespace strand::drill
