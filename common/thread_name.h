#pragma once

// Thread names as `top -H`, `ps -L`, perf and /proc/<pid>/task/<tid>/comm show them. Linux keeps
// the first 15 characters.
//   NameThisThread(name)     names the calling thread
//   NamedThread(name, body)  a std::thread that names itself, then runs body

#include <pthread.h>

#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace strand {

inline void NameThisThread(std::string_view name) {
  const std::string truncated(name.substr(0, 15));
  pthread_setname_np(pthread_self(), truncated.c_str());
}

template <class Body>
std::thread NamedThread(std::string name, Body body) {
  return std::thread([name = std::move(name), body = std::move(body)]() mutable {
    NameThisThread(name);
    body();
  });
}

}  // namespace strand
