#include "client/producer/memory_budget.h"

#include <algorithm>

#include "common/check.h"

namespace strand::client {

MemoryBudget::MemoryBudget(int64_t total_bytes)
    : total_bytes_(total_bytes), available_bytes_(total_bytes) {
  STRAND_CHECK(total_bytes > 0);
}

bool MemoryBudget::TryAcquire(int64_t bytes) {
  std::lock_guard lock(mu_);
  if (closed_ || !waiters_.empty() || bytes > available_bytes_) return false;
  available_bytes_ -= bytes;
  return true;
}

bool MemoryBudget::Acquire(int64_t bytes, std::chrono::milliseconds max_wait) {
  STRAND_CHECK(bytes <= total_bytes_);
  std::unique_lock lock(mu_);
  if (closed_) return false;
  if (waiters_.empty() && bytes <= available_bytes_) {
    available_bytes_ -= bytes;
    return true;
  }
  const uint64_t ticket = next_ticket_++;
  waiters_.push_back(ticket);
  const auto deadline = std::chrono::steady_clock::now() + max_wait;
  const bool got = cv_.wait_until(lock, deadline, [&] {
    return closed_ || (waiters_.front() == ticket && bytes <= available_bytes_);
  });
  const bool success = got && !closed_;
  if (success) available_bytes_ -= bytes;
  waiters_.erase(std::find(waiters_.begin(), waiters_.end(), ticket));
  // The next waiter in line may fit now (or the head left on timeout).
  cv_.notify_all();
  return success;
}

void MemoryBudget::Release(int64_t bytes) {
  std::lock_guard lock(mu_);
  available_bytes_ += bytes;
  STRAND_CHECK(available_bytes_ <= total_bytes_);
  if (!waiters_.empty()) cv_.notify_all();
}

void MemoryBudget::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

int64_t MemoryBudget::available_bytes() const {
  std::lock_guard lock(mu_);
  return available_bytes_;
}

bool MemoryBudget::has_waiters() const {
  std::lock_guard lock(mu_);
  return !waiters_.empty();
}

}  // namespace strand::client
