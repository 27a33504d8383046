#pragma once

// TopicId: a topic's 128-bit identity (Kafka's topic UUID), distinct from its name so that a
// topic deleted and re-created under the same name is a different topic. Printed as base64url
// without padding, as Kafka does ("nOOQ5qqFQmexjw1V3GzhTA").

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/random.h"

namespace strand::controller {

class TopicId {
 public:
  TopicId() = default;
  static TopicId Random(strand::Random& random);
  // From the 16 raw bytes of a record; nullopt when the size is wrong.
  static std::optional<TopicId> FromBytes(std::string_view bytes);
  // From the base64url form; nullopt when malformed.
  static std::optional<TopicId> FromString(std::string_view text);

  std::string Bytes() const;
  std::string ToString() const;
  bool IsZero() const;

  auto operator<=>(const TopicId&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const TopicId& id) {
    return H::combine(std::move(h), id.hi_, id.lo_);
  }

 private:
  uint64_t hi_ = 0;
  uint64_t lo_ = 0;
};

}  // namespace strand::controller
