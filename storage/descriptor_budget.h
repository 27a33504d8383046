#pragma once

// DescriptorBudget: a reserve of file descriptors below RLIMIT_NOFILE that partition logs may
// not use. Everything else a broker does needs descriptors too — accepting connections (gRPC
// 1.51 stops accepting for good once accept4 fails with EMFILE), checkpoints, the metadata log's
// RocksDB files — so log creation is refused with a clear error (Errc::kLimitExceeded) before
// the process's open descriptors reach `limit - reserve`, and the broker reports itself
// unhealthy until descriptors free up again.
//
// Counting: the process's open descriptors are counted in /proc/self/fd (every descriptor,
// whoever opened it), re-measured at most every kRefreshMs; between two measurements the
// descriptors granted by CheckRoom are added, so a burst of log creations cannot overshoot.
// The limit is re-read on every measurement (`prlimit --pid` may change it at run time).
// Without /proc the budget cannot count and lets everything through (logged once).
//
// Thread-safe.

#include <cstdint>
#include <mutex>

#include "absl/status/status.h"
#include "common/clock.h"

namespace strand::storage {

struct DescriptorUsage {
  int64_t open = 0;     // descriptors open in the process (-1: cannot count)
  int64_t limit = 0;    // RLIMIT_NOFILE (soft)
  int64_t reserve = 0;  // kept free of log files
};

class DescriptorBudget {
 public:
  // Descriptors a new log takes: its active segment's log, offset index and time index, plus
  // one for the checkpoint and metadata files it writes now and then.
  static constexpr int64_t kLogDescriptors = 4;
  static constexpr int64_t kRefreshMs = 100;

  // `reserve` <= 0 picks one from the limit: an eighth of it, at least 64 and at most 4,096.
  DescriptorBudget(int64_t reserve, Clock& clock);

  // Room for `needed` more descriptors of log files? Counts them as used when there is.
  absl::Status CheckRoom(int64_t needed);
  // Re-measures; true while a new log would not fit above the reserve.
  bool Exhausted();
  DescriptorUsage Usage();

  // The reserve used for `limit` when none is configured.
  static int64_t AutomaticReserve(int64_t limit);

 private:
  DescriptorUsage MeasureLocked(bool force);

  const int64_t configured_reserve_;
  Clock& clock_;
  std::mutex mu_;
  int64_t measured_at_ms_ = -1;
  DescriptorUsage usage_;
  bool warned_uncountable_ = false;
};

// Open descriptors of this process (entries of /proc/self/fd), or -1 when it cannot tell.
int64_t CountOpenDescriptors();
// RLIMIT_NOFILE's soft limit (INT64_MAX when unlimited).
int64_t DescriptorLimit();

}  // namespace strand::storage
