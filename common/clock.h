#pragma once

// Clock: the time seam. Drivers and servers read time only through a Clock so tests can use a
// manual one; pure cores never read time at all (they count ticks).

#include <chrono>
#include <cstdint>

namespace strand {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time, for timeouts and latencies.
  virtual int64_t NowMonotonicUs() const = 0;
  // Wall-clock time in milliseconds since the Unix epoch, for record timestamps.
  virtual int64_t NowWallMs() const = 0;

  int64_t NowMonotonicMs() const { return NowMonotonicUs() / 1000; }
};

class SystemClock final : public Clock {
 public:
  int64_t NowMonotonicUs() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  int64_t NowWallMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static SystemClock& Instance() {
    static SystemClock clock;
    return clock;
  }
};

// ManualClock: advanced by hand in tests.
class ManualClock final : public Clock {
 public:
  int64_t NowMonotonicUs() const override { return now_us_; }
  int64_t NowWallMs() const override { return wall_base_ms_ + now_us_ / 1000; }
  void AdvanceUs(int64_t us) { now_us_ += us; }
  void AdvanceMs(int64_t ms) { now_us_ += ms * 1000; }

 private:
  int64_t now_us_ = 1'000'000;
  int64_t wall_base_ms_ = 1'700'000'000'000;
};

}  // namespace strand
