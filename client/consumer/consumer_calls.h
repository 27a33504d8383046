#pragma once

// The consumer's requests on the wire and the queue their answers come back through. gRPC threads
// push completed calls; the consumer's own thread (the one calling Poll) takes them and applies
// them, so the consumer's state is never touched by two threads.

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "proto/broker/v1/broker.pb.h"
#include "strand/record.h"

namespace strand::client {

struct ConsumerCall {
  enum class Kind { kFetch, kListOffsets };
  explicit ConsumerCall(Kind k) : kind(k) {}
  virtual ~ConsumerCall() = default;
  const Kind kind;
  int32_t node = -1;
  std::string address;
  grpc::ClientContext context;
  grpc::Status status;
};

struct FetchCall final : ConsumerCall {
  FetchCall() : ConsumerCall(Kind::kFetch) {}
  broker::v1::FetchRequest request;
  broker::v1::FetchResponse response;
};

struct ListOffsetsCall final : ConsumerCall {
  ListOffsetsCall() : ConsumerCall(Kind::kListOffsets) {}
  uint64_t lookup_id = 0;
  broker::v1::ListOffsetsRequest request;
  broker::v1::ListOffsetsResponse response;
};

// Completed calls, and wake-ups (metadata refreshed, Wakeup()). Thread-safe.
class CallQueue {
 public:
  void Push(ConsumerCall* call) {
    std::lock_guard lock(mu_);
    done_.push_back(call);
    cv_.notify_all();
  }
  void Wake() {
    std::lock_guard lock(mu_);
    woken_ = true;
    cv_.notify_all();
  }
  std::vector<ConsumerCall*> Take() {
    std::lock_guard lock(mu_);
    std::vector<ConsumerCall*> out;
    out.swap(done_);
    woken_ = false;
    return out;
  }
  // Waits until something is queued, a wake-up, or `wait_ms` passes.
  void Wait(int64_t wait_ms) {
    std::unique_lock lock(mu_);
    if (wait_ms <= 0) return;
    cv_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                 [&] { return !done_.empty() || woken_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ConsumerCall*> done_;
  bool woken_ = false;
};

}  // namespace strand::client
