#pragma once

// OpenSegmentBudget: bounds how many sealed segments keep an open file and in-memory indexes
// (open_segments_max). Segments report each use (Touch); the least recently used ones beyond the
// bound release their resources and reload them on their next use. Active segments are not
// counted (one per log, bounded by logs_max). Thread-safe; shared by all logs of a LogManager.

#include <cstdint>
#include <list>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace strand::storage {

class Segment;

class OpenSegmentBudget {
 public:
  explicit OpenSegmentBudget(int32_t open_segments_max) : max_(open_segments_max) {}

  // Marks `segment` as just used; releases the least recently used beyond the bound.
  void Touch(const std::shared_ptr<Segment>& segment);
  // Removes a segment that is going away.
  void Forget(const Segment* segment);
  int32_t open_count() const;

 private:
  const int32_t max_;
  mutable absl::Mutex mu_;
  struct Entry {
    const Segment* key;
    std::weak_ptr<Segment> segment;
  };
  std::list<Entry> lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
  absl::flat_hash_map<const Segment*, std::list<Entry>::iterator> where_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strand::storage
