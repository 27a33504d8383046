#pragma once

// MemoryBudget: Kafka's buffer.memory. Batches take their capacity from it when they are created
// and give it back when they complete; a Send that finds it exhausted waits (max.block.ms) for a
// completion to free room. Waiters are served first come, first served, so a large record is not
// starved by a stream of small ones. Thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>

namespace strand::client {

class MemoryBudget {
 public:
  explicit MemoryBudget(int64_t total_bytes);

  // Takes `bytes` (<= total), waiting up to `max_wait` for room. False on timeout or after Close.
  bool Acquire(int64_t bytes, std::chrono::milliseconds max_wait);
  // Takes `bytes` only if there is room now and nobody waits.
  bool TryAcquire(int64_t bytes);
  void Release(int64_t bytes);
  // Wakes every waiter; later acquisitions fail.
  void Close();

  int64_t total_bytes() const { return total_bytes_; }
  int64_t available_bytes() const;
  // Someone waits for memory: the sender should send whatever is queued, full or not.
  bool has_waiters() const;

 private:
  const int64_t total_bytes_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t available_bytes_;
  std::deque<uint64_t> waiters_;  // tickets, in arrival order
  uint64_t next_ticket_ = 0;
  bool closed_ = false;
};

}  // namespace strand::client
