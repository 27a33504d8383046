#pragma once

// What `strand perf` measures with: a latency histogram of bounded size and precision, a
// throughput throttle, and the payloads it sends. Single-threaded classes; callers lock.

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace strand::cli {

// Latencies in microseconds, counted in log-linear buckets: exact below 256 us, then 128 buckets
// per power of two, so a reported percentile is at most 0.8 % above the true value (it reports
// the bucket's upper end, capped at the largest value seen). Values from 0 to 2^40 us (12 days);
// larger ones count in the last bucket. Memory is fixed (~5,000 buckets) whatever the count, so
// a run of any length keeps every sample.
class LatencyHistogram {
 public:
  LatencyHistogram();

  void Record(int64_t micros);
  void Merge(const LatencyHistogram& other);
  void Reset();

  int64_t count() const { return count_; }
  int64_t max_us() const { return max_us_; }
  double mean_us() const;
  // The smallest recorded value v such that at least `percent` % of the samples are <= v (within
  // the bucket precision); 0 when empty. `percent` in [0, 100].
  int64_t PercentileUs(double percent) const;

 private:
  static constexpr int kSubBucketBits = 7;  // 128 buckets per power of two
  static constexpr int kMaxValueBits = 40;
  static size_t BucketOf(int64_t micros);
  static int64_t UpperBoundOf(size_t bucket);

  std::vector<int64_t> counts_;
  int64_t count_ = 0;
  int64_t max_us_ = 0;
  double sum_us_ = 0;
};

// Paces sends at `records_per_second` (<= 0: no limit), like kafka-producer-perf-test's
// --throughput: record i is due at start + i / rate; WaitForTurn sleeps until it is.
class Throttle {
 public:
  using Clock = std::chrono::steady_clock;
  Throttle(double records_per_second, Clock::time_point start)
      : rate_(records_per_second), start_(start) {}

  // Sleeps until record `index` (0-based) is due.
  void WaitForTurn(int64_t index) const;
  // When record `index` is due (start for an unlimited rate).
  Clock::time_point DueTime(int64_t index) const;

 private:
  const double rate_;
  const Clock::time_point start_;
};

// The values perf produce sends: `pool_size` distinct strings of `record_size` random uppercase
// letters (A-Z, as kafka-producer-perf-test's payloads), used in turn. Distinct values keep
// compression honest: one value repeated in a batch would compress to almost nothing.
std::vector<std::string> MakePayloads(int32_t record_size, int32_t pool_size, uint64_t seed);

// How many distinct payloads to keep for a record size: up to 1,000, within 64 MiB.
int32_t PayloadPoolSize(int32_t record_size);

}  // namespace strand::cli
