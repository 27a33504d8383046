#pragma once

// Works around a gRPC 1.51 (Debian bookworm) race. Callback-API completions (async() stubs,
// reactors, callback services) run on a process-wide "alternative" completion queue when the
// poller cannot run them in the background. That queue is reference counted by the channels and
// servers using it: shut down when the count reaches zero and made again by the next user. The
// shutdown races with the queue's worker threads and aborts the process ("grpc_cq_internal_unref
// ... assertion failed: prior > 0"), which processes that create and drop channels hit (tests,
// clients following leaders; raft_transport_test aborted in about 1 run of 3). Holding one
// reference for the life of the process means the queue is never shut down.
//
// PinGrpcCallbackQueue() takes that reference once (thread-safe, idempotent): call it before
// creating channels or servers that use the callback API.

#include <chrono>
#include <memory>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

namespace strand {

inline void PinGrpcCallbackQueue() {
  // A channel that is never destroyed, and a callback call on it (which makes the channel take
  // its reference). Kept reachable from a static, so leak checkers do not report it.
  struct Pin {
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
    grpc::GenericStub stub{channel};
    grpc::ClientContext context;
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
  };
  static Pin* const pin = [] {
    auto* p = new Pin;
    grpc::Slice empty("");
    p->request = grpc::ByteBuffer(&empty, 1);  // a default ByteBuffer is not a valid message
    p->context.set_deadline(std::chrono::system_clock::now());  // fails at once; no traffic
    p->stub.UnaryCall(&p->context, "/strand.Pin/Pin", grpc::StubOptions(), &p->request,
                      &p->response, [](grpc::Status) {});
    return p;
  }();
  (void)pin;
}

}  // namespace strand
