#include "tools/cli/perf_stats.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <thread>

namespace strand::cli {
namespace {

constexpr int64_t kSubBuckets = int64_t{1} << 7;

}  // namespace

// Bucket layout: values below 2 * kSubBuckets (256) have a bucket each; a value v >= 256 with its
// highest bit at position e (v in [2^e, 2^(e+1))) falls in the group of power e, split into 128
// buckets by its 7 bits after the highest one.
size_t LatencyHistogram::BucketOf(int64_t micros) {
  static_assert(kSubBuckets == (int64_t{1} << kSubBucketBits));
  const uint64_t v = static_cast<uint64_t>(
      std::clamp<int64_t>(micros, 0, (int64_t{1} << kMaxValueBits) - 1));
  if (v < 2 * kSubBuckets) return static_cast<size_t>(v);
  const int e = std::bit_width(v) - 1;  // >= kSubBucketBits + 1
  const int shift = e - kSubBucketBits;
  const uint64_t sub = (v >> shift) - kSubBuckets;  // 0 .. 127
  return static_cast<size_t>(2 * kSubBuckets + (e - kSubBucketBits - 1) * kSubBuckets + sub);
}

int64_t LatencyHistogram::UpperBoundOf(size_t bucket) {
  if (bucket < 2 * kSubBuckets) return static_cast<int64_t>(bucket);
  const int64_t rest = static_cast<int64_t>(bucket) - 2 * kSubBuckets;
  const int e = static_cast<int>(rest / kSubBuckets) + kSubBucketBits + 1;
  const int shift = e - kSubBucketBits;
  const int64_t sub = rest % kSubBuckets + kSubBuckets;
  return ((sub + 1) << shift) - 1;
}

LatencyHistogram::LatencyHistogram()
    : counts_(BucketOf((int64_t{1} << kMaxValueBits) - 1) + 1, 0) {}

void LatencyHistogram::Record(int64_t micros) {
  micros = std::max<int64_t>(0, micros);
  ++counts_[BucketOf(micros)];
  ++count_;
  max_us_ = std::max(max_us_, micros);
  sum_us_ += static_cast<double>(micros);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_us_ = std::max(max_us_, other.max_us_);
  sum_us_ += other.sum_us_;
}

void LatencyHistogram::Reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  max_us_ = 0;
  sum_us_ = 0;
}

double LatencyHistogram::mean_us() const {
  return count_ == 0 ? 0.0 : sum_us_ / static_cast<double>(count_);
}

int64_t LatencyHistogram::PercentileUs(double percent) const {
  if (count_ == 0) return 0;
  const double clamped = std::clamp(percent, 0.0, 100.0);
  // The rank of the sample that `percent` % of the samples are at or below (1-based, >= 1).
  const auto rank = std::max<int64_t>(
      1, static_cast<int64_t>(std::ceil(clamped / 100.0 * static_cast<double>(count_))));
  int64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(UpperBoundOf(i), max_us_);
  }
  return max_us_;
}

Throttle::Clock::time_point Throttle::DueTime(int64_t index) const {
  if (rate_ <= 0) return start_;
  return start_ + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(static_cast<double>(index) / rate_));
}

void Throttle::WaitForTurn(int64_t index) const {
  if (rate_ <= 0) return;
  const Clock::time_point due = DueTime(index);
  if (Clock::now() < due) std::this_thread::sleep_until(due);
}

std::vector<std::string> MakePayloads(int32_t record_size, int32_t pool_size, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<int> letter('A', 'Z');
  std::vector<std::string> payloads(static_cast<size_t>(std::max(1, pool_size)));
  for (std::string& p : payloads) {
    p.resize(static_cast<size_t>(std::max(0, record_size)));
    for (char& c : p) c = static_cast<char>(letter(random));
  }
  return payloads;
}

int32_t PayloadPoolSize(int32_t record_size) {
  constexpr int64_t kPoolBytesMax = int64_t{64} << 20;
  constexpr int64_t kPoolCountMax = 1'000;
  return static_cast<int32_t>(
      std::clamp<int64_t>(kPoolBytesMax / std::max<int32_t>(1, record_size), 1, kPoolCountMax));
}

}  // namespace strand::cli
