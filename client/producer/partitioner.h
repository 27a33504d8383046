#pragma once

// Kafka's default partitioning, exactly: a keyed record goes to
// toPositive(murmur2(key)) % partitions (strand::PartitionForKey in common/murmur2.h, shared with
// the broker's JSON produce, so Strand and Kafka clients put a key in the same partition); a
// keyless record goes to a sticky partition (KIP-480) that the accumulator changes each time it
// starts a new batch for it. The sticky choice takes its randomness from the caller.

#include <cstdint>
#include <random>
#include <span>

#include "common/murmur2.h"

namespace strand::client {

// A new sticky partition: uniformly among `available` partitions (those with a leader) if any,
// else among all `partitions`; different from `previous` whenever there is another choice.
int32_t NextStickyPartition(std::span<const int32_t> available, int32_t partitions,
                            int32_t previous, std::minstd_rand& random);

}  // namespace strand::client
