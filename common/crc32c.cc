#include "common/crc32c.h"

#include <isa-l/crc.h>

#include <algorithm>
#include <climits>

namespace strand {

uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size) {
  // crc32_iscsi takes an int length and a non-const pointer (it does not write through it), so
  // very large inputs are fed in pieces; the running value is the un-inverted register.
  uint32_t state = ~crc;
  auto* bytes = static_cast<unsigned char*>(const_cast<void*>(data));
  while (size > 0) {
    size_t chunk = std::min<size_t>(size, size_t{1} << 30);
    state = crc32_iscsi(bytes, static_cast<int>(chunk), state);
    bytes += chunk;
    size -= chunk;
  }
  return ~state;
}

uint32_t Crc32c(const void* data, size_t size) { return Crc32cExtend(0, data, size); }

}  // namespace strand
