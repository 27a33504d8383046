#include "raft/storage/memory_storage.h"

#include <algorithm>

#include "common/check.h"

namespace strand::raft {
namespace {

void AppendEntries(std::vector<Entry>& stored, LogIndex snapshot_index,
                   const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  const LogIndex first = entries.front().index;
  // Drop stored entries at or after `first` (a conflicting suffix being overwritten).
  while (!stored.empty() && stored.back().index >= first) stored.pop_back();
  for (const Entry& e : entries) {
    if (e.index <= snapshot_index) continue;
    STRAND_CHECK_MSG(
        stored.empty() ? e.index == snapshot_index + 1 : e.index == stored.back().index + 1,
        "gap in persisted log at {}", e.index);
    stored.push_back(e);
  }
}

}  // namespace

absl::StatusOr<BootState> MemoryStorage::Load() {
  return BootState{durable_.hard_state, durable_.snapshot, durable_.entries};
}

absl::Status MemoryStorage::Persist(const std::optional<HardState>& hard_state,
                                    const std::optional<Snapshot>& snapshot,
                                    const std::vector<Entry>& entries, bool sync) {
  pending_.push_back([hard_state, snapshot, entries](State& s) {
    if (snapshot) {
      s.snapshot = *snapshot;
      s.entries.clear();
    }
    AppendEntries(s.entries, s.snapshot.meta.index, entries);
    if (hard_state) s.hard_state = *hard_state;
  });
  if (sync) Sync();
  return absl::OkStatus();
}

absl::Status MemoryStorage::SaveSnapshot(const Snapshot& snapshot, LogIndex compact_to) {
  // Taking a snapshot is synchronous and durable (like RocksDbStorage's file + sync).
  Sync();
  if (snapshot.meta.index <= durable_.snapshot.meta.index) return absl::OkStatus();
  durable_.snapshot = snapshot;
  // BootState carries only entries after the snapshot; earlier ones are covered by it.
  auto& entries = durable_.entries;
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [&](const Entry& e) { return e.index <= snapshot.meta.index; }),
                entries.end());
  (void)compact_to;
  ++syncs_;
  return absl::OkStatus();
}

void MemoryStorage::Sync() {
  for (Write& w : pending_) w(durable_);
  pending_.clear();
  ++syncs_;
}

void MemoryStorage::Crash(size_t keep_pending) {
  keep_pending = std::min(keep_pending, pending_.size());
  for (size_t i = 0; i < keep_pending; ++i) pending_[i](durable_);
  pending_.clear();
}

}  // namespace strand::raft
