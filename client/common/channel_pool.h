#pragma once

// ChannelPool: one gRPC channel per address, created on first use and reused for the life of
// the pool (a channel multiplexes every call to that address over one HTTP/2 connection and
// reconnects by itself). Thread-safe. Owned by a client object; shared by its stubs.

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace strand::client {

struct ChannelOptions {
  // Bounds one connection attempt (Kafka's socket.connection.setup.timeout.ms), so that a
  // black-holed address fails over instead of eating the whole request timeout.
  int64_t connect_timeout_ms = 10'000;
  // Cap on the wait between reconnection attempts to an address that refused us.
  int64_t reconnect_backoff_max_ms = 1'000;
  // While calls are outstanding on a connection, an HTTP/2 ping this often, and the connection
  // is dropped (its calls fail UNAVAILABLE and are retried elsewhere) when one goes unanswered
  // for keepalive_timeout_ms: a broker that hangs (stopped, its link black-holed) costs a few
  // seconds instead of request.timeout.ms. Idle connections are not pinged.
  int64_t keepalive_ms = 2'000;
  int64_t keepalive_timeout_ms = 3'000;
};

class ChannelPool {
 public:
  // `credentials` null means plaintext (grpc::InsecureChannelCredentials()).
  ChannelPool(std::shared_ptr<grpc::ChannelCredentials> credentials, ChannelOptions options);

  std::shared_ptr<grpc::Channel> Get(const std::string& address);

 private:
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  const ChannelOptions options_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
};

}  // namespace strand::client
