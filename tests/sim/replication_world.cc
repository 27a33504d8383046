#include "tests/sim/replication_world.h"

#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "broker/replica/partition.h"
#include "common/check.h"
#include "common/clock.h"
#include "common/random.h"
#include "controller/logic/quorum_controller.h"
#include "controller/state/metadata_image.h"
#include "storage/log.h"
#include "storage/record/record_batch.h"
#include "storage/record/record_batch_builder.h"
#include "storage/record/record_batch_reader.h"
#include "tests/sim/sim_filesystem.h"
#include "tests/sim/sim_violation.h"

namespace strand::broker::sim {
namespace {

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

// -------------------------------------------------------------------------------------------
// event loop and network

bool World::Step() {
  if (queue_.empty()) return false;
  Event e = queue_.top();
  queue_.pop();
  if (e.time > now_) {
    clock_.AdvanceMs(e.time - now_);
    now_ = e.time;
  }
  ++result_.events;
  e.run();
  CheckAll();
  return true;
}

void World::Send(int from, int to, std::function<void()> deliver) {
  if (!LinkUp(from, to) || !Alive(from) || !Alive(to)) return;
  const uint64_t from_inc = Incarnation(from), to_inc = Incarnation(to);
  int64_t delay = random_.Range(1, 4);
  if (random_.OneIn(50)) delay = random_.Range(5, 80);
  After(delay, [this, from, to, from_inc, to_inc, deliver = std::move(deliver)]() mutable {
    if (!LinkUp(from, to) || !Alive(from) || !Alive(to) || Incarnation(from) != from_inc ||
        Incarnation(to) != to_inc) {
      return;
    }
    auto it = brokers_.find(to);
    if (it != brokers_.end() && it->second->paused_until > now_) {
      OnBroker(to, to_inc, std::move(deliver));
      return;
    }
    deliver();
  });
}

void World::OnBroker(int id, uint64_t incarnation, std::function<void()> run) {
  Broker& b = *brokers_.at(id);
  if (!b.up || b.incarnation != incarnation) return;
  if (b.paused_until > now_) {
    At(b.paused_until, [this, id, incarnation, run = std::move(run)]() mutable {
      OnBroker(id, incarnation, std::move(run));
    });
    return;
  }
  run();
}

void World::Every(Broker& b, int64_t period_ms, std::function<void()> run) {
  const int id = b.id;
  const uint64_t inc = b.incarnation;
  auto loop = std::make_shared<std::function<void()>>();
  *loop = [this, id, inc, period_ms, run = std::move(run), loop]() {
    Broker& br = *brokers_.at(id);
    if (!br.up || br.incarnation != inc) return;
    OnBroker(id, inc, run);
    After(period_ms, *loop);
  };
  After(random_.Range(1, period_ms), *loop);
}

// -------------------------------------------------------------------------------------------
// controller

void World::CommitAll() {
  while (!meta_log_.pending.empty()) {
    auto batches = std::move(meta_log_.pending);
    meta_log_.pending.clear();
    for (auto& [index, batch] : batches) {
      absl::Status s = committed_.ReplayBatch(batch, index);
      if (!s.ok()) Fail("controller", "committed batch does not apply: " + s.ToString());
      committed_batches_.emplace_back(index, batch);
      if (options_.verbose) {
        for (const auto& r : batch.records()) {
          if (r.has_partition_change() || r.has_broker_registration_change() ||
              r.has_register_broker()) {
            Trace(fmt::format("controller commits {}: {}", index, r.ShortDebugString()));
          }
        }
      }
      controller_.OnCommitted(index);
    }
  }
}

void World::ControllerTick() {
  controller_.Tick(now_);
  CommitAll();
  After(100, [this] { ControllerTick(); });
}

// -------------------------------------------------------------------------------------------
// brokers

void World::StartBroker(Broker& b) {
  ++b.incarnation;
  b.up = true;
  b.paused_until = 0;
  b.fs = std::make_unique<SimFilesystem>(b.disk);
  storage::LogConfig config;
  config.segment_bytes = 16 << 10;
  config.preallocate = false;
  storage::LogOptions lo;
  lo.fs = b.fs.get();
  lo.clock = &clock_;
  lo.name = fmt::format("b{}:{}-0", b.id, kTopic);
  auto log = storage::Log::Open(fmt::format("/data/b{}/{}-0", b.id, kTopic), config, lo);
  if (!log.ok()) Fail("recovery", fmt::format("broker {}: {}", b.id, log.status().ToString()));
  b.log = *log;
  b.partition = std::make_shared<Partition>(storage::TopicPartition{kTopic, 0}, b.log,
                                            NodeId(b.id), nullptr);
  b.image = MetadataImage();
  b.broker_epoch = -1;
  b.caught_up = false;
  b.fetch_in_flight = false;
  b.alter_in_flight = false;
  b.last_hw = -1;
  b.verified_upto = b.log->LogStartOffset().value();
  b.flush_scheduled = false;
  Trace(fmt::format("broker {} starts (life {}): log end {}, high watermark {}", b.id,
                    b.incarnation, b.log->LogEndOffset(), b.log->HighWatermark()));
  Register(b);
  Every(b, kHeartbeatMs, [this, &b] { Heartbeat(b); });
  Every(b, kMetadataPullMs, [this, &b] { PullMetadata(b); });
  Every(b, kTickMs, [this, &b] { BrokerTick(b); });
  Every(b, kCheckpointMs, [this, &b] { (void)b.log->Checkpoint(); });
  // A watchdog for the fetch loop (lost answers, new leaders); fetches chain themselves.
  Every(b, 50, [this, &b] { Fetch(b); });
}

void World::ScheduleFlush(Broker& b) {
  if (b.flush_scheduled) return;
  b.flush_scheduled = true;
  // Group commit on the broker's own schedule: mostly soon, sometimes a while later.
  const int64_t delay = random_.OneIn(10) ? random_.Range(10, 60) : random_.Range(0, 4);
  const int id = b.id;
  const uint64_t inc = b.incarnation;
  After(delay, [this, id, inc] {
    OnBroker(id, inc, [this, id] {
      Broker& br = *brokers_.at(id);
      br.flush_scheduled = false;
      (void)br.log->Flush();
    });
  });
}

void World::CrashBroker(Broker& b) {
  ++result_.crashes;
  Trace(fmt::format("broker {} crashes (log end {}, durable {}, high watermark {})", b.id,
                    b.log->LogEndOffset(), b.log->DurableOffset(), b.log->HighWatermark()));
  b.disk = b.fs->CrashImage(random_);
  b.up = false;
  // The dead process's objects go away without reaching the disk image taken above.
  b.partition->Stop();
  b.partition.reset();
  b.log.reset();
  b.fs.reset();
  // The heartbeat stream breaks: the controller hears of it unless the link is cut.
  const int id = b.id;
  const int64_t epoch = b.broker_epoch;
  if (LinkUp(id, kController) && epoch >= 0) {
    After(random_.Range(1, 10), [this, id, epoch] {
      controller_.HeartbeatStreamClosed(NodeId(id), epoch, now_);
      CommitAll();
    });
  }
}

void World::Register(Broker& b) {
  cv1::RegisterBrokerRequest req;
  req.set_cluster_id("sim");
  req.set_broker_id(b.id);
  req.set_incarnation_id(fmt::format("b{}-{}", b.id, b.incarnation));
  auto* l = req.add_listeners();
  l->set_name("CLIENT");
  l->set_host("127.0.0.1");
  l->set_port(9000 + b.id);
  const int id = b.id;
  const uint64_t inc = b.incarnation;
  Send(id, kController, [this, req, id, inc] {
    std::optional<cv1::RegisterBrokerResponse> resp;
    controller_.RegisterBroker(req, now_, [&](cv1::RegisterBrokerResponse r) { resp = r; });
    CommitAll();
    if (!resp) return;
    Send(kController, id, [this, id, inc, r = *resp] {
      Broker& br = *brokers_.at(id);
      if (br.incarnation != inc) return;
      if (r.error().code() != 0) {
        After(200, [this, id, inc] { OnBroker(id, inc, [this, id] { Register(*brokers_.at(id)); }); });
        return;
      }
      br.broker_epoch = r.broker_epoch();
    });
  });
  // Lost request or answer: try again.
  After(1'000, [this, id, inc] {
    OnBroker(id, inc, [this, id] {
      Broker& br = *brokers_.at(id);
      if (br.broker_epoch < 0) Register(br);
    });
  });
}

void World::Heartbeat(Broker& b) {
  if (b.broker_epoch < 0) return;
  cv1::BrokerHeartbeatRequest req;
  req.set_broker_id(b.id);
  req.set_broker_epoch(b.broker_epoch);
  req.set_metadata_offset(b.image.offset());
  const int id = b.id;
  const uint64_t inc = b.incarnation;
  Send(id, kController, [this, req, id, inc] {
    auto resp = controller_.Heartbeat(req, now_);
    CommitAll();
    Send(kController, id, [this, id, inc, resp] {
      Broker& br = *brokers_.at(id);
      if (br.incarnation != inc) return;
      if (resp.error().code() != 0) {
        Trace(fmt::format("broker {} heartbeat refused: {}; registering again", id,
                          resp.error().message()));
        br.broker_epoch = -1;
        Register(br);
        return;
      }
      if (!resp.is_fenced() && !br.caught_up) {
        br.caught_up = true;
        Reconcile(br);
      }
    });
  });
}

void World::PullMetadata(Broker& b) {
  const int id = b.id;
  const uint64_t inc = b.incarnation;
  const uint64_t have = b.image.offset();
  Send(id, kController, [this, id, inc, have] {
    std::vector<std::pair<uint64_t, cv1::MetadataBatch>> news;
    for (const auto& [index, batch] : committed_batches_) {
      if (index > have) news.emplace_back(index, batch);
    }
    if (news.empty()) return;
    Send(kController, id, [this, id, inc, news = std::move(news)] {
      Broker& br = *brokers_.at(id);
      if (br.incarnation != inc) return;
      bool changed = false;
      for (const auto& [index, batch] : news) {
        if (index <= br.image.offset()) continue;
        absl::Status s = br.image.ReplayBatch(batch, index);
        if (!s.ok()) Fail("metadata", fmt::format("broker {}: {}", id, s.ToString()));
        changed = true;
      }
      if (changed && br.caught_up) Reconcile(br);
    });
  });
}

// As ReplicaManager::Apply does for one partition.
void World::Reconcile(Broker& b) {
  const controller::TopicImage* t = b.image.topic(kTopic);
  if (t == nullptr || t->partitions.empty()) return;
  const controller::PartitionState& ps = t->partitions[0];
  if (!ps.IsReplica(NodeId(b.id))) return;
  PartitionAssignment a;
  a.topic_id = t->id.Bytes();
  a.leader = ps.leader;
  a.leader_epoch = ps.leader_epoch;
  a.partition_epoch = ps.partition_epoch;
  a.replicas = ps.replicas;
  a.isr = ps.isr;
  PartitionSettings s;
  s.min_insync_replicas = kMinIsr;
  s.replica_lag_time_max_ms = 2'000;
  const bool same_epoch = b.partition->leader_epoch() == a.leader_epoch;
  if (a.leader == NodeId(b.id)) {
    if (same_epoch && b.partition->role() == PartitionRole::kLeader) {
      b.partition->UpdateAssignment(a, s, now_);
      return;
    }
    if (absl::Status st = b.partition->BecomeLeader(a, s, now_); !st.ok()) {
      Trace(fmt::format("broker {} cannot lead: {}", b.id, st.ToString()));
      return;
    }
    ++result_.leader_changes;
    Trace(fmt::format("broker {} leads at epoch {} (log end {}, high watermark {}, ISR {})", b.id,
                      a.leader_epoch, b.log->LogEndOffset(), b.log->HighWatermark(),
                      a.isr.size()));
    CheckHoldsAcked(b, fmt::format("on becoming leader at epoch {}", a.leader_epoch));
    return;
  }
  if (same_epoch && b.partition->role() == PartitionRole::kFollower) {
    b.partition->UpdateAssignment(a, s, now_);
  } else {
    (void)b.partition->BecomeFollower(a, s);
    b.fetch_in_flight = false;
    Trace(fmt::format("broker {} follows {} at epoch {} (log end {})", b.id, a.leader,
                      a.leader_epoch, b.log->LogEndOffset()));
  }
}

void World::BrokerTick(Broker& b) {
  const controller::MetadataImage& image = b.image;
  auto proposal = b.partition->Tick(now_, [&image](NodeId n) {
    const controller::BrokerRegistration* r = image.broker(n);
    return r != nullptr && !r->fenced && !r->in_controlled_shutdown;
  });
  if (!proposal || b.broker_epoch < 0) {
    if (proposal) b.partition->IsrProposalDone(false, -1, now_);
    return;
  }
  cv1::AlterPartitionRequest req;
  req.set_broker_id(b.id);
  req.set_broker_epoch(b.broker_epoch);
  auto* c = req.add_partitions();
  c->set_topic_id(proposal->topic_id);
  c->set_partition(proposal->partition);
  c->set_leader_epoch(proposal->leader_epoch.value());
  c->set_partition_epoch(proposal->partition_epoch);
  for (NodeId n : proposal->isr) c->add_new_isr(n.value());
  const int id = b.id;
  const uint64_t inc = b.incarnation;
  const uint64_t seq = ++b.alter_seq;
  b.alter_in_flight = true;
  Trace(fmt::format("broker {} proposes an ISR of {} at epoch {}", id, proposal->isr.size(),
                    proposal->leader_epoch));
  auto answer = [this, id, inc, seq](bool accepted, int32_t partition_epoch) {
    Broker& br = *brokers_.at(id);
    if (br.incarnation != inc || br.alter_seq != seq || !br.alter_in_flight) return;
    br.alter_in_flight = false;
    br.partition->IsrProposalDone(accepted, partition_epoch, now_);
  };
  Send(id, kController, [this, req, id, answer] {
    std::optional<cv1::AlterPartitionResponse> resp;
    controller_.AlterPartition(req, [&](cv1::AlterPartitionResponse r) { resp = r; });
    CommitAll();
    if (!resp) return;
    Send(kController, id, [answer, r = *resp] {
      const bool ok = r.error().code() == 0 && r.partitions_size() == 1 &&
                      r.partitions(0).error().code() == 0;
      answer(ok, r.partitions_size() == 1 ? r.partitions(0).partition_epoch() : -1);
    });
  });
  After(kAlterTimeoutMs, [this, id, inc, answer] { OnBroker(id, inc, [answer] { answer(false, -1); }); });
}

void World::Fetch(Broker& b) {
  if (b.fetch_in_flight || b.partition->role() != PartitionRole::kFollower) return;
  const NodeId leader = b.partition->leader();
  if (leader == kNoNode || !brokers_.contains(leader.value())) return;
  const int id = b.id;
  const int to = leader.value();
  const uint64_t inc = b.incarnation;
  const uint64_t seq = ++b.fetch_seq;
  const int64_t fetch_offset = b.log->LogEndOffset().value();
  auto latest = b.log->LatestEpoch();
  const LeaderEpoch last_epoch = latest ? latest->epoch : LeaderEpoch(-1);
  const Offset durable = b.log->DurableOffset();
  const LeaderEpoch current = b.partition->leader_epoch();
  b.fetch_in_flight = true;
  Send(id, to, [this, id, to, inc, seq, fetch_offset, last_epoch, durable, current] {
    Broker& leader_broker = *brokers_.at(to);
    auto out = std::make_shared<ReadOutcome>(leader_broker.partition->FollowerFetch(
        NodeId(id), Offset(fetch_offset), last_epoch, durable, current, 64 << 10, now_));
    // A long poll: an empty answer waits a little on the leader (fetch.max.wait.ms).
    const int64_t hold = out->error == KafkaError::kNone && out->data.records.empty() &&
                                 !out->divergence
                             ? random_.Range(5, 40)
                             : 0;
    After(hold, [this, id, to, inc, seq, fetch_offset, out] {
      if (!brokers_.at(to)->up) return;
      Send(to, id, [this, id, inc, seq, fetch_offset, out] {
        Broker& br = *brokers_.at(id);
        if (br.incarnation != inc || br.fetch_seq != seq) return;
        br.fetch_in_flight = false;
        HandleFetchResponse(br, *out, fetch_offset);
        After(random_.Range(0, 3), [this, id, inc] { OnBroker(id, inc, [this, id] { Fetch(*brokers_.at(id)); }); });
      });
    });
  });
  After(kFetchTimeoutMs, [this, id, inc, seq] {
    Broker& br = *brokers_.at(id);
    if (br.incarnation == inc && br.fetch_seq == seq) br.fetch_in_flight = false;
  });
}

// As ReplicaFetcher's Handle does.
void World::HandleFetchResponse(Broker& b, const ReadOutcome& out, int64_t fetch_offset) {
  if (b.partition->role() != PartitionRole::kFollower) return;
  if (out.error == KafkaError::kOffsetOutOfRange &&
      Offset(fetch_offset) < out.data.log_start_offset) {
    (void)b.partition->ResetTo(out.data.log_start_offset);
    return;
  }
  if (out.error != KafkaError::kNone) return;
  if (out.divergence) {
    auto end = b.partition->Truncate(*out.divergence);
    if (end.ok()) {
      ++result_.truncations;
      Trace(fmt::format("broker {} truncates to {} (leader's epoch {} ends at {})", b.id, *end,
                        out.divergence->epoch, out.divergence->end_offset));
    }
    return;
  }
  if (Offset(fetch_offset) != b.log->LogEndOffset()) return;  // the log moved meanwhile
  std::string records(reinterpret_cast<const char*>(out.data.records.data()),
                      out.data.records.size());
  std::span<uint8_t> span(reinterpret_cast<uint8_t*>(records.data()), records.size());
  auto info = b.partition->AppendFromLeader(span, out.data.high_watermark,
                                            out.data.log_start_offset);
  if (!info.ok()) {
    Trace(fmt::format("broker {} cannot append from the leader: {}", b.id,
                      info.status().ToString()));
    return;
  }
  // The real fetcher waits for the group commit before its next fetch reports durability.
  if (!records.empty()) {
    if (random_.Chance(0.7)) {
      (void)b.log->Flush();
    } else {
      ScheduleFlush(b);
    }
  }
}

// -------------------------------------------------------------------------------------------
// the producer

int World::ChooseTarget() {
  // Metadata from a broker the client can reach (possibly stale), else from the controller's
  // committed image.
  std::vector<int> reachable;
  for (const auto& [id, b] : brokers_) {
    if (b->up && b->paused_until <= now_ && LinkUp(kClient, id) && b->caught_up) {
      reachable.push_back(id);
    }
  }
  const MetadataImage* image = &committed_;
  if (!reachable.empty() && random_.Chance(0.7)) {
    image = &brokers_.at(reachable[random_.Uniform(reachable.size())])->image;
  }
  const controller::TopicImage* t = image->topic(kTopic);
  if (t == nullptr || t->partitions.empty()) return -1;
  return t->partitions[0].leader.value();
}

// Sends the next batch (or retries the current one) after `delay_ms`, unless one is in flight.
void World::ProducerLoop(int64_t delay_ms) {
  const uint64_t request = request_;
  After(delay_ms, [this, request] {
    if (request_ != request || in_flight_) return;  // something else already moved on
    if (!producing_) return;
    SendBatch();
    if (!in_flight_) ProducerLoop(random_.Range(20, 100));  // no leader known: back off
  });
}

void World::SendBatch() {
  if (batch_values_.empty()) {
    const int n = static_cast<int>(random_.Range(1, 3));
    storage::BatchOptions o;
    o.producer_id = ProducerId(kProducerId);
    o.producer_epoch = ProducerEpoch(0);
    o.base_sequence = static_cast<int32_t>(next_sequence_);
    storage::RecordBatchBuilder builder(o);
    ++batch_number_;
    for (int i = 0; i < n; ++i) {
      batch_values_.push_back(fmt::format("s{}-b{}-r{}", seed_, batch_number_, i));
      builder.Append(clock_.NowWallMs(), std::nullopt, batch_values_.back());
    }
    auto built = builder.Build();
    STRAND_CHECK(built.ok());
    batch_bytes_.assign(reinterpret_cast<const char*>(built->data()), built->size());
  }
  const int target = ChooseTarget();
  if (target < 0 || !brokers_.contains(target)) return;
  const uint64_t request = ++request_;
  in_flight_ = true;
  Send(kClient, target, [this, target, request, bytes = batch_bytes_] {
    Broker& b = *brokers_.at(target);
    std::string copy = bytes;
    std::span<uint8_t> span(reinterpret_cast<uint8_t*>(copy.data()), copy.size());
    const Offset end_before = b.log->LogEndOffset();
    // Whether the broker was the leader the controller had elected when it took the batch: a
    // deposed leader that has not heard yet may answer from stale producer state.
    const controller::TopicImage* t = committed_.topic(kTopic);
    const bool current = t != nullptr && t->partitions[0].leader == NodeId(target) &&
                         t->partitions[0].leader_epoch == b.partition->leader_epoch();
    b.partition->Produce(span, -1, now_ + kProduceTimeoutMs,
                         [this, target, request, current](ProduceOutcome o) {
                           Send(target, kClient, [this, target, request, o, current] {
                             OnProduceResult(request, o, target, current);
                           });
                         });
    if (b.log && b.log->LogEndOffset() > end_before) {
      ScheduleFlush(b);
      const int32_t epoch = b.partition->leader_epoch().value();
      auto [it, fresh] = epoch_writer_.emplace(epoch, target);
      if (!fresh && it->second != target) {
        Fail("one-writer-epoch", fmt::format("brokers {} and {} both appended in leader epoch {}",
                                             it->second, target, epoch));
      }
    }
  });
  After(kClientTimeoutMs, [this, request] {
    if (in_flight_ && request_ == request) {
      in_flight_ = false;
      ProducerLoop(random_.Range(20, 100));  // retry
    }
  });
}

void World::OnProduceResult(uint64_t request, const ProduceOutcome& o, int broker,
                            bool current_leader) {
  if (!in_flight_ || request != request_) return;  // an answer to an attempt given up on
  in_flight_ = false;
  switch (o.error) {
    case KafkaError::kNone: {
      acked_.push_back(AckedBatch{o.base_offset.value(), batch_values_});
      ++result_.acked_batches;
      last_ack_ms_ = now_;
      Trace(fmt::format("acked batch {} at {} by broker {}", batch_number_, o.base_offset, broker));
      next_sequence_ += static_cast<int64_t>(batch_values_.size());
      batch_values_.clear();
      ProducerLoop(random_.Range(0, 5));
      return;
    }
    case KafkaError::kNotLeaderOrFollower:
    case KafkaError::kNotEnoughReplicas:
    case KafkaError::kNotEnoughReplicasAfterAppend:
    case KafkaError::kRequestTimedOut:
    case KafkaError::kFencedLeaderEpoch:
    case KafkaError::kUnknownLeaderEpoch:
    case KafkaError::kUnknownTopicOrPartition:
    case KafkaError::kKafkaStorageError:
      ProducerLoop(random_.Range(20, 100));  // retried with the same sequence
      return;
    case KafkaError::kOutOfOrderSequenceNumber:
      if (!current_leader) {  // a deposed leader lacks the batches its successor took
        ProducerLoop(random_.Range(20, 100));
        return;
      }
      [[fallthrough]];
    default:
      Fail("producer-error", fmt::format("broker {} answered batch {} (sequence {}) with {}: {}",
                                         broker, batch_number_, next_sequence_,
                                         KafkaErrorName(o.error), o.message));
  }
}

// -------------------------------------------------------------------------------------------
// faults

void World::Chaos() {
  if (!faults_on_) return;
  After(random_.Range(100, 1'200), [this] { Chaos(); });
  std::vector<int> up, down;
  for (const auto& [id, b] : brokers_) (b->up ? up : down).push_back(id);
  const int pick = up.empty() ? -1 : up[random_.Uniform(up.size())];
  switch (random_.Uniform(7)) {
    case 0:
    case 1:
      if (pick >= 0 && down.size() < 2) {
        CrashBroker(*brokers_.at(pick));
        After(random_.Range(50, 3'000), [this, pick] {
          if (!brokers_.at(pick)->up) StartBroker(*brokers_.at(pick));
        });
      }
      break;
    case 2:
      if (pick >= 0) {
        Broker& b = *brokers_.at(pick);
        b.paused_until = std::max(b.paused_until, now_ + random_.Range(50, 5'000));
        Trace(fmt::format("broker {} paused until {}", pick, b.paused_until));
      }
      break;
    case 3: {  // isolate a broker from the controller (clients and peers still reach it)
      const int id = kFirstBroker + static_cast<int>(random_.Uniform(brokers_.size()));
      cut_.insert({id, kController});
      Trace(fmt::format("broker {} cut off from the controller", id));
      After(random_.Range(200, 6'000), [this, id] { cut_.erase({id, kController}); });
      break;
    }
    case 4: {  // cut a link between two brokers
      const int a = kFirstBroker + static_cast<int>(random_.Uniform(brokers_.size()));
      const int c = kFirstBroker + static_cast<int>(random_.Uniform(brokers_.size()));
      if (a != c) {
        cut_.insert({a, c});
        Trace(fmt::format("link {}-{} cut", a, c));
        After(random_.Range(200, 5'000), [this, a, c] { cut_.erase({a, c}); });
      }
      break;
    }
    case 5: {  // a broker loses the network entirely
      const int id = kFirstBroker + static_cast<int>(random_.Uniform(brokers_.size()));
      std::vector<std::pair<int, int>> links{{id, kController}, {id, kClient}};
      for (const auto& [other, b] : brokers_) {
        if (other != id) links.push_back({id, other});
      }
      for (const auto& l : links) cut_.insert(l);
      Trace(fmt::format("broker {} isolated", id));
      After(random_.Range(200, 5'000), [this, links] {
        for (const auto& l : links) cut_.erase(l);
      });
      break;
    }
    default:
      if (random_.OneIn(3)) cut_.clear();
      break;
  }
}

void World::HealEverything() {
  faults_on_ = false;
  cut_.clear();
  for (auto& [id, b] : brokers_) {
    if (!b->up) StartBroker(*b);
    b->paused_until = 0;
  }
}

// -------------------------------------------------------------------------------------------
// checks

std::vector<std::pair<int64_t, BatchId>> World::ReadBatches(Broker& b, int64_t from, int64_t to) {
  std::vector<std::pair<int64_t, BatchId>> out;
  int64_t offset = std::max(from, b.log->LogStartOffset().value());
  while (offset < to) {
    auto read = b.log->Read(Offset(offset), 1 << 20, Offset(to));
    if (!read.ok()) Fail("read", fmt::format("broker {} at {}: {}", b.id, offset, read.status().ToString()));
    if (read->records.empty()) break;
    const auto span = read->records.span();
    size_t pos = 0;
    while (pos + storage::batch_layout::kHeaderSize <= span.size()) {
      const auto h = storage::RecordBatchHeader::Parse(span.data() + pos);
      out.emplace_back(h.base_offset.value(),
                       BatchId{h.last_offset().value(), h.crc, h.partition_leader_epoch.value()});
      pos += static_cast<size_t>(h.size_bytes());
    }
    if (read->next_offset.value() <= offset) break;
    offset = read->next_offset.value();
  }
  return out;
}

void World::CheckReplica(Broker& b) {
  const int64_t hw = b.log->HighWatermark().value();
  if (hw < b.last_hw) {
    Fail("hw-monotonic", fmt::format("broker {}: high watermark went from {} back to {}", b.id,
                                     b.last_hw, hw));
  }
  b.last_hw = hw;
  if (hw <= b.verified_upto) return;
  for (const auto& [base, id] : ReadBatches(b, b.verified_upto, hw)) {
    if (id.last_offset >= hw) break;
    auto [it, fresh] = committed_batches_by_base_.emplace(base, id);
    if (!fresh && !(it->second == id)) {
      Fail("agree-below-hw",
           fmt::format("broker {} holds batch [{}, {}] epoch {} crc {:08x} below its high "
                       "watermark {}, another replica held [{}, {}] epoch {} crc {:08x}",
                       b.id, base, id.last_offset, id.leader_epoch, id.crc, hw, base,
                       it->second.last_offset, it->second.leader_epoch, it->second.crc));
    }
    b.verified_upto = id.last_offset + 1;
  }
}

void World::CheckAll() {
  ++step_;
  for (auto& [id, b] : brokers_) {
    if (b->up) CheckReplica(*b);
  }
}

std::map<int64_t, std::string> World::ReadValues(Broker& b) {
  std::map<int64_t, std::string> out;
  int64_t offset = b.log->LogStartOffset().value();
  const int64_t end = b.log->LogEndOffset().value();
  while (offset < end) {
    auto read = b.log->Read(Offset(offset), 1 << 20);
    if (!read.ok() || read->records.empty()) break;
    const auto span = read->records.span();
    size_t pos = 0;
    while (pos + storage::batch_layout::kHeaderSize <= span.size()) {
      const auto h = storage::RecordBatchHeader::Parse(span.data() + pos);
      const auto size = static_cast<size_t>(h.size_bytes());
      auto decoded = storage::DecodedBatch::Decode(span.subspan(pos, size), 1 << 20);
      if (!decoded.ok()) Fail("read", fmt::format("broker {}: {}", b.id, decoded.status().ToString()));
      for (const auto& r : decoded->records()) {
        out[r.offset.value()] = r.value ? std::string(*r.value) : std::string();
      }
      pos += size;
    }
    if (read->next_offset.value() <= offset) break;
    offset = read->next_offset.value();
  }
  return out;
}

void World::CheckHoldsAcked(Broker& b, const std::string& when) {
  const auto values = ReadValues(b);
  for (const AckedBatch& a : acked_) {
    for (size_t i = 0; i < a.values.size(); ++i) {
      const int64_t offset = a.base_offset + static_cast<int64_t>(i);
      auto it = values.find(offset);
      if (it == values.end() || it->second != a.values[i]) {
        Fail("no-acked-loss",
             fmt::format("broker {} {}: acknowledged record '{}' at offset {} is {}", b.id, when,
                         a.values[i], offset,
                         it == values.end() ? std::string("missing") : "'" + it->second + "'"));
      }
    }
  }
}

std::string World::DescribeState() {
  std::string out;
  if (const controller::TopicImage* t = committed_.topic(kTopic)) {
    const auto& ps = t->partitions[0];
    out += fmt::format("partition: leader {} epoch {} ISR [{}];", ps.leader, ps.leader_epoch,
                       fmt::join(ps.isr, ","));
  }
  for (const auto& [id, r] : committed_.brokers()) {
    out += fmt::format(" broker {} epoch {} {}", id, r.epoch, r.fenced ? "fenced" : "unfenced");
    const Broker& b = *brokers_.at(id.value());
    if (b.up) {
      out += fmt::format(" (life {} epoch {} image {} caught-up {} role {} end {} hw {})",
                         b.incarnation, b.broker_epoch, b.image.offset(), b.caught_up,
                         static_cast<int>(b.partition->role()), b.log->LogEndOffset(),
                         b.log->HighWatermark());
    }
    out += ";";
  }
  return out;
}

bool World::Converged() {
  const controller::TopicImage* t = committed_.topic(kTopic);
  if (t == nullptr) return false;
  const auto& ps = t->partitions[0];
  if (ps.leader == kNoNode || ps.isr.size() != brokers_.size()) return false;
  Broker& leader = *brokers_.at(ps.leader.value());
  if (leader.partition->role() != PartitionRole::kLeader ||
      leader.partition->leader_epoch() != ps.leader_epoch) {
    return false;
  }
  const Offset end = leader.log->LogEndOffset();
  for (auto& [id, b] : brokers_) {
    if (!b->up || b->log->LogEndOffset() != end || b->log->HighWatermark() != end) return false;
  }
  return !in_flight_ && batch_values_.empty();
}

void World::FinalChecks() {
  std::optional<std::vector<std::pair<int64_t, BatchId>>> reference;
  int reference_id = 0;
  for (auto& [id, b] : brokers_) {
    CheckHoldsAcked(*b, "at the end");
    auto batches = ReadBatches(*b, 0, b->log->LogEndOffset().value());
    if (!reference) {
      reference = batches;
      reference_id = id;
    } else if (batches != *reference) {
      Fail("agree-below-hw", fmt::format("after convergence brokers {} and {} hold different logs "
                                         "({} and {} batches)",
                                         reference_id, id, reference->size(), batches.size()));
    }
    // Idempotence: no record twice.
    std::map<std::string, int64_t> seen;
    for (const auto& [offset, value] : ReadValues(*b)) {
      auto [it, fresh] = seen.emplace(value, offset);
      if (!fresh) {
        Fail("no-duplicates", fmt::format("broker {}: '{}' at offsets {} and {}", id, value,
                                          it->second, offset));
      }
    }
  }
}

ReplicationSimResult World::Run() {
  SetCheckFailureHandler(&strand::sim::ThrowViolationOnCheckFailure);
  try {
    controller_.BecomeActive(committed_, 1, now_);
    CommitAll();
    After(100, [this] { ControllerTick(); });
    for (auto& [id, b] : brokers_) StartBroker(*b);
    // Set-up: every broker unfenced, then the topic.
    while (Step() && now_ < 5'000) {
      bool all = true;
      for (auto& [id, b] : brokers_) all = all && b->caught_up;
      if (all) break;
    }
    admin::v1::CreateTopicsRequest req;
    auto* t = req.add_topics();
    t->set_name(kTopic);
    t->set_partitions(1);
    t->set_replication_factor(static_cast<int32_t>(brokers_.size()));
    std::optional<admin::v1::CreateTopicsResponse> resp;
    controller_.CreateTopics(req, [&](admin::v1::CreateTopicsResponse r) { resp = r; });
    CommitAll();
    if (!resp || resp->topics(0).error().code() != 0) {
      Fail("setup", resp ? resp->topics(0).error().message() : "no answer");
    }
    ProducerLoop(0);
    faults_on_ = true;
    After(500, [this] { Chaos(); });
    for (uint64_t i = 0; i < options_.steps; ++i) {
      if (!Step()) Fail("stuck", "no events left");
    }
    // Faults stop: writes must succeed again and the replicas converge.
    HealEverything();
    const int64_t healed = now_;
    const uint64_t acked_before = acked_.size();
    while (now_ - healed < kSettleLimitMs && acked_.size() < acked_before + 20) {
      Step();
      if (options_.verbose && (now_ - healed) % 5'000 < 3) Trace(DescribeState());
    }
    if (acked_.size() < acked_before + 20) {
      Fail("liveness", fmt::format("only {} batches acknowledged in {} ms after healing",
                                   acked_.size() - acked_before, now_ - healed));
    }
    producing_ = false;
    const int64_t stopped = now_;
    while (now_ - stopped < kSettleLimitMs && !Converged()) Step();
    if (!Converged()) Fail("liveness", "replicas did not converge after healing");
    FinalChecks();
  } catch (const SimViolation& stop) {
    result_.ok = false;
    result_.checker = stop.checker;
    result_.detail = stop.detail;
  }
  SetCheckFailureHandler(nullptr);
  result_.step = step_;
  result_.time_ms = now_;
  return result_;
}

}  // namespace

ReplicationSimResult RunReplicationSimulation(const ReplicationSimOptions& options, uint64_t seed) {
  World world(options, seed);
  return world.Run();
}

}  // namespace strand::broker::sim
