// Tests the listener settings (Kafka's names): parsing, defaults, which planes each listener
// carries, and the errors an operator sees for a bad setting.
#include "common/listener_config.h"

#include <gtest/gtest.h>

namespace strand {
namespace {

using Settings = std::map<std::string, std::string>;

Settings Broker() {
  return {{"listeners", "CLIENT://127.0.0.1:9092,REPLICATION://127.0.0.1:9192,"
                        "CONTROLLER://127.0.0.1:9292"},
          {"listener.security.protocol.map",
           "CLIENT:PLAINTEXT,REPLICATION:SSL,CONTROLLER:SSL"},
          {"controller.listener.names", "CONTROLLER"},
          {"inter.broker.listener.name", "REPLICATION"}};
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
                {"listener.security.protocol.map", "CONTROLLER:SSL,ADMIN:PLAINTEXT"},
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

}  // namespace
}  // namespace strand
