#pragma once

// QuorumController: the decisions of the active controller (KRaft's QuorumController). Each
// request goes to the manager of its area (BrokerManager, TopicManager, PartitionManager,
// ConfigManager, ProducerIdManager), which validates it against the working image and returns
// the records to write and the response (a ControllerResult). This class appends the records to
// the MetadataLog, replays them into the working image at once (so the next request sees them),
// and answers through the request's completion once they are committed — or with
// NOT_CONTROLLER if this node is not active, or leadership is lost first: the one place that
// decides that. Replay (controller/state) is the only code that changes state.
//
// The working image is the committed image plus every batch this controller appended and has
// not yet seen committed. It is created from the committed image when the controller becomes
// active and dropped when it stops being active.
//
// Pure and deterministic: time comes in as `now_ms` arguments, randomness from a seeded
// Random; no threads, no I/O beyond MetadataLog::Append. The server runs it on the Raft
// driver's loop thread; the simulator runs it on simulated nodes.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/kafka_error.h"
#include "common/random.h"
#include "controller/logic/broker_manager.h"
#include "controller/logic/broker_sessions.h"
#include "controller/logic/config_manager.h"
#include "controller/logic/controller_result.h"
#include "controller/logic/metadata_log.h"
#include "controller/logic/partition_manager.h"
#include "controller/logic/producer_id_manager.h"
#include "controller/logic/topic_manager.h"
#include "controller/state/config_defs.h"
#include "controller/state/metadata_image.h"
#include "proto/admin/v1/admin.pb.h"
#include "proto/controller/v1/controller.pb.h"

namespace strand::controller {

struct ControllerConfig {
  NodeId node_id = kNoNode;
  std::string cluster_id;
  std::vector<NodeId> controller_ids;       // the quorum voters (broker ids must differ)
  int64_t broker_session_timeout_ms = 3'000;
  int64_t broker_stream_grace_ms = 300;     // reconnect grace after a heartbeat stream breaks
  int32_t producer_id_block_size = 1'000;
  int32_t topics_per_request_max = 10'000;
  int32_t partitions_per_topic_max = 100'000;
  // The cluster-wide and per-broker partition limits are the cluster settings max.partitions
  // and max.broker.partitions (dynamic, KIP-578 names).
  // Static settings of the server (num.partitions, default.replication.factor, log.* ...),
  // below the dynamic cluster defaults in precedence.
  std::map<std::string, std::string> static_configs;
};

class QuorumController {
 public:
  QuorumController(ControllerConfig config, MetadataLog& log, uint64_t random_seed);

  // ---- leadership ----
  // This node's Raft leader has applied everything committed (`committed` is that image).
  void BecomeActive(const MetadataImage& committed, uint64_t term, int64_t now_ms);
  // Leadership is gone: pending completions answer NOT_CONTROLLER.
  void BecomeStandby();
  bool active() const { return active_; }
  // Batches up to `index` are committed (called for every applied batch, active or not).
  void OnCommitted(uint64_t index);
  // Periodic work: broker session expiry, leader rebalancing. Call every ~100 ms.
  void Tick(int64_t now_ms);
  // The working image (active only): what the next request is checked against.
  const MetadataImage& working() const { return working_; }

  // ---- brokers (ControllerService) ----
  void RegisterBroker(const v1::RegisterBrokerRequest& req, int64_t now_ms,
                      Done<v1::RegisterBrokerResponse> done);
  v1::BrokerHeartbeatResponse Heartbeat(const v1::BrokerHeartbeatRequest& req, int64_t now_ms);
  // The broker's heartbeat stream ended; it has the grace period to come back.
  void HeartbeatStreamClosed(NodeId broker, int64_t broker_epoch, int64_t now_ms);
  void AlterPartition(const v1::AlterPartitionRequest& req, Done<v1::AlterPartitionResponse> done);
  void AllocateProducerIds(const v1::AllocateProducerIdsRequest& req,
                           Done<v1::AllocateProducerIdsResponse> done);
  void CreateOffsetsTopic(const v1::CreateOffsetsTopicRequest& req,
                          Done<v1::CreateOffsetsTopicResponse> done);

  // ---- admin writes (AdminService) ----
  void CreateTopics(const admin::v1::CreateTopicsRequest& req,
                    Done<admin::v1::CreateTopicsResponse> done);
  void DeleteTopics(const admin::v1::DeleteTopicsRequest& req,
                    Done<admin::v1::DeleteTopicsResponse> done);
  void CreatePartitions(const admin::v1::CreatePartitionsRequest& req,
                        Done<admin::v1::CreatePartitionsResponse> done);
  void AlterConfigs(const admin::v1::AlterConfigsRequest& req,
                    Done<admin::v1::AlterConfigsResponse> done);
  void ElectLeaders(const admin::v1::ElectLeadersRequest& req,
                    Done<admin::v1::ElectLeadersResponse> done);
  void AlterPartitionReassignments(const admin::v1::AlterPartitionReassignmentsRequest& req,
                                   Done<admin::v1::AlterPartitionReassignmentsResponse> done);
  void UnregisterBroker(const admin::v1::UnregisterBrokerRequest& req,
                        Done<admin::v1::UnregisterBrokerResponse> done);

  // Effective value of a cluster-level setting: dynamic default, else static, else built-in.
  std::string ClusterConfig(const MetadataImage& image, const std::string& name) const {
    return configs_.ClusterConfig(image, name);
  }
  // Effective value of a topic setting.
  std::string TopicConfig(const MetadataImage& image, const std::string& topic,
                          const std::string& name) const {
    return configs_.TopicConfig(image, topic, name);
  }

  // Digests of this controller's static cluster settings (recorded with each activation).
  const SettingDigests& static_settings() const { return static_settings_; }

  using Session = BrokerSession;
  // Broker liveness as the active controller sees it (for DescribeCluster and tests).
  const std::map<NodeId, Session>& sessions() const { return sessions_.all(); }
  int64_t unclean_elections() const { return partitions_.unclean_elections(); }

 private:
  // Appends `batch` (when not empty), replays it into the working image and calls `then(true)`
  // once committed, `then(false)` if leadership is lost first. Returns the append error, if any.
  absl::Status Commit(v1::MetadataBatch batch, std::function<void(bool committed)> then);
  ControllerError NotActive() const;
  // The one "not active" guard of the request handlers: answers NOT_CONTROLLER (per item, for
  // requests with per-item results) when this node is not the active controller; otherwise runs
  // `generate` (a manager's handler) and answers its result.
  template <typename Request, typename Response, typename Generate>
  void Handle(const Request& req, Done<Response> done, Generate generate);
  // Appends a manager's records and answers once they are committed (or at once, when the
  // result says so): NOT_CONTROLLER where unanswered if leadership is lost first or the append
  // fails.
  template <typename Response>
  void Answer(ControllerResult<Response> result, Done<Response> done);
  void FenceExpiredBrokers(int64_t now_ms);

  const ControllerConfig config_;
  const SettingDigests static_settings_;
  MetadataLog& log_;
  Random random_;
  bool active_ = false;
  uint64_t term_ = 0;
  MetadataImage working_;
  uint64_t committed_index_ = 0;
  uint64_t last_appended_index_ = 0;
  std::multimap<uint64_t, std::function<void(bool)>> pending_;
  // The managers read `working_` and generate; declared in dependency order.
  BrokerSessions sessions_;
  ConfigManager configs_;
  PartitionManager partitions_;
  TopicManager topics_;
  BrokerManager brokers_;
  ProducerIdManager producer_ids_;
};

}  // namespace strand::controller
