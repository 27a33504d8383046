// Raft: log compaction and chunked InstallSnapshot, on both sides. See raft.h.
//
// The leader streams its latest snapshot to a peer that needs compacted entries, one chunk in
// flight at a time; each chunk is acknowledged with the byte count the follower holds, so a lost
// chunk or a restarted follower resumes from what was really received. A chunk not acknowledged
// within snapshot_resend_ticks is sent again.
#include <algorithm>

#include "common/check.h"
#include "raft/core/raft.h"

namespace strand::raft {

LogIndex Raft::Compact(LogIndex index, std::shared_ptr<const std::string> data) {
  STRAND_CHECK_MSG(index <= log_.applied(), "snapshot at {} beyond applied {}", index,
                   log_.applied());
  STRAND_CHECK(data != nullptr);
  if (index <= snapshot_.meta.index) return log_.compacted_index();
  const std::optional<Term> term = log_.TermAt(index);
  STRAND_CHECK_MSG(term.has_value(), "snapshot index {} not in the log", index);
  snapshot_ = Snapshot{SnapshotMeta{index, *term, config_.voters}, std::move(data)};
  // Keep a tail of entries so that a follower a little behind catches up by appends.
  const uint64_t trailing = config_.snapshot_trailing_entries;
  if (index.value() > trailing) log_.CompactTo(index - trailing);
  return log_.compacted_index();
}

void Raft::SendSnapshotChunk(NodeId to) {
  Progress& pr = ProgressOf(to);
  STRAND_CHECK_MSG(!snapshot_.Empty(), "peer {} needs compacted entries but there is no snapshot",
                   to);
  if (pr.state != ProgressState::kSnapshot || pr.snapshot_index != snapshot_.meta.index) {
    pr.BecomeSnapshot(snapshot_.meta.index);  // (re)start with the newest snapshot
  }
  if (pr.snapshot_chunk_in_flight) return;
  const std::string& data = *snapshot_.data;
  const uint64_t offset = std::min<uint64_t>(pr.snapshot_acked_bytes, data.size());
  const size_t length = std::min<size_t>(config_.snapshot_chunk_bytes, data.size() - offset);
  pr.snapshot_chunk_in_flight = true;
  pr.snapshot_ticks_waiting = 0;
  Send(Message{.type = MessageType::kSnapshotChunk,
               .to = to,
               .snapshot = snapshot_.meta,
               .snapshot_offset = offset,
               .snapshot_size = data.size(),
               .snapshot_chunk = data.substr(offset, length),
               .snapshot_done = offset + length == data.size()});
}

void Raft::HandleSnapshotResponse(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  pr.ticks_since_heard = 0;
  if (pr.is_observer) known_observers_[m.from] = 0;
  if (pr.state != ProgressState::kSnapshot) return;
  if (m.reject) {
    // The peer refused the snapshot (too large for it); probing will try again later.
    pr.BecomeProbe();
    return;
  }
  if (m.snapshot_done) {
    // The peer installed the snapshot, or already had everything up to m.index committed.
    pr.MaybeUpdate(m.index);
    pr.BecomeProbe();
    SendAppend(m.from, /*send_if_empty=*/true);
    return;
  }
  if (m.snapshot.index != pr.snapshot_index) return;  // about an older snapshot
  pr.snapshot_acked_bytes = m.snapshot_offset;
  pr.snapshot_chunk_in_flight = false;
  SendSnapshotChunk(m.from);
}

void Raft::HandleSnapshotChunk(const Message& m) {
  auto respond = [&](uint64_t offset, bool done, LogIndex index, bool reject) {
    Send(Message{.type = MessageType::kSnapshotResponse,
                 .to = m.from,
                 .index = index,
                 .reject = reject,
                 .snapshot = m.snapshot,
                 .snapshot_offset = offset,
                 .snapshot_done = done});
  };
  const SnapshotMeta& meta = m.snapshot;
  if (meta.index <= log_.committed()) {
    // Nothing to install: we already hold (and agree on) everything the snapshot covers.
    receiver_ = {};
    respond(0, /*done=*/true, log_.committed(), false);
    return;
  }
  if (m.snapshot_size > config_.snapshot_bytes_max) {
    respond(0, false, meta.index, /*reject=*/true);
    return;
  }
  const bool same = receiver_.active && receiver_.meta == meta && receiver_.size == m.snapshot_size;
  if (!same) {
    if (m.snapshot_offset != 0) {
      respond(0, false, meta.index, false);  // restart the transfer from the beginning
      return;
    }
    receiver_ = SnapshotReceiver{meta, m.snapshot_size, {}, true};
  }
  if (m.snapshot_offset != receiver_.data.size()) {
    respond(receiver_.data.size(), false, meta.index, false);  // duplicate or out of order
    return;
  }
  if (m.snapshot_chunk.size() > receiver_.size - receiver_.data.size() ||
      (m.snapshot_done && receiver_.data.size() + m.snapshot_chunk.size() != receiver_.size)) {
    // A chunk that overruns the size its snapshot declared, or a "last" chunk that ends short of
    // it: malformed. Drop what was received and refuse; the leader starts over.
    receiver_ = {};
    ++malformed_snapshot_chunks_;
    respond(0, false, meta.index, /*reject=*/true);
    return;
  }
  receiver_.data.append(m.snapshot_chunk);
  if (receiver_.data.size() < receiver_.size) {
    respond(receiver_.data.size(), false, meta.index, false);
    return;
  }
  Snapshot snapshot{meta, std::make_shared<const std::string>(std::move(receiver_.data))};
  receiver_ = {};
  InstallSnapshot(std::move(snapshot));
  // Sent after the Ready carrying the snapshot is persisted, like every message.
  respond(m.snapshot_size, /*done=*/true, meta.index, false);
}

void Raft::InstallSnapshot(Snapshot snapshot) {
  if (log_.MatchTerm(snapshot.meta.index, snapshot.meta.term)) {
    // Our log already contains the snapshot's last entry, hence everything before it.
    log_.CommitTo(snapshot.meta.index);
    return;
  }
  log_.Restore(snapshot.meta);
  snapshot_ = snapshot;
  pending_snapshot_ = std::move(snapshot);
}

void Raft::SnapshotPersisted() { pending_snapshot_.reset(); }

}  // namespace strand::raft
