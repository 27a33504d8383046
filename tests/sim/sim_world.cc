#include "tests/sim/sim_world.h"

#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <queue>
#include <vector>

#include "common/check.h"
#include "common/random.h"
#include "raft/core/raw_node.h"
#include "raft/storage/memory_storage.h"
#include "tests/sim/checkers.h"
#include "tests/sim/sim_network.h"

namespace strand::raft::sim {
namespace {

constexpr int64_t kTickUs = 10'000;                  // one Raft tick of simulated time
constexpr int64_t kLivenessDeadlineUs = 30'000'000;  // per liveness stage, after faults stop
constexpr int kLivenessProposals = 3;
constexpr int64_t kDelayMaxUs = 60'000;  // the slowest link a profile draws
constexpr int64_t kSettleUs = 500'000;   // longer than any fault-phase message delay
static_assert(kSettleUs > 2 * kDelayMaxUs && kSettleUs > 2 * NetworkFaults{}.long_delay_max_us);

// Thrown to end a run: a checker found a violation, or the core hit one of its own CHECKs.
struct Stop {
  Violation violation;
};

void ThrowOnCheckFailure(const char* file, int line, const char* condition,
                         const std::string& message) {
  throw Stop{Violation{"core-invariant",
                       fmt::format("{}:{}: CHECK({}) {}", file, line, condition, message)}};
}

// How hostile this seed's world is; drawn from the seed so each seed is a different mix.
struct ChaosProfile {
  NetworkFaults network;
  int64_t chaos_interval_us;   // mean time between fault actions
  int64_t client_interval_us;  // mean time between client operations
  int64_t restart_delay_max_us;
  double crash_weight, partition_weight, heal_weight, transfer_weight;
  double crash_in_ready;       // chance of a crash while handling one Ready
  uint64_t snapshot_interval;  // entries between snapshots
  uint64_t snapshot_trailing;
  size_t snapshot_filler_max;  // extra snapshot bytes, to make transfers span many chunks
  size_t append_bytes_max;     // 1 means one entry per append: backlogs arrive piecemeal
  size_t inflight_messages_max;
  size_t uncommitted_bytes_max;  // backpressure: proposals beyond it are refused
};

ChaosProfile DrawProfile(Random& r) {
  ChaosProfile p;
  const double drops[] = {0, 0.01, 0.05, 0.15};
  p.network.drop = drops[r.Uniform(4)];
  p.network.duplicate = r.OneIn(2) ? 0.0 : 0.03;
  // Hostile mixes are drawn more often: long delays (messages still in flight across crashes
  // and elections), frequent faults and backlogs split into small appends are where ordering
  // bugs such as Raft's figure 8 show up.
  const int64_t delays[] = {500, 2'000, 8'000, 30'000, 30'000, kDelayMaxUs};
  p.network.delay_max_us = delays[r.Uniform(6)];
  p.network.long_delay = r.OneIn(3) ? 0.02 : 0.0;
  const int64_t chaos[] = {20'000, 20'000, 60'000, 200'000, 800'000};
  p.chaos_interval_us = chaos[r.Uniform(5)];
  p.client_interval_us = r.Range(1'000, 20'000);
  p.restart_delay_max_us = r.OneIn(2) ? 30'000 : 400'000;
  p.crash_weight = r.Range(1, 4);
  p.partition_weight = r.Range(1, 4);
  p.heal_weight = r.Range(1, 3);
  p.transfer_weight = r.OneIn(3) ? 1 : 0;
  p.crash_in_ready = r.OneIn(2) ? 0.002 : 0.0;
  p.snapshot_interval = static_cast<uint64_t>(r.Range(20, 200));
  p.snapshot_trailing = static_cast<uint64_t>(r.Range(0, 10));
  p.snapshot_filler_max = static_cast<size_t>(r.Range(0, 400));
  const size_t append_sizes[] = {1, 1, 64, 512, 4096};
  p.append_bytes_max = append_sizes[r.Uniform(5)];
  p.inflight_messages_max = static_cast<size_t>(r.Range(1, 16));
  p.uncommitted_bytes_max = r.OneIn(2) ? 8 << 10 : 64 << 10;
  return p;
}

struct Event {
  enum class Kind { kTick, kDeliver, kChaos, kRestart, kClient };
  int64_t time;
  uint64_t seq;
  Kind kind;
  NodeId node;
  Message message;
  uint64_t incarnation = 0;  // kTick: the boot it belongs to (older ticks are void)
};

struct EventLater {
  bool operator()(const Event& a, const Event& b) const {
    return a.time != b.time ? a.time > b.time : a.seq > b.seq;
  }
};

struct Node {
  NodeId id;
  Config config;
  std::unique_ptr<Random> random;
  MemoryStorage storage;
  std::unique_ptr<RawNode> raw;
  bool up = false;
  bool restart_scheduled = false;
  uint64_t incarnation = 0;  // bumped at every boot, so a pre-crash tick chain dies with it
  LogIndex sm_index;         // state machine: applied index and hash chain
  uint64_t sm_chain = 0;
  std::map<uint64_t, LogIndex> reads;  // read context -> commit index it must reach
};

std::string SnapshotData(LogIndex index, uint64_t chain, size_t filler) {
  return fmt::format("{} {} ", index.value(), chain) + std::string(filler, 'f');
}

std::pair<LogIndex, uint64_t> ParseSnapshot(const std::string& data) {
  uint64_t index = 0, chain = 0;
  STRAND_CHECK(std::sscanf(data.c_str(), "%lu %lu", &index, &chain) == 2);
  return {LogIndex(index), chain};
}

}  // namespace

class World {
 public:
  World(const SimOptions& options, uint64_t seed);
  SimResult Run();

 private:
  void Schedule(int64_t at, Event::Kind kind, NodeId node, Message m = {},
                uint64_t incarnation = 0);
  void RunEvent(const Event& e);
  void Boot(Node& n);
  void Crash(Node& n);
  void ProcessReady(Node& n);
  void ApplyReady(Node& n, const Ready& rd);
  void MaybeSnapshot(Node& n);
  void Send(Message m);
  void Chaos();
  void Partition();
  void ClientOperation();
  void CheckLeaders();
  Node* Leader();
  void Liveness();
  void ObserversRestartIntoQuietLog(const NetworkFaults& calm);
  [[noreturn]] void Fail(std::string checker, std::string detail);
  void Trace(const std::string& line);
  std::string DescribeNodes();

  SimOptions options_;
  uint64_t seed_;
  Random chaos_random_;
  Random network_random_;
  ChaosProfile profile_;
  SimNetwork network_;
  SafetyChecker checker_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::priority_queue<Event, std::vector<Event>, EventLater> events_;
  int64_t now_ = 0;
  uint64_t seq_ = 0;
  uint64_t step_ = 0;
  bool chaos_on_ = true;
  uint64_t proposal_counter_ = 0;
  uint64_t read_counter_ = 0;
  SimStats stats_;
};

World::World(const SimOptions& options, uint64_t seed)
    : options_(options),
      seed_(seed),
      chaos_random_(seed),
      network_random_(seed ^ 0x5bd1e995),
      profile_(DrawProfile(chaos_random_)) {
  network_.set_faults(profile_.network);
  std::vector<NodeId> voters;
  for (int i = 1; i <= options_.voters; ++i) voters.push_back(NodeId(i));
  for (int i = 1; i <= options_.voters + options_.observers; ++i) {
    auto n = std::make_unique<Node>();
    n->id = NodeId(i);
    n->config.id = n->id;
    n->config.voters = voters;
    n->config.observer = i > options_.voters;
    n->config.snapshot_chunk_bytes = 64;
    n->config.snapshot_interval_entries = profile_.snapshot_interval;
    n->config.snapshot_trailing_entries = profile_.snapshot_trailing;
    n->config.append_bytes_max = profile_.append_bytes_max;
    n->config.inflight_messages_max = profile_.inflight_messages_max;
    n->config.uncommitted_bytes_max = profile_.uncommitted_bytes_max;
    n->config.entry_bytes_max = 1024;
    n->config.observer_expiry_ticks = 60;
    n->random = std::make_unique<Random>(seed * 7919 + static_cast<uint64_t>(i));
    nodes_.push_back(std::move(n));
  }
}

[[noreturn]] void World::Fail(std::string checker, std::string detail) {
  throw Stop{Violation{std::move(checker), std::move(detail)}};
}

void World::Trace(const std::string& line) {
  if (options_.verbose) std::fprintf(stderr, "[t=%ld step=%lu] %s\n", now_, step_, line.c_str());
}

std::string World::DescribeNodes() {
  std::string out;
  for (auto& n : nodes_) {
    if (!n->up) {
      out += fmt::format("\n  node {} down", n->id);
      continue;
    }
    const Raft& r = n->raw->raft();
    out += fmt::format("\n  node {} {} term={} leader={} last={} commit={} applied={}", n->id,
                       RoleName(r.role()), r.term(), r.leader(), r.log().LastIndex(),
                       r.log().committed(), r.log().applied());
    if (r.role() != Role::kLeader) continue;
    for (auto& p : nodes_) {
      const Progress* pr = r.progress(p->id);
      if (pr == nullptr || p->id == n->id) continue;
      out += fmt::format(
          "\n    peer {} state={} match={} next={} inflight={} probe_sent={} "
          "stalled={}",
          p->id, static_cast<int>(pr->state), pr->match, pr->next, pr->inflights.count(),
          pr->probe_sent, pr->stalled_heartbeats);
    }
  }
  return out;
}

void World::Schedule(int64_t at, Event::Kind kind, NodeId node, Message m, uint64_t incarnation) {
  events_.push(Event{at, seq_++, kind, node, std::move(m), incarnation});
}

void World::Boot(Node& n) {
  auto boot = n.storage.Load();
  STRAND_CHECK(boot.ok());
  n.sm_index = LogIndex(0);
  n.sm_chain = 0;
  if (!boot->snapshot.Empty()) {
    std::tie(n.sm_index, n.sm_chain) = ParseSnapshot(*boot->snapshot.data);
    if (auto v = checker_.OnRestore(n.id, n.sm_index, n.sm_chain)) throw Stop{*v};
  }
  auto raw = RawNode::Create(n.config, *n.random, *std::move(boot));
  STRAND_CHECK_MSG(raw.ok(), "{}", raw.status().ToString());
  n.raw = *std::move(raw);
  n.up = true;
  n.restart_scheduled = false;
  ++n.incarnation;
  Trace(fmt::format("node {} boots at term {}", n.id, n.raw->raft().term()));
  Schedule(now_ + chaos_random_.Range(1, kTickUs), Event::Kind::kTick, n.id, {}, n.incarnation);
}

void World::Crash(Node& n) {
  // A crash keeps a random prefix of the unsynced writes: whatever the disk got to write.
  const size_t keep =
      n.storage.pending_writes() == 0 ? 0 : chaos_random_.Uniform(n.storage.pending_writes() + 1);
  n.storage.Crash(keep);
  n.raw.reset();
  n.up = false;
  n.reads.clear();
  ++stats_.crashes;
  Trace(fmt::format("node {} crashes", n.id));
  if (chaos_on_ && !n.restart_scheduled) {
    n.restart_scheduled = true;
    Schedule(now_ + chaos_random_.Range(1'000, profile_.restart_delay_max_us),
             Event::Kind::kRestart, n.id);
  }
}

void World::Send(Message m) {
  for (int64_t delay : network_.DeliveryDelays(network_random_)) {
    Schedule(now_ + delay, Event::Kind::kDeliver, m.to, m);
  }
}

void World::ProcessReady(Node& n) {
  while (n.up && n.raw->HasReady()) {
    Ready rd = n.raw->GetReady();
    const RaftLog& log = n.raw->raft().log();
    if (rd.soft_state) {
      Trace(fmt::format("node {} is {} at term {} (leader {})", n.id, RoleName(rd.soft_state->role),
                        n.raw->raft().term(), rd.soft_state->leader));
    }
    if (!rd.entries.empty()) {
      auto prev = log.TermAt(rd.entries.front().index.Prev());
      STRAND_CHECK(prev.has_value());
      if (auto v = checker_.OnEntries(n.id, *prev, rd.entries)) throw Stop{*v};
    }
    STRAND_CHECK(n.storage.Persist(rd.hard_state, rd.snapshot, rd.entries, rd.must_sync).ok());
    for (Message& m : rd.messages) {
      if (chaos_on_ && chaos_random_.Chance(profile_.crash_in_ready)) {
        Crash(n);  // after persisting, part way through sending
        return;
      }
      Send(std::move(m));
    }
    ApplyReady(n, rd);
    n.raw->Advance(rd);
    MaybeSnapshot(n);
  }
}

void World::ApplyReady(Node& n, const Ready& rd) {
  if (rd.snapshot) {
    std::tie(n.sm_index, n.sm_chain) = ParseSnapshot(*rd.snapshot->data);
    STRAND_CHECK(n.sm_index == rd.snapshot->meta.index);
    if (auto v = checker_.OnRestore(n.id, n.sm_index, n.sm_chain)) throw Stop{*v};
    ++stats_.snapshots_installed;
    Trace(fmt::format("node {} installs snapshot at {}", n.id, n.sm_index));
  }
  for (const Entry& e : rd.committed_entries) {
    STRAND_CHECK_MSG(e.index == n.sm_index + 1, "node {} applies {} after {}", n.id, e.index,
                     n.sm_index);
    uint64_t chain = 0;
    if (auto v = checker_.OnApply(n.id, n.raw->raft().term(), e, n.sm_chain, &chain)) {
      throw Stop{*v};
    }
    n.sm_index = e.index;
    n.sm_chain = chain;
  }
  for (const ReadState& r : rd.read_states) {
    auto it = n.reads.find(r.context);
    if (it == n.reads.end()) continue;
    if (auto v = checker_.OnRead(n.id, r.index, it->second)) throw Stop{*v};
    n.reads.erase(it);
    ++stats_.reads_served;
  }
}

void World::MaybeSnapshot(Node& n) {
  if (!n.raw->ShouldSnapshot()) return;
  STRAND_CHECK(n.raw->raft().log().applied() == n.sm_index);
  const size_t filler =
      profile_.snapshot_filler_max == 0 ? 0 : chaos_random_.Uniform(profile_.snapshot_filler_max);
  auto data = std::make_shared<const std::string>(SnapshotData(n.sm_index, n.sm_chain, filler));
  const LogIndex compact_to = n.raw->Compact(n.sm_index, data);
  STRAND_CHECK(n.storage.SaveSnapshot(n.raw->raft().snapshot(), compact_to).ok());
  ++stats_.snapshots_taken;
}

Node* World::Leader() {
  Node* best = nullptr;
  for (auto& n : nodes_) {
    if (!n->up || n->raw->raft().role() != Role::kLeader) continue;
    if (best == nullptr || n->raw->raft().term() > best->raw->raft().term()) best = n.get();
  }
  return best;
}

void World::CheckLeaders() {
  for (auto& n : nodes_) {
    if (!n->up || n->raw->raft().role() != Role::kLeader) continue;
    if (auto v = checker_.OnLeader(n->id, n->raw->raft().term(), n->raw->raft().log())) {
      throw Stop{*v};
    }
  }
}

void World::Partition() {
  const int total = static_cast<int>(nodes_.size());
  NodeId a(static_cast<int>(chaos_random_.Range(1, total)));
  NodeId b(static_cast<int>(chaos_random_.Range(1, total)));
  switch (chaos_random_.Uniform(3)) {
    case 0:  // isolate one node
      for (auto& n : nodes_) {
        if (n->id != a) network_.Cut(a, n->id);
      }
      Trace(fmt::format("isolate node {}", a));
      break;
    case 1:  // split into two random groups
      for (auto& x : nodes_) {
        for (auto& y : nodes_) {
          if (x->id < y->id && chaos_random_.OneIn(2)) network_.Cut(x->id, y->id);
        }
      }
      Trace("random split");
      break;
    default:  // one-way cut (asymmetric partition)
      if (a != b) network_.CutOneWay(a, b);
      Trace(fmt::format("cut {} -> {}", a, b));
      break;
  }
  ++stats_.partitions;
}

void World::Chaos() {
  const double total = profile_.crash_weight + profile_.partition_weight + profile_.heal_weight +
                       profile_.transfer_weight;
  double pick = chaos_random_.NextDouble() * total;
  if ((pick -= profile_.crash_weight) < 0) {
    Node& n = *nodes_[chaos_random_.Uniform(nodes_.size())];
    if (n.up) Crash(n);
  } else if ((pick -= profile_.partition_weight) < 0) {
    Partition();
  } else if ((pick -= profile_.heal_weight) < 0) {
    network_.HealAll();
    Trace("heal");
  } else if (Node* leader = Leader()) {
    NodeId target(static_cast<int>(chaos_random_.Range(1, options_.voters)));
    if (leader->raw->TransferLeadership(target).ok()) ++stats_.transfers;
    ProcessReady(*leader);
  }
  Schedule(now_ + chaos_random_.Range(1, 2 * profile_.chaos_interval_us), Event::Kind::kChaos,
           kNoNode);
}

void World::ClientOperation() {
  Node* target = Leader();
  if (target == nullptr || chaos_random_.OneIn(4)) {
    target = nodes_[chaos_random_.Uniform(nodes_.size())].get();
  }
  if (target->up) {
    if (chaos_random_.OneIn(8)) {
      const uint64_t context = ++read_counter_;
      if (target->raw->ReadIndex(context).ok()) target->reads[context] = checker_.max_committed();
    } else {
      auto index = target->raw->Propose(fmt::format("s{}-p{}", seed_, ++proposal_counter_));
      if (index.ok()) ++stats_.proposals_accepted;
    }
    ProcessReady(*target);
  }
  Schedule(now_ + chaos_random_.Range(1, 2 * profile_.client_interval_us), Event::Kind::kClient,
           kNoNode);
}

void World::RunEvent(const Event& e) {
  now_ = e.time;
  ++stats_.events;
  switch (e.kind) {
    case Event::Kind::kTick: {
      Node& n = *nodes_[e.node.value() - 1];
      // A crashed node's ticks stop; Boot starts a new chain for the new incarnation.
      if (!n.up || e.incarnation != n.incarnation) break;
      n.raw->Tick();
      ProcessReady(n);
      const int64_t jitter = chaos_random_.Range(-kTickUs / 10, kTickUs / 10);
      Schedule(now_ + kTickUs + jitter, Event::Kind::kTick, n.id, {}, n.incarnation);
      break;
    }
    case Event::Kind::kDeliver: {
      Node& n = *nodes_[e.node.value() - 1];
      if (!n.up || network_.Blocked(e.message.from, e.message.to)) break;
      if (options_.verbose) {
        const Message& m = e.message;
        Trace(fmt::format("deliver {} {}->{} term={} index={} entries={} reject={}",
                          MessageTypeName(m.type), m.from, m.to, m.term, m.index, m.entries.size(),
                          m.reject));
      }
      n.raw->Step(e.message);
      ProcessReady(n);
      break;
    }
    case Event::Kind::kRestart: {
      Node& n = *nodes_[e.node.value() - 1];
      if (!n.up) Boot(n);
      break;
    }
    case Event::Kind::kChaos:
      if (chaos_on_) Chaos();
      break;
    case Event::Kind::kClient:
      if (chaos_on_) ClientOperation();
      break;
  }
  CheckLeaders();
}

// Liveness stage 2: observers restart into a quiet log over lossy links, as a broker killed and
// started again while the metadata log is idle. Each stays down until the voters forget it, then
// joins while messages are still lost (its first probe may be). Nothing is proposed after that,
// so no new entry comes to carry appends: heartbeats alone must bring every node up to what the
// leader has.
void World::ObserversRestartIntoQuietLog(const NetworkFaults& calm) {
  for (auto& n : nodes_) {
    if (n->config.observer && n->up) Crash(*n);
  }
  if (Node* leader = Leader()) {  // the log moves on while they are down
    for (int i = 0; i < kLivenessProposals; ++i) {
      (void)leader->raw->Propose(fmt::format("s{}-quiet{}", seed_, i));
    }
    ProcessReady(*leader);
  }
  const int64_t forgotten_at = now_ + (nodes_.front()->config.observer_expiry_ticks + 2) * kTickUs;
  while (now_ < forgotten_at && !events_.empty()) {
    Event e = events_.top();
    events_.pop();
    RunEvent(e);
  }
  NetworkFaults lossy = calm;
  lossy.drop = std::max(profile_.network.drop, 0.1);
  network_.set_faults(lossy);
  for (auto& n : nodes_) {
    if (!n->up) Boot(*n);
  }
  Trace("observers restart over lossy links");
  auto caught_up = [&] {
    Node* leader = Leader();
    if (leader == nullptr) return false;
    const LogIndex last = leader->raw->raft().log().LastIndex();
    if (leader->raw->raft().log().committed() < last) return false;
    for (auto& n : nodes_) {
      if (n->sm_index < last) return false;
    }
    return true;
  };
  const int64_t deadline = now_ + kLivenessDeadlineUs;
  while (!caught_up()) {
    if (events_.empty() || now_ > deadline) {
      std::string lag;
      for (auto& n : nodes_) lag += fmt::format(" node{}@{}", n->id, n->sm_index);
      if (options_.verbose) Trace(DescribeNodes());
      Fail("liveness", fmt::format("with nothing proposed, the nodes did not catch up with the "
                                   "leader within 30 s of the observers' restart:{}",
                                   lag));
    }
    Event e = events_.top();
    events_.pop();
    RunEvent(e);
  }
  network_.set_faults(calm);
}

void World::Liveness() {
  chaos_on_ = false;
  NetworkFaults calm = profile_.network;
  calm.drop = 0;
  calm.duplicate = 0;
  calm.long_delay = 0;
  calm.delay_max_us = std::min<int64_t>(calm.delay_max_us, 2'000);  // slow links were a fault too
  network_.set_faults(calm);
  network_.HealAll();
  for (auto& n : nodes_) {
    if (!n->up) Boot(*n);
  }
  Trace("faults stop");
  // Stage 1: a leader that every voter follows, once every message sent while faults were on has
  // been delivered. (A TimeoutNow still in flight from an abandoned transfer would otherwise
  // legitimately depose the leader and drop entries it accepted but had not committed.)
  const int64_t settled_at = now_ + kSettleUs;
  const int64_t elect_deadline = now_ + kLivenessDeadlineUs;
  Node* leader = nullptr;
  while (true) {
    leader = Leader();
    bool agreed = leader != nullptr;
    for (auto& n : nodes_) {
      if (agreed && !n->config.observer && n->raw->raft().leader() != leader->id) agreed = false;
    }
    if (agreed && now_ >= settled_at) break;
    if (events_.empty() || now_ > elect_deadline) {
      Fail("liveness", "no leader was elected within 30 s after faults stopped");
    }
    Event e = events_.top();
    events_.pop();
    RunEvent(e);
  }
  // Stage 2: observers restart into a quiet log over lossy links.
  ObserversRestartIntoQuietLog(calm);
  // Stage 3: proposals accepted by a leader commit and apply on every node. A leader may refuse
  // for a while (a transfer that began before faults stopped); proposals are retried until one
  // accepts them, as a client would.
  std::vector<std::pair<LogIndex, std::string>> accepted;
  const int64_t propose_deadline = now_ + kLivenessDeadlineUs;
  while (accepted.size() < static_cast<size_t>(kLivenessProposals)) {
    leader = Leader();
    if (leader != nullptr) {
      std::string data = fmt::format("s{}-final{}", seed_, accepted.size());
      auto index = leader->raw->Propose(data);
      if (index.ok()) {
        accepted.emplace_back(*index, std::move(data));
        ProcessReady(*leader);
        continue;
      }
    }
    if (events_.empty() || now_ > propose_deadline) {
      Fail("liveness", "no leader accepted proposals within 30 s after faults stopped");
    }
    Event e = events_.top();
    events_.pop();
    RunEvent(e);
  }
  const int64_t commit_deadline = now_ + kLivenessDeadlineUs;
  auto converged = [&] {
    for (auto& n : nodes_) {
      if (n->sm_index < accepted.back().first) return false;
      if (n->sm_index != nodes_[0]->sm_index || n->sm_chain != nodes_[0]->sm_chain) return false;
    }
    return true;
  };
  while (!converged()) {
    if (events_.empty() || now_ > commit_deadline) {
      std::string lag;
      for (auto& n : nodes_) lag += fmt::format(" node{}@{}", n->id, n->sm_index);
      if (options_.verbose) Trace(DescribeNodes());
      Fail("liveness", fmt::format("proposals up to index {} not applied everywhere within "
                                   "30 s after faults stopped:{}",
                                   accepted.back().first, lag));
    }
    Event e = events_.top();
    events_.pop();
    RunEvent(e);
  }
  for (const auto& [index, data] : accepted) {
    const auto* c = checker_.committed(index);
    if (c == nullptr || c->data_hash != HashBytes(data)) {
      Fail("liveness", fmt::format("accepted proposal at {} was replaced before commit", index));
    }
  }
}

SimResult World::Run() {
  SimResult result;
  SetCheckFailureHandler(&ThrowOnCheckFailure);
  Trace(fmt::format(
      "profile: drop={} dup={} delay_max_us={} long_delay={} chaos_us={} "
      "client_us={} restart_max_us={} crash_in_ready={} snapshot_every={} "
      "append_bytes_max={} inflight_max={}",
      profile_.network.drop, profile_.network.duplicate, profile_.network.delay_max_us,
      profile_.network.long_delay, profile_.chaos_interval_us, profile_.client_interval_us,
      profile_.restart_delay_max_us, profile_.crash_in_ready, profile_.snapshot_interval,
      profile_.append_bytes_max, profile_.inflight_messages_max));
  try {
    for (auto& n : nodes_) Boot(*n);
    Schedule(profile_.chaos_interval_us, Event::Kind::kChaos, kNoNode);
    Schedule(1'000, Event::Kind::kClient, kNoNode);
    for (step_ = 0; step_ < options_.steps && !events_.empty(); ++step_) {
      Event e = events_.top();
      events_.pop();
      RunEvent(e);
    }
    Liveness();
  } catch (const Stop& stop) {
    result.ok = false;
    result.checker = stop.violation.checker;
    result.detail = stop.violation.detail;
  }
  SetCheckFailureHandler(nullptr);
  result.step = step_;
  result.time_us = now_;
  stats_.committed = checker_.committed_entries();
  stats_.sim_time_us = now_;
  result.stats = stats_;
  return result;
}

SimResult RunSimulation(const SimOptions& options, uint64_t seed) {
  World world(options, seed);
  return world.Run();
}

}  // namespace strand::raft::sim
