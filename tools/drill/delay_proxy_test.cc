// DelayProxy against real sockets on 127.0.0.1: a small blocking TCP server whose behaviour each
// test picks (echo, send a lot, close, reset), blocking clients, and a real gRPC server for
// HTTP/2. Timing is asserted only as a lower bound (a delay of D makes a round trip take at
// least 2*D); everything that waits has a generous deadline, so a slow machine is never a failure
// and a hang fails instead of blocking the suite.

#include "tools/drill/delay_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "common/random.h"
#include "proto/health/v1/health.grpc.pb.h"

namespace strand::drill {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kSocketTimeout{30};  // a hang fails the test instead
constexpr std::chrono::seconds kWaitMax{20};

// Polls `done` until it holds or kWaitMax passes.
bool WaitFor(const std::function<bool()>& done) {
  const auto deadline = Clock::now() + kWaitMax;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

void SetTimeouts(int fd) {
  timeval tv{};
  tv.tv_sec = kSocketTimeout.count();
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// A blocking client socket; closed when destroyed.
class Client {
 public:
  explicit Client(const std::string& address) {
    const size_t colon = address.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
    inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr);
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    SetTimeouts(fd_);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() { Close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  bool Write(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Exactly n bytes, or fewer if the stream ended or failed first.
  std::string Read(size_t n) {
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
      const ssize_t r = recv(fd_, out.data() + got, n - got, 0);
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    out.resize(got);
    return out;
  }
  // Whether the peer ended the stream (FIN or reset) with nothing more to read.
  bool ReadsEnd() {
    char byte;
    const ssize_t r = recv(fd_, &byte, 1, 0);
    return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

bool WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// A blocking TCP server on 127.0.0.1 running `handler` on its own thread for each connection
// (the server closes the socket when the handler returns). Stop() ends every handler by shutting
// its socket down.
class TestServer {
 public:
  using Handler = std::function<void(int fd)>;

  explicit TestServer(Handler handler) : handler_(std::move(handler)) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(listener_, 64), 0);
    socklen_t length = sizeof(addr);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &length);
    address_ = fmt::format("127.0.0.1:{}", ntohs(addr.sin_port));
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~TestServer() { Stop(); }

  const std::string& address() const { return address_; }
  int accepted() const { return accepted_.load(); }

  void Stop() {
    if (stopped_.exchange(true)) return;
    shutdown(listener_, SHUT_RDWR);  // wakes accept()
    acceptor_.join();
    {
      std::lock_guard lock(mu_);
      for (int fd : open_) shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& t : handlers_) t.join();
    close(listener_);
  }

 private:
  void AcceptLoop() {
    while (true) {
      const int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      SetTimeouts(fd);
      ++accepted_;
      std::lock_guard lock(mu_);
      if (stopped_.load()) {
        close(fd);
        return;
      }
      open_.push_back(fd);
      handlers_.emplace_back([this, fd] {
        handler_(fd);
        std::lock_guard done(mu_);
        std::erase(open_, fd);
        close(fd);
      });
    }
  }

  Handler handler_;
  int listener_ = -1;
  std::string address_;
  std::thread acceptor_;
  std::atomic<bool> stopped_{false};
  std::atomic<int> accepted_{0};
  std::mutex mu_;
  std::vector<int> open_;
  std::vector<std::thread> handlers_;
};

// Echoes until the client ends its stream, then returns (the server then closes).
void Echo(int fd) {
  std::vector<char> buffer(64 << 10);
  while (true) {
    const ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
    if (n <= 0) return;
    if (!WriteAll(fd, std::string_view(buffer.data(), static_cast<size_t>(n)))) return;
  }
}

std::unique_ptr<DelayProxy> StartProxy(DelayProxyConfig config) {
  auto proxy = DelayProxy::Start(std::move(config));
  EXPECT_TRUE(proxy.ok()) << proxy.status();
  return proxy.ok() ? std::move(*proxy) : nullptr;
}

std::unique_ptr<DelayProxy> StartProxy(const std::string& upstream, milliseconds delay,
                                       milliseconds jitter = milliseconds(0)) {
  DelayProxyConfig config;
  config.upstream_address = upstream;
  config.delay = delay;
  config.jitter = jitter;
  return StartProxy(std::move(config));
}

std::string RandomBytes(size_t n, uint64_t seed) {
  Random random(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(random.Next());
  return out;
}

// One byte there and back; returns how long it took.
Clock::duration RoundTrip(Client& client) {
  const auto start = Clock::now();
  EXPECT_TRUE(client.Write("x"));
  EXPECT_EQ(client.Read(1), "x");
  return Clock::now() - start;
}

TEST(DelayProxyTest, Forward_ZeroDelayEchoesEightMiBByteForByte) {
  TestServer server(Echo);
  auto proxy = StartProxy(server.address(), milliseconds(0));
  ASSERT_NE(proxy, nullptr);
  const std::string payload = RandomBytes(8 << 20, 15);
  Client client(proxy->address());
  ASSERT_TRUE(client.connected());
  std::thread writer([&] {
    EXPECT_TRUE(client.Write(payload));
    shutdown(client.fd(), SHUT_WR);  // the echo server then ends, and the proxy forwards its FIN
  });
  const std::string echoed = client.Read(payload.size());
  writer.join();
  ASSERT_EQ(echoed.size(), payload.size());
  EXPECT_TRUE(echoed == payload) << "the echoed bytes differ from those sent";
  EXPECT_TRUE(client.ReadsEnd());
  const DelayProxy::Stats stats = proxy->stats();
  EXPECT_EQ(stats.bytes_to_upstream, int64_t{8} << 20);
  EXPECT_EQ(stats.bytes_to_client, int64_t{8} << 20);
  EXPECT_EQ(stats.chunks_delayed, 0);
  EXPECT_EQ(stats.connections_accepted, 1);
}

TEST(DelayProxyTest, Forward_RoundTripTakesAtLeastTwiceTheDelay) {
  TestServer server(Echo);
  const milliseconds delay(100);
  auto proxy = StartProxy(server.address(), delay);
  ASSERT_NE(proxy, nullptr);
  Client client(proxy->address());
  ASSERT_TRUE(client.connected());
  for (int i = 0; i < 3; ++i) EXPECT_GE(RoundTrip(client), 2 * delay) << "round trip " << i;
  EXPECT_GE(proxy->stats().chunks_delayed, 6);
}

TEST(DelayProxyTest, Jitter_NeverReordersBytes) {
  TestServer server(Echo);
  auto proxy = StartProxy(server.address(), milliseconds(1), milliseconds(20));
  ASSERT_NE(proxy, nullptr);
  Client client(proxy->address());
  ASSERT_TRUE(client.connected());
  constexpr int kRecords = 400;
  std::thread writer([&] {
    for (int i = 0; i < kRecords; ++i) {
      // Separate small writes, some apart in time, so that the proxy reads many chunks and each
      // draws its own jitter.
      EXPECT_TRUE(client.Write(fmt::format("{:08d}", i)));
      if (i % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  });
  const std::string echoed = client.Read(kRecords * 8);
  writer.join();
  ASSERT_EQ(echoed.size(), size_t{kRecords} * 8);
  for (int i = 0; i < kRecords; ++i) {
    ASSERT_EQ(echoed.substr(static_cast<size_t>(i) * 8, 8), fmt::format("{:08d}", i))
        << "record " << i << " out of place";
  }
  EXPECT_GE(proxy->stats().chunks_delayed, 20);
}

TEST(DelayProxyTest, SetDelay_TakesEffectWhileRunning) {
  TestServer server(Echo);
  auto proxy = StartProxy(server.address(), milliseconds(0));
  ASSERT_NE(proxy, nullptr);
  Client client(proxy->address());
  ASSERT_TRUE(client.connected());
  RoundTrip(client);
  EXPECT_EQ(proxy->stats().chunks_delayed, 0);

  const milliseconds delay(150);
  ASSERT_TRUE(proxy->SetDelay(delay, std::chrono::microseconds(0)).ok());
  EXPECT_GE(RoundTrip(client), 2 * delay);
  const int64_t delayed = proxy->stats().chunks_delayed;
  EXPECT_EQ(delayed, 2);

  // Back to zero: pass-through again, no chunk is held.
  ASSERT_TRUE(proxy->SetDelay(milliseconds(0), milliseconds(0)).ok());
  RoundTrip(client);
  EXPECT_EQ(proxy->stats().chunks_delayed, delayed);
}

TEST(DelayProxyTest, SetDelay_RejectsNegativeAndOverTheMax) {
  TestServer server(Echo);
  DelayProxyConfig config;
  config.upstream_address = server.address();
  config.hold_max = milliseconds(1000);
  auto proxy = StartProxy(config);
  ASSERT_NE(proxy, nullptr);
  EXPECT_EQ(proxy->SetDelay(milliseconds(-1), milliseconds(0)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(proxy->SetDelay(milliseconds(600), milliseconds(500)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(proxy->SetDelay(milliseconds(600), milliseconds(400)).ok());
}

TEST(DelayProxyTest, Start_RejectsBadConfig) {
  const auto start = [](const std::function<void(DelayProxyConfig&)>& edit) {
    DelayProxyConfig config;
    config.upstream_address = "127.0.0.1:9";
    edit(config);
    return DelayProxy::Start(config).status().code();
  };
  EXPECT_EQ(start([](DelayProxyConfig& c) { c.upstream_address = ""; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(start([](DelayProxyConfig& c) { c.upstream_address = "127.0.0.1"; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(start([](DelayProxyConfig& c) { c.listen_address = "127.0.0.1:70000"; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(start([](DelayProxyConfig& c) { c.connections_max = 0; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(start([](DelayProxyConfig& c) { c.buffered_bytes_max = 0; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(start([](DelayProxyConfig& c) { c.delay = c.hold_max + milliseconds(1); }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(start([](DelayProxyConfig& c) { c.listen_address = "[::1]:0"; }),
            absl::StatusCode::kOk);
}

TEST(DelayProxyTest, Accept_RefusesConnectionsOverTheLimit) {
  TestServer server(Echo);
  DelayProxyConfig config;
  config.upstream_address = server.address();
  config.connections_max = 2;
  auto proxy = StartProxy(config);
  ASSERT_NE(proxy, nullptr);
  auto first = std::make_unique<Client>(proxy->address());
  Client second(proxy->address());
  RoundTrip(*first);
  RoundTrip(second);

  Client third(proxy->address());  // the kernel completes the handshake; the proxy closes it
  EXPECT_TRUE(third.ReadsEnd());
  EXPECT_EQ(proxy->stats().connections_refused, 1);
  EXPECT_EQ(server.accepted(), 2);

  first.reset();
  ASSERT_TRUE(WaitFor([&] { return proxy->stats().connections_open == 1; }));
  Client fourth(proxy->address());
  RoundTrip(fourth);
  EXPECT_EQ(proxy->stats().connections_accepted, 3);
}

TEST(DelayProxyTest, Backpressure_HeldBytesStayWithinTheLimit) {
  // More than the kernel's socket buffers on the way can hold (about 20 MiB at most).
  constexpr int64_t kTotal = int64_t{64} << 20;
  std::atomic<int64_t> sent{0};
  TestServer server([&](int fd) {  // sends kTotal bytes as fast as it is let
    const std::string block(64 << 10, 'b');
    while (sent.load() < kTotal && WriteAll(fd, block)) sent += static_cast<int64_t>(block.size());
  });
  DelayProxyConfig config;
  config.upstream_address = server.address();
  config.buffered_bytes_max = 256 << 10;
  config.read_bytes_max = 16 << 10;
  config.delay = milliseconds(5);
  auto proxy = StartProxy(config);
  ASSERT_NE(proxy, nullptr);
  Client client(proxy->address());
  ASSERT_TRUE(client.connected());

  // The client does not read: the proxy holds at most its limit and the server is held back.
  std::this_thread::sleep_for(milliseconds(1000));
  DelayProxy::Stats stats = proxy->stats();
  EXPECT_GT(stats.buffered_bytes_peak, 0);
  EXPECT_LE(stats.buffered_bytes_peak, config.buffered_bytes_max);
  EXPECT_LE(stats.buffered_bytes, config.buffered_bytes_max);
  EXPECT_LT(sent.load(), kTotal) << "nothing held the sender back";

  const std::string got = client.Read(static_cast<size_t>(kTotal));
  EXPECT_EQ(static_cast<int64_t>(got.size()), kTotal);
  EXPECT_EQ(got.find_first_not_of('b'), std::string::npos);
  stats = proxy->stats();
  EXPECT_LE(stats.buffered_bytes_peak, config.buffered_bytes_max);
  EXPECT_EQ(stats.bytes_to_client, kTotal);
}

TEST(DelayProxyTest, Close_ClientCloseClosesTheUpstream) {
  std::atomic<bool> upstream_saw_end{false};
  TestServer server([&](int fd) {
    Echo(fd);
    upstream_saw_end = true;
  });
  auto proxy = StartProxy(server.address(), milliseconds(10));
  ASSERT_NE(proxy, nullptr);
  Client client(proxy->address());
  RoundTrip(client);
  client.Close();
  EXPECT_TRUE(WaitFor([&] { return upstream_saw_end.load(); }));
  EXPECT_TRUE(WaitFor([&] { return proxy->stats().connections_open == 0; }));
}

TEST(DelayProxyTest, Close_UpstreamCloseClosesTheClient) {
  TestServer server([](int fd) { WriteAll(fd, "bye"); });  // then the server closes
  auto proxy = StartProxy(server.address(), milliseconds(10));
  ASSERT_NE(proxy, nullptr);
  Client client(proxy->address());
  EXPECT_EQ(client.Read(3), "bye");
  EXPECT_TRUE(client.ReadsEnd());
  client.Close();  // both directions are now done
  EXPECT_TRUE(WaitFor([&] { return proxy->stats().connections_open == 0; }));
}

TEST(DelayProxyTest, Close_UpstreamResetClosesTheClientAtOnce) {
  TestServer server([](int fd) {
    const linger reset{1, 0};  // close() then sends a reset
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  });
  auto proxy = StartProxy(server.address(), milliseconds(0));
  ASSERT_NE(proxy, nullptr);
  Client client(proxy->address());
  EXPECT_TRUE(client.ReadsEnd());
  // The proxy closed its side without the client doing anything.
  EXPECT_TRUE(WaitFor([&] { return proxy->stats().connections_open == 0; }));
}

TEST(DelayProxyTest, HalfClose_FinIsForwardedAfterTheDataAndTheReplyStillArrives) {
  TestServer server([](int fd) {  // reads to the end, then answers and closes
    int64_t total = 0;
    char buffer[4096];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) total += n;
    WriteAll(fd, fmt::format("got {}", total));
  });
  auto proxy = StartProxy(server.address(), milliseconds(20), milliseconds(10));
  ASSERT_NE(proxy, nullptr);
  Client client(proxy->address());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(client.Write(std::string(1000, 'h')));
  shutdown(client.fd(), SHUT_WR);
  EXPECT_EQ(client.Read(9), "got 10000");
  EXPECT_TRUE(client.ReadsEnd());
  EXPECT_TRUE(WaitFor([&] { return proxy->stats().connections_open == 0; }));
}

TEST(DelayProxyTest, Connect_UnreachableUpstreamClosesTheClient) {
  // A bound port that does not listen refuses connections, and nothing else can take it.
  const int bound = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(bound, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t length = sizeof(addr);
  getsockname(bound, reinterpret_cast<sockaddr*>(&addr), &length);
  auto proxy = StartProxy(fmt::format("127.0.0.1:{}", ntohs(addr.sin_port)), milliseconds(0));
  ASSERT_NE(proxy, nullptr);
  Client client(proxy->address());
  EXPECT_TRUE(client.ReadsEnd());
  ASSERT_TRUE(WaitFor([&] { return proxy->stats().upstream_connect_failures == 1; }));
  EXPECT_NE(proxy->stats().last_error.find("connect to"), std::string::npos)
      << proxy->stats().last_error;
  close(bound);
}

TEST(DelayProxyTest, Stop_ReturnsWithConnectionsOpenAndBytesHeld) {
  TestServer server(Echo);
  auto proxy = StartProxy(server.address(), milliseconds(30000));
  ASSERT_NE(proxy, nullptr);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<Client>(proxy->address()));
    ASSERT_TRUE(clients.back()->Write("held for 30 s"));
  }
  ASSERT_TRUE(WaitFor([&] { return proxy->stats().buffered_bytes == 3 * 13; }));
  proxy->Stop();  // a hang here fails the suite's timeout
  for (auto& client : clients) EXPECT_TRUE(client->ReadsEnd());
  const DelayProxy::Stats stats = proxy->stats();
  EXPECT_EQ(stats.connections_open, 0);
  EXPECT_EQ(stats.buffered_bytes, 0);
  proxy->Stop();  // idempotent
}

// grpc.health.v1 as a test service: Check answers SERVING only when the request's service name
// is ServiceName(n, size) (so a damaged request shows); Watch with "<n>" streams n answers.
std::string ServiceName(int n, size_t size) {
  return fmt::format("{}:", n) + std::string(size, static_cast<char>('a' + n % 26));
}

class HealthService final : public grpc::health::v1::Health::Service {
 public:
  grpc::Status Check(grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override {
    const std::string& name = request->service();
    const size_t colon = name.find(':');
    const int n = std::stoi(name.substr(0, colon));
    const bool intact = name == ServiceName(n, name.size() - colon - 1);
    response->set_status(intact ? grpc::health::v1::HealthCheckResponse::SERVING
                                : grpc::health::v1::HealthCheckResponse::NOT_SERVING);
    return grpc::Status::OK;
  }
  grpc::Status Watch(grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override {
    grpc::health::v1::HealthCheckResponse response;
    response.set_status(grpc::health::v1::HealthCheckResponse::SERVING);
    for (int i = 0, n = std::stoi(request->service()); i < n; ++i) writer->Write(response);
    return grpc::Status::OK;
  }
};

TEST(DelayProxyTest, Grpc_UnaryConcurrentAndStreamingCallsWorkWithAndWithoutDelay) {
  HealthService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto proxy = StartProxy(fmt::format("127.0.0.1:{}", port), milliseconds(0));
  ASSERT_NE(proxy, nullptr);

  for (const milliseconds delay : {milliseconds(0), milliseconds(40)}) {
    SCOPED_TRACE(fmt::format("delay {} ms", delay.count()));
    ASSERT_TRUE(proxy->SetDelay(delay, delay / 4).ok());
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of this delay's own
    auto channel =
        grpc::CreateCustomChannel(proxy->address(), grpc::InsecureChannelCredentials(), args);
    auto stub = grpc::health::v1::Health::NewStub(channel);
    const auto check = [&](int n, size_t size) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + kSocketTimeout);
      grpc::health::v1::HealthCheckRequest request;
      request.set_service(ServiceName(n, size));
      grpc::health::v1::HealthCheckResponse response;
      const grpc::Status status = stub->Check(&context, request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING) << n;
    };
    check(0, 10);  // connects

    const auto start = Clock::now();
    check(1, 100 << 10);
    EXPECT_GE(Clock::now() - start, 2 * delay);

    std::vector<std::thread> callers;  // many streams at once on the one HTTP/2 connection
    for (int t = 0; t < 8; ++t) {
      callers.emplace_back([&, t] {
        for (int i = 0; i < 10; ++i) check(t * 10 + i, static_cast<size_t>(i) * 1000);
      });
    }
    for (std::thread& caller : callers) caller.join();

    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kSocketTimeout);
    grpc::health::v1::HealthCheckRequest request;
    request.set_service("50");
    auto reader = stub->Watch(&context, request);
    grpc::health::v1::HealthCheckResponse response;
    int answers = 0;
    while (reader->Read(&response)) ++answers;
    EXPECT_TRUE(reader->Finish().ok());
    EXPECT_EQ(answers, 50);
  }
  const DelayProxy::Stats stats = proxy->stats();
  EXPECT_GT(stats.chunks_delayed, 0);
  EXPECT_GE(stats.connections_accepted, 2);
  proxy->Stop();
  server->Shutdown();
}

}  // namespace
}  // namespace strand::drill
