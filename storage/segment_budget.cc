#include "storage/segment_budget.h"

#include <vector>

#include "storage/segment.h"

namespace strand::storage {

void OpenSegmentBudget::Touch(const std::shared_ptr<Segment>& segment) {
  std::vector<std::shared_ptr<Segment>> victims;
  {
    absl::MutexLock lock(&mu_);
    auto it = where_.find(segment.get());
    if (it != where_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
    } else {
      lru_.push_front({segment.get(), segment});
      where_[segment.get()] = lru_.begin();
    }
    while (static_cast<int32_t>(lru_.size()) > max_) {
      Entry last = lru_.back();
      lru_.pop_back();
      where_.erase(last.key);
      // An expired segment is being destroyed; it has nothing left to release.
      if (auto victim = last.segment.lock()) victims.push_back(std::move(victim));
    }
  }
  // Outside the budget's lock: releasing takes the segment's own lock.
  for (auto& v : victims) v->ReleaseResources();
}

void OpenSegmentBudget::Forget(const Segment* segment) {
  absl::MutexLock lock(&mu_);
  auto it = where_.find(segment);
  if (it == where_.end()) return;
  lru_.erase(it->second);
  where_.erase(it);
}

int32_t OpenSegmentBudget::open_count() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int32_t>(lru_.size());
}

}  // namespace strand::storage
