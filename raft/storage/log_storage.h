#pragma once

// LogStorage: the persistence seam of the Raft library. The driver writes each Ready's durable
// part through it before sending that Ready's messages, and reads it back once at start-up.
// Implementations: RocksDbStorage (production) and MemoryStorage (tests and the simulator).

#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/core/raft.h"
#include "raft/core/types.h"

namespace strand::raft {

class LogStorage {
 public:
  virtual ~LogStorage() = default;

  // What was durably persisted: hard state, latest snapshot, and the entries after it.
  virtual absl::StatusOr<BootState> Load() = 0;

  // Persists one Ready, atomically: `snapshot` (when set) replaces the whole log; `entries`
  // overwrite any stored entry at or after entries.front().index; `hard_state` replaces the
  // stored one. With `sync`, returns only once everything written so far is durable (fsync);
  // without, the write may be lost in a crash, but never reordered after a later synced one.
  virtual absl::Status Persist(const std::optional<HardState>& hard_state,
                               const std::optional<Snapshot>& snapshot,
                               const std::vector<Entry>& entries, bool sync) = 0;

  // Stores a snapshot the application took locally, durably, then deletes entries up to
  // `compact_to` (which is at or below the snapshot's index).
  virtual absl::Status SaveSnapshot(const Snapshot& snapshot, LogIndex compact_to) = 0;
};

}  // namespace strand::raft
