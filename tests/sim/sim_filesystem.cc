#include "tests/sim/sim_filesystem.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace strand::sim {

class SimFile final : public storage::File {
 public:
  SimFile(SimFilesystem& fs, std::string path, std::shared_ptr<SimFileData> data, bool writable)
      : fs_(fs), path_(std::move(path)), data_(std::move(data)), writable_(writable) {}

  absl::Status WriteAt(int64_t offset, std::span<const uint8_t> bytes) override {
    if (!writable_) return absl::PermissionDeniedError(fmt::format("{}: read-only", path_));
    std::string& d = data_->data;
    const size_t end = static_cast<size_t>(offset) + bytes.size();
    if (d.size() < end) d.resize(end, '\0');
    std::memcpy(d.data() + offset, bytes.data(), bytes.size());
    return absl::OkStatus();
  }
  absl::StatusOr<size_t> ReadAt(int64_t offset, std::span<uint8_t> out) const override {
    const std::string& d = data_->data;
    if (static_cast<size_t>(offset) >= d.size()) return size_t{0};
    const size_t n = std::min(out.size(), d.size() - static_cast<size_t>(offset));
    std::memcpy(out.data(), d.data() + offset, n);
    return n;
  }
  absl::Status Truncate(int64_t size) override {
    data_->data.resize(static_cast<size_t>(size), '\0');
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    data_->durable = data_->data;
    ++fs_.syncs_;
    return absl::OkStatus();
  }
  absl::Status Allocate(int64_t, int64_t) override { return absl::OkStatus(); }
  absl::StatusOr<int64_t> Size() const override { return static_cast<int64_t>(data_->data.size()); }
  const std::string& path() const override { return path_; }

 private:
  SimFilesystem& fs_;
  const std::string path_;
  const std::shared_ptr<SimFileData> data_;
  const bool writable_;
};

namespace {

std::string Parent(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

absl::Status NotFound(const std::string& path) {
  return absl::NotFoundError(fmt::format("{}: no such file or directory", path));
}

class SimLock final : public storage::DirectoryLock {};

}  // namespace

SimFilesystem::SimFilesystem(const SimDiskImage& image) : dirs_(image.dirs) {
  for (const auto& [path, bytes] : image.files) {
    files_[path] = std::make_shared<SimFileData>(SimFileData{bytes, bytes});
  }
}

SimDiskImage SimFilesystem::CrashImage(Random& random) const {
  SimDiskImage image;
  image.dirs = dirs_;
  for (const auto& [path, f] : files_) {
    std::string kept = f->durable;
    const bool appended_only =
        f->data.size() > f->durable.size() && f->data.compare(0, f->durable.size(), f->durable) == 0;
    if (appended_only && random.Chance(0.5)) {
      // Some of the unsynced tail reached the platter: a torn write for recovery to find.
      const size_t extra = random.Uniform(f->data.size() - f->durable.size() + 1);
      kept = f->data.substr(0, f->durable.size() + extra);
    }
    image.files[path] = std::move(kept);
  }
  return image;
}

absl::StatusOr<std::unique_ptr<storage::File>> SimFilesystem::Open(const std::string& path,
                                                                   storage::OpenMode mode) {
  using storage::OpenMode;
  auto it = files_.find(path);
  if (mode == OpenMode::kRead || mode == OpenMode::kReadWrite) {
    if (it == files_.end()) return NotFound(path);
    return std::unique_ptr<storage::File>(
        new SimFile(*this, path, it->second, mode == OpenMode::kReadWrite));
  }
  if (!dirs_.contains(Parent(path))) return NotFound(Parent(path));
  if (mode == OpenMode::kCreateExclusive && it != files_.end()) {
    return absl::AlreadyExistsError(fmt::format("{}: exists", path));
  }
  if (it == files_.end()) {
    it = files_.emplace(path, std::make_shared<SimFileData>()).first;
  } else if (mode == OpenMode::kCreateTruncate) {
    it->second->data.clear();
  }
  return std::unique_ptr<storage::File>(new SimFile(*this, path, it->second, true));
}

absl::Status SimFilesystem::Rename(const std::string& from, const std::string& to) {
  auto it = files_.find(from);
  if (it == files_.end()) return NotFound(from);
  auto data = it->second;
  files_.erase(it);
  files_[to] = std::move(data);
  return absl::OkStatus();
}

absl::Status SimFilesystem::Remove(const std::string& path) {
  files_.erase(path);
  return absl::OkStatus();
}

absl::Status SimFilesystem::RemoveAll(const std::string& path) {
  const std::string prefix = path + "/";
  std::erase_if(files_, [&](const auto& f) { return f.first.starts_with(prefix); });
  std::erase_if(dirs_, [&](const auto& d) { return d == path || d.starts_with(prefix); });
  return absl::OkStatus();
}

absl::Status SimFilesystem::CreateDirectories(const std::string& path) {
  for (std::string p = path; !p.empty(); p = Parent(p)) dirs_.insert(p);
  return absl::OkStatus();
}

absl::Status SimFilesystem::SyncDirectory(const std::string& path) {
  if (!dirs_.contains(path)) return NotFound(path);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> SimFilesystem::List(const std::string& dir) {
  if (!dirs_.contains(dir)) return NotFound(dir);
  std::vector<std::string> out;
  const std::string prefix = dir + "/";
  auto child = [&](const std::string& p) {
    if (p.starts_with(prefix) && p.find('/', prefix.size()) == std::string::npos) {
      out.push_back(p.substr(prefix.size()));
    }
  };
  for (const auto& [p, f] : files_) child(p);
  for (const auto& d : dirs_) child(d);
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<bool> SimFilesystem::Exists(const std::string& path) {
  return files_.contains(path) || dirs_.contains(path);
}

absl::StatusOr<bool> SimFilesystem::IsDirectory(const std::string& path) {
  return dirs_.contains(path);
}

absl::StatusOr<int64_t> SimFilesystem::FileSize(const std::string& path) {
  auto it = files_.find(path);
  if (it == files_.end()) return NotFound(path);
  return static_cast<int64_t>(it->second->data.size());
}

absl::StatusOr<std::unique_ptr<storage::DirectoryLock>> SimFilesystem::Lock(
    const std::string& path) {
  if (!files_.contains(path)) files_[path] = std::make_shared<SimFileData>();
  return std::unique_ptr<storage::DirectoryLock>(new SimLock());
}

}  // namespace strand::sim
