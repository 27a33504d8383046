#pragma once

// Integer arithmetic on values a request or a stored batch supplies, which must not overflow
// (signed overflow is undefined behaviour): the result is clamped to the type's range.

#include <cstdint>

namespace strand {

inline int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_add_overflow(a, b, &out)) return b > 0 ? INT64_MAX : INT64_MIN;
  return out;
}

}  // namespace strand
