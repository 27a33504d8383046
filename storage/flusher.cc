#include "storage/flusher.h"

#include "common/thread_name.h"
#include "storage/log.h"

namespace strand::storage {

Flusher::Flusher(int32_t threads) {
  for (int32_t i = 0; i < threads; ++i)
    threads_.push_back(NamedThread("log-flusher", [this] { Run(); }));
}

Flusher::~Flusher() { Stop(); }

void Flusher::Schedule(std::shared_ptr<Log> log) {
  bool wake;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    queue_.push_back(std::move(log));
    wake = sleeping_ > 0;
  }
  if (wake) cv_.notify_one();
}

void Flusher::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Flusher::Run() {
  while (true) {
    std::shared_ptr<Log> log;
    {
      std::unique_lock lock(mu_);
      ++sleeping_;
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      --sleeping_;
      if (queue_.empty()) return;  // stopping, and nothing left to flush
      log = std::move(queue_.front());
      queue_.pop_front();
    }
    log->RunScheduledFlush();
  }
}

}  // namespace strand::storage
