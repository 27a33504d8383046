#include "broker/replica/mutants.h"

namespace strand::broker::mutant {

const std::vector<MutantInfo>& AllMutants() {
  static const std::vector<MutantInfo> kAll = {
      {Mutant::kAckBeforeReplication, "ack-before-replication",
       "acks=all is answered as soon as the leader appended the batch, before any follower has "
       "it",
       "broker-partition"},
      {Mutant::kUncleanElection, "unclean-election",
       "a replica outside the ISR may be elected leader when no ISR member is alive "
       "(unclean.leader.election.enable forced on)",
       "isr-loss"},
      {Mutant::kSkipFsync, "skip-fsync",
       "partition logs are never fsynced: a batch counts as durable once written to the page "
       "cache",
       "power-loss"},
  };
  return kAll;
}

std::optional<Mutant> MutantByName(std::string_view name) {
  for (const MutantInfo& info : AllMutants()) {
    if (info.name == name) return info.mutant;
  }
  return std::nullopt;
}

#ifdef STRAND_BROKER_MUTANTS
namespace {
std::optional<Mutant> g_active;
}  // namespace

void SetActive(std::optional<Mutant> mutant) { g_active = mutant; }
bool IsActive(Mutant mutant) { return g_active == mutant; }

namespace {

class UnsyncedFile final : public storage::File {
 public:
  explicit UnsyncedFile(std::unique_ptr<storage::File> base) : base_(std::move(base)) {}
  absl::Status WriteAt(int64_t offset, std::span<const uint8_t> data) override {
    return base_->WriteAt(offset, data);
  }
  absl::StatusOr<size_t> ReadAt(int64_t offset, std::span<uint8_t> out) const override {
    return base_->ReadAt(offset, out);
  }
  absl::Status Truncate(int64_t size) override { return base_->Truncate(size); }
  absl::Status Sync() override { return absl::OkStatus(); }  // the planted bug
  absl::Status Allocate(int64_t offset, int64_t length) override {
    return base_->Allocate(offset, length);
  }
  absl::StatusOr<int64_t> Size() const override { return base_->Size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  std::unique_ptr<storage::File> base_;
};

class UnsyncedFilesystem final : public storage::Filesystem {
 public:
  explicit UnsyncedFilesystem(storage::Filesystem& base) : base_(base) {}
  absl::StatusOr<std::unique_ptr<storage::File>> Open(const std::string& path,
                                                      storage::OpenMode mode) override {
    auto file = base_.Open(path, mode);
    if (!file.ok()) return file.status();
    return std::unique_ptr<storage::File>(new UnsyncedFile(std::move(*file)));
  }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    return base_.Rename(from, to);
  }
  absl::Status Remove(const std::string& path) override { return base_.Remove(path); }
  absl::Status RemoveAll(const std::string& path) override { return base_.RemoveAll(path); }
  absl::Status CreateDirectories(const std::string& path) override {
    return base_.CreateDirectories(path);
  }
  absl::Status SyncDirectory(const std::string&) override { return absl::OkStatus(); }
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
  absl::StatusOr<std::unique_ptr<storage::DirectoryLock>> Lock(const std::string& path) override {
    return base_.Lock(path);
  }

 private:
  storage::Filesystem& base_;
};

}  // namespace

std::unique_ptr<storage::Filesystem> SkipSyncs(storage::Filesystem& base) {
  return std::make_unique<UnsyncedFilesystem>(base);
}
#endif

}  // namespace strand::broker::mutant
