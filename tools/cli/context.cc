#include "tools/cli/context.h"

#include <algorithm>

#include "tools/cli/errors.h"

namespace strand::cli {

int WithAdmin(const CliContext& context, const std::function<int(client::AdminClient&)>& body) {
  client::AdminClientOptions options;
  options.api_timeout_ms = context.timeout_ms;
  options.request_timeout_ms = std::min(context.timeout_ms, kAttemptTimeoutMsMax);
  options.connect_timeout_ms = std::min(context.timeout_ms, kConnectTimeoutMsMax);
  auto admin = client::AdminClient::Create(context.bootstrap, options);
  if (!admin.ok()) {
    return ReportUsage(context.err, "--bootstrap: " + std::string(admin.status().message()));
  }
  return body(**admin);
}

}  // namespace strand::cli
