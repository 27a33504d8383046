#pragma once

// RocksDbStorage: the production LogStorage. Log entries, the hard state and the snapshot's
// metadata live in one RocksDB database; snapshot bytes live in a file beside it.
//
// Layout under `dir`:
//   db/                          RocksDB: "h" hard state, "s" snapshot metadata,
//                                "e"+<8-byte big-endian index> entries
//   snapshots/<index>-<term>.snap snapshot bytes (written to .tmp, fsynced, renamed, dir fsynced)
//
// Durability: each Persist is one atomic WriteBatch; with sync it goes through an fsynced WAL
// write before returning, so all entries of a Ready share one fsync (group commit). A snapshot
// file is durable before the metadata that names it is written, so a crash at any instant
// leaves either the old snapshot or the new one, never a dangling name.
//
// Not thread-safe: used from the driver's event-loop thread only.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "raft/storage/log_storage.h"

namespace rocksdb {
class DB;
}

namespace strand::raft {

class RocksDbStorage final : public LogStorage {
 public:
  // Opens (creating if missing) the storage under `dir`.
  static absl::StatusOr<std::unique_ptr<RocksDbStorage>> Open(const std::string& dir);
  ~RocksDbStorage() override;

  absl::StatusOr<BootState> Load() override;
  absl::Status Persist(const std::optional<HardState>& hard_state,
                       const std::optional<Snapshot>& snapshot, const std::vector<Entry>& entries,
                       bool sync) override;
  absl::Status SaveSnapshot(const Snapshot& snapshot, LogIndex compact_to) override;

  // Syncs made so far (each is one fsync of the WAL), for metrics and tests.
  uint64_t syncs() const { return syncs_; }

 private:
  RocksDbStorage(std::string dir, std::unique_ptr<rocksdb::DB> db);
  absl::Status WriteSnapshotFile(const Snapshot& snapshot, std::string* file_name);
  void RemoveSnapshotFilesExcept(const std::string& keep);

  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
  LogIndex first_stored_;  // bounds of stored entries, to size DeleteRange calls
  LogIndex last_stored_;
  uint64_t syncs_ = 0;
};

}  // namespace strand::raft
