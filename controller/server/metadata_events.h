// Operator-facing lines for committed metadata records: broker registration, fencing and
// controlled shutdown, topic creation and deletion, partition leader, ISR and replica changes.
// The active controller logs them at info, standbys at debug (controller_server.cc).
#pragma once

#include <string>
#include <vector>

#include "controller/state/metadata_image.h"
#include "proto/controller/v1/metadata.pb.h"

namespace strand::controller {

// `after` is the image with the batch applied (names of deleted topics are no longer in it).
std::vector<std::string> DescribeMetadataBatch(const v1::MetadataBatch& batch,
                                               const MetadataImage& after);

}  // namespace strand::controller
