#include "broker/replica/divergence.h"

#include <algorithm>

namespace strand::broker {

std::optional<Divergence> DetectDivergence(LeaderEpoch last_fetched_epoch, Offset fetch_offset,
                                           storage::EpochEndOffset leader_end_for_epoch) {
  if (last_fetched_epoch == kNoLeaderEpoch) return std::nullopt;  // nothing to compare yet
  const auto& [epoch, end] = leader_end_for_epoch;
  if (epoch == kNoLeaderEpoch || end == storage::kUndefinedOffset) {
    // The follower claims an epoch the leader cannot place: it must start over from the
    // leader's view, which the follower side maps to its high watermark.
    return Divergence{kNoLeaderEpoch, storage::kUndefinedOffset};
  }
  if (epoch < last_fetched_epoch || end < fetch_offset) return Divergence{epoch, end};
  return std::nullopt;
}

Offset TruncationOffset(const Divergence& divergence,
                        storage::EpochEndOffset local_end_for_epoch, Offset log_end,
                        Offset high_watermark) {
  if (divergence.epoch == kNoLeaderEpoch) return std::min(high_watermark, log_end);
  const auto& [local_epoch, local_end] = local_end_for_epoch;
  if (local_epoch == kNoLeaderEpoch || local_end == storage::kUndefinedOffset) {
    // No epoch at or below the leader's here: keep at most what the leader has.
    return std::min(divergence.end_offset, log_end);
  }
  return std::min({divergence.end_offset, local_end, log_end});
}

}  // namespace strand::broker
