#pragma once

// gRPC settings shared by Strand's own connections between nodes (Raft, the controller client,
// heartbeats, replica fetchers, forwarded calls): keepalive pings so a dead peer is noticed
// within seconds, fast reconnects after a peer restarts, and message size limits. The servers'
// side (accepting those pings) is ConfigureKeepaliveServer; listeners pick their profile in
// common/grpc_listener.h.

#include <memory>

#include <grpcpp/grpcpp.h>

namespace strand {

// The largest message a node-to-node channel sends or receives (snapshot chunks, replication
// batches, forwarded requests).
inline constexpr int kInternalMessageBytesMax = 64 << 20;

// Client side: ping an idle connection every `keepalive_ms` (and close it when no answer comes
// within as long), reconnect after 50 ms and at most 500 ms apart.
grpc::ChannelArguments InternalChannelArguments(int keepalive_ms,
                                                int message_bytes_max = kInternalMessageBytesMax);

// Server side: ping an idle connection every `keepalive_ms` (closing it when no answer comes
// within `timeout_ms`) and accept peers' pings down to every `min_ping_ms / 2`. The server's own
// pings are not limited by HTTP/2 "pings without data" (gRPC's default of 2 would let the
// keepalive watchdog close a quiet connection).
void ConfigureKeepaliveServer(grpc::ServerBuilder& builder, int keepalive_ms, int timeout_ms,
                              int min_ping_ms);

// The parts of one call made with a stub's async() API, which must outlive the call: held in a
// shared_ptr that its completion callback captures.
template <typename Stub, typename Request, typename Response>
struct AsyncCall {
  grpc::ClientContext context;
  Request request;
  Response response;
  std::shared_ptr<Stub> stub;
};

}  // namespace strand
