#pragma once

// Kafka's variable-length integers (the protobuf encoding): a signed value is zig-zag mapped to
// unsigned ((v << 1) ^ (v >> 63)) and written 7 bits at a time, least significant group first,
// with the high bit of each byte set when more bytes follow. "varint" is the 32-bit form (at
// most 5 bytes), "varlong" the 64-bit form (at most 10 bytes). RecordBatch v2 records use them
// for lengths and deltas; Kafka's flexible protocol versions use the unsigned form.
//
// Decoding is strict about length and range: a varint whose fifth byte carries bits beyond 32,
// or a varlong beyond 64 bits, is malformed rather than silently truncated.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace strand::varint {

inline constexpr size_t kMaxVarintBytes = 5;
inline constexpr size_t kMaxVarlongBytes = 10;

constexpr uint32_t ZigZag32(int32_t v) {
  return (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31);
}
constexpr uint64_t ZigZag64(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
constexpr int32_t UnZigZag32(uint32_t v) { return static_cast<int32_t>((v >> 1) ^ (~(v & 1) + 1)); }
constexpr int64_t UnZigZag64(uint64_t v) { return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1)); }

// Bytes needed to encode an unsigned value.
constexpr size_t SizeOfUnsigned(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
constexpr size_t SizeOfVarint(int32_t v) { return SizeOfUnsigned(ZigZag32(v)); }
constexpr size_t SizeOfVarlong(int64_t v) { return SizeOfUnsigned(ZigZag64(v)); }

// Writes the encoding at dst, which must have room for it; returns the bytes written.
size_t EncodeUnsigned(uint64_t v, uint8_t* dst);
inline size_t EncodeVarint(int32_t v, uint8_t* dst) { return EncodeUnsigned(ZigZag32(v), dst); }
inline size_t EncodeVarlong(int64_t v, uint8_t* dst) { return EncodeUnsigned(ZigZag64(v), dst); }

void AppendVarint(std::string* out, int32_t v);
void AppendVarlong(std::string* out, int64_t v);

// Decoders return the number of bytes consumed, or 0 when the input is truncated or malformed
// (too long, or bits beyond the type's width).
size_t DecodeUnsigned32(std::span<const uint8_t> in, uint32_t* out);
size_t DecodeUnsigned64(std::span<const uint8_t> in, uint64_t* out);
size_t DecodeVarint(std::span<const uint8_t> in, int32_t* out);
size_t DecodeVarlong(std::span<const uint8_t> in, int64_t* out);

// The same decoders over [p, end), with the one-byte case (most lengths and deltas in a record)
// inlined; the hot loop of record validation runs on these.
inline size_t DecodeVarint(const uint8_t* p, const uint8_t* end, int32_t* out) {
  if (p < end && *p < 0x80) {
    *out = UnZigZag32(*p);
    return 1;
  }
  return DecodeVarint(std::span<const uint8_t>(p, static_cast<size_t>(end - p)), out);
}
inline size_t DecodeVarlong(const uint8_t* p, const uint8_t* end, int64_t* out) {
  if (p < end && *p < 0x80) {
    *out = UnZigZag64(*p);
    return 1;
  }
  return DecodeVarlong(std::span<const uint8_t>(p, static_cast<size_t>(end - p)), out);
}

}  // namespace strand::varint
