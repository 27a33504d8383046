#pragma once

// Server-side connection settings for listeners that serve clients (today every Strand
// listener: one per process carries every plane).
//
//   - Client listeners serve applications that hold a channel open and call now and then, with
//     gRPC's default client settings (no keepalive pings of their own). Such a client does not
//     read its socket between calls unless something polls its channel, so it cannot answer a
//     server's keepalive ping while idle: the server pings only after gRPC's default two hours,
//     and closes connections idle for kClientIdleMs instead (Kafka's connections.max.idle.ms,
//     10 minutes, with a graceful GOAWAY the client reconnects through on its next call). It
//     accepts clients' own keepalive pings down to once a second (Strand's internal channels
//     send them that often).
//   - A listener that carries only internal traffic (Raft, replication) wants dead peers noticed
//     within about two seconds: raft::ConfigureRaftServer is that profile.
//
// When every listener used the Raft profile, an idle application channel was cut after about
// 2 s ("UNAVAILABLE: Socket closed" on its next call): the server's ping went unanswered. The
// server's pings are also not limited by HTTP/2 "pings without data" (gRPC's default of 2 would
// block the third keepalive ping on a quiet connection).

#include <grpcpp/grpcpp.h>

namespace strand {

inline constexpr int kClientKeepaliveMs = 2 * 3600'000;  // gRPC's default
inline constexpr int kClientKeepaliveTimeoutMs = 20'000;
inline constexpr int kClientIdleMs = 600'000;
// Strand's own channels ping idle connections every second: accept that.
inline constexpr int kMinClientPingIntervalMs = 1'000;
// Largest request or response message (Kafka's socket.request.max.bytes is 100 MiB).
inline constexpr int kListenerMessageBytesMax = 64 << 20;

void ConfigureClientListener(grpc::ServerBuilder& builder);

}  // namespace strand
