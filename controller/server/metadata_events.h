// Operator-facing lines for committed metadata changes: broker registration, fencing and
// controlled shutdown, topic creation and deletion, partition leader, ISR and replica changes,
// dynamic configs. The active controller logs them at info, standbys at debug
// (controller_server.cc).
#pragma once

#include <string>
#include <vector>

#include "controller/state/metadata_delta.h"
#include "controller/state/metadata_image.h"

namespace strand::controller {

// `delta` is what a batch changed (MetadataImage::ReplayBatch), `after` the image with it applied.
std::vector<std::string> DescribeMetadataDelta(const MetadataDelta& delta,
                                               const MetadataImage& after);

}  // namespace strand::controller
