#pragma once

// Principals from TLS certificates, as Kafka names them (docs/security.md).
//
// A TLS peer's principal is its certificate's subject distinguished name (RFC 2253, e.g.
// "CN=strand-node-1,O=Strand") rewritten by ssl.principal.mapping.rules, Kafka's syntax:
//   RULE:pattern/replacement/[L|U]   the first rule whose pattern matches the whole DN gives
//                                    the principal: the DN with `pattern` replaced by
//                                    `replacement` ($1, $2: groups), lower/upper-cased if asked
//   DEFAULT                          the DN unchanged
// Rules are separated by commas (a comma inside a rule's pattern or replacement belongs to the
// rule). No rule matching is an error, as in Kafka.
//
// One documented rule maps a principal to a cluster node: principal "strand-node-<id>" is node
// <id>. Strand's default rules take the common name (kDefaultPrincipalRules), so a certificate
// with CN=strand-node-1 (scripts/make-certs.sh) is node 1; operators whose certificates name
// nodes differently write rules that yield "strand-node-<id>". (RFC 2253 lists a subject's
// attributes last first: "/CN=strand-node-1/O=Strand" reads "O=Strand,CN=strand-node-1".)

#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace strand {

inline constexpr char kDefaultPrincipalRules[] = "RULE:^(.*,)?CN=([^,]+)(,.*)?$/$2/,DEFAULT";
inline constexpr char kAnonymousPrincipal[] = "ANONYMOUS";
inline constexpr char kNodePrincipalPrefix[] = "strand-node-";

class PrincipalMapper {
 public:
  // Parses ssl.principal.mapping.rules; errors say what is wrong with which rule.
  static absl::StatusOr<PrincipalMapper> Parse(std::string_view rules);

  // The principal of a certificate with subject `dn`, or an error when no rule matches.
  absl::StatusOr<std::string> Map(std::string_view dn) const;

 private:
  struct Rule {
    bool is_default = false;
    std::string text;  // as written, for errors
    std::regex pattern;
    std::string replacement;
    char case_change = 0;  // 'L', 'U' or 0
  };
  std::vector<Rule> rules_;
};

// The node a principal names ("strand-node-<id>"), if any.
std::optional<int64_t> NodeOfPrincipal(std::string_view principal);
std::string NodePrincipal(int64_t node);

}  // namespace strand
