#include "tools/drill/nft_rules.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace strand::drill {

std::string DropRules(const std::vector<std::string>& addresses, const std::string& match) {
  std::vector<std::string> v4, v6;
  for (const std::string& a : addresses) (a.find(':') == std::string::npos ? v4 : v6).push_back(a);
  std::string rules = fmt::format(
      "add table inet {0}\n"
      "add chain inet {0} output {{ type filter hook output priority 0; policy accept; }}\n"
      "add chain inet {0} input {{ type filter hook input priority 0; policy accept; }}\n",
      kDrillTable);
  for (const auto& [family, set] : {std::pair{"ip", &v4}, std::pair{"ip6", &v6}}) {
    if (set->empty()) continue;
    const std::string elements = fmt::format("{{ {} }}", fmt::join(*set, ", "));
    rules += fmt::format(
        "add rule inet {0} output {1} daddr {2} {3}counter drop\n"
        "add rule inet {0} input {1} saddr {2} {3}counter drop\n",
        kDrillTable, family, elements, match);
  }
  return rules;
}

absl::StatusOr<int64_t> DroppedPackets(const std::string& nft_json) {
  const auto json = nlohmann::json::parse(nft_json, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object() || !json.contains("nftables")) {
    return absl::InternalError("nft -j printed no JSON: " + nft_json);
  }
  int64_t packets = 0;
  for (const auto& item : json["nftables"]) {
    if (!item.contains("rule")) continue;
    for (const auto& expr : item["rule"].value("expr", nlohmann::json::array())) {
      if (expr.contains("counter")) packets += expr["counter"].value("packets", int64_t{0});
    }
  }
  return packets;
}

}  // namespace strand::drill
