#include "tools/cli/config_resource.h"

#include <fmt/format.h>

#include "absl/status/status.h"

namespace strand::cli {

absl::StatusOr<ConfigResource> ResolveConfigResource(const std::optional<std::string>& topic,
                                                     const std::optional<int32_t>& broker,
                                                     bool cluster) {
  const int given = int{topic.has_value()} + int{broker.has_value()} + int{cluster};
  if (given != 1) {
    return absl::InvalidArgumentError("give exactly one of --topic NAME, --broker ID, --cluster");
  }
  if (topic) {
    if (topic->empty()) return absl::InvalidArgumentError("--topic needs a name");
    return ConfigResource{admin::v1::TOPIC, *topic};
  }
  if (broker) {
    if (*broker < 0) return absl::InvalidArgumentError("--broker needs a broker id >= 0");
    return ConfigResource{admin::v1::BROKER, std::to_string(*broker)};
  }
  return ConfigResource{admin::v1::BROKER, ""};
}

std::string ResourceKind(const ConfigResource& resource) {
  if (resource.type == admin::v1::TOPIC) return "topic";
  return resource.name.empty() ? "cluster" : "broker";
}

std::string ResourceLabel(const ConfigResource& resource) {
  if (resource.type != admin::v1::TOPIC && resource.name.empty()) return "the cluster";
  return fmt::format("{} {}", ResourceKind(resource), resource.name);
}

}  // namespace strand::cli
