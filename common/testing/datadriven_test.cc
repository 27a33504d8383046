// Tests the data-driven script runner on in-memory scripts and temporary files: parsing of
// commands, arguments, inputs, comments and both output forms; that a wrong recorded output is
// reported (as a GoogleTest failure at the script's line, checked with gtest-spi) and never
// silently passes; and that rewrite mode records actual outputs while keeping everything else.
#include "common/testing/datadriven.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace strand::testing {
namespace {

// Echoes a command back: its name, its arguments and its input, so that the tests see exactly
// what the parser produced.
std::string Echo(const Command& cmd) {
  std::string out = cmd.name;
  for (const CommandArg& arg : cmd.args) {
    out += " [" + arg.key;
    for (const std::string& v : arg.values) out += " " + v;
    out += "]";
  }
  out += "\n" + cmd.input;
  return out;
}

Script MustParse(std::string_view text) {
  auto script = ParseScript(text, "mem.txt");
  EXPECT_TRUE(script.ok()) << script.status();
  return script.ok() ? *script : Script{};
}

TEST(DataDriven, ParseScript_CommandsArgumentsInputsAndComments) {
  const Script script = MustParse(
      "# a comment\n"
      "\n"
      "add-nodes 3 voters=(1, 2,3) flag=true \"two words\"\n"
      "line one\n"
      "  line two\n"
      "----\n"
      "ok\n"
      "\n"
      "status 1\n"
      "----\n"
      "\n"
      "# trailing comment\n");
  ASSERT_EQ(script.blocks.size(), 2u);
  const Command& first = script.blocks[0].command;
  EXPECT_EQ(first.name, "add-nodes");
  EXPECT_EQ(first.line, 3);
  EXPECT_EQ(first.Positional(), (std::vector<std::string>{"3", "two words"}));
  EXPECT_EQ(first.IntList("voters"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_TRUE(first.BoolOr("flag", false));
  EXPECT_EQ(first.IntOr("missing", 7), 7);
  EXPECT_EQ(first.input, "line one\n  line two\n");
  EXPECT_EQ(script.blocks[0].expected, "ok\n");
  EXPECT_EQ(script.blocks[0].leading, "# a comment\n\n");
  EXPECT_EQ(script.blocks[1].command.line, 9);
  EXPECT_EQ(script.blocks[1].expected, "");
  EXPECT_EQ(script.trailing, "# trailing comment\n");
}

TEST(DataDriven, ParseScript_DoubledSeparatorKeepsBlankLines) {
  const Script script = MustParse(
      "show\n"
      "----\n"
      "----\n"
      "a\n"
      "\n"
      "b\n"
      "----\n"
      "----\n"
      "\n"
      "next\n"
      "----\n"
      "c\n");
  ASSERT_EQ(script.blocks.size(), 2u);
  EXPECT_TRUE(script.blocks[0].doubled);
  EXPECT_EQ(script.blocks[0].expected, "a\n\nb\n");
  EXPECT_EQ(script.blocks[1].expected, "c\n");
}

TEST(DataDriven, ParseScript_ErrorsNameTheLine) {
  auto missing = ParseScript("ok\n----\nx\n\ncmd\nno separator\n", "f.txt");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("f.txt:5"), std::string_view::npos) << missing.status();
  auto unclosed = ParseScript("cmd\n----\n----\nx\n", "f.txt");
  EXPECT_FALSE(unclosed.ok());
  auto unbalanced = ParseScript("cmd voters=(1,2\n----\n", "f.txt");
  EXPECT_FALSE(unbalanced.ok());
}

TEST(DataDriven, RunScript_MatchingOutputsPass) {
  const std::string text = "hello 1\n----\nhello [1]\n\nbye\n----\nbye\n";
  const RunResult result = RunScript(MustParse(text), Echo);
  EXPECT_TRUE(result.mismatches.empty());
  EXPECT_EQ(result.rewritten, text);  // nothing to change: the rewrite is the file itself
}

TEST(DataDriven, RunScript_WrongExpectedOutputIsAMismatch) {
  const Script script = MustParse("hello 1\n----\nhello [2]\n\nbye\n----\nbye\n");
  const RunResult result = RunScript(script, Echo);
  ASSERT_EQ(result.mismatches.size(), 1u);
  const Mismatch& m = result.mismatches[0];
  EXPECT_EQ(m.line, 1);
  EXPECT_EQ(m.expected, "hello [2]\n");
  EXPECT_EQ(m.actual, "hello [1]\n");
  const std::string described = DescribeMismatch(m);
  EXPECT_NE(described.find("mem.txt:1"), std::string::npos) << described;
  EXPECT_NE(described.find("- hello [2]\n+ hello [1]\n"), std::string::npos) << described;
  EXPECT_EQ(result.rewritten, "hello 1\n----\nhello [1]\n\nbye\n----\nbye\n");
}

TEST(DataDriven, RunScript_RewriteUsesDoubledFormOnlyWhenNeeded) {
  const Script script = MustParse("# keep me\nmulti\n----\nold\n\n# and me\nsingle\n----\n");
  const RunResult result = RunScript(script, [](const Command& cmd) -> std::string {
    return cmd.name == "multi" ? "a\n\nb" : "";
  });
  EXPECT_EQ(result.rewritten,
            "# keep me\nmulti\n----\n----\na\n\nb\n----\n----\n\n# and me\nsingle\n----\n");
  // The rewritten script parses back to the outputs that produced it.
  const Script again = MustParse(result.rewritten);
  ASSERT_EQ(again.blocks.size(), 2u);
  EXPECT_EQ(again.blocks[0].expected, "a\n\nb\n");
  EXPECT_EQ(again.blocks[1].expected, "");
}

TEST(DataDriven, LineDiff_MarksRemovedAndAddedLines) {
  EXPECT_EQ(LineDiff("a\nb\nc\n", "a\nx\nc\nd\n"), "  a\n- b\n+ x\n  c\n+ d\n");
}

class DataDrivenFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("datadriven_test_" + std::to_string(::getpid()) + ".txt"))
                .string();
  }
  void TearDown() override { std::remove(path_.c_str()); }

  void Write(const std::string& text) { std::ofstream(path_, std::ios::trunc) << text; }
  std::string Read() {
    std::stringstream s;
    s << std::ifstream(path_).rdbuf();
    return s.str();
  }

  std::string path_;
};

TEST_F(DataDrivenFile, RunFile_WrongOutputFailsTheTestAtTheScriptLine) {
  Write("# comment\nhello 1\n----\nhello [1]\n\nhello 2\n----\nwrong\n");
  const std::string path = path_;
  EXPECT_NONFATAL_FAILURE(RunFile(path, Echo, RunOptions{.rewrite = false}), "datadriven_test_");
  EXPECT_NONFATAL_FAILURE(RunFile(path, Echo, RunOptions{.rewrite = false}), "+ hello [2]");
  EXPECT_EQ(Read(), "# comment\nhello 1\n----\nhello [1]\n\nhello 2\n----\nwrong\n");
}

TEST_F(DataDrivenFile, RunFile_RewriteRecordsActualOutputs) {
  Write("# comment\nhello 1\n----\nhello [1]\n\nhello 2\n----\nwrong\n");
  RunFile(path_, Echo, RunOptions{.rewrite = true});
  EXPECT_EQ(Read(), "# comment\nhello 1\n----\nhello [1]\n\nhello 2\n----\nhello [2]\n");
  RunFile(path_, Echo, RunOptions{.rewrite = false});  // now passes
}

TEST_F(DataDrivenFile, Command_ReportErrorFailsAtTheCommandLine) {
  Write("\nbad n=x\n----\n");
  const std::string path = path_;
  EXPECT_NONFATAL_FAILURE(RunFile(
                              path,
                              [](const Command& cmd) {
                                cmd.IntOr("n", 0);
                                return std::string();
                              },
                              RunOptions{.rewrite = false}),
                          "is not an integer");
}

}  // namespace
}  // namespace strand::testing
