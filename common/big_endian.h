#pragma once

// Big-endian (network order) loads and stores of fixed-width integers at unaligned addresses, as
// Kafka's protocol and record format use. memcpy keeps them free of alignment and aliasing
// trouble; compilers turn each into one load/store plus a byte swap.

#include <bit>
#include <cstdint>
#include <cstring>

namespace strand {

static_assert(std::endian::native == std::endian::little, "Strand assumes a little-endian host");

inline uint16_t LoadBigEndian16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap16(v);
}
inline uint32_t LoadBigEndian32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap32(v);
}
inline uint64_t LoadBigEndian64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap64(v);
}
inline void StoreBigEndian16(uint8_t* p, uint16_t v) {
  v = __builtin_bswap16(v);
  std::memcpy(p, &v, sizeof v);
}
inline void StoreBigEndian32(uint8_t* p, uint32_t v) {
  v = __builtin_bswap32(v);
  std::memcpy(p, &v, sizeof v);
}
inline void StoreBigEndian64(uint8_t* p, uint64_t v) {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, sizeof v);
}

}  // namespace strand
