#pragma once

// ProducerIdSource: hands out producer ids for InitProducerId from blocks the active controller
// allocates (AllocateProducerIds), as Kafka's brokers do, so ids are unique cluster-wide without
// a controller round trip per producer. Thread-safe; one caller fetches a block while the others
// wait for it.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

#include "absl/status/statusor.h"
#include "common/ids.h"
#include "broker/lifecycle/controller_client.h"

namespace strand::broker {

class ProducerIdSource {
 public:
  ProducerIdSource(NodeId self, ControllerClient& controllers,
                   std::function<int64_t()> broker_epoch, std::string incarnation,
                   int64_t timeout_ms = 5'000);
  // A fresh producer id (blocks while a block is fetched).
  absl::StatusOr<ProducerId> Next();

 private:
  const NodeId self_;
  ControllerClient& controllers_;
  const std::function<int64_t()> broker_epoch_;
  const std::string incarnation_;
  const int64_t timeout_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t next_ = 0;
  int64_t end_ = 0;  // exclusive
  bool fetching_ = false;
};

}  // namespace strand::broker
