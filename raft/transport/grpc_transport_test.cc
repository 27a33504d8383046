// Tests GrpcTransport with real gRPC servers on 127.0.0.1: messages arrive in order on a healthy
// stream, an observer's address is learned from its stream so replies reach it, another
// cluster's stream is refused, and a dead peer is reported unreachable.
#include "raft/transport/grpc_transport.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace strand::raft {
namespace {

using namespace std::chrono_literals;

// A node's receiving end: a gRPC server on an ephemeral port plus the transport.
struct Endpoint {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Message> received;
  std::vector<NodeId> unreachable;
  std::unique_ptr<GrpcTransport> transport;
  std::unique_ptr<grpc::Server> server;
  int port = 0;

  void Start(NodeId self, std::string cluster, std::map<NodeId, std::string> peers) {
    GrpcTransportOptions o;
    o.cluster_id = std::move(cluster);
    o.self = self;
    o.peers = std::move(peers);
    o.reconnect_backoff_max_ms = 50;
    transport = std::make_unique<GrpcTransport>(
        o,
        [this](Message m) {
          std::lock_guard lock(mu);
          received.push_back(std::move(m));
          cv.notify_all();
        },
        [this](NodeId n) {
          std::lock_guard lock(mu);
          unreachable.push_back(n);
          cv.notify_all();
        });
    grpc::ServerBuilder builder;
    ConfigureRaftServer(builder);
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(transport->service());
    server = builder.BuildAndStart();
    ASSERT_NE(server, nullptr);
    transport->SetSelfAddress("127.0.0.1:" + std::to_string(port));
  }

  bool WaitFor(const std::function<bool()>& pred) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 10s, pred);
  }

  // Calls `act` every 10 ms until `pred` holds (or 10 s pass).
  bool Poll(const std::function<void()>& act, const std::function<bool()>& pred) {
    for (int i = 0; i < 1000; ++i) {
      act();
      std::unique_lock lock(mu);
      if (cv.wait_for(lock, 10ms, pred)) return true;
    }
    return false;
  }

  void Shutdown() {
    if (server) server->Shutdown(std::chrono::system_clock::now() + 1s);
    if (transport) transport->Stop();
  }
};

Message Heartbeat(int from, int to, uint64_t context) {
  return Message{.type = MessageType::kHeartbeat,
                 .from = NodeId(from),
                 .to = NodeId(to),
                 .term = Term(1),
                 .context = context};
}

TEST(GrpcTransport, Messages_ArriveInOrder) {
  Endpoint a, b;
  b.Start(NodeId(2), "c1", {});
  a.Start(NodeId(1), "c1", {{NodeId(2), "127.0.0.1:" + std::to_string(b.port)}});
  for (uint64_t i = 1; i <= 500; ++i) a.transport->Send({Heartbeat(1, 2, i)});
  ASSERT_TRUE(b.WaitFor([&] { return b.received.size() == 500; }));
  for (uint64_t i = 0; i < 500; ++i) EXPECT_EQ(b.received[i].context, i + 1);
  // Counted when the write completes, which may come just after the receiver has the batch.
  EXPECT_TRUE(a.Poll([] {}, [&] { return a.transport->stats().messages_sent == 500u; }))
      << a.transport->stats().messages_sent;
  a.Shutdown();
  b.Shutdown();
}

TEST(GrpcTransport, ObserverAddress_IsLearnedFromItsStream) {
  Endpoint voter, observer;
  voter.Start(NodeId(1), "c1", {});
  observer.Start(NodeId(9), "c1", {{NodeId(1), "127.0.0.1:" + std::to_string(voter.port)}});
  observer.transport->Send(
      {Message{.type = MessageType::kObserverJoin, .from = NodeId(9), .to = NodeId(1)}});
  ASSERT_TRUE(voter.WaitFor([&] { return !voter.received.empty(); }));
  // The voter was never told where node 9 lives, yet its reply arrives.
  voter.transport->Send({Heartbeat(1, 9, 7)});
  ASSERT_TRUE(observer.WaitFor([&] { return !observer.received.empty(); }));
  EXPECT_EQ(observer.received[0].context, 7u);
  voter.Shutdown();
  observer.Shutdown();
}

TEST(GrpcTransport, OtherCluster_IsRefused) {
  Endpoint a, b;
  b.Start(NodeId(2), "cluster-b", {});
  a.Start(NodeId(1), "cluster-a", {{NodeId(2), "127.0.0.1:" + std::to_string(b.port)}});
  // The refusal ends the stream; the sender notices at its next write, as Raft sends every tick.
  ASSERT_TRUE(a.Poll([&] { a.transport->Send({Heartbeat(1, 2, 1)}); },
                     [&] { return !a.unreachable.empty(); }));
  std::lock_guard lock(b.mu);
  EXPECT_TRUE(b.received.empty());
  a.Shutdown();
  b.Shutdown();
}

TEST(GrpcTransport, DeadPeer_IsReportedUnreachable) {
  Endpoint a, b;
  b.Start(NodeId(2), "c1", {});
  a.Start(NodeId(1), "c1", {{NodeId(2), "127.0.0.1:" + std::to_string(b.port)}});
  a.transport->Send({Heartbeat(1, 2, 1)});
  ASSERT_TRUE(b.WaitFor([&] { return b.received.size() == 1; }));
  b.Shutdown();
  // Keep sending until the broken stream is noticed.
  ASSERT_TRUE(a.Poll([&] { a.transport->Send({Heartbeat(1, 2, 2)}); },
                     [&] { return !a.unreachable.empty(); }));
  EXPECT_EQ(a.unreachable[0], NodeId(2));
  a.Shutdown();
}

}  // namespace
}  // namespace strand::raft
