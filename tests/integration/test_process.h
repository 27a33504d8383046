#pragma once

// Helpers for tests that run real processes: spawn a binary from build/bin with its output in a
// log file, signal it, and always stop it by its PID (the destructor SIGKILLs and reaps a child
// still running, so a failing test leaves nothing behind). Also free loopback ports and
// temporary directories removed at the end.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace strand::testing {

class ChildProcess {
 public:
  // Starts `binary` (a name in the directory of the running test binary, i.e. build/bin) with
  // `args`; stdout and stderr go to `log_path`. The child gets PR_SET_PDEATHSIG(SIGKILL), which
  // fires when the *thread* that forked it exits, not only the process: start children from a
  // thread that outlives them (a helper thread that restarts a server must not end before it).
  // `env`: NAME=VALUE entries added to (or replacing in) the test's own environment.
  ChildProcess(const std::string& binary, const std::vector<std::string>& args,
               const std::string& log_path, const std::vector<std::string>& env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  void Signal(int signal);
  // Waits for exit; returns the wait status, or -1 on timeout.
  int Wait(std::chrono::milliseconds timeout);
  // SIGTERM, wait up to `grace`, then SIGKILL.
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  const std::string& log_path() const { return log_path_; }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string log_path_;
};

// The directory holding the test binaries (and every other binary of the build).
std::string BinDir();
// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// An HTTP/1.0 GET of `path` from `address` (127.0.0.1:port): the status (0 on any failure to
// connect or read) and the body.
struct HttpResponse {
  int status = 0;
  std::string body;
};
HttpResponse HttpFetch(const std::string& address, const std::string& path);
// The body of such a GET; empty on any failure.
std::string HttpGet(const std::string& address, const std::string& path);

// A fresh directory under /tmp, removed (recursively) when this object dies.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The last `lines` lines of a file (for failure messages).
std::string Tail(const std::string& path, int lines = 30);

}  // namespace strand::testing
