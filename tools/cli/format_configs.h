#pragma once

// Output of `strand configs describe`: JSON (documented in docs/operations.md) and a table.
// Entries are sorted by name.

#include <nlohmann/json.hpp>
#include <string>

#include "proto/admin/v1/admin.pb.h"
#include "tools/cli/config_resource.h"

namespace strand::cli {

// {resource: {type: "topic"|"broker"|"cluster", name}, configs: [{name, value, source,
//  read_only}]}; source is the proto enum name, e.g. "DYNAMIC_TOPIC_CONFIG".
nlohmann::ordered_json ConfigsJson(const ConfigResource& resource,
                                   const admin::v1::DescribeConfigsResponse& configs);
std::string FormatConfigs(const ConfigResource& resource,
                          const admin::v1::DescribeConfigsResponse& configs);

}  // namespace strand::cli
