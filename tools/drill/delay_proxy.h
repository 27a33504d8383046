#pragma once

// DelayProxy: a userspace TCP proxy that makes a slow link. The kernel of the drill machines has
// no netem (no tc delay qdisc), so a drill that needs "a delayed link between a partition leader
// and its followers" points the followers at one of these instead of at the leader.
//
// It listens on one address and forwards every accepted connection to one fixed upstream. In
// each direction (client to upstream, upstream to client) every chunk of bytes it reads is held
// for delay + a jitter drawn uniformly from [0, jitter] (a seeded generator, so a drill replays)
// and then written on. Bytes of a connection never overtake each other: a chunk's release time
// is the later of its own and the previous chunk's. A FIN is held like a chunk, after the data
// before it, then forwarded as shutdown(SHUT_WR); a connection is closed once both directions
// have forwarded their FIN, or at once when either side fails (a reset, a refused or timed-out
// connect to the upstream). Delay 0 and jitter 0 pass bytes straight through.
//
// Design: one thread runs an epoll loop over the listener and every connection (level-triggered,
// one read per ready socket per turn, so connections share the thread fairly). Each direction
// has its own queue of held chunks and a timerfd armed at the release time of its head, so a
// hold costs no thread and no polling; writes that would block wait for EPOLLOUT. Everything is
// bounded (DelayProxyConfig): connections open at once, bytes and chunks held per direction of
// each connection (past either, the proxy stops reading that side: backpressure through TCP's
// own window), the size of one read, the connect timeout and the hold.
//
// Network namespaces: the listener is made in Start() and the upstream sockets on the proxy's
// thread, which Start() creates; both are therefore in the network namespace of the thread that
// calls Start() (a thread inherits its creator's). The drill runs in the root namespace and
// reaches the nodes' namespaces through their bridge, so a plain IP upstream works.
//
// Thread-safety: SetDelay, stats, address and Stop may be called from any thread. Stop (also
// called by the destructor) closes the listener and every connection and joins the thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace strand::drill {

struct DelayProxyConfig {
  // host:port to listen on (an IPv4 or IPv6 literal, "[::1]:0", or a name); port 0 picks a free
  // one, which address() then tells.
  std::string listen_address = "127.0.0.1:0";
  // host:port every accepted connection is forwarded to; resolved once, in Start().
  std::string upstream_address;
  // The initial hold of each chunk: delay + uniform [0, jitter]. SetDelay changes it.
  std::chrono::microseconds delay{0};
  std::chrono::microseconds jitter{0};
  uint64_t seed = 1;  // of the jitter
  // Limits. A connection accepted while connections_max are open is closed at once.
  int connections_max = 64;
  int64_t buffered_bytes_max = int64_t{4} << 20;    // held per direction of one connection
  int64_t buffered_chunks_max = 16384;              // held per direction of one connection
  int64_t read_bytes_max = int64_t{64} << 10;       // one read, and so one chunk, at most
  std::chrono::milliseconds connect_timeout{5000};  // to the upstream, per connection
  std::chrono::milliseconds hold_max{60000};        // delay + jitter at most
};

class DelayProxy {
 public:
  struct Stats {
    int64_t connections_accepted = 0;  // admitted (an upstream connect was started)
    int64_t connections_refused = 0;   // closed on accept: connections_max were open
    int64_t connections_open = 0;
    int64_t upstream_connect_failures = 0;  // refused, failed or timed out (client closed)
    int64_t bytes_to_upstream = 0;          // client to upstream, written to the upstream
    int64_t bytes_to_client = 0;            // upstream to client, written to the client
    int64_t chunks_delayed = 0;             // chunks held for a time > 0: the delay took effect
    int64_t buffered_bytes = 0;             // held now, all connections and directions
    int64_t buffered_bytes_peak = 0;        // the most one direction of one connection ever held
    std::string last_error;                 // the last connection failure, for reports; "" if none
  };

  // Validates `config`, binds the listener, resolves the upstream and starts the thread.
  static absl::StatusOr<std::unique_ptr<DelayProxy>> Start(DelayProxyConfig config);
  ~DelayProxy();
  DelayProxy(const DelayProxy&) = delete;
  DelayProxy& operator=(const DelayProxy&) = delete;

  // The bound listener, host:port ("127.0.0.1:40123", "[::1]:40123").
  const std::string& address() const { return address_; }

  // Sets the hold of chunks read from now on, both directions (chunks already held keep theirs,
  // as packets already in flight would). InvalidArgument if negative or delay + jitter exceeds
  // hold_max. Zero and zero: pass-through.
  absl::Status SetDelay(std::chrono::microseconds delay, std::chrono::microseconds jitter);

  Stats stats() const;

  // Closes the listener and every connection (held bytes are dropped) and joins the thread.
  // Idempotent.
  void Stop();

 private:
  class Loop;  // the epoll loop and its connections (delay_proxy.cc)

  DelayProxy(std::unique_ptr<Loop> loop, std::string address);

  std::unique_ptr<Loop> loop_;
  std::string address_;
  std::thread thread_;
  std::once_flag stop_once_;
};

}  // namespace strand::drill
