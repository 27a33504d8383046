#pragma once

// Server-side connection settings per kind of listener. Two profiles:
//
//   - Client listeners serve applications that hold a channel open and call now and then, with
//     gRPC's default client settings (no keepalive pings of their own). The server checks an
//     idle connection with a ping every kClientKeepaliveMs (a dead peer goes within a minute,
//     the time a NAT or load balancer may keep an idle flow), closes connections idle for
//     kClientIdleMs (Kafka's connections.max.idle.ms, 10 minutes, with a graceful GOAWAY the
//     client reconnects through), and accepts clients' own keepalive pings down to once a
//     second (Strand's internal channels send them that often).
//   - Internal listeners (the controller and inter-broker planes) carry Raft and replication
//     streams and want dead peers noticed within about two seconds: pings every
//     `keepalive_ms`, answered within `keepalive_ms`.
//
// In both, the server's pings are not limited by HTTP/2 "pings without data": gRPC's default
// (2) blocks the third keepalive ping on an idle connection, and the keepalive watchdog then
// closes a perfectly healthy connection — what cut idle clients after ~2 s when every
// listener used the internal profile.

#include <grpcpp/grpcpp.h>

namespace strand {

inline constexpr int kClientKeepaliveMs = 60'000;
inline constexpr int kClientKeepaliveTimeoutMs = 20'000;
inline constexpr int kClientIdleMs = 600'000;
// Strand's own channels ping idle connections every second: accept that.
inline constexpr int kMinClientPingIntervalMs = 1'000;
// Largest request or response message (Kafka's socket.request.max.bytes is 100 MiB).
inline constexpr int kListenerMessageBytesMax = 64 << 20;

void ConfigureClientListener(grpc::ServerBuilder& builder);
void ConfigureInternalListener(grpc::ServerBuilder& builder, int keepalive_ms = 1'000);

}  // namespace strand
