#include "tools/cli/format_configs.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "tools/cli/table.h"

namespace strand::cli {
namespace {

std::vector<admin::v1::ConfigEntry> Sorted(const admin::v1::DescribeConfigsResponse& configs) {
  std::vector<admin::v1::ConfigEntry> entries(configs.configs().begin(), configs.configs().end());
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.name() < b.name(); });
  return entries;
}

}  // namespace

nlohmann::ordered_json ConfigsJson(const ConfigResource& resource,
                                   const admin::v1::DescribeConfigsResponse& configs) {
  nlohmann::ordered_json out;
  out["resource"] = {{"type", ResourceKind(resource)}, {"name", resource.name}};
  out["configs"] = nlohmann::ordered_json::array();
  for (const admin::v1::ConfigEntry& e : Sorted(configs)) {
    out["configs"].push_back({{"name", e.name()},
                              {"value", e.value()},
                              {"source", admin::v1::ConfigSource_Name(e.source())},
                              {"read_only", e.read_only()}});
  }
  return out;
}

std::string FormatConfigs(const ConfigResource& resource,
                          const admin::v1::DescribeConfigsResponse& configs) {
  if (configs.configs().empty()) {
    return fmt::format("No configs to show for {}.\n", ResourceLabel(resource));
  }
  Table table({"NAME", "VALUE", "SOURCE", "READ-ONLY"});
  for (const admin::v1::ConfigEntry& e : Sorted(configs)) {
    table.AddRow({e.name(), e.value(), admin::v1::ConfigSource_Name(e.source()),
                  e.read_only() ? "yes" : "no"});
  }
  return table.Render();
}

}  // namespace strand::cli
