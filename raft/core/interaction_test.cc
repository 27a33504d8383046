// Golden interaction scripts for the Raft core: every raft/core/testdata/*.txt is one test. A
// script drives a few RawNodes step by step (InteractionEnv: elections, ticks, proposals,
// message delivery, partitions, snapshots) and records every Ready each node handles; the test
// replays the commands and compares each output with the recorded one. A change in the
// protocol's behaviour shows up as a failing line diff; if the change is intended, regenerate
// with STRAND_REWRITE=1 and review the scripts' git diff. See raft/README.md.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/testing/datadriven.h"
#include "raft/core/interaction_env.h"

namespace strand::raft::testing {
namespace {

std::string TestdataDir() { return std::string(STRAND_SOURCE_DIR) + "/raft/core/testdata"; }

class Interaction : public ::testing::TestWithParam<std::string> {};

TEST_P(Interaction, Script) {
  InteractionEnv env;  // each script starts from an empty cluster
  strand::testing::RunFile(GetParam(),
                           [&](const strand::testing::Command& cmd) { return env.Handle(cmd); });
}

// The test's name is the script's file name, so `--gtest_filter=*prevote*` runs one script.
std::string ScriptName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = std::filesystem::path(info.param).stem().string();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Testdata, Interaction,
                         ::testing::ValuesIn(strand::testing::ListFiles(TestdataDir())),
                         ScriptName);

// A script directory that lost its files must not pass by running nothing.
TEST(InteractionScripts, TestdataIsNotEmpty) {
  EXPECT_GE(strand::testing::ListFiles(TestdataDir()).size(), 6u) << TestdataDir();
}

}  // namespace
}  // namespace strand::raft::testing
