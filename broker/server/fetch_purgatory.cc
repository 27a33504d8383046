#include "broker/server/fetch_purgatory.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "common/clock.h"
#include "common/thread_name.h"

namespace strand::broker {

int64_t NowMs() { return SystemClock::Instance().NowMonotonicMs(); }

FetchPurgatory::FetchPurgatory() {
  thread_ = NamedThread("fetch-purgatory", [this] { Run(); });
}

FetchPurgatory::~FetchPurgatory() { Stop(); }

void FetchPurgatory::Watch(const std::vector<storage::TopicPartition>& tps, int64_t deadline_ms,
                           Attempt attempt, bool inline_retry) {
  std::unique_lock lock(mu_);
  if (stopping_) {
    lock.unlock();
    attempt(true);
    return;
  }
  const uint64_t id = next_id_++;
  for (const auto& tp : tps) watchers_[tp].insert(id);
  Op& op = ops_.emplace(id, Op{tps, deadline_ms, std::move(attempt), inline_retry}).first->second;
  if (!inline_retry) {
    fresh_.insert(id);
    cv_.notify_one();
    return;
  }
  // Progress may have come between the caller's own try and now: try once more, here rather than
  // on the purgatory's thread (a follower parks a fetch for every write it fetches).
  op.busy = true;
  Attempt retry = op.attempt;  // as Run does: the op is not touched without mu_
  lock.unlock();
  const bool done = retry(false);
  lock.lock();
  Tried(id, done);
  // The purgatory's thread is woken only when it would sleep past this deadline.
  if (!done && deadline_ms < sleeping_until_ms_) {
    rescan_ = true;
    cv_.notify_one();
  }
}

void FetchPurgatory::Notify(const storage::TopicPartition& tp) {
  std::vector<std::pair<uint64_t, Attempt>> mine;  // tried on this thread
  {
    std::lock_guard lock(mu_);
    auto w = watchers_.find(tp);
    if (w == watchers_.end()) return;
    bool others = false;
    for (uint64_t id : w->second) {
      Op& op = ops_.at(id);
      if (op.busy) {
        op.dirty = true;
      } else if (op.inline_retry && !stopping_) {
        op.busy = true;
        mine.emplace_back(id, op.attempt);
      } else {
        others = true;
      }
    }
    if (others) {
      progressed_.insert(tp);
      cv_.notify_one();
    }
  }
  for (auto& [id, attempt] : mine) {
    const bool done = attempt(false);
    std::lock_guard lock(mu_);
    Tried(id, done);
  }
}

void FetchPurgatory::Tried(uint64_t id, bool done) {
  auto it = ops_.find(id);
  if (it == ops_.end()) return;
  it->second.busy = false;
  if (stopping_) cv_.notify_all();  // Run's last step waits for tries in progress
  if (done) {
    Remove(id);
  } else if (std::exchange(it->second.dirty, false)) {
    fresh_.insert(id);
    cv_.notify_one();
  }
}

size_t FetchPurgatory::waiting() const {
  std::lock_guard lock(mu_);
  return ops_.size();
}

void FetchPurgatory::Remove(uint64_t id) {
  auto it = ops_.find(id);
  if (it == ops_.end()) return;
  for (const auto& tp : it->second.tps) {
    auto w = watchers_.find(tp);
    if (w == watchers_.end()) continue;
    w->second.erase(id);
    if (w->second.empty()) watchers_.erase(w);
  }
  ops_.erase(it);
}

void FetchPurgatory::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    int64_t next_deadline = NowMs() + 1000;
    for (const auto& [id, op] : ops_) {
      // One being tried elsewhere comes back through fresh_ when it needs this thread.
      if (!op.busy) next_deadline = std::min(next_deadline, op.deadline_ms);
    }
    sleeping_until_ms_ = next_deadline;
    cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(0, next_deadline - NowMs())),
                 [&] { return stopping_ || rescan_ || !progressed_.empty() || !fresh_.empty(); });
    sleeping_until_ms_ = 0;  // awake: sees every deadline on its next pass
    rescan_ = false;
    if (stopping_) break;
    std::set<uint64_t> candidates = std::exchange(fresh_, {});
    for (const auto& tp : std::exchange(progressed_, {})) {
      auto w = watchers_.find(tp);
      if (w != watchers_.end()) candidates.insert(w->second.begin(), w->second.end());
    }
    const int64_t now = NowMs();
    for (const auto& [id, op] : ops_) {
      if (op.deadline_ms <= now && !op.busy) candidates.insert(id);
    }
    for (uint64_t id : candidates) {
      auto it = ops_.find(id);
      if (it == ops_.end()) continue;
      if (it->second.busy) {  // another thread is trying it: it tries again when done
        it->second.dirty = true;
        continue;
      }
      const bool final = it->second.deadline_ms <= now;
      Attempt attempt = it->second.attempt;
      it->second.busy = true;
      lock.unlock();
      const bool done = attempt(final);
      lock.lock();
      Tried(id, done || final);
    }
  }
  // Answer what is left, once no other thread is trying one of them.
  cv_.wait(lock, [&] {
    return std::none_of(ops_.begin(), ops_.end(), [](const auto& kv) { return kv.second.busy; });
  });
  auto ops = std::exchange(ops_, {});
  watchers_.clear();
  lock.unlock();
  for (auto& [id, op] : ops) op.attempt(true);
}

void FetchPurgatory::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace strand::broker
