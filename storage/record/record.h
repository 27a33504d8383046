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

// Appends one encoded record (length prefix included) to `out`.
void EncodeRecord(int32_t offset_delta, int64_t timestamp_delta,
                  std::optional<std::string_view> key, std::optional<std::string_view> value,
                  std::span<const RecordHeaderView> headers, std::string* out);

// The encoded size of such a record, length prefix included.
size_t EncodedRecordSize(int32_t offset_delta, int64_t timestamp_delta,
                         std::optional<std::string_view> key, std::optional<std::string_view> value,
                         std::span<const RecordHeaderView> headers);

}  // namespace strand::storage
