#pragma once

// MemoryStorage: the in-memory twin of RocksDbStorage, with a model of a disk's write cache.
// Writes made without sync stay pending until a later synced write; Crash() throws pending
// writes away (optionally keeping a prefix, as a log-structured store may), so a simulated
// crash loses exactly what a real one could.
//
// Not thread-safe: owned by one simulated node or test.

#include <deque>
#include <functional>
#include <vector>

#include "raft/storage/log_storage.h"

namespace strand::raft {

class MemoryStorage final : public LogStorage {
 public:
  absl::StatusOr<BootState> Load() override;
  absl::Status Persist(const std::optional<HardState>& hard_state,
                       const std::optional<Snapshot>& snapshot, const std::vector<Entry>& entries,
                       bool sync) override;
  absl::Status SaveSnapshot(const Snapshot& snapshot, LogIndex compact_to) override;

  // Loses every write not yet synced, except the first `keep_pending` of them.
  void Crash(size_t keep_pending = 0);
  size_t pending_writes() const { return pending_.size(); }
  // Makes every pending write durable (what a clean shutdown does).
  void Sync();

  // Durable state, for checkers.
  const HardState& hard_state() const { return durable_.hard_state; }
  const Snapshot& snapshot() const { return durable_.snapshot; }
  const std::vector<Entry>& entries() const { return durable_.entries; }
  size_t syncs() const { return syncs_; }

 private:
  struct State {
    HardState hard_state;
    Snapshot snapshot;
    std::vector<Entry> entries;  // after snapshot.meta.index, contiguous
  };
  using Write = std::function<void(State&)>;

  std::deque<Write> pending_;
  State durable_;
  size_t syncs_ = 0;
};

}  // namespace strand::raft
