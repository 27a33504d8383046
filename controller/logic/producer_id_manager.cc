#include "controller/logic/producer_id_manager.h"

namespace strand::controller {

ControllerResult<v1::AllocateProducerIdsResponse> ProducerIdManager::AllocateProducerIds(
    const v1::AllocateProducerIdsRequest& req) const {
  if (ControllerError e =
          sessions_.CheckBrokerEpoch(req.broker_id(), req.broker_epoch(), req.incarnation_id());
      !e.ok()) {
    return Refuse<v1::AllocateProducerIdsResponse>(e);
  }
  ControllerResult<v1::AllocateProducerIdsResponse> out;
  const int64_t start = image_.next_producer_id();
  auto* r = out.records.add_records()->mutable_producer_ids();
  r->set_broker_id(req.broker_id());
  r->set_broker_epoch(req.broker_epoch());
  r->set_next_producer_id(start + block_size_);
  out.response.set_producer_id_start(start);
  out.response.set_producer_id_len(block_size_);
  return out;
}

}  // namespace strand::controller
