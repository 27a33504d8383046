// Tests the listener settings (Kafka's names): parsing, defaults, which planes each listener
// carries, and the errors an operator sees for a bad setting.
#include "common/listener_config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace strand {
namespace {

using Settings = std::map<std::string, std::string>;

// PEM-shaped files (the settings check what the files hold, not the keys themselves; the
// integration tests use real ones).
std::string WriteFile(const std::string& name, const std::string& text) {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/listener_config_test.XXXXXX";
    return std::string(mkdtemp(tmpl));
  }();
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}
const std::string kCert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const std::string kKey = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n";

Settings Broker() {
  return {{"listeners", "CLIENT://127.0.0.1:9092,REPLICATION://127.0.0.1:9192,"
                        "CONTROLLER://127.0.0.1:9292"},
          {"listener.security.protocol.map",
           "CLIENT:PLAINTEXT,REPLICATION:SSL,CONTROLLER:SSL"},
          {"controller.listener.names", "CONTROLLER"},
          {"inter.broker.listener.name", "REPLICATION"},
          {"ssl.keystore.location", WriteFile("node.pem", kKey + kCert)},
          {"ssl.truststore.location", WriteFile("ca.pem", kCert)}};
}

std::string Error(const Settings& s, bool controller, bool broker) {
  auto c = ParseListenerConfig(s, controller, broker);
  return c.ok() ? "ok" : std::string(c.status().message());
}

TEST(ListenerConfig, BrokerPlanesAndProtocols) {
  auto c = ParseListenerConfig(Broker(), false, true);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->PlanesOf("CLIENT"), kClientPlane);
  EXPECT_EQ(c->PlanesOf("REPLICATION"), kReplicationPlane);
  EXPECT_EQ(c->PlanesOf("CONTROLLER"), kControllerPlane);
  EXPECT_EQ(c->Bound("REPLICATION")->protocol, SecurityProtocol::kSsl);
  EXPECT_EQ(c->Bound("CLIENT")->protocol, SecurityProtocol::kPlaintext);
  EXPECT_EQ(c->ControllerListener().Address(), "127.0.0.1:9292");
}

TEST(ListenerConfig, OneListenerCarriesClientsAndReplication) {
  // Kafka's single-listener default: PLAINTEXT is the inter-broker listener and serves clients.
  Settings s = {{"listeners", "PLAINTEXT://10.0.0.1:9092,CONTROLLER://10.0.0.1:9093"},
                {"controller.listener.names", "CONTROLLER"}};
  auto c = ParseListenerConfig(s, false, true);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->inter_broker_listener_name, "PLAINTEXT");
  EXPECT_EQ(c->PlanesOf("PLAINTEXT"), kReplicationPlane | kClientPlane);
  EXPECT_EQ(c->Bound("CONTROLLER")->protocol, SecurityProtocol::kPlaintext);  // map not given
}

TEST(ListenerConfig, AdvertisedOverridesPerName) {
  Settings s = Broker();
  s["listeners"] = "CLIENT://:9092,REPLICATION://0.0.0.0:9192,CONTROLLER://[::]:9292";
  s["advertised.listeners"] =
      "CLIENT://broker-0.strand:9092,REPLICATION://broker-0.strand:9192,"
      "CONTROLLER://[fd00::1]:9292";
  auto c = ParseListenerConfig(s, false, true);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->Bound("CLIENT")->host, "");
  EXPECT_EQ(c->Advertised("CLIENT")->Address(), "broker-0.strand:9092");
  EXPECT_EQ(c->Advertised("CONTROLLER")->Address(), "[fd00::1]:9292");
  EXPECT_EQ(c->Advertised("CONTROLLER")->ToString(), "CONTROLLER://[fd00::1]:9292");
}

TEST(ListenerConfig, ControllerServesAdminOnOtherListeners) {
  Settings s = {{"listeners", "CONTROLLER://127.0.0.1:9093,ADMIN://127.0.0.1:9094"},
                {"listener.security.protocol.map", "CONTROLLER:PLAINTEXT,ADMIN:PLAINTEXT"},
                {"controller.listener.names", "CONTROLLER"}};
  auto c = ParseListenerConfig(s, true, false);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->PlanesOf("CONTROLLER"), kControllerPlane);
  EXPECT_EQ(c->PlanesOf("ADMIN"), kClientPlane);
}

TEST(ListenerConfig, ErrorsNameTheSetting) {
  Settings s = Broker();
  s.erase("listeners");
  EXPECT_NE(Error(s, false, true).find("listeners: required"), std::string::npos);

  s = Broker();
  s.erase("controller.listener.names");
  EXPECT_NE(Error(s, false, true).find("controller.listener.names: required"), std::string::npos);

  s = Broker();
  s["listeners"] += ",OTHER://127.0.0.1:9392";
  EXPECT_NE(Error(s, false, true).find("OTHER has no security protocol"), std::string::npos);

  s = Broker();
  s["inter.broker.listener.name"] = "CONTROLLER";
  EXPECT_NE(Error(s, false, true).find("is a controller listener"), std::string::npos);

  s = Broker();
  s.erase("inter.broker.listener.name");  // default PLAINTEXT: not bound here
  EXPECT_NE(Error(s, false, true).find("no listener is named PLAINTEXT"), std::string::npos);

  s = Broker();
  s["listeners"] = "CLIENT://127.0.0.1:9092,REPLICATION://127.0.0.1:9192";
  EXPECT_NE(Error(s, false, true).find("exactly one listener named in controller.listener.names"),
            std::string::npos);

  s = Broker();
  s["listeners"] = "CLIENT://:9092,REPLICATION://127.0.0.1:9192,CONTROLLER://127.0.0.1:9292";
  EXPECT_NE(Error(s, false, true).find("nobody can connect to"), std::string::npos);

  s = Broker();
  s["advertised.listeners"] = "EXTERNAL://h:1";
  EXPECT_NE(Error(s, false, true).find("EXTERNAL has no security protocol"), std::string::npos);

  s = Broker();
  s["listener.security.protocol.map"] = "CLIENT:SASL_SSL";
  EXPECT_NE(Error(s, false, true).find("not PLAINTEXT or SSL"), std::string::npos);

  s = Broker();
  s["listeners"] = "CLIENT://127.0.0.1:9092,REPLICATION://127.0.0.1:9092,CONTROLLER://h:1";
  EXPECT_NE(Error(s, false, true).find("used by two listeners"), std::string::npos);

  Settings controller = {{"listeners", "CONTROLLER://127.0.0.1:9093"},
                         {"controller.listener.names", "CONTROLLER"},
                         {"inter.broker.listener.name", "CONTROLLER"}};
  EXPECT_NE(Error(controller, true, false).find("only brokers replicate"), std::string::npos);

  for (const char* bad : {"CLIENT//h:1", "CLIENT://h", "CLIENT://h:x", "CLIENT://h:70000",
                          "://h:1", "C LIENT://h:1"}) {
    s = Broker();
    s["listeners"] = std::string(bad) + ",CONTROLLER://127.0.0.1:9292";
    EXPECT_NE(Error(s, false, true), "ok") << bad;
  }
}

TEST(ListenerConfig, TlsSettingsPerListener) {
  Settings s = Broker();
  s["listener.security.protocol.map"] = "CLIENT:SSL,REPLICATION:SSL,CONTROLLER:SSL";
  s["ssl.client.auth"] = "requested";
  s["listener.name.client.ssl.endpoint.identification.algorithm"] = "";
  s["listener.name.client.ssl.principal.mapping.rules"] = "RULE:^CN=(.*?),.*$/$1/L,DEFAULT";
  s["strand.ssl.refresh.interval.ms"] = "1500";
  auto c = ParseListenerConfig(s, false, true);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_NE(c->Tls("CLIENT"), nullptr);
  EXPECT_EQ(c->Tls("CLIENT")->client_auth, ClientAuth::kRequested);
  EXPECT_FALSE(c->Tls("CLIENT")->verify_hostname);
  EXPECT_EQ(c->Tls("CLIENT")->principal_mapping_rules, "RULE:^CN=(.*?),.*$/$1/L,DEFAULT");
  // Internal planes always require client certificates, whatever the global default says.
  EXPECT_EQ(c->Tls("REPLICATION")->client_auth, ClientAuth::kRequired);
  EXPECT_EQ(c->Tls("CONTROLLER")->client_auth, ClientAuth::kRequired);
  EXPECT_TRUE(c->Tls("CONTROLLER")->verify_hostname);
  EXPECT_EQ(c->Tls("CONTROLLER")->principal_mapping_rules, kDefaultPrincipalRules);
  EXPECT_EQ(c->ssl_refresh_interval_s, 2);
  EXPECT_TRUE(IsListenerSetting("listener.name.client.ssl.keystore.location"));
  EXPECT_TRUE(IsListenerSetting("ssl.client.auth"));
  EXPECT_FALSE(IsListenerSetting("listener.name.client.ssl.bogus"));
  EXPECT_FALSE(IsListenerSetting("listener.name.ssl.keystore.location.x"));

  auto plain = ParseListenerConfig(Broker(), false, true);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->Tls("CLIENT"), nullptr);  // PLAINTEXT
}

TEST(ListenerConfig, TlsErrorsNameTheSetting) {
  Settings s = Broker();
  s.erase("ssl.keystore.location");
  EXPECT_NE(Error(s, false, true).find("ssl.keystore.location: listener REPLICATION is SSL"),
            std::string::npos) << Error(s, false, true);
  s = Broker();
  s["ssl.keystore.location"] = "/nonexistent/node.pem";
  EXPECT_EQ(Error(s, false, true), "ssl.keystore.location: cannot read '/nonexistent/node.pem'");
  s = Broker();
  s["listener.name.replication.ssl.keystore.location"] = WriteFile("cert-only.pem", kCert);
  EXPECT_NE(Error(s, false, true).find("listener.name.replication.ssl.keystore.location: '"),
            std::string::npos) << Error(s, false, true);
  s = Broker();
  s["ssl.keystore.location"] = WriteFile(
      "encrypted.pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nx\n-----END ENCRYPTED PRIVATE KEY-----\n" + kCert);
  EXPECT_NE(Error(s, false, true).find("encrypted private key"), std::string::npos);
  s = Broker();
  s.erase("ssl.truststore.location");
  EXPECT_NE(Error(s, false, true).find("ssl.truststore.location: listener REPLICATION verifies"),
            std::string::npos) << Error(s, false, true);
  s = Broker();
  s["ssl.truststore.location"] = WriteFile("empty.pem", "nothing\n");
  EXPECT_NE(Error(s, false, true).find("holds no PEM certificate"), std::string::npos);
  s = Broker();
  s["listener.name.replication.ssl.client.auth"] = "none";
  EXPECT_NE(Error(s, false, true).find("listener.name.replication.ssl.client.auth: listener "
                                       "REPLICATION carries the controller or replication plane"),
            std::string::npos) << Error(s, false, true);
  s = Broker();
  s["ssl.client.auth"] = "sometimes";
  EXPECT_EQ(Error(s, false, true), "ssl.client.auth: 'sometimes': expected none, requested or required");
  s = Broker();
  s["ssl.keystore.type"] = "JKS";
  EXPECT_EQ(Error(s, false, true), "ssl.keystore.type: 'JKS': only PEM files are supported");
  s = Broker();
  s["ssl.endpoint.identification.algorithm"] = "ldap";
  EXPECT_EQ(Error(s, false, true), "ssl.endpoint.identification.algorithm: 'ldap': expected https or empty");
  s = Broker();
  s["ssl.principal.mapping.rules"] = "RULE:^CN=(.*$/$1/";
  EXPECT_NE(Error(s, false, true).find("ssl.principal.mapping.rules: pattern '^CN=(.*$' is not a "
                                       "valid regular expression"),
            std::string::npos) << Error(s, false, true);
  s = Broker();
  s["listener.name.other.ssl.client.auth"] = "required";
  EXPECT_EQ(Error(s, false, true), "listener.name.other.ssl.client.auth: no listener is named OTHER");
  s = Broker();
  s["strand.ssl.refresh.interval.ms"] = "10";
  EXPECT_EQ(Error(s, false, true), "strand.ssl.refresh.interval.ms: '10': expected milliseconds, at least 1000");
}

TEST(ListenerConfig, ConnectionLimits) {
  Settings s = Broker();
  auto defaults = ParseListenerConfig(s, false, true);
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->connection_limits.max_connections, 10'000);
  EXPECT_EQ(defaults->connection_limits.max_connections_per_ip, 10'000);
  EXPECT_EQ(defaults->connection_limits.max_connection_creation_rate, 1'000);
  s["max.connections"] = "500";
  s["max.connections.per.ip"] = "50";
  s["max.connection.creation.rate"] = "20";
  auto c = ParseListenerConfig(s, false, true);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->connection_limits.max_connections, 500);
  EXPECT_EQ(c->connection_limits.max_connections_per_ip, 50);
  EXPECT_EQ(c->connection_limits.max_connection_creation_rate, 20);
  EXPECT_TRUE(IsListenerSetting("max.connections.per.ip"));
  s["max.connections.per.ip"] = "0";
  EXPECT_EQ(Error(s, false, true), "max.connections.per.ip: '0': expected a positive count");
  s["max.connections.per.ip"] = "lots";
  EXPECT_EQ(Error(s, false, true), "max.connections.per.ip: 'lots': expected a positive count");
}

}  // namespace
}  // namespace strand
