#pragma once

// BrokerServiceImpl: the broker's client API (proto/broker/v1/broker.proto). Produce and Fetch
// use gRPC's callback API so that an acks=all produce or a long-polling fetch holds no thread
// while it waits; the other calls are synchronous.
//
//   Metadata       from the local metadata image (any broker answers for the whole cluster)
//   Produce        to the local partition leaders (Partition::Produce)
//   Fetch          consumers up to the high watermark; followers (replica_id >= 0) up to the
//                  log end, with divergence detection and the leader-side replication throttle
//                  (ReplicaManager::leader_quota); long poll through the FetchPurgatory;
//                  rack-aware preferred read replicas (KIP-392). A raw method: the answer is
//                  written by fetch_response_wire.h, the records as slices of the buffers the
//                  log read filled (no copy into the message, none by gRPC's serializer)
//   ListOffsets    earliest / latest / max timestamp / by timestamp, on the leader
//   InitProducerId ids from controller-allocated blocks (idempotent producers)
//   ProduceRecords / FetchRecords: JSON-friendly records over the same paths (broker_json.cc)

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "broker/server/broker_probe.h"
#include "broker/server/fetch_purgatory.h"
#include "broker/server/metadata_follower.h"
#include "broker/server/producer_ids.h"
#include "broker/server/replica_manager.h"
#include "common/listener_config.h"
#include "common/node_guard.h"
#include "proto/broker/v1/broker.grpc.pb.h"

namespace strand::broker {

struct BrokerServiceOptions {
  NodeId self = kNoNode;
  // The listener this instance serves on (one instance per listener) and the planes it carries
  // (common/listener_config.h): follower fetches need the replication plane, every other call
  // the client plane. Metadata answers each broker's endpoint on this same listener name.
  std::string listener = "PLAINTEXT";
  unsigned planes = kClientPlane | kReplicationPlane;
  std::string cluster_id;
  std::string rack;
  int64_t fetch_max_bytes = 55 << 20;  // cap on one fetch response (Kafka's fetch.max.bytes)
  int64_t fetch_max_wait_ms = 30'000;  // cap on a long poll
  int64_t produce_timeout_ms = 30'000;  // when the request gives none
  // Consumers' long-polling fetches parked at once (each holds a call and its request). Past it
  // a consumer's fetch is answered at once with what there is, as if max_wait_ms were 0.
  size_t fetch_waiting_max = 10'000;
  // This listener's identity check (common/node_guard.h): follower fetches only from the
  // replica's own node. Null: none (tests of the service alone).
  std::shared_ptr<const NodeGuard> guard;
  // For calls forwarded to other brokers on this listener; plaintext when null.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
};

class BrokerServiceImpl final
    : public v1::BrokerService::WithCallbackMethod_Produce<
          v1::BrokerService::WithRawCallbackMethod_Fetch<
              v1::BrokerService::WithCallbackMethod_ProduceRecords<v1::BrokerService::Service>>> {
 public:
  BrokerServiceImpl(BrokerServiceOptions options, MetadataFollower& metadata,
                    ReplicaManager& replicas, FetchPurgatory& purgatory,
                    ProducerIdSource& producer_ids, BrokerProbe& probe);

  grpc::Status Metadata(grpc::ServerContext* context, const v1::MetadataRequest* request,
                        v1::MetadataResponse* response) override;
  grpc::ServerUnaryReactor* Produce(grpc::CallbackServerContext* context,
                                    const v1::ProduceRequest* request,
                                    v1::ProduceResponse* response) override;
  // `request` parses as a v1::FetchRequest (else INVALID_ARGUMENT); `response` gets a
  // v1::FetchResponse.
  grpc::ServerUnaryReactor* Fetch(grpc::CallbackServerContext* context,
                                  const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;
  grpc::Status ListOffsets(grpc::ServerContext* context, const v1::ListOffsetsRequest* request,
                           v1::ListOffsetsResponse* response) override;
  grpc::Status InitProducerId(grpc::ServerContext* context,
                              const v1::InitProducerIdRequest* request,
                              v1::InitProducerIdResponse* response) override;
  // Forwards each partition's batch to its leader, all at once and without holding a thread,
  // each bounded by the caller's deadline (at most 35 s).
  grpc::ServerUnaryReactor* ProduceRecords(grpc::CallbackServerContext* context,
                                           const v1::ProduceRecordsRequest* request,
                                           v1::ProduceRecordsResponse* response) override;
  grpc::Status FetchRecords(grpc::ServerContext* context, const v1::FetchRecordsRequest* request,
                            v1::FetchRecordsResponse* response) override;

 private:
  struct FetchCall;
  // OK when this listener carries `plane`; else PERMISSION_DENIED naming the listener.
  grpc::Status OnPlane(unsigned plane, const char* what) const;
  // Why a follower fetch does not come from the registered process of the broker it names (its
  // epoch and incarnation id must match the registration), or "".
  std::string FollowerIdentityError(const v1::FetchRequest& req) const;
  // One attempt at answering a fetch; true when it answered.
  bool TryFetch(FetchCall& call, bool final);
  // Writes the call's response to the wire and finishes the call with OK.
  static void Answer(FetchCall& call);
  // Why a partition this broker does not serve is missing, with a message: UNKNOWN_TOPIC_OR_
  // PARTITION when the metadata does not know it, KAFKA_STORAGE_ERROR when its replica here is
  // offline (its log cannot be opened), else NOT_LEADER_OR_FOLLOWER (with the leader it knows).
  KafkaError MissingPartitionError(const storage::TopicPartition& tp, NodeId* leader,
                                   int32_t* leader_epoch, std::string* message) const;

  // The JSON calls go through Produce / Fetch / ListOffsets on the partition's leader (this
  // broker or another): a stub to broker `id`, or null when its address is unknown.
  std::shared_ptr<v1::BrokerService::Stub> StubFor(NodeId id);
  // The leader of a partition and the partition count of its topic, from the metadata.
  KafkaError LeaderOf(const std::string& topic, int32_t partition, NodeId* leader,
                      int32_t* partitions) const;

  const BrokerServiceOptions options_;
  MetadataFollower& metadata_;
  ReplicaManager& replicas_;
  FetchPurgatory& purgatory_;
  ProducerIdSource& producer_ids_;
  BrokerProbe& probe_;
  std::mutex stubs_mu_;
  std::map<std::string, std::shared_ptr<v1::BrokerService::Stub>> stubs_;  // by address
  std::atomic<uint32_t> round_robin_{0};
};

}  // namespace strand::broker
