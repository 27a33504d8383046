#pragma once

// BrokerChannels: the BrokerService stubs of one client, one per broker address, all sharing the
// client's ChannelPool (one gRPC channel — one HTTP/2 connection — per address, reused by every
// partition the broker leads and every request in flight to it). Thread-safe; owned by a
// producer or consumer for its whole life.

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "client/common/channel_pool.h"
#include "proto/broker/v1/broker.grpc.pb.h"

namespace strand::client {

class BrokerChannels {
 public:
  BrokerChannels(std::shared_ptr<grpc::ChannelCredentials> credentials, ChannelOptions options);

  // The stub for `address` (host:port), created on first use; valid for the life of this object.
  broker::v1::BrokerService::Stub* Stub(const std::string& address);
  // The shared channel to `address`, for the stubs of the brokers' other services (GroupService).
  std::shared_ptr<grpc::Channel> Channel(const std::string& address) { return pool_.Get(address); }

 private:
  ChannelPool pool_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<broker::v1::BrokerService::Stub>> stubs_;
};

// Channel credentials from the security.* settings: plaintext, or TLS with the CA and client
// certificate read from PEM files (empty paths: gRPC's default roots, no client certificate).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> CredentialsFromFiles(
    bool tls, const std::string& ca_location, const std::string& certificate_location,
    const std::string& key_location);

// The credentials a producer or consumer is created with: those injected by the application,
// else the ones its security.* settings describe. Also insists on bootstrap.servers.
template <typename Config>
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(
    const Config& config, std::shared_ptr<grpc::ChannelCredentials> injected) {
  if (config.bootstrap_servers.empty()) {
    return absl::InvalidArgumentError("bootstrap.servers is required");
  }
  if (injected) return injected;
  return CredentialsFromFiles(config.tls, config.ssl_ca_location, config.ssl_certificate_location,
                              config.ssl_key_location);
}

}  // namespace strand::client
