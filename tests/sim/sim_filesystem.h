#pragma once

// SimFilesystem: an in-memory Filesystem for the deterministic simulators, with a disk's crash
// semantics. Written bytes live in a "page cache" until File::Sync makes them durable; a crash
// (CrashImage) keeps the durable bytes of every file plus, at random, a prefix of what was
// appended after them (the part the kernel happened to write back), which is what torn tails
// look like to recovery. Model simplifications: creating, renaming and removing files are
// durable at once (as if every directory operation were followed by a directory fsync), and a
// file rewritten below its durable length reverts to its durable bytes whole.
//
// A crashed process keeps writing to its old SimFilesystem (destructors may flush and close);
// the restarted one gets a new SimFilesystem built from the crash image, so nothing the dead
// process does after the crash reaches the disk. Single-threaded (the simulators are).

#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/random.h"
#include "storage/file.h"

namespace strand::sim {

struct SimFileData {
  std::string data;     // what reads see
  std::string durable;  // what survives a crash
};

// Path -> contents, as a crash leaves them; directories by path.
struct SimDiskImage {
  std::map<std::string, std::string> files;
  std::set<std::string> dirs;
};

class SimFilesystem final : public storage::Filesystem {
 public:
  SimFilesystem() = default;
  explicit SimFilesystem(const SimDiskImage& image);

  // What the disk holds if the machine crashed now.
  SimDiskImage CrashImage(Random& random) const;

  absl::StatusOr<std::unique_ptr<storage::File>> Open(const std::string& path,
                                                      storage::OpenMode mode) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status RemoveAll(const std::string& path) override;
  absl::Status CreateDirectories(const std::string& path) override;
  absl::Status SyncDirectory(const std::string& path) override;
  absl::StatusOr<std::vector<std::string>> List(const std::string& dir) override;
  absl::StatusOr<bool> Exists(const std::string& path) override;
  absl::StatusOr<bool> IsDirectory(const std::string& path) override;
  absl::StatusOr<int64_t> FileSize(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<storage::DirectoryLock>> Lock(const std::string& path) override;

  int64_t syncs() const { return syncs_; }

 private:
  std::map<std::string, std::shared_ptr<SimFileData>> files_;
  std::set<std::string> dirs_;
  int64_t syncs_ = 0;
  friend class SimFile;
};

}  // namespace strand::sim
