#pragma once

// Connection limits on client listeners, with Kafka's setting names (docs/security.md):
//
//   max.connections               connections open at once on this process's client listeners
//   max.connections.per.ip        of them, from one IP address
//   max.connection.creation.rate  new connections accepted per second (all client listeners)
//
// gRPC has no per-connection hook of its own, so a client listener accepts connections itself
// and hands each accepted socket to its gRPC server (ServerBuilder's
// AddExternalConnectionAcceptor, which works for TLS and plaintext alike): a connection past a
// limit is closed at once, before any byte of it is read, and the refusal is logged (at most
// once per 10 s per reason) with the address and the limit. Closed connections are noticed by
// checking, on every accept and at least once a second, that each counted socket is still open
// in this process (fstat on its descriptor matches the socket's inode); so the counts are exact
// to within a second.
//
// Listeners that carry the controller or replication plane are not limited: cluster traffic
// never waits behind clients (as Kafka exempts the inter-broker listener from max.connections).

#include <grpcpp/server_builder.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/listener_config.h"

namespace strand {

// The accounting shared by all client listeners of a process.
class ConnectionLimiter {
 public:
  explicit ConnectionLimiter(ConnectionLimits limits) : limits_(limits) {}

  // Whether a new connection from `ip` on descriptor `fd` may stay; when it may, it is counted
  // until its descriptor is closed. `why` names the limit otherwise.
  bool Admit(int fd, const std::string& ip, std::string* why);
  // Forgets connections whose descriptors were closed.
  void Sweep();

  ConnectionStats Stats();

 private:
  struct Conn {
    uint64_t inode = 0;
    std::string ip;
  };
  void SweepLocked();

  const ConnectionLimits limits_;
  std::mutex mu_;
  std::map<int, Conn> conns_;  // by descriptor
  std::map<std::string, int64_t> per_ip_;
  ConnectionStats stats_;
  double tokens_ = 0;  // creation-rate bucket
  std::chrono::steady_clock::time_point refilled_{};
};

// One client listener's accept loop: binds `listener`, accepts, asks `limiter`, and hands
// admitted sockets to `acceptor` (the listener's gRPC server).
class LimitedAcceptor {
 public:
  static absl::StatusOr<std::unique_ptr<LimitedAcceptor>> Bind(const Endpoint& listener);
  ~LimitedAcceptor();

  int port() const { return port_; }
  // Starts accepting (after the gRPC server started).
  void Start(std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor,
             std::shared_ptr<ConnectionLimiter> limiter);
  // Stops accepting and closes the listening socket (connections already handed over stay).
  void Stop();

 private:
  LimitedAcceptor() = default;
  void Run();

  std::string name_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor_;
  std::shared_ptr<ConnectionLimiter> limiter_;
  std::thread thread_;
  std::chrono::steady_clock::time_point last_log_{};
  int64_t unlogged_ = 0;
};

}  // namespace strand
