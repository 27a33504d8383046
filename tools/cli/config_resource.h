#pragma once

// The resource a `strand configs` command addresses, from exactly one of --topic T,
// --broker ID, --cluster. The cluster-wide broker defaults are BROKER with an empty name, as in
// the admin API.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "proto/admin/v1/admin.pb.h"

namespace strand::cli {

struct ConfigResource {
  admin::v1::ResourceType type = admin::v1::RESOURCE_TYPE_UNSPECIFIED;
  std::string name;
};

// InvalidArgument unless exactly one of the three is given (a broker id must be >= 0).
absl::StatusOr<ConfigResource> ResolveConfigResource(const std::optional<std::string>& topic,
                                                     const std::optional<int32_t>& broker,
                                                     bool cluster);

// "topic", "broker" or "cluster".
std::string ResourceKind(const ConfigResource& resource);
// "topic orders", "broker 101", "the cluster".
std::string ResourceLabel(const ConfigResource& resource);

}  // namespace strand::cli
