#pragma once

// Data-driven ("golden") tests: a script file holds commands, each followed by the output it
// must produce. The runner parses the file, hands every command to a test's handler, compares
// the handler's output with the recorded one and reports each difference as a GoogleTest
// failure at the script's file:line, with a line diff. With STRAND_REWRITE=1 in the environment
// it instead writes the actual outputs back into the file, so a behaviour change is reviewed as
// a diff of the script (`git diff`) rather than by hand-editing expectations.
//
// Script format:
//
//   # A comment line (only between blocks).
//   command positional key=value list=(1,2,3)
//   optional input lines, passed to the handler verbatim
//   ----
//   expected output, up to the first blank line
//
//   next-command ...
//   ----
//   ----
//   output that itself contains blank lines is wrapped in a doubled separator
//
//   and ends with one
//   ----
//   ----
//
// Blocks are separated by blank lines. The rewrite keeps comments, commands and inputs byte for
// byte and picks the doubled form only when an output contains a blank line.
//
// Reusable by any module (Raft, the group and transaction state machines): nothing here knows
// what a command means. Test-only code, single-threaded.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace strand::testing {

// One argument of a command line: `key`, `key=value` or `key=(v1,v2,...)`.
struct CommandArg {
  std::string key;
  std::vector<std::string> values;  // empty for a bare `key`
};

// One command of a script, as the handler sees it.
struct Command {
  std::string file;  // the script's name, for error messages
  int line = 0;      // 1-based line of the command in the script
  std::string name;  // the first word
  std::vector<CommandArg> args;
  std::string input;  // the lines between the command and `----`, each ending in '\n'

  // The command line as written (for messages).
  std::string raw;

  bool Has(std::string_view key) const;
  const CommandArg* Find(std::string_view key) const;
  // The single value of `key=value`, or nullopt when absent. A list or bare key is an error
  // reported through ReportError.
  std::optional<std::string> Value(std::string_view key) const;
  std::string ValueOr(std::string_view key, std::string_view fallback) const;
  int64_t IntOr(std::string_view key, int64_t fallback) const;
  bool BoolOr(std::string_view key, bool fallback) const;
  // Bare arguments (no '='), in order: `campaign 1` has positional {"1"}.
  std::vector<std::string> Positional() const;
  // Integers of `key=(1,2,3)` (or `key=4`); empty when absent.
  std::vector<int64_t> IntList(std::string_view key) const;

  // Fails the running test at this command's file:line (a script that misuses the handler).
  void ReportError(std::string_view message) const;
};

// A parsed block, with what the rewrite needs to reproduce the file.
struct Block {
  Command command;
  std::string expected;  // recorded output, each line ending in '\n' (empty for none)
  std::string leading;   // comment and blank lines before the command, verbatim
  std::string input_raw;
  bool doubled = false;     // the output was written between doubled separators
  bool terminated = false;  // a blank line ended the block (false only at the end of the file)
};

struct Script {
  std::vector<Block> blocks;
  std::string trailing;  // comments and blank lines after the last block
};

// Parses a script's text; `file` names it in errors and in Command::file.
absl::StatusOr<Script> ParseScript(std::string_view text, std::string_view file);

// A command whose output differed from the recorded one.
struct Mismatch {
  std::string file;
  int line = 0;
  std::string command;
  std::string expected;
  std::string actual;
};

using Handler = std::function<std::string(const Command&)>;

struct RunResult {
  std::vector<Mismatch> mismatches;
  std::string rewritten;  // the script with every output replaced by the actual one
};

// Runs every block of a parsed script through `handler`, in order. Pure: reports nothing to
// GoogleTest and touches no file, so the runner itself can be tested on in-memory scripts.
RunResult RunScript(const Script& script, const Handler& handler);

// A readable explanation of a mismatch: the command and a line diff (`-` expected, `+` actual).
std::string DescribeMismatch(const Mismatch& mismatch);
// A line diff of two texts: unchanged lines start with two spaces, removed ones with "- ",
// added ones with "+ ".
std::string LineDiff(std::string_view expected, std::string_view actual);

struct RunOptions {
  // Write actual outputs back into the file instead of failing. Defaults to STRAND_REWRITE=1.
  bool rewrite = RewriteRequested();
  static bool RewriteRequested();
};

// Reads `path`, runs it, and reports every mismatch as a non-fatal GoogleTest failure at the
// script's file:line (or, in rewrite mode, rewrites the file when anything changed).
void RunFile(const std::string& path, const Handler& handler, RunOptions options = {});

// The files in `dir` whose name ends in `suffix`, sorted (for one test per script).
std::vector<std::string> ListFiles(const std::string& dir, std::string_view suffix = ".txt");

}  // namespace strand::testing
