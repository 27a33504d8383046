#pragma once

// RawUnaryCall: a unary call whose request is `bytes` as they are (a forged or fuzzed message,
// or no message at all), as anyone on the network could send it; returns the call's status.
// For tests (tests/integration, tests/fuzz).

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

namespace strand::testing {

inline grpc::Status RawUnaryCall(std::shared_ptr<grpc::ChannelInterface> channel,
                                 const std::string& method, const std::string& bytes,
                                 std::chrono::system_clock::time_point deadline) {
  grpc::GenericStub stub(std::move(channel));
  grpc::ClientContext ctx;
  ctx.set_deadline(deadline);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  return done.get_future().get();
}

}  // namespace strand::testing
