#pragma once

// QuorumController: the decisions of the active controller (KRaft's QuorumController). Each
// handler validates a request against the working image, generates records, appends them to
// the MetadataLog, replays them into the working image at once (so the next request sees them),
// and answers through its completion once the records are committed — or with NOT_CONTROLLER
// if leadership is lost first. Replay (controller/state) is the only code that changes state.
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
#include "controller/logic/metadata_log.h"
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

// An error for a response field: Kafka code and name, plus a message.
struct ControllerError {
  KafkaError code = KafkaError::kNone;
  std::string message;
  bool ok() const { return code == KafkaError::kNone; }
};
void SetError(const ControllerError& error, strand::common::v1::Error* out);

template <typename Response>
using Done = std::function<void(Response)>;

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
  std::string ClusterConfig(const MetadataImage& image, const std::string& name) const;
  // Effective value of a topic setting.
  std::string TopicConfig(const MetadataImage& image, const std::string& topic,
                          const std::string& name) const;

  // A partition replica: (16-byte topic id, partition).
  using ReplicaKey = std::pair<std::string, int32_t>;
  // Broker liveness as the active controller sees it (for DescribeCluster and tests).
  struct Session {
    int64_t epoch = 0;
    int64_t deadline_ms = 0;     // fenced once now passes this
    bool stream_open = false;
    uint64_t metadata_offset = 0;
    uint64_t caught_up_offset = 0;  // unfenced once metadata_offset reaches this
    // Replicas whose log the broker cannot open (from its last heartbeat): never elected, never
    // let into the ISR. Kept in memory only: every heartbeat carries the whole set, so a newly
    // active controller learns it within a heartbeat interval.
    std::set<ReplicaKey> offline;
    bool reported = false;  // a heartbeat of this session was processed (offline set known)
  };
  const std::map<NodeId, Session>& sessions() const { return sessions_; }

 private:
  // quorum_controller.cc
  // Appends `batch` (when not empty), replays it into the working image and calls `then(true)`
  // once committed, `then(false)` if leadership is lost first. Returns the append error, if any.
  absl::Status Commit(v1::MetadataBatch batch, std::function<void(bool committed)> then);
  ControllerError NotActive() const;
  // For responses with one result per item (ElectLeaders, AlterPartitionReassignments): commits
  // `batch` (nothing to commit, or not active: answers at once) and answers once committed.
  // Results without an error of their own get NOT_CONTROLLER if leadership is lost first; all of
  // them do if the append fails.
  template <typename Response>
  void CommitAndAnswerResults(v1::MetadataBatch batch, Response resp, Done<Response> done);

  // broker_ops.cc
  void FenceExpiredBrokers(int64_t now_ms);
  void AddFenceRecords(NodeId broker, v1::MetadataBatch* batch);
  void AddShutdownRecords(NodeId broker, v1::MetadataBatch* batch);
  bool LeadsMovablePartitions(NodeId broker) const;
  // The request speaks for the broker's current registration: its epoch and incarnation id.
  ControllerError CheckBrokerEpoch(int32_t broker_id, int64_t epoch,
                                   const std::string& incarnation) const;

  // partition_ops.cc
  // Records that move leadership and ISR membership away from `leaving` (fenced or shutting
  // down); `keep_last_isr` keeps it as the sole ISR member of partitions that have no other.
  void AddLeaveRecords(NodeId leaving, v1::MetadataBatch* batch);
  // Records that bring back online the partitions `returning` (being unfenced) can lead: those
  // with no leader whose ISR holds it — the last ISR member kept by AddLeaveRecords.
  void AddReturnRecords(NodeId returning, v1::MetadataBatch* batch);
  // The same for one partition.
  void AddLeaveRecord(NodeId leaving, const TopicImage& t, int32_t index,
                      v1::MetadataBatch* batch);
  void AddReturnRecord(NodeId returning, const TopicImage& t, int32_t index,
                       v1::MetadataBatch* batch);
  // Replicas of `broker` that went offline (`gone`: they leave ISR and leadership) or came back
  // (`back`: they lead again a partition that had no other in-sync replica).
  void AddOfflineReplicaRecords(NodeId broker, const std::set<ReplicaKey>& gone,
                                const std::set<ReplicaKey>& back, v1::MetadataBatch* batch);
  // The first in-sync replica in preferred order that can lead, other than `excluded`.
  NodeId ChooseLeader(const TopicId& id, int32_t partition, const PartitionState& p,
                      NodeId excluded) const;
  // A live broker: registered, unfenced, not shutting down.
  bool Eligible(NodeId node) const;
  // ... whose replica of the partition is online.
  bool Eligible(NodeId node, const TopicId& id, int32_t partition) const;
  bool ReplicaOffline(NodeId node, const TopicId& id, int32_t partition) const;
  void AddCompleteReassignment(const TopicImage& t, int32_t index, const std::vector<NodeId>& isr,
                               v1::MetadataBatch* batch);
  void RebalanceLeaders(int64_t now_ms);
  void FillPartitionState(const TopicId& id, int32_t partition, v1::PartitionState* out) const;

  // topic_ops.cc
  ControllerError ValidateNewTopic(const admin::v1::NewTopic& t, int32_t* partitions,
                                   int32_t* replication_factor) const;
  ControllerError PlanAssignments(const admin::v1::NewTopic& t, int32_t partitions,
                                  int32_t replication_factor,
                                  std::vector<std::vector<NodeId>>* out);
  // `added_by_request` counts the replicas earlier moves of the same request add per broker
  // (checked against max.broker.partitions together with this one's, then updated).
  ControllerError PlanReassignment(const TopicImage& t, int32_t index,
                                   const std::vector<NodeId>& target, v1::MetadataBatch* batch,
                                   std::map<NodeId, int64_t>* added_by_request);
  // POLICY_VIOLATION when adding `added` replicas per broker (and `new_partitions` partitions)
  // would take a broker past max.broker.partitions or the cluster past max.partitions.
  ControllerError CheckPartitionLimits(const std::map<NodeId, int64_t>& added,
                                       int64_t new_partitions) const;
  void AddPartitionRecords(const TopicId& id, int32_t first,
                           const std::vector<std::vector<NodeId>>& assignments,
                           v1::MetadataBatch* batch) const;

  const ControllerConfig config_;
  MetadataLog& log_;
  Random random_;
  bool active_ = false;
  uint64_t term_ = 0;
  MetadataImage working_;
  uint64_t committed_index_ = 0;
  uint64_t last_appended_index_ = 0;
  std::multimap<uint64_t, std::function<void(bool)>> pending_;
  std::map<NodeId, Session> sessions_;
  int64_t last_rebalance_check_ms_ = 0;  // the preferred-leader rebalance last looked
};

template <typename Response>
void QuorumController::CommitAndAnswerResults(v1::MetadataBatch batch, Response resp,
                                              Done<Response> done) {
  if (!active_ || batch.records_size() == 0) return done(resp);
  absl::Status s = Commit(std::move(batch), [this, done, resp](bool committed) mutable {
    if (!committed) {
      for (auto& r : *resp.mutable_results()) {
        if (r.error().code() == 0) SetError(NotActive(), r.mutable_error());
      }
    }
    done(resp);
  });
  if (!s.ok()) {
    for (auto& r : *resp.mutable_results()) {
      SetError({KafkaError::kNotController, std::string(s.message())}, r.mutable_error());
    }
    done(resp);
  }
}

}  // namespace strand::controller
