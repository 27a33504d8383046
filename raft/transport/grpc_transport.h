#pragma once

// GrpcTransport: Raft messages over gRPC (proto/raft/v1/raft.proto).
//
// Sending: one Peer per destination, each with a bounded queue written to a long-lived client
// stream through gRPC's callback API (no sender thread: Send starts a write when none is in
// flight, each finished write starts the next with what queued up meanwhile, so messages batch
// naturally). When the stream breaks, queued messages are discarded (Raft re-sends what
// matters), the driver is told the peer is unreachable, and the next Send after an exponential
// backoff opens a new stream.
// Channel keepalive detects a peer that stopped answering (crashed host, SIGSTOP).
//
// Receiving: service() is registered on the process's gRPC server; each incoming stream is read
// on a gRPC server thread and every decoded message goes to the MessageSink. A batch header
// carries the sender's address, which is how a leader learns where to reach observers (brokers)
// that were never configured. Streams from another cluster id are refused.
//
// Thread-safe. Owned by the process alongside the driver; Stop() (or the destructor) joins all
// sender threads.

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "raft/transport/transport.h"

namespace strand::raft {

struct GrpcTransportOptions {
  std::string cluster_id;
  NodeId self = kNoNode;
  std::string self_address;                               // where peers reach this node (host:port)
  std::map<NodeId, std::string> peers;                    // statically known peers (the voters)
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // insecure when null
  size_t queue_messages_max = 16'384;  // per peer; beyond this new messages are dropped
  size_t queue_bytes_max = 64 << 20;   // per peer
  size_t batch_bytes_max = 4 << 20;    // one stream write (a larger message goes alone)
  int reconnect_backoff_min_ms = 20;
  int reconnect_backoff_max_ms = 1'000;
  int keepalive_ms = 1'000;          // ping interval on idle connections
  size_t dynamic_peers_max = 4'096;  // observers learned from incoming streams
  // Whether an address an incoming stream claims for a node outside `peers` may be used to
  // reach it (anyone can open a stream and claim any id and address). Null: every claim is
  // believed (tests, raft-node). Controllers accept a broker's address only when its
  // registration lists it; brokers, which need no address but the voters', accept none.
  std::function<bool(NodeId node, const std::string& address)> accept_learned_address;
  // Whether the caller of an incoming stream may send as node `from` (its TLS principal must be
  // that node, common/node_guard.h); a refused stream is closed with this status. Null: any.
  std::function<grpc::Status(const grpc::ServerContext& context, NodeId from)> authorize_sender;
};

class GrpcTransport final : public Transport {
 public:
  GrpcTransport(GrpcTransportOptions options, MessageSink on_message,
                UnreachableSink on_unreachable);
  ~GrpcTransport() override;

  // The receiving side, to register on the process's grpc::ServerBuilder.
  grpc::Service* service();
  // The address peers should use to reach this node, when only known once the server has bound
  // its port (options.self_address otherwise).
  void SetSelfAddress(std::string address);
  void Send(std::vector<Message> messages) override;
  void Stop();

  // Counters for the probe (monotonic).
  struct Stats {
    uint64_t messages_sent = 0;
    uint64_t messages_dropped = 0;
    uint64_t messages_received = 0;
    uint64_t stream_failures = 0;
  };
  Stats stats() const;

 private:
  class Peer;
  class Service;

  Peer* FindOrCreatePeer(NodeId node);
  void LearnAddress(NodeId node, const std::string& address);
  void HeardFrom(NodeId node);  // a new incoming stream: the node is up
  void OnReceived(Message m);
  std::string self_address() const;

  const GrpcTransportOptions options_;
  const MessageSink on_message_;
  const UnreachableSink on_unreachable_;
  std::unique_ptr<Service> service_;
  mutable std::mutex mu_;
  std::map<NodeId, std::string> addresses_;
  mutable std::mutex address_mu_;  // only for self_address_ (read while mu_ is held)
  std::string self_address_;
  std::map<NodeId, std::unique_ptr<Peer>> peers_;
  bool stopped_ = false;
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> dropped_unknown_{0};
  std::atomic<uint64_t> refused_streams_{0};   // refused by options_.authorize_sender
  std::atomic<int64_t> last_refusal_log_{0};   // steady clock ns of the last one logged
  uint64_t refused_addresses_ = 0;  // guarded by mu_
};

// Raft's channel arguments: common/grpc_channel.h's, with Raft's keepalive and message limit.
grpc::ChannelArguments RaftChannelArguments(int keepalive_ms);

// The matching server settings: accept the clients' keepalive pings (gRPC otherwise answers
// frequent pings with GOAWAY "too_many_pings") and the same message size limit.
void ConfigureRaftServer(grpc::ServerBuilder& builder, int keepalive_ms = 1'000);

}  // namespace strand::raft
