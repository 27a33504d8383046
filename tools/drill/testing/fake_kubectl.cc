#include "tools/drill/testing/fake_kubectl.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace strand::drill::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace

FakeKubectl::FakeKubectl(const std::string& kubernetes_namespace) {
  std::string pattern = (std::filesystem::temp_directory_path() / "fake-kubectl-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  path_ = dir_ + "/kubectl";
  const std::string testdata = std::string(STRAND_SOURCE_DIR) + "/tools/drill/testdata";
  std::filesystem::copy_file(testdata + "/fake_kubectl.py", path_);
  std::filesystem::permissions(path_, std::filesystem::perms::owner_all);
  const nlohmann::json pods = nlohmann::json::parse(ReadFile(testdata + "/pods.json"));
  state_ = {{"namespace", kubernetes_namespace},
            {"pods", pods["items"]},
            {"recreate_after", 1},
            {"terminating_gets", 1},
            {"exec", nlohmann::json::array()}};
  Save();
  ClearCalls();
}

FakeKubectl::~FakeKubectl() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void FakeKubectl::Save() const { WriteFile(dir_ + "/state.json", state_.dump()); }

void FakeKubectl::Load() { state_ = nlohmann::json::parse(ReadFile(dir_ + "/state.json")); }

nlohmann::json& FakeKubectl::Pod(const std::string& name) {
  for (auto& pod : state_["pods"]) {
    if (pod["metadata"]["name"] == name) return pod;
  }
  throw std::runtime_error("no pod " + name + " in the fake's state");
}

std::vector<KubectlCall> FakeKubectl::Calls() const {
  std::vector<KubectlCall> calls;
  std::istringstream in(ReadFile(dir_ + "/calls.log"));
  std::string line;
  while (std::getline(in, line)) {
    const auto entry = nlohmann::json::parse(line);
    calls.push_back({entry["argv"].get<std::vector<std::string>>(), entry["stdin"]});
  }
  return calls;
}

void FakeKubectl::ClearCalls() const { WriteFile(dir_ + "/calls.log", ""); }

void FakeKubectl::AnswerExec(const std::vector<std::string>& command, int exit_code,
                             const std::string& stdout_text, const std::string& stderr_text) {
  state_["exec"].push_back({{"command", command},
                            {"exit", exit_code},
                            {"stdout", stdout_text},
                            {"stderr", stderr_text}});
  Save();
}

}  // namespace strand::drill::testing
