#include "common/check.h"

#include <cstdio>
#include <cstdlib>

namespace strand {
namespace {
CheckFailureHandler g_handler = nullptr;
}  // namespace

void SetCheckFailureHandler(CheckFailureHandler handler) { g_handler = handler; }

}  // namespace strand

namespace strand::internal {

void CheckFailed(const char* file, int line, const char* condition, const std::string& message) {
  if (g_handler != nullptr) g_handler(file, line, condition, message);
  // Plain stdio: the logger may be the thing that is broken, and this must reach stderr.
  std::fprintf(stderr, "CHECK failed at %s:%d: %s%s%s\n", file, line, condition,
               message.empty() ? "" : ": ", message.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace strand::internal
