#include "client/common/broker_channels.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace strand::client {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* setting) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(fmt::format("{}: cannot read '{}'", setting, path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

BrokerChannels::BrokerChannels(std::shared_ptr<grpc::ChannelCredentials> credentials,
                               ChannelOptions options)
    : pool_(std::move(credentials), options) {}

broker::v1::BrokerService::Stub* BrokerChannels::Stub(const std::string& address) {
  std::lock_guard lock(mu_);
  auto it = stubs_.find(address);
  if (it != stubs_.end()) return it->second.get();
  auto stub = broker::v1::BrokerService::NewStub(pool_.Get(address));
  auto* raw = stub.get();
  stubs_.emplace(address, std::move(stub));
  return raw;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> CredentialsFromFiles(
    bool tls, const std::string& ca_location, const std::string& certificate_location,
    const std::string& key_location) {
  if (!tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  if (!ca_location.empty()) {
    auto ca = ReadFile(ca_location, "ssl.ca.location");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
  }
  if (!certificate_location.empty()) {
    auto certificate = ReadFile(certificate_location, "ssl.certificate.location");
    if (!certificate.ok()) return certificate.status();
    auto key = ReadFile(key_location, "ssl.key.location");
    if (!key.ok()) return key.status();
    options.pem_cert_chain = *certificate;
    options.pem_private_key = *key;
  }
  return grpc::SslCredentials(options);
}

}  // namespace strand::client
