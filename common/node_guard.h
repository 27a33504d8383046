#pragma once

// The one identity check every internal handler uses (docs/security.md, "Who may do what").
//
// On an SSL listener the caller is the principal of its client certificate (common/principal.h);
// on the controller and replication planes that certificate is required, and its principal must
// name the node the request claims to come from: a Raft stream's `from`, a heartbeat's or
// AlterPartition's `broker_id`, a follower fetch's `replica_id`. On a PLAINTEXT listener (dev
// mode) there is no principal: the handlers check the claim against the registration's
// incarnation id instead, which only the registered process knows.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/functional/function_ref.h"
#include "common/listener_config.h"
#include "common/principal.h"

namespace strand {

struct Caller {
  std::string principal;        // kAnonymousPrincipal without a verified client certificate
  std::optional<int64_t> node;  // the cluster node the principal names
  std::string error;            // why the certificate's subject maps to no principal
};

class NodeGuard {
 public:
  // The guard of one listener of `config`.
  NodeGuard(const ListenerConfig& config, std::string listener);

  Caller Identify(const grpc::ServerContextBase& context) const;

  // OK when the caller may act as node `claimed` (always on a PLAINTEXT listener);
  // PERMISSION_DENIED naming the listener, the principal and the claim otherwise. `what` names
  // the request ("a follower fetch as broker 102"); it is only called for a refusal, so the
  // check costs no formatting on the hot path.
  grpc::Status CheckNode(const grpc::ServerContextBase& context, int64_t claimed,
                         absl::FunctionRef<std::string()> what) const;
  // OK when the caller is one of `nodes` (always on a PLAINTEXT listener): for requests only
  // some nodes may make whatever they claim, e.g. the controllers' calls to a broker.
  grpc::Status CheckNodeAmong(const grpc::ServerContextBase& context,
                              const std::vector<int64_t>& nodes,
                              absl::FunctionRef<std::string()> what) const;

 private:
  std::string listener_;
  std::optional<PrincipalMapper> mapper_;
};

}  // namespace strand
