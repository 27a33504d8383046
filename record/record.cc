#include "record/record.h"

#include <fmt/format.h>

#include "common/check.h"
#include "common/varint.h"
#include "record/errc.h"

namespace strand::record {
absl::Status ParseRecord(std::span<const uint8_t> in, RecordFields* out) {
  const uint8_t* p = in.data();
  if (const char* error = record_internal::ParseOne(p, in.data() + in.size(), out)) {
    return RecordError(Errc::kCorruptBatch, fmt::format("malformed record: {}", error));
  }
  return absl::OkStatus();
}

absl::InlinedVector<RecordHeaderView, 2> ParseHeaders(const RecordFields& fields) {
  absl::InlinedVector<RecordHeaderView, 2> headers;
  headers.reserve(fields.header_count);
  const uint8_t* p = fields.header_bytes.data();
  const uint8_t* end = p + fields.header_bytes.size();
  for (int32_t i = 0; i < fields.header_count; ++i) {
    std::optional<std::string_view> key, value;
    // The parser has already walked these bytes, so neither read can fail.
    bool ok =
        record_internal::Bytes(p, end, false, &key) && record_internal::Bytes(p, end, true, &value);
    STRAND_CHECK(ok);
    headers.push_back({*key, value});
  }
  return headers;
}

namespace {

size_t BodySize(int32_t offset_delta, int64_t timestamp_delta, std::optional<std::string_view> key,
                std::optional<std::string_view> value, std::span<const RecordHeaderView> headers) {
  auto bytes_size = [](std::optional<std::string_view> b) {
    return b ? varint::SizeOfVarint(static_cast<int32_t>(b->size())) + b->size()
             : varint::SizeOfVarint(-1);
  };
  size_t n = 1 + varint::SizeOfVarlong(timestamp_delta) + varint::SizeOfVarint(offset_delta) +
             bytes_size(key) + bytes_size(value) +
             varint::SizeOfVarint(static_cast<int32_t>(headers.size()));
  for (const auto& h : headers) n += bytes_size(h.key) + bytes_size(h.value);
  return n;
}

void AppendBytes(std::optional<std::string_view> b, std::string* out) {
  if (!b) {
    varint::AppendVarint(out, -1);
    return;
  }
  varint::AppendVarint(out, static_cast<int32_t>(b->size()));
  out->append(b->data(), b->size());
}

}  // namespace

size_t EncodedRecordSize(int32_t offset_delta, int64_t timestamp_delta,
                         std::optional<std::string_view> key, std::optional<std::string_view> value,
                         std::span<const RecordHeaderView> headers) {
  size_t body = BodySize(offset_delta, timestamp_delta, key, value, headers);
  return varint::SizeOfVarint(static_cast<int32_t>(body)) + body;
}

void EncodeRecord(int32_t offset_delta, int64_t timestamp_delta,
                  std::optional<std::string_view> key, std::optional<std::string_view> value,
                  std::span<const RecordHeaderView> headers, std::string* out) {
  size_t body = BodySize(offset_delta, timestamp_delta, key, value, headers);
  out->reserve(out->size() + body + varint::kMaxVarintBytes);
  varint::AppendVarint(out, static_cast<int32_t>(body));
  out->push_back(0);  // attributes
  varint::AppendVarlong(out, timestamp_delta);
  varint::AppendVarint(out, offset_delta);
  AppendBytes(key, out);
  AppendBytes(value, out);
  varint::AppendVarint(out, static_cast<int32_t>(headers.size()));
  for (const auto& h : headers) {
    AppendBytes(h.key, out);
    AppendBytes(h.value, out);
  }
}

absl::Status MalformedRecord(int32_t index, std::string_view what) {
  return RecordError(Errc::kCorruptBatch, fmt::format("malformed record {}: {}", index, what));
}

}  // namespace strand::record
