#pragma once

// RawNode: the application's handle on the Raft core. Feed it inputs (Tick, Step, Propose,
// ReadIndex, TransferLeadership), then drain its outputs as Ready batches:
//
//   while (node.HasReady()) {
//     Ready rd = node.GetReady();
//     storage.Persist(rd.hard_state, rd.snapshot, rd.entries, rd.must_sync);   // 1
//     transport.Send(rd.messages);                                              // 2
//     app.Restore(rd.snapshot); app.Apply(rd.committed_entries);                // 3
//     node.Advance(rd);                                                         // 4
//   }
//
// No input may be given between GetReady and Advance. Single-threaded; the driver
// (raft/driver) owns one RawNode and calls it from its event-loop thread only.

#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "common/random.h"
#include "raft/core/config.h"
#include "raft/core/raft.h"
#include "raft/core/types.h"

namespace strand::raft {

struct Ready {
  // Leader or role changed since the last Ready. Informational (metrics, redirect hints).
  std::optional<SoftState> soft_state;

  // ---- 1. Persist all of these BEFORE sending any message (one fsync when must_sync). ----
  // Term, vote and commit when they changed. A granted vote must be durable before the answer
  // leaves, or a crash could let this node vote twice in one term.
  std::optional<HardState> hard_state;
  // A snapshot received from the leader: store it and delete every stored entry (it replaces
  // the whole log).
  std::optional<Snapshot> snapshot;
  // Entries to append. If the store has entries at or after entries.front().index, delete them
  // first: a new leader overwrote this node's uncommitted suffix.
  std::vector<Entry> entries;
  // False only when the sole change is the commit index, which may be written lazily.
  bool must_sync = false;

  // ---- 2. Send AFTER persisting. The transport may drop, delay or reorder them. ----
  std::vector<Message> messages;

  // ---- 3. Apply AFTER persisting, in order: restore `snapshot` first when set. ----
  std::vector<Entry> committed_entries;
  // ReadIndex answers: serve each read once the applied index reaches its index.
  std::vector<ReadState> read_states;

  bool Empty() const;
};

class RawNode {
 public:
  // Validates `config` and starts the node from what storage returned. `random` must outlive it.
  static absl::StatusOr<std::unique_ptr<RawNode>> Create(const Config& config, Random& random,
                                                         BootState boot);

  void Tick() { raft_.Tick(); }
  void Step(const Message& m) { raft_.Step(m); }
  absl::StatusOr<LogIndex> Propose(std::string data) { return raft_.Propose(std::move(data)); }
  absl::Status ReadIndex(uint64_t context) { return raft_.ReadIndex(context); }
  absl::Status TransferLeadership(NodeId target) { return raft_.TransferLeadership(target); }
  void Campaign() { raft_.Campaign(); }
  void ReportUnreachable(NodeId node) { raft_.ReportUnreachable(node); }

  bool HasReady();
  Ready GetReady();
  void Advance(const Ready& ready);

  // True once enough entries were applied since the last snapshot that the application should
  // take one (at the applied index) and call Compact.
  bool ShouldSnapshot() const;
  // The application's state at `index` (<= applied) is `data`. Returns the compaction point:
  // the driver persists the snapshot first, then deletes stored entries up to that point.
  LogIndex Compact(LogIndex index, std::shared_ptr<const std::string> data) {
    return raft_.Compact(index, std::move(data));
  }

  const Raft& raft() const { return raft_; }
  Raft& mutable_raft() { return raft_; }

 private:
  RawNode(const Config& config, Random& random, BootState boot);

  Raft raft_;
  HardState prev_hard_state_;
  SoftState prev_soft_state_;
};

}  // namespace strand::raft
