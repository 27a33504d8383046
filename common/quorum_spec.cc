#include "common/quorum_spec.h"

#include <fmt/format.h>

#include <charconv>

namespace strand {

absl::StatusOr<std::map<NodeId, std::string>> ParseQuorumVoters(std::string_view spec) {
  std::map<NodeId, std::string> voters;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t end = spec.find(',', start);
    if (end == std::string_view::npos) end = spec.size();
    std::string_view item = spec.substr(start, end - start);
    const size_t at = item.find('@');
    const size_t colon = item.rfind(':');
    int id = -1;
    auto [ptr, ec] = std::from_chars(item.data(), item.data() + (at == item.npos ? 0 : at), id);
    if (at == item.npos || ec != std::errc() || ptr != item.data() + at || id < 0 ||
        colon == item.npos || colon < at + 2 || colon + 1 == item.size()) {
      return absl::InvalidArgumentError(
          fmt::format("bad voter '{}': expected id@host:port, e.g. 1@10.0.0.1:9093", item));
    }
    if (!voters.emplace(NodeId(id), std::string(item.substr(at + 1))).second) {
      return absl::InvalidArgumentError(fmt::format("voter id {} is listed twice", id));
    }
    start = end + 1;
  }
  if (voters.empty()) return absl::InvalidArgumentError("the voter list is empty");
  return voters;
}

}  // namespace strand
