// Tests TopicId's text and byte forms.
#include "controller/state/topic_id.h"

#include <gtest/gtest.h>

namespace strand::controller {
namespace {

TEST(TopicId, StringAndBytes_RoundTrip) {
  Random random(3);
  for (int i = 0; i < 100; ++i) {
    TopicId id = TopicId::Random(random);
    EXPECT_EQ(id.ToString().size(), 22u);
    EXPECT_EQ(TopicId::FromString(id.ToString()), id);
    EXPECT_EQ(TopicId::FromBytes(id.Bytes()), id);
    EXPECT_FALSE(id.IsZero());
  }
  EXPECT_FALSE(TopicId::FromString("not-an-id").has_value());
  EXPECT_FALSE(TopicId::FromString(std::string(22, '*')).has_value());
  EXPECT_FALSE(TopicId::FromBytes("short").has_value());
}

TEST(TopicId, KnownValue) {
  // 16 zero bytes followed by one: base64url of 0x00..01 is "AAAAAAAAAAAAAAAAAAAAAQ".
  std::string bytes(16, '\0');
  bytes[15] = 1;
  EXPECT_EQ(TopicId::FromBytes(bytes)->ToString(), "AAAAAAAAAAAAAAAAAAAAAQ");
}

}  // namespace
}  // namespace strand::controller
