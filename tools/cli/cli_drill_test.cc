// Tests `strand drill run --target kubernetes` end to end in-process (RunCli) against a fake
// kubectl (tools/drill/testing/fake_kubectl.h) whose pods are those of the dev overlay: the
// target opens, but their DNS names do not resolve here, so the cluster never answers. The run
// must fail within seconds with a clear message and without touching a pod; an API server that
// does not answer is an unreachable cluster (exit 3); a missing --namespace or --dir is a usage
// error (exit 2).
#include <chrono>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tools/cli/cli.h"
#include "tools/cli/exit_codes.h"
#include "tools/cli/testing/run_cli.h"
#include "tools/drill/testing/fake_kubectl.h"

namespace strand::cli {
namespace {

using drill::testing::FakeKubectl;
using ::testing::HasSubstr;

using Result = testing::CliRun;
using testing::RunStrand;

TEST(CliDrill, RunKubernetes_ClusterDoesNotAnswer_FailsFastWithoutAnyFault) {
  FakeKubectl fake("strand-test");
  const auto start = std::chrono::steady_clock::now();
  const Result r = RunStrand({"drill", "run", "leader-kill", "--target", "kubernetes",
                              "--namespace", "strand-test", "--kubectl", fake.path(), "--work-dir",
                              fake.dir() + "/drills", "--seed", "7"});
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.code, kExitDrillFailed) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("strand drill: leader-kill (seed 7) on Kubernetes namespace "
                               "strand-test"));
  EXPECT_THAT(r.out, HasSubstr("FAILED"));
  EXPECT_THAT(r.out,
              HasSubstr("ERROR: preflight: no broker answered within 10 s "
                        "(strand-broker-0.strand-broker.strand-test.svc.cluster.local:9092,"));
  EXPECT_THAT(r.out, HasSubstr("replay: strand drill run leader-kill --target kubernetes "
                               "--namespace strand-test --kubectl " +
                               fake.path() + " --seed 7"));
  EXPECT_LT(took, std::chrono::seconds(30));
  // Only the pod list was read: no pod was touched.
  for (const auto& call : fake.Calls()) {
    EXPECT_EQ(call.argv,
              (std::vector<std::string>{"--namespace", "strand-test", "get", "pods", "--selector",
                                        "app.kubernetes.io/name=strand", "-o", "json"}));
  }
}

TEST(CliDrill, RunKubernetes_ApiServerUnreachable_ExitThreeWithKubectlsWords) {
  FakeKubectl fake("strand-test");
  fake.state()["fail"]["get"] = {
      {"exit", 1},
      {"stderr", "Unable to connect to the server: dial tcp 10.96.0.1:443: i/o timeout\n"}};
  fake.Save();
  const Result r = RunStrand({"drill", "run", "leader-kill", "--target", "kubernetes",
                              "--namespace", "strand-test", "--kubectl", fake.path()});
  EXPECT_EQ(r.code, kExitUnreachable) << r.err;
  EXPECT_THAT(r.err, HasSubstr("get pods --selector app.kubernetes.io/name=strand -o json` "
                               "exited 1: Unable to connect to the server"));
}

TEST(CliDrill, RunKubernetes_WrongNamespace_UsageErrorNamingTheSelector) {
  FakeKubectl fake("strand-test");
  fake.state()["pods"] = nlohmann::json::array();
  fake.Save();
  const Result r = RunStrand({"drill", "run", "leader-kill", "--target", "kubernetes",
                              "--namespace", "strand-test", "--kubectl", fake.path()});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("no broker pod"));
}

TEST(CliDrill, RunKubernetes_CommandConfigReachesTheTarget) {
  FakeKubectl fake("strand-test");
  const Result r = RunStrand({"drill", "run", "leader-kill", "--target", "kubernetes",
                              "--namespace", "strand-test", "--kubectl", fake.path(),
                              "--command-config", fake.dir() + "/missing.properties"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--command-config " + fake.dir() +
                               "/missing.properties: cannot "
                               "read it"));
}

TEST(CliDrill, Run_UsageErrors_ExitTwo) {
  Result r = RunStrand({"drill", "run", "leader-kill", "--target", "kubernetes"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--target kubernetes needs --namespace"));
  r = RunStrand({"drill", "run", "leader-kill", "--target", "local"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--target local needs --dir"));
  r = RunStrand({"drill", "run", "leader-kill"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--target local needs --dir"));
  r = RunStrand({"drill", "run", "leader-kill", "--target", "nomad", "--namespace", "x"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--target nomad: 'local' or 'kubernetes'"));
  r = RunStrand({"drill", "run", "no-such-scenario", "--target", "kubernetes", "--namespace", "x"});
  EXPECT_EQ(r.code, kExitUsage);
  r = RunStrand({"drill", "run", "leader-kill", "--target", "kubernetes", "--namespace", "x",
                 "--kubectl", "/nonexistent/kubectl"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("kubectl: /nonexistent/kubectl is not an executable file"));
}

TEST(CliDrill, RunHelp_NamesTheKubernetesOptions) {
  const Result r = RunStrand({"drill", "run", "--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* option :
       {"--namespace", "--kubectl", "--context", "kubernetes", "docs/drills-kubernetes.md"}) {
    EXPECT_THAT(r.out, HasSubstr(option));
  }
}

}  // namespace
}  // namespace strand::cli
