#include "client/common/channel_pool.h"

#include <algorithm>

#include "common/grpc_callback_pin.h"

namespace strand::client {
namespace {

constexpr int64_t kInitialReconnectBackoffMs = 50;

}  // namespace

ChannelPool::ChannelPool(std::shared_ptr<grpc::ChannelCredentials> credentials,
                         ChannelOptions options)
    : credentials_(credentials ? std::move(credentials) : grpc::InsecureChannelCredentials()),
      options_(options) {}

std::shared_ptr<grpc::Channel> ChannelPool::Get(const std::string& address) {
  std::lock_guard lock(mu_);
  auto it = channels_.find(address);
  if (it != channels_.end()) return it->second;
  grpc::ChannelArguments args;
  // gRPC's "min reconnect backoff" is also the minimum time a connection attempt may take
  // before it is abandoned, i.e. the connect timeout.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, static_cast<int>(options_.connect_timeout_ms));
  // A channel whose connection failed fails calls fast (they are not wait_for_ready) until its
  // next reconnection attempt. gRPC's defaults (1 s growing to 120 s) would keep a restarted
  // broker unusable for seconds; these keep that window under reconnect.backoff.max.ms.
  // Fail-fast calls are deliberate: the clients retry them after a metadata refresh, so a dead
  // leader costs one backoff instead of a request timeout spent waiting for it to come back.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              static_cast<int>(std::min<int64_t>(kInitialReconnectBackoffMs,
                                                 options_.reconnect_backoff_max_ms)));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(options_.reconnect_backoff_max_ms));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(options_.keepalive_ms));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(options_.keepalive_timeout_ms));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);  // long polls send no data for a while
  PinGrpcCallbackQueue();
  auto channel = grpc::CreateCustomChannel(address, credentials_, args);
  channels_.emplace(address, channel);
  return channel;
}

}  // namespace strand::client
