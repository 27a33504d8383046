// meta.properties: written on the first start, checked on every later one.
#include "common/meta_properties.h"

#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace strand {
namespace {

using ::testing::HasSubstr;

class MetaPropertiesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/strand-meta-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(MetaPropertiesTest, FirstStartStampsLaterStartsCheck) {
  const std::string data = dir_ + "/node-101";
  ASSERT_TRUE(StampDataDirectory(data, "prod", 101).ok());
  std::ifstream in(data + "/meta.properties");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("version=1\ncluster.id=prod\nnode.id=101\n"));
  EXPECT_TRUE(StampDataDirectory(data, "prod", 101).ok());

  absl::Status other_node = StampDataDirectory(data, "prod", 102);
  EXPECT_EQ(other_node.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(other_node.message(), HasSubstr("belongs to node 101 of cluster 'prod', but this is "
                                              "node 102 of cluster 'prod'"));
  absl::Status other_cluster = StampDataDirectory(data, "staging", 101);
  EXPECT_EQ(other_cluster.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(other_cluster.message(), HasSubstr("of cluster 'staging'"));
}

TEST_F(MetaPropertiesTest, UnreadableStampIsRefused) {
  {
    std::ofstream out(dir_ + "/meta.properties");
    out << "version=1\nnode.id=3\n";
  }
  absl::Status s = StampDataDirectory(dir_, "prod", 3);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("lacks version=1, cluster.id or node.id"));
  {
    std::ofstream out(dir_ + "/meta.properties");
    out << "garbage\n";
  }
  EXPECT_EQ(StampDataDirectory(dir_, "prod", 3).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace strand
