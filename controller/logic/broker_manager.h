#pragma once

// BrokerManager: broker registration, heartbeats and sessions, fencing (on request, on session
// expiry, on a restart), controlled shutdown, unregistration. Changes BrokerSessions and
// generates records against the working image; the partition changes that follow a broker's
// leaving or returning come from PartitionManager. QuorumController appends the records.
// Single-threaded, like the controller.

#include <cstdint>
#include <string>
#include <vector>

#include "controller/logic/broker_sessions.h"
#include "controller/logic/controller_result.h"
#include "controller/logic/partition_manager.h"
#include "controller/state/metadata_image.h"
#include "proto/admin/v1/admin.pb.h"
#include "proto/controller/v1/controller.pb.h"

namespace strand::controller {

struct BrokerManagerConfig {
  std::string cluster_id;
  std::vector<NodeId> controller_ids;  // broker ids must differ
  int64_t session_timeout_ms = 3'000;
  int64_t stream_grace_ms = 300;  // reconnect grace after a heartbeat stream breaks
};

class BrokerManager {
 public:
  // Every reference outlives this object.
  BrokerManager(const MetadataImage& image, BrokerSessions& sessions,
                const PartitionManager& partitions, BrokerManagerConfig config)
      : image_(image), sessions_(sessions), partitions_(partitions), config_(std::move(config)) {}

  ControllerResult<v1::RegisterBrokerResponse> RegisterBroker(const v1::RegisterBrokerRequest& req,
                                                              int64_t now_ms);
  // `earlier_appends_committed`: every batch appended so far is committed (a shutting-down
  // broker may stop only once the records that moved its leaderships are).
  ControllerResult<v1::BrokerHeartbeatResponse> Heartbeat(const v1::BrokerHeartbeatRequest& req,
                                                          int64_t now_ms,
                                                          bool earlier_appends_committed);
  // The broker's heartbeat stream ended; it has the grace period to come back.
  void HeartbeatStreamClosed(NodeId broker, int64_t broker_epoch, int64_t now_ms);
  ControllerResult<admin::v1::UnregisterBrokerResponse> UnregisterBroker(
      const admin::v1::UnregisterBrokerRequest& req);

  // Unfenced brokers whose session deadline has passed.
  std::vector<NodeId> ExpiredBrokers(int64_t now_ms) const;
  // Fences `broker`: its registration change and every partition change it causes.
  v1::MetadataBatch FenceRecords(NodeId broker) const;

 private:
  void AddFenceRecords(NodeId broker, v1::MetadataBatch* batch) const;
  ControllerError CheckRegistration(const v1::RegisterBrokerRequest& req) const;

  const MetadataImage& image_;
  BrokerSessions& sessions_;
  const PartitionManager& partitions_;
  const BrokerManagerConfig config_;
};

}  // namespace strand::controller
