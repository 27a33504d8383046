#pragma once

// One record of a RecordBatch v2, as Kafka's DefaultRecord lays it out:
//
//   length          varint   bytes after this field
//   attributes      int8     unused, 0
//   timestampDelta  varlong  from the batch's baseTimestamp
//   offsetDelta     varint   from the batch's baseOffset
//   keyLength       varint   -1 for a null key
//   key             bytes
//   valueLength     varint   -1 for a null value (a tombstone)
//   value           bytes
//   headerCount     varint
//   headers         headerKeyLength varint (>= 0), headerKey bytes,
//                   headerValueLength varint (-1 for null), headerValue bytes
//
// ParseRecord checks one record's structure and reports where its parts lie without copying;
// the validator uses it to walk a batch cheaply, the reader to build views. Pure functions.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "common/varint.h"

namespace strand::storage {

// A header of a record, as views into the bytes it was decoded from.
struct RecordHeaderView {
  std::string_view key;
  std::optional<std::string_view> value;
  bool operator==(const RecordHeaderView&) const = default;
};

// An owned header, for building records.
struct RecordHeader {
  std::string key;
  std::optional<std::string> value;
  bool operator==(const RecordHeader&) const = default;
};

// What ParseRecord learns about the record at the start of its input.
struct RecordFields {
  size_t size_bytes = 0;  // including the length prefix
  int8_t attributes = 0;
  int64_t timestamp_delta = 0;
  int32_t offset_delta = 0;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  int32_t header_count = 0;
  std::span<const uint8_t> header_bytes;  // the encoded headers, for ParseHeaders
};

// Checks and locates the parts of the record at the start of `in`. Fails with
// Errc::kCorruptBatch when the bytes are not one well-formed record (bad varints, negative or
// overlong lengths, a length prefix that disagrees with the contents, null header keys).
absl::Status ParseRecord(std::span<const uint8_t> in, RecordFields* out);

// Decodes the headers located by ParseRecord (which has already checked them).
absl::InlinedVector<RecordHeaderView, 2> ParseHeaders(const RecordFields& fields);

// What the validator needs from each record, found without building views.
struct RecordSkeleton {
  int64_t timestamp_delta;
  int32_t offset_delta;
  bool has_key;
};

namespace record_internal {

// Varint decoding with the one- and two-byte cases inline (nearly every length and delta in a
// record), falling back to the general decoder otherwise. Returns bytes used, 0 when malformed.
inline size_t FastUnsigned(const uint8_t* p, const uint8_t* end, uint64_t* out, bool is_long) {
  if (p < end && p[0] < 0x80) {
    *out = p[0];
    return 1;
  }
  if (end - p >= 2 && p[1] < 0x80) {
    *out = (p[0] & 0x7fu) | (uint64_t{p[1]} << 7);
    return 2;
  }
  std::span<const uint8_t> rest(p, static_cast<size_t>(end - p));
  if (is_long) return varint::DecodeUnsigned64(rest, out);
  uint32_t v32 = 0;
  size_t n = varint::DecodeUnsigned32(rest, &v32);
  *out = v32;
  return n;
}

}  // namespace record_internal

// Walks exactly `count` records in `records` (an uncompressed records section), calling
// visit(const RecordSkeleton&) -> absl::Status for each, with the same structural checks as
// ParseRecord. This is the validator's hot loop (every record of every produced batch), so it
// is a template the visitor inlines into. Malformed records fail with Errc::kCorruptBatch.
template <typename Visitor>
absl::Status WalkRecordSkeletons(std::span<const uint8_t> records, int32_t count, Visitor&& visit);

// Appends one encoded record (length prefix included) to `out`.
void EncodeRecord(int32_t offset_delta, int64_t timestamp_delta,
                  std::optional<std::string_view> key, std::optional<std::string_view> value,
                  std::span<const RecordHeaderView> headers, std::string* out);

// The encoded size of such a record, length prefix included.
size_t EncodedRecordSize(int32_t offset_delta, int64_t timestamp_delta,
                         std::optional<std::string_view> key, std::optional<std::string_view> value,
                         std::span<const RecordHeaderView> headers);

// Reports a malformed record (out of line: the walk's cold path).
absl::Status MalformedRecord(int32_t index, std::string_view what);

template <typename Visitor>
absl::Status WalkRecordSkeletons(std::span<const uint8_t> records, int32_t count, Visitor&& visit) {
  using record_internal::FastUnsigned;
  const uint8_t* p = records.data();
  const uint8_t* const end = p + records.size();
  for (int32_t i = 0; i < count; ++i) {
    uint64_t raw = 0;
    size_t n = FastUnsigned(p, end, &raw, false);
    int32_t length = varint::UnZigZag32(static_cast<uint32_t>(raw));
    if (n == 0 || length < 6 || length > end - p - static_cast<ptrdiff_t>(n)) {
      return MalformedRecord(i, p >= end ? "missing" : "bad length");
    }
    p += n;
    const uint8_t* const record_end = p + length;
    ++p;  // attributes
    RecordSkeleton r;
    if ((n = FastUnsigned(p, record_end, &raw, true)) == 0) return MalformedRecord(i, "timestamp");
    r.timestamp_delta = varint::UnZigZag64(raw);
    p += n;
    if ((n = FastUnsigned(p, record_end, &raw, false)) == 0) return MalformedRecord(i, "offset");
    r.offset_delta = varint::UnZigZag32(static_cast<uint32_t>(raw));
    p += n;
    // Key, value, then the header count: each a length (-1 = null) and that many bytes.
    for (int field = 0; field < 2; ++field) {
      if ((n = FastUnsigned(p, record_end, &raw, false)) == 0) return MalformedRecord(i, "field");
      p += n;
      int32_t size = varint::UnZigZag32(static_cast<uint32_t>(raw));
      if (field == 0) r.has_key = size >= 0;
      if (size < -1 || size > record_end - p) return MalformedRecord(i, "key or value length");
      if (size > 0) p += size;
    }
    if ((n = FastUnsigned(p, record_end, &raw, false)) == 0) return MalformedRecord(i, "headers");
    p += n;
    int32_t headers = varint::UnZigZag32(static_cast<uint32_t>(raw));
    if (headers < 0) return MalformedRecord(i, "header count");
    for (int32_t h = 0; h < headers; ++h) {
      for (int part = 0; part < 2; ++part) {
        if ((n = FastUnsigned(p, record_end, &raw, false)) == 0) {
          return MalformedRecord(i, "header");
        }
        p += n;
        int32_t size = varint::UnZigZag32(static_cast<uint32_t>(raw));
        if (size < (part == 0 ? 0 : -1) || size > record_end - p) {
          return MalformedRecord(i, "header length");
        }
        if (size > 0) p += size;
      }
    }
    if (p != record_end) return MalformedRecord(i, "length disagrees with the fields");
    absl::Status visited = visit(r);
    if (!visited.ok()) return visited;
  }
  if (p != end) return MalformedRecord(count, "bytes after the last record");
  return absl::OkStatus();
}

}  // namespace strand::storage
