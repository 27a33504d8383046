#pragma once

// Backoff: the wait between retries of one request (Kafka's retry.backoff.ms, doubling up to
// retry.backoff.max.ms, with +-20% jitter so that clients retrying together spread out).
// Not thread-safe: one per request.

#include <cstdint>
#include <random>

namespace strand::client {

class Backoff {
 public:
  // 1 <= initial_ms <= max_ms (checked by the owner's options validation).
  Backoff(int64_t initial_ms, int64_t max_ms);

  // The next wait: initial_ms, then twice the previous, capped at max_ms; jittered.
  int64_t NextMs();
  // Back to initial_ms (after a success).
  void Reset() { next_ms_ = initial_ms_; }

 private:
  const int64_t initial_ms_;
  const int64_t max_ms_;
  int64_t next_ms_;
  std::minstd_rand random_;
};

}  // namespace strand::client
