#pragma once

// CliContext: what every strand subcommand shares — the global options, the streams (stdin for
// `produce`, stdout for results, stderr for errors and diagnostics) and the action chosen by
// parsing.
// One per run; owned by RunCli.

#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "strand/admin.h"
#include "strand/properties.h"

namespace strand::cli {

inline constexpr int64_t kTimeoutMsDefault = 30'000;
inline constexpr int64_t kTimeoutMsMax = 3'600'000;
// One attempt on one address never takes more than this, so a hung address leaves time for the
// others.
inline constexpr int64_t kAttemptTimeoutMsMax = 10'000;
inline constexpr int64_t kConnectTimeoutMsMax = 5'000;

struct CliContext {
  CliContext(std::istream& in_stream, std::ostream& out_stream, std::ostream& err_stream)
      : in(in_stream), out(out_stream), err(err_stream) {}

  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  std::string bootstrap;
  std::string command_config;  // a .properties file of client settings (--command-config)
  int64_t timeout_ms = kTimeoutMsDefault;
  bool verbose = false;
  // Set by the leaf subcommand that was parsed; returns the exit code.
  std::function<int()> action;
};

// Connects (a client for the global options) and runs `body` with it; a malformed --bootstrap is
// reported as a usage error.
int WithAdmin(const CliContext& context, const std::function<int(client::AdminClient&)>& body);

// The settings in a .properties file; errors name `option` and the file.
absl::StatusOr<client::Properties> ReadPropertiesFile(const std::string& option,
                                                      const std::string& path);
// The settings of --command-config (empty when not given).
absl::StatusOr<client::Properties> CommandConfig(const CliContext& context);

}  // namespace strand::cli
