#include "raft/core/progress.h"

#include <algorithm>

#include "common/check.h"

namespace strand::raft {

void Inflights::Add(LogIndex last_index, size_t bytes) {
  STRAND_CHECK(items_.size() < messages_max_ || messages_max_ == 0);
  STRAND_CHECK(items_.empty() || items_.back().last_index < last_index);
  items_.push_back({last_index, bytes});
  bytes_ += bytes;
}

void Inflights::FreeUpTo(LogIndex index) {
  while (!items_.empty() && items_.front().last_index <= index) {
    bytes_ -= items_.front().bytes;
    items_.pop_front();
  }
}

void Inflights::Reset() {
  items_.clear();
  bytes_ = 0;
}

void Progress::BecomeProbe() {
  // After a snapshot, the peer has at least the snapshot's entries.
  if (state == ProgressState::kSnapshot) {
    next = std::max(match + 1, snapshot_index + 1);
  } else {
    next = match + 1;
  }
  state = ProgressState::kProbe;
  probe_sent = false;
  inflights.Reset();
  snapshot_index = LogIndex(0);
  snapshot_chunk_in_flight = false;
}

void Progress::BecomeReplicate() {
  state = ProgressState::kReplicate;
  stalled_heartbeats = 0;
  next = match + 1;
  probe_sent = false;
  inflights.Reset();
}

void Progress::BecomeSnapshot(LogIndex index) {
  state = ProgressState::kSnapshot;
  probe_sent = false;
  inflights.Reset();
  snapshot_index = index;
  snapshot_acked_bytes = 0;
  snapshot_chunk_in_flight = false;
  snapshot_ticks_waiting = 0;
}

bool Progress::MaybeUpdate(LogIndex index) {
  bool updated = false;
  if (index > match) {
    match = index;
    updated = true;
    probe_sent = false;
    stalled_heartbeats = 0;
  }
  next = std::max(next, index + 1);
  return updated;
}

bool Progress::MaybeDecreaseTo(LogIndex rejected, LogIndex hint) {
  if (state == ProgressState::kReplicate) {
    // A rejection at or below match is stale (the peer accepted something later since).
    if (rejected <= match) return false;
    next = match + 1;
    return true;
  }
  // In probe state only the answer to the last probe (at next - 1) counts.
  if (next.Prev() != rejected) return false;
  next = std::max(std::min(rejected, hint + 1), match + 1);
  probe_sent = false;
  return true;
}

bool Progress::IsPaused() const {
  switch (state) {
    case ProgressState::kProbe:
      return probe_sent;
    case ProgressState::kReplicate:
      return inflights.Full();
    case ProgressState::kSnapshot:
      return true;
  }
  return true;
}

}  // namespace strand::raft
