#pragma once

// A status message as std::string_view: Debian's Abseil has its own string_view type, which fmt
// does not know, so it is bridged explicitly wherever a message is formatted.

#include <string_view>

#include "absl/status/status.h"

namespace strand::client {

inline std::string_view MessageOf(const absl::Status& status) {
  return std::string_view(status.message().data(), status.message().size());
}

}  // namespace strand::client
