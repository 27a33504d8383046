#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "storage/errc.h"
#include "storage/file.h"

namespace strand::storage {
namespace {

absl::Status ErrnoError(int err, std::string_view op, const std::string& path) {
  Errc errc = (err == ENOSPC || err == EDQUOT) ? Errc::kDiskFull : Errc::kIoError;
  return StorageError(errc, fmt::format("{} {}: {}", op, path, std::strerror(err)));
}

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }

  absl::Status WriteAt(int64_t offset, std::span<const uint8_t> data) override {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done, offset + done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError(errno, "write", path_);
      }
      if (n == 0) return ErrnoError(EIO, "write (no progress)", path_);
      done += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> ReadAt(int64_t offset, std::span<uint8_t> out) const override {
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, offset + done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError(errno, "read", path_);
      }
      if (n == 0) break;  // end of file
      done += static_cast<size_t>(n);
    }
    return done;
  }

  absl::Status Truncate(int64_t size) override {
    while (::ftruncate(fd_, size) != 0) {
      if (errno != EINTR) return ErrnoError(errno, "truncate", path_);
    }
    return absl::OkStatus();
  }

  absl::Status Sync() override {
    if (::fdatasync(fd_) != 0) return ErrnoError(errno, "fdatasync", path_);
    return absl::OkStatus();
  }

  absl::Status Allocate(int64_t offset, int64_t length) override {
    int rc = ::fallocate(fd_, 0, offset, length);
    if (rc != 0) return ErrnoError(errno, "fallocate", path_);
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> Size() const override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return ErrnoError(errno, "fstat", path_);
    return static_cast<int64_t>(st.st_size);
  }

  const std::string& path() const override { return path_; }

 private:
  int fd_;
  std::string path_;
};

class PosixLock final : public DirectoryLock {
 public:
  explicit PosixLock(int fd) : fd_(fd) {}
  ~PosixLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

class Posix final : public Filesystem {
 public:
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override {
    int flags = O_CLOEXEC;
    switch (mode) {
      case OpenMode::kRead:
        flags |= O_RDONLY;
        break;
      case OpenMode::kReadWrite:
        flags |= O_RDWR;
        break;
      case OpenMode::kCreate:
        flags |= O_RDWR | O_CREAT;
        break;
      case OpenMode::kCreateExclusive:
        flags |= O_RDWR | O_CREAT | O_EXCL;
        break;
      case OpenMode::kCreateTruncate:
        flags |= O_RDWR | O_CREAT | O_TRUNC;
        break;
    }
    int fd;
    do {
      fd = ::open(path.c_str(), flags, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return ErrnoError(errno, "open", path);
    return std::unique_ptr<File>(new PosixFile(fd, path));
  }

  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return ErrnoError(errno, "rename to " + to + " from", from);
    }
    return absl::OkStatus();
  }

  absl::Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError(errno, "unlink", path);
    return absl::OkStatus();
  }

  absl::Status RemoveAll(const std::string& path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) return ErrnoError(ec.value(), "remove_all", path);
    return absl::OkStatus();
  }

  absl::Status CreateDirectories(const std::string& path) override {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return ErrnoError(ec.value(), "mkdir", path);
    return absl::OkStatus();
  }

  absl::Status SyncDirectory(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoError(errno, "open directory", path);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return ErrnoError(err, "fsync directory", path);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> List(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return ErrnoError(errno, "opendir", dir);
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name(e->d_name);
      if (name != "." && name != "..") names.emplace_back(name);
    }
    ::closedir(d);
    return names;
  }

  absl::StatusOr<bool> Exists(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT) return false;
    return ErrnoError(errno, "stat", path);
  }

  absl::StatusOr<bool> IsDirectory(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return ErrnoError(errno, "stat", path);
    return S_ISDIR(st.st_mode);
  }

  absl::StatusOr<int64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return ErrnoError(errno, "stat", path);
    return static_cast<int64_t>(st.st_size);
  }

  absl::StatusOr<std::unique_ptr<DirectoryLock>> Lock(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoError(errno, "open lock file", path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return StorageError(Errc::kIoError, fmt::format("{} is locked by another process", path));
      }
      return ErrnoError(err, "flock", path);
    }
    return std::unique_ptr<DirectoryLock>(new PosixLock(fd));
  }
};

}  // namespace

Filesystem& PosixFilesystem() {
  static Posix* fs = new Posix();  // never destroyed: used until the very end of the process
  return *fs;
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string path(dir);
  if (!path.empty() && path.back() != '/') path.push_back('/');
  path.append(name);
  return path;
}

absl::Status WriteFileAtomically(Filesystem& fs, const std::string& path,
                                 std::string_view contents) {
  std::string tmp = path + ".tmp";
  {
    auto file = fs.Open(tmp, OpenMode::kCreateTruncate);
    if (!file.ok()) return file.status();
    auto bytes = std::span(reinterpret_cast<const uint8_t*>(contents.data()), contents.size());
    STRAND_RETURN_IF_ERROR((*file)->WriteAt(0, bytes));
    STRAND_RETURN_IF_ERROR((*file)->Sync());
  }
  STRAND_RETURN_IF_ERROR(fs.Rename(tmp, path));
  std::string dir = std::filesystem::path(path).parent_path().string();
  return fs.SyncDirectory(dir.empty() ? "." : dir);
}

absl::StatusOr<std::string> ReadSmallFile(Filesystem& fs, const std::string& path,
                                          int64_t max_bytes) {
  auto file = fs.Open(path, OpenMode::kRead);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  if (*size > max_bytes) {
    return StorageError(Errc::kCorruptLog, fmt::format("{} has {} bytes, more than the {} expected",
                                                       path, *size, max_bytes));
  }
  std::string contents(static_cast<size_t>(*size), '\0');
  auto n =
      (*file)->ReadAt(0, std::span(reinterpret_cast<uint8_t*>(contents.data()), contents.size()));
  if (!n.ok()) return n.status();
  contents.resize(*n);
  return contents;
}

namespace {

// RemoveGradually's walk; `freed` counts the bytes freed since the last pause, across files.
absl::Status RemovePaced(Filesystem& fs, const std::string& path, const RemovalPace& pace,
                         int64_t& freed) {
  auto exists = fs.Exists(path);
  if (!exists.ok()) return exists.status();
  if (!*exists) return absl::OkStatus();
  auto directory = fs.IsDirectory(path);
  if (!directory.ok()) return directory.status();
  if (*directory) {
    auto names = fs.List(path);
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      STRAND_RETURN_IF_ERROR(RemovePaced(fs, JoinPath(path, name), pace, freed));
    }
    return fs.RemoveAll(path);
  }
  auto size = fs.FileSize(path);
  if (!size.ok()) return size.status();
  // Sleeps once a step's worth is freed; false in a hurry (no more pauses, and no more steps).
  auto paced = [&](int64_t bytes) {
    freed += bytes;
    if (pace.step_bytes <= 0 || freed < pace.step_bytes) return true;
    freed = 0;
    if (pace.hurry && pace.hurry()) return false;
    std::this_thread::sleep_for(pace.pause);
    return true;
  };
  int64_t left = *size;
  if (pace.step_bytes > 0 && left > pace.step_bytes) {
    auto file = fs.Open(path, OpenMode::kReadWrite);
    if (!file.ok()) return file.status();
    while (left > pace.step_bytes) {
      left -= pace.step_bytes;
      STRAND_RETURN_IF_ERROR((*file)->Truncate(left));
      if (!paced(pace.step_bytes)) break;
    }
  }
  STRAND_RETURN_IF_ERROR(fs.Remove(path));
  paced(left);
  return absl::OkStatus();
}

}  // namespace

absl::Status RemoveGradually(Filesystem& fs, const std::string& path, const RemovalPace& pace) {
  int64_t freed = 0;
  return RemovePaced(fs, path, pace, freed);
}

}  // namespace strand::storage
