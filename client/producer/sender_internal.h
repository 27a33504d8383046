#pragma once

// The sender's records of requests on the wire (shared by sender.cc and sender_answers.cc).

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "client/producer/sender.h"
#include "proto/broker/v1/broker.pb.h"

namespace strand::client {

// gRPC's deadline for a Produce is request.timeout.ms plus this, so that a broker answering
// REQUEST_TIMED_OUT at request.timeout.ms (its acks=all wait) is heard rather than cut off.
inline constexpr int64_t kProduceDeadlineSlackMs = 1'000;

struct Sender::InFlight {
  int32_t node = -1;
  std::string address;
  int64_t sent_ms = 0;
  std::vector<BatchPtr> batches;
  struct Slot {
    int topic = 0;      // index into request.topics
    int partition = 0;  // index into its partitions
  };
  std::vector<Slot> slots;         // parallel to batches
  bool completed_on_send = false;  // acks=0
  grpc::ClientContext context;
  broker::v1::ProduceRequest request;
  broker::v1::ProduceResponse response;
  grpc::Status status;
};

struct Sender::PidCall {
  std::string address;
  bool bump = false;
  grpc::ClientContext context;
  broker::v1::InitProducerIdRequest request;
  broker::v1::InitProducerIdResponse response;
  grpc::Status status;
  bool done = false;
};

}  // namespace strand::client
