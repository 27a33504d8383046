#include "common/tls_credentials.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <map>
#include <mutex>
#include <tuple>

namespace strand {
namespace {

// One file watcher (one thread) per set of files, shared by the listeners and channels using it.
std::shared_ptr<grpc::experimental::CertificateProviderInterface> Provider(const ListenerTls& tls,
                                                                          int refresh_s) {
  static std::mutex mu;
  static auto* providers =
      new std::map<std::tuple<std::string, std::string, int>,
                   std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider>>();
  std::lock_guard lock(mu);
  auto key = std::make_tuple(tls.keystore_location, tls.truststore_location, refresh_s);
  auto& p = (*providers)[key];
  if (!p) {
    // The keystore holds the private key and the chain: it is both files.
    p = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        tls.keystore_location, tls.keystore_location, tls.truststore_location,
        static_cast<unsigned>(refresh_s));
  }
  return p;
}

}  // namespace

std::shared_ptr<grpc::ServerCredentials> ServerCredentialsFor(const ListenerConfig& config,
                                                              const Endpoint& listener) {
  const ListenerTls* tls = config.Tls(listener.name);
  if (tls == nullptr) return grpc::InsecureServerCredentials();
  grpc::experimental::TlsServerCredentialsOptions options(
      Provider(*tls, config.ssl_refresh_interval_s));
  options.watch_identity_key_cert_pairs();
  switch (tls->client_auth) {
    case ClientAuth::kNone:
      options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
      break;
    case ClientAuth::kRequested:
      options.watch_root_certs();
      options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
      break;
    case ClientAuth::kRequired:
      options.watch_root_certs();
      options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      break;
  }
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsFor(const ListenerConfig& config,
                                                                std::string_view listener) {
  const ListenerTls* tls = config.Tls(listener);
  if (tls == nullptr) return grpc::InsecureChannelCredentials();
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(Provider(*tls, config.ssl_refresh_interval_s));
  options.watch_identity_key_cert_pairs();
  options.watch_root_certs();
  options.set_verify_server_certs(true);
  if (tls->verify_hostname) {
    options.set_certificate_verifier(
        std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
    options.set_check_call_host(true);
  } else {
    options.set_certificate_verifier(
        std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
    options.set_check_call_host(false);
  }
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace strand
