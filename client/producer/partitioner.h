#pragma once

// Kafka's default partitioning, exactly: a keyed record goes to
// toPositive(murmur2(key)) % partitions (Utils.murmur2 / Utils.toPositive in Kafka's clients,
// BuiltInPartitioner.partitionForKey), so that Strand and Kafka clients put a key in the same
// partition; a keyless record goes to a sticky partition (KIP-480) that the accumulator changes
// each time it starts a new batch for it. Pure functions, plus the sticky choice, which takes its
// randomness from the caller.

#include <cstdint>
#include <random>
#include <span>
#include <string_view>

namespace strand::client {

// Kafka's murmur2: MurmurHash2 (32-bit) with seed 0x9747b28c over the key bytes, the 1-3 tail
// bytes mixed in little-endian order; the result as Java's signed int.
int32_t Murmur2(std::string_view data);

// Kafka's Utils.toPositive: clears the sign bit (not abs: abs(INT_MIN) stays negative).
constexpr int32_t ToPositive(int32_t n) { return n & 0x7fffffff; }

// The partition of a keyed record; partitions >= 1.
int32_t PartitionForKey(std::string_view key, int32_t partitions);

// A new sticky partition: uniformly among `available` partitions (those with a leader) if any,
// else among all `partitions`; different from `previous` whenever there is another choice.
int32_t NextStickyPartition(std::span<const int32_t> available, int32_t partitions,
                            int32_t previous, std::minstd_rand& random);

}  // namespace strand::client
