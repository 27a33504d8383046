#include "tests/integration/test_process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "common/check.h"

namespace strand::testing {

std::string BinDir() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
}

ChildProcess::ChildProcess(const std::string& binary, const std::vector<std::string>& args,
                           const std::string& log_path, const std::vector<std::string>& env)
    : log_path_(log_path) {
  const std::string path = BinDir() + "/" + binary;
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // The environment is built before fork: the child only calls async-signal-safe functions.
  std::vector<std::string> entries;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const std::string& extra : env) replaced |= extra.substr(0, extra.find('=')) == name;
    if (!replaced) entries.push_back(entry);
  }
  entries.insert(entries.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (std::string& e : entries) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_ = fork();
  STRAND_CHECK(pid_ >= 0);
  if (pid_ == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    // Die with the test process if it is killed, so no server outlives a crashed test.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execve(path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

bool ChildProcess::Running() {
  if (reaped_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    return false;
  }
  return true;
}

void ChildProcess::Signal(int signal) {
  if (!reaped_) ::kill(pid_, signal);
}

int ChildProcess::Wait(std::chrono::milliseconds timeout) {
  if (reaped_) return 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return -1;
}

void ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (reaped_) return;
  Signal(SIGTERM);
  if (Wait(grace) == -1) {
    Signal(SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

namespace {

// The kernel's ephemeral range: outbound connections (every gRPC client of every test running in
// parallel) take their local ports from it, so a port picked there can be taken by a connection
// between the pick and the server's bind. Ports below it are only ever bound on purpose.
int EphemeralLow() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  in >> low;
  return low;
}

bool CanBind(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  STRAND_CHECK(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

int FreePort() {
  // A pseudo-random walk over [10000, ephemeral low): each test process starts elsewhere, and a
  // process never hands out the same port twice, so two parallel tests rarely pick alike and a
  // port in use (bound by a running server) is skipped.
  static std::mutex mu;
  static std::set<int> handed_out;
  static std::mt19937 rng(
      static_cast<uint32_t>(getpid()) * 2654435761u ^
      static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::lock_guard<std::mutex> lock(mu);
  const int low = 10000;
  const int high = std::max(low + 1000, EphemeralLow());
  std::uniform_int_distribution<int> pick(low, high - 1);
  for (int attempt = 0; attempt < 10000; ++attempt) {
    const int port = pick(rng);
    if (handed_out.count(port) != 0 || !CanBind(port)) continue;
    handed_out.insert(port);
    return port;
  }
  STRAND_CHECK(false && "no free port below the ephemeral range");
  return -1;
}

HttpResponse HttpFetch(const std::string& address, const std::string& path) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return {};
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(address.c_str() + colon + 1)));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + address + "\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[4096];
      for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0 && response.size() < (16 << 20);) {
        response.append(buf, static_cast<size_t>(n));
      }
    }
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  // "HTTP/1.x NNN ..."
  if (body == std::string::npos || response.size() < 12 || response.compare(0, 5, "HTTP/") != 0) {
    return {};
  }
  return {std::atoi(response.c_str() + response.find(' ') + 1), response.substr(body + 4)};
}

std::string HttpGet(const std::string& address, const std::string& path) {
  return HttpFetch(address, path).body;
}

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  STRAND_CHECK(mkdtemp(tmpl.data()) != nullptr);
  path_ = tmpl;
}

TempDir::~TempDir() {
  // STRAND_TEST_KEEP_DIRS=1 keeps them (and the server logs in them) for a post-mortem.
  if (const char* keep = std::getenv("STRAND_TEST_KEEP_DIRS"); keep && *keep == '1') {
    std::fprintf(stderr, "kept %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string Tail(const std::string& path, int lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  std::string out;
  for (const std::string& l : last) out += l + "\n";
  return out;
}

}  // namespace strand::testing
