#include "raft/transport/message_codec.h"

#include <fmt/format.h>

namespace strand::raft {
namespace {

void EncodeEntry(const Entry& e, v1::Entry* out) {
  out->set_term(e.term.value());
  out->set_index(e.index.value());
  out->set_type(e.type == EntryType::kNoop ? v1::ENTRY_TYPE_NOOP : v1::ENTRY_TYPE_NORMAL);
  out->set_data(e.data);
}

}  // namespace

void EncodeMessage(const Message& m, v1::Message* out) {
  out->set_type(static_cast<v1::MessageType>(m.type));
  out->set_from(m.from.value());
  out->set_to(m.to.value());
  out->set_term(m.term.value());
  out->set_index(m.index.value());
  out->set_log_term(m.log_term.value());
  out->set_commit(m.commit.value());
  for (const Entry& e : m.entries) EncodeEntry(e, out->add_entries());
  out->set_reject(m.reject);
  out->set_reject_hint(m.reject_hint.value());
  out->set_reject_hint_term(m.reject_hint_term.value());
  if (m.type == MessageType::kSnapshotChunk || m.type == MessageType::kSnapshotResponse) {
    v1::SnapshotMeta* meta = out->mutable_snapshot();
    meta->set_index(m.snapshot.index.value());
    meta->set_term(m.snapshot.term.value());
    for (NodeId v : m.snapshot.voters) meta->add_voters(v.value());
  }
  out->set_snapshot_offset(m.snapshot_offset);
  out->set_snapshot_size(m.snapshot_size);
  out->set_snapshot_chunk(m.snapshot_chunk);
  out->set_snapshot_done(m.snapshot_done);
  out->set_context(m.context);
  out->set_transfer(m.transfer);
  out->set_transfer_target(m.transfer_target.value());
}

absl::StatusOr<Message> DecodeMessage(const v1::Message& m) {
  if (m.type() < v1::PRE_VOTE || m.type() > v1::OBSERVER_JOIN) {
    return absl::InvalidArgumentError(
        fmt::format("unknown raft message type {}", static_cast<int>(m.type())));
  }
  if (m.from() < 0 || m.to() < 0) {
    return absl::InvalidArgumentError(fmt::format("bad node ids {} -> {}", m.from(), m.to()));
  }
  Message out;
  out.type = static_cast<MessageType>(m.type());
  out.from = NodeId(m.from());
  out.to = NodeId(m.to());
  out.term = Term(m.term());
  out.index = LogIndex(m.index());
  out.log_term = Term(m.log_term());
  out.commit = LogIndex(m.commit());
  out.entries.reserve(m.entries_size());
  LogIndex expected(m.index() + 1);
  for (const v1::Entry& e : m.entries()) {
    if (LogIndex(e.index()) != expected) {
      return absl::InvalidArgumentError(fmt::format("entries not contiguous at {}", e.index()));
    }
    ++expected;
    out.entries.push_back(
        Entry{Term(e.term()), LogIndex(e.index()),
              e.type() == v1::ENTRY_TYPE_NOOP ? EntryType::kNoop : EntryType::kNormal, e.data()});
  }
  out.reject = m.reject();
  out.reject_hint = LogIndex(m.reject_hint());
  out.reject_hint_term = Term(m.reject_hint_term());
  out.snapshot.index = LogIndex(m.snapshot().index());
  out.snapshot.term = Term(m.snapshot().term());
  for (int32_t v : m.snapshot().voters()) out.snapshot.voters.push_back(NodeId(v));
  out.snapshot_offset = m.snapshot_offset();
  out.snapshot_size = m.snapshot_size();
  out.snapshot_chunk = m.snapshot_chunk();
  out.snapshot_done = m.snapshot_done();
  out.context = m.context();
  out.transfer = m.transfer();
  out.transfer_target = NodeId(m.transfer_target());
  return out;
}

}  // namespace strand::raft
