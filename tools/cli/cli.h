#pragma once

// The strand command-line tool, as a function so tests can run it in-process:
//   strand [--bootstrap HOST:PORT[,HOST:PORT]] [--command-config FILE] [--timeout-ms MS] [-v]
//          GROUP COMMAND [ARGS]
// --command-config (Kafka's name; default $STRAND_COMMAND_CONFIG) is a .properties file of client
// settings every command uses: security.protocol=ssl, ssl.ca.location, ssl.certificate.location,
// ssl.key.location for a TLS cluster (docs/security.md), and any producer/consumer setting.
// Results go to `out`, errors and diagnostics (and perf progress) to `err`. Returns the exit code
// (tools/cli/exit_codes.h): 0 success, 1 the cluster answered with an error (or a record was
// not delivered), 2 usage error, 3 the cluster could not be reached, 4 bad input (produce),
// 5 fewer records than asked for before the idle timeout (consume, perf consume).

#include <istream>
#include <ostream>

namespace strand::cli {

// The bootstrap list used when --bootstrap is not given.
inline constexpr char kDefaultBootstrap[] = "127.0.0.1:9093";
inline constexpr char kBootstrapEnv[] = "STRAND_BOOTSTRAP";
inline constexpr char kCommandConfigEnv[] = "STRAND_COMMAND_CONFIG";

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);
// The same with the input `produce` reads (RunCli above reads std::cin).
int RunCli(int argc, const char* const* argv, std::istream& in, std::ostream& out,
           std::ostream& err);

}  // namespace strand::cli
