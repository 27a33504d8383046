#pragma once

// InteractionEnv: the command interpreter behind the Raft core's golden interaction scripts
// (raft/core/testdata/*.txt, run by interaction_test.cc). It holds a few RawNodes, each with a
// MemoryStorage, and a network of per-node inboxes that a script drives one step at a time:
// nothing moves unless a command says so, and every Ready a node handles is printed, so a script
// reads as a trace of the protocol that a reviewer can check against the paper.
//
// Each node follows the Ready contract as the driver does: persist (hard state, snapshot,
// entries; synced when the Ready says so), then queue the messages, then apply, then Advance.
// Messages wait in the recipient's inbox until delivered; a cut link drops them at delivery.
//
// Commands (node ids are positional unless named):
//   add-nodes <n> voters=(1,2,3) [pre-vote=true] [check-quorum=true] [election-ticks=10]
//             [heartbeat-ticks=1] [append-bytes-max=N] [snapshot-trailing=N]
//             [snapshot-chunk-bytes=N] [seed=1]
//   campaign <id>             the node starts an election now (pre-vote first if enabled)
//   tick <id> [count=1]       raw ticks
//   tick-heartbeat <id>       one heartbeat interval of ticks
//   tick-election <id>        a leader: one election timeout of ticks (check-quorum runs);
//                             others: ticks until the node has something to do (at most 2T)
//   propose <id> <data>       prints the index the entry will have, or the error
//   transfer-leadership <id> to=<target>
//   compact <id> index=<i>    the application snapshots at i; the log is compacted
//   process-ready <id>...     one Ready per node, printed and handled
//   deliver-msgs <id>...      steps every queued message to the node, printing each
//   drop-msgs <id>...         drops the node's queued messages
//   stabilize [<id>...]       Ready and delivery rounds until nothing moves
//   isolate <id> / cut <a> <b> / heal   network partitions (heal removes every cut)
//   status <id>...            role, term, vote, leader, commit; a leader's view of its peers
//   raft-log <id>             the node's log (term/index and data) and its cursors
//
// Formats: an entry is `term/index data` (data quoted, `noop` for a leader's empty entry); a
// message is `from->to Type Term:t` plus the fields its type uses, e.g.
// `1->2 Append Term:1 Log:1/3 Commit:3 Entries:[1/4 "x"]` (Log is the preceding entry's
// term/index). Test-only; single-threaded.

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/random.h"
#include "common/testing/datadriven.h"
#include "raft/core/raw_node.h"
#include "raft/storage/memory_storage.h"

namespace strand::raft::testing {

class InteractionEnv {
 public:
  // Runs one script command and returns its output.
  std::string Handle(const strand::testing::Command& cmd);

 private:
  struct Node {
    Config config;
    std::unique_ptr<Random> random;
    MemoryStorage storage;
    std::unique_ptr<RawNode> raw;
    std::deque<Message> inbox;

    Raft& raft() { return raw->mutable_raft(); }
  };

  std::string AddNodes(const strand::testing::Command& cmd);
  std::string Tick(const strand::testing::Command& cmd, const std::string& mode);
  std::string Propose(const strand::testing::Command& cmd);
  std::string TransferLeadership(const strand::testing::Command& cmd);
  std::string Compact(const strand::testing::Command& cmd);
  std::string Stabilize(const strand::testing::Command& cmd);
  std::string StatusOf(Node& node);
  std::string LogOf(Node& node);

  // Handles one Ready of `node` (if it has one), appending its trace. Returns whether it had one.
  bool ProcessReady(Node& node, std::string& out);
  // Steps every message queued for `node`. Returns whether there was any.
  bool Deliver(Node& node, std::string& out);
  bool Cut(const Message& m) const;

  // The nodes a command names by position; reports unknown ids on the command.
  std::vector<Node*> NodesOf(const strand::testing::Command& cmd, bool all_if_none = false);
  Node* FirstNode(const strand::testing::Command& cmd);
  Node* NodeNamed(const strand::testing::Command& cmd, const std::string& word);

  std::map<int, std::unique_ptr<Node>> nodes_;
  std::set<std::pair<int, int>> cuts_;  // (from, to) links that drop messages
};

}  // namespace strand::raft::testing
