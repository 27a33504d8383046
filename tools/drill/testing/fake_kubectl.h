#pragma once

// FakeKubectl: tools/drill/testdata/fake_kubectl.py copied as DIR/kubectl into a fresh temporary
// directory, with DIR/state.json (the fake cluster: the pods of testdata/pods.json, rendered
// from deploy/kubernetes/overlays/dev) and DIR/calls.log (every argv and stdin it got). Tests
// change state() and Save() before a call, and read Calls() after it.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace strand::drill::testing {

struct KubectlCall {
  std::vector<std::string> argv;  // without the program
  std::string stdin_text;
};

class FakeKubectl {
 public:
  // A cluster in `kubernetes_namespace` whose pods are all Running and Ready.
  explicit FakeKubectl(const std::string& kubernetes_namespace);
  ~FakeKubectl();
  FakeKubectl(const FakeKubectl&) = delete;
  FakeKubectl& operator=(const FakeKubectl&) = delete;

  const std::string& path() const { return path_; }  // DIR/kubectl
  const std::string& dir() const { return dir_; }
  nlohmann::json& state() { return state_; }
  void Save() const;  // writes state() as DIR/state.json
  void Load();        // reads DIR/state.json back into state() (the fake changes it)
  // The pod named `name` in state().
  nlohmann::json& Pod(const std::string& name);
  // Every call since the last ClearCalls.
  std::vector<KubectlCall> Calls() const;
  void ClearCalls() const;
  // A rule of state()["exec"]: `kubectl exec ... -- command` answers so.
  void AnswerExec(const std::vector<std::string>& command, int exit_code,
                  const std::string& stdout_text, const std::string& stderr_text = "");

 private:
  std::string dir_, path_;
  nlohmann::json state_;
};

}  // namespace strand::drill::testing
