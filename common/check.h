#pragma once

// Invariant checks that stay on in release builds (TigerBeetle style): a broken invariant in
// consensus or storage code is a bug, and continuing would risk losing acknowledged data, so
// the process logs what broke and aborts. Expected failures (bad input, dead peers, full disks)
// are never CHECKed: they return absl::Status.
//
//   STRAND_CHECK(index <= last_index);
//   STRAND_CHECK_MSG(term >= current, "term went back from {} to {}", current, term);

#include <fmt/format.h>

#include <string>

namespace strand {

// Called on a failed check before the process aborts. The simulator installs one that throws,
// so that a broken invariant inside the core is reported against the seed that caused it
// instead of killing the whole run. Production code never installs one.
using CheckFailureHandler = void (*)(const char* file, int line, const char* condition,
                                     const std::string& message);
void SetCheckFailureHandler(CheckFailureHandler handler);

}  // namespace strand

namespace strand::internal {

[[noreturn]] void CheckFailed(const char* file, int line, const char* condition,
                              const std::string& message);

}  // namespace strand::internal

#define STRAND_CHECK(condition)                                            \
  do {                                                                     \
    if (!(condition)) [[unlikely]] {                                       \
      ::strand::internal::CheckFailed(__FILE__, __LINE__, #condition, ""); \
    }                                                                      \
  } while (false)

#define STRAND_CHECK_MSG(condition, ...)                                                         \
  do {                                                                                           \
    if (!(condition)) [[unlikely]] {                                                             \
      ::strand::internal::CheckFailed(__FILE__, __LINE__, #condition, fmt::format(__VA_ARGS__)); \
    }                                                                                            \
  } while (false)

#define STRAND_UNREACHABLE(...) \
  ::strand::internal::CheckFailed(__FILE__, __LINE__, "unreachable", fmt::format(__VA_ARGS__))
