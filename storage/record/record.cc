#include "storage/record/record.h"

#include <fmt/format.h>

#include "common/check.h"
#include "common/varint.h"
#include "storage/errc.h"

namespace strand::storage {
namespace {

absl::Status Malformed(std::string_view what) {
  return StorageError(Errc::kCorruptBatch, fmt::format("malformed record: {}", what));
}

// A cursor over a record's bytes; every read checks bounds. Pointer-based with the one-byte
// varint case inlined: validation walks every record of every produced batch through this.
class Cursor {
 public:
  Cursor(const uint8_t* begin, const uint8_t* end) : begin_(begin), p_(begin), end_(end) {}

  bool Varint(int32_t* v) { return Advance(varint::DecodeVarint(p_, end_, v)); }
  bool Varlong(int64_t* v) { return Advance(varint::DecodeVarlong(p_, end_, v)); }
  bool Byte(int8_t* v) {
    if (p_ >= end_) return false;
    *v = static_cast<int8_t>(*p_++);
    return true;
  }
  // A length-prefixed byte string; null when the length is -1 and `nullable`.
  bool Bytes(bool nullable, std::optional<std::string_view>* out) {
    int32_t length = 0;
    if (!Varint(&length)) return false;
    if (length == -1 && nullable) {
      *out = std::nullopt;
      return true;
    }
    if (length < 0 || length > end_ - p_) return false;
    *out = std::string_view(reinterpret_cast<const char*>(p_), static_cast<size_t>(length));
    p_ += length;
    return true;
  }
  size_t pos() const { return static_cast<size_t>(p_ - begin_); }

 private:
  bool Advance(size_t n) {
    p_ += n;
    return n != 0;
  }
  const uint8_t* begin_;
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace

absl::Status ParseRecord(std::span<const uint8_t> in, RecordFields* out) {
  const uint8_t* end = in.data() + in.size();
  Cursor outer(in.data(), end);
  int32_t length = 0;
  if (!outer.Varint(&length)) return Malformed("bad length varint");
  if (length < 6 || static_cast<size_t>(length) > in.size() - outer.pos()) {
    return Malformed(
        fmt::format("length {} does not fit the {} bytes left", length, in.size() - outer.pos()));
  }
  const uint8_t* body = in.data() + outer.pos();
  Cursor c(body, body + length);
  if (!c.Byte(&out->attributes)) return Malformed("missing attributes");
  if (!c.Varlong(&out->timestamp_delta)) return Malformed("bad timestamp delta");
  if (!c.Varint(&out->offset_delta)) return Malformed("bad offset delta");
  if (!c.Bytes(true, &out->key)) return Malformed("bad key");
  if (!c.Bytes(true, &out->value)) return Malformed("bad value");
  if (!c.Varint(&out->header_count) || out->header_count < 0) {
    return Malformed("bad header count");
  }
  size_t headers_begin = c.pos();
  for (int32_t i = 0; i < out->header_count; ++i) {
    std::optional<std::string_view> key, value;
    if (!c.Bytes(false, &key)) return Malformed(fmt::format("bad key of header {}", i));
    if (!c.Bytes(true, &value)) return Malformed(fmt::format("bad value of header {}", i));
  }
  if (c.pos() != static_cast<size_t>(length)) {
    return Malformed(fmt::format("length says {} bytes but the fields take {}", length, c.pos()));
  }
  out->header_bytes = in.subspan(outer.pos() + headers_begin, length - headers_begin);
  out->size_bytes = outer.pos() + length;
  return absl::OkStatus();
}

absl::InlinedVector<RecordHeaderView, 2> ParseHeaders(const RecordFields& fields) {
  absl::InlinedVector<RecordHeaderView, 2> headers;
  headers.reserve(fields.header_count);
  Cursor c(fields.header_bytes.data(), fields.header_bytes.data() + fields.header_bytes.size());
  for (int32_t i = 0; i < fields.header_count; ++i) {
    std::optional<std::string_view> key, value;
    // ParseRecord has already walked these bytes, so neither read can fail.
    bool ok = c.Bytes(false, &key) && c.Bytes(true, &value);
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
  return StorageError(Errc::kCorruptBatch, fmt::format("malformed record {}: {}", index, what));
}

}  // namespace strand::storage
