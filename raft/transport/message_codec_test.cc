// Tests the proto conversion of Raft messages: every field survives a round trip, and malformed
// input (unknown type, non-contiguous entries) is rejected rather than handed to the core.
#include "raft/transport/message_codec.h"

#include <gtest/gtest.h>

namespace strand::raft {
namespace {

TEST(MessageCodec, RoundTrip_KeepsEveryField) {
  Message m{.type = MessageType::kSnapshotChunk,
            .from = NodeId(1),
            .to = NodeId(2),
            .term = Term(7),
            .index = LogIndex(10),
            .log_term = Term(6),
            .commit = LogIndex(9),
            .entries = {Entry{Term(7), LogIndex(11), EntryType::kNoop, ""},
                        Entry{Term(7), LogIndex(12), EntryType::kNormal, "payload"}},
            .reject = true,
            .reject_hint = LogIndex(5),
            .reject_hint_term = Term(3),
            .snapshot = SnapshotMeta{LogIndex(100), Term(4), {NodeId(1), NodeId(2), NodeId(3)}},
            .snapshot_offset = 4096,
            .snapshot_size = 10000,
            .snapshot_chunk = std::string("\0chunk", 6),
            .snapshot_done = true,
            .context = 99,
            .transfer = true,
            .transfer_target = NodeId(3)};
  v1::Message proto;
  EncodeMessage(m, &proto);
  std::string wire;
  ASSERT_TRUE(proto.SerializeToString(&wire));
  v1::Message parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  auto back = DecodeMessage(parsed);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->type, m.type);
  EXPECT_EQ(back->from, m.from);
  EXPECT_EQ(back->to, m.to);
  EXPECT_EQ(back->term, m.term);
  EXPECT_EQ(back->index, m.index);
  EXPECT_EQ(back->log_term, m.log_term);
  EXPECT_EQ(back->commit, m.commit);
  EXPECT_EQ(back->entries, m.entries);
  EXPECT_EQ(back->reject, m.reject);
  EXPECT_EQ(back->reject_hint, m.reject_hint);
  EXPECT_EQ(back->reject_hint_term, m.reject_hint_term);
  EXPECT_EQ(back->snapshot, m.snapshot);
  EXPECT_EQ(back->snapshot_offset, m.snapshot_offset);
  EXPECT_EQ(back->snapshot_size, m.snapshot_size);
  EXPECT_EQ(back->snapshot_chunk, m.snapshot_chunk);
  EXPECT_EQ(back->snapshot_done, m.snapshot_done);
  EXPECT_EQ(back->context, m.context);
  EXPECT_EQ(back->transfer, m.transfer);
  EXPECT_EQ(back->transfer_target, m.transfer_target);
}

TEST(MessageCodec, UnknownType_IsRejected) {
  v1::Message proto;
  proto.set_type(static_cast<v1::MessageType>(99));
  EXPECT_FALSE(DecodeMessage(proto).ok());
  proto.set_type(v1::MESSAGE_TYPE_UNSPECIFIED);
  EXPECT_FALSE(DecodeMessage(proto).ok());
}

TEST(MessageCodec, NonContiguousEntries_AreRejected) {
  v1::Message proto;
  proto.set_type(v1::APPEND);
  proto.set_index(5);
  proto.add_entries()->set_index(6);
  proto.add_entries()->set_index(8);
  auto m = DecodeMessage(proto);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("contiguous"), std::string::npos);
}

}  // namespace
}  // namespace strand::raft
