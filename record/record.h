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
// One parser (record_internal::ParseOne) checks a record's structure and reports where its parts
// lie without copying; the validator walks batches with it, the reader builds views from it.
// Pure functions.

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

namespace strand::record {

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

// Where the parts of one record lie.
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

// Checks and locates the parts of the record at the start of `in` (bytes may follow it). Fails
// with Errc::kCorruptBatch when the bytes are not one well-formed record: bad varints, negative
// or overlong lengths, null header keys, a length prefix that disagrees with the fields.
absl::Status ParseRecord(std::span<const uint8_t> in, RecordFields* out);

// Walks exactly `count` records filling an uncompressed records section, calling
// visit(const RecordFields&) -> absl::Status on each; fails with Errc::kCorruptBatch when a
// record is malformed, fewer than `count` fit, or bytes follow the last one. The hot loop of
// validation (every record of every produced batch) and of decoding, so a template the visitor
// inlines into.
template <typename Visitor>
absl::Status WalkRecords(std::span<const uint8_t> records, int32_t count, Visitor&& visit);

// Decodes the headers located by ParseRecord / WalkRecords (which have already checked them).
absl::InlinedVector<RecordHeaderView, 2> ParseHeaders(const RecordFields& fields);

// Appends one encoded record (length prefix included) to `out`.
void EncodeRecord(int32_t offset_delta, int64_t timestamp_delta,
                  std::optional<std::string_view> key, std::optional<std::string_view> value,
                  std::span<const RecordHeaderView> headers, std::string* out);

// The encoded size of such a record, length prefix included.
size_t EncodedRecordSize(int32_t offset_delta, int64_t timestamp_delta,
                         std::optional<std::string_view> key, std::optional<std::string_view> value,
                         std::span<const RecordHeaderView> headers);

// ---- Implementation of the inline parser ----

// Reports a malformed record (out of line: the cold path).
absl::Status MalformedRecord(int32_t index, std::string_view what);

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

inline bool Varint(const uint8_t*& p, const uint8_t* end, int32_t* v) {
  uint64_t raw = 0;
  size_t n = FastUnsigned(p, end, &raw, false);
  *v = varint::UnZigZag32(static_cast<uint32_t>(raw));
  p += n;
  return n != 0;
}

// A length-prefixed byte string (-1 = null when allowed).
inline bool Bytes(const uint8_t*& p, const uint8_t* end, bool nullable,
                  std::optional<std::string_view>* out) {
  int32_t size = 0;
  if (!Varint(p, end, &size)) return false;
  if (size == -1 && nullable) {
    *out = std::nullopt;
    return true;
  }
  if (size < 0 || size > end - p) return false;
  *out = std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(size));
  p += size;
  return true;
}

// Parses the record at p (more bytes up to `end` may follow it) and advances p past it.
// Returns null on success, else what is wrong.
inline const char* ParseOne(const uint8_t*& p, const uint8_t* end, RecordFields* r) {
  const uint8_t* start = p;
  int32_t length = 0;
  if (!Varint(p, end, &length)) return "bad length varint";
  if (length < 6 || length > end - p) return "length does not fit the bytes left";
  const uint8_t* const record_end = p + length;
  r->attributes = static_cast<int8_t>(*p++);
  uint64_t raw = 0;
  size_t n = FastUnsigned(p, record_end, &raw, true);
  if (n == 0) return "bad timestamp delta";
  r->timestamp_delta = varint::UnZigZag64(raw);
  p += n;
  if (!Varint(p, record_end, &r->offset_delta)) return "bad offset delta";
  if (!Bytes(p, record_end, true, &r->key)) return "bad key";
  if (!Bytes(p, record_end, true, &r->value)) return "bad value";
  if (!Varint(p, record_end, &r->header_count) || r->header_count < 0) return "bad header count";
  const uint8_t* headers = p;
  for (int32_t h = 0; h < r->header_count; ++h) {
    std::optional<std::string_view> key, value;
    if (!Bytes(p, record_end, false, &key)) return "bad header key";
    if (!Bytes(p, record_end, true, &value)) return "bad header value";
  }
  if (p != record_end) return "length disagrees with the fields";
  r->header_bytes = std::span<const uint8_t>(headers, static_cast<size_t>(record_end - headers));
  r->size_bytes = static_cast<size_t>(record_end - start);
  return nullptr;
}

}  // namespace record_internal

template <typename Visitor>
absl::Status WalkRecords(std::span<const uint8_t> records, int32_t count, Visitor&& visit) {
  const uint8_t* p = records.data();
  const uint8_t* const end = p + records.size();
  RecordFields r;
  for (int32_t i = 0; i < count; ++i) {
    if (p >= end) return MalformedRecord(i, "missing: the batch counts more records");
    if (const char* error = record_internal::ParseOne(p, end, &r)) {
      return MalformedRecord(i, error);
    }
    absl::Status visited = visit(r);
    if (!visited.ok()) return visited;
  }
  if (p != end) return MalformedRecord(count, "bytes after the last record");
  return absl::OkStatus();
}

}  // namespace strand::record
