#pragma once

// Test harness for the Raft core: a cluster of RawNodes over a synchronous in-memory network.
// Each node follows the Ready contract exactly (persist to MemoryStorage, then send, then apply,
// then Advance), so tests exercise the same ordering the real driver uses. Messages are
// delivered in FIFO order unless a test cuts links or installs a drop filter.

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/random.h"
#include "raft/core/raw_node.h"
#include "raft/storage/memory_storage.h"

namespace strand::raft::testing {

Config MakeConfig(int id, const std::vector<int>& voters);

struct TestNode {
  NodeId id;
  Config config;
  std::unique_ptr<Random> random;
  MemoryStorage storage;
  std::unique_ptr<RawNode> node;
  std::vector<Entry> applied;        // every committed entry applied, in order
  std::optional<Snapshot> restored;  // last snapshot the application restored from
  std::vector<ReadState> reads;
  bool down = false;

  Raft& raft() { return node->mutable_raft(); }
};

struct ClusterOptions {
  int voters = 3;
  int observers = 0;  // observer ids follow the voters: voters + 1, voters + 2, ...
  bool pre_vote = true;
  bool check_quorum = true;
  uint64_t seed = 1;
  std::function<void(Config&)> tweak;  // adjusts every node's config
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {});

  TestNode& node(int id) { return *nodes_.at(id); }
  Raft& raft(int id) { return node(id).raft(); }
  std::vector<int> ids() const;

  // Drains every node's Ready and delivers messages until nothing moves.
  void Stabilize();
  // Ticks one node (or all) n times, stabilizing after each tick.
  void Tick(int id, int n = 1);
  void TickAll(int n = 1);
  // Campaigns on `id` and stabilizes; returns whether it became leader.
  bool Elect(int id);
  absl::StatusOr<LogIndex> Propose(int id, std::string data);
  // The unique live leader, if any.
  std::optional<int> Leader();

  // Network faults.
  void Cut(int a, int b);  // both directions
  void CutOneWay(int from, int to);
  void Isolate(int id);
  void HealAll();
  std::function<bool(const Message&)> drop;  // returns true to drop a message

  // Node faults: Crash loses unsynced writes; Restart boots from what storage kept.
  void Crash(int id);
  void Restart(int id);

  // Every message delivered or dropped so far, in order (for inspection).
  std::vector<Message> sent;

 private:
  void ProcessReady(TestNode& n);
  bool Blocked(const Message& m) const;
  void Boot(TestNode& n);

  ClusterOptions options_;
  std::map<int, std::unique_ptr<TestNode>> nodes_;
  std::deque<Message> in_flight_;
  std::set<std::pair<int, int>> cut_;
};

// Entries' data, for compact assertions.
std::vector<std::string> Data(const std::vector<Entry>& entries);

}  // namespace strand::raft::testing
