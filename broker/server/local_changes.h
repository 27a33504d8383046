#pragma once

// LocalChanges: what a metadata change asks of this broker's replicas, as Kafka's
// TopicsDelta.localChanges. A pure function of the image (after the change), the delta (what
// changed, with the state before) and the broker's id: which partitions to lead, which to follow,
// and which replicas to stop and delete. ReplicaManager acts on the answer (opening logs, role
// changes, fetchers); everything it decides is unit-tested here without threads or disks.

#include <set>
#include <string>
#include <vector>

#include "common/ids.h"
#include "controller/state/metadata_delta.h"
#include "controller/state/metadata_image.h"
#include "storage/log_manager.h"

namespace strand::broker {

struct LocalPartition {
  storage::TopicPartition tp;
  std::string topic_id;  // 16 bytes
  controller::PartitionState state;
};

struct LocalDelete {
  storage::TopicPartition tp;
  std::string topic_id;  // 16 bytes: the topic whose replica goes (a new topic may reuse the name)
  bool topic_deleted = false;  // false: this broker was removed from the replica set
};

struct LocalChanges {
  std::vector<LocalPartition> leaders;    // this broker is the partition's leader
  std::vector<LocalPartition> followers;  // a replica led elsewhere, or leaderless for now
  std::vector<LocalDelete> deletes;       // replicas here that the delta took away
  // Every topic whose partitions were looked at, existing or deleted (16-byte ids): a replica of
  // one of them hosted here that is neither led nor followed goes too.
  std::set<std::string> topic_ids;
  // True when the whole image was looked at (a snapshot, or a cluster or broker default that may
  // change every topic's settings): anything hosted and not listed goes.
  bool everything = false;
};

// `delta.snapshot` (or a changed non-topic config) means: look at every topic.
LocalChanges ComputeLocalChanges(const controller::MetadataImage& image,
                                 const controller::MetadataDelta& delta, NodeId self);

}  // namespace strand::broker
