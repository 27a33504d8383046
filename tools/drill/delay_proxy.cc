#include "tools/drill/delay_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cstring>
#include <deque>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "common/check.h"
#include "common/random.h"
#include "common/status.h"

namespace strand::drill {
namespace {

using SteadyClock = std::chrono::steady_clock;  // CLOCK_MONOTONIC, the timerfds' clock
using TimePoint = SteadyClock::time_point;
using std::chrono::microseconds;

constexpr int kListenBacklog = 128;
constexpr int kEventsPerWait = 64;
// Accepts per listener event, so that a burst of connections cannot starve the open ones.
constexpr int kAcceptsPerEvent = 16;
// How long accepting pauses after running out of descriptors or memory (the listener stays
// ready, so accepting again at once would spin).
constexpr std::chrono::milliseconds kAcceptPause{100};
constexpr int64_t kReadBytesMaxLimit = int64_t{16} << 20;
constexpr int kConnectionsMaxLimit = 1 << 16;

std::string ErrnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

// Closes its descriptor when destroyed.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// "host:port", "[v6]:port" or ":port" (any address); the host may be a name.
absl::StatusOr<SocketAddress> Resolve(const std::string& host_port, bool passive) {
  std::string host, port;
  if (!host_port.empty() && host_port.front() == '[') {
    const size_t close = host_port.find(']');
    if (close == std::string::npos || close + 1 >= host_port.size() ||
        host_port[close + 1] != ':') {
      return absl::InvalidArgumentError(fmt::format("bad address '{}': want [v6]:port", host_port));
    }
    host = host_port.substr(1, close - 1);
    port = host_port.substr(close + 2);
  } else {
    const size_t colon = host_port.rfind(':');
    if (colon == std::string::npos || host_port.find(':') != colon) {
      return absl::InvalidArgumentError(
          fmt::format("bad address '{}': want host:port or [v6]:port", host_port));
    }
    host = host_port.substr(0, colon);
    port = host_port.substr(colon + 1);
  }
  int port_number = -1;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (ec != std::errc() || end != port.data() + port.size() || port_number < 0 ||
      port_number > 65535) {
    return absl::InvalidArgumentError(fmt::format("bad port in '{}'", host_port));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    return absl::InvalidArgumentError(
        fmt::format("cannot resolve '{}': {}", host_port,
                    rc == EAI_SYSTEM ? ErrnoText(errno) : gai_strerror(rc)));
  }
  SocketAddress out;
  std::memcpy(&out.storage, found->ai_addr, found->ai_addrlen);
  out.length = found->ai_addrlen;
  freeaddrinfo(found);
  return out;
}

std::string Format(const SocketAddress& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.storage.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
    return fmt::format("[{}]:{}", text, ntohs(v6->sin6_port));
  }
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address.storage);
  inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
  return fmt::format("{}:{}", text, ntohs(v4->sin_port));
}

absl::Status Validate(const DelayProxyConfig& config) {
  if (config.upstream_address.empty()) {
    return absl::InvalidArgumentError("delay proxy: no upstream address");
  }
  if (config.connections_max < 1 || config.connections_max > kConnectionsMaxLimit) {
    return absl::InvalidArgumentError(fmt::format("delay proxy: connections_max {} not in [1, {}]",
                                                  config.connections_max, kConnectionsMaxLimit));
  }
  if (config.buffered_bytes_max < 1 || config.buffered_chunks_max < 1) {
    return absl::InvalidArgumentError(
        "delay proxy: buffered_bytes_max and buffered_chunks_max "
        "must be positive");
  }
  if (config.read_bytes_max < 1 || config.read_bytes_max > kReadBytesMaxLimit) {
    return absl::InvalidArgumentError(fmt::format("delay proxy: read_bytes_max {} not in [1, {}]",
                                                  config.read_bytes_max, kReadBytesMaxLimit));
  }
  if (config.connect_timeout.count() <= 0 || config.hold_max.count() < 0) {
    return absl::InvalidArgumentError(
        "delay proxy: connect_timeout must be positive and "
        "hold_max not negative");
  }
  return absl::OkStatus();
}

absl::Status ValidateHold(microseconds delay, microseconds jitter, std::chrono::milliseconds max) {
  if (delay.count() < 0 || jitter.count() < 0 || delay + jitter > max) {
    return absl::InvalidArgumentError(
        fmt::format("delay proxy: delay {} us and jitter {} us must not be negative and add up "
                    "to at most hold_max {} ms",
                    delay.count(), jitter.count(), max.count()));
  }
  return absl::OkStatus();
}

// An absolute CLOCK_MONOTONIC time for timerfd_settime; never zero, which would disarm.
timespec ToTimespec(TimePoint t) {
  const int64_t ns = std::max<int64_t>(
      1, std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
  return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

void SetNoDelay(int fd) {
  // gRPC and the replication protocol make many small writes: Nagle would add its own delay.
  const int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

// Owns the listener, the epoll set and every connection. Run() is the proxy's only thread; the
// connections and their queues are touched by it alone. Other threads reach the hold settings
// (under mu_), the counters (atomics) and the stop flag.
class DelayProxy::Loop {
 public:
  Loop(DelayProxyConfig config, SocketAddress upstream, Fd listener, Fd epoll, Fd wake)
      : config_(std::move(config)),
        upstream_(upstream),
        listener_(std::move(listener)),
        epoll_(std::move(epoll)),
        wake_(std::move(wake)),
        random_(config_.seed),
        scratch_(static_cast<size_t>(config_.read_bytes_max)),
        delay_(config_.delay),
        jitter_(config_.jitter) {}

  void Run();
  void RequestStop() {
    stop_.store(true);
    const uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof(one));
  }
  absl::Status SetDelay(microseconds delay, microseconds jitter);
  Stats GetStats() const;

 private:
  struct Connection;
  struct Direction;
  enum class Kind : uint8_t { kListener, kWake, kClient, kUpstream, kTimer };
  // What an epoll event is about (epoll_event.data.ptr).
  struct Handle {
    Kind kind = Kind::kListener;
    Connection* connection = nullptr;
    Direction* direction = nullptr;  // kTimer
  };
  struct Chunk {
    std::string bytes;
    size_t offset = 0;  // already written
    TimePoint release;
    bool fin = false;  // the end of the stream: forward as shutdown(SHUT_WR)
  };
  // One way through a connection: read from src, held in queue, written to dst.
  struct Direction {
    std::string_view src_name, dst_name;  // "client", "upstream"
    int src = -1, dst = -1;
    Fd timer;  // armed at the release time of the queue's head
    Handle timer_handle;
    TimePoint timer_at = TimePoint::min();  // min: not armed
    std::deque<Chunk> queue;                // release times never decrease
    int64_t buffered_bytes = 0;
    TimePoint last_release = TimePoint::min();
    bool eof_read = false;       // FIN read from src (and queued)
    bool fin_sent = false;       // FIN forwarded to dst
    bool write_blocked = false;  // dst's send buffer is full: wait for EPOLLOUT
    std::atomic<int64_t>* forwarded = nullptr;
  };
  struct Connection {
    Fd client, upstream;
    Handle client_handle, upstream_handle;
    uint32_t client_events = 0, upstream_events = 0;  // as registered with epoll (0: not)
    Direction to_upstream, to_client;
    bool connecting = true;  // to the upstream; the to_client timer is then the connect timeout
    bool closed = false;
  };

  void Dispatch(const Handle& handle, uint32_t events);
  void Accept();
  void Open(Fd client);
  void FinishConnect(Connection& c);
  void OnSocket(Connection& c, Kind kind, uint32_t events);
  void OnTimer(Connection& c, Direction& d);
  void Read(Connection& c, Direction& d);
  void Enqueue(Connection& c, Direction& d, std::string_view bytes, bool fin);
  void Flush(Connection& c, Direction& d);
  bool Write(Connection& c, Direction& d, std::string_view bytes, size_t* sent);
  void ArmTimer(Direction& d, TimePoint at);
  bool ReadWanted(const Connection& c, const Direction& d) const;
  void UpdateInterest(Connection& c);
  bool SetInterest(int fd, Handle* handle, uint32_t* registered, uint32_t wanted);
  void SetListening(bool on);
  microseconds SampleHold();
  void Fail(Connection& c, std::string error);
  void Close(Connection& c);
  void AddBuffered(Direction& d, int64_t bytes);

  const DelayProxyConfig config_;
  const SocketAddress upstream_;
  Fd listener_, epoll_, wake_;
  Handle listener_handle_{Kind::kListener}, wake_handle_{Kind::kWake};
  bool listening_ = false;
  TimePoint accept_paused_until_ = TimePoint::min();
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  // Closed during the current batch of events, which may still name them: freed after it.
  std::vector<std::unique_ptr<Connection>> closed_;
  Random random_;
  std::vector<char> scratch_;  // one read
  std::atomic<bool> stop_{false};

  mutable std::mutex mu_;  // guards the three below
  microseconds delay_, jitter_;
  std::string last_error_;

  std::atomic<int64_t> accepted_{0}, refused_{0}, open_{0}, connect_failures_{0};
  std::atomic<int64_t> bytes_to_upstream_{0}, bytes_to_client_{0}, chunks_delayed_{0};
  std::atomic<int64_t> buffered_bytes_{0}, buffered_bytes_peak_{0};
};

void DelayProxy::Loop::Run() {
  SetListening(true);
  epoll_event wake{};
  wake.events = EPOLLIN;
  wake.data.ptr = &wake_handle_;
  STRAND_CHECK_MSG(epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &wake) == 0,
                   "delay proxy: epoll_ctl(wake): {}", ErrnoText(errno));
  std::array<epoll_event, kEventsPerWait> events;
  while (!stop_.load()) {
    int timeout_ms = -1;
    if (!listening_) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(accept_paused_until_ - SteadyClock::now());
      timeout_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
    }
    const int n = epoll_wait(epoll_.get(), events.data(), kEventsPerWait, timeout_ms);
    STRAND_CHECK_MSG(n >= 0 || errno == EINTR, "delay proxy: epoll_wait: {}", ErrnoText(errno));
    for (int i = 0; i < n; ++i) {
      Dispatch(*static_cast<const Handle*>(events[i].data.ptr), events[i].events);
    }
    closed_.clear();
    if (!listening_ && SteadyClock::now() >= accept_paused_until_) SetListening(true);
  }
  while (!connections_.empty()) Close(*connections_.begin()->second);
  closed_.clear();
  listener_.Reset();
}

void DelayProxy::Loop::Dispatch(const Handle& handle, uint32_t events) {
  switch (handle.kind) {
    case Kind::kWake: {
      uint64_t count = 0;
      (void)!::read(wake_.get(), &count, sizeof(count));  // Run() checks stop_
      return;
    }
    case Kind::kListener:
      Accept();
      return;
    case Kind::kTimer:
      OnTimer(*handle.connection, *handle.direction);
      return;
    case Kind::kClient:
    case Kind::kUpstream:
      OnSocket(*handle.connection, handle.kind, events);
      return;
  }
}

void DelayProxy::Loop::Accept() {
  for (int i = 0; i < kAcceptsPerEvent; ++i) {
    Fd client(accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!client.valid()) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      std::lock_guard lock(mu_);
      last_error_ = fmt::format("accept: {}", ErrnoText(errno));
      SetListening(false);
      accept_paused_until_ = SteadyClock::now() + kAcceptPause;
      return;
    }
    if (connections_.size() >= static_cast<size_t>(config_.connections_max)) {
      ++refused_;  // closed as `client` goes out of scope
      continue;
    }
    Open(std::move(client));
  }
}

void DelayProxy::Loop::Open(Fd client) {
  auto owned = std::make_unique<Connection>();
  Connection& c = *owned;
  c.client = std::move(client);
  c.upstream =
      Fd(socket(upstream_.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  c.to_upstream.timer = Fd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  c.to_client.timer = Fd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  ++accepted_;
  ++open_;
  connections_.emplace(&c, std::move(owned));
  if (!c.upstream.valid() || !c.to_upstream.timer.valid() || !c.to_client.timer.valid()) {
    ++connect_failures_;
    Fail(c, fmt::format("cannot open a connection: {}", ErrnoText(errno)));
    return;
  }
  SetNoDelay(c.client.get());
  SetNoDelay(c.upstream.get());
  c.client_handle = Handle{Kind::kClient, &c};
  c.upstream_handle = Handle{Kind::kUpstream, &c};
  const auto wire = [&](Direction& d, std::string_view src_name, const Fd& src,
                        std::string_view dst_name, const Fd& dst, std::atomic<int64_t>* counter) {
    d.src_name = src_name;
    d.dst_name = dst_name;
    d.src = src.get();
    d.dst = dst.get();
    d.forwarded = counter;
    d.timer_handle = Handle{Kind::kTimer, &c, &d};
    uint32_t registered = 0;
    return SetInterest(d.timer.get(), &d.timer_handle, &registered, EPOLLIN);
  };
  if (!wire(c.to_upstream, "client", c.client, "upstream", c.upstream, &bytes_to_upstream_) ||
      !wire(c.to_client, "upstream", c.upstream, "client", c.client, &bytes_to_client_)) {
    return;  // failed
  }
  if (connect(c.upstream.get(), upstream_.get(), upstream_.length) == 0) {
    c.connecting = false;
  } else if (errno == EINPROGRESS) {
    ArmTimer(c.to_client, SteadyClock::now() + config_.connect_timeout);
  } else {
    ++connect_failures_;
    Fail(c, fmt::format("connect to {}: {}", config_.upstream_address, ErrnoText(errno)));
    return;
  }
  UpdateInterest(c);
}

void DelayProxy::Loop::FinishConnect(Connection& c) {
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(c.upstream.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) {
    ++connect_failures_;
    Fail(c, fmt::format("connect to {}: {}", config_.upstream_address, ErrnoText(error)));
    return;
  }
  c.connecting = false;
  const itimerspec disarm{};
  STRAND_CHECK(timerfd_settime(c.to_client.timer.get(), 0, &disarm, nullptr) == 0);
  c.to_client.timer_at = TimePoint::min();
}

void DelayProxy::Loop::OnSocket(Connection& c, Kind kind, uint32_t events) {
  if (c.closed) return;
  if (kind == Kind::kUpstream && c.connecting) {
    FinishConnect(c);
  } else {
    Direction& reading = kind == Kind::kClient ? c.to_upstream : c.to_client;
    Direction& writing = kind == Kind::kClient ? c.to_client : c.to_upstream;
    // EPOLLHUP and EPOLLERR come whatever was asked for: the read or write below meets the error.
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 && ReadWanted(c, reading)) {
      Read(c, reading);
    }
    if (!c.closed && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0 && writing.write_blocked) {
      Flush(c, writing);
    }
  }
  if (!c.closed) UpdateInterest(c);
}

void DelayProxy::Loop::OnTimer(Connection& c, Direction& d) {
  if (c.closed) return;
  uint64_t expirations = 0;
  (void)!::read(d.timer.get(), &expirations, sizeof(expirations));
  d.timer_at = TimePoint::min();
  if (c.connecting) {  // only the connect timeout is armed before the upstream answers
    ++connect_failures_;
    Fail(c, fmt::format("connect to {}: no answer within {} ms", config_.upstream_address,
                        config_.connect_timeout.count()));
    return;
  }
  if (!d.write_blocked) Flush(c, d);
  if (!c.closed) UpdateInterest(c);
}

bool DelayProxy::Loop::ReadWanted(const Connection& c, const Direction& d) const {
  return !c.connecting && !c.closed && !d.eof_read &&
         d.buffered_bytes < config_.buffered_bytes_max &&
         static_cast<int64_t>(d.queue.size()) < config_.buffered_chunks_max;
}

void DelayProxy::Loop::Read(Connection& c, Direction& d) {
  // Never read more than fits under the limit, so that the bytes held stay within it.
  const int64_t room =
      std::min(config_.read_bytes_max, config_.buffered_bytes_max - d.buffered_bytes);
  STRAND_CHECK(room > 0);
  const ssize_t n = recv(d.src, scratch_.data(), static_cast<size_t>(room), 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    Fail(c, fmt::format("read from the {}: {}", d.src_name, ErrnoText(errno)));
    return;
  }
  if (n == 0) d.eof_read = true;
  Enqueue(c, d, std::string_view(scratch_.data(), static_cast<size_t>(n)), /*fin=*/n == 0);
}

void DelayProxy::Loop::Enqueue(Connection& c, Direction& d, std::string_view bytes, bool fin) {
  const TimePoint now = SteadyClock::now();
  // A chunk never overtakes the one before it, whatever jitter each drew.
  const TimePoint release = std::max(now + SampleHold(), d.last_release);
  d.last_release = release;
  if (!fin && release > now) ++chunks_delayed_;
  if (!fin && release <= now && d.queue.empty() && !d.write_blocked) {
    // Pass-through: write straight from the read buffer and hold only what the socket refused.
    size_t sent = 0;
    if (!Write(c, d, bytes, &sent)) return;
    bytes.remove_prefix(sent);
    if (bytes.empty()) return;
  }
  d.queue.push_back(Chunk{std::string(bytes), 0, release, fin});
  AddBuffered(d, static_cast<int64_t>(bytes.size()));
  if (!d.write_blocked) Flush(c, d);
}

void DelayProxy::Loop::Flush(Connection& c, Direction& d) {
  const TimePoint now = SteadyClock::now();
  d.write_blocked = false;
  while (!d.queue.empty()) {
    Chunk& head = d.queue.front();
    if (head.release > now) {
      ArmTimer(d, head.release);
      return;
    }
    if (head.fin) {
      d.queue.pop_front();
      STRAND_CHECK(d.queue.empty());  // nothing is read after a FIN
      if (shutdown(d.dst, SHUT_WR) != 0) {
        Fail(c, fmt::format("shutdown of the {}: {}", d.dst_name, ErrnoText(errno)));
        return;
      }
      d.fin_sent = true;
      if (c.to_upstream.fin_sent && c.to_client.fin_sent) Close(c);
      return;
    }
    size_t sent = 0;
    const bool ok = Write(c, d, std::string_view(head.bytes).substr(head.offset), &sent);
    if (!ok) return;
    head.offset += sent;
    AddBuffered(d, -static_cast<int64_t>(sent));
    if (d.write_blocked) return;
    d.queue.pop_front();
  }
}

// Writes until done or the socket is full (then sets write_blocked). False when the connection
// failed and was closed.
bool DelayProxy::Loop::Write(Connection& c, Direction& d, std::string_view bytes, size_t* sent) {
  while (*sent < bytes.size()) {
    const ssize_t n = send(d.dst, bytes.data() + *sent, bytes.size() - *sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        d.write_blocked = true;
        return true;
      }
      Fail(c, fmt::format("write to the {}: {}", d.dst_name, ErrnoText(errno)));
      return false;
    }
    *sent += static_cast<size_t>(n);
    d.forwarded->fetch_add(n);
  }
  return true;
}

void DelayProxy::Loop::ArmTimer(Direction& d, TimePoint at) {
  if (d.timer_at == at) return;
  itimerspec spec{};
  spec.it_value = ToTimespec(at);
  STRAND_CHECK_MSG(timerfd_settime(d.timer.get(), TFD_TIMER_ABSTIME, &spec, nullptr) == 0,
                   "delay proxy: timerfd_settime: {}", ErrnoText(errno));
  d.timer_at = at;
}

void DelayProxy::Loop::UpdateInterest(Connection& c) {
  const uint32_t client =
      (ReadWanted(c, c.to_upstream) ? EPOLLIN : 0u) | (c.to_client.write_blocked ? EPOLLOUT : 0u);
  const uint32_t upstream = c.connecting ? uint32_t{EPOLLOUT}
                                         : (ReadWanted(c, c.to_client) ? EPOLLIN : 0u) |
                                               (c.to_upstream.write_blocked ? EPOLLOUT : 0u);
  if (SetInterest(c.client.get(), &c.client_handle, &c.client_events, client)) {
    SetInterest(c.upstream.get(), &c.upstream_handle, &c.upstream_events, upstream);
  }
}

// A socket with nothing wanted leaves the epoll set altogether: EPOLLHUP and EPOLLERR are
// reported even for an empty event mask, and a level-triggered one nobody handles would spin.
// False (and the connection failed) when the kernel refused (out of memory or watches).
bool DelayProxy::Loop::SetInterest(int fd, Handle* handle, uint32_t* registered, uint32_t wanted) {
  if (*registered == wanted) return true;
  epoll_event event{};
  event.events = wanted;
  event.data.ptr = handle;
  const int op = wanted == 0 ? EPOLL_CTL_DEL : *registered == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  if (epoll_ctl(epoll_.get(), op, fd, &event) != 0) {
    Fail(*handle->connection, fmt::format("epoll_ctl: {}", ErrnoText(errno)));
    return false;
  }
  *registered = wanted;
  return true;
}

void DelayProxy::Loop::SetListening(bool on) {
  if (listening_ == on) return;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.ptr = &listener_handle_;
  STRAND_CHECK_MSG(
      epoll_ctl(epoll_.get(), on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listener_.get(), &event) == 0,
      "delay proxy: epoll_ctl(listener): {}", ErrnoText(errno));
  listening_ = on;
}

microseconds DelayProxy::Loop::SampleHold() {
  std::lock_guard lock(mu_);
  microseconds hold = delay_;
  if (jitter_.count() > 0) hold += microseconds(random_.Range(0, jitter_.count()));
  return hold;
}

void DelayProxy::Loop::AddBuffered(Direction& d, int64_t bytes) {
  d.buffered_bytes += bytes;
  STRAND_CHECK(d.buffered_bytes >= 0 && d.buffered_bytes <= config_.buffered_bytes_max);
  buffered_bytes_.fetch_add(bytes);
  if (d.buffered_bytes > buffered_bytes_peak_.load()) buffered_bytes_peak_.store(d.buffered_bytes);
}

void DelayProxy::Loop::Fail(Connection& c, std::string error) {
  {
    std::lock_guard lock(mu_);
    last_error_ = std::move(error);
  }
  Close(c);
}

// Both sockets close at once: whatever is still held is dropped, as a broken link would.
void DelayProxy::Loop::Close(Connection& c) {
  if (c.closed) return;
  c.closed = true;
  buffered_bytes_.fetch_sub(c.to_upstream.buffered_bytes + c.to_client.buffered_bytes);
  c.client.Reset();  // closing a descriptor also takes it out of the epoll set
  c.upstream.Reset();
  c.to_upstream.timer.Reset();
  c.to_client.timer.Reset();
  --open_;
  const auto it = connections_.find(&c);
  STRAND_CHECK(it != connections_.end());
  closed_.push_back(std::move(it->second));
  connections_.erase(it);
}

absl::Status DelayProxy::Loop::SetDelay(microseconds delay, microseconds jitter) {
  STRAND_RETURN_IF_ERROR(ValidateHold(delay, jitter, config_.hold_max));
  std::lock_guard lock(mu_);
  delay_ = delay;
  jitter_ = jitter;
  return absl::OkStatus();
}

DelayProxy::Stats DelayProxy::Loop::GetStats() const {
  Stats stats;
  stats.connections_accepted = accepted_.load();
  stats.connections_refused = refused_.load();
  stats.connections_open = open_.load();
  stats.upstream_connect_failures = connect_failures_.load();
  stats.bytes_to_upstream = bytes_to_upstream_.load();
  stats.bytes_to_client = bytes_to_client_.load();
  stats.chunks_delayed = chunks_delayed_.load();
  stats.buffered_bytes = buffered_bytes_.load();
  stats.buffered_bytes_peak = buffered_bytes_peak_.load();
  std::lock_guard lock(mu_);
  stats.last_error = last_error_;
  return stats;
}

absl::StatusOr<std::unique_ptr<DelayProxy>> DelayProxy::Start(DelayProxyConfig config) {
  STRAND_RETURN_IF_ERROR(Validate(config));
  STRAND_RETURN_IF_ERROR(ValidateHold(config.delay, config.jitter, config.hold_max));
  STRAND_ASSIGN_OR_RETURN(const SocketAddress upstream,
                          Resolve(config.upstream_address, /*passive=*/false));
  STRAND_ASSIGN_OR_RETURN(SocketAddress bound, Resolve(config.listen_address, /*passive=*/true));
  Fd listener(socket(bound.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  const int one = 1;
  if (!listener.valid() ||
      setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(listener.get(), bound.get(), bound.length) != 0 ||
      listen(listener.get(), kListenBacklog) != 0) {
    return absl::UnavailableError(fmt::format("delay proxy: cannot listen on {}: {}",
                                              config.listen_address, ErrnoText(errno)));
  }
  bound.length = sizeof(bound.storage);
  if (getsockname(listener.get(), reinterpret_cast<sockaddr*>(&bound.storage), &bound.length) !=
      0) {
    return absl::InternalError(fmt::format("delay proxy: getsockname: {}", ErrnoText(errno)));
  }
  Fd epoll(epoll_create1(EPOLL_CLOEXEC));
  Fd wake(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!epoll.valid() || !wake.valid()) {
    return absl::ResourceExhaustedError(
        fmt::format("delay proxy: epoll or eventfd: {}", ErrnoText(errno)));
  }
  auto loop = std::make_unique<Loop>(std::move(config), upstream, std::move(listener),
                                     std::move(epoll), std::move(wake));
  return std::unique_ptr<DelayProxy>(new DelayProxy(std::move(loop), Format(bound)));
}

DelayProxy::DelayProxy(std::unique_ptr<Loop> loop, std::string address)
    : loop_(std::move(loop)), address_(std::move(address)) {
  thread_ = std::thread([running = loop_.get()] { running->Run(); });
}

DelayProxy::~DelayProxy() { Stop(); }

void DelayProxy::Stop() {
  std::call_once(stop_once_, [this] {
    loop_->RequestStop();
    if (thread_.joinable()) thread_.join();
  });
}

absl::Status DelayProxy::SetDelay(microseconds delay, microseconds jitter) {
  return loop_->SetDelay(delay, jitter);
}

DelayProxy::Stats DelayProxy::stats() const { return loop_->GetStats(); }

}  // namespace strand::drill
