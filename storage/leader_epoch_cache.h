#pragma once

// LeaderEpochCache: for each leader epoch the log has seen, the first offset written in it
// (Kafka's LeaderEpochFileCache, KIP-101/279). A follower that lost track after a leader change
// asks the leader "where does my last epoch end on your log?" (EndOffsetFor) and truncates its
// divergent suffix there, so replicas never disagree below the high watermark.
//
// Pure data structure: the Log owns one, changes it under its lock and persists it
// (Serialize/Parse) in Kafka's leader-epoch-checkpoint text format:
//   0            <- version
//   2            <- number of entries
//   3 100        <- epoch start_offset, one per line, ascending
//   5 250
// Invariant: epochs and start offsets strictly increase along the entries.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/ids.h"

namespace strand::storage {

struct EpochEntry {
  LeaderEpoch epoch;
  Offset start_offset;
  bool operator==(const EpochEntry&) const = default;
};

// Kafka's answer to OffsetForLeaderEpoch: the largest epoch <= the requested one that the log
// knows, and where it ends (the start of the next epoch, or the log end for the latest).
// {kNoLeaderEpoch, -1} when the requested epoch is unknown and newer than every known one.
struct EpochEndOffset {
  LeaderEpoch epoch;
  Offset end_offset;
  bool operator==(const EpochEndOffset&) const = default;
};
inline constexpr Offset kUndefinedOffset{-1};

class LeaderEpochCache {
 public:
  // Records that `epoch` starts at `start_offset`. Entries with an epoch >= `epoch` or a start
  // offset >= `start_offset` conflict and are removed first. Returns whether anything changed
  // (a repeat of the latest epoch at a later offset changes nothing).
  bool Assign(LeaderEpoch epoch, Offset start_offset);

  EpochEndOffset EndOffsetFor(LeaderEpoch requested, Offset log_end_offset) const;

  // After the log is truncated to `end_offset`: drops epochs starting at or after it.
  bool TruncateFromEnd(Offset end_offset);
  // After the log start moves to `start_offset`: drops epochs wholly before it; the epoch
  // covering it now starts there.
  bool TruncateFromStart(Offset start_offset);
  void Clear() { entries_.clear(); }

  std::optional<EpochEntry> Latest() const;
  // The epoch whose range holds `offset`, if known.
  std::optional<LeaderEpoch> EpochFor(Offset offset) const;
  const std::vector<EpochEntry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }

  std::string Serialize() const;
  // Fails with Errc::kCorruptLog on anything but a well-formed, strictly increasing file.
  static absl::StatusOr<LeaderEpochCache> Parse(std::string_view text);

 private:
  std::vector<EpochEntry> entries_;
};

}  // namespace strand::storage
