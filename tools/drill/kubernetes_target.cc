// KubernetesTarget: the pods of deploy/kubernetes' StatefulSets, through kubectl (see
// kubernetes_target.h and docs/drills-kubernetes.md).
#include "tools/drill/kubernetes_target.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "tools/drill/nft_rules.h"

namespace strand::drill {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
using Json = nlohmann::json;

constexpr char kRoleLabel[] = "app.kubernetes.io/component";
// The label the manifests' STRAND_POD_INDEX comes from (Kubernetes 1.28+); older clusters lack
// it, and the index is then the pod name's ordinal suffix, as a StatefulSet names its pods.
constexpr char kIndexLabel[] = "apps.kubernetes.io/pod-index";
// The manifests' ports, for a pod whose container does not name them.
constexpr int kClientPort = 9092, kControllerPort = 9093, kMetricsPort = 9190;

// One pod of the cluster, as `kubectl get pods -o json` describes it.
struct Pod {
  std::string name, uid, phase;
  bool deleting = false;  // metadata.deletionTimestamp is set
  bool ready = false;
  bool managed = false;  // owned by a StatefulSet
  std::vector<std::string> ips;
  Node node;
};

bool Alive(const Pod& pod) { return pod.phase == "Running" && !pod.deleting; }

std::string Joined(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

bool Contains(const std::string& text, std::string_view needle) {
  return text.find(needle) != std::string::npos;
}

// A string field of a JSON object, "" when absent or of another type.
std::string Text(const Json& object, const char* key) {
  if (!object.is_object()) return "";
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

const Json& Field(const Json& object, const char* key) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  const auto it = object.find(key);
  return it != object.end() ? *it : kNull;
}

// The containerPort the server's container (or, failing that, any container) names `name`.
int NamedPort(const Json& spec, const std::string& container, const char* name, int fallback) {
  int any = -1;
  for (const Json& c : Field(spec, "containers")) {
    for (const Json& p : Field(c, "ports")) {
      if (Text(p, "name") != name || !Field(p, "containerPort").is_number_integer()) continue;
      const int port = Field(p, "containerPort").get<int>();
      if (Text(c, "name") == container) return port;
      if (any < 0) any = port;
    }
  }
  return any >= 0 ? any : fallback;
}

// A pod of the cluster, or nullopt for a pod of another component (a client the selector also
// matched); an error for a pod whose index cannot be known.
absl::StatusOr<std::optional<Pod>> ParsePod(const Json& item,
                                            const KubernetesTargetOptions& options) {
  const Json& metadata = Field(item, "metadata");
  const Json& labels = Field(metadata, "labels");
  const std::string component = Text(labels, kRoleLabel);
  if (component != "controller" && component != "broker") return std::nullopt;
  Pod pod;
  pod.name = Text(metadata, "name");
  pod.uid = Text(metadata, "uid");
  pod.deleting = !Field(metadata, "deletionTimestamp").is_null();
  for (const Json& owner : Field(metadata, "ownerReferences")) {
    pod.managed = pod.managed || Text(owner, "kind") == "StatefulSet";
  }
  std::string index = Text(labels, kIndexLabel);
  if (index.empty() && pod.name.rfind('-') != std::string::npos) {
    index = pod.name.substr(pod.name.rfind('-') + 1);
  }
  int ordinal = 0;
  if (!absl::SimpleAtoi(absl::string_view(index), &ordinal) || ordinal < 0) {
    return absl::FailedPreconditionError(
        fmt::format("pod {} has no index (no label {}, no -N suffix): not a StatefulSet's pod",
                    pod.name, kIndexLabel));
  }
  const Json& status = Field(item, "status");
  pod.phase = Text(status, "phase");
  for (const Json& c : Field(status, "conditions")) {
    if (Text(c, "type") == "Ready") pod.ready = Text(c, "status") == "True";
  }
  for (const Json& ip : Field(status, "podIPs")) {
    if (!Text(ip, "ip").empty()) pod.ips.push_back(Text(ip, "ip"));
  }
  if (pod.ips.empty() && !Text(status, "podIP").empty()) pod.ips.push_back(Text(status, "podIP"));

  const Json& spec = Field(item, "spec");
  const std::string service = Text(spec, "subdomain");
  if (service.empty()) {
    return absl::FailedPreconditionError(fmt::format(
        "pod {} has no spec.subdomain, so no stable DNS name: its StatefulSet names no headless "
        "Service (serviceName)",
        pod.name));
  }
  const bool broker = component == "broker";
  pod.node.role = broker ? Role::kBroker : Role::kController;
  pod.node.id = (broker ? options.broker_id_base : options.controller_id_base) + ordinal;
  const std::string host = fmt::format("{}.{}.{}.svc.{}", pod.name, service,
                                       options.kubernetes_namespace, options.cluster_domain);
  pod.node.address =
      fmt::format("{}:{}", host,
                  broker ? NamedPort(spec, options.container, "client", kClientPort)
                         : NamedPort(spec, options.container, "controller", kControllerPort));
  pod.node.metrics_address =
      fmt::format("{}:{}", host, NamedPort(spec, options.container, "metrics", kMetricsPort));
  return pod;
}

absl::StatusOr<std::vector<Pod>> ParsePodList(const std::string& text,
                                              const KubernetesTargetOptions& options) {
  try {
    const Json list = Json::parse(text);
    std::vector<Pod> pods;
    for (const Json& item : Field(list, "items")) {
      auto pod = ParsePod(item, options);
      if (!pod.ok()) return pod.status();
      if (pod->has_value()) pods.push_back(**std::move(pod));
    }
    return pods;
  } catch (const Json::exception& e) {
    return absl::InternalError(fmt::format("kubectl get pods printed no pod list: {} ({})",
                                           e.what(), text.substr(0, 200)));
  }
}

const Pod* Named(const std::vector<Pod>& pods, const std::string& name) {
  for (const Pod& p : pods) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

// The exec'd program does not exist in the container: what runc, containerd, CRI-O and Docker
// answer (an exit code of 126 or 127 from the runtime, or its message through kubectl).
bool MissingExecutable(const CommandOutcome& outcome) {
  return outcome.exit_code == 126 || outcome.exit_code == 127 ||
         Contains(outcome.stderr_text, "executable file not found") ||
         Contains(outcome.stderr_text, "no such file or directory");
}

// Builds and runs `kubectl [--context CTX] --namespace NS ...`.
class Kubectl {
 public:
  Kubectl(std::string path, const KubernetesTargetOptions& options)
      : path_(std::move(path)),
        options_(options),
        runner_(options.runner ? options.runner : MakeProcessKubectlRunner()) {}

  std::vector<std::string> Command(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{path_};
    if (!options_.context.empty()) argv.insert(argv.end(), {"--context", options_.context});
    argv.insert(argv.end(), {"--namespace", options_.kubernetes_namespace});
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  // `kubectl exec [-i] -c CONTAINER POD -- command...`.
  std::vector<std::string> Exec(const std::string& pod, const std::vector<std::string>& command,
                                bool with_stdin) const {
    std::vector<std::string> args{"exec"};
    if (with_stdin) args.push_back("-i");
    args.insert(args.end(), {"-c", options_.container, pod, "--"});
    args.insert(args.end(), command.begin(), command.end());
    return args;
  }

  // What the command did, whatever its exit code; an error only when it did not run to its end.
  absl::StatusOr<CommandOutcome> Run(const std::vector<std::string>& args,
                                     const std::string& input = "",
                                     std::chrono::milliseconds extra = 0ms) const {
    return runner_->Run(Command(args), input, options_.command_timeout + extra);
  }

  // The stdout of a command that must succeed.
  absl::StatusOr<std::string> Check(const std::vector<std::string>& args,
                                    const std::string& input = "",
                                    std::chrono::milliseconds extra = 0ms) const {
    auto outcome = Run(args, input, extra);
    if (!outcome.ok()) return outcome.status();
    if (outcome->exit_code != 0) return Failure(args, *outcome);
    return std::move(outcome->stdout_text);
  }

  // A failed command as a status: the command, its exit code and what it printed on stderr.
  absl::Status Failure(const std::vector<std::string>& args, const CommandOutcome& o) const {
    const std::string said = Trimmed(o.stderr_text.empty() ? o.stdout_text : o.stderr_text);
    std::string message =
        fmt::format("`{}` exited {}: {}", Joined(Command(args)), o.exit_code, said);
    absl::StatusCode code = absl::StatusCode::kUnknown;
    if (Contains(said, "(Forbidden)")) {
      code = absl::StatusCode::kPermissionDenied;
      message += " (docs/drills-kubernetes.md lists the RBAC rules the drill needs)";
    } else if (Contains(said, "(NotFound)")) {
      code = absl::StatusCode::kNotFound;
    } else if (Contains(said, "(TooManyRequests)") || Contains(said, "Unable to connect") ||
               Contains(said, "connection refused") || Contains(said, "i/o timeout")) {
      code = absl::StatusCode::kUnavailable;
    }
    return absl::Status(code, message);
  }

  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  const KubernetesTargetOptions& options_;
  const std::shared_ptr<KubectlRunner> runner_;
};

class KubernetesTarget final : public Target {
 public:
  KubernetesTarget(const KubernetesTargetOptions& options, std::string kubectl_path)
      : options_(options), kubectl_(std::move(kubectl_path), options_) {}

  absl::Status Load();

  std::string Describe() const override {
    return fmt::format("Kubernetes namespace {}{} (through {})", options_.kubernetes_namespace,
                       options_.context.empty() ? "" : " of context " + options_.context,
                       kubectl_.path());
  }
  const std::vector<Node>& nodes() const override { return nodes_; }
  std::string bootstrap() const override { return bootstrap_; }
  const client::Properties& client_settings() const override { return settings_; }

  absl::Status Kill(int node) override;
  absl::Status Stop(int node, std::chrono::seconds grace) override;
  absl::Status Start(int node) override;
  absl::Status Pause(int node) override;
  absl::Status Resume(int node) override;
  bool Running(int node) override;
  std::string Incarnation(int node) override;
  absl::Status Cut(int node, const std::vector<int>& peers) override {
    return AddRules(node, peers, "");
  }
  absl::Status Lossy(int node, const std::vector<int>& peers, int percent) override {
    if (percent < 1 || percent > 100) return absl::InvalidArgumentError("percent must be 1..100");
    return AddRules(node, peers, fmt::format("numgen random mod 100 < {} ", percent));
  }
  absl::Status Heal(int node) override;
  absl::StatusOr<int64_t> Dropped(int node) override;
  absl::Status Delay(int, int, std::chrono::microseconds, std::chrono::microseconds) override {
    return absl::UnimplementedError(
        "a delayed link needs a proxy in the pods' network path (the drill runs outside it): "
        "not available on Kubernetes");
  }
  absl::StatusOr<int64_t> Delayed(int) override {
    return absl::UnimplementedError("no delayed links on Kubernetes");
  }
  absl::StatusOr<DiskCounters> SetDiskFaults(int, const DiskFaults&) override {
    return absl::UnimplementedError(
        "disk faults need brokers started with --enable-fault-injection, which the shipped "
        "manifests never do: not available on Kubernetes");
  }
  absl::StatusOr<PowerCutReport> PowerCut(const std::vector<int>&) override {
    return absl::UnimplementedError(
        "a power cut needs the brokers' synced-length journal (--enable-fault-injection) and "
        "their files: not available on Kubernetes");
  }
  absl::StatusOr<BitFlip> FlipBit(int, const std::string&, int32_t) override {
    return absl::UnimplementedError(
        "flipping a bit needs the broker's files, inside its volume: not available on "
        "Kubernetes");
  }
  absl::Status ShiftClock(int, std::chrono::seconds) override {
    return absl::UnimplementedError(
        "a clock jump needs libfaketime preloaded into the broker, which the shipped image "
        "lacks: not available on Kubernetes");
  }

 private:
  // The pod list; `fresh` reads it now, else a list read within poll_interval may do.
  absl::StatusOr<std::vector<Pod>> Pods(bool fresh);
  void ForgetPods();
  std::string PodName(int node) const;
  // The node's pod, read now (and the whole list, when `pods` is given); FAILED_PRECONDITION when
  // it is not running.
  absl::StatusOr<Pod> LivePod(int node, std::vector<Pod>* pods = nullptr);
  // Polls until pod `name` is gone or has another UID than `uid`; false at the deadline.
  absl::StatusOr<bool> WaitGone(const std::string& name, const std::string& uid,
                                std::chrono::milliseconds timeout);
  absl::Status Signal(int node, const std::string& signal);
  absl::StatusOr<char> ProcessOneState(const Pod& pod);
  absl::Status NeedNft(const Pod& pod);
  absl::Status AddRules(int node, const std::vector<int>& peers, const std::string& match);

  const KubernetesTargetOptions options_;
  const Kubectl kubectl_;
  std::vector<Node> nodes_;
  std::string bootstrap_;
  client::Properties settings_;
  std::map<int, std::string> names_;        // node id -> pod name
  std::map<int, std::string> last_uid_;     // node id -> UID of its pod when last seen running
  std::set<std::string> nft_checked_uids_;  // pods where `nft --version` ran

  std::mutex mu_;  // guards the cached pod list
  std::vector<Pod> cached_pods_;
  std::optional<SteadyClock::time_point> cached_at_;
};

absl::Status KubernetesTarget::Load() {
  if (!options_.command_config.empty()) {
    std::ifstream in(options_.command_config);
    if (!in) {
      return absl::NotFoundError(
          fmt::format("--command-config {}: cannot read it", options_.command_config));
    }
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = client::ParseProperties(text.str());
    if (!parsed.ok()) return parsed.status();
    settings_ = *std::move(parsed);
  }
  auto pods = Pods(true);
  if (!pods.ok()) return pods.status();
  const std::string where =
      fmt::format("namespace {} (kubectl --namespace {} get pods --selector {})",
                  options_.kubernetes_namespace, options_.kubernetes_namespace, options_.selector);
  std::vector<std::string> brokers;
  for (const Pod& pod : *pods) {
    if (names_.count(pod.node.id)) {
      return absl::FailedPreconditionError(fmt::format("pods {} and {} are both node {} in {}",
                                                       names_[pod.node.id], pod.name, pod.node.id,
                                                       where));
    }
    if (!pod.managed) {
      return absl::FailedPreconditionError(fmt::format(
          "pod {} is not managed by a StatefulSet: nothing would recreate it after a fault",
          pod.name));
    }
    if (!Alive(pod)) {
      return absl::FailedPreconditionError(fmt::format(
          "pod {} (node {}) is {}; a drill starts from a whole cluster ({})", pod.name, pod.node.id,
          pod.deleting ? "being deleted" : "in phase " + pod.phase, where));
    }
    names_[pod.node.id] = pod.name;
    last_uid_[pod.node.id] = pod.uid;
    nodes_.push_back(pod.node);
  }
  std::sort(nodes_.begin(), nodes_.end(), [](const Node& a, const Node& b) { return a.id < b.id; });
  for (const Node& n : nodes_) {
    if (n.role == Role::kBroker) brokers.push_back(n.address);
  }
  if (brokers.empty()) {
    return absl::FailedPreconditionError(
        fmt::format("no broker pod (label {}=broker) in {}", kRoleLabel, where));
  }
  bootstrap_ = Joined(brokers);
  std::replace(bootstrap_.begin(), bootstrap_.end(), ' ', ',');
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Pod>> KubernetesTarget::Pods(bool fresh) {
  {
    std::lock_guard lock(mu_);
    if (!fresh && cached_at_ && SteadyClock::now() - *cached_at_ < options_.poll_interval) {
      return cached_pods_;
    }
  }
  auto text = kubectl_.Check({"get", "pods", "--selector", options_.selector, "-o", "json"});
  if (!text.ok()) return text.status();
  auto pods = ParsePodList(*text, options_);
  if (!pods.ok()) return pods.status();
  std::lock_guard lock(mu_);
  cached_pods_ = *pods;
  cached_at_ = SteadyClock::now();
  return pods;
}

void KubernetesTarget::ForgetPods() {
  std::lock_guard lock(mu_);
  cached_at_.reset();
}

std::string KubernetesTarget::PodName(int node) const {
  const auto it = names_.find(node);
  return it == names_.end() ? "" : it->second;
}

absl::StatusOr<Pod> KubernetesTarget::LivePod(int node, std::vector<Pod>* pods_out) {
  const std::string name = PodName(node);
  if (name.empty()) return absl::NotFoundError(fmt::format("no node {}", node));
  auto pods = Pods(true);
  if (!pods.ok()) return pods.status();
  if (pods_out != nullptr) *pods_out = *pods;
  const Pod* pod = Named(*pods, name);
  if (pod == nullptr) {
    return absl::FailedPreconditionError(
        fmt::format("node {} is not running: there is no pod {}", node, name));
  }
  if (!Alive(*pod)) {
    return absl::FailedPreconditionError(
        fmt::format("node {} is not running: pod {} is {}", node, name,
                    pod->deleting ? "being deleted" : "in phase " + pod->phase));
  }
  return *pod;
}

absl::StatusOr<bool> KubernetesTarget::WaitGone(const std::string& name, const std::string& uid,
                                                std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  while (true) {
    auto pods = Pods(true);
    if (!pods.ok()) return pods.status();
    const Pod* pod = Named(*pods, name);
    if (pod == nullptr || pod->uid != uid) return true;
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(options_.poll_interval);
  }
}

absl::Status KubernetesTarget::Kill(int node) {
  auto pod = LivePod(node);
  if (!pod.ok()) return pod.status();
  auto deleted =
      kubectl_.Check({"delete", "pod", pod->name, "--grace-period=0", "--force", "--wait=false"});
  ForgetPods();
  if (!deleted.ok()) return deleted.status();
  auto gone = WaitGone(pod->name, pod->uid, options_.kill_gone_timeout);
  if (!gone.ok()) return gone.status();
  if (!*gone) {
    return absl::DeadlineExceededError(
        fmt::format("pod {} (node {}, uid {}) still exists {} ms after its forced deletion",
                    pod->name, node, pod->uid, options_.kill_gone_timeout.count()));
  }
  return absl::OkStatus();
}

absl::Status KubernetesTarget::Stop(int node, std::chrono::seconds grace) {
  auto pod = LivePod(node);
  if (!pod.ok()) return pod.status();
  // The Eviction API is what `kubectl drain` uses: it honours the PodDisruptionBudgets. Its
  // gracePeriodSeconds replaces the pod's terminationGracePeriodSeconds, as the local target's
  // SIGKILL after `grace`.
  const Json eviction = {
      {"apiVersion", "policy/v1"},
      {"kind", "Eviction"},
      {"metadata", {{"name", pod->name}, {"namespace", options_.kubernetes_namespace}}},
      {"deleteOptions", {{"gracePeriodSeconds", grace.count()}}}};
  const std::vector<std::string> args = {"create", "--raw",
                                         fmt::format("/api/v1/namespaces/{}/pods/{}/eviction",
                                                     options_.kubernetes_namespace, pod->name),
                                         "-f", "-"};
  const auto start = SteadyClock::now();
  auto outcome = kubectl_.Run(args, eviction.dump() + "\n");
  ForgetPods();
  if (!outcome.ok()) return outcome.status();
  if (outcome->exit_code != 0) {
    const absl::Status failed = kubectl_.Failure(args, *outcome);
    if (Contains(outcome->stderr_text, "(TooManyRequests)")) {
      return absl::UnavailableError(
          fmt::format("a PodDisruptionBudget refused to evict pod {} (node {}): {}", pod->name,
                      node, std::string(failed.message())));
    }
    return failed;
  }
  auto gone = WaitGone(pod->name, pod->uid, grace + options_.gone_margin);
  if (!gone.ok()) return gone.status();
  const auto took = std::chrono::duration_cast<std::chrono::seconds>(SteadyClock::now() - start);
  if (!*gone || took > grace) {
    return absl::DeadlineExceededError(fmt::format(
        "pod {} (node {}) {} {} s after its eviction: it did not exit within its {} s grace "
        "period of SIGTERM, and the kubelet SIGKILLs it then",
        pod->name, node, *gone ? "was gone only" : "still existed", took.count(), grace.count()));
  }
  return absl::OkStatus();
}

absl::Status KubernetesTarget::Start(int node) {
  const std::string name = PodName(node);
  if (name.empty()) return absl::NotFoundError(fmt::format("no node {}", node));
  const std::string before = last_uid_[node];
  const auto deadline = SteadyClock::now() + options_.start_timeout;
  std::string uid;
  while (true) {
    auto pods = Pods(true);
    if (!pods.ok()) return pods.status();
    const Pod* pod = Named(*pods, name);
    if (pod != nullptr && pod->uid == before && Alive(*pod)) {
      return absl::FailedPreconditionError(
          fmt::format("node {} runs: pod {} (uid {}) was never stopped", node, name, before));
    }
    if (pod != nullptr && pod->uid != before && !pod->deleting) {
      uid = pod->uid;
      break;
    }
    if (SteadyClock::now() >= deadline) {
      return absl::DeadlineExceededError(
          fmt::format("the StatefulSet did not recreate pod {} (node {}) within {} ms", name, node,
                      options_.start_timeout.count()));
    }
    std::this_thread::sleep_for(options_.poll_interval);
  }
  // The recreated pod is Ready: a controller knows the Raft leader, a broker is registered,
  // unfenced, caught up and its replicas are back in their ISRs (its /readyz).
  const auto left =
      std::max(std::chrono::duration_cast<std::chrono::seconds>(deadline - SteadyClock::now()),
               std::chrono::seconds(1));
  auto ready = kubectl_.Check(
      {"wait", "--for=condition=Ready", "pod/" + name, fmt::format("--timeout={}s", left.count())},
      "", left);
  ForgetPods();
  if (!ready.ok()) return ready.status();
  last_uid_[node] = uid;
  return absl::OkStatus();
}

absl::Status KubernetesTarget::Signal(int node, const std::string& signal) {
  auto pod = LivePod(node);
  if (!pod.ok()) return pod.status();
  const auto args = kubectl_.Exec(pod->name, {"kill", signal, "1"}, false);
  auto outcome = kubectl_.Run(args);
  if (!outcome.ok()) return outcome.status();
  if (outcome->exit_code == 0) return absl::OkStatus();
  if (MissingExecutable(*outcome)) {
    return absl::UnimplementedError(fmt::format(
        "pod {} (node {}) has no kill executable ({}): the image deploy/Dockerfile builds is "
        "Debian bookworm-slim with deploy/runtime-packages.txt, and Debian's /bin/kill is in "
        "procps, which neither installs. Pause and Resume need an image with procps; see "
        "docs/drills-kubernetes.md for why even that does not stop PID 1",
        pod->name, node, Trimmed(outcome->stderr_text)));
  }
  return kubectl_.Failure(args, *outcome);
}

// The state letter of the container's PID 1 ('S', 'R', 'T', ...), from /proc/1/stat.
absl::StatusOr<char> KubernetesTarget::ProcessOneState(const Pod& pod) {
  auto stat = kubectl_.Check(kubectl_.Exec(pod.name, {"cat", "/proc/1/stat"}, false));
  if (!stat.ok()) return stat.status();
  const size_t paren = stat->rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat->size()) {
    return absl::InternalError(fmt::format("pod {}: /proc/1/stat reads '{}'", pod.name, *stat));
  }
  return (*stat)[paren + 2];
}

absl::Status KubernetesTarget::Pause(int node) {
  if (absl::Status s = Signal(node, "-STOP"); !s.ok()) return s;
  auto pod = LivePod(node);
  if (!pod.ok()) return pod.status();
  // kill(2) succeeds even when the kernel drops the signal, so look.
  auto state = ProcessOneState(*pod);
  if (!state.ok()) return state.status();
  if (*state == 'T' || *state == 't') return absl::OkStatus();
  return absl::UnimplementedError(fmt::format(
      "`kill -STOP 1` ran in pod {} (node {}) but its PID 1 is in state '{}', not stopped: "
      "strand-server is PID 1 of its container, and the kernel drops a SIGSTOP sent to a PID "
      "namespace's init from inside that namespace (pid_namespaces(7)). Pausing a pod needs the "
      "signal from the node (docs/drills-kubernetes.md)",
      pod->name, node, *state));
}

absl::Status KubernetesTarget::Resume(int node) { return Signal(node, "-CONT"); }

bool KubernetesTarget::Running(int node) {
  auto pods = Pods(false);
  if (!pods.ok()) return false;
  const Pod* pod = Named(*pods, PodName(node));
  return pod != nullptr && Alive(*pod);
}

std::string KubernetesTarget::Incarnation(int node) {
  auto pods = Pods(true);
  if (!pods.ok()) return "";
  const Pod* pod = Named(*pods, PodName(node));
  return pod == nullptr ? "" : pod->uid;
}

// nft must run in the pod: the shipped image has none (and no capability to use it); an
// operator's image may. Asked once per pod incarnation.
absl::Status KubernetesTarget::NeedNft(const Pod& pod) {
  if (nft_checked_uids_.count(pod.uid)) return absl::OkStatus();
  const auto args = kubectl_.Exec(pod.name, {"nft", "--version"}, false);
  auto outcome = kubectl_.Run(args);
  if (!outcome.ok()) return outcome.status();
  if (outcome->exit_code == 0) {
    nft_checked_uids_.insert(pod.uid);
    return absl::OkStatus();
  }
  if (!MissingExecutable(*outcome)) return kubectl_.Failure(args, *outcome);
  return absl::UnimplementedError(fmt::format(
      "network faults run nft in the node's pod, and pod {} (node {}) has none ({}): the image "
      "deploy/Dockerfile builds installs no nftables, and the manifests run it as uid 10001 with "
      "every capability dropped, so it could not change the pod's firewall even with nft. They "
      "need an image with nftables whose exec runs as root with NET_ADMIN "
      "(docs/drills-kubernetes.md)",
      pod.name, pod.node.id, Trimmed(outcome->stderr_text)));
}

absl::Status KubernetesTarget::AddRules(int node, const std::vector<int>& peers,
                                        const std::string& match) {
  std::vector<Pod> pods;
  auto pod = LivePod(node, &pods);
  if (!pod.ok()) return pod.status();
  if (absl::Status s = NeedNft(*pod); !s.ok()) return s;
  std::vector<std::string> addresses;
  for (int peer : peers) {
    const Pod* p = Named(pods, PodName(peer));
    if (p == nullptr || p->ips.empty()) {
      return absl::NotFoundError(fmt::format("node {} has no pod with an IP", peer));
    }
    addresses.insert(addresses.end(), p->ips.begin(), p->ips.end());
  }
  if (addresses.empty()) return absl::InvalidArgumentError("no peer to cut from");
  auto added = kubectl_.Check(kubectl_.Exec(pod->name, {"nft", "-f", "-"}, true),
                              DropRules(addresses, match));
  return added.ok() ? absl::OkStatus() : added.status();
}

absl::Status KubernetesTarget::Heal(int node) {
  auto pod = LivePod(node);
  if (!pod.ok()) return absl::OkStatus();  // no pod, no rules: a new pod starts without them
  if (absl::Status s = NeedNft(*pod); !s.ok()) return s;
  auto listed =
      kubectl_.Run(kubectl_.Exec(pod->name, {"nft", "list", "table", "inet", kDrillTable}, false));
  if (!listed.ok()) return listed.status();
  if (listed->exit_code != 0) return absl::OkStatus();  // no fault made
  auto deleted = kubectl_.Check(
      kubectl_.Exec(pod->name, {"nft", "delete", "table", "inet", kDrillTable}, false));
  return deleted.ok() ? absl::OkStatus() : deleted.status();
}

absl::StatusOr<int64_t> KubernetesTarget::Dropped(int node) {
  auto pod = LivePod(node);
  if (!pod.ok()) return pod.status();
  if (absl::Status s = NeedNft(*pod); !s.ok()) return s;
  auto listed = kubectl_.Run(
      kubectl_.Exec(pod->name, {"nft", "-j", "list", "table", "inet", kDrillTable}, false));
  if (!listed.ok()) return listed.status();
  if (listed->exit_code != 0) return int64_t{0};
  return DroppedPackets(listed->stdout_text);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> OpenKubernetesTarget(
    const KubernetesTargetOptions& options) {
  if (options.kubernetes_namespace.empty()) {
    return absl::InvalidArgumentError("the Kubernetes target needs a namespace");
  }
  // An injected runner gets the path as given; the process runner needs an executable.
  absl::StatusOr<std::string> kubectl = options.kubectl;
  if (options.runner == nullptr) kubectl = FindExecutable(options.kubectl);
  if (!kubectl.ok()) {
    return absl::NotFoundError(fmt::format("kubectl: {}", std::string(kubectl.status().message())));
  }
  auto target = std::make_unique<KubernetesTarget>(options, *kubectl);
  if (absl::Status s = target->Load(); !s.ok()) return s;
  return std::unique_ptr<Target>(std::move(target));
}

}  // namespace strand::drill
