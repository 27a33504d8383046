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
// Workers sleep when the queue is empty. (They used to poll it for 50 us after each flush, to
// spare a writer waiting for durability a wake-up; measured in issue 16, that changed neither a
// one-record-at-a-time writer's rate nor the 1,000 records/s latencies nor the throughput cases,
// and cost about 5 % of a core on a leader at 1,000 records/s.)

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
  explicit Flusher(int32_t threads);
  ~Flusher();
  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  void Schedule(std::shared_ptr<Log> log);
  // Finishes queued flushes, then stops the threads. Later Schedule calls are ignored.
  void Stop();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Log>> queue_;
  int32_t sleeping_ = 0;            // workers blocked on cv_
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace strand::storage
