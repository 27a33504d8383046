#pragma once

// Listeners by plane, with Kafka's setting names and meaning.
//
//   listeners                        NAME://host:port,...   what this process binds
//   advertised.listeners             NAME://host:port,...   what it publishes (per name; a name
//                                                          not listed is published as bound)
//   listener.security.protocol.map   NAME:PROTOCOL,...      PLAINTEXT or SSL per listener name
//   controller.listener.names        NAME,...               the controller plane
//   inter.broker.listener.name       NAME                   the replication plane (brokers)
//
// Every listener carries one or more planes, and a process serves on a listener only what its
// planes allow (docs/security.md):
//   - controller plane (a name in controller.listener.names): on a controller, Raft, the
//     broker-facing ControllerService and the AdminService (brokers forward admin calls there);
//     on a broker, only the metadata log the controllers push to it (Raft, as an observer).
//   - replication plane (a broker's inter.broker.listener.name): follower fetches (and the
//     FaultInjectionService when enabled).
//   - client plane (every other listener): a broker's client API and admin calls; a controller's
//     AdminService. When a broker's inter-broker listener is its only non-controller listener,
//     it carries the client plane too (Kafka's one-listener default).
// Each process binds exactly one controller-plane listener: a controller's is where the voters
// and brokers reach it (controller.quorum.voters), a broker's is where the controllers push it the
// metadata log.
//
// TLS (listeners whose protocol is SSL), Kafka's names, each also settable per listener as
// listener.name.<name, lower case>.<setting>:
//   ssl.keystore.location        PEM file: this node's private key and certificate chain
//   ssl.keystore.type            PEM (the only type)
//   ssl.truststore.location      PEM file: the CA certificates peers' certificates must chain to
//   ssl.truststore.type          PEM (the only type)
//   ssl.client.auth              none (default) | requested | required; listeners carrying the
//                                controller or replication plane always require a certificate
//   ssl.endpoint.identification.algorithm  https (default: a server's certificate must name the
//                                host dialled) or empty (no host check)
//   ssl.principal.mapping.rules  common/principal.h (default: the certificate's CN)
//   strand.ssl.refresh.interval.ms  how often key, certificates and CAs are re-read (60 s)
// The same settings give this process's outgoing connections their identity: to the
// controllers those of its controller listener, to other brokers those of its inter-broker
// listener (both sides use the same listener names).

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/principal.h"

namespace strand {

enum class SecurityProtocol { kPlaintext, kSsl };
std::string_view SecurityProtocolName(SecurityProtocol protocol);

enum Plane : unsigned {
  kControllerPlane = 1,
  kReplicationPlane = 2,
  kClientPlane = 4,
};
// "controller", "replication+client", ...
std::string PlaneNames(unsigned planes);

struct Endpoint {
  std::string name;  // listener name, upper case (Kafka's convention)
  std::string host;  // empty or 0.0.0.0 / :: binds every interface
  int port = 0;
  SecurityProtocol protocol = SecurityProtocol::kPlaintext;

  std::string Address() const;   // host:port (IPv6 hosts in brackets)
  std::string ToString() const;  // NAME://host:port
};

// Connection limits of client listeners (common/connection_limiter.h).
struct ConnectionLimits {
  int64_t max_connections = 10'000;
  int64_t max_connections_per_ip = 10'000;
  int64_t max_connection_creation_rate = 1'000;  // per second
  // gRPC's resource quota of each client listener: threads for blocking handlers (past it a
  // call is refused with RESOURCE_EXHAUSTED) and memory for its connections' buffers.
  int64_t threads_max = 256;
  int64_t memory_max_bytes = int64_t{1} << 30;
};

// The client listeners' connections as the limits counted them.
struct ConnectionStats {
  int64_t open = 0;            // admitted and not yet seen closed
  int64_t refused_max = 0;     // by max.connections, since the start
  int64_t refused_per_ip = 0;  // by max.connections.per.ip
  int64_t refused_rate = 0;    // by max.connection.creation.rate
};

enum class ClientAuth { kNone, kRequested, kRequired };

// An SSL listener's TLS settings (checked: the files exist and hold what they should).
struct ListenerTls {
  std::string keystore_location;
  std::string truststore_location;  // empty only on a client listener without client auth
  ClientAuth client_auth = ClientAuth::kNone;
  bool verify_hostname = true;
  std::string principal_mapping_rules = kDefaultPrincipalRules;  // parses (checked)
};

struct ListenerConfig {
  bool controller_role = false;
  bool broker_role = false;
  std::vector<Endpoint> listeners;   // bound, in the order given
  std::vector<Endpoint> advertised;  // published, one per bound listener, same order
  std::vector<std::string> controller_listener_names;
  std::string inter_broker_listener_name;  // brokers only
  std::map<std::string, ListenerTls> tls;  // per SSL listener name
  int ssl_refresh_interval_s = 60;
  ConnectionLimits connection_limits;

  // The TLS settings of a listener, or null when it is PLAINTEXT.
  const ListenerTls* Tls(std::string_view name) const;

  unsigned PlanesOf(std::string_view name) const;
  // The bound / advertised listener with this name, or null.
  const Endpoint* Bound(std::string_view name) const;
  const Endpoint* Advertised(std::string_view name) const;
  // The one controller-plane listener this process binds (advertised form).
  const Endpoint& ControllerListener() const;
  bool IsControllerListenerName(std::string_view name) const;
};

// The listener and TLS settings, name -> meaning (for the settings table, --help and the docs).
const std::map<std::string, std::string>& ListenerSettingNames();
// Whether `key` is one of them, or a listener.name.<name>.ssl.* override.
bool IsListenerSetting(std::string_view key);

// Reads the listener settings out of `settings` (other names are ignored) and checks them for a
// process with the given roles. Errors name the setting and the offending item.
absl::StatusOr<ListenerConfig> ParseListenerConfig(const std::map<std::string, std::string>& settings,
                                                   bool controller_role, bool broker_role);

// "NAME://host:port,..." (protocols from `protocols`, by name). Exposed for tests.
absl::StatusOr<std::vector<Endpoint>> ParseListenerList(
    std::string_view setting, std::string_view value,
    const std::map<std::string, SecurityProtocol>& protocols);

}  // namespace strand
