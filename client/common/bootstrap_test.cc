// Tests ParseBootstrap: the accepted forms and an error naming the culprit for each bad one.
#include "client/common/bootstrap.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace strand::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseBootstrap, ListOfAddresses_KeepsOrderTrimsAndDropsDuplicates) {
  auto a = ParseBootstrap(" 127.0.0.1:9091, localhost:9092,127.0.0.1:9091,[::1]:9093 ");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(*a, ElementsAre("127.0.0.1:9091", "localhost:9092", "[::1]:9093"));
}

TEST(ParseBootstrap, BadItems_NameTheItem) {
  EXPECT_THAT(std::string(ParseBootstrap("").status().message()), HasSubstr("empty"));
  EXPECT_THAT(std::string(ParseBootstrap("a:1,,b:2").status().message()),
              HasSubstr("empty address"));
  EXPECT_THAT(std::string(ParseBootstrap("a:1,hostonly").status().message()),
              HasSubstr("'hostonly' is not host:port"));
  EXPECT_THAT(std::string(ParseBootstrap("a:0").status().message()), HasSubstr("port '0'"));
  EXPECT_THAT(std::string(ParseBootstrap("a:65536").status().message()), HasSubstr("65536"));
  EXPECT_THAT(std::string(ParseBootstrap("a:9x").status().message()), HasSubstr("'9x'"));
  EXPECT_THAT(std::string(ParseBootstrap(":9092").status().message()), HasSubstr("':9092'"));
  EXPECT_THAT(std::string(ParseBootstrap("::1:9092").status().message()), HasSubstr("IPv6"));
}

TEST(ParseBootstrap, TooManyAddresses_Refused) {
  std::string list;
  for (size_t i = 0; i <= kBootstrapAddressesMax; ++i) {
    list += (i ? "," : "") + std::string("h") + std::to_string(i) + ":1";
  }
  EXPECT_FALSE(ParseBootstrap(list).ok());
}

}  // namespace
}  // namespace strand::client
