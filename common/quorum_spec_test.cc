// Tests parsing of the voter list (controller.quorum.voters form).
#include "common/quorum_spec.h"

#include <gtest/gtest.h>

namespace strand {
namespace {

TEST(QuorumSpec, ParsesIdsAndAddresses) {
  auto v = ParseQuorumVoters("1@127.0.0.1:9001,2@host-b:9002,3@[::1]:9003");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->size(), 3u);
  EXPECT_EQ(v->at(NodeId(1)), "127.0.0.1:9001");
  EXPECT_EQ(v->at(NodeId(3)), "[::1]:9003");
}

TEST(QuorumSpec, RejectsMalformedItems) {
  for (const char* bad :
       {"", "1@", "x@h:1", "1:h@2", "1@h", "1@h:1,1@h:2", "1@h:1,,2@h:2", "-1@h:1", "1@:9"}) {
    EXPECT_FALSE(ParseQuorumVoters(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace strand
