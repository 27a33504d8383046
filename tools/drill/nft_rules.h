#pragma once

// The nftables rules behind the drills' network faults (Target::Cut, Lossy, Heal, Dropped), shared
// by every target that runs nft where the node's network is (a local node's namespace, a pod):
// one inet table, kDrillTable, holding drop rules with counters. Heal deletes the table; Dropped
// sums its counters.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace strand::drill {

// The table every network fault of a drill goes into.
inline constexpr char kDrillTable[] = "strand_drill";

// `nft -f -` input that drops (and counts) traffic between the node it runs on and `addresses`
// (IPv4 or IPv6), both ways; `match` narrows the rules (e.g. "numgen random mod 100 < 30 ").
std::string DropRules(const std::vector<std::string>& addresses, const std::string& match);

// The packets the table's rules dropped, from `nft -j list table inet strand_drill`.
absl::StatusOr<int64_t> DroppedPackets(const std::string& nft_json);

}  // namespace strand::drill
