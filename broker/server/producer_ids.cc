#include "broker/server/producer_ids.h"

#include <fmt/format.h>

#include "common/kafka_error.h"

namespace strand::broker {

ProducerIdSource::ProducerIdSource(NodeId self, ControllerClient& controllers,
                                   std::function<int64_t()> broker_epoch, std::string incarnation,
                                   int64_t timeout_ms)
    : self_(self),
      controllers_(controllers),
      broker_epoch_(std::move(broker_epoch)),
      incarnation_(std::move(incarnation)),
      timeout_ms_(timeout_ms) {}

absl::StatusOr<ProducerId> ProducerIdSource::Next() {
  std::unique_lock lock(mu_);
  while (next_ >= end_) {
    if (fetching_) {
      cv_.wait(lock, [&] { return !fetching_; });
      continue;
    }
    fetching_ = true;
    lock.unlock();
    controller::v1::AllocateProducerIdsRequest req;
    req.set_broker_id(self_.value());
    req.set_broker_epoch(broker_epoch_());
    req.set_incarnation_id(incarnation_);
    auto resp = controllers_.AllocateProducerIds(req, timeout_ms_);
    lock.lock();
    fetching_ = false;
    cv_.notify_all();
    if (!resp.ok()) return resp.status();
    if (resp->error().code() != 0) {
      return MakeError(static_cast<KafkaError>(resp->error().code()),
                       fmt::format("allocating producer ids: {}", resp->error().message()));
    }
    if (resp->producer_id_len() <= 0) {
      return MakeError(KafkaError::kUnknownServerError, "the controller gave an empty id block");
    }
    next_ = resp->producer_id_start();
    end_ = next_ + resp->producer_id_len();
  }
  return ProducerId(next_++);
}

}  // namespace strand::broker
