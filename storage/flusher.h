#pragma once

// Flusher: the group-commit threads. A Log asks for a flush after appends (per its flush.messages
// / flush.ms policy) and after a roll; a flusher thread then makes everything appended so far
// durable with one fsync per file and fires the log's durability callbacks. Appends never wait
// for an fsync: while one runs, later appends queue up and share the next one, so the fsync rate
// adapts to the load instead of capping it.
//
// A log is queued at most once at a time (the Log keeps the flag). Threads: `threads` workers,
// started by the constructor and joined by Stop()/the destructor; Schedule is thread-safe.
//
// After each flush a worker polls the queue for up to `spin_us` before it sleeps: a writer that
// waits for durability appends its next batch a few microseconds after the last fsync, and a
// sleeping worker would add a thread wake-up (tens of microseconds on a VM) to every fsync.
// The spin is bounded and happens only while the log is busy.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace strand::storage {

class Log;

class Flusher {
 public:
  explicit Flusher(int32_t threads, int64_t spin_us = 50);
  ~Flusher();
  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  void Schedule(std::shared_ptr<Log> log);
  // Finishes queued flushes, then stops the threads. Later Schedule calls are ignored.
  void Stop();

 private:
  void Run();

  const int64_t spin_us_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Log>> queue_;
  std::atomic<int64_t> queued_{0};  // queue_.size(), readable without the lock
  int32_t sleeping_ = 0;            // workers blocked on cv_
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace strand::storage
