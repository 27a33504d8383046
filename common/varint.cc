#include "common/varint.h"

namespace strand::varint {

size_t EncodeUnsigned(uint64_t v, uint8_t* dst) {
  size_t n = 0;
  while (v >= 0x80) {
    dst[n++] = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  dst[n++] = static_cast<uint8_t>(v);
  return n;
}

void AppendVarint(std::string* out, int32_t v) {
  uint8_t buf[kMaxVarintBytes];
  size_t n = EncodeVarint(v, buf);
  out->append(reinterpret_cast<const char*>(buf), n);
}

void AppendVarlong(std::string* out, int64_t v) {
  uint8_t buf[kMaxVarlongBytes];
  size_t n = EncodeVarlong(v, buf);
  out->append(reinterpret_cast<const char*>(buf), n);
}

namespace {

// Shared decoder: at most max_bytes bytes, and the last byte may only carry `last_bits` bits.
size_t DecodeBounded(std::span<const uint8_t> in, size_t max_bytes, int last_bits, uint64_t* out) {
  uint64_t value = 0;
  for (size_t i = 0; i < max_bytes; ++i) {
    if (i >= in.size()) return 0;  // truncated
    uint8_t byte = in[i];
    if (i == max_bytes - 1 && (byte >> last_bits) != 0) return 0;  // too long or too wide
    value |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      *out = value;
      return i + 1;
    }
  }
  return 0;
}

}  // namespace

size_t DecodeUnsigned32(std::span<const uint8_t> in, uint32_t* out) {
  uint64_t v = 0;
  // Five bytes hold 35 bits; the fifth may carry only the top 4 of 32.
  size_t n = DecodeBounded(in, kMaxVarintBytes, 4, &v);
  if (n != 0) *out = static_cast<uint32_t>(v);
  return n;
}

size_t DecodeUnsigned64(std::span<const uint8_t> in, uint64_t* out) {
  // Ten bytes hold 70 bits; the tenth may carry only the top 1 of 64.
  return DecodeBounded(in, kMaxVarlongBytes, 1, out);
}

size_t DecodeVarint(std::span<const uint8_t> in, int32_t* out) {
  uint32_t v = 0;
  size_t n = DecodeUnsigned32(in, &v);
  if (n != 0) *out = UnZigZag32(v);
  return n;
}

size_t DecodeVarlong(std::span<const uint8_t> in, int64_t* out) {
  uint64_t v = 0;
  size_t n = DecodeUnsigned64(in, &v);
  if (n != 0) *out = UnZigZag64(v);
  return n;
}

}  // namespace strand::varint
