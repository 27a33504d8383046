#pragma once

// FetchPurgatory: long-polling fetches waiting for data (Kafka's delayed fetch). A waiting fetch
// watches some partitions; when one of them makes progress (its log end or high watermark moved)
// the fetch is retried, and at its deadline it answers with whatever there is. Retries run on
// the purgatory's own thread, except for fetches registered `inline_retry` (followers': a few
// per broker, and on the acks=all path), which the thread reporting progress (a producer, a
// flusher, another fetch) retries itself, as the thread registering them tries them once more
// (progress may come between a fetch's first try and its registration): the purgatory's thread
// wakes for them only at their deadline. A fetch is never tried by two threads at once; progress
// reported while it is being tried makes it try again.
//
// Thread-safe. Stop() answers every waiting fetch (final attempt) and joins the thread.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "storage/log_manager.h"

namespace strand::broker {

class FetchPurgatory {
 public:
  // One try of a waiting fetch: reads, and if it has enough (or `final`) answers its caller and
  // returns true. Must not block.
  using Attempt = std::function<bool(bool final)>;

  FetchPurgatory();
  ~FetchPurgatory();

  void Watch(const std::vector<storage::TopicPartition>& tps, int64_t deadline_ms, Attempt attempt,
             bool inline_retry = false);
  void Notify(const storage::TopicPartition& tp);
  void Stop();
  size_t waiting() const;

 private:
  struct Op {
    std::vector<storage::TopicPartition> tps;
    int64_t deadline_ms;
    Attempt attempt;
    bool inline_retry = false;
    bool busy = false;   // a thread is trying it now (mu_ not held)
    bool dirty = false;  // progress came while it was busy: try again
  };
  void Run();
  void Remove(uint64_t id);  // mu_ held
  // After a try of `id` (mu_ held): removes it when done, else queues it again if progress came
  // meanwhile.
  void Tried(uint64_t id, bool done);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Op> ops_;
  std::map<storage::TopicPartition, std::set<uint64_t>> watchers_;
  std::set<storage::TopicPartition> progressed_;
  std::set<uint64_t> fresh_;  // just registered: try once (progress may have come in between)
  // When the thread sleeping in Run wakes for the next deadline (0 while it is awake); rescan_
  // wakes it earlier, for a fetch due before then.
  int64_t sleeping_until_ms_ = 0;
  bool rescan_ = false;
  uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

// Monotonic milliseconds from the process's clock (common/clock.h), for the broker server's
// timeouts and deadlines.
int64_t NowMs();

}  // namespace strand::broker
