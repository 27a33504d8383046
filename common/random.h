#pragma once

// Random: a small seeded pseudo-random generator (xoshiro256**, seeded through splitmix64)
// whose output is identical on every platform and standard library. Pure cores take a
// Random& so that a simulator run is reproducible from one seed; std::uniform_*_distribution
// is avoided because its output differs between library implementations.

#include <cstdint>

namespace strand {

class Random {
 public:
  explicit Random(uint64_t seed);

  uint64_t Next();
  // Uniform in [0, n); n must be > 0.
  uint64_t Uniform(uint64_t n);
  // Uniform in [lo, hi] inclusive.
  int64_t Range(int64_t lo, int64_t hi);
  // True with probability 1/n.
  bool OneIn(uint64_t n) { return Uniform(n) == 0; }
  // True with probability p (0..1).
  bool Chance(double p);
  double NextDouble();  // [0, 1)

 private:
  uint64_t state_[4];
};

}  // namespace strand
