#include "storage/flusher.h"

#include <chrono>

#include "common/thread_name.h"
#include "storage/log.h"

namespace strand::storage {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

Flusher::Flusher(int32_t threads, int64_t spin_us) : spin_us_(spin_us) {
  for (int32_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this] {
      NameThisThread("log-flusher");
      Run();
    });
  }
}

Flusher::~Flusher() { Stop(); }

void Flusher::Schedule(std::shared_ptr<Log> log) {
  bool wake;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    queue_.push_back(std::move(log));
    ++queued_;
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
    auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(spin_us_);
    while (queued_.load(std::memory_order_acquire) == 0 &&
           std::chrono::steady_clock::now() < spin_until) {
      CpuRelax();
    }
    std::shared_ptr<Log> log;
    {
      std::unique_lock lock(mu_);
      ++sleeping_;
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      --sleeping_;
      if (queue_.empty()) return;  // stopping, and nothing left to flush
      log = std::move(queue_.front());
      queue_.pop_front();
      --queued_;
    }
    log->RunScheduledFlush();
  }
}

}  // namespace strand::storage
