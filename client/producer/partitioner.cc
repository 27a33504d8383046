#include "client/producer/partitioner.h"

#include <algorithm>

#include "common/check.h"

namespace strand::client {

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
