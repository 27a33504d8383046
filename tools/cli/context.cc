#include "tools/cli/context.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "client/common/broker_channels.h"
#include "strand/consumer.h"

#include "tools/cli/errors.h"

namespace strand::cli {

absl::StatusOr<client::Properties> ReadPropertiesFile(const std::string& option,
                                                      const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::InvalidArgumentError(fmt::format("{}: cannot read '{}'", option, path));
  std::stringstream text;
  text << file.rdbuf();
  auto parsed = client::ParseProperties(text.str());
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("{} {}: {}", option, path, std::string(parsed.status().message())));
  }
  return parsed;
}

absl::StatusOr<client::Properties> CommandConfig(const CliContext& context) {
  if (context.command_config.empty()) return client::Properties{};
  return ReadPropertiesFile("--command-config", context.command_config);
}

int WithAdmin(const CliContext& context, const std::function<int(client::AdminClient&)>& body) {
  client::AdminClientOptions options;
  options.api_timeout_ms = context.timeout_ms;
  options.request_timeout_ms = std::min(context.timeout_ms, kAttemptTimeoutMsMax);
  options.connect_timeout_ms = std::min(context.timeout_ms, kConnectTimeoutMsMax);
  auto settings = CommandConfig(context);
  if (!settings.ok()) return ReportUsage(context.err, std::string(settings.status().message()));
  // The security settings, read and checked by the clients' own settings table (the same
  // values, case and pairing rules as for produce and consume). The table insists on a
  // bootstrap list; the admin client gets the real one below.
  client::Properties security = {{"bootstrap.servers", "127.0.0.1:1"}};
  for (const char* key :
       {"security.protocol", "ssl.ca.location", "ssl.certificate.location", "ssl.key.location"}) {
    if (auto it = settings->find(key); it != settings->end()) security[key] = it->second;
  }
  auto config = client::ConsumerConfig::FromProperties(security);
  if (!config.ok()) {
    return ReportUsage(context.err, "--command-config: " + std::string(config.status().message()));
  }
  auto credentials = client::ClientCredentials(*config, nullptr);
  if (!credentials.ok()) {
    return ReportUsage(context.err, "--command-config: " + std::string(credentials.status().message()));
  }
  auto admin = client::AdminClient::Create(context.bootstrap, options, *credentials);
  if (!admin.ok()) {
    return ReportUsage(context.err, "--bootstrap: " + std::string(admin.status().message()));
  }
  return body(**admin);
}

}  // namespace strand::cli
