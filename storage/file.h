#pragma once

// The file-system seam. Storage code reaches the disk only through Filesystem and File, so that
// tests can swap in FaultInjectingFilesystem (ENOSPC, short writes, failing fsync) without
// touching the code under test. PosixFilesystem is the real thing.
//
// Errors: ENOSPC and EDQUOT come back as Errc::kDiskFull, everything else as Errc::kIoError,
// with the path and strerror in the message. Both File and Filesystem are thread-safe:
// positional reads and writes on one File may run concurrently.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace strand::storage {

class File {
 public:
  virtual ~File() = default;

  // Writes all of `data` at `offset`. On error a prefix may have been written: the caller decides
  // whether to cut it off again (Truncate).
  virtual absl::Status WriteAt(int64_t offset, std::span<const uint8_t> data) = 0;
  // Reads up to out.size() bytes at `offset`; fewer only at the end of the file.
  virtual absl::StatusOr<size_t> ReadAt(int64_t offset, std::span<uint8_t> out) const = 0;
  virtual absl::Status Truncate(int64_t size) = 0;
  // Makes written data durable (fdatasync).
  virtual absl::Status Sync() = 0;
  // Reserves space for [offset, offset + length) without writing it (fallocate). Failing to
  // reserve is not an error for the caller's correctness, only for its speed.
  virtual absl::Status Allocate(int64_t offset, int64_t length) = 0;
  virtual absl::StatusOr<int64_t> Size() const = 0;
  virtual const std::string& path() const = 0;
};

enum class OpenMode {
  kRead,             // existing file, read-only
  kReadWrite,        // existing file
  kCreate,           // create if missing, read-write
  kCreateExclusive,  // must not exist yet, read-write
  kCreateTruncate,   // create or empty, read-write
};

// Holds an exclusive advisory lock (flock) until destroyed.
class DirectoryLock {
 public:
  virtual ~DirectoryLock() = default;
};

class Filesystem {
 public:
  virtual ~Filesystem() = default;

  virtual absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) = 0;
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  virtual absl::Status Remove(const std::string& path) = 0;     // a file; missing is OK
  virtual absl::Status RemoveAll(const std::string& path) = 0;  // a directory tree
  virtual absl::Status CreateDirectories(const std::string& path) = 0;
  // Makes the directory's entries (creations, renames, removals) durable.
  virtual absl::Status SyncDirectory(const std::string& path) = 0;
  // Entry names (not paths) in a directory, without "." and "..".
  virtual absl::StatusOr<std::vector<std::string>> List(const std::string& dir) = 0;
  virtual absl::StatusOr<bool> Exists(const std::string& path) = 0;
  virtual absl::StatusOr<bool> IsDirectory(const std::string& path) = 0;
  virtual absl::StatusOr<int64_t> FileSize(const std::string& path) = 0;
  // Takes an exclusive lock on `path` (created if missing); fails if another holder has it.
  virtual absl::StatusOr<std::unique_ptr<DirectoryLock>> Lock(const std::string& path) = 0;
};

// Wrappers that change a few calls derive from these: every call not overridden goes to `base_`.
class ForwardingFile : public File {
 public:
  explicit ForwardingFile(std::unique_ptr<File> base) : base_(std::move(base)) {}
  absl::Status WriteAt(int64_t offset, std::span<const uint8_t> data) override {
    return base_->WriteAt(offset, data);
  }
  absl::StatusOr<size_t> ReadAt(int64_t offset, std::span<uint8_t> out) const override {
    return base_->ReadAt(offset, out);
  }
  absl::Status Truncate(int64_t size) override { return base_->Truncate(size); }
  absl::Status Sync() override { return base_->Sync(); }
  absl::Status Allocate(int64_t offset, int64_t length) override {
    return base_->Allocate(offset, length);
  }
  absl::StatusOr<int64_t> Size() const override { return base_->Size(); }
  const std::string& path() const override { return base_->path(); }

 protected:
  const std::unique_ptr<File> base_;
};

class ForwardingFilesystem : public Filesystem {
 public:
  explicit ForwardingFilesystem(Filesystem& base) : base_(base) {}
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override {
    return base_.Open(path, mode);
  }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    return base_.Rename(from, to);
  }
  absl::Status Remove(const std::string& path) override { return base_.Remove(path); }
  absl::Status RemoveAll(const std::string& path) override { return base_.RemoveAll(path); }
  absl::Status CreateDirectories(const std::string& path) override {
    return base_.CreateDirectories(path);
  }
  absl::Status SyncDirectory(const std::string& path) override { return base_.SyncDirectory(path); }
  absl::StatusOr<std::vector<std::string>> List(const std::string& dir) override {
    return base_.List(dir);
  }
  absl::StatusOr<bool> Exists(const std::string& path) override { return base_.Exists(path); }
  absl::StatusOr<bool> IsDirectory(const std::string& path) override {
    return base_.IsDirectory(path);
  }
  absl::StatusOr<int64_t> FileSize(const std::string& path) override {
    return base_.FileSize(path);
  }
  absl::StatusOr<std::unique_ptr<DirectoryLock>> Lock(const std::string& path) override {
    return base_.Lock(path);
  }

 protected:
  Filesystem& base_;
};

// The process-wide POSIX file system.
Filesystem& PosixFilesystem();

// Joins path components with '/'.
std::string JoinPath(std::string_view dir, std::string_view name);

// Replaces `path` with `contents` so that a crash leaves either the old or the new file whole:
// write to path.tmp, fsync, rename over path, fsync the directory.
absl::Status WriteFileAtomically(Filesystem& fs, const std::string& path,
                                 std::string_view contents);
// Reads a whole (small) file, at most max_bytes.
absl::StatusOr<std::string> ReadSmallFile(Filesystem& fs, const std::string& path,
                                          int64_t max_bytes);

// How RemoveGradually frees files: a large one `step_bytes` at a time (cut from its end), and a
// pause each time another `step_bytes` have been freed, counted across files (a directory of many
// small segments is paced too), unless `hurry` says to stop pausing (a shutdown).
struct RemovalPace {
  int64_t step_bytes = 8 << 20;
  std::chrono::microseconds pause{5'000};
  std::function<bool()> hurry;
};

// Removes a file, or a directory tree file by file, freeing each file larger than a step a step
// at a time before unlinking it. On ext4 mounted with `discard` (these VMs), unlinking a 600 MB
// segment at once stalled every fsync on the disk for about 45 ms (on the brokers of a local
// cluster, acks=all writes waited up to 100 ms); 8 MiB steps 5 ms apart kept a concurrent fsync
// under 2.5 ms, deleting at about 1.2 GB/s. Missing is OK.
absl::Status RemoveGradually(Filesystem& fs, const std::string& path, const RemovalPace& pace);

}  // namespace strand::storage
