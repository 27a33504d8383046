// strand-server's settings: the three layers and their order, unknown names, the pod index.
#include "tools/server_settings.h"

#include <map>
#include <optional>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace strand::server {
namespace {

using ::testing::HasSubstr;

std::function<std::optional<std::string>(const std::string&)> Env(
    std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string ErrorOf(const absl::StatusOr<ServerSettings>& s) {
  return s.ok() ? "OK" : std::string(s.status().message());
}

TEST(ServerSettings, EnvironmentNames) {
  EXPECT_EQ(EnvironmentName("node.id"), "STRAND_NODE_ID");
  EXPECT_EQ(EnvironmentName("broker.rack"), "STRAND_BROKER_RACK");
  EXPECT_EQ(EnvironmentName("listener.security.protocol.map"),
            "STRAND_LISTENER_SECURITY_PROTOCOL_MAP");
}

TEST(ServerSettings, CommandLineOverridesFileAndEnvironmentOverridesBoth) {
  SettingsLayers layers;
  layers.file = {{"node.id", "1"},
                 {"broker.rack", "file-rack"},
                 {"log.dirs", "/data/file"},
                 {"num.partitions", "3"}};
  layers.flags = {{"broker.rack", "flag-rack"}, {"log.dirs", "/data/flag"}};
  layers.getenv = Env({{"STRAND_BROKER_RACK", "zone-b"}, {"STRAND_BOOTSTRAP", "ignored"}});
  auto s = ResolveServerSettings(layers);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->Get("node.id"), "1");
  EXPECT_EQ(s->origin.at("node.id"), "--config-file");
  EXPECT_EQ(s->Get("log.dirs"), "/data/flag");
  EXPECT_EQ(s->origin.at("log.dirs"), "the command line");
  EXPECT_EQ(s->Get("broker.rack"), "zone-b");
  EXPECT_EQ(s->origin.at("broker.rack"), "$STRAND_BROKER_RACK");
  EXPECT_EQ(s->Get("num.partitions"), "3");  // a static cluster setting passes through
  EXPECT_FALSE(s->Has("bootstrap"));         // other STRAND_ variables are not settings
}

TEST(ServerSettings, UnknownNamesAreRefusedWithTheirOrigin) {
  SettingsLayers layers;
  layers.file = {{"node.idd", "1"}};
  EXPECT_THAT(ErrorOf(ResolveServerSettings(layers)),
              HasSubstr("node.idd (from --config-file): unknown setting"));
  layers.file = {};
  layers.flags = {{"log.retention.hourz", "1"}};
  EXPECT_THAT(ErrorOf(ResolveServerSettings(layers)),
              HasSubstr("log.retention.hourz (from the command line): unknown setting"));
  // Listener, broker and cluster settings are known; so are per-listener TLS overrides.
  layers.flags = {{"listeners", "CLIENT://:9092"},
                  {"group.consumer.session.timeout.ms", "45000"},
                  {"min.insync.replicas", "2"},
                  {"listener.name.client.ssl.client.auth", "required"}};
  EXPECT_EQ(ErrorOf(ResolveServerSettings(layers)), "OK");
}

TEST(ServerSettings, NodeIdFromThePodIndex) {
  SettingsLayers layers;
  layers.file = {{"strand.node.id.base", "100"}};
  layers.getenv = Env({{"STRAND_POD_INDEX", "2"}});
  auto s = ResolveServerSettings(layers);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->Get("node.id"), "102");
  EXPECT_EQ(s->origin.at("node.id"), "strand.node.id.base + $STRAND_POD_INDEX");

  layers.getenv = Env({});
  EXPECT_THAT(ErrorOf(ResolveServerSettings(layers)), HasSubstr("needs $STRAND_POD_INDEX"));
  layers.getenv = Env({{"STRAND_POD_INDEX", "-1"}});
  EXPECT_THAT(ErrorOf(ResolveServerSettings(layers)), HasSubstr("got '-1'"));
  layers.getenv = Env({{"STRAND_POD_INDEX", "0"}});
  layers.flags = {{"node.id", "7"}};
  EXPECT_THAT(ErrorOf(ResolveServerSettings(layers)), HasSubstr("give one of them"));
}

TEST(ServerSettings, MalformedProcessSettings) {
  SettingsLayers layers;
  layers.flags = {{"node.id", "one"}};
  EXPECT_THAT(ErrorOf(ResolveServerSettings(layers)),
              HasSubstr("node.id=one (from the command line)"));
  layers.flags = {{"log.dirs", "/a,/b"}};
  EXPECT_THAT(ErrorOf(ResolveServerSettings(layers)), HasSubstr("one directory per node"));
  layers.getenv = Env({{"STRAND_NODE_ID", "-5"}});
  layers.flags = {};
  EXPECT_THAT(ErrorOf(ResolveServerSettings(layers)), HasSubstr("(from $STRAND_NODE_ID)"));
}

}  // namespace
}  // namespace strand::server
