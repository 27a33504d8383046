#include "common/health.h"

#include <fmt/format.h>

namespace strand {

void ProcessHealth::SetReady(bool ready, std::string reason) {
  std::lock_guard lock(mu_);
  ready_ = ready;
  reason_ = std::move(reason);
}

ProcessHealth::Report ProcessHealth::Readiness() const {
  std::lock_guard lock(mu_);
  return {ready_, reason_};
}

int ProcessHealth::AddLoop(std::string name, std::chrono::milliseconds limit) {
  std::lock_guard lock(mu_);
  loops_.push_back({std::move(name), limit, Clock::now(), true});
  return static_cast<int>(loops_.size()) - 1;
}

void ProcessHealth::Beat(int loop) {
  const auto now = Clock::now();
  std::lock_guard lock(mu_);
  loops_.at(static_cast<size_t>(loop)).last = now;
}

void ProcessHealth::RemoveLoop(int loop) {
  std::lock_guard lock(mu_);
  loops_.at(static_cast<size_t>(loop)).active = false;
}

ProcessHealth::Report ProcessHealth::Liveness() const { return Liveness(Clock::now()); }

ProcessHealth::Report ProcessHealth::Liveness(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  Report r{true, {}};
  for (const Loop& l : loops_) {
    if (!l.active || now - l.last <= l.limit) continue;
    r.ok = false;
    const auto stalled = std::chrono::duration_cast<std::chrono::milliseconds>(now - l.last);
    r.reason += fmt::format("{}{} loop stalled for {} ms (limit {} ms)",
                            r.reason.empty() ? "" : "; ", l.name, stalled.count(), l.limit.count());
  }
  return r;
}

}  // namespace strand
