#include "client/common/backoff.h"

#include <algorithm>

namespace strand::client {

Backoff::Backoff(int64_t initial_ms, int64_t max_ms)
    : initial_ms_(initial_ms),
      max_ms_(max_ms),
      next_ms_(initial_ms),
      random_(std::random_device{}()) {}

int64_t Backoff::NextMs() {
  const int64_t base = next_ms_;
  next_ms_ = std::min(max_ms_, next_ms_ * 2);
  // Jitter in [0.8, 1.2] x base, never below 1 ms.
  std::uniform_int_distribution<int64_t> jitter(-base / 5, base / 5);
  return std::max<int64_t>(1, base + jitter(random_));
}

}  // namespace strand::client
