#pragma once

// FaultInjectingFilesystem: the test twin of the file-system seam. It forwards to a real
// Filesystem and, on command, makes chosen operations fail the way a sick disk does:
//   - a full disk: writes fail with ENOSPC (Errc::kDiskFull), optionally after writing a
//     prefix (a short write), or once a byte budget is used up; file creation fails too;
//   - a failing device: writes or fsyncs fail with EIO (Errc::kIoError);
//   - renames fail (a checkpoint or compaction swap cannot be published);
//   - a slow disk: every fsync takes `delay` longer, or waits while syncs are held.
// And for power-loss drills it can keep a synced-length journal: for every file written through
// it, the length that an fsync made durable, appended as a line "LENGTH PATH" (-1: removed) to a
// journal file with plain writes, so that the journal survives a SIGKILL of the process (the page
// cache does) but records only what a power cut would keep. A file's length when this process
// first opens it for writing counts as synced. tools/drill cuts each file to its last recorded
// length before restarting a "powered-off" broker.
// Faults apply to paths containing `path_filter` (all paths when empty). Counters let tests
// see how many fsyncs group commit really issued. Thread-safe.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "storage/file.h"

namespace strand::storage {

class FaultInjectingFilesystem final : public ForwardingFilesystem {
 public:
  explicit FaultInjectingFilesystem(Filesystem& base);
  ~FaultInjectingFilesystem() override;

  // Every write to a matching file fails with ENOSPC after writing `prefix_bytes` of it.
  void FailWritesWithNoSpace(int64_t prefix_bytes = 0);
  // Writes succeed until `budget_bytes` more bytes have been written, then fail with ENOSPC
  // after writing what still fits (a disk that fills up mid-write).
  void FailWritesAfterBytes(int64_t budget_bytes);
  void FailWritesWithIoError();
  void FailSyncs();
  void FailRenames();  // renames whose source path matches the filter
  void FailCreates();  // opening with a create mode fails with ENOSPC
  // Every fsync (file or directory) waits `delay` before it runs.
  void DelaySyncs(std::chrono::milliseconds delay);
  // Fsyncs block until ReleaseSyncs or ClearFaults.
  void HoldSyncs();
  void ReleaseSyncs();
  // Only paths containing this substring are affected ("" = all).
  void set_path_filter(std::string filter);
  void ClearFaults();  // also releases held syncs

  // Starts the synced-length journal at `journal_path` (replacing any earlier one there).
  absl::Status RecordSyncedLengths(const std::string& journal_path);

  int64_t syncs() const { return syncs_.load(); }
  int64_t bytes_written() const { return bytes_written_.load(); }
  int64_t syncs_slowed() const { return syncs_slowed_.load(); }  // delayed or held
  int64_t injected_errors() const { return injected_errors_.load(); }

  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status SyncDirectory(const std::string& path) override;

  // Used by the wrapped files.
  struct WriteDecision {
    int64_t allowed_bytes;  // how much of the write to pass through
    bool fail;
    bool no_space;  // ENOSPC rather than EIO
  };
  WriteDecision DecideWrite(const std::string& path, int64_t bytes);
  // Waits out a delay or hold; false when the sync must fail.
  bool BeforeSync(const std::string& path);
  void CountWrite(int64_t bytes) { bytes_written_ += bytes; }
  void CountSync() { ++syncs_; }
  void CountError() { ++injected_errors_; }
  // The synced-length journal's view of a file: bytes written up to `end`; `end` when a sync
  // starts is what it makes durable; a truncation lowers both.
  void Wrote(const std::string& path, int64_t end);
  int64_t SyncStarts(const std::string& path);  // the length the sync will make durable
  void Synced(const std::string& path, int64_t length);
  void Truncated(const std::string& path, int64_t size);

 private:
  struct Tracked {
    int64_t end = 0;     // written so far
    int64_t synced = 0;  // made durable
  };
  bool Matches(const std::string& path) const;  // with mu_ held
  void Journal(const std::string& path, int64_t length);  // with journal_mu_ held
  void DropJournal();                                     // with journal_mu_ held

  mutable std::mutex mu_;
  std::string filter_;
  bool writes_no_space_ = false;
  int64_t prefix_bytes_ = 0;
  bool writes_io_error_ = false;
  int64_t budget_bytes_ = -1;  // -1: unlimited
  bool syncs_fail_ = false;
  bool renames_fail_ = false;
  bool creates_fail_ = false;
  std::chrono::milliseconds sync_delay_{0};
  bool syncs_held_ = false;
  std::condition_variable syncs_released_;
  std::atomic<int64_t> syncs_{0};
  std::atomic<int64_t> bytes_written_{0};
  std::atomic<int64_t> syncs_slowed_{0};
  std::atomic<int64_t> injected_errors_{0};

  std::mutex journal_mu_;
  std::string journal_path_;  // "" while no journal is kept
  std::unique_ptr<File> journal_;
  int64_t journal_size_ = 0;
  std::unordered_map<std::string, Tracked> tracked_;
};

}  // namespace strand::storage
