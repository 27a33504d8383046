#include "common/connection_limiter.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/logging.h"
#include "common/thread_name.h"

namespace strand {
namespace {

auto Log() { return GetLogger("listener"); }

uint64_t InodeOf(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return 0;
  return st.st_ino;
}

std::string IpOf(const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (a.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf, sizeof buf);
  } else if (a.ss_family == AF_INET6) {
    const auto& a6 = reinterpret_cast<const sockaddr_in6&>(a);
    if (IN6_IS_ADDR_V4MAPPED(&a6.sin6_addr)) {  // an IPv4 client on a dual-stack socket
      inet_ntop(AF_INET, &a6.sin6_addr.s6_addr[12], buf, sizeof buf);
    } else {
      inet_ntop(AF_INET6, &a6.sin6_addr, buf, sizeof buf);
    }
  }
  return buf;
}

}  // namespace

bool ConnectionLimiter::Admit(int fd, const std::string& ip, std::string* why) {
  std::lock_guard lock(mu_);
  SweepLocked();
  // A descriptor number still on record was closed and reused.
  if (auto it = conns_.find(fd); it != conns_.end()) {
    if (--per_ip_[it->second.ip] == 0) per_ip_.erase(it->second.ip);
    conns_.erase(it);
  }
  const auto now = std::chrono::steady_clock::now();
  const double rate = static_cast<double>(limits_.max_connection_creation_rate);
  if (refilled_ == std::chrono::steady_clock::time_point{}) {
    tokens_ = rate;
  } else {
    tokens_ =
        std::min(rate, tokens_ + rate * std::chrono::duration<double>(now - refilled_).count());
  }
  refilled_ = now;
  if (static_cast<int64_t>(conns_.size()) >= limits_.max_connections) {
    *why = fmt::format("max.connections ({}) reached", limits_.max_connections);
    ++stats_.refused_max;
  } else if (per_ip_[ip] >= limits_.max_connections_per_ip) {
    *why = fmt::format("max.connections.per.ip ({}) reached for {}", limits_.max_connections_per_ip,
                       ip);
    ++stats_.refused_per_ip;
  } else if (tokens_ < 1) {
    *why = fmt::format("max.connection.creation.rate ({}/s) exceeded",
                       limits_.max_connection_creation_rate);
    ++stats_.refused_rate;
  } else {
    tokens_ -= 1;
    ++per_ip_[ip];
    conns_[fd] = Conn{InodeOf(fd), ip};
    return true;
  }
  if (per_ip_[ip] == 0) per_ip_.erase(ip);
  return false;
}

ConnectionStats ConnectionLimiter::Stats() {
  std::lock_guard lock(mu_);
  SweepLocked();
  ConnectionStats s = stats_;
  s.open = static_cast<int64_t>(conns_.size());
  return s;
}

void ConnectionLimiter::Sweep() {
  std::lock_guard lock(mu_);
  SweepLocked();
}

void ConnectionLimiter::SweepLocked() {
  for (auto it = conns_.begin(); it != conns_.end();) {
    if (InodeOf(it->first) != it->second.inode) {
      if (--per_ip_[it->second.ip] == 0) per_ip_.erase(it->second.ip);
      it = conns_.erase(it);
    } else {
      ++it;
    }
  }
}

absl::StatusOr<std::unique_ptr<LimitedAcceptor>> LimitedAcceptor::Bind(const Endpoint& listener) {
  std::unique_ptr<LimitedAcceptor> a(new LimitedAcceptor());
  a->name_ = listener.name;
  // As gRPC binds the other listeners: an empty host is [::] (every interface, IPv4 too), any
  // other host is bound as given (0.0.0.0: every IPv4 interface).
  const std::string host = listener.host.empty() ? "::" : listener.host;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(listener.port);
  const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return absl::UnavailableError(fmt::format("cannot listen on {} (listener {}): {}",
                                              listener.Address(), listener.name, gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, &freeaddrinfo);
  const int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return absl::UnavailableError(fmt::format("socket: {}", std::strerror(errno)));
  a->listen_fd_ = fd;
  const int one = 1, zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (found->ai_family == AF_INET6 &&
      IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(found->ai_addr)->sin6_addr)) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);  // IPv4 clients too
  }
  if (bind(fd, found->ai_addr, found->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
    return absl::UnavailableError(fmt::format("cannot listen on {} (listener {}): {}",
                                              listener.Address(), listener.name,
                                              std::strerror(errno)));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  a->port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port
                                               : reinterpret_cast<sockaddr_in&>(bound).sin_port);
  if (pipe2(a->wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return absl::UnavailableError(fmt::format("pipe: {}", std::strerror(errno)));
  }
  return a;
}

LimitedAcceptor::~LimitedAcceptor() {
  Stop();
  for (int fd : wake_) {
    if (fd >= 0) close(fd);
  }
}

void LimitedAcceptor::Start(
    std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor,
    std::shared_ptr<ConnectionLimiter> limiter) {
  acceptor_ = std::move(acceptor);
  limiter_ = std::move(limiter);
  thread_ = NamedThread("conn-acceptor", [this] { Run(); });
}

void LimitedAcceptor::Stop() {
  if (thread_.joinable()) {
    const char b = 1;
    (void)!write(wake_[1], &b, 1);
    thread_.join();
  }
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
  }
}

void LimitedAcceptor::Run() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    const int n = poll(fds, 2, 1000);
    if (fds[1].revents != 0) return;
    if (n <= 0 || !(fds[0].revents & POLLIN)) {
      limiter_->Sweep();
      continue;
    }
    for (;;) {
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      const int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len,
                             SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) {
          // Out of descriptors: back off rather than spin (the limits should prevent this).
          Log()->warn("[listener {}] cannot accept: {}", name_, std::strerror(errno));
          poll(nullptr, 0, 100);
        }
        break;
      }
      const std::string ip = IpOf(peer);
      std::string why;
      if (!limiter_->Admit(fd, ip, &why)) {
        // Logged before the socket closes, so whoever sees the close finds the reason logged.
        const auto now = std::chrono::steady_clock::now();
        if (now - last_log_ > std::chrono::seconds(10)) {
          Log()->warn(
              "[listener {}] refused a connection from {}: {} ({} more refused since the "
              "last message)",
              name_, ip, why, unlogged_);
          last_log_ = now;
          unlogged_ = 0;
        } else {
          ++unlogged_;
        }
        close(fd);
        continue;
      }
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters p;
      p.listener_fd = listen_fd_;
      p.fd = fd;
      acceptor_->HandleNewConnection(&p);
    }
  }
}

}  // namespace strand
