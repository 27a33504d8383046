#pragma once

// How the CLI prints JSON: indented by two spaces, one trailing newline, and invalid UTF-8 (which
// nlohmann would otherwise throw on) replaced rather than fatal.

#include <nlohmann/json.hpp>
#include <string>

namespace strand::cli {

inline std::string JsonText(const nlohmann::ordered_json& json) {
  return json.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace strand::cli
