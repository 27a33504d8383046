#include "raft/core/interaction_env.h"

#include <fmt/format.h>

#include <charconv>
#include <string_view>

#include "common/check.h"

namespace strand::raft::testing {
namespace {

using strand::testing::Command;

// Printable bytes as they are; anything else as \xNN, so an output line never breaks.
std::string Quote(std::string_view data) {
  std::string out = "\"";
  for (unsigned char c : data) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out + "\"";
}

std::string FormatEntry(const Entry& e) {
  return fmt::format("{}/{} {}", e.term, e.index,
                     e.type == EntryType::kNoop ? std::string("noop") : Quote(e.data));
}

std::string FormatEntries(const std::vector<Entry>& entries) {
  std::string out;
  for (const Entry& e : entries) out += (out.empty() ? "" : ", ") + FormatEntry(e);
  return out;
}

std::string FormatVoters(const std::vector<NodeId>& voters) {
  std::string out;
  for (NodeId v : voters) out += (out.empty() ? "" : ",") + std::to_string(v.value());
  return "(" + out + ")";
}

// The fields each message type uses (types.h documents them), nothing else.
std::string FormatMessage(const Message& m) {
  std::string out = fmt::format("{}->{} {} Term:{}", m.from.value(), m.to.value(),
                                MessageTypeName(m.type), m.term);
  const std::string context = m.context > 0 ? fmt::format(" Context:{}", m.context) : "";
  switch (m.type) {
    case MessageType::kPreVote:
    case MessageType::kVote:
      out += fmt::format(" Log:{}/{}{}", m.log_term, m.index, m.transfer ? " Transfer" : "");
      break;
    case MessageType::kPreVoteResponse:
    case MessageType::kVoteResponse:
      out += m.reject ? " Rejected" : " Granted";
      break;
    case MessageType::kAppend:
      out += fmt::format(" Log:{}/{} Commit:{}", m.log_term, m.index, m.commit);
      if (!m.entries.empty()) out += " Entries:[" + FormatEntries(m.entries) + "]";
      break;
    case MessageType::kAppendResponse:
      out += m.reject ? fmt::format(" Rejected Index:{} Hint:{}/{}", m.index, m.reject_hint_term,
                                    m.reject_hint)
                      : fmt::format(" Index:{}", m.index);
      break;
    case MessageType::kHeartbeat:
      out += fmt::format(" Commit:{}{}", m.commit, context);
      break;
    case MessageType::kHeartbeatResponse:
    case MessageType::kReadIndexResponse:
      out += fmt::format(" Index:{}{}", m.index, context);
      break;
    case MessageType::kSnapshotChunk:
      out += fmt::format(" Snapshot:{}/{} Offset:{} Size:{} Chunk:{}{}", m.snapshot.term,
                         m.snapshot.index, m.snapshot_offset, m.snapshot_size,
                         Quote(m.snapshot_chunk), m.snapshot_done ? " Done" : "");
      break;
    case MessageType::kSnapshotResponse:
      out += fmt::format(" Index:{} Snapshot:{}/{} Offset:{}{}{}", m.index, m.snapshot.term,
                         m.snapshot.index, m.snapshot_offset, m.snapshot_done ? " Done" : "",
                         m.reject ? " Rejected" : "");
      break;
    case MessageType::kReadIndex:
      out += context;
      break;
    case MessageType::kTransferLeadership:
      out += fmt::format(" Target:{}", m.transfer_target.value());
      break;
    case MessageType::kTimeoutNow:
    case MessageType::kObserverJoin:
      break;
  }
  return out;
}

std::string FormatNode(NodeId node) {
  return node == kNoNode ? std::string("none") : std::to_string(node.value());
}

std::string FormatProgressState(ProgressState state) {
  switch (state) {
    case ProgressState::kProbe:
      return "probe";
    case ProgressState::kReplicate:
      return "replicate";
    case ProgressState::kSnapshot:
      return "snapshot";
  }
  return "unknown";
}

}  // namespace

std::string InteractionEnv::Handle(const Command& cmd) {
  const std::string& name = cmd.name;
  if (name == "add-nodes") return AddNodes(cmd);
  if (name == "tick" || name == "tick-heartbeat" || name == "tick-election") {
    return Tick(cmd, name);
  }
  if (name == "propose") return Propose(cmd);
  if (name == "transfer-leadership") return TransferLeadership(cmd);
  if (name == "compact") return Compact(cmd);
  if (name == "stabilize") return Stabilize(cmd);
  std::string out;
  if (name == "campaign") {
    for (Node* n : NodesOf(cmd)) n->raw->Campaign();
    return "ok";
  }
  if (name == "process-ready") {
    for (Node* n : NodesOf(cmd)) {
      if (!ProcessReady(*n, out)) out += fmt::format("> {} has no Ready\n", n->config.id);
    }
    return out;
  }
  if (name == "deliver-msgs") {
    for (Node* n : NodesOf(cmd)) {
      if (!Deliver(*n, out)) out += fmt::format("> {} has no messages\n", n->config.id);
    }
    return out;
  }
  if (name == "drop-msgs") {
    for (Node* n : NodesOf(cmd)) {
      for (const Message& m : n->inbox) out += "dropped: " + FormatMessage(m) + "\n";
      n->inbox.clear();
    }
    return out;
  }
  if (name == "isolate") {
    for (Node* n : NodesOf(cmd)) {
      const int id = static_cast<int>(n->config.id.value());
      for (const auto& [other, unused] : nodes_) {
        if (other == id) continue;
        cuts_.insert({id, other});
        cuts_.insert({other, id});
      }
    }
    return "ok";
  }
  if (name == "cut") {
    std::vector<Node*> ends = NodesOf(cmd);
    if (ends.size() != 2) cmd.ReportError("cut needs two nodes");
    if (ends.size() != 2) return "";
    const int a = static_cast<int>(ends[0]->config.id.value());
    const int b = static_cast<int>(ends[1]->config.id.value());
    cuts_.insert({a, b});
    cuts_.insert({b, a});
    return "ok";
  }
  if (name == "heal") {
    cuts_.clear();
    return "ok";
  }
  if (name == "status") {
    for (Node* n : NodesOf(cmd, /*all_if_none=*/true)) out += StatusOf(*n);
    return out;
  }
  if (name == "raft-log") {
    for (Node* n : NodesOf(cmd)) out += LogOf(*n);
    return out;
  }
  cmd.ReportError("unknown command");
  return "";
}

InteractionEnv::Node* InteractionEnv::NodeNamed(const Command& cmd, const std::string& word) {
  int id = 0;
  const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), id);
  auto it = ec == std::errc() && end == word.data() + word.size() ? nodes_.find(id) : nodes_.end();
  if (it == nodes_.end()) {
    cmd.ReportError(fmt::format("no node {}", word));
    return nullptr;
  }
  return it->second.get();
}

InteractionEnv::Node* InteractionEnv::FirstNode(const Command& cmd) {
  const std::vector<std::string> positional = cmd.Positional();
  if (positional.empty()) {
    cmd.ReportError("name a node");
    return nullptr;
  }
  return NodeNamed(cmd, positional[0]);
}

std::vector<InteractionEnv::Node*> InteractionEnv::NodesOf(const Command& cmd, bool all_if_none) {
  std::vector<Node*> out;
  for (const std::string& word : cmd.Positional()) {
    if (Node* n = NodeNamed(cmd, word)) out.push_back(n);
  }
  if (out.empty() && all_if_none) {
    for (auto& [id, n] : nodes_) out.push_back(n.get());
  }
  if (out.empty() && !all_if_none) cmd.ReportError("name at least one node");
  return out;
}

std::string InteractionEnv::AddNodes(const Command& cmd) {
  const std::vector<std::string> positional = cmd.Positional();
  const int count = positional.empty() ? 0 : std::stoi(positional[0]);
  std::vector<NodeId> voters;
  for (int64_t v : cmd.IntList("voters")) voters.push_back(NodeId(static_cast<int>(v)));
  std::string out;
  for (int k = 0; k < count; ++k) {
    const int id = nodes_.empty() ? 1 : nodes_.rbegin()->first + 1;
    auto n = std::make_unique<Node>();
    Config& c = n->config;
    c.id = NodeId(id);
    c.voters = voters;
    c.observer = !c.IsVoter(c.id);
    c.pre_vote = cmd.BoolOr("pre-vote", true);
    c.check_quorum = cmd.BoolOr("check-quorum", true);
    c.election_timeout_ticks = static_cast<int>(cmd.IntOr("election-ticks", 10));
    c.heartbeat_interval_ticks = static_cast<int>(cmd.IntOr("heartbeat-ticks", 1));
    c.append_bytes_max = static_cast<size_t>(cmd.IntOr("append-bytes-max", 1 << 20));
    c.snapshot_trailing_entries = static_cast<uint64_t>(cmd.IntOr("snapshot-trailing", 1000));
    c.snapshot_chunk_bytes = static_cast<size_t>(cmd.IntOr("snapshot-chunk-bytes", 1 << 20));
    // A distinct, fixed seed per node: randomized election timeouts replay exactly.
    n->random = std::make_unique<Random>(static_cast<uint64_t>(cmd.IntOr("seed", 1)) * 1000 + id);
    auto boot = n->storage.Load();
    STRAND_CHECK(boot.ok());
    auto raw = RawNode::Create(c, *n->random, *std::move(boot));
    if (!raw.ok()) {
      cmd.ReportError(std::string(raw.status().message()));
      return "";
    }
    n->raw = *std::move(raw);
    out += fmt::format("{}: {} of {}{}{} election-ticks={} heartbeat-ticks={}\n", id,
                       c.observer ? "observer" : "voter", FormatVoters(c.voters),
                       c.pre_vote ? " pre-vote" : "", c.check_quorum ? " check-quorum" : "",
                       c.election_timeout_ticks, c.heartbeat_interval_ticks);
    nodes_[id] = std::move(n);
  }
  return out;
}

std::string InteractionEnv::Tick(const Command& cmd, const std::string& mode) {
  for (Node* n : NodesOf(cmd)) {
    Raft& r = n->raft();
    const int election = r.config().election_timeout_ticks;
    if (mode == "tick") {
      for (int64_t i = cmd.IntOr("count", 1); i > 0; --i) n->raw->Tick();
    } else if (mode == "tick-heartbeat") {
      for (int i = 0; i < r.config().heartbeat_interval_ticks; ++i) n->raw->Tick();
    } else if (r.role() == Role::kLeader) {
      for (int i = 0; i < election; ++i) n->raw->Tick();
    } else {
      // The randomized timeout is in [T, 2T): tick until the node campaigns (or has any other
      // output), so that scripts do not depend on the exact draw.
      for (int i = 0; i < 2 * election && !n->raw->HasReady(); ++i) n->raw->Tick();
    }
  }
  return "ok";
}

std::string InteractionEnv::Propose(const Command& cmd) {
  const std::vector<std::string> positional = cmd.Positional();
  Node* node = FirstNode(cmd);
  if (node == nullptr || positional.size() != 2) {
    cmd.ReportError("usage: propose <id> <data>");
    return "";
  }
  auto index = node->raw->Propose(positional[1]);
  if (!index.ok()) return fmt::format("error: {}", std::string(index.status().message()));
  return fmt::format("index {}", *index);
}

std::string InteractionEnv::TransferLeadership(const Command& cmd) {
  Node* node = FirstNode(cmd);
  if (node == nullptr || !cmd.Has("to")) {
    cmd.ReportError("usage: transfer-leadership <id> to=<target>");
    return "";
  }
  const absl::Status s = node->raw->TransferLeadership(NodeId(cmd.IntOr("to", 0)));
  return s.ok() ? "ok" : fmt::format("error: {}", std::string(s.message()));
}

std::string InteractionEnv::Compact(const Command& cmd) {
  Node* node = FirstNode(cmd);
  if (node == nullptr || !cmd.Has("index")) {
    cmd.ReportError("usage: compact <id> index=<i>");
    return "";
  }
  const LogIndex index(static_cast<uint64_t>(cmd.IntOr("index", 0)));
  // The application's state at `index`, as bytes a script can recognize in snapshot chunks.
  auto data = std::make_shared<const std::string>(fmt::format("state@{}", index));
  const LogIndex compacted = node->raw->Compact(index, std::move(data));
  // The driver persists the snapshot before deleting the entries it covers.
  STRAND_CHECK(node->storage.SaveSnapshot(node->raft().snapshot(), compacted).ok());
  const SnapshotMeta& meta = node->raft().snapshot().meta;
  return fmt::format("snapshot {}/{}; log compacted up to {}", meta.term, meta.index, compacted);
}

std::string InteractionEnv::Stabilize(const Command& cmd) {
  std::vector<Node*> nodes = NodesOf(cmd, /*all_if_none=*/true);
  std::string out;
  // Bounded: a script whose nodes keep talking forever (a bug) fails instead of hanging.
  constexpr int kRoundsMax = 1000;
  for (int round = 0; round < kRoundsMax; ++round) {
    bool moved = false;
    for (Node* n : nodes) moved |= ProcessReady(*n, out);
    for (Node* n : nodes) moved |= Deliver(*n, out);
    if (!moved) return out;
  }
  cmd.ReportError(fmt::format("no quiet state after {} rounds", kRoundsMax));
  return out;
}

bool InteractionEnv::ProcessReady(Node& node, std::string& out) {
  if (!node.raw->HasReady()) return false;
  const Ready rd = node.raw->GetReady();
  out += fmt::format("> {} handling Ready{}\n", node.config.id, rd.must_sync ? " (must sync)" : "");
  if (rd.soft_state) {
    out += fmt::format("  Role:{} Leader:{}\n", RoleName(rd.soft_state->role),
                       FormatNode(rd.soft_state->leader));
  }
  if (rd.hard_state) {
    out += fmt::format("  HardState Term:{} Vote:{} Commit:{}\n", rd.hard_state->term,
                       FormatNode(rd.hard_state->vote), rd.hard_state->commit);
  }
  if (rd.snapshot) {
    out += fmt::format("  Snapshot:{}/{} Voters:{} Data:{}\n", rd.snapshot->meta.term,
                       rd.snapshot->meta.index, FormatVoters(rd.snapshot->meta.voters),
                       Quote(*rd.snapshot->data));
  }
  if (!rd.entries.empty()) out += "  Entries: " + FormatEntries(rd.entries) + "\n";
  for (const Message& m : rd.messages) out += "  Send: " + FormatMessage(m) + "\n";
  if (!rd.committed_entries.empty()) {
    out += "  Apply: " + FormatEntries(rd.committed_entries) + "\n";
  }
  for (const ReadState& r : rd.read_states) {
    out += fmt::format("  ReadState Index:{} Context:{}\n", r.index, r.context);
  }
  // The contract: persist, then send, then apply, then Advance.
  STRAND_CHECK(node.storage.Persist(rd.hard_state, rd.snapshot, rd.entries, rd.must_sync).ok());
  for (const Message& m : rd.messages) {
    auto to = nodes_.find(static_cast<int>(m.to.value()));
    if (to == nodes_.end()) {
      out += "  dropped (no such node): " + FormatMessage(m) + "\n";
      continue;
    }
    to->second->inbox.push_back(m);
  }
  node.raw->Advance(rd);
  return true;
}

bool InteractionEnv::Cut(const Message& m) const {
  return cuts_.count({static_cast<int>(m.from.value()), static_cast<int>(m.to.value())}) > 0;
}

bool InteractionEnv::Deliver(Node& node, std::string& out) {
  if (node.inbox.empty()) return false;
  out += fmt::format("> {} receiving messages\n", node.config.id);
  // Messages sent while stepping these wait for the next Ready; new arrivals wait their turn.
  std::deque<Message> batch = std::exchange(node.inbox, {});
  for (const Message& m : batch) {
    if (Cut(m)) {
      out += "  dropped: " + FormatMessage(m) + "\n";
      continue;
    }
    out += "  " + FormatMessage(m) + "\n";
    node.raw->Step(m);
  }
  return true;
}

std::string InteractionEnv::StatusOf(Node& node) {
  const Raft& r = node.raft();
  const raft::RaftLog& log = r.log();
  std::string out = fmt::format(
      "{}: {} Term:{} Vote:{} Leader:{} Last:{}/{} Commit:{} Applied:{}\n", node.config.id,
      RoleName(r.role()), r.term(), FormatNode(r.vote()), FormatNode(r.leader()), log.LastTerm(),
      log.LastIndex(), log.committed(), log.applied());
  if (r.role() != Role::kLeader) return out;
  for (NodeId peer : r.config().voters) {
    if (peer == r.id()) continue;
    const Progress* pr = r.progress(peer);
    if (pr == nullptr) continue;
    out +=
        fmt::format("  {}: {} Match:{} Next:{}{}\n", peer.value(), FormatProgressState(pr->state),
                    pr->match, pr->next, pr->IsPaused() ? " paused" : "");
  }
  return out;
}

std::string InteractionEnv::LogOf(Node& node) {
  const raft::RaftLog& log = node.raft().log();
  std::string out = fmt::format("{}: Compacted:{}/{} Stable:{} Commit:{} Applied:{}\n",
                                node.config.id, log.compacted_term(), log.compacted_index(),
                                log.stable(), log.committed(), log.applied());
  if (log.LastIndex() < log.FirstIndex()) return out + "  (no entries)\n";
  for (const Entry& e : log.Slice(log.FirstIndex(), log.LastIndex(), SIZE_MAX)) {
    out += "  " + FormatEntry(e) + "\n";
  }
  return out;
}

}  // namespace strand::raft::testing
