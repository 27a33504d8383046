#pragma once

// Log divergence after leader changes (KIP-101 / KIP-279, resolved through fetch as in
// KIP-595): the two pure decisions that keep replicas identical below the high watermark.
//
//   Leader side: a follower fetching at `fetch_offset` whose last batch was of epoch E has
//   diverged if the leader's log ends epoch E before fetch_offset, or never had epoch E; the
//   leader answers with the largest epoch it has at or below E and where that epoch ends.
//
//   Follower side: told (epoch, end) by the leader, the follower truncates to
//   min(end, its own end of that epoch) when it has that epoch; when it does not, it truncates
//   to the end of its own largest epoch below it and fetches again, which repeats the check one
//   epoch earlier until the logs agree.

#include <optional>

#include "common/ids.h"
#include "storage/leader_epoch_cache.h"

namespace strand::broker {

struct Divergence {
  LeaderEpoch epoch;
  Offset end_offset;
  bool operator==(const Divergence&) const = default;
};

// `leader_end_for_epoch` is the leader's EndOffsetFor(last_fetched_epoch).
std::optional<Divergence> DetectDivergence(LeaderEpoch last_fetched_epoch, Offset fetch_offset,
                                           storage::EpochEndOffset leader_end_for_epoch);

// `local_end_for_epoch` is the follower's EndOffsetFor(divergence.epoch); `high_watermark` the
// follower's. Returns the offset to truncate to.
Offset TruncationOffset(const Divergence& divergence,
                        storage::EpochEndOffset local_end_for_epoch, Offset log_end,
                        Offset high_watermark);

}  // namespace strand::broker
