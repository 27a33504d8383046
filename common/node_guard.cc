#include "common/node_guard.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <grpc/grpc_security_constants.h>

#include "common/check.h"

namespace strand {

NodeGuard::NodeGuard(const ListenerConfig& config, std::string listener)
    : listener_(std::move(listener)) {
  if (const ListenerTls* tls = config.Tls(listener_)) {
    auto mapper = PrincipalMapper::Parse(tls->principal_mapping_rules);
    STRAND_CHECK_MSG(mapper.ok(), "rules are checked when the settings are read: {}",
                     mapper.status().ToString());
    mapper_ = *std::move(mapper);
  }
}

Caller NodeGuard::Identify(const grpc::ServerContextBase& context) const {
  Caller c;
  c.principal = kAnonymousPrincipal;
  if (!mapper_) return c;
  auto auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return c;
  auto subjects = auth->FindPropertyValues(GRPC_X509_SUBJECT_PROPERTY_NAME);
  if (subjects.empty()) {
    c.error = "the client certificate has no subject";
    return c;
  }
  const std::string dn(subjects.front().data(), subjects.front().size());
  auto principal = mapper_->Map(dn);
  if (!principal.ok()) {
    c.error = std::string(principal.status().message());
    return c;
  }
  c.principal = *std::move(principal);
  c.node = NodeOfPrincipal(c.principal);
  return c;
}

grpc::Status NodeGuard::CheckNode(const grpc::ServerContextBase& context, int64_t claimed,
                                  absl::FunctionRef<std::string()> what) const {
  return CheckNodeAmong(context, {claimed}, what);
}

grpc::Status NodeGuard::CheckNodeAmong(const grpc::ServerContextBase& context,
                                       const std::vector<int64_t>& nodes,
                                       absl::FunctionRef<std::string()> what) const {
  if (!mapper_) return grpc::Status::OK;
  const Caller c = Identify(context);
  if (!c.error.empty()) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        fmt::format("{} refused on listener {}: {}", what(), listener_, c.error));
  }
  if (!c.node) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        fmt::format("{} refused on listener {}: principal '{}' is not a cluster "
                                    "node ({}<id>, docs/security.md)",
                                    what(), listener_, c.principal, kNodePrincipalPrefix));
  }
  if (std::find(nodes.begin(), nodes.end(), *c.node) == nodes.end()) {
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        fmt::format("{} refused on listener {}: principal '{}' is node {}, not node {}", what(),
                    listener_, c.principal, *c.node, fmt::join(nodes, " or ")));
  }
  return grpc::Status::OK;
}

}  // namespace strand
