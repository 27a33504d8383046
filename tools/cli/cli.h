#pragma once

// The strand command-line tool, as a function so tests can run it in-process:
//   strand [--bootstrap HOST:PORT[,HOST:PORT]] [--timeout-ms MS] [-v] GROUP COMMAND [ARGS]
// Results go to `out`, errors and diagnostics to `err`. Returns the exit code
// (tools/cli/exit_codes.h): 0 success, 1 the cluster answered with an error, 2 usage error,
// 3 the cluster could not be reached.

#include <ostream>

namespace strand::cli {

// The bootstrap list used when --bootstrap is not given.
inline constexpr char kDefaultBootstrap[] = "127.0.0.1:9093";
inline constexpr char kBootstrapEnv[] = "STRAND_BOOTSTRAP";

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace strand::cli
