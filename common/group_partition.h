#pragma once

// Which `__consumer_offsets` partition holds a group, by Kafka's exact rule, so that a Kafka
// client and a Strand client agree on the coordinator of a group:
//   Utils.abs(groupId.hashCode()) % partitions
// where hashCode is Java's String.hashCode over UTF-16 code units (s[0]*31^(n-1) + ... + s[n-1]
// in wrapping 32-bit arithmetic) and Utils.abs maps Integer.MIN_VALUE to 0.

#include <cstdint>
#include <string_view>

namespace strand {

// Java's String.hashCode of the UTF-8 string `s` (decoded to UTF-16; an invalid byte counts as
// U+FFFD, as Java's decoder replaces it).
int32_t JavaStringHash(std::string_view s);

// The partition (0 .. partitions-1) of `group_id`; `partitions` must be > 0.
int32_t PartitionForGroup(std::string_view group_id, int32_t partitions);

}  // namespace strand
