#include "client/common/bootstrap.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "absl/status/status.h"

namespace strand::client {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

absl::Status CheckAddress(std::string_view item) {
  const size_t colon = item.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(fmt::format("'{}' is not host:port", item));
  }
  const std::string_view host = item.substr(0, colon);
  const std::string_view port_text = item.substr(colon + 1);
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (host.empty() || (!bracketed && host.find(':') != std::string_view::npos)) {
    return absl::InvalidArgumentError(
        fmt::format("'{}' is not host:port (write IPv6 hosts as [addr]:port)", item));
  }
  int port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 || port > 65535) {
    return absl::InvalidArgumentError(
        fmt::format("'{}': port '{}' is not a number in 1..65535", item, port_text));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseBootstrap(std::string_view list) {
  if (Trim(list).empty()) return absl::InvalidArgumentError("the bootstrap list is empty");
  std::vector<std::string> addresses;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    const std::string_view item = Trim(list.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) {
      return absl::InvalidArgumentError(
          fmt::format("bootstrap list '{}' has an empty address", list));
    }
    if (absl::Status s = CheckAddress(item); !s.ok()) return s;
    if (std::find(addresses.begin(), addresses.end(), item) != addresses.end()) continue;
    if (addresses.size() == kBootstrapAddressesMax) {
      return absl::InvalidArgumentError(
          fmt::format("bootstrap list has more than {} addresses", kBootstrapAddressesMax));
    }
    addresses.emplace_back(item);
  }
  return addresses;
}

}  // namespace strand::client
