#pragma once

// The internals of ReplicationWorld (replication_world.h), shared by its two source files:
// replication_world.cc (event loop, network, controller, brokers, the run) and
// replication_world_workload.cc (the producer, the faults, the checks). Not for other users.

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <vector>

#include "broker/replica/partition.h"
#include "common/check.h"
#include "common/clock.h"
#include "common/random.h"
#include "controller/logic/quorum_controller.h"
#include "controller/state/metadata_image.h"
#include "record/record_batch.h"
#include "record/record_batch_builder.h"
#include "record/record_batch_reader.h"
#include "storage/log.h"
#include "tests/sim/replication_world.h"
#include "tests/sim/sim_filesystem.h"
#include "tests/sim/sim_violation.h"

namespace strand::broker::sim::detail {

namespace cv1 = controller::v1;
using controller::MetadataImage;
using controller::QuorumController;
using strand::sim::SimDiskImage;
using strand::sim::SimFilesystem;

constexpr int kController = 1;
constexpr int kClient = 2;
constexpr int kFirstBroker = 101;
constexpr const char* kTopic = "events";
constexpr int32_t kMinIsr = 2;
constexpr int64_t kProducerId = 7;
constexpr int64_t kHeartbeatMs = 250;
constexpr int64_t kMetadataPullMs = 40;
constexpr int64_t kTickMs = 50;
constexpr int64_t kCheckpointMs = 700;
constexpr int64_t kFetchTimeoutMs = 600;
constexpr int64_t kAlterTimeoutMs = 2'000;
constexpr int64_t kProduceTimeoutMs = 1'500;  // the broker's deadline for acks=all
constexpr int64_t kClientTimeoutMs = 2'500;   // request.timeout.ms
constexpr int64_t kSettleLimitMs = 60'000;

using strand::sim::SimViolation;

// One batch as stored: what replicas must agree on.
struct BatchId {
  int64_t last_offset;
  uint32_t crc;
  int32_t leader_epoch;
  bool operator==(const BatchId&) const = default;
};

struct AckedBatch {
  int64_t base_offset;
  std::vector<std::string> values;
};

// The controller's metadata log: appended batches commit when the world says so (at once).
class InstantLog final : public controller::MetadataLog {
 public:
  absl::StatusOr<uint64_t> Append(const cv1::MetadataBatch& batch) override {
    pending.emplace_back(next_index, batch);
    return next_index++;
  }
  std::vector<std::pair<uint64_t, cv1::MetadataBatch>> pending;
  uint64_t next_index = 1;
};

struct Broker {
  int id = 0;
  bool up = false;
  uint64_t incarnation = 0;
  int64_t paused_until = 0;
  SimDiskImage disk;  // while down
  std::unique_ptr<SimFilesystem> fs;
  std::shared_ptr<storage::Log> log;
  std::shared_ptr<Partition> partition;
  MetadataImage image;
  int64_t broker_epoch = -1;
  bool caught_up = false;  // heard "unfenced" once in this life: may act on metadata
  uint64_t fetch_seq = 0;
  bool fetch_in_flight = false;
  uint64_t alter_seq = 0;
  bool alter_in_flight = false;
  int64_t last_hw = -1;
  int64_t verified_upto = 0;
  bool flush_scheduled = false;
};

struct Event {
  int64_t time;
  uint64_t seq;
  std::function<void()> run;
};

class World {
 public:
  World(const ReplicationSimOptions& options, uint64_t seed)
      : options_(options), seed_(seed), random_(seed),
        controller_(ControllerConfig(), meta_log_, seed) {
    for (int i = 0; i < options.brokers; ++i) {
      auto b = std::make_unique<Broker>();
      b->id = kFirstBroker + i;
      brokers_[b->id] = std::move(b);
    }
  }

  ReplicationSimResult Run();

 private:
  static controller::ControllerConfig ControllerConfig() {
    controller::ControllerConfig c;
    c.node_id = NodeId(kController);
    c.cluster_id = "sim";
    c.controller_ids = {NodeId(kController)};
    c.static_configs = {{"min.insync.replicas", std::to_string(kMinIsr)}};
    return c;
  }

  // ---- event loop ----
  void At(int64_t time, std::function<void()> run) {
    queue_.push(Event{time, next_seq_++, std::move(run)});
  }
  void After(int64_t delay_ms, std::function<void()> run) { At(now_ + delay_ms, std::move(run)); }
  bool Step();
  void Trace(const std::string& line) {
    if (options_.verbose) std::fprintf(stderr, "[%8ld ms] %s\n", now_, line.c_str());
  }

  // ---- network ----
  bool LinkUp(int a, int b) const { return !cut_.contains({a, b}) && !cut_.contains({b, a}); }
  bool Alive(int node) const {
    auto it = brokers_.find(node);
    return it == brokers_.end() || it->second->up;
  }
  uint64_t Incarnation(int node) const {
    auto it = brokers_.find(node);
    return it == brokers_.end() ? 0 : it->second->incarnation;
  }
  // Delivers `deliver` at `to` after a network delay, unless the link is cut (at send or at
  // delivery) or either end died or restarted meanwhile (the connection broke). A paused
  // receiver handles it when it resumes.
  void Send(int from, int to, std::function<void()> deliver);
  // Runs `run` every `period_ms` on broker `id` for as long as this process life lasts.
  void Every(Broker& b, int64_t period_ms, std::function<void()> run);
  void OnBroker(int id, uint64_t incarnation, std::function<void()> run);

  // ---- controller ----
  void CommitAll();
  void ControllerTick();

  // ---- brokers ----
  void StartBroker(Broker& b);
  void CrashBroker(Broker& b);
  void Register(Broker& b);
  void Heartbeat(Broker& b);
  void PullMetadata(Broker& b);
  void Reconcile(Broker& b);
  void BrokerTick(Broker& b);
  void Fetch(Broker& b);
  void ScheduleFlush(Broker& b);
  void HandleFetchResponse(Broker& b, const ReadOutcome& out, int64_t fetch_offset);

  // ---- client ----
  void ProducerLoop(int64_t delay_ms);
  void SendBatch();
  void CheckAckedDurable(int leader, const ProduceOutcome& o);
  void OnProduceResult(uint64_t request, const ProduceOutcome& o, int broker, bool current_leader);
  int ChooseTarget();

  // ---- faults ----
  void Chaos();
  void HealEverything();

  // ---- checks ----
  void Fail(const std::string& checker, const std::string& detail) { throw SimViolation{checker, detail}; }
  void CheckAll();
  void CheckReplica(Broker& b);
  std::map<int64_t, std::string> ReadValues(Broker& b);  // offset -> value, the whole log
  void CheckHoldsAcked(Broker& b, const std::string& when);
  std::vector<std::pair<int64_t, BatchId>> ReadBatches(Broker& b, int64_t from, int64_t to);
  bool Converged();
  std::string DescribeState();
  void FinalChecks();

  const ReplicationSimOptions options_;
  const uint64_t seed_;
  Random random_;
  ManualClock clock_;
  InstantLog meta_log_;
  QuorumController controller_;
  MetadataImage committed_;
  std::vector<std::pair<uint64_t, cv1::MetadataBatch>> committed_batches_;
  std::map<int, std::unique_ptr<Broker>> brokers_;
  std::set<std::pair<int, int>> cut_;
  std::priority_queue<Event, std::vector<Event>, strand::sim::EarliestFirst> queue_;
  uint64_t next_seq_ = 0;
  int64_t now_ = 0;
  uint64_t step_ = 0;
  bool faults_on_ = false;

  // client
  bool producing_ = true;
  int64_t next_sequence_ = 0;
  uint64_t batch_number_ = 0;
  std::vector<std::string> batch_values_;  // the batch being delivered (empty: none)
  std::string batch_bytes_;
  uint64_t request_ = 0;
  bool in_flight_ = false;
  int64_t last_ack_ms_ = 0;

  // truth
  std::vector<AckedBatch> acked_;
  std::map<int64_t, BatchId> committed_batches_by_base_;  // seen below some replica's HW
  std::map<int32_t, int> epoch_writer_;                   // leader epoch -> the broker appending
  ReplicationSimResult result_;
};

}  // namespace strand::broker::sim::detail
