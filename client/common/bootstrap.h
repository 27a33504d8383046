#pragma once

// Parsing of a client bootstrap list, "host:port,host:port" (Kafka's bootstrap.servers). Shared
// by every client (admin today; producer and consumer later).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace strand::client {

// More addresses than this is a typo, not a cluster: a client tries them in turn.
inline constexpr size_t kBootstrapAddressesMax = 64;

// Splits on ',' (spaces around items ignored) and checks each item is host:port (or
// [ipv6]:port) with a port in 1..65535. Duplicates are dropped, order is kept. Errors name the
// offending item.
absl::StatusOr<std::vector<std::string>> ParseBootstrap(std::string_view list);

}  // namespace strand::client
