#include "common/health.h"

#include <fmt/format.h>

namespace strand {

void ProcessHealth::SetReady(const std::string& component, bool ready, std::string reason) {
  std::lock_guard lock(mu_);
  for (Component& c : components_) {
    if (c.name != component) continue;
    c.ready = ready;
    c.reason = std::move(reason);
    return;
  }
  components_.push_back({component, ready, std::move(reason)});
}

ProcessHealth::Report ProcessHealth::Readiness() const {
  std::lock_guard lock(mu_);
  if (components_.empty()) return {false, "starting"};
  Report r{true, {}};
  for (const Component& c : components_) {
    if (!c.ready) return {false, components_.size() > 1 ? c.name + ": " + c.reason : c.reason};
    if (!c.reason.empty()) r.reason += (r.reason.empty() ? "" : "; ") + c.reason;
  }
  return r;
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
