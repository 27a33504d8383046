#include "tests/sim/controller_world.h"

#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>

#include <fmt/format.h>

#include "common/check.h"
#include "common/random.h"
#include "controller/logic/quorum_controller.h"
#include "controller/state/metadata_image.h"
#include "raft/core/raw_node.h"
#include "raft/storage/memory_storage.h"
#include "tests/sim/sim_network.h"
#include "tests/sim/sim_violation.h"

namespace strand::controller::sim {
namespace {

using raft::Entry;
using raft::EntryType;
using raft::LogIndex;
using raft::Message;
using raft::Ready;
using raft::Role;
using strand::raft::sim::NetworkFaults;
using strand::raft::sim::SimNetwork;

constexpr int64_t kTickUs = 20'000;              // Raft tick: election timeout 200-400 ms
constexpr int64_t kHeartbeatUs = 500'000;        // broker heartbeat interval
constexpr int64_t kLivenessDeadlineUs = 30'000'000;

using strand::sim::SimViolation;

struct Event {
  enum class Kind { kTick, kDeliver, kRestart, kChaos, kAdmin, kBrokerHeartbeat, kBrokerAlter,
                    kBrokerRestart };
  int64_t time;
  uint64_t seq;
  Kind kind;
  int target;  // controller or broker id
  Message message;
  uint64_t incarnation = 0;
};

// A controller: the Raft core plus the metadata image and the QuorumController on top of it.
struct Controller : MetadataLog {
  NodeId id;
  raft::Config config;
  std::unique_ptr<Random> random;
  raft::MemoryStorage storage;
  std::unique_ptr<raft::RawNode> raw;
  MetadataImage image;
  std::unique_ptr<QuorumController> qc;
  bool up = false;
  uint64_t incarnation = 0;
  std::map<std::pair<std::string, int32_t>, std::pair<int32_t, int32_t>> epochs;  // monotonic

  absl::StatusOr<uint64_t> Append(const v1::MetadataBatch& batch) override {
    auto index = raw->Propose(batch.SerializeAsString());
    if (!index.ok()) return index.status();
    return index->value();
  }
};

struct Broker {
  int id;
  bool up = true;
  uint64_t incarnation = 1;
  int64_t epoch = 0;
  bool want_shut_down = false;
  int connected_to = -1;  // controller holding this broker's heartbeat stream
};

}  // namespace

class ControllerWorld {
 public:
  ControllerWorld(const ControllerSimOptions& options, uint64_t seed);
  ControllerSimResult Run();

 private:
  void Schedule(int64_t at, Event::Kind kind, int target, Message m = {}, uint64_t inc = 0);
  void RunEvent(const Event& e);
  Controller& C(int id) { return *controllers_.at(static_cast<size_t>(id - 1)); }
  Broker& B(int id) { return brokers_.at(static_cast<size_t>(id - 101)); }
  Controller* Active();
  void Boot(Controller& c);
  void Crash(Controller& c);
  void ProcessReady(Controller& c);
  void Apply(Controller& c, const Ready& rd);
  void CheckImage(Controller& c);
  void BrokerHeartbeat(Broker& b);
  void BrokerAlter(Broker& b);
  void CrashBroker(Broker& b);
  void Admin();
  void Chaos();
  void Liveness();
  void RunUntil(const std::function<bool()>& done, int64_t deadline, const std::string& what);
  int64_t NowMs() const { return now_ / 1000; }
  [[noreturn]] void Fail(std::string checker, std::string detail) {
    throw SimViolation{std::move(checker), std::move(detail)};
  }
  void Trace(const std::string& line) {
    if (options_.verbose) std::fprintf(stderr, "[t=%ld] %s\n", now_, line.c_str());
  }

  ControllerSimOptions options_;
  uint64_t seed_;
  Random random_;
  SimNetwork network_;
  std::vector<std::unique_ptr<Controller>> controllers_;
  std::vector<Broker> brokers_;
  std::priority_queue<Event, std::vector<Event>, strand::sim::EarliestFirst> events_;
  int64_t now_ = 0;
  uint64_t seq_ = 0;
  bool chaos_ = true;
  std::map<uint64_t, NodeId> active_in_term_;
  std::map<uint64_t, std::string> applied_batches_;  // index -> bytes, for metadata-log-safety
  uint64_t topic_counter_ = 0;
  ControllerSimResult result_;
};

ControllerWorld::ControllerWorld(const ControllerSimOptions& options, uint64_t seed)
    : options_(options), seed_(seed), random_(seed) {
  NetworkFaults faults;
  faults.drop = random_.OneIn(2) ? 0.0 : 0.05;
  faults.duplicate = random_.OneIn(2) ? 0.0 : 0.02;
  faults.delay_max_us = random_.OneIn(2) ? 2'000 : 20'000;
  network_.set_faults(faults);
  std::vector<NodeId> voters;
  for (int i = 1; i <= options_.controllers; ++i) voters.push_back(NodeId(i));
  ControllerConfig qc_config;
  qc_config.cluster_id = "sim";
  qc_config.controller_ids = voters;
  qc_config.static_configs["leader.imbalance.check.interval.seconds"] = "5";
  for (int i = 1; i <= options_.controllers; ++i) {
    auto c = std::make_unique<Controller>();
    c->id = NodeId(i);
    c->config.id = c->id;
    c->config.voters = voters;
    c->config.snapshot_interval_entries = static_cast<uint64_t>(random_.Range(30, 300));
    c->config.snapshot_trailing_entries = static_cast<uint64_t>(random_.Range(0, 20));
    c->config.snapshot_chunk_bytes = 512;
    c->random = std::make_unique<Random>(seed * 131 + static_cast<uint64_t>(i));
    qc_config.node_id = c->id;
    c->qc = std::make_unique<QuorumController>(qc_config, *c, seed * 17 + static_cast<uint64_t>(i));
    controllers_.push_back(std::move(c));
  }
  for (int b = 0; b < options_.brokers; ++b) brokers_.push_back(Broker{101 + b});
}

void ControllerWorld::Schedule(int64_t at, Event::Kind kind, int target, Message m, uint64_t inc) {
  events_.push(Event{at, seq_++, kind, target, std::move(m), inc});
}

Controller* ControllerWorld::Active() {
  Controller* best = nullptr;
  for (auto& c : controllers_) {
    if (!c->up || !c->qc->active()) continue;
    if (best == nullptr || c->raw->raft().term() > best->raw->raft().term()) best = c.get();
  }
  return best;
}

void ControllerWorld::Boot(Controller& c) {
  auto boot = c.storage.Load();
  STRAND_CHECK(boot.ok());
  c.image = MetadataImage();
  if (!boot->snapshot.Empty()) {
    v1::MetadataSnapshot snap;
    STRAND_CHECK(snap.ParseFromString(*boot->snapshot.data));
    auto image = MetadataImage::FromSnapshot(snap);
    STRAND_CHECK(image.ok());
    c.image = *std::move(image);
  }
  auto raw = raft::RawNode::Create(c.config, *c.random, *std::move(boot));
  STRAND_CHECK(raw.ok());
  c.raw = *std::move(raw);
  c.qc->BecomeStandby();
  c.up = true;
  c.epochs.clear();
  ++c.incarnation;
  Schedule(now_ + random_.Range(1, kTickUs), Event::Kind::kTick, c.id.value(), {}, c.incarnation);
}

void ControllerWorld::Crash(Controller& c) {
  c.storage.Crash(c.storage.pending_writes() == 0 ? 0 : random_.Uniform(c.storage.pending_writes()));
  c.qc->BecomeStandby();
  c.raw.reset();
  c.up = false;
  Trace(fmt::format("controller {} crashes", c.id));
  Schedule(now_ + random_.Range(10'000, 800'000), Event::Kind::kRestart, c.id.value());
}

void ControllerWorld::ProcessReady(Controller& c) {
  while (c.up && c.raw->HasReady()) {
    Ready rd = c.raw->GetReady();
    STRAND_CHECK(c.storage.Persist(rd.hard_state, rd.snapshot, rd.entries, rd.must_sync).ok());
    for (Message& m : rd.messages) {
      for (int64_t d : network_.DeliveryDelays(random_)) {
        Schedule(now_ + d, Event::Kind::kDeliver, m.to.value(), m);
      }
    }
    if (rd.soft_state && rd.soft_state->role != Role::kLeader && c.qc->active()) {
      c.qc->BecomeStandby();
      Trace(fmt::format("controller {} stands down", c.id));
    }
    Apply(c, rd);
    c.raw->Advance(rd);
    if (c.raw->ShouldSnapshot()) {
      auto data = std::make_shared<const std::string>(c.image.ToSnapshot().SerializeAsString());
      const LogIndex at = c.raw->raft().log().applied();
      STRAND_CHECK(c.storage.SaveSnapshot(c.raw->raft().snapshot(), c.raw->Compact(at, data)).ok());
    }
  }
  if (c.up) CheckImage(c);
}

void ControllerWorld::Apply(Controller& c, const Ready& rd) {
  if (rd.snapshot) {
    v1::MetadataSnapshot snap;
    STRAND_CHECK(snap.ParseFromString(*rd.snapshot->data));
    auto image = MetadataImage::FromSnapshot(snap);
    STRAND_CHECK(image.ok());
    c.image = *std::move(image);
    c.image.set_offset(rd.snapshot->meta.index.value());
  }
  for (const Entry& e : rd.committed_entries) {
    const uint64_t index = e.index.value();
    auto [it, fresh] = applied_batches_.emplace(index, e.data);
    if (!fresh && it->second != e.data) {
      Fail("metadata-log-safety",
           fmt::format("controller {} applied a different batch at index {}", c.id, index));
    }
    if (e.type == EntryType::kNormal) {
      v1::MetadataBatch batch;
      STRAND_CHECK(batch.ParseFromString(e.data));
      (void)c.image.ReplayBatch(batch, index);
      c.qc->OnCommitted(index);
    } else {
      c.image.set_offset(index);
      const raft::Raft& r = c.raw->raft();
      if (e.term == r.term() && r.role() == Role::kLeader && !c.qc->active()) {
        const uint64_t term = r.term().value();
        auto [prev, first] = active_in_term_.emplace(term, c.id);
        if (!first && prev->second != c.id) {
          Fail("single-active", fmt::format("controllers {} and {} both active in term {}",
                                            prev->second, c.id, term));
        }
        c.qc->BecomeActive(c.image, term, NowMs());
        ++result_.activations;
        Trace(fmt::format("controller {} active in term {}", c.id, term));
      }
    }
  }
}

void ControllerWorld::CheckImage(Controller& c) {
  const MetadataImage& image = c.image;
  for (const auto& [name, t] : image.topics()) {
    for (size_t i = 0; i < t.partitions.size(); ++i) {
      const PartitionState& p = t.partitions[i];
      const std::string where = fmt::format("controller {} offset {}: {}-{}", c.id,
                                            image.offset(), name, i);
      if (p.isr.empty()) Fail("partition-leadership", where + " has an empty ISR");
      for (NodeId m : p.isr) {
        if (!p.IsReplica(m)) Fail("partition-leadership", where + " has an ISR member that is not a replica");
      }
      if (p.leader != kNoNode) {
        if (!p.InIsr(p.leader) || !p.IsReplica(p.leader)) {
          Fail("partition-leadership", fmt::format("{}: leader {} is not in the ISR", where, p.leader));
        }
        if (!image.BrokerIsActive(p.leader)) {
          Fail("partition-leadership",
               fmt::format("{}: leader {} is fenced or unregistered", where, p.leader));
        }
      }
      auto key = std::make_pair(t.id.Bytes(), static_cast<int32_t>(i));
      auto [it, fresh] = c.epochs.emplace(key, std::make_pair(p.leader_epoch.value(),
                                                               p.partition_epoch));
      if (!fresh) {
        if (p.leader_epoch.value() < it->second.first || p.partition_epoch < it->second.second) {
          Fail("leader-epoch-monotonic",
               fmt::format("{}: epochs went back from ({}, {}) to ({}, {})", where,
                           it->second.first, it->second.second, p.leader_epoch,
                           p.partition_epoch));
        }
        it->second = {p.leader_epoch.value(), p.partition_epoch};
      }
    }
  }
}

void ControllerWorld::CrashBroker(Broker& b) {
  if (!b.up) return;
  b.up = false;
  // The controller holding the stream sees it break (the process died, the socket closed).
  if (b.connected_to > 0 && C(b.connected_to).up &&
      !network_.Blocked(NodeId(b.id), NodeId(b.connected_to))) {
    C(b.connected_to).qc->HeartbeatStreamClosed(NodeId(b.id), b.epoch, NowMs());
    ProcessReady(C(b.connected_to));
  }
  b.connected_to = -1;
  ++result_.broker_restarts;
  Trace(fmt::format("broker {} stops", b.id));
  if (chaos_) Schedule(now_ + random_.Range(50'000, 2'000'000), Event::Kind::kBrokerRestart, b.id);
}

void ControllerWorld::BrokerHeartbeat(Broker& b) {
  Schedule(now_ + kHeartbeatUs + random_.Range(0, 50'000), Event::Kind::kBrokerHeartbeat, b.id);
  if (!b.up) return;
  Controller* target = b.connected_to > 0 ? &C(b.connected_to) : nullptr;
  if (target == nullptr || !target->up || !target->qc->active() ||
      network_.Blocked(NodeId(b.id), target->id)) {
    // Find the active controller (brokers follow NOT_CONTROLLER hints; here: ask one at random).
    if (target != nullptr && target->up && !network_.Blocked(NodeId(b.id), target->id)) {
      target->qc->HeartbeatStreamClosed(NodeId(b.id), b.epoch, NowMs());
      ProcessReady(*target);
    }
    b.connected_to = -1;
    Controller& pick = *controllers_[random_.Uniform(controllers_.size())];
    if (!pick.up || !pick.qc->active() || network_.Blocked(NodeId(b.id), pick.id)) return;
    target = &pick;
    b.connected_to = pick.id.value();
  }
  if (b.epoch == 0) {
    v1::RegisterBrokerRequest req;
    req.set_cluster_id("sim");
    req.set_broker_id(b.id);
    req.set_incarnation_id(fmt::format("b{}-{}", b.id, b.incarnation));
    req.add_listeners()->set_port(b.id);
    const uint64_t incarnation = b.incarnation;
    target->qc->RegisterBroker(req, NowMs(), [this, &b, incarnation](v1::RegisterBrokerResponse r) {
      if (r.error().code() == 0 && b.incarnation == incarnation && b.up) b.epoch = r.broker_epoch();
    });
  } else {
    v1::BrokerHeartbeatRequest req;
    req.set_broker_id(b.id);
    req.set_broker_epoch(b.epoch);
    req.set_incarnation_id(fmt::format("b{}-{}", b.id, b.incarnation));
    req.set_metadata_offset(target->image.offset());
    req.set_want_shut_down(b.want_shut_down);
    v1::BrokerHeartbeatResponse r = target->qc->Heartbeat(req, NowMs());
    const auto code = static_cast<KafkaError>(r.error().code());
    if (code == KafkaError::kStaleBrokerEpoch || code == KafkaError::kBrokerIdNotRegistered) {
      b.epoch = 0;
    }
    if (r.should_shut_down()) {
      b.want_shut_down = false;
      ProcessReady(*target);
      CrashBroker(b);  // it exits once the controller says so
      return;
    }
  }
  ProcessReady(*target);
}

void ControllerWorld::BrokerAlter(Broker& b) {
  Schedule(now_ + random_.Range(100'000, 600'000), Event::Kind::kBrokerAlter, b.id);
  if (!b.up || b.epoch == 0 || b.connected_to < 0) return;
  Controller& target = C(b.connected_to);
  if (!target.up || !target.qc->active() || network_.Blocked(NodeId(b.id), target.id)) return;
  // As a partition leader, report a follower falling behind or catching up.
  std::vector<std::pair<const TopicImage*, int32_t>> led;
  for (const auto& [name, t] : target.image.topics()) {
    for (size_t i = 0; i < t.partitions.size(); ++i) {
      if (t.partitions[i].leader == NodeId(b.id)) led.emplace_back(&t, static_cast<int32_t>(i));
    }
  }
  if (led.empty()) return;
  auto [topic, index] = led[random_.Uniform(led.size())];
  const PartitionState& p = topic->partitions[static_cast<size_t>(index)];
  std::vector<NodeId> isr = p.isr;
  if (random_.OneIn(2) && isr.size() > 1) {
    isr.erase(std::remove(isr.begin(), isr.end(), isr[1 + random_.Uniform(isr.size() - 1)]),
              isr.end());
  } else {
    for (NodeId r : p.replicas) {
      if (!p.InIsr(r)) {
        isr.push_back(r);
        break;
      }
    }
  }
  v1::AlterPartitionRequest req;
  req.set_broker_id(b.id);
  req.set_broker_epoch(b.epoch);
  req.set_incarnation_id(fmt::format("b{}-{}", b.id, b.incarnation));
  auto* change = req.add_partitions();
  change->set_topic_id(topic->id.Bytes());
  change->set_partition(index);
  change->set_leader_epoch(p.leader_epoch.value());
  change->set_partition_epoch(p.partition_epoch);
  FromNodeIds(isr, change->mutable_new_isr());
  target.qc->AlterPartition(req, [](v1::AlterPartitionResponse) {});
  ProcessReady(target);
}

void ControllerWorld::Admin() {
  Schedule(now_ + random_.Range(20'000, 200'000), Event::Kind::kAdmin, 0);
  Controller* c = Active();
  if (c == nullptr) return;
  const MetadataImage& image = c->qc->working();
  std::vector<std::string> names;
  for (const auto& [name, t] : image.topics()) names.push_back(name);
  const std::string some = names.empty() ? "none" : names[random_.Uniform(names.size())];
  auto ignore = [](auto) {};
  switch (random_.Uniform(8)) {
    case 0:
    case 1: {
      admin::v1::CreateTopicsRequest req;
      auto* t = req.add_topics();
      t->set_name(fmt::format("t{}", ++topic_counter_));
      t->set_partitions(static_cast<int32_t>(random_.Range(1, 4)));
      t->set_replication_factor(static_cast<int32_t>(random_.Range(1, 3)));
      if (random_.OneIn(3)) (*t->mutable_configs())["unclean.leader.election.enable"] = "true";
      c->qc->CreateTopics(req, [this](admin::v1::CreateTopicsResponse r) {
        if (r.topics(0).error().code() == 0) ++result_.topics_created;
      });
      break;
    }
    case 2: {
      admin::v1::DeleteTopicsRequest req;
      req.add_names(some);
      c->qc->DeleteTopics(req, ignore);
      break;
    }
    case 3: {
      admin::v1::CreatePartitionsRequest req;
      req.set_topic(some);
      const TopicImage* t = image.topic(some);
      req.set_total_count(t == nullptr ? 1 : static_cast<int32_t>(t->partitions.size()) + 1);
      c->qc->CreatePartitions(req, ignore);
      break;
    }
    case 4: {
      admin::v1::ElectLeadersRequest req;
      req.set_election_type(random_.OneIn(2) ? admin::v1::PREFERRED : admin::v1::UNCLEAN);
      c->qc->ElectLeaders(req, ignore);
      break;
    }
    case 5: {
      admin::v1::AlterPartitionReassignmentsRequest req;
      auto* ra = req.add_reassignments();
      ra->mutable_partition()->set_topic(some);
      ra->mutable_partition()->set_partition(0);
      if (!random_.OneIn(4)) {  // else: cancel
        std::set<int> target;
        const int want = static_cast<int>(random_.Range(1, 3));
        while (static_cast<int>(target.size()) < want) {
          target.insert(101 + static_cast<int>(random_.Uniform(brokers_.size())));
        }
        for (int r : target) ra->add_replicas(r);
      }
      c->qc->AlterPartitionReassignments(req, ignore);
      break;
    }
    case 6: {
      admin::v1::AlterConfigsRequest req;
      req.set_resource_type(admin::v1::TOPIC);
      req.set_resource_name(some);
      auto* change = req.add_changes();
      change->set_name("unclean.leader.election.enable");
      change->set_value(random_.OneIn(2) ? "true" : "false");
      c->qc->AlterConfigs(req, ignore);
      break;
    }
    default: {
      Broker& b = brokers_[random_.Uniform(brokers_.size())];
      if (b.up && b.epoch > 0 && random_.OneIn(3)) b.want_shut_down = true;
      break;
    }
  }
  ProcessReady(*c);
}

void ControllerWorld::Chaos() {
  Schedule(now_ + random_.Range(50'000, 600'000), Event::Kind::kChaos, 0);
  switch (random_.Uniform(6)) {
    case 0: {
      Controller& c = *controllers_[random_.Uniform(controllers_.size())];
      if (c.up) Crash(c);
      break;
    }
    case 1:
    case 2:
      CrashBroker(brokers_[random_.Uniform(brokers_.size())]);
      break;
    case 3: {  // cut a controller or a broker off from everyone
      const bool broker = random_.OneIn(2);
      const int who = broker ? 101 + static_cast<int>(random_.Uniform(brokers_.size()))
                             : 1 + static_cast<int>(random_.Uniform(controllers_.size()));
      for (auto& c : controllers_) {
        if (c->id.value() != who) network_.Cut(NodeId(who), c->id);
      }
      Trace(fmt::format("isolate {}", who));
      break;
    }
    case 4: {  // one-way cut between two controllers
      NodeId a(1 + static_cast<int>(random_.Uniform(controllers_.size())));
      NodeId b(1 + static_cast<int>(random_.Uniform(controllers_.size())));
      if (a != b) network_.CutOneWay(a, b);
      break;
    }
    default:
      network_.HealAll();
      Trace("heal");
  }
}

void ControllerWorld::RunEvent(const Event& e) {
  now_ = e.time;
  ++result_.events;
  switch (e.kind) {
    case Event::Kind::kTick: {
      Controller& c = C(e.target);
      if (!c.up || e.incarnation != c.incarnation) break;
      c.raw->Tick();
      if (c.qc->active()) c.qc->Tick(NowMs());
      ProcessReady(c);
      Schedule(now_ + kTickUs, Event::Kind::kTick, e.target, {}, c.incarnation);
      break;
    }
    case Event::Kind::kDeliver: {
      Controller& c = C(e.target);
      if (!c.up || network_.Blocked(e.message.from, e.message.to)) break;
      c.raw->Step(e.message);
      ProcessReady(c);
      break;
    }
    case Event::Kind::kRestart:
      if (!C(e.target).up) Boot(C(e.target));
      break;
    case Event::Kind::kChaos:
      if (chaos_) Chaos();
      break;
    case Event::Kind::kAdmin:
      if (chaos_) Admin();
      break;
    case Event::Kind::kBrokerHeartbeat:
      BrokerHeartbeat(B(e.target));
      break;
    case Event::Kind::kBrokerAlter:
      if (chaos_) BrokerAlter(B(e.target));
      break;
    case Event::Kind::kBrokerRestart: {
      Broker& b = B(e.target);
      if (!b.up) {
        b.up = true;
        ++b.incarnation;
        b.epoch = 0;
        b.want_shut_down = false;  // a new process: whatever the old one asked for is gone
        Trace(fmt::format("broker {} restarts", b.id));
      }
      break;
    }
  }
}

void ControllerWorld::RunUntil(const std::function<bool()>& done, int64_t deadline,
                               const std::string& what) {
  while (!done()) {
    if (events_.empty() || now_ > deadline) {
      std::string state;
      for (auto& c : controllers_) {
        state += fmt::format(" c{}:{}{}", c->id, c->up ? "up" : "down",
                             c->up && c->qc->active() ? "(active)" : "");
      }
      Controller* active = Active();
      for (auto& b : brokers_) {
        const BrokerRegistration* r = active ? active->image.broker(NodeId(b.id)) : nullptr;
        state += fmt::format(" b{}:epoch{}{}{}", b.id, b.epoch,
                             r && r->fenced ? ":fenced" : "",
                             r && r->in_controlled_shutdown ? ":shutdown" : "");
      }
      Fail("liveness", what + " within 30 s after faults stopped;" + state);
    }
    Event e = events_.top();
    events_.pop();
    RunEvent(e);
  }
}

void ControllerWorld::Liveness() {
  chaos_ = false;
  NetworkFaults calm;
  network_.set_faults(calm);
  network_.HealAll();
  for (auto& c : controllers_) {
    if (!c->up) Boot(*c);
  }
  for (auto& b : brokers_) {
    // A broker that asked for a controlled shutdown exits and comes back as a new incarnation.
    if (b.want_shut_down) {
      b.want_shut_down = false;
      CrashBroker(b);
    }
    if (!b.up) {
      b.up = true;
      ++b.incarnation;
      b.epoch = 0;
    }
  }
  Trace("faults stop");
  const int64_t deadline = now_ + kLivenessDeadlineUs;
  RunUntil([&] { return Active() != nullptr; }, deadline, "no controller became active");
  RunUntil(
      [&] {
        Controller* c = Active();
        if (c == nullptr) return false;
        for (const Broker& b : brokers_) {
          const BrokerRegistration* r = c->image.broker(NodeId(b.id));
          if (r == nullptr || r->fenced || r->in_controlled_shutdown) return false;
        }
        return true;
      },
      deadline, "not every broker was registered and unfenced");
  // Like a client: retry on NOT_CONTROLLER (an attempt that committed anyway shows up as
  // TOPIC_ALREADY_EXISTS on the retry).
  admin::v1::CreateTopicsRequest req;
  auto* t = req.add_topics();
  t->set_name("final");
  t->set_partitions(3);
  t->set_replication_factor(std::min(3, options_.brokers));
  while (true) {
    std::optional<admin::v1::CreateTopicsResponse> created;
    RunUntil([&] { return Active() != nullptr; }, deadline, "no controller became active");
    Controller* c = Active();
    c->qc->CreateTopics(req, [&](admin::v1::CreateTopicsResponse r) { created = r; });
    ProcessReady(*c);
    RunUntil([&] { return created.has_value(); }, deadline, "the final topic was not created");
    const auto code = static_cast<KafkaError>(created->topics(0).error().code());
    if (code == KafkaError::kNone || code == KafkaError::kTopicAlreadyExists) break;
    if (code != KafkaError::kNotController) {
      Fail("liveness", "creating the final topic failed: " + created->topics(0).error().message());
    }
  }
  RunUntil(
      [&] {
        Controller* a = Active();
        const TopicImage* topic = a == nullptr ? nullptr : a->image.topic("final");
        if (topic == nullptr) return false;
        for (const PartitionState& p : topic->partitions) {
          if (p.leader == kNoNode) return false;
        }
        return true;
      },
      deadline, "the final topic's partitions have no leaders");
}

ControllerSimResult ControllerWorld::Run() {
  SetCheckFailureHandler(&strand::sim::ThrowViolationOnCheckFailure);
  try {
    for (auto& c : controllers_) Boot(*c);
    for (auto& b : brokers_) {
      Schedule(random_.Range(1, kHeartbeatUs), Event::Kind::kBrokerHeartbeat, b.id);
      Schedule(random_.Range(1, 500'000), Event::Kind::kBrokerAlter, b.id);
    }
    Schedule(300'000, Event::Kind::kChaos, 0);
    Schedule(100'000, Event::Kind::kAdmin, 0);
    for (result_.step = 0; result_.step < options_.steps && !events_.empty(); ++result_.step) {
      Event e = events_.top();
      events_.pop();
      RunEvent(e);
    }
    Liveness();
  } catch (const SimViolation& stop) {
    result_.ok = false;
    result_.checker = stop.checker;
    result_.detail = stop.detail;
  }
  SetCheckFailureHandler(nullptr);
  result_.time_us = now_;
  return result_;
}

ControllerSimResult RunControllerSimulation(const ControllerSimOptions& options, uint64_t seed) {
  ControllerWorld world(options, seed);
  return world.Run();
}

}  // namespace strand::controller::sim
