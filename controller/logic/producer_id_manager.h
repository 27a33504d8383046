#pragma once

// ProducerIdManager: hands out blocks of producer ids to brokers (Kafka's
// AllocateProducerIds), each block recorded in the metadata log so that no id is handed out
// twice, across controller failovers too. Single-threaded, like the controller.

#include <cstdint>

#include "controller/logic/broker_sessions.h"
#include "controller/logic/controller_result.h"
#include "controller/state/metadata_image.h"
#include "proto/controller/v1/controller.pb.h"

namespace strand::controller {

class ProducerIdManager {
 public:
  // Every reference outlives this object.
  ProducerIdManager(const MetadataImage& image, const BrokerSessions& sessions, int32_t block_size)
      : image_(image), sessions_(sessions), block_size_(block_size) {}

  ControllerResult<v1::AllocateProducerIdsResponse> AllocateProducerIds(
      const v1::AllocateProducerIdsRequest& req) const;

 private:
  const MetadataImage& image_;
  const BrokerSessions& sessions_;
  const int32_t block_size_;
};

}  // namespace strand::controller
