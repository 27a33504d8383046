#include "tools/cli/client_options.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "strand/record.h"
#include "tools/cli/exit_codes.h"

namespace strand::cli {
namespace {

constexpr int64_t kRequestTimeoutMsMax = 30'000;
constexpr int64_t kLingerMsDefault = 5;  // the producer's linger.ms default

void SetIfAbsent(client::Properties& p, const std::string& key, int64_t value) {
  if (!p.contains(key)) p[key] = std::to_string(value);
}

int64_t IntOr(const client::Properties& p, const std::string& key, int64_t fallback) {
  auto it = p.find(key);
  if (it == p.end()) return fallback;
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    return fallback;  // the client's validation reports the bad value
  }
}

}  // namespace

void AddClientPropertyOptions(CLI::App& command, ClientPropertyArgs& args) {
  command
      .add_option("-X,--property", args.properties,
                  "client setting by its Kafka name, KEY=VALUE (repeatable), e.g. -X linger.ms=10")
      ->allow_extra_args(false);
  command.add_option("--config-file", args.config_file,
                     "client settings from a .properties file (KEY=VALUE lines); --property wins");
}

absl::StatusOr<client::Properties> BuildClientProperties(const CliContext& context,
                                                         const ClientPropertyArgs& args,
                                                         ClientKind kind,
                                                         const client::Properties& overrides) {
  auto base = CommandConfig(context);
  if (!base.ok()) return base.status();
  client::Properties p = *std::move(base);
  p["bootstrap.servers"] = context.bootstrap;
  if (!args.config_file.empty()) {
    auto parsed = ReadPropertiesFile("--config-file", args.config_file);
    if (!parsed.ok()) return parsed.status();
    for (auto& [k, v] : *parsed) p[k] = v;
  }
  for (const auto& [k, v] : overrides) p[k] = v;
  auto items = client::ParsePropertyItems(args.properties);
  if (!items.ok()) {
    return absl::InvalidArgumentError(fmt::format("--property: {}", std::string(items.status().message())));
  }
  for (auto& [k, v] : *items) p[k] = v;

  const int64_t t = context.timeout_ms;
  if (kind == ClientKind::kProducer) {
    SetIfAbsent(p, "max.block.ms", t);
    SetIfAbsent(p, "request.timeout.ms", std::clamp<int64_t>(t / 2, 1, kRequestTimeoutMsMax));
    const int64_t floor = IntOr(p, "linger.ms", kLingerMsDefault) +
                          IntOr(p, "request.timeout.ms", kRequestTimeoutMsMax);
    SetIfAbsent(p, "delivery.timeout.ms", std::max(t, floor));
  } else {
    SetIfAbsent(p, "default.api.timeout.ms", t);
    SetIfAbsent(p, "request.timeout.ms", std::min(t, kRequestTimeoutMsMax));
  }
  return p;
}

bool IsClientUnreachable(const absl::Status& status) {
  return client::KafkaErrorOf(status) == KafkaError::kNetworkException;
}

int ReportClientFailure(std::ostream& err, const absl::Status& status) {
  if (status.code() == absl::StatusCode::kInvalidArgument && !client::KafkaErrorOf(status)) {
    err << "error: " << status.message() << "\n";
    return kExitUsage;
  }
  err << "error: " << status.message() << "\n";
  return IsClientUnreachable(status) ? kExitUnreachable : kExitRequestError;
}

}  // namespace strand::cli
