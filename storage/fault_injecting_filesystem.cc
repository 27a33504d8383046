#include "storage/fault_injecting_filesystem.h"

#include <fmt/format.h>

#include <algorithm>

#include "storage/errc.h"

namespace strand::storage {
namespace {

class FaultyFile final : public File {
 public:
  FaultyFile(std::unique_ptr<File> base, FaultInjectingFilesystem* fs)
      : base_(std::move(base)), fs_(fs) {}

  absl::Status WriteAt(int64_t offset, std::span<const uint8_t> data) override {
    auto d = fs_->DecideWrite(path(), static_cast<int64_t>(data.size()));
    if (d.allowed_bytes > 0) {
      STRAND_RETURN_IF_ERROR(base_->WriteAt(offset, data.first(d.allowed_bytes)));
      fs_->CountWrite(d.allowed_bytes);
    }
    if (d.fail) {
      return StorageError(d.no_space ? Errc::kDiskFull : Errc::kIoError,
                          fmt::format("write {}: injected {} after {} of {} bytes", path(),
                                      d.no_space ? "ENOSPC" : "EIO", d.allowed_bytes, data.size()));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<size_t> ReadAt(int64_t offset, std::span<uint8_t> out) const override {
    return base_->ReadAt(offset, out);
  }
  absl::Status Truncate(int64_t size) override { return base_->Truncate(size); }
  absl::Status Sync() override {
    if (fs_->ShouldFailSync(path())) {
      return StorageError(Errc::kIoError, fmt::format("fdatasync {}: injected EIO", path()));
    }
    fs_->CountSync();
    return base_->Sync();
  }
  absl::Status Allocate(int64_t offset, int64_t length) override {
    auto d = fs_->DecideWrite(path(), 0);
    if (d.fail) return StorageError(Errc::kDiskFull, "fallocate: injected ENOSPC");
    return base_->Allocate(offset, length);
  }
  absl::StatusOr<int64_t> Size() const override { return base_->Size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  std::unique_ptr<File> base_;
  FaultInjectingFilesystem* fs_;
};

}  // namespace

FaultInjectingFilesystem::FaultInjectingFilesystem(Filesystem& base) : base_(base) {}
FaultInjectingFilesystem::~FaultInjectingFilesystem() = default;

void FaultInjectingFilesystem::FailWritesWithNoSpace(int64_t prefix_bytes) {
  std::lock_guard lock(mu_);
  writes_no_space_ = true;
  prefix_bytes_ = prefix_bytes;
}

void FaultInjectingFilesystem::FailWritesAfterBytes(int64_t budget_bytes) {
  std::lock_guard lock(mu_);
  budget_bytes_ = budget_bytes;
}

void FaultInjectingFilesystem::FailWritesWithIoError() {
  std::lock_guard lock(mu_);
  writes_io_error_ = true;
}

void FaultInjectingFilesystem::FailSyncs() {
  std::lock_guard lock(mu_);
  syncs_fail_ = true;
}

void FaultInjectingFilesystem::FailRenames() {
  std::lock_guard lock(mu_);
  renames_fail_ = true;
}

void FaultInjectingFilesystem::FailCreates() {
  std::lock_guard lock(mu_);
  creates_fail_ = true;
}

void FaultInjectingFilesystem::set_path_filter(std::string filter) {
  std::lock_guard lock(mu_);
  filter_ = std::move(filter);
}

void FaultInjectingFilesystem::ClearFaults() {
  std::lock_guard lock(mu_);
  writes_no_space_ = writes_io_error_ = syncs_fail_ = renames_fail_ = creates_fail_ = false;
  prefix_bytes_ = 0;
  budget_bytes_ = -1;
  filter_.clear();
}

bool FaultInjectingFilesystem::Matches(const std::string& path) const {
  return filter_.empty() || path.find(filter_) != std::string::npos;
}

FaultInjectingFilesystem::WriteDecision FaultInjectingFilesystem::DecideWrite(
    const std::string& path, int64_t bytes) {
  std::lock_guard lock(mu_);
  if (!Matches(path)) return {bytes, false, false};
  if (writes_io_error_) return {0, true, false};
  if (writes_no_space_) return {std::min(prefix_bytes_, bytes), true, true};
  if (budget_bytes_ >= 0) {
    if (bytes <= budget_bytes_) {
      budget_bytes_ -= bytes;
      return {bytes, false, false};
    }
    int64_t allowed = budget_bytes_;
    budget_bytes_ = 0;
    return {allowed, true, true};
  }
  return {bytes, false, false};
}

bool FaultInjectingFilesystem::ShouldFailSync(const std::string& path) {
  std::lock_guard lock(mu_);
  return syncs_fail_ && Matches(path);
}

absl::StatusOr<std::unique_ptr<File>> FaultInjectingFilesystem::Open(const std::string& path,
                                                                     OpenMode mode) {
  {
    std::lock_guard lock(mu_);
    bool creates = mode == OpenMode::kCreate || mode == OpenMode::kCreateExclusive ||
                   mode == OpenMode::kCreateTruncate;
    if (creates && creates_fail_ && Matches(path)) {
      return StorageError(Errc::kDiskFull, fmt::format("open {}: injected ENOSPC", path));
    }
  }
  auto file = base_.Open(path, mode);
  if (!file.ok()) return file.status();
  return std::unique_ptr<File>(new FaultyFile(std::move(*file), this));
}

absl::Status FaultInjectingFilesystem::Rename(const std::string& from, const std::string& to) {
  {
    std::lock_guard lock(mu_);
    if (renames_fail_ && Matches(from)) {
      return StorageError(Errc::kIoError, fmt::format("rename {}: injected EIO", from));
    }
  }
  return base_.Rename(from, to);
}

absl::Status FaultInjectingFilesystem::SyncDirectory(const std::string& path) {
  if (ShouldFailSync(path)) {
    return StorageError(Errc::kIoError, fmt::format("fsync {}: injected EIO", path));
  }
  CountSync();
  return base_.SyncDirectory(path);
}

}  // namespace strand::storage
