#pragma once

// Runs the strand CLI in-process, as `strand ARGS...` with `input` on stdin, for the CLI's
// tests: its exit code and what it printed on stdout and stderr.

#include <sstream>
#include <string>
#include <vector>

#include "tools/cli/cli.h"

namespace strand::cli::testing {

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

inline CliRun RunStrand(const std::vector<std::string>& args, const std::string& input = "") {
  std::vector<const char*> argv = {"strand"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::istringstream in(input);
  std::ostringstream out, err;
  CliRun r;
  r.code = RunCli(static_cast<int>(argv.size()), argv.data(), in, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

}  // namespace strand::cli::testing
