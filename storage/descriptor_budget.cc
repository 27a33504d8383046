#include "storage/descriptor_budget.h"

#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "storage/errc.h"
#include "storage/logger.h"

namespace strand::storage {

int64_t CountOpenDescriptors() {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int64_t count = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++count;
  }
  ::closedir(d);
  return std::max<int64_t>(0, count - 1);  // not the directory stream's own descriptor
}

int64_t DescriptorLimit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) {
    return std::numeric_limits<int64_t>::max();
  }
  return static_cast<int64_t>(rl.rlim_cur);
}

int64_t DescriptorBudget::AutomaticReserve(int64_t limit) {
  return std::clamp<int64_t>(limit / 8, 64, 4096);
}

DescriptorBudget::DescriptorBudget(int64_t reserve, Clock& clock)
    : configured_reserve_(reserve), clock_(clock) {}

DescriptorUsage DescriptorBudget::MeasureLocked(bool force) {
  const int64_t now = clock_.NowMonotonicMs();
  if (force || measured_at_ms_ < 0 || now - measured_at_ms_ >= kRefreshMs) {
    usage_.open = CountOpenDescriptors();
    usage_.limit = DescriptorLimit();
    usage_.reserve =
        configured_reserve_ > 0 ? configured_reserve_ : AutomaticReserve(usage_.limit);
    measured_at_ms_ = now;
    if (usage_.open < 0 && !warned_uncountable_) {
      warned_uncountable_ = true;
      ContextLogger("log-manager").Warn(
          "cannot count open file descriptors (no /proc/self/fd): log creation is not limited "
          "by descriptors");
    }
  }
  return usage_;
}

absl::Status DescriptorBudget::CheckRoom(int64_t needed) {
  std::lock_guard lock(mu_);
  DescriptorUsage u = MeasureLocked(false);
  // Refuse only on a fresh count (between counts, grants are added at their estimate).
  if (u.open >= 0 && u.open + needed > u.limit - u.reserve) u = MeasureLocked(true);
  if (u.open < 0) return absl::OkStatus();
  if (u.open + needed > u.limit - u.reserve) {
    return StorageError(
        Errc::kLimitExceeded,
        fmt::format("out of file descriptors for logs: {} open, a new log needs {}, and {} of "
                    "the process limit of {} (RLIMIT_NOFILE) are kept in reserve for "
                    "connections; raise the limit (ulimit -n) or host fewer partitions on this "
                    "broker",
                    u.open, needed, u.reserve, u.limit));
  }
  usage_.open += needed;  // counted as used until the next measurement
  return absl::OkStatus();
}

bool DescriptorBudget::Exhausted() {
  std::lock_guard lock(mu_);
  const DescriptorUsage u = MeasureLocked(true);
  return u.open >= 0 && u.open + kLogDescriptors > u.limit - u.reserve;
}

DescriptorUsage DescriptorBudget::Usage() {
  std::lock_guard lock(mu_);
  return MeasureLocked(false);
}

}  // namespace strand::storage
