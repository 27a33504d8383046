// Tests the Kubernetes target against a fake kubectl (testing/fake_kubectl.h: a python3 script
// holding a cluster in a JSON file, whose pods are those deploy/kubernetes/overlays/dev renders).
// Each test calls one Target method and checks the exact kubectl commands it ran (argv and
// stdin, from the fake's log), what it answered, the UNIMPLEMENTED answers for what the shipped
// image cannot do, and that a failing kubectl comes back as a status naming the command and its
// stderr. The process runner (fork/exec, stdin, timeouts) and the nft rules are tested directly.
#include "tools/drill/kubernetes_target.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tools/drill/kubectl_runner.h"
#include "tools/drill/nft_rules.h"
#include "tools/drill/testing/fake_kubectl.h"

namespace strand::drill {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using testing::FakeKubectl;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Argv = std::vector<std::string>;

const Argv kListPods = {"--namespace", "strand",     "get",
                        "pods",        "--selector", "app.kubernetes.io/name=strand",
                        "-o",          "json"};

Argv Exec(const std::string& pod, const Argv& command, bool with_stdin = false) {
  Argv argv = {"--namespace", "strand", "exec"};
  if (with_stdin) argv.push_back("-i");
  argv.insert(argv.end(), {"-c", "strand", pod, "--"});
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

class KubernetesTargetTest : public ::testing::Test {
 protected:
  KubernetesTargetOptions Options() const {
    KubernetesTargetOptions o;
    o.kubernetes_namespace = "strand";
    o.kubectl = fake_.path();
    o.command_timeout = 20s;
    o.poll_interval = 5ms;
    o.kill_gone_timeout = 10s;
    o.gone_margin = 10s;
    o.start_timeout = 10s;
    return o;
  }

  // Opens the target (one `get pods`), then forgets the calls so far.
  std::unique_ptr<Target> Open() {
    auto target = OpenKubernetesTarget(Options());
    EXPECT_TRUE(target.ok()) << target.status();
    fake_.ClearCalls();
    return target.ok() ? *std::move(target) : nullptr;
  }

  std::vector<Argv> Commands() const {
    std::vector<Argv> out;
    for (const auto& call : fake_.Calls()) out.push_back(call.argv);
    return out;
  }

  FakeKubectl fake_{"strand"};
};

// ---- Opening: the nodes from the pod list

TEST_F(KubernetesTargetTest, Open_NodesAndBootstrapFromTheDevOverlaysPods) {
  auto target = OpenKubernetesTarget(Options());
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_THAT(Commands(), ElementsAre(kListPods));
  const auto& nodes = (*target)->nodes();
  ASSERT_EQ(nodes.size(), 6u);
  const std::vector<int> ids = {1, 2, 3, 100, 101, 102};
  for (size_t i = 0; i < nodes.size(); ++i) {
    const bool broker = i >= 3;
    const std::string set = broker ? "strand-broker" : "strand-controller";
    const std::string host = fmt::format("{}-{}.{}.strand.svc.cluster.local", set, i % 3, set);
    EXPECT_EQ(nodes[i].id, ids[i]);
    EXPECT_EQ(nodes[i].role, broker ? Role::kBroker : Role::kController);
    EXPECT_EQ(nodes[i].address, host + (broker ? ":9092" : ":9093"));
    EXPECT_EQ(nodes[i].metrics_address, host + ":9190");
  }
  EXPECT_EQ((*target)->bootstrap(),
            "strand-broker-0.strand-broker.strand.svc.cluster.local:9092,"
            "strand-broker-1.strand-broker.strand.svc.cluster.local:9092,"
            "strand-broker-2.strand-broker.strand.svc.cluster.local:9092");
  EXPECT_TRUE((*target)->client_settings().empty());
  EXPECT_THAT((*target)->Describe(), HasSubstr("Kubernetes namespace strand"));
}

TEST_F(KubernetesTargetTest, Open_WithoutPodIndexLabel_IndexFromTheName) {
  for (auto& pod : fake_.state()["pods"])
    pod["metadata"]["labels"].erase("apps.kubernetes.io/pod-index");
  fake_.Save();
  auto target = OpenKubernetesTarget(Options());
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ((*target)->nodes().back().id, 102);
}

TEST_F(KubernetesTargetTest, Open_ContextAndCommandConfig) {
  fake_.state()["context"] = "kind-strand";
  fake_.Save();
  const std::string config = fake_.dir() + "/client.properties";
  std::ofstream(config) << "security.protocol=ssl\nssl.ca.location=ca.pem\n";
  KubernetesTargetOptions o = Options();
  o.context = "kind-strand";
  o.command_config = config;
  auto target = OpenKubernetesTarget(o);
  ASSERT_TRUE(target.ok()) << target.status();
  Argv expected = kListPods;
  expected.insert(expected.begin(), {"--context", "kind-strand"});
  EXPECT_THAT(Commands(), ElementsAre(expected));
  EXPECT_EQ((*target)->client_settings().at("security.protocol"), "ssl");
  EXPECT_EQ((*target)->client_settings().at("ssl.ca.location"), "ca.pem");
  EXPECT_THAT((*target)->Describe(), HasSubstr("context kind-strand"));
}

TEST_F(KubernetesTargetTest, Open_KubectlFails_StatusNamesTheCommandAndItsStderr) {
  fake_.state()["fail"]["get"] = {
      {"exit", 1},
      {"stderr",
       "E0101 memcache.go:265] couldn't get current server API group list\n"
       "Unable to connect to the server: dial tcp 10.0.0.1:6443: i/o timeout\n"}};
  fake_.Save();
  auto target = OpenKubernetesTarget(Options());
  ASSERT_FALSE(target.ok());
  EXPECT_EQ(target.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(target.status().message(),
              HasSubstr("`" + fake_.path() +
                        " --namespace strand get pods --selector app.kubernetes.io/name=strand "
                        "-o json` exited 1: "));
  EXPECT_THAT(target.status().message(), HasSubstr("dial tcp 10.0.0.1:6443: i/o timeout"));
}

TEST_F(KubernetesTargetTest, Open_Forbidden_PermissionDeniedPointingAtTheRbacRules) {
  fake_.state()["fail"]["get"] = {
      {"exit", 1},
      {"stderr",
       "Error from server (Forbidden): pods is forbidden: User \"drill\" cannot list resource "
       "\"pods\" in API group \"\" in the namespace \"strand\"\n"}};
  fake_.Save();
  auto target = OpenKubernetesTarget(Options());
  EXPECT_EQ(target.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(target.status().message(), HasSubstr("cannot list resource"));
  EXPECT_THAT(target.status().message(), HasSubstr("docs/drills-kubernetes.md"));
}

TEST_F(KubernetesTargetTest, Open_PodNotRunning_FailedPrecondition) {
  fake_.Pod("strand-broker-1")["status"]["phase"] = "Pending";
  fake_.Save();
  auto target = OpenKubernetesTarget(Options());
  EXPECT_EQ(target.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(target.status().message(),
              HasSubstr("strand-broker-1 (node 101) is in phase Pending"));
}

TEST_F(KubernetesTargetTest, Open_NoPods_FailedPreconditionNamingTheSelector) {
  fake_.state()["pods"] = nlohmann::json::array();
  fake_.Save();
  auto target = OpenKubernetesTarget(Options());
  EXPECT_EQ(target.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(target.status().message(), HasSubstr("no broker pod"));
  EXPECT_THAT(target.status().message(), HasSubstr("app.kubernetes.io/name=strand"));
}

TEST_F(KubernetesTargetTest, Open_BadArguments) {
  KubernetesTargetOptions o = Options();
  o.kubernetes_namespace = "";
  EXPECT_EQ(OpenKubernetesTarget(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = Options();
  o.kubectl = fake_.dir() + "/no-such-kubectl";
  EXPECT_EQ(OpenKubernetesTarget(o).status().code(), absl::StatusCode::kNotFound);
  o.kubectl = "no-such-kubectl-on-path";
  EXPECT_THAT(OpenKubernetesTarget(o).status().message(),
              HasSubstr("no no-such-kubectl-on-path on PATH"));
}

TEST_F(KubernetesTargetTest, Open_KubectlHangs_DeadlineExceededWithinTheCommandTimeout) {
  fake_.state()["hang"] = true;
  fake_.Save();
  KubernetesTargetOptions o = Options();
  o.command_timeout = 500ms;
  const auto start = std::chrono::steady_clock::now();
  auto target = OpenKubernetesTarget(o);
  EXPECT_EQ(target.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(target.status().message(), HasSubstr("did not finish within 500 ms"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

// ---- Process faults

TEST_F(KubernetesTargetTest, Kill_ForceDeletesThePodAndWaitsUntilItsUidIsGone) {
  auto target = Open();
  EXPECT_EQ(target->Incarnation(101), "uid-strand-broker-1-a");
  fake_.ClearCalls();
  ASSERT_TRUE(target->Kill(101).ok());
  EXPECT_THAT(Commands(),
              ElementsAre(kListPods,
                          Argv{"--namespace", "strand", "delete", "pod", "strand-broker-1",
                               "--grace-period=0", "--force", "--wait=false"},
                          kListPods));
  EXPECT_FALSE(target->Running(101));
}

TEST_F(KubernetesTargetTest, Start_AfterKill_WaitsForTheRecreatedPodThenReady) {
  auto target = Open();
  ASSERT_TRUE(target->Kill(101).ok());
  fake_.ClearCalls();
  ASSERT_TRUE(target->Start(101).ok());
  const auto commands = Commands();
  ASSERT_EQ(commands.size(), 2u);
  EXPECT_EQ(commands[0], kListPods);
  const Argv wait(commands[1].begin(), commands[1].end() - 1);
  EXPECT_EQ(wait, (Argv{"--namespace", "strand", "wait", "--for=condition=Ready",
                        "pod/strand-broker-1"}));
  EXPECT_THAT(commands[1].back(), StartsWith("--timeout="));
  EXPECT_EQ(target->Incarnation(101), "uid-strand-broker-1-b");
  EXPECT_TRUE(target->Running(101));
}

TEST_F(KubernetesTargetTest, Start_RecreatedPodNeverReady_StatusOfKubectlWait) {
  auto target = Open();
  ASSERT_TRUE(target->Kill(100).ok());
  fake_.Load();
  fake_.state()["pending"][0]["pod"]["status"]["conditions"][0]["status"] = "False";
  fake_.Save();
  const absl::Status s = target->Start(100);
  EXPECT_THAT(s.message(), HasSubstr("wait --for=condition=Ready pod/strand-broker-0"));
  EXPECT_THAT(s.message(),
              HasSubstr("timed out waiting for the condition on pods/strand-broker-0"));
}

TEST_F(KubernetesTargetTest, Start_NodeNeverStopped_FailedPreconditionAtOnce) {
  auto target = Open();
  const absl::Status s = target->Start(2);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("node 2 runs: pod strand-controller-1"));
  EXPECT_THAT(Commands(), ElementsAre(kListPods));
}

TEST_F(KubernetesTargetTest, Start_PodNeverRecreated_DeadlineExceeded) {
  fake_.state()["recreate_after"] = -1;
  fake_.Save();
  KubernetesTargetOptions o = Options();
  o.start_timeout = 200ms;
  auto target = OpenKubernetesTarget(o);
  ASSERT_TRUE(target.ok());
  ASSERT_TRUE((*target)->Kill(1).ok());
  const absl::Status s = (*target)->Start(1);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.message(), HasSubstr("did not recreate pod strand-controller-0"));
}

TEST_F(KubernetesTargetTest, Stop_EvictsThroughTheEvictionApiAndWaitsForTheOldPod) {
  auto target = Open();
  ASSERT_TRUE(target->Stop(100, 60s).ok());
  const auto calls = fake_.Calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[0].argv, kListPods);
  EXPECT_EQ(calls[1].argv,
            (Argv{"--namespace", "strand", "create", "--raw",
                  "/api/v1/namespaces/strand/pods/strand-broker-0/eviction", "-f", "-"}));
  EXPECT_EQ(nlohmann::json::parse(calls[1].stdin_text),
            nlohmann::json::parse(R"({"apiVersion": "policy/v1", "kind": "Eviction",
                                      "metadata": {"name": "strand-broker-0", "namespace": "strand"},
                                      "deleteOptions": {"gracePeriodSeconds": 60}})"));
  EXPECT_EQ(calls[2].argv, kListPods);  // still there, terminating
  EXPECT_EQ(calls[3].argv, kListPods);  // gone
  ASSERT_TRUE(target->Start(100).ok());
  EXPECT_EQ(target->Incarnation(100), "uid-strand-broker-0-b");
}

TEST_F(KubernetesTargetTest, Stop_DisruptionBudgetRefuses_UnavailableWithItsMessage) {
  fake_.state()["refuse_eviction"]["strand-controller-2"] =
      "Error from server (TooManyRequests): Cannot evict pod as it would violate the pod's "
      "disruption budget.\n";
  fake_.Save();
  auto target = Open();
  const absl::Status s = target->Stop(3, 60s);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(),
              HasSubstr("PodDisruptionBudget refused to evict pod strand-controller-2"));
  EXPECT_THAT(s.message(), HasSubstr("would violate the pod's disruption budget"));
  EXPECT_TRUE(target->Running(3));
  // The pod was never stopped, so there is nothing to start.
  EXPECT_EQ(target->Start(3).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(KubernetesTargetTest, Stop_PodOutlivesItsGrace_DeadlineExceeded) {
  fake_.state()["terminating_gets"] = 1000;
  fake_.Save();
  KubernetesTargetOptions o = Options();
  o.gone_margin = 300ms;
  auto target = OpenKubernetesTarget(o);
  ASSERT_TRUE(target.ok());
  const absl::Status s = (*target)->Stop(102, 0s);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.message(), HasSubstr("strand-broker-2 (node 102) still existed"));
}

TEST_F(KubernetesTargetTest, Kill_PodNotRunning_FailedPreconditionWithoutDeleting) {
  auto target = Open();
  fake_.Pod("strand-broker-0")["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z";
  fake_.Save();
  const absl::Status s = target->Kill(100);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("pod strand-broker-0 is being deleted"));
  EXPECT_THAT(Commands(), ElementsAre(kListPods));
  EXPECT_EQ(target->Kill(7).code(), absl::StatusCode::kNotFound);
}

TEST_F(KubernetesTargetTest, Kill_DeleteFails_StatusNamesTheCommandAndItsStderr) {
  fake_.state()["fail"]["delete"] = {
      {"exit", 1},
      {"stderr",
       "Error from server (Forbidden): pods \"strand-broker-0\" is forbidden: User \"drill\" "
       "cannot delete resource \"pods\"\n"}};
  fake_.Save();
  auto target = Open();
  const absl::Status s = target->Kill(100);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("delete pod strand-broker-0 --grace-period=0 --force "
                                     "--wait=false` exited 1: Error from server (Forbidden)"));
}

TEST_F(KubernetesTargetTest, Running_PhaseRunningAndNotBeingDeleted) {
  auto target = Open();
  EXPECT_TRUE(target->Running(100));
  fake_.Pod("strand-broker-0")["status"]["phase"] = "Pending";
  fake_.Save();
  std::this_thread::sleep_for(10ms);  // past the cached list's poll_interval
  EXPECT_FALSE(target->Running(100));
  EXPECT_FALSE(target->Running(99));
  EXPECT_EQ(target->Incarnation(99), "");
}

// ---- Pause and Resume

TEST_F(KubernetesTargetTest, Pause_ImageWithoutKill_UnimplementedNamingWhatItLacks) {
  auto target = Open();
  const absl::Status s = target->Pause(101);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(s.message(), HasSubstr("pod strand-broker-1 (node 101) has no kill executable"));
  EXPECT_THAT(s.message(), HasSubstr("procps"));
  EXPECT_THAT(s.message(), HasSubstr("executable file not found in $PATH"));
  EXPECT_THAT(Commands(), ElementsAre(kListPods, Exec("strand-broker-1", {"kill", "-STOP", "1"})));
  EXPECT_EQ(target->Resume(101).code(), absl::StatusCode::kUnimplemented);
}

TEST_F(KubernetesTargetTest, Pause_KillRunsButPidOneIsNotStopped_Unimplemented) {
  fake_.AnswerExec({"kill", "-STOP", "1"}, 0, "");
  fake_.AnswerExec({"cat", "/proc/1/stat"}, 0, "1 (strand-server) S 0 1 1 0 -1 4194560 5 0\n");
  auto target = Open();
  const absl::Status s = target->Pause(101);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(s.message(), HasSubstr("PID 1 is in state 'S', not stopped"));
  EXPECT_THAT(s.message(), HasSubstr("pid_namespaces(7)"));
}

TEST_F(KubernetesTargetTest, PauseResume_ImageWithKill_StopAndContinuePidOne) {
  fake_.AnswerExec({"kill", "-STOP", "1"}, 0, "");
  fake_.AnswerExec({"kill", "-CONT", "1"}, 0, "");
  fake_.AnswerExec({"cat", "/proc/1/stat"}, 0, "1 (strand-server) T 0 1 1 0 -1 4194560 5 0\n");
  auto target = Open();
  ASSERT_TRUE(target->Pause(101).ok());
  ASSERT_TRUE(target->Resume(101).ok());
  EXPECT_THAT(Commands(), ElementsAre(kListPods, Exec("strand-broker-1", {"kill", "-STOP", "1"}),
                                      kListPods, Exec("strand-broker-1", {"cat", "/proc/1/stat"}),
                                      kListPods, Exec("strand-broker-1", {"kill", "-CONT", "1"})));
}

TEST_F(KubernetesTargetTest, Pause_ExecForbidden_PermissionDeniedNotUnimplemented) {
  fake_.AnswerExec({"kill", "-STOP", "1"}, 1, "",
                   "Error from server (Forbidden): pods \"strand-broker-1\" is forbidden: User "
                   "\"drill\" cannot create resource \"pods/exec\"\n");
  auto target = Open();
  const absl::Status s = target->Pause(101);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("exec -c strand strand-broker-1 -- kill -STOP 1` exited 1"));
}

// ---- Network faults

TEST_F(KubernetesTargetTest, Cut_ImageWithoutNft_UnimplementedAfterTheProbe) {
  auto target = Open();
  const absl::Status s = target->Cut(100, {101, 1});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(s.message(), HasSubstr("pod strand-broker-0 (node 100) has none"));
  EXPECT_THAT(s.message(), HasSubstr("NET_ADMIN"));
  EXPECT_THAT(Commands(), ElementsAre(kListPods, Exec("strand-broker-0", {"nft", "--version"})));
  EXPECT_EQ(target->Lossy(100, {101}, 20).code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(target->Heal(100).code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(target->Dropped(100).status().code(), absl::StatusCode::kUnimplemented);
}

TEST_F(KubernetesTargetTest, Cut_ImageWithNft_TheLocalTargetsRulesAgainstThePeersPodIps) {
  fake_.AnswerExec({"nft", "--version"}, 0, "nftables v1.0.6 (Lester Gooch #5)\n");
  fake_.AnswerExec({"nft", "-f", "-"}, 0, "");
  auto target = Open();
  ASSERT_TRUE(target->Cut(100, {101, 1}).ok());
  const auto calls = fake_.Calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].argv, kListPods);
  EXPECT_EQ(calls[1].argv, Exec("strand-broker-0", {"nft", "--version"}));
  EXPECT_EQ(calls[2].argv, Exec("strand-broker-0", {"nft", "-f", "-"}, /*with_stdin=*/true));
  EXPECT_EQ(calls[2].stdin_text,
            "add table inet strand_drill\n"
            "add chain inet strand_drill output { type filter hook output priority 0; policy "
            "accept; }\n"
            "add chain inet strand_drill input { type filter hook input priority 0; policy "
            "accept; }\n"
            "add rule inet strand_drill output ip daddr { 10.244.2.11, 10.244.1.10 } counter "
            "drop\n"
            "add rule inet strand_drill input ip saddr { 10.244.2.11, 10.244.1.10 } counter "
            "drop\n");
  // The probe ran once for this pod.
  fake_.ClearCalls();
  ASSERT_TRUE(target->Lossy(100, {102}, 30).ok());
  const auto lossy = fake_.Calls();
  ASSERT_EQ(lossy.size(), 2u);
  EXPECT_THAT(lossy[1].stdin_text,
              HasSubstr("output ip daddr { 10.244.2.12 } numgen random mod 100 < 30 counter drop"));
  EXPECT_EQ(target->Lossy(100, {102}, 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(target->Cut(100, {}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(target->Cut(100, {55}).code(), absl::StatusCode::kNotFound);
}

TEST_F(KubernetesTargetTest, Cut_NftRefused_StatusWithNftsError) {
  fake_.AnswerExec({"nft", "--version"}, 0, "nftables v1.0.6\n");
  fake_.AnswerExec({"nft", "-f", "-"}, 1, "",
                   "Error: Could not process rule: Operation not permitted\n"
                   "command terminated with exit code 1\n");
  auto target = Open();
  const absl::Status s = target->Cut(100, {101});
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("-- nft -f -` exited 1: Error: Could not process rule: "
                                     "Operation not permitted"));
}

TEST_F(KubernetesTargetTest, HealDropped_ImageWithNft_ListCountAndDeleteTheTable) {
  fake_.AnswerExec({"nft", "--version"}, 0, "nftables v1.0.6\n");
  fake_.AnswerExec({"nft", "-j", "list", "table", "inet", "strand_drill"}, 0,
                   R"({"nftables": [{"metainfo": {"json_schema_version": 1}},
                       {"rule": {"expr": [{"match": {}}, {"counter": {"packets": 7, "bytes": 420}},
                                          {"drop": null}]}},
                       {"rule": {"expr": [{"counter": {"packets": 5, "bytes": 300}}]}}]})");
  fake_.AnswerExec({"nft", "list", "table", "inet", "strand_drill"}, 0,
                   "table inet strand_drill {}\n");
  fake_.AnswerExec({"nft", "delete", "table", "inet", "strand_drill"}, 0, "");
  auto target = Open();
  auto dropped = target->Dropped(102);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ(*dropped, 12);
  ASSERT_TRUE(target->Heal(102).ok());
  EXPECT_THAT(
      Commands(),
      ElementsAre(kListPods, Exec("strand-broker-2", {"nft", "--version"}),
                  Exec("strand-broker-2", {"nft", "-j", "list", "table", "inet", "strand_drill"}),
                  kListPods,
                  Exec("strand-broker-2", {"nft", "list", "table", "inet", "strand_drill"}),
                  Exec("strand-broker-2", {"nft", "delete", "table", "inet", "strand_drill"})));
}

TEST_F(KubernetesTargetTest, HealDropped_NoTable_NothingToDo) {
  fake_.AnswerExec({"nft", "--version"}, 0, "nftables v1.0.6\n");
  fake_.AnswerExec({"nft", "list", "table", "inet", "strand_drill"}, 1, "",
                   "Error: No such file or directory\nlist table inet strand_drill\n");
  fake_.AnswerExec({"nft", "-j", "list", "table", "inet", "strand_drill"}, 1, "",
                   "Error: No such file or directory\n");
  auto target = Open();
  ASSERT_TRUE(target->Heal(102).ok());
  auto dropped = target->Dropped(102);
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(*dropped, 0);
  for (const Argv& argv : Commands())
    EXPECT_THAT(argv, ::testing::Not(::testing::Contains("delete")));
}

// ---- The seams

TEST(KubernetesTargetRunner, Open_InjectedRunner_GetsTheWholeArgv) {
  class ScriptedRunner final : public KubectlRunner {
   public:
    absl::StatusOr<CommandOutcome> Run(const std::vector<std::string>& argv, const std::string&,
                                       std::chrono::milliseconds timeout) override {
      argvs.push_back(argv);
      EXPECT_EQ(timeout, 60s);
      return CommandOutcome{0, R"({"items": []})", ""};
    }
    std::vector<Argv> argvs;
  };
  auto runner = std::make_shared<ScriptedRunner>();
  KubernetesTargetOptions o;
  o.kubernetes_namespace = "prod";
  o.context = "east";
  o.selector = "app=strand";
  o.runner = runner;
  auto target = OpenKubernetesTarget(o);
  EXPECT_EQ(target.status().code(), absl::StatusCode::kFailedPrecondition);  // no pods
  EXPECT_THAT(runner->argvs,
              ElementsAre(Argv{"kubectl", "--context", "east", "--namespace", "prod", "get", "pods",
                               "--selector", "app=strand", "-o", "json"}));
}

TEST(ProcessKubectlRunner, Run_StdinStdoutStderrAndExitCode) {
  auto runner = MakeProcessKubectlRunner();
  auto r = runner->Run({"/bin/sh", "-c", "tr a-z A-Z; echo oops >&2; exit 3"}, "hello\n", 10s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->stdout_text, "HELLO\n");
  EXPECT_EQ(r->stderr_text, "oops\n");
  // A large input to a program that reads none of it: no SIGPIPE, no hang.
  r = runner->Run({"/bin/true"}, std::string(1 << 20, 'x'), 10s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
}

TEST(ProcessKubectlRunner, Run_Timeout_KillsTheProcessGroup) {
  auto runner = MakeProcessKubectlRunner();
  const auto start = std::chrono::steady_clock::now();
  auto r = runner->Run({"/bin/sh", "-c", "sleep 30 & sleep 30"}, "", 300ms);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.status().message(), HasSubstr("/bin/sh -c sleep 30 & sleep 30"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(ProcessKubectlRunner, Run_NotExecutable_Exit127WithTheReason) {
  auto r = MakeProcessKubectlRunner()->Run({"/nonexistent/kubectl"}, "", 10s);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 127);
  EXPECT_THAT(r->stderr_text, HasSubstr("cannot execute /nonexistent/kubectl: No such file"));
}

TEST(FindExecutable, PathsAndNames) {
  EXPECT_EQ(*FindExecutable("/bin/sh"), "/bin/sh");
  auto sh = FindExecutable("sh");
  ASSERT_TRUE(sh.ok());
  EXPECT_THAT(*sh, ::testing::EndsWith("/sh"));
  const std::string plain = ::testing::TempDir() + "/not-executable";
  std::ofstream(plain) << "#!/bin/sh\n";
  std::filesystem::permissions(
      plain, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_EQ(FindExecutable(plain).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FindExecutable(::testing::TempDir()).status().code(), absl::StatusCode::kNotFound);
}

TEST(DropRules, IpV6PeersGetIp6Rules) {
  const std::string rules = DropRules({"10.0.0.1", "fd00::1"}, "");
  EXPECT_THAT(rules,
              HasSubstr("add rule inet strand_drill output ip daddr { 10.0.0.1 } counter drop\n"));
  EXPECT_THAT(rules,
              HasSubstr("add rule inet strand_drill input ip6 saddr { fd00::1 } counter drop\n"));
  EXPECT_EQ(DroppedPackets("not json").status().code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace strand::drill
