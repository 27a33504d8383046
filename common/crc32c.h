#pragma once

// CRC-32C (Castagnoli polynomial 0x1EDC6F41, reflected, initial value and final XOR 0xFFFFFFFF),
// the checksum of Kafka's RecordBatch v2 and of Strand's own checkpoint files. Computed by
// ISA-L's crc32_iscsi (SSE4.2/PCLMUL accelerated), which implements the same polynomial but
// leaves the initial value and final inversion to the caller; this wrapper applies them so that
// Crc32c("123456789") == 0xE3069283, the standard check value.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace strand {

// The CRC-32C of `size` bytes at `data`.
uint32_t Crc32c(const void* data, size_t size);

// The CRC-32C of the concatenation A+B, given crc = Crc32c(A) and B's bytes. Lets a checksum be
// computed over pieces that are not contiguous in memory.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size);

inline uint32_t Crc32c(std::span<const uint8_t> bytes) {
  return Crc32c(bytes.data(), bytes.size());
}
inline uint32_t Crc32c(std::string_view bytes) { return Crc32c(bytes.data(), bytes.size()); }

}  // namespace strand
