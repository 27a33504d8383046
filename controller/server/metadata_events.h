// Operator-facing lines for committed metadata changes: broker registration, fencing and
// controlled shutdown, topic creation and deletion, partition leader, ISR and replica changes,
// dynamic configs. The active controller logs them at info, standbys at debug
// (controller_server.cc).
#pragma once

#include <string>
#include <vector>

#include "controller/state/config_defs.h"
#include "controller/state/metadata_delta.h"
#include "controller/state/metadata_image.h"

namespace strand::controller {

// `delta` is what a batch changed (MetadataImage::ReplayBatch), `after` the image with it applied.
std::vector<std::string> DescribeMetadataDelta(const MetadataDelta& delta,
                                               const MetadataImage& after);

// Warnings about static cluster settings that differ between nodes (SettingDigest): for this
// controller (`self`, with digests `mine`) when a batch records another active controller, and
// (`include_brokers`) for each broker registering in the batch — every broker, when the active
// controller changed — against the active controller's. Each line names the settings.
std::vector<std::string> DescribeStaticSettingMismatches(const MetadataDelta& delta,
                                                         const MetadataImage& after, NodeId self,
                                                         const SettingDigests& mine,
                                                         bool include_brokers);

}  // namespace strand::controller
