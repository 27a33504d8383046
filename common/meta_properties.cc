// meta.properties: see the header.
#include "common/meta_properties.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

#include "common/properties.h"

namespace strand {

absl::Status StampDataDirectory(const std::string& dir, const std::string& cluster_id,
                                int64_t node_id) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(fmt::format("cannot create {}: {}", dir, ec.message()));
  const std::string path = dir + "/" + kMetaPropertiesFile;
  if (std::filesystem::exists(path, ec)) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in.good() && !in.eof()) {
      return absl::InternalError(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    }
    auto stamp = ParsePropertiesText(text.str());
    if (!stamp.ok()) {
      return absl::InvalidArgumentError(fmt::format("{} is not a properties file: {}", path,
                                                    std::string(stamp.status().message())));
    }
    auto field = [&](const char* name) {
      auto it = stamp->find(name);
      return it == stamp->end() ? std::string() : it->second;
    };
    if (field("version") != "1" || field("cluster.id").empty() || field("node.id").empty()) {
      return absl::InvalidArgumentError(fmt::format(
          "{} lacks version=1, cluster.id or node.id; fix or remove it (only if this directory "
          "really belongs to node {} of cluster '{}')",
          path, node_id, cluster_id));
    }
    if (field("cluster.id") != cluster_id || field("node.id") != std::to_string(node_id)) {
      return absl::FailedPreconditionError(fmt::format(
          "{} belongs to node {} of cluster '{}', but this is node {} of cluster '{}': refusing "
          "to start on another node's data (a volume attached to the wrong pod, or the wrong "
          "log.dirs)",
          dir, field("node.id"), field("cluster.id"), node_id, cluster_id));
    }
    return absl::OkStatus();
  }
  // First start (or a directory from before stamps): stamp it.
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << "#\n# Written by strand-server on first start: this directory belongs to this node.\n"
        << "version=1\n"
        << "cluster.id=" << cluster_id << "\n"
        << "node.id=" << node_id << "\n";
    out.flush();
    if (!out) {
      return absl::InternalError(
          fmt::format("cannot write {}: {}", temporary, std::strerror(errno)));
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    return absl::InternalError(
        fmt::format("cannot rename {} to {}: {}", temporary, path, std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace strand
