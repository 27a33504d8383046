#pragma once

// A FetchResponse on the wire without copying its records: the response's own fields go through
// protobuf, and each partition's records field is written as a header (tag and length) followed by
// a gRPC slice that points at the bytes the log read put in a ByteBuffer (page cache → buffer is
// then the only copy before the socket). The bytes are those protobuf would write for the same
// message with the records in it: fields in field-number order, records (field 9) last in its
// partition. Only FetchResponse's `error` and FetchTopicResponse's `topic` are copied beside the
// repeated fields: a field added to either must be added here (fetch_response_wire_test checks
// the field counts).

#include <vector>

#include <grpcpp/support/byte_buffer.h>

#include "common/byte_buffer.h"
#include "proto/broker/v1/broker.pb.h"

namespace strand::broker {

// `response`'s partitions carry no records themselves; records[i] is the records field of its
// i-th partition, counting every topic's partitions in order (an empty buffer: none). `records`
// needs exactly one entry per partition. Their buffers move into `out`, which frees each when
// gRPC lets go of it.
void SerializeFetchResponse(const v1::FetchResponse& response, std::vector<ByteBuffer>& records,
                            grpc::ByteBuffer* out);

}  // namespace strand::broker
