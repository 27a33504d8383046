// LocalTarget: the processes of scripts/local-cluster.sh (see target.h).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "client/common/broker_channels.h"
#include "proto/broker/v1/fault.grpc.pb.h"
#include "tools/drill/delay_proxy.h"
#include "tools/drill/nft_rules.h"
#include "tools/drill/target.h"

namespace strand::drill {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> SplitNul(const std::string& bytes) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < bytes.size()) {
    const size_t end = bytes.find('\0', start);
    out.push_back(bytes.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

// A value as bash's printf %q writes the simple cases (backslash escapes); quotes stripped.
std::string Unquote(const std::string& value) {
  std::string out;
  if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') {
    return value.substr(1, value.size() - 2);
  }
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size()) ++i;
    out += value[i];
  }
  return out;
}

// "export NAME=VALUE" lines.
std::map<std::string, std::string> ParseEnvFile(const std::string& text) {
  std::map<std::string, std::string> vars;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("export ", 0) != 0) continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    vars[line.substr(7, eq - 7)] = Unquote(line.substr(eq + 1));
  }
  return vars;
}

// The state letter of /proc/PID/stat ('R', 'S', 'T', 'Z', ...); 0 when the process is gone.
char ProcessState(pid_t pid) {
  const std::string stat = ReadFile(fmt::format("/proc/{}/stat", pid));
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return 0;
  return stat[paren + 2];
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs argv (argv[0] found on PATH) with `input` on its stdin; waits for it.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input) {
  CommandResult result;
  int in[2], out[2];
  if (::pipe(in) != 0) return result;
  if (::pipe(out) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return result;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::close(in[1]);
    ::close(out[0]);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  if (pid > 0) {
    size_t written = 0;
    while (written < input.size()) {
      const ssize_t n = ::write(in[1], input.data() + written, input.size() - written);
      if (n <= 0) break;
      written += static_cast<size_t>(n);
    }
  }
  ::close(in[1]);
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(out[0], buffer, sizeof buffer)) > 0)
    result.output.append(buffer, static_cast<size_t>(n));
  ::close(out[0]);
  int status = 0;
  if (pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

// The nat table delayed links' DNAT rules go into, in the delayed node's namespace.
constexpr char kNatTable[] = "strand_drill_nat";

class LocalTarget final : public Target {
 public:
  explicit LocalTarget(std::string dir) : dir_(std::move(dir)) {}

  absl::Status Load() {
    const std::string env_path = dir_ + "/cluster.env";
    if (!std::filesystem::exists(env_path)) {
      return absl::FailedPreconditionError(fmt::format(
          "{} not found: no cluster runs in {} (start one with scripts/local-cluster.sh up --dir "
          "{})",
          env_path, dir_, dir_));
    }
    env_ = ParseEnvFile(ReadFile(env_path));
    bootstrap_ = env_["STRAND_BOOTSTRAP"];
    if (auto it = env_.find("STRAND_COMMAND_CONFIG"); it != env_.end()) {
      std::ifstream in(it->second);
      std::stringstream text;
      text << in.rdbuf();
      auto parsed = client::ParseProperties(text.str());
      if (!parsed.ok()) return parsed.status();
      settings_ = *std::move(parsed);
    }
    std::istringstream pids(ReadFile(dir_ + "/pids"));
    int id = 0;
    pid_t pid = 0;
    while (pids >> id >> pid) pids_[id] = pid;
    for (const auto& [name, value] : env_) {
      constexpr std::string_view kPrefix = "STRAND_NODE_", kSuffix = "_ADDR";
      if (name.rfind(kPrefix, 0) != 0 || name.size() <= kPrefix.size() + kSuffix.size() ||
          name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
        continue;
      }
      const std::string digits =
          name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
      int node = 0;
      if (!absl::SimpleAtoi(absl::string_view(digits), &node)) continue;  // _REPLICATION_ADDR...
      Node n;
      n.id = node;
      n.role = env_.count(fmt::format("STRAND_NODE_{}_REPLICATION_ADDR", node)) ? Role::kBroker
                                                                                : Role::kController;
      n.address = value;
      n.metrics_address = env_[fmt::format("STRAND_NODE_{}_METRICS", node)];
      if (n.role == Role::kBroker) {
        replication_addresses_[node] = env_[fmt::format("STRAND_NODE_{}_REPLICATION_ADDR", node)];
      }
      if (env_["STRAND_NETNS"] == "1") {
        namespaces_[node] = env_[fmt::format("STRAND_NODE_{}_NETNS", node)];
        ips_[node] = env_[fmt::format("STRAND_NODE_{}_IP", node)];
      }
      nodes_.push_back(n);
    }
    std::sort(nodes_.begin(), nodes_.end(),
              [](const Node& a, const Node& b) { return a.id < b.id; });
    // --netns: the bridge's address in the root namespace (DIR/netns: "bridge NAME ADDRESS/LEN"),
    // where delay proxies listen for what the nodes send them.
    {
      std::istringstream layout(ReadFile(dir_ + "/netns"));
      std::string line;
      while (std::getline(layout, line)) {
        std::istringstream fields(line);
        std::string word, name, address;
        if (fields >> word >> name >> address && word == "bridge") {
          bridge_ip_ = address.substr(0, address.find('/'));
        }
      }
    }
    if (nodes_.empty()) return absl::FailedPreconditionError(env_path + " names no node");
    for (const Node& n : nodes_) {
      auto it = pids_.find(n.id);
      if (it == pids_.end()) {
        return absl::FailedPreconditionError(
            fmt::format("{}/pids has no line for node {}", dir_, n.id));
      }
      if (!IsNode(it->second, n.id)) {
        return absl::FailedPreconditionError(fmt::format(
            "node {} (pid {}) is not running; a drill starts from a whole cluster (restart it "
            "with scripts/local-cluster.sh up --dir {})",
            n.id, it->second, dir_));
      }
      Launch launch;
      launch.argv = SplitNul(ReadFile(fmt::format("/proc/{}/cmdline", it->second)));
      launch.env = SplitNul(ReadFile(fmt::format("/proc/{}/environ", it->second)));
      std::error_code ec;
      launch.cwd = std::filesystem::read_symlink(fmt::format("/proc/{}/cwd", it->second), ec);
      std::string exe = std::filesystem::read_symlink(fmt::format("/proc/{}/exe", it->second), ec);
      if (const size_t d = exe.find(" (deleted)"); d != std::string::npos) exe.resize(d);
      launch.executable = exe;
      if (launch.argv.empty() || launch.executable.empty()) {
        return absl::FailedPreconditionError(
            fmt::format("cannot read node {}'s command line from /proc/{}", n.id, it->second));
      }
      launches_[n.id] = std::move(launch);
    }
    return absl::OkStatus();
  }

  std::string Describe() const override { return "local cluster in " + dir_; }
  const std::vector<Node>& nodes() const override { return nodes_; }
  std::string bootstrap() const override { return bootstrap_; }
  const client::Properties& client_settings() const override { return settings_; }

  absl::Status Kill(int node) override {
    const pid_t pid = PidOf(node);
    if (!IsNode(pid, node)) return absl::FailedPreconditionError(NotRunning(node));
    if (::kill(pid, SIGKILL) != 0) return Errno("SIGKILL", node);
    if (!WaitGone(pid, 10s)) {
      return absl::DeadlineExceededError(
          fmt::format("node {} (pid {}) survived SIGKILL", node, pid));
    }
    return absl::OkStatus();
  }

  absl::Status Stop(int node, std::chrono::seconds grace) override {
    const pid_t pid = PidOf(node);
    if (!IsNode(pid, node)) return absl::FailedPreconditionError(NotRunning(node));
    ::kill(pid, SIGCONT);  // a paused process cannot handle SIGTERM
    if (::kill(pid, SIGTERM) != 0) return Errno("SIGTERM", node);
    if (WaitGone(pid, grace)) return absl::OkStatus();
    ::kill(pid, SIGKILL);
    WaitGone(pid, 10s);
    return absl::DeadlineExceededError(
        fmt::format("node {} (pid {}) did not exit within {} s of SIGTERM; SIGKILLed", node, pid,
                    grace.count()));
  }

  absl::Status Start(int node) override {
    if (Running(node)) return absl::FailedPreconditionError(fmt::format("node {} runs", node));
    const auto it = launches_.find(node);
    if (it == launches_.end()) return absl::NotFoundError(fmt::format("no node {}", node));
    const Launch& launch = it->second;
    const std::string log = fmt::format("{}/node-{}.log", dir_, node);
    {
      std::ofstream out(log, std::ios::app);
      std::string args;
      for (size_t i = 1; i < launch.argv.size(); ++i) args += " " + launch.argv[i];
      const std::time_t now = std::time(nullptr);
      char when[32];
      std::strftime(when, sizeof when, "%FT%T%z", std::localtime(&now));
      out << "=== " << when << " strand drill: strand-server" << args << "\n";
    }
    std::vector<char*> argv, envp;
    for (const auto& a : launch.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : launch.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const std::string netns =
        namespaces_.count(node) ? "/run/netns/" + namespaces_.at(node) : std::string();
    const pid_t pid = ::fork();
    if (pid < 0) return Errno("fork", node);
    if (pid == 0) {
      ::setsid();  // its own session: a Ctrl-C of the drill does not reach the cluster
      const int in = ::open("/dev/null", O_RDONLY);
      const int out = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
      if (in < 0 || out < 0) ::_exit(126);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      for (int fd = 3; fd < 1024; ++fd) ::close(fd);
      if (!launch.cwd.empty() && ::chdir(launch.cwd.c_str()) != 0) ::_exit(126);
      if (!netns.empty()) {  // as `ip netns exec NS` started it
        const int ns = ::open(netns.c_str(), O_RDONLY | O_CLOEXEC);
        if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) ::_exit(125);
      }
      ::execve(launch.executable.c_str(), argv.data(), envp.data());
      ::_exit(127);
    }
    children_.insert(pid);
    pids_[node] = pid;
    return SavePid(node, pid);
  }

  absl::Status Pause(int node) override { return Signal(node, SIGSTOP, "SIGSTOP"); }
  absl::Status Resume(int node) override { return Signal(node, SIGCONT, "SIGCONT"); }

  bool Running(int node) override { return IsNode(PidOf(node), node); }
  std::string Incarnation(int node) override { return std::to_string(PidOf(node)); }

  absl::Status Cut(int node, const std::vector<int>& peers) override {
    return AddRules(node, peers, "");
  }

  absl::Status Lossy(int node, const std::vector<int>& peers, int percent) override {
    if (percent < 1 || percent > 100) return absl::InvalidArgumentError("percent must be 1..100");
    return AddRules(node, peers, fmt::format("numgen random mod 100 < {} ", percent));
  }

  absl::Status Heal(int node) override {
    if (absl::Status s = NeedNamespaces(); !s.ok()) return s;
    if (Nft(node, {"list", "table", "ip", kNatTable}, "").exit_code == 0) {
      const CommandResult d = Nft(node, {"delete", "table", "ip", kNatTable}, "");
      if (d.exit_code != 0) {
        return absl::InternalError(fmt::format("nft delete table on node {}: {}", node, d.output));
      }
    }
    proxies_.erase(node);  // stops them: their connections close, the node reconnects directly
    const CommandResult r = Nft(node, {"list", "table", "inet", kDrillTable}, "");
    if (r.exit_code != 0) return absl::OkStatus();  // no fault made
    const CommandResult d = Nft(node, {"delete", "table", "inet", kDrillTable}, "");
    if (d.exit_code != 0) {
      return absl::InternalError(fmt::format("nft delete table on node {}: {}", node, d.output));
    }
    return absl::OkStatus();
  }

  absl::Status Delay(int from, int to, std::chrono::microseconds delay,
                     std::chrono::microseconds jitter) override {
    if (absl::Status s = NeedNamespaces(); !s.ok()) return s;
    if (!namespaces_.count(from) || !ips_.count(to)) {
      return absl::NotFoundError(fmt::format("no node {} or {}", from, to));
    }
    if (bridge_ip_.empty()) {
      return absl::FailedPreconditionError(dir_ + "/netns names no bridge address");
    }
    // Each listener of `to`: a proxy on the bridge, and a DNAT rule in `from`'s namespace that
    // sends its new connections there; its open ones are killed so that they reconnect.
    std::string rules = fmt::format(
        "add table ip {0}\n"
        "add chain ip {0} output {{ type nat hook output priority -100; }}\n",
        kNatTable);
    std::vector<std::string> upstreams;
    for (const auto& [id, address] : replication_addresses_) {
      if (id == to && !address.empty()) upstreams.push_back(address);
    }
    for (const Node& n : nodes_) {
      if (n.id == to) upstreams.push_back(n.address);
    }
    std::vector<std::string> ports;
    for (const std::string& upstream : upstreams) {
      DelayProxyConfig config;
      config.listen_address = bridge_ip_ + ":0";
      config.upstream_address = upstream;
      config.delay = delay;
      config.jitter = jitter;
      config.seed = static_cast<uint64_t>(from) * 1000 + static_cast<uint64_t>(to);
      auto proxy = DelayProxy::Start(config);
      if (!proxy.ok()) return proxy.status();
      const std::string port = upstream.substr(upstream.rfind(':') + 1);
      rules += fmt::format("add rule ip {} output ip daddr {} tcp dport {} counter dnat to {}\n",
                           kNatTable, ips_.at(to), port, (*proxy)->address());
      ports.push_back(port);
      proxies_[from].push_back(*std::move(proxy));
    }
    const CommandResult r = Nft(from, {"-f", "-"}, rules);
    if (r.exit_code != 0) {
      return absl::InternalError(
          fmt::format("nft on node {} (exit {}): {}", from, r.exit_code, r.output));
    }
    for (const std::string& port : ports) {
      RunCommand({"ip", "netns", "exec", namespaces_.at(from), "ss", "-K", "dst", ips_.at(to),
                  "dport", "=", port},
                 "");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> Delayed(int from) override {
    int64_t chunks = 0;
    if (auto it = proxies_.find(from); it != proxies_.end()) {
      for (const auto& proxy : it->second) chunks += proxy->stats().chunks_delayed;
    }
    return chunks;
  }

  absl::StatusOr<int64_t> Dropped(int node) override {
    if (absl::Status s = NeedNamespaces(); !s.ok()) return s;
    const CommandResult r = Nft(node, {"-j", "list", "table", "inet", kDrillTable}, "");
    if (r.exit_code != 0) return int64_t{0};
    return DroppedPackets(r.output);
  }

  absl::StatusOr<DiskCounters> SetDiskFaults(int node, const DiskFaults& faults) override {
    if (absl::Status s = NeedFaultInjection(); !s.ok()) return s;
    auto address = replication_addresses_.find(node);
    if (address == replication_addresses_.end() || address->second.empty()) {
      return absl::NotFoundError(fmt::format("no broker {}", node));
    }
    auto setting = [this](const char* name) {
      auto it = settings_.find(name);
      return it == settings_.end() ? std::string() : it->second;
    };
    auto credentials = client::CredentialsFromFiles(
        absl::EqualsIgnoreCase(setting("security.protocol"), "ssl"), setting("ssl.ca.location"),
        setting("ssl.certificate.location"), setting("ssl.key.location"));
    if (!credentials.ok()) return credentials.status();
    auto stub = broker::v1::FaultInjectionService::NewStub(
        grpc::CreateChannel(address->second, *credentials));
    broker::v1::SetFaultsRequest request;
    request.set_disk_full(faults.full);
    request.set_sync_delay_ms(static_cast<uint32_t>(faults.sync_delay.count()));
    request.set_hold_syncs(faults.hold_syncs);
    broker::v1::SetFaultsResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    const grpc::Status status = stub->SetFaults(&context, request, &response);
    if (!status.ok()) {
      return absl::UnavailableError(fmt::format("SetFaults on broker {} ({}): {}", node,
                                                address->second, status.error_message()));
    }
    DiskCounters counters;
    counters.syncs = response.syncs();
    counters.syncs_slowed = response.syncs_slowed();
    counters.injected_errors = response.injected_errors();
    counters.wall_clock_ms = response.wall_clock_ms();
    return counters;
  }

  absl::StatusOr<PowerCutReport> PowerCut(const std::vector<int>& nodes) override {
    if (absl::Status s = NeedFaultInjection(); !s.ok()) return s;
    std::vector<std::pair<int, pid_t>> victims;
    for (int node : nodes) {
      const pid_t pid = PidOf(node);
      if (!IsNode(pid, node)) return absl::FailedPreconditionError(NotRunning(node));
      if (!std::filesystem::exists(JournalOf(node))) {
        return absl::FailedPreconditionError(
            fmt::format("node {} keeps no synced-length journal ({}): is it a broker started with "
                        "--enable-fault-injection?",
                        node, JournalOf(node)));
      }
      victims.emplace_back(node, pid);
    }
    for (const auto& [node, pid] : victims) ::kill(pid, SIGKILL);  // all at once
    for (const auto& [node, pid] : victims) {
      if (!WaitGone(pid, 10s)) {
        return absl::DeadlineExceededError(
            fmt::format("node {} (pid {}) survived SIGKILL", node, pid));
      }
    }
    PowerCutReport report;
    for (const auto& [node, pid] : victims) {
      std::map<std::string, int64_t> synced;  // the journal's last word on each file
      std::istringstream journal(ReadFile(JournalOf(node)));
      std::string line;
      while (std::getline(journal, line)) {
        const size_t space = line.find(' ');
        int64_t length = 0;
        if (space == std::string::npos ||
            !absl::SimpleAtoi(absl::string_view(line).substr(0, space), &length)) {
          continue;  // a torn last line
        }
        synced[line.substr(space + 1)] = length;
      }
      for (const auto& [path, length] : synced) {
        if (length < 0) continue;  // removed
        std::error_code ec;
        const auto size = std::filesystem::file_size(CwdPath(node, path), ec);
        if (ec || static_cast<int64_t>(size) <= length) continue;
        std::filesystem::resize_file(CwdPath(node, path), static_cast<uintmax_t>(length), ec);
        if (ec) {
          return absl::InternalError(
              fmt::format("cutting {} to {} bytes: {}", path, length, ec.message()));
        }
        report.bytes_cut += static_cast<int64_t>(size) - length;
        ++report.files_cut;
      }
    }
    return report;
  }

  absl::Status ShiftClock(int node, std::chrono::seconds offset) override {
    auto launch = launches_.find(node);
    if (launch == launches_.end()) return absl::NotFoundError(fmt::format("no node {}", node));
    const std::string file = fmt::format("{}/node-{}.faketime", dir_, node);
    if (absl::Status s = Replace(file, fmt::format("{:+d}\n", offset.count())); !s.ok()) {
      return s;
    }
    if (faked_.count(node)) return absl::OkStatus();
    std::string library;
    for (const char* candidate : {"/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                                  "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
                                  "/usr/lib/faketime/libfaketime.so.1"}) {
      if (std::filesystem::exists(candidate)) library = candidate;
    }
    if (library.empty()) {
      return absl::FailedPreconditionError(
          "libfaketime is not installed (scripts/install-deps.sh installs it)");
    }
    // libfaketime re-reads the file at most once a second; CLOCK_MONOTONIC stays real.
    auto& env = launch->second.env;
    std::erase_if(env, [](const std::string& e) {
      return e.rfind("LD_PRELOAD=", 0) == 0 || e.rfind("FAKETIME", 0) == 0;
    });
    env.push_back("LD_PRELOAD=" + library);
    env.push_back("FAKETIME_TIMESTAMP_FILE=" + file);
    env.push_back("FAKETIME_CACHE_DURATION=1");
    env.push_back("FAKETIME_DONT_FAKE_MONOTONIC=1");
    if (Running(node)) {
      if (absl::Status s = Stop(node, 60s); !s.ok()) return s;
    }
    if (absl::Status s = Start(node); !s.ok()) return s;
    faked_.insert(node);
    return absl::OkStatus();
  }

  absl::StatusOr<BitFlip> FlipBit(int node, const std::string& topic, int32_t partition) override {
    if (Running(node)) {
      return absl::FailedPreconditionError(fmt::format("node {} runs: stop it first", node));
    }
    const std::string dir = fmt::format("{}/logs/{}-{}", DataDirOf(node), topic, partition);
    std::vector<std::string> segments;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".log") segments.push_back(entry.path().string());
    }
    if (ec) return absl::NotFoundError(fmt::format("{}: {}", dir, ec.message()));
    std::sort(segments.begin(), segments.end());  // zero-padded base offsets
    if (segments.size() < 2) {
      return absl::FailedPreconditionError(
          fmt::format("{} has no closed segment yet ({} segment(s))", dir, segments.size()));
    }
    const std::string& segment = segments.front();
    const std::string bytes = ReadFile(segment);
    // The batches: base offset (8 bytes), length (4, counting from the next field), ... a
    // 61-byte header, then the records. Pick the middle batch, flip a bit in its records.
    constexpr size_t kHeader = 61;
    std::vector<std::pair<size_t, size_t>> batches;  // position, size
    for (size_t at = 0; at + kHeader <= bytes.size();) {
      uint32_t length = 0;
      for (int i = 0; i < 4; ++i) length = (length << 8) | static_cast<uint8_t>(bytes[at + 8 + i]);
      const size_t size = 12 + static_cast<size_t>(length);
      if (length == 0 || size <= kHeader || at + size > bytes.size()) break;
      batches.emplace_back(at, size);
      at += size;
    }
    if (batches.empty()) return absl::FailedPreconditionError(segment + " holds no whole batch");
    const auto [at, size] = batches[batches.size() / 2];
    BitFlip flip;
    flip.segment = segment;
    flip.position = static_cast<int64_t>(at + kHeader + (size - kHeader) / 2);
    for (int i = 0; i < 8; ++i) {
      flip.batch_offset = (flip.batch_offset << 8) | static_cast<uint8_t>(bytes[at + i]);
    }
    const int fd = ::open(segment.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return Errno("open segment", node);
    uint8_t byte = static_cast<uint8_t>(bytes[static_cast<size_t>(flip.position)]) ^ 0x10;
    const bool written = ::pwrite(fd, &byte, 1, flip.position) == 1 && ::fsync(fd) == 0;
    ::close(fd);
    if (!written) return Errno("write segment", node);
    return flip;
  }

 private:
  struct Launch {
    std::string executable;
    std::vector<std::string> argv, env;
    std::string cwd;
  };

  absl::Status NeedFaultInjection() const {
    auto it = env_.find("STRAND_FAULT_INJECTION");
    if (it != env_.end() && it->second == "1") return absl::OkStatus();
    return absl::UnimplementedError(
        "disk faults need brokers with fault injection: start the cluster with "
        "scripts/local-cluster.sh up --fault-injection");
  }

  // The node's --data-dir (as its command line gave it).
  std::string DataDirOf(int node) const {
    auto it = launches_.find(node);
    if (it == launches_.end()) return {};
    constexpr std::string_view kFlag = "--data-dir=";
    for (const auto& a : it->second.argv) {
      if (a.rfind(kFlag, 0) == 0) return CwdPath(node, a.substr(kFlag.size()));
    }
    return {};
  }
  std::string JournalOf(int node) const { return DataDirOf(node) + "/fault-synced-lengths"; }
  // `path` as the node's process resolved it (relative to its working directory).
  std::string CwdPath(int node, const std::string& path) const {
    auto it = launches_.find(node);
    if (path.empty() || path[0] == '/' || it == launches_.end() || it->second.cwd.empty()) {
      return path;
    }
    return it->second.cwd + "/" + path;
  }

  absl::Status NeedNamespaces() const {
    if (!namespaces_.empty()) return absl::OkStatus();
    return absl::UnimplementedError(
        "network faults need every node in its own network namespace: start the cluster with "
        "scripts/local-cluster.sh up --netns");
  }

  CommandResult Nft(int node, std::vector<std::string> args, const std::string& input) const {
    std::vector<std::string> argv{"ip", "netns", "exec", namespaces_.at(node), "nft"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, input);
  }

  // Drop rules (with counters) for traffic between `node` and `peers`, in both directions;
  // `match` narrows them (e.g. a random share of the packets).
  absl::Status AddRules(int node, const std::vector<int>& peers, const std::string& match) {
    if (absl::Status s = NeedNamespaces(); !s.ok()) return s;
    if (!namespaces_.count(node)) return absl::NotFoundError(fmt::format("no node {}", node));
    std::vector<std::string> addresses;
    for (int peer : peers) {
      auto it = ips_.find(peer);
      if (it == ips_.end()) return absl::NotFoundError(fmt::format("no node {}", peer));
      addresses.push_back(it->second);
    }
    if (addresses.empty()) return absl::InvalidArgumentError("no peer to cut from");
    const std::string rules = DropRules(addresses, match);
    const CommandResult r = Nft(node, {"-f", "-"}, rules);
    if (r.exit_code != 0) {
      return absl::InternalError(
          fmt::format("nft on node {} (exit {}): {}", node, r.exit_code, r.output));
    }
    return absl::OkStatus();
  }

  pid_t PidOf(int node) const {
    auto it = pids_.find(node);
    return it == pids_.end() ? -1 : it->second;
  }

  // PID runs node ID of this cluster (as local-cluster.sh's is_node): its command line names
  // strand-server and --data-dir=DIR/node-ID, and it is not a zombie.
  bool IsNode(pid_t pid, int node) {
    if (pid <= 0) return false;
    Reap(pid);
    const char state = ProcessState(pid);
    if (state == 0 || state == 'Z' || state == 'X') return false;
    const auto argv = SplitNul(ReadFile(fmt::format("/proc/{}/cmdline", pid)));
    bool server = false, data_dir = false;
    for (const auto& a : argv) {
      server = server || a.find("strand-server") != std::string::npos;
      data_dir = data_dir || a == fmt::format("--data-dir={}/node-{}", dir_, node);
    }
    return server && data_dir;
  }

  void Reap(pid_t pid) {
    if (children_.count(pid) && ::waitpid(pid, nullptr, WNOHANG) == pid) children_.erase(pid);
  }

  bool WaitGone(pid_t pid, std::chrono::milliseconds timeout) {
    const auto end = SteadyClock::now() + timeout;
    while (SteadyClock::now() < end) {
      Reap(pid);
      const char state = ProcessState(pid);
      if (state == 0 || state == 'Z' || state == 'X') return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  absl::Status Signal(int node, int signal, const char* name) {
    const pid_t pid = PidOf(node);
    if (!IsNode(pid, node)) return absl::FailedPreconditionError(NotRunning(node));
    if (::kill(pid, signal) != 0) return Errno(name, node);
    return absl::OkStatus();
  }

  std::string NotRunning(int node) const {
    return fmt::format("node {} (pid {}) is not running", node, PidOf(node));
  }

  static absl::Status Errno(const char* what, int node) {
    return absl::InternalError(fmt::format("{} of node {}: {}", what, node, std::strerror(errno)));
  }

  // The new PID in DIR/pids and DIR/cluster.env (each rewritten whole, then renamed).
  absl::Status SavePid(int node, pid_t pid) {
    std::string pids;
    for (const auto& [id, p] : pids_) pids += fmt::format("{} {}\n", id, p);
    if (absl::Status s = Replace(dir_ + "/pids", pids); !s.ok()) return s;
    std::istringstream in(ReadFile(dir_ + "/cluster.env"));
    std::string env, line;
    const std::string key = fmt::format("export STRAND_NODE_{}_PID=", node);
    while (std::getline(in, line)) {
      env += line.rfind(key, 0) == 0 ? key + std::to_string(pid) : line;
      env += "\n";
    }
    return Replace(dir_ + "/cluster.env", env);
  }

  static absl::Status Replace(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".drill.tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << text;
      if (!out) return absl::InternalError("cannot write " + tmp);
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) return absl::InternalError(fmt::format("cannot replace {}: {}", path, ec.message()));
    return absl::OkStatus();
  }

  const std::string dir_;
  std::map<std::string, std::string> env_;
  std::string bootstrap_;
  client::Properties settings_;
  std::vector<Node> nodes_;
  std::map<int, pid_t> pids_;
  std::map<int, std::string> namespaces_, ips_;  // --netns clusters only
  std::map<int, std::string> replication_addresses_;
  std::string bridge_ip_;
  std::map<int, std::vector<std::unique_ptr<DelayProxy>>> proxies_;  // by the delayed node
  std::map<int, Launch> launches_;
  std::set<pid_t> children_;
  std::set<int> faked_;  // nodes restarted under libfaketime
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> OpenLocalTarget(const std::string& dir) {
  std::error_code ec;
  const std::filesystem::path physical = std::filesystem::canonical(dir, ec);
  if (ec) return absl::NotFoundError(fmt::format("--dir {}: {}", dir, ec.message()));
  auto target = std::make_unique<LocalTarget>(physical.string());
  if (absl::Status s = target->Load(); !s.ok()) return s;
  return std::unique_ptr<Target>(std::move(target));
}

}  // namespace strand::drill
