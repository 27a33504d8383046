#include "broker/server/fetch_response_wire.h"

#include <string>
#include <vector>

#include <grpcpp/support/proto_buffer_reader.h>
#include <gtest/gtest.h>

namespace strand::broker {
namespace {

// The bytes of `b`, all slices in order.
std::string Flatten(const grpc::ByteBuffer& b) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(b.Dump(&slices).ok());
  std::string out;
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

std::string Bytes(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 7);
  return s;
}

// Splits `full` into the message without records and one buffer per partition, as the fetch
// path builds them.
void Split(const v1::FetchResponse& full, v1::FetchResponse* bare,
           std::vector<ByteBuffer>* records) {
  *bare = full;
  for (auto& t : *bare->mutable_topics()) {
    for (auto& p : *t.mutable_partitions()) {
      records->push_back(ByteBuffer::CopyOf(p.records()));
      p.clear_records();
    }
  }
}

// What SerializeFetchResponse writes is what protobuf writes for the message with its records.
void ExpectSameAsProtobuf(const v1::FetchResponse& full) {
  v1::FetchResponse bare;
  std::vector<ByteBuffer> records;
  Split(full, &bare, &records);
  grpc::ByteBuffer wire;
  SerializeFetchResponse(bare, records, &wire);
  const std::string bytes = Flatten(wire);
  EXPECT_EQ(bytes, full.SerializeAsString());
  // And it parses back to the same message through gRPC's own reader.
  grpc::ProtoBufferReader reader(&wire);
  v1::FetchResponse parsed;
  ASSERT_TRUE(parsed.ParseFromZeroCopyStream(&reader));
  EXPECT_EQ(parsed.SerializeAsString(), full.SerializeAsString());
}

// The serializer writes the fields it knows: FetchResponse's error, FetchTopicResponse's topic,
// and FetchPartitionResponse's fields through protobuf with records last. A field added to the
// messages must be added there too (or it would not reach the wire); this fails until it is.
TEST(FetchResponseWireTest, TheMessagesHaveTheFieldsTheSerializerKnows) {
  EXPECT_EQ(v1::FetchResponse::descriptor()->field_count(), 2);
  EXPECT_EQ(v1::FetchTopicResponse::descriptor()->field_count(), 2);
  const auto* partition = v1::FetchPartitionResponse::descriptor();
  for (int i = 0; i < partition->field_count(); ++i) {
    EXPECT_LE(partition->field(i)->number(), v1::FetchPartitionResponse::kRecordsFieldNumber)
        << partition->field(i)->name() << " would follow records";
  }
}

TEST(FetchResponseWireTest, EmptyAndErrorOnly) {
  ExpectSameAsProtobuf(v1::FetchResponse());
  v1::FetchResponse r;
  r.mutable_error()->set_code(58);
  r.mutable_error()->set_message("stale broker epoch");
  ExpectSameAsProtobuf(r);
}

TEST(FetchResponseWireTest, RecordsOfEveryLengthClassAcrossTopicsAndPartitions) {
  v1::FetchResponse r;
  // Records lengths on both sides of the 1-, 2- and 3-byte varint length boundaries, and one
  // whose length takes 4 bytes.
  const std::vector<size_t> sizes = {0, 1, 127, 128, 16'383, 16'384, (2u << 20) + 3};
  auto* t = r.add_topics();
  t->set_topic("orders");
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto* p = t->add_partitions();
    p->set_partition(static_cast<int32_t>(i));
    p->set_high_watermark(1'000'000 + static_cast<int64_t>(i));
    p->set_last_stable_offset(1'000'000);
    p->set_log_start_offset(-1);
    p->set_preferred_read_replica(-1);
    p->set_records(Bytes(sizes[i], static_cast<char>('a' + i)));
  }
  // A partition with an error, a hint and a divergence, and no records.
  auto* e = t->add_partitions();
  e->set_partition(9);
  e->mutable_error()->set_code(6);
  e->mutable_error()->set_message("not leader");
  e->mutable_current_leader()->set_leader_id(102);
  e->mutable_current_leader()->set_leader_epoch(7);
  e->mutable_diverging_epoch()->set_epoch(3);
  e->mutable_diverging_epoch()->set_end_offset(42);
  // A topic with no partitions, and one whose name and records need long lengths.
  r.add_topics()->set_topic("empty");
  auto* big = r.add_topics();
  big->set_topic(std::string(300, 't'));
  auto* bp = big->add_partitions();
  bp->set_partition(0);
  bp->set_records(Bytes(200'000, 'z'));
  ExpectSameAsProtobuf(r);
}

TEST(FetchResponseWireTest, RecordsGoOnTheWireWithoutACopyAndOutliveTheirVector) {
  v1::FetchResponse bare;
  auto* t = bare.add_topics();
  t->set_topic("t");
  t->add_partitions()->set_partition(0);
  t->add_partitions()->set_partition(1);
  std::vector<ByteBuffer> records;
  records.push_back(ByteBuffer::CopyOf(Bytes(4096, 'q')));
  records.emplace_back();  // partition 1: nothing
  const uint8_t* at = records[0].data();
  const std::string expected = Bytes(4096, 'q');
  grpc::ByteBuffer wire;
  SerializeFetchResponse(bare, records, &wire);
  records.clear();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(wire.Dump(&slices).ok());
  // Header slice, the records slice (the very buffer the read filled), partition 1's slice.
  ASSERT_EQ(slices.size(), 3u);
  EXPECT_EQ(slices[1].begin(), at);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(slices[1].begin()), slices[1].size()),
            expected);
}

}  // namespace
}  // namespace strand::broker
