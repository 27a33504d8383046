#pragma once

// KubectlRunner: the one seam between the Kubernetes target (kubernetes_target.h) and the
// processes it starts. Run takes a whole argv, kubectl's path first, and what to write on its
// stdin, and answers the exit code and what it printed. ProcessKubectlRunner forks and execs it;
// tests inject their own runner, or point the real one at a fake kubectl script.
//
// Threading: Run may be called from several threads at once (each call owns its child).

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace strand::drill {

struct CommandOutcome {
  int exit_code = -1;  // 128 + N when the process died of signal N
  std::string stdout_text;
  std::string stderr_text;
};

class KubectlRunner {
 public:
  virtual ~KubectlRunner() = default;

  // Runs `argv` (argv[0] an executable's path) with `input` on its stdin and waits for it.
  // DEADLINE_EXCEEDED when it ran longer than `timeout` (it is then SIGKILLed, with every process
  // of its process group); an error also when it could not be started at all.
  virtual absl::StatusOr<CommandOutcome> Run(const std::vector<std::string>& argv,
                                             const std::string& input,
                                             std::chrono::milliseconds timeout) = 0;
};

// Forks and execs the command in a process group of its own, stdin, stdout and stderr on pipes.
std::unique_ptr<KubectlRunner> MakeProcessKubectlRunner();

// `name` itself when it holds a '/', else the first executable file called `name` in the
// directories of $PATH; NOT_FOUND naming the search otherwise.
absl::StatusOr<std::string> FindExecutable(const std::string& name);

}  // namespace strand::drill
