#pragma once

// FakeBrokerCluster: a scripted in-process stand-in for a Strand cluster's brokers, for tests of
// the producer, the consumer and the CLI. It runs N BrokerService servers on 127.0.0.1 (free
// ports), broker ids 101, 102, ... sharing one model: topics whose partitions each have a leader,
// a leader epoch, replicas (with racks) and one in-memory log (FakePartition: offsets assigned,
// idempotent sequences checked, duplicates answered with their original offset, as the real
// broker's contract says). The log is shared by all replicas, as if replication were instant:
// moving a leader loses nothing and keeps producer state, like a clean leader election.
//
// What each broker does (broker.proto):
//   Metadata        every broker, every topic asked for (all when none), UNKNOWN_TOPIC_OR_PARTITION
//                   for missing ones;
//   Produce         the leader appends; others answer NOT_LEADER_OR_FOLLOWER with the leader hint;
//   Fetch           the leader, or any replica (follower fetching); epoch fencing
//                   (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH), OFFSET_OUT_OF_RANGE, long poll
//                   up to max_wait_ms (capped at 1 s), and preferred_read_replica when a replica
//                   shares the client's rack_id;
//   ListOffsets     the leader: latest, earliest, max timestamp, by timestamp;
//   InitProducerId  new ids from 1000, epoch bumps for a known id.
// Faults (BrokerFault) are consumed in order by the first matching call: fail it with a gRPC
// code, answer every partition with a Kafka error, delay it, or do the work and then lose the
// answer (the client sees UNAVAILABLE: "dropped response").
//
// Thread-safe. Stop()/the destructor shut the servers down.

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client/testing/fake_partition.h"
#include "common/error_proto.h"
#include "common/kafka_error.h"
#include "proto/broker/v1/broker.grpc.pb.h"

namespace strand::client::testing {

struct BrokerFault {
  std::string method;   // "Produce", "Fetch", "Metadata", "ListOffsets", "InitProducerId"; "" any
  int32_t broker = -1;  // -1: any broker
  grpc::StatusCode grpc_code = grpc::StatusCode::OK;  // not OK: fail the call with it
  KafkaError error = KafkaError::kNone;  // answer every partition (or the request) with it
  int delay_ms = 0;                      // sleep before handling (trips client deadlines)
  bool lose_answer = false;              // do the work, then fail the call with UNAVAILABLE
  int times = 1;                         // how many calls it applies to
  std::string topic;                     // only calls naming this topic ("" any)
};

class FakeBrokerService;

class FakeBrokerCluster {
 public:
  // `add_services` (optional) registers more services on each broker's server before it starts
  // (e.g. FakeGroupCoordinator's GroupService); they must outlive the cluster.
  using AddServices = std::function<void(int32_t broker, grpc::ServerBuilder& builder)>;
  explicit FakeBrokerCluster(int brokers = 3, int32_t first_id = 101,
                             AddServices add_services = nullptr);
  ~FakeBrokerCluster();
  FakeBrokerCluster(const FakeBrokerCluster&) = delete;
  FakeBrokerCluster& operator=(const FakeBrokerCluster&) = delete;

  // Every broker's address, comma-separated (a bootstrap list).
  std::string bootstrap() const;
  std::string address(int32_t broker) const;
  std::vector<int32_t> broker_ids() const;

  // Partition p's replicas are `replication_factor` brokers starting at the (p mod N)-th; the
  // first leads at epoch 0.
  void CreateTopic(const std::string& name, int partitions, int replication_factor = 3);
  // Moves leadership (bumps the leader epoch). -1: offline (no leader).
  void SetLeader(const std::string& topic, int partition, int32_t broker);
  int32_t Leader(const std::string& topic, int partition) const;
  int32_t LeaderEpoch(const std::string& topic, int partition) const;
  std::vector<int32_t> Replicas(const std::string& topic, int partition) const;
  void SetRack(int32_t broker, const std::string& rack);
  // Stops answering on this broker's address (its server shuts down; calls fail UNAVAILABLE).
  void StopBroker(int32_t broker);

  void PushFault(BrokerFault fault);
  int PendingFaults() const;
  int Calls(const std::string& method, int32_t broker = -1) const;

  std::vector<FakeRecord> Records(const std::string& topic, int partition) const;
  int64_t EndOffset(const std::string& topic, int partition) const;
  int64_t StartOffset(const std::string& topic, int partition) const;
  void DeleteRecordsBefore(const std::string& topic, int partition, int64_t offset);
  // Appends records as a producer would (for consumer tests): one batch of `values` with keys
  // key-<i> (when `with_keys`), timestamps base_timestamp_ms + i.
  void AppendValues(const std::string& topic, int partition, const std::vector<std::string>& values,
                    int64_t base_timestamp_ms, bool with_keys = true);
  // The acks of the last Produce request.
  int32_t last_acks() const;
  // The rack_id and replica of the last Fetch, per broker that served it.
  std::string last_fetch_rack() const;

  // ---- Used by the per-broker services.
  grpc::Status Metadata(int32_t broker, const broker::v1::MetadataRequest& request,
                        broker::v1::MetadataResponse* response);
  grpc::Status Produce(int32_t broker, const broker::v1::ProduceRequest& request,
                       broker::v1::ProduceResponse* response);
  grpc::Status Fetch(int32_t broker, const broker::v1::FetchRequest& request,
                     broker::v1::FetchResponse* response);
  grpc::Status ListOffsets(int32_t broker, const broker::v1::ListOffsetsRequest& request,
                           broker::v1::ListOffsetsResponse* response);
  grpc::Status InitProducerId(int32_t broker, const broker::v1::InitProducerIdRequest& request,
                              broker::v1::InitProducerIdResponse* response);

 private:
  struct Partition {
    int32_t leader = -1;
    int32_t leader_epoch = 0;
    std::vector<int32_t> replicas;
    FakePartition log;
  };
  struct Broker {
    int32_t id;
    int port;
    std::string rack;
    std::unique_ptr<FakeBrokerService> service;
    std::unique_ptr<grpc::Server> server;
    bool stopped = false;
  };

  // Runs `work` for a call, applying the first matching fault. `topic` names the call's first
  // topic (for topic-scoped faults).
  grpc::Status Handle(const std::string& method, int32_t broker, const std::string& topic,
                      const std::function<grpc::Status(const BrokerFault* fault)>& work);
  Partition* FindPartition(const std::string& topic, int partition);
  const Partition* FindPartition(const std::string& topic, int partition) const;
  // Fills one fetch partition's answer; returns its record bytes.
  size_t FetchPartition(int32_t broker, const broker::v1::FetchRequest& request,
                        const std::string& topic, const broker::v1::FetchPartition& fp,
                        broker::v1::FetchPartitionResponse* out);

  mutable std::mutex mu_;
  std::condition_variable appended_;  // a log grew (long polls wait on it)
  std::vector<Broker> brokers_;
  std::map<std::string, std::vector<Partition>> topics_;
  std::deque<BrokerFault> faults_;
  std::map<std::pair<std::string, int32_t>, int> calls_;
  int64_t next_producer_id_ = 1000;
  std::map<int64_t, int16_t> producer_epochs_;
  int32_t last_acks_ = -99;
  std::string last_fetch_rack_;
};

}  // namespace strand::client::testing
