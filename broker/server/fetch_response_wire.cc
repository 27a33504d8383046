#include "broker/server/fetch_response_wire.h"

#include <memory>
#include <string>
#include <utility>

#include <google/protobuf/io/coded_stream.h>
#include <grpcpp/support/slice.h>

#include "common/check.h"

namespace strand::broker {
namespace {

using google::protobuf::io::CodedOutputStream;

// The tag of a length-delimited field (wire type 2).
uint32_t DelimitedTag(int field) { return (static_cast<uint32_t>(field) << 3) | 2; }

// A length-delimited field's bytes on the wire: tag, length, payload.
size_t DelimitedSize(int field, size_t length) {
  return CodedOutputStream::VarintSize32(DelimitedTag(field)) +
         CodedOutputStream::VarintSize64(length) + length;
}

// A partition's bytes as protobuf would write them with `records` in its records field.
size_t PartitionSize(const v1::FetchPartitionResponse& p, const ByteBuffer& records) {
  STRAND_CHECK_MSG(p.records().empty(), "partition {}'s records travel beside the message",
                   p.partition());
  return p.ByteSizeLong() +
         (records.empty()
              ? 0
              : DelimitedSize(v1::FetchPartitionResponse::kRecordsFieldNumber, records.size()));
}

// Gathers small bytes (tags, lengths, fields protobuf writes) into one slice until a records
// buffer goes between, which becomes a slice of its own without a copy.
class SliceWriter {
 public:
  void Header(int field, size_t length) {
    uint8_t buf[16];  // two varints: at most 5 + 10 bytes
    uint8_t* end = CodedOutputStream::WriteVarint32ToArray(DelimitedTag(field), buf);
    end = CodedOutputStream::WriteVarint64ToArray(length, end);
    pending_.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(end - buf));
  }
  void Message(const google::protobuf::MessageLite& m) { m.AppendToString(&pending_); }
  void Records(ByteBuffer records) {
    Flush();
    auto owned = std::make_unique<ByteBuffer>(std::move(records));
    slices_.emplace_back(
        owned->data(), owned->size(), [](void* p) { delete static_cast<ByteBuffer*>(p); },
        owned.get());
    owned.release();  // the slice's destroy callback frees it
  }
  void Finish(grpc::ByteBuffer* out) {
    Flush();
    if (slices_.empty()) slices_.emplace_back();  // an empty message: one empty slice
    grpc::ByteBuffer done(slices_.data(), slices_.size());
    out->Swap(&done);
  }

 private:
  void Flush() {
    if (pending_.empty()) return;
    slices_.emplace_back(pending_);
    pending_.clear();
  }

  std::string pending_;
  std::vector<grpc::Slice> slices_;
};

}  // namespace

void SerializeFetchResponse(const v1::FetchResponse& response, std::vector<ByteBuffer>& records,
                            grpc::ByteBuffer* out) {
  size_t partitions = 0;
  for (const v1::FetchTopicResponse& t : response.topics()) {
    partitions += static_cast<size_t>(t.partitions_size());
  }
  STRAND_CHECK_MSG(records.size() == partitions, "{} records buffers for {} partitions",
                   records.size(), partitions);
  SliceWriter w;
  if (response.has_error()) {
    v1::FetchResponse head;
    *head.mutable_error() = response.error();
    w.Message(head);
  }
  size_t i = 0;
  for (const v1::FetchTopicResponse& t : response.topics()) {
    v1::FetchTopicResponse head;
    head.set_topic(t.topic());
    size_t topic_size = head.ByteSizeLong();
    for (int k = 0; k < t.partitions_size(); ++k) {
      topic_size += DelimitedSize(v1::FetchTopicResponse::kPartitionsFieldNumber,
                                  PartitionSize(t.partitions(k), records[i + k]));
    }
    w.Header(v1::FetchResponse::kTopicsFieldNumber, topic_size);
    w.Message(head);
    for (const v1::FetchPartitionResponse& p : t.partitions()) {
      ByteBuffer& r = records[i++];
      w.Header(v1::FetchTopicResponse::kPartitionsFieldNumber, PartitionSize(p, r));
      w.Message(p);
      if (r.empty()) continue;
      w.Header(v1::FetchPartitionResponse::kRecordsFieldNumber, r.size());
      w.Records(std::move(r));
    }
  }
  w.Finish(out);
}

}  // namespace strand::broker
