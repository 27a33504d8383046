#pragma once

// Deliveries: collects producer callbacks for tests (thread-safe), and waits for a count.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "strand/producer.h"

namespace strand::client::testing {

class Deliveries {
 public:
  struct Outcome {
    std::string value;  // what the test sent (its tag)
    absl::StatusOr<RecordMetadata> result;
  };

  SendCallback For(std::string tag) {
    return [this, tag = std::move(tag)](const absl::StatusOr<RecordMetadata>& result) {
      std::lock_guard lock(mu_);
      outcomes_.push_back({tag, result});
      cv_.notify_all();
    };
  }
  bool WaitFor(size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return outcomes_.size() >= count; });
  }
  std::vector<Outcome> outcomes() const {
    std::lock_guard lock(mu_);
    return outcomes_;
  }
  size_t failures() const {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const Outcome& o : outcomes_) n += !o.result.ok();
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Outcome> outcomes_;
};

}  // namespace strand::client::testing
