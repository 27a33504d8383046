#pragma once

// The checkable payload of the crash test: every record written by storage-crash-child
// describes itself, so that the verifying parent can tell an intact record from a damaged or
// misplaced one without any state of its own. Record i of batch `id` has
//   key   = "b<id>-r<i>"
//   value = "<id>:<i>:<n>:" followed by n bytes generated from (id, i)
// and a batch of id `id` has CountFor(id) records.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/random.h"

namespace strand::storage::crash {

inline int CountFor(uint64_t id) { return 1 + static_cast<int>(Random(id).Uniform(12)); }

inline std::string KeyFor(uint64_t id, int index) {
  return "b" + std::to_string(id) + "-r" + std::to_string(index);
}

inline std::string ValueFor(uint64_t id, int index) {
  Random random(id * 7919 + static_cast<uint64_t>(index));
  size_t n = 16 + random.Uniform(1500);
  std::string value =
      std::to_string(id) + ":" + std::to_string(index) + ":" + std::to_string(n) + ":";
  for (size_t i = 0; i < n; ++i) value.push_back(static_cast<char>('!' + random.Uniform(90)));
  return value;
}

struct Identity {
  uint64_t id;
  int index;
};

// Parses the identity at the front of a value; nullopt when it is not one of ours.
inline std::optional<Identity> IdentityOf(std::string_view value) {
  size_t a = value.find(':');
  if (a == std::string_view::npos) return std::nullopt;
  size_t b = value.find(':', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  try {
    return Identity{std::stoull(std::string(value.substr(0, a))),
                    std::stoi(std::string(value.substr(a + 1, b - a - 1)))};
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace strand::storage::crash
