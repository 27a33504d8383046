#pragma once

// PartitionManager: partition leadership and replica sets — leader election when brokers leave
// or return, ISR changes proposed by leaders (AlterPartition), manual elections, reassignment,
// the preferred-leader rebalance, and the partition limits (max.partitions,
// max.broker.partitions). It reads the working image and the broker sessions and generates
// records; QuorumController appends them. Single-threaded, like the controller.

#include <atomic>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "controller/logic/broker_sessions.h"
#include "controller/logic/config_manager.h"
#include "controller/logic/controller_result.h"
#include "controller/state/metadata_image.h"
#include "proto/admin/v1/admin.pb.h"
#include "proto/controller/v1/controller.pb.h"

namespace strand::controller {

class PartitionManager {
 public:
  // Every argument outlives this object.
  PartitionManager(const MetadataImage& image, const BrokerSessions& sessions,
                   const ConfigManager& configs)
      : image_(image), sessions_(sessions), configs_(configs) {}

  // ---- handlers ----
  ControllerResult<v1::AlterPartitionResponse> AlterPartition(
      const v1::AlterPartitionRequest& req) const;
  ControllerResult<admin::v1::ElectLeadersResponse> ElectLeaders(
      const admin::v1::ElectLeadersRequest& req) const;
  ControllerResult<admin::v1::AlterPartitionReassignmentsResponse> AlterPartitionReassignments(
      const admin::v1::AlterPartitionReassignmentsRequest& req) const;
  // Leaderships to move back to preferred replicas, at most once per
  // leader.imbalance.check.interval.seconds (an empty batch otherwise).
  v1::MetadataBatch RebalanceLeaders(int64_t now_ms);
  // The rebalance interval starts over (a controller that just became active).
  void ResetRebalanceClock(int64_t now_ms) { last_rebalance_check_ms_ = now_ms; }

  // ---- records for other managers ----
  // Records that move leadership and ISR membership away from `leaving` (fenced or shutting
  // down); the last ISR member of a partition stays in its ISR.
  void AddLeaveRecords(NodeId leaving, v1::MetadataBatch* batch) const;
  // Records that bring back online the partitions `returning` (being unfenced) can lead: those
  // with no leader whose ISR holds it — the last ISR member kept by AddLeaveRecords.
  void AddReturnRecords(NodeId returning, v1::MetadataBatch* batch) const;
  // Replicas of `broker` that went offline (`gone`: they leave ISR and leadership) or came back
  // (`back`: they lead again a partition that had no other in-sync replica).
  void AddOfflineReplicaRecords(NodeId broker, const std::set<ReplicaKey>& gone,
                                const std::set<ReplicaKey>& back, v1::MetadataBatch* batch) const;
  // New partitions `first`, `first + 1`, ... of topic `id` with these replica sets.
  void AddPartitionRecords(const TopicId& id, int32_t first,
                           const std::vector<std::vector<NodeId>>& assignments,
                           v1::MetadataBatch* batch) const;
  // The broker leads a partition some other replica could lead.
  bool LeadsMovablePartitions(NodeId broker) const;
  // POLICY_VIOLATION when adding `added` replicas per broker (and `new_partitions` partitions)
  // would take a broker past max.broker.partitions or the cluster past max.partitions.
  ControllerError CheckPartitionLimits(const std::map<NodeId, int64_t>& added,
                                       int64_t new_partitions) const;

  // Unclean leader elections this controller has proposed (an out-of-sync replica made leader
  // because unclean.leader.election.enable allowed it): records the old ISR acknowledged may be
  // lost. For strand_controller_unclean_elections_total.
  int64_t unclean_elections() const { return unclean_elections_.load(std::memory_order_relaxed); }

 private:
  void AddLeaveRecord(NodeId leaving, const TopicImage& t, int32_t index,
                      v1::MetadataBatch* batch) const;
  void AddReturnRecord(NodeId returning, const TopicImage& t, int32_t index,
                       v1::MetadataBatch* batch) const;
  // The first in-sync replica in preferred order that can lead, other than `excluded`.
  NodeId ChooseLeader(const TopicId& id, int32_t partition, const PartitionState& p,
                      NodeId excluded) const;
  ControllerError CheckIsrChange(NodeId leader, const v1::PartitionIsrChange& c) const;
  void AddCompleteReassignment(const TopicImage& t, int32_t index, const std::vector<NodeId>& isr,
                               v1::MetadataBatch* batch) const;
  ControllerError ElectLeader(const admin::v1::ElectLeadersRequest& req, const TopicImage& t,
                              int32_t index, admin::v1::ElectionResult* result,
                              v1::MetadataBatch* batch) const;
  // `added_by_request` counts the replicas earlier moves of the same request add per broker
  // (checked against max.broker.partitions together with this one's, then updated).
  ControllerError PlanReassignment(const TopicImage& t, int32_t index,
                                   const std::vector<NodeId>& target, v1::MetadataBatch* batch,
                                   std::map<NodeId, int64_t>* added_by_request) const;
  ControllerError PlanCancelReassignment(const TopicImage& t, int32_t index,
                                         v1::MetadataBatch* batch) const;
  void FillPartitionState(const TopicId& id, int32_t partition, v1::PartitionState* out) const;

  const MetadataImage& image_;
  const BrokerSessions& sessions_;
  const ConfigManager& configs_;
  int64_t last_rebalance_check_ms_ = 0;  // the preferred-leader rebalance last looked
  mutable std::atomic<int64_t> unclean_elections_{0};
};

}  // namespace strand::controller
