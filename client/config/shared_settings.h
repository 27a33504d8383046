#pragma once

// The settings producers and consumers share — bootstrap.servers, client.id, retry backoff,
// request, connection and metadata timeouts, security — read the same way into either config.

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

#include "client/common/bootstrap.h"
#include "client/config/config_values.h"
#include "common/status.h"

namespace strand::client {

// Reads them into `c` (a ProducerConfig or ConsumerConfig); a bad bootstrap list is appended to
// `problems`.
template <typename Config>
void ReadSharedClientSettings(const ConfigValues& v, Config* c, std::vector<std::string>* problems) {
  auto bootstrap = ParseBootstrap(v.GetString("bootstrap.servers"));
  if (bootstrap.ok()) {
    c->bootstrap_servers = *std::move(bootstrap);
  } else {
    problems->push_back(fmt::format("bootstrap.servers: {}", MessageOf(bootstrap.status())));
  }
  c->client_id = v.GetString("client.id");
  c->retry_backoff_ms = v.GetLong("retry.backoff.ms");
  c->retry_backoff_max_ms = std::max(c->retry_backoff_ms, v.GetLong("retry.backoff.max.ms"));
  c->request_timeout_ms = v.GetInt("request.timeout.ms");
  c->metadata_max_age_ms = v.GetLong("metadata.max.age.ms");
  c->connect_timeout_ms = v.GetLong("socket.connection.setup.timeout.ms");
  c->reconnect_backoff_max_ms = v.GetLong("reconnect.backoff.max.ms");
  c->tls = v.GetString("security.protocol") == "ssl";
  c->ssl_ca_location = v.GetString("ssl.ca.location");
  c->ssl_certificate_location = v.GetString("ssl.certificate.location");
  c->ssl_key_location = v.GetString("ssl.key.location");
}

}  // namespace strand::client
