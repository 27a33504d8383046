#pragma once

// meta.properties: the stamp of a node's data directory (Kafka's name and format), so that a
// volume attached to the wrong node — another pod's PersistentVolume, another cluster's disk —
// refuses to start instead of serving someone else's data:
//
//   version=1
//   cluster.id=<cluster id>
//   node.id=<node id>
//
// The first start writes it (atomically: a temporary file renamed); every later start checks it.

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace strand {

inline constexpr char kMetaPropertiesFile[] = "meta.properties";

// Creates `dir` if needed, then writes its stamp or checks it: FAILED_PRECONDITION naming both
// values when the directory belongs to another cluster or node, INVALID_ARGUMENT for a stamp that
// cannot be read, INTERNAL for an I/O failure.
absl::Status StampDataDirectory(const std::string& dir, const std::string& cluster_id,
                                int64_t node_id);

}  // namespace strand
