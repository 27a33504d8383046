#pragma once

// ReplicaFetcherManager: the follower side of replication. One fetcher thread per leader broker
// fetches, in one Fetch request, every partition this broker follows from that leader: it sends
// each partition's log end, last epoch, durable offset and current leader epoch; appends what
// comes back (or truncates on a divergence, or starts over when behind the leader's log start);
// takes the leader's high watermark; and waits for the appended data to be durable before the
// next fetch, so that fetch tells the leader the data is safe (acks=all needs it). With a
// follower-side replication throttle (FetcherOptions::quota), throttled partitions outside the
// ISR are left out of the requests while the rate is spent.
//
// Thread-safe. Partitions move between fetchers as their leaders change (Add with the new
// leader). Stop() joins every fetcher.

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <grpcpp/security/credentials.h>

#include "broker/replica/partition.h"
#include "broker/server/replication_quota.h"
#include "proto/broker/v1/broker.grpc.pb.h"

namespace strand::broker {

struct FetcherOptions {
  NodeId self = kNoNode;
  // To leaders' inter-broker listeners (common/tls_credentials.h); plaintext when null.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  int32_t max_wait_ms = 500;                 // replica.fetch.wait.max.ms
  int32_t max_bytes = 32 << 20;              // replica.fetch.response.max.bytes
  int32_t partition_max_bytes = 8 << 20;     // replica.fetch.max.bytes
  int32_t backoff_ms = 100;                  // replica.fetch.backoff.ms
  int64_t durable_wait_ms = 5'000;
  // This broker's registration incarnation id, sent with every fetch (it binds the fetch to the
  // process the controllers registered).
  std::string incarnation;
  // Told the size of every batch set appended from a leader (metrics); may be empty.
  std::function<void(int64_t bytes)> on_appended;
  // Told, per fetch that appended something, how long the appends took and how long the wait
  // for their fsync took (seconds; metrics); may be empty.
  std::function<void(double append_s, double fsync_s)> on_stages;
  // The follower side of the replication throttle (follower.replication.throttled.*); null: none.
  ReplicationQuota* quota = nullptr;
};

class ReplicaFetcherManager {
 public:
  using AddressOf = std::function<std::optional<std::string>(NodeId)>;
  ReplicaFetcherManager(FetcherOptions options, AddressOf address_of,
                        std::function<int64_t()> broker_epoch);
  ~ReplicaFetcherManager();

  void Add(std::shared_ptr<Partition> partition, NodeId leader);
  void Remove(const storage::TopicPartition& tp);
  void Stop();
  size_t fetchers() const;

 private:
  class Fetcher;
  void RemoveLocked(const storage::TopicPartition& tp, NodeId leader);  // mu_ held
  const FetcherOptions options_;
  const AddressOf address_of_;
  const std::function<int64_t()> broker_epoch_;
  mutable std::mutex mu_;
  std::map<NodeId, std::unique_ptr<Fetcher>> fetchers_;
  std::map<storage::TopicPartition, NodeId> assigned_;
  bool stopped_ = false;
};

}  // namespace strand::broker
