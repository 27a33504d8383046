#include "storage/fault_injecting_filesystem.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "storage/errc.h"

namespace strand::storage {
namespace {

class FaultyFile final : public ForwardingFile {
 public:
  FaultyFile(std::unique_ptr<File> base, FaultInjectingFilesystem* fs)
      : ForwardingFile(std::move(base)), fs_(fs) {}

  absl::Status WriteAt(int64_t offset, std::span<const uint8_t> data) override {
    auto d = fs_->DecideWrite(path(), static_cast<int64_t>(data.size()));
    if (d.allowed_bytes > 0) {
      STRAND_RETURN_IF_ERROR(base_->WriteAt(offset, data.first(d.allowed_bytes)));
      fs_->CountWrite(d.allowed_bytes);
      fs_->Wrote(path(), offset + d.allowed_bytes);
    }
    if (d.fail) {
      fs_->CountError();
      return StorageError(d.no_space ? Errc::kDiskFull : Errc::kIoError,
                          fmt::format("write {}: injected {} after {} of {} bytes", path(),
                                      d.no_space ? "ENOSPC" : "EIO", d.allowed_bytes, data.size()));
    }
    return absl::OkStatus();
  }
  absl::Status Truncate(int64_t size) override {
    STRAND_RETURN_IF_ERROR(base_->Truncate(size));
    fs_->Truncated(path(), size);
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    if (!fs_->BeforeSync(path())) {
      fs_->CountError();
      return StorageError(Errc::kIoError, fmt::format("fdatasync {}: injected EIO", path()));
    }
    fs_->CountSync();
    const int64_t durable = fs_->SyncStarts(path());
    STRAND_RETURN_IF_ERROR(base_->Sync());
    fs_->Synced(path(), durable);
    return absl::OkStatus();
  }
  absl::Status Allocate(int64_t offset, int64_t length) override {
    auto d = fs_->DecideWrite(path(), 0);
    if (d.fail) {
      fs_->CountError();
      return StorageError(Errc::kDiskFull, "fallocate: injected ENOSPC");
    }
    return base_->Allocate(offset, length);
  }

 private:
  FaultInjectingFilesystem* fs_;
};

}  // namespace

FaultInjectingFilesystem::FaultInjectingFilesystem(Filesystem& base) : ForwardingFilesystem(base) {}
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

void FaultInjectingFilesystem::DelaySyncs(std::chrono::milliseconds delay) {
  std::lock_guard lock(mu_);
  sync_delay_ = delay;
}

void FaultInjectingFilesystem::HoldSyncs() {
  std::lock_guard lock(mu_);
  syncs_held_ = true;
}

void FaultInjectingFilesystem::ReleaseSyncs() {
  {
    std::lock_guard lock(mu_);
    syncs_held_ = false;
  }
  syncs_released_.notify_all();
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
  sync_delay_ = std::chrono::milliseconds(0);
  syncs_held_ = false;
  syncs_released_.notify_all();
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

bool FaultInjectingFilesystem::BeforeSync(const std::string& path) {
  std::chrono::milliseconds delay{0};
  {
    std::unique_lock lock(mu_);
    if (!Matches(path)) return true;
    if (syncs_fail_) return false;
    if (syncs_held_) {
      ++syncs_slowed_;
      syncs_released_.wait(lock, [this] { return !syncs_held_; });
    }
    delay = sync_delay_;
  }
  if (delay.count() > 0) {
    ++syncs_slowed_;
    std::this_thread::sleep_for(delay);
  }
  return true;
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
  if (mode != OpenMode::kRead) {
    std::lock_guard lock(journal_mu_);
    if (!journal_path_.empty() && !tracked_.count(path)) {
      auto size = (*file)->Size();
      const int64_t length = size.ok() ? *size : 0;
      tracked_[path] = Tracked{length, length};
      Journal(path, length);
    }
  }
  return std::unique_ptr<File>(new FaultyFile(std::move(*file), this));
}

absl::Status FaultInjectingFilesystem::Rename(const std::string& from, const std::string& to) {
  {
    std::lock_guard lock(mu_);
    if (renames_fail_ && Matches(from)) {
      return StorageError(Errc::kIoError, fmt::format("rename {}: injected EIO", from));
    }
  }
  {
    // `to` forgotten first: a SIGKILL right after the rename must not leave the journal naming
    // the replaced file's length for the new one (a power cut would cut it back to that).
    std::lock_guard lock(journal_mu_);
    if (tracked_.erase(to) > 0) Journal(to, -1);
  }
  STRAND_RETURN_IF_ERROR(base_.Rename(from, to));
  std::lock_guard lock(journal_mu_);
  if (journal_path_.empty()) return absl::OkStatus();
  auto it = tracked_.find(from);
  if (it != tracked_.end()) {
    Tracked moved = it->second;
    tracked_.erase(it);
    Journal(from, -1);
    tracked_[to] = moved;
    Journal(to, moved.synced);
  }
  return absl::OkStatus();
}

absl::Status FaultInjectingFilesystem::Remove(const std::string& path) {
  STRAND_RETURN_IF_ERROR(base_.Remove(path));
  std::lock_guard lock(journal_mu_);
  if (tracked_.erase(path) > 0) Journal(path, -1);
  return absl::OkStatus();
}

absl::Status FaultInjectingFilesystem::SyncDirectory(const std::string& path) {
  if (!BeforeSync(path)) {
    CountError();
    return StorageError(Errc::kIoError, fmt::format("fsync {}: injected EIO", path));
  }
  CountSync();
  return base_.SyncDirectory(path);
}

absl::Status FaultInjectingFilesystem::RecordSyncedLengths(const std::string& journal_path) {
  auto file = base_.Open(journal_path, OpenMode::kCreateTruncate);
  if (!file.ok()) return file.status();
  std::lock_guard lock(journal_mu_);
  journal_ = std::move(*file);
  journal_path_ = journal_path;
  journal_size_ = 0;
  tracked_.clear();
  return absl::OkStatus();
}

void FaultInjectingFilesystem::Wrote(const std::string& path, int64_t end) {
  std::lock_guard lock(journal_mu_);
  auto it = tracked_.find(path);
  if (it != tracked_.end()) it->second.end = std::max(it->second.end, end);
}

int64_t FaultInjectingFilesystem::SyncStarts(const std::string& path) {
  std::lock_guard lock(journal_mu_);
  auto it = tracked_.find(path);
  return it == tracked_.end() ? -1 : it->second.end;
}

void FaultInjectingFilesystem::Synced(const std::string& path, int64_t length) {
  std::lock_guard lock(journal_mu_);
  auto it = tracked_.find(path);
  if (it == tracked_.end() || length < 0 || length == it->second.synced) return;
  // A truncation while the sync ran lowered `end` below what the sync started with.
  it->second.synced = std::min(length, it->second.end);
  Journal(path, it->second.synced);
}

void FaultInjectingFilesystem::Truncated(const std::string& path, int64_t size) {
  std::lock_guard lock(journal_mu_);
  auto it = tracked_.find(path);
  if (it == tracked_.end()) return;
  it->second.end = size;
  if (it->second.synced > size) {
    it->second.synced = size;
    Journal(path, size);
  }
}

void FaultInjectingFilesystem::DropJournal() {
  // A journal that cannot be kept is removed, never left stale: a power cut would cut files back
  // to lengths it no longer follows (tools/drill refuses a broker without one).
  journal_.reset();
  (void)base_.Remove(journal_path_);
}

void FaultInjectingFilesystem::Journal(const std::string& path, int64_t length) {
  if (!journal_) return;
  // Past 4 MiB the journal starts over with one line per tracked file. (A SIGKILL between the
  // truncation and the write leaves it short: the drill then cuts fewer files, never more.)
  constexpr int64_t kJournalCompactBytes = 4 << 20;
  if (journal_size_ > kJournalCompactBytes) {
    std::string all;
    for (const auto& [p, t] : tracked_) all += fmt::format("{} {}\n", t.synced, p);
    auto file = base_.Open(journal_path_, OpenMode::kCreateTruncate);
    if (!file.ok()) {
      DropJournal();
      return;
    }
    journal_ = std::move(*file);
    journal_size_ = 0;
    auto bytes = std::span(reinterpret_cast<const uint8_t*>(all.data()), all.size());
    if (!journal_->WriteAt(0, bytes).ok()) {
      DropJournal();
      return;
    }
    journal_size_ = static_cast<int64_t>(all.size());
    return;  // callers update tracked_ first: `all` has this change already
  }
  const std::string line = fmt::format("{} {}\n", length, path);
  auto bytes = std::span(reinterpret_cast<const uint8_t*>(line.data()), line.size());
  if (!journal_->WriteAt(journal_size_, bytes).ok()) {
    DropJournal();
    return;
  }
  journal_size_ += static_cast<int64_t>(line.size());
}

}  // namespace strand::storage
