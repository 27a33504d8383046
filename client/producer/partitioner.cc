#include "client/producer/partitioner.h"

#include <algorithm>

#include "common/check.h"

namespace strand::client {

int32_t Murmur2(std::string_view data) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  const uint32_t length = static_cast<uint32_t>(data.size());
  constexpr uint32_t kSeed = 0x9747b28c;
  constexpr uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;
  uint32_t h = kSeed ^ length;
  const uint32_t words = length / 4;
  for (uint32_t i = 0; i < words; ++i) {
    const uint8_t* p = bytes + 4 * i;
    uint32_t k =
        uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
  }
  const uint8_t* tail = bytes + (length & ~3u);
  switch (length % 4) {
    case 3:
      h ^= uint32_t{tail[2]} << 16;
      [[fallthrough]];
    case 2:
      h ^= uint32_t{tail[1]} << 8;
      [[fallthrough]];
    case 1:
      h ^= uint32_t{tail[0]};
      h *= kM;
  }
  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t PartitionForKey(std::string_view key, int32_t partitions) {
  STRAND_CHECK(partitions >= 1);
  return ToPositive(Murmur2(key)) % partitions;
}

int32_t NextStickyPartition(std::span<const int32_t> available, int32_t partitions,
                            int32_t previous, std::minstd_rand& random) {
  STRAND_CHECK(partitions >= 1);
  if (available.size() == 1) return available[0];
  if (!available.empty()) {
    // Pick among the available ones other than `previous` (if it is one of them).
    const bool previous_available =
        std::find(available.begin(), available.end(), previous) != available.end();
    const auto choices = static_cast<uint32_t>(available.size() - (previous_available ? 1 : 0));
    uint32_t pick = std::uniform_int_distribution<uint32_t>(0, choices - 1)(random);
    for (int32_t p : available) {
      if (p == previous) continue;
      if (pick-- == 0) return p;
    }
    return available[0];
  }
  if (partitions == 1) return 0;
  if (previous < 0 || previous >= partitions) {
    return static_cast<int32_t>(
        std::uniform_int_distribution<uint32_t>(0, static_cast<uint32_t>(partitions) - 1)(random));
  }
  const auto offset = static_cast<int32_t>(
      std::uniform_int_distribution<uint32_t>(1, static_cast<uint32_t>(partitions) - 1)(random));
  return (previous + offset) % partitions;
}

}  // namespace strand::client
