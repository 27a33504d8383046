#pragma once

// gRPC credentials for the listeners of common/listener_config.h: TLS from PEM files that are
// re-read every ssl_refresh_interval_s (a rotated key, certificate or CA takes effect on new
// connections without a restart; a file that does not parse keeps the last good one), or
// plaintext. gRPC negotiates TLS 1.2 or 1.3 only.

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string_view>

#include "common/listener_config.h"

namespace strand {

// What a listener's server presents and asks of clients.
std::shared_ptr<grpc::ServerCredentials> ServerCredentialsFor(const ListenerConfig& config,
                                                              const Endpoint& listener);

// What this process presents, and trusts, when it dials a peer's listener named `listener`
// (its own listener of that name gives the settings): plaintext for a PLAINTEXT listener.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsFor(const ListenerConfig& config,
                                                                std::string_view listener);

}  // namespace strand
