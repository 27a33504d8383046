#include "raft/core/raft_test_util.h"

#include "common/check.h"

namespace strand::raft::testing {

Config MakeConfig(int id, const std::vector<int>& voters) {
  Config c;
  c.id = NodeId(id);
  for (int v : voters) c.voters.push_back(NodeId(v));
  c.observer = std::find(voters.begin(), voters.end(), id) == voters.end();
  c.election_timeout_ticks = 10;
  c.heartbeat_interval_ticks = 1;
  return c;
}

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)) {
  std::vector<int> voters;
  for (int i = 1; i <= options_.voters; ++i) voters.push_back(i);
  for (int i = 1; i <= options_.voters + options_.observers; ++i) {
    auto n = std::make_unique<TestNode>();
    n->id = NodeId(i);
    n->config = MakeConfig(i, voters);
    n->config.pre_vote = options_.pre_vote;
    n->config.check_quorum = options_.check_quorum;
    if (options_.tweak) options_.tweak(n->config);
    n->random = std::make_unique<Random>(options_.seed * 1000 + i);
    Boot(*n);
    nodes_[i] = std::move(n);
  }
}

void Cluster::Boot(TestNode& n) {
  auto boot = n.storage.Load();
  STRAND_CHECK(boot.ok());
  if (!boot->snapshot.Empty()) n.restored = boot->snapshot;
  n.applied.clear();
  auto node = RawNode::Create(n.config, *n.random, *std::move(boot));
  STRAND_CHECK_MSG(node.ok(), "{}", node.status().ToString());
  n.node = *std::move(node);
  n.down = false;
}

std::vector<int> Cluster::ids() const {
  std::vector<int> out;
  for (const auto& [id, n] : nodes_) out.push_back(id);
  return out;
}

bool Cluster::Blocked(const Message& m) const {
  if (cut_.count({m.from.value(), m.to.value()})) return true;
  auto it = nodes_.find(m.to.value());
  if (it == nodes_.end() || it->second->down) return true;
  return drop && drop(m);
}

void Cluster::ProcessReady(TestNode& n) {
  while (n.node->HasReady()) {
    Ready rd = n.node->GetReady();
    STRAND_CHECK(n.storage.Persist(rd.hard_state, rd.snapshot, rd.entries, rd.must_sync).ok());
    for (Message& m : rd.messages) in_flight_.push_back(std::move(m));
    if (rd.snapshot) {
      n.restored = rd.snapshot;
      n.applied.clear();
    }
    for (const Entry& e : rd.committed_entries) n.applied.push_back(e);
    for (const ReadState& r : rd.read_states) n.reads.push_back(r);
    n.node->Advance(rd);
  }
}

void Cluster::Stabilize() {
  for (int round = 0; round < 100'000; ++round) {
    for (auto& [id, n] : nodes_) {
      if (!n->down) ProcessReady(*n);
    }
    if (in_flight_.empty()) return;
    Message m = std::move(in_flight_.front());
    in_flight_.pop_front();
    sent.push_back(m);
    if (Blocked(m)) continue;
    nodes_.at(m.to.value())->node->Step(m);
  }
  STRAND_UNREACHABLE("cluster did not stabilize");
}

void Cluster::Tick(int id, int n) {
  for (int i = 0; i < n; ++i) {
    if (!node(id).down) node(id).node->Tick();
    Stabilize();
  }
}

void Cluster::TickAll(int n) {
  for (int i = 0; i < n; ++i) {
    for (auto& [id, node] : nodes_) {
      if (!node->down) node->node->Tick();
    }
    Stabilize();
  }
}

bool Cluster::Elect(int id) {
  node(id).node->Campaign();
  Stabilize();
  return raft(id).role() == Role::kLeader;
}

absl::StatusOr<LogIndex> Cluster::Propose(int id, std::string data) {
  auto index = node(id).node->Propose(std::move(data));
  Stabilize();
  return index;
}

std::optional<int> Cluster::Leader() {
  std::optional<int> leader;
  Term best;
  for (auto& [id, n] : nodes_) {
    if (n->down || n->raft().role() != Role::kLeader) continue;
    if (!leader || n->raft().term() > best) {
      leader = id;
      best = n->raft().term();
    }
  }
  return leader;
}

void Cluster::Cut(int a, int b) {
  cut_.insert({a, b});
  cut_.insert({b, a});
}

void Cluster::CutOneWay(int from, int to) { cut_.insert({from, to}); }

void Cluster::Isolate(int id) {
  for (const auto& [other, n] : nodes_) {
    if (other != id) Cut(id, other);
  }
}

void Cluster::HealAll() { cut_.clear(); }

void Cluster::Crash(int id) {
  node(id).storage.Crash();
  node(id).down = true;
  node(id).node.reset();
}

void Cluster::Restart(int id) { Boot(node(id)); }

std::vector<std::string> Data(const std::vector<Entry>& entries) {
  std::vector<std::string> out;
  for (const Entry& e : entries) {
    if (e.type == EntryType::kNormal) out.push_back(e.data);
  }
  return out;
}

}  // namespace strand::raft::testing
