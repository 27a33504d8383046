#pragma once

// What the data commands (produce, consume, perf) share: client properties from the command line
// (--property KEY=VALUE, --config-file FILE) over defaults derived from the global options, and
// how a client's failure becomes an exit code.

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strand/properties.h"
#include "tools/cli/context.h"

namespace strand::cli {

struct ClientPropertyArgs {
  std::vector<std::string> properties;  // --property KEY=VALUE (repeatable)
  std::string config_file;              // --config-file FILE (a Java-style .properties file)
};

// Registers --property/-X and --config-file on a data command.
void AddClientPropertyOptions(CLI::App& command, ClientPropertyArgs& args);

// Which client the properties are for: the derived defaults differ.
enum class ClientKind { kProducer, kConsumer };

// bootstrap.servers from --bootstrap, then the file, then --property (later ones win), then
// the defaults derived from --timeout-ms for keys still unset:
//   producer: max.block.ms = T, request.timeout.ms = min(T/2, 30000),
//             delivery.timeout.ms = max(T, linger.ms + request.timeout.ms);
//   consumer: default.api.timeout.ms = T, request.timeout.ms = min(T, 30000).
// `overrides` (the command's own flags, e.g. --acks) are applied after the file and before
// --property. InvalidArgument (a usage error) for a bad item or an unreadable file.
absl::StatusOr<client::Properties> BuildClientProperties(const CliContext& context,
                                                         const ClientPropertyArgs& args,
                                                         ClientKind kind,
                                                         const client::Properties& overrides);

// Reports a failure of the producer or consumer on stderr ("error: NAME: message") and returns
// its exit code: kExitUnreachable when no broker could be reached, kExitUsage for a setting the
// client refused (INVALID_ARGUMENT), else kExitRequestError.
int ReportClientFailure(std::ostream& err, const absl::Status& status);

// The cluster could not be reached (no metadata from any bootstrap address).
bool IsClientUnreachable(const absl::Status& status);

}  // namespace strand::cli
