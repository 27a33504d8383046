// Tests ssl.principal.mapping.rules (Kafka's syntax) and the node-principal rule.
#include "common/principal.h"

#include <gtest/gtest.h>

namespace strand {
namespace {

std::string Map(const std::string& rules, const std::string& dn) {
  auto m = PrincipalMapper::Parse(rules);
  if (!m.ok()) return "parse error: " + std::string(m.status().message());
  auto p = m->Map(dn);
  return p.ok() ? *p : "error: " + std::string(p.status().message());
}

TEST(Principal, DefaultRulesTakeTheCommonName) {
  EXPECT_EQ(Map(kDefaultPrincipalRules, "CN=strand-node-1,O=Strand"), "strand-node-1");
  EXPECT_EQ(Map(kDefaultPrincipalRules, "CN=alice"), "alice");
  EXPECT_EQ(Map(kDefaultPrincipalRules, "O=Strand,CN=strand-node-101"), "strand-node-101");
  EXPECT_EQ(Map(kDefaultPrincipalRules, "C=DE,CN=bob,OU=x"), "bob");
  EXPECT_EQ(Map(kDefaultPrincipalRules, "O=xCN=y"), "O=xCN=y");
  // No CN first: the DN unchanged (DEFAULT).
  EXPECT_EQ(Map(kDefaultPrincipalRules, "O=Strand,C=DE"), "O=Strand,C=DE");
}

TEST(Principal, KafkaRuleSyntax) {
  // Kafka's documented examples.
  const std::string rules =
      "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),"
      "C=(.*?)$/$1@$2/L,RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,DEFAULT";
  EXPECT_EQ(Map(rules, "CN=kafka-server1,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown"),
            "kafka-server1");
  EXPECT_EQ(Map(rules, "CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown"),
            "adminuser@admin");
  EXPECT_EQ(Map(rules, "CN=Example.Com,OU=X"), "example.com");
  EXPECT_EQ(Map("RULE:^CN=(.*)$/$1/U", "CN=node"), "NODE");
  // An escaped slash belongs to the pattern / replacement.
  EXPECT_EQ(Map("RULE:^CN=a\\/b$/x\\/y/", "CN=a/b"), "x/y");
  // No rule matches and no DEFAULT: refused.
  EXPECT_EQ(Map("RULE:^CN=(.*),O=Strand$/$1/", "CN=x,O=Other"),
            "error: no rule of ssl.principal.mapping.rules matches the certificate subject "
            "'CN=x,O=Other'");
}

TEST(Principal, BadRules) {
  EXPECT_EQ(Map("", "CN=x"), "parse error: ssl.principal.mapping.rules: no rules (use DEFAULT)");
  EXPECT_EQ(Map("RULE:abc", "CN=x"),
            "parse error: ssl.principal.mapping.rules: 'RULE:abc' is not "
            "RULE:pattern/replacement/[L|U]");
  EXPECT_EQ(Map("NOPE", "CN=x"),
            "parse error: ssl.principal.mapping.rules: 'NOPE' is neither DEFAULT nor "
            "RULE:pattern/replacement/[L|U]");
  EXPECT_EQ(Map("DEFAULT x", "CN=x"),
            "parse error: ssl.principal.mapping.rules: unexpected 'x' after rule 'DEFAULT' (rules "
            "are separated by commas)");
}

TEST(Principal, NodePrincipals) {
  EXPECT_EQ(NodeOfPrincipal("strand-node-1"), 1);
  EXPECT_EQ(NodeOfPrincipal("strand-node-101"), 101);
  EXPECT_EQ(NodePrincipal(102), "strand-node-102");
  for (const char* p : {"strand-node-", "strand-node-01", "strand-node-1x", "strand-node--1",
                        "strand-node-99999999999", "xstrand-node-1", "client-1", "ANONYMOUS"}) {
    EXPECT_FALSE(NodeOfPrincipal(p).has_value()) << p;
  }
}

}  // namespace
}  // namespace strand
