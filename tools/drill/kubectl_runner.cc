#include "tools/drill/kubectl_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

namespace strand::drill {
namespace {

using SteadyClock = std::chrono::steady_clock;

// What one command may print on each of stdout and stderr (a pod list of a large namespace is a
// few MiB).
constexpr size_t kOutputBytesMax = size_t{64} << 20;

std::string Joined(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

void CloseIfOpen(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// The child's side, between fork and exec: only async-signal-safe calls.
[[noreturn]] void ExecChild(char* const* argv, const sigset_t& mask, int in, int out, int err,
                            const char* failure_prefix) {
  ::setpgid(0, 0);  // kubectl's own children (auth plugins) die with it on a timeout
  ::sigprocmask(SIG_SETMASK, &mask, nullptr);
  ::dup2(in, 0);  // dup2 clears FD_CLOEXEC on the copies; every other descriptor closes on exec
  ::dup2(out, 1);
  ::dup2(err, 2);
  ::execv(argv[0], argv);
  const char* reason = ::strerrordesc_np(errno);
  if (reason == nullptr) reason = "unknown error";
  for (const char* text : {failure_prefix, reason, "\n"}) {
    if (::write(2, text, std::strlen(text)) < 0) break;
  }
  ::_exit(127);
}

// Writes `input` to the child's stdin and reads its stdout and stderr until both close or the
// deadline passes; false on the deadline.
bool Exchange(int& in, int& out, int& err, const std::string& input, CommandOutcome& outcome,
              SteadyClock::time_point deadline, bool& overflow) {
  size_t written = 0;
  if (input.empty()) CloseIfOpen(in);
  if (in >= 0) ::fcntl(in, F_SETFL, ::fcntl(in, F_GETFL) | O_NONBLOCK);
  char buffer[65536];
  while (out >= 0 || err >= 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) return false;
    pollfd fds[3] = {{in, POLLOUT, 0}, {out, POLLIN, 0}, {err, POLLIN, 0}};
    const int ready = ::poll(fds, 3, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) return false;
    if (ready <= 0) continue;
    if (in >= 0 && fds[0].revents != 0) {
      const ssize_t n = ::write(in, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EINTR) written = input.size();  // EPIPE: it quit
      if (written == input.size()) CloseIfOpen(in);
    }
    for (int i = 1; i <= 2; ++i) {
      int& fd = i == 1 ? out : err;
      if (fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        CloseIfOpen(fd);
        continue;
      }
      std::string& text = i == 1 ? outcome.stdout_text : outcome.stderr_text;
      if (text.size() + static_cast<size_t>(n) > kOutputBytesMax) {
        overflow = true;
        continue;
      }
      text.append(buffer, static_cast<size_t>(n));
    }
  }
  return true;
}

class ProcessKubectlRunner final : public KubectlRunner {
 public:
  absl::StatusOr<CommandOutcome> Run(const std::vector<std::string>& argv, const std::string& input,
                                     std::chrono::milliseconds timeout) override {
    if (argv.empty()) return absl::InvalidArgumentError("no command to run");
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return Errno("pipe");
    if (::pipe2(out, O_CLOEXEC) != 0) {
      ::close(in[0]), ::close(in[1]);
      return Errno("pipe");
    }
    if (::pipe2(err, O_CLOEXEC) != 0) {
      ::close(in[0]), ::close(in[1]), ::close(out[0]), ::close(out[1]);
      return Errno("pipe");
    }
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const std::string failure_prefix = fmt::format("strand drill: cannot execute {}: ", argv[0]);
    // SIGPIPE blocked in this thread while it writes to a child that may already have quit (a
    // write then fails with EPIPE instead); the child gets the old mask back before exec.
    sigset_t pipe_signal, old_mask;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_signal, &old_mask);
    const pid_t pid = ::fork();
    if (pid == 0) ExecChild(args.data(), old_mask, in[0], out[1], err[1], failure_prefix.c_str());
    const int fork_errno = errno;
    ::close(in[0]), ::close(out[1]), ::close(err[1]);
    CommandOutcome outcome;
    bool finished = false, overflow = false;
    if (pid > 0) {
      ::setpgid(pid, pid);  // as the child does: whichever runs first
      finished =
          Exchange(in[1], out[0], err[0], input, outcome, SteadyClock::now() + timeout, overflow);
      if (!finished) ::kill(-pid, SIGKILL);
    }
    for (int fd : {in[1], out[0], err[0]}) {
      if (fd >= 0) ::close(fd);
    }
    int status = 0;
    while (pid > 0 && ::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const timespec no_wait{0, 0};
    if (!sigismember(&old_mask, SIGPIPE)) {
      while (::sigtimedwait(&pipe_signal, nullptr, &no_wait) > 0) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    if (pid < 0) {
      return absl::InternalError(
          fmt::format("cannot fork for {}: {}", argv[0], std::strerror(fork_errno)));
    }
    if (!finished) {
      return absl::DeadlineExceededError(fmt::format(
          "`{}` did not finish within {} ms and was killed", Joined(argv), timeout.count()));
    }
    if (overflow) {
      return absl::ResourceExhaustedError(
          fmt::format("`{}` printed more than {} MiB", Joined(argv), kOutputBytesMax >> 20));
    }
    outcome.exit_code = WIFEXITED(status)     ? WEXITSTATUS(status)
                        : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                              : -1;
    return outcome;
  }

 private:
  static absl::Status Errno(const char* what) {
    return absl::InternalError(fmt::format("{}: {}", what, std::strerror(errno)));
  }
};

// (Root's access(X_OK) is true of a file any execute bit is set on.)
bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0 &&
         ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::unique_ptr<KubectlRunner> MakeProcessKubectlRunner() {
  return std::make_unique<ProcessKubectlRunner>();
}

absl::StatusOr<std::string> FindExecutable(const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("no executable named");
  if (name.find('/') != std::string::npos) {
    if (IsExecutableFile(name)) return name;
    return absl::NotFoundError(fmt::format("{} is not an executable file", name));
  }
  const char* path = std::getenv("PATH");
  const std::string directories = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= directories.size()) {
    size_t end = directories.find(':', start);
    if (end == std::string::npos) end = directories.size();
    const std::string directory = directories.substr(start, end - start);
    const std::string candidate = (directory.empty() ? "." : directory) + "/" + name;
    if (IsExecutableFile(candidate)) return candidate;
    start = end + 1;
  }
  return absl::NotFoundError(fmt::format("no {} on PATH ({})", name, directories));
}

}  // namespace strand::drill
