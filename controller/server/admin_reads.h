#pragma once

// The read side of the admin API: responses built from a MetadataImage (the committed image on
// controllers; later the local metadata cache on brokers). Pure functions.

#include <map>
#include <string>

#include "controller/logic/quorum_controller.h"
#include "controller/state/metadata_image.h"
#include "proto/admin/v1/admin.pb.h"

namespace strand::controller {

// What the answering node knows beyond the image: the quorum and who leads it.
struct QuorumView {
  std::string cluster_id;
  std::map<NodeId, std::string> voters;  // id -> host:port
  NodeId self = kNoNode;
  NodeId leader = kNoNode;  // the active controller, if known
  uint64_t term = 0;
  std::vector<NodeId> reachable;  // voters known to answer (from the leader's view)
};

admin::v1::DescribeClusterResponse DescribeCluster(const MetadataImage& image,
                                                   const QuorumController& controller,
                                                   const QuorumView& quorum);
admin::v1::ListTopicsResponse ListTopics(const MetadataImage& image,
                                         const admin::v1::ListTopicsRequest& req);
admin::v1::DescribeTopicsResponse DescribeTopics(const MetadataImage& image,
                                                 const admin::v1::DescribeTopicsRequest& req);
admin::v1::DescribeConfigsResponse DescribeConfigs(const MetadataImage& image,
                                                   const QuorumController& controller,
                                                   const admin::v1::DescribeConfigsRequest& req);
admin::v1::ListPartitionReassignmentsResponse ListReassignments(const MetadataImage& image);

// Partition health counts, shared with the metrics probe.
struct PartitionHealth {
  int64_t partitions = 0;
  int64_t offline = 0;           // no leader
  int64_t under_replicated = 0;  // ISR smaller than the replica set
  int64_t under_min_isr = 0;     // ISR smaller than min.insync.replicas
};
PartitionHealth ComputeHealth(const MetadataImage& image, const QuorumController& controller);

}  // namespace strand::controller
