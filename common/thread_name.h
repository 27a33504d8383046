#pragma once

// NameThisThread: names the calling thread as `top -H`, `ps -L`, perf and
// /proc/<pid>/task/<tid>/comm show it. Linux keeps the first 15 characters.

#include <pthread.h>

#include <string>
#include <string_view>

namespace strand {

inline void NameThisThread(std::string_view name) {
  const std::string truncated(name.substr(0, 15));
  pthread_setname_np(pthread_self(), truncated.c_str());
}

}  // namespace strand
