#pragma once

// FakeBrokerService: one broker's BrokerService, forwarding every call to the FakeBrokerCluster
// model with its broker id (see fake_broker.h).

#include <grpcpp/grpcpp.h>

#include "proto/broker/v1/broker.grpc.pb.h"

namespace strand::client::testing {

class FakeBrokerCluster;

class FakeBrokerService final : public broker::v1::BrokerService::Service {
 public:
  FakeBrokerService(FakeBrokerCluster& cluster, int32_t broker_id)
      : cluster_(cluster), broker_id_(broker_id) {}

  grpc::Status Metadata(grpc::ServerContext*, const broker::v1::MetadataRequest* request,
                        broker::v1::MetadataResponse* response) override;
  grpc::Status Produce(grpc::ServerContext*, const broker::v1::ProduceRequest* request,
                       broker::v1::ProduceResponse* response) override;
  grpc::Status Fetch(grpc::ServerContext*, const broker::v1::FetchRequest* request,
                     broker::v1::FetchResponse* response) override;
  grpc::Status ListOffsets(grpc::ServerContext*, const broker::v1::ListOffsetsRequest* request,
                           broker::v1::ListOffsetsResponse* response) override;
  grpc::Status InitProducerId(grpc::ServerContext*,
                              const broker::v1::InitProducerIdRequest* request,
                              broker::v1::InitProducerIdResponse* response) override;

 private:
  FakeBrokerCluster& cluster_;
  const int32_t broker_id_;
};

}  // namespace strand::client::testing
