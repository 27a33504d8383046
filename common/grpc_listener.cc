#include "common/grpc_listener.h"

#include <algorithm>

namespace strand {
namespace {

void AcceptFrequentClientPings(grpc::ServerBuilder& builder, int min_interval_ms) {
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             min_interval_ms);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  // The server's own keepalive pings go out on idle connections too.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.SetMaxReceiveMessageSize(kListenerMessageBytesMax);
  builder.SetMaxSendMessageSize(kListenerMessageBytesMax);
}

}  // namespace

void ConfigureClientListener(grpc::ServerBuilder& builder) {
  AcceptFrequentClientPings(builder, kMinClientPingIntervalMs / 2);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kClientKeepaliveMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kClientKeepaliveTimeoutMs);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, kClientIdleMs);
}

void ConfigureInternalListener(grpc::ServerBuilder& builder, int keepalive_ms) {
  AcceptFrequentClientPings(builder, std::max(1, keepalive_ms / 2));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, keepalive_ms);
}

}  // namespace strand
