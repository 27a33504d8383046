#include "common/grpc_listener.h"

namespace strand {

void ConfigureClientListener(grpc::ServerBuilder& builder) {
  // Accept clients' keepalive pings (Strand's internal channels send one every second).
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             kMinClientPingIntervalMs / 2);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  // The server's own keepalive pings go out on idle connections too.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kClientKeepaliveMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kClientKeepaliveTimeoutMs);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, kClientIdleMs);
  builder.SetMaxReceiveMessageSize(kListenerMessageBytesMax);
  builder.SetMaxSendMessageSize(kListenerMessageBytesMax);
}

}  // namespace strand
