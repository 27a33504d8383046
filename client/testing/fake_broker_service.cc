#include "client/testing/fake_broker_service.h"

#include "client/testing/fake_broker.h"

namespace strand::client::testing {

grpc::Status FakeBrokerService::Metadata(grpc::ServerContext*,
                                         const broker::v1::MetadataRequest* request,
                                         broker::v1::MetadataResponse* response) {
  return cluster_.Metadata(broker_id_, *request, response);
}

grpc::Status FakeBrokerService::Produce(grpc::ServerContext*,
                                        const broker::v1::ProduceRequest* request,
                                        broker::v1::ProduceResponse* response) {
  return cluster_.Produce(broker_id_, *request, response);
}

grpc::Status FakeBrokerService::Fetch(grpc::ServerContext*, const broker::v1::FetchRequest* request,
                                      broker::v1::FetchResponse* response) {
  return cluster_.Fetch(broker_id_, *request, response);
}

grpc::Status FakeBrokerService::ListOffsets(grpc::ServerContext*,
                                            const broker::v1::ListOffsetsRequest* request,
                                            broker::v1::ListOffsetsResponse* response) {
  return cluster_.ListOffsets(broker_id_, *request, response);
}

grpc::Status FakeBrokerService::InitProducerId(grpc::ServerContext*,
                                               const broker::v1::InitProducerIdRequest* request,
                                               broker::v1::InitProducerIdResponse* response) {
  return cluster_.InitProducerId(broker_id_, *request, response);
}

}  // namespace strand::client::testing
