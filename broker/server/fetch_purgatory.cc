#include "broker/server/fetch_purgatory.h"

#include <chrono>

#include "common/clock.h"

namespace strand::broker {

int64_t NowMs() { return SystemClock::Instance().NowMonotonicMs(); }

FetchPurgatory::FetchPurgatory() { thread_ = std::thread([this] { Run(); }); }

FetchPurgatory::~FetchPurgatory() { Stop(); }

void FetchPurgatory::Watch(const std::vector<storage::TopicPartition>& tps, int64_t deadline_ms,
                           Attempt attempt) {
  std::unique_lock lock(mu_);
  if (stopping_) {
    lock.unlock();
    attempt(true);
    return;
  }
  const uint64_t id = next_id_++;
  for (const auto& tp : tps) watchers_[tp].insert(id);
  ops_.emplace(id, Op{tps, deadline_ms, std::move(attempt)});
  fresh_.insert(id);
  cv_.notify_one();
}

void FetchPurgatory::Notify(const storage::TopicPartition& tp) {
  std::lock_guard lock(mu_);
  if (!watchers_.count(tp)) return;
  progressed_.insert(tp);
  cv_.notify_one();
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
    for (const auto& [id, op] : ops_) next_deadline = std::min(next_deadline, op.deadline_ms);
    cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(0, next_deadline - NowMs())),
                 [&] { return stopping_ || !progressed_.empty() || !fresh_.empty(); });
    if (stopping_) break;
    std::set<uint64_t> candidates = std::exchange(fresh_, {});
    for (const auto& tp : std::exchange(progressed_, {})) {
      auto w = watchers_.find(tp);
      if (w != watchers_.end()) candidates.insert(w->second.begin(), w->second.end());
    }
    const int64_t now = NowMs();
    for (const auto& [id, op] : ops_) {
      if (op.deadline_ms <= now) candidates.insert(id);
    }
    for (uint64_t id : candidates) {
      auto it = ops_.find(id);
      if (it == ops_.end()) continue;
      const bool final = it->second.deadline_ms <= now;
      Attempt attempt = it->second.attempt;
      lock.unlock();
      const bool done = attempt(final);
      lock.lock();
      if (done || final) Remove(id);
    }
  }
  // Answer what is left.
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
