#pragma once

// Kafka's key partitioning, bit for bit: a keyed record goes to
// toPositive(murmur2(key)) % partitions (Kafka's Utils.murmur2 / Utils.toPositive, used by
// its default partitioner), so Strand's clients, Strand's brokers (JSON produce) and Kafka's
// clients all put a key in the same partition.

#include <cstdint>
#include <string_view>

namespace strand {

// MurmurHash2, 32-bit, seed 0x9747b28c, tail bytes mixed little-endian; as Java's signed int.
int32_t Murmur2(std::string_view data);

// Clears the sign bit (not abs(): abs(INT_MIN) stays negative), as Kafka's Utils.toPositive.
constexpr int32_t ToPositive(int32_t n) { return n & 0x7fffffff; }

// The partition of a keyed record; `partitions` >= 1.
inline int32_t PartitionForKey(std::string_view key, int32_t partitions) {
  return ToPositive(Murmur2(key)) % partitions;
}

}  // namespace strand
