#include "raft/transport/grpc_transport.h"

#include <chrono>
#include <deque>

#include "common/logging.h"
#include "proto/raft/v1/raft.grpc.pb.h"
#include "raft/transport/message_codec.h"

namespace strand::raft {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static auto logger = GetLogger("raft.transport");
  return logger;
}

constexpr int kMaxMessageBytes = 64 << 20;

}  // namespace

grpc::ChannelArguments RaftChannelArguments(int keepalive_ms) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_ms);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, keepalive_ms);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, kMaxMessageBytes);
  args.SetInt(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, kMaxMessageBytes);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return args;
}

void ConfigureRaftServer(grpc::ServerBuilder& builder, int keepalive_ms) {
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             keepalive_ms / 2);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, keepalive_ms);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
}

// One destination: a bounded queue drained by a sender thread over a client stream.
class GrpcTransport::Peer {
 public:
  Peer(GrpcTransport& transport, NodeId node, std::string address)
      : transport_(transport), node_(node), address_(std::move(address)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Peer() { Stop(); }

  void Enqueue(Message m) {
    std::lock_guard lock(mu_);
    const size_t bytes = m.SizeBytes();
    const auto& o = transport_.options_;
    if (queue_.size() >= o.queue_messages_max || queued_bytes_ + bytes > o.queue_bytes_max) {
      ++dropped_;
      return;
    }
    queued_bytes_ += bytes;
    queue_.push_back(std::move(m));
    cv_.notify_one();
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      if (context_) context_->TryCancel();
      cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
  }

  const std::string& address() const { return address_; }
  uint64_t sent() const { return sent_.load(); }
  uint64_t dropped() const {
    std::lock_guard lock(mu_);
    return dropped_;
  }
  uint64_t failures() const { return failures_.load(); }

 private:
  // Takes queued messages up to the batch limit (at least one). Blocks until there are some.
  bool TakeBatch(v1::MessageBatch* batch) {
    if (self_address_.empty()) self_address_ = transport_.self_address();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return false;
    const auto& o = transport_.options_;
    batch->set_cluster_id(o.cluster_id);
    batch->set_from(o.self.value());
    batch->set_from_address(self_address_);
    size_t bytes = 0;
    while (!queue_.empty() &&
           (bytes == 0 || bytes + queue_.front().SizeBytes() <= o.batch_bytes_max)) {
      bytes += queue_.front().SizeBytes();
      queued_bytes_ -= queue_.front().SizeBytes();
      EncodeMessage(queue_.front(), batch->add_messages());
      queue_.pop_front();
    }
    return true;
  }

  void DropQueue() {
    std::lock_guard lock(mu_);
    dropped_ += queue_.size();
    queue_.clear();
    queued_bytes_ = 0;
  }

  void Run();

  GrpcTransport& transport_;
  const NodeId node_;
  const std::string address_;
  std::string self_address_;  // sender thread only
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Message> queue_;
  size_t queued_bytes_ = 0;
  uint64_t dropped_ = 0;
  bool stopping_ = false;
  std::shared_ptr<grpc::ClientContext> context_;  // guarded by mu_ (for cancellation)
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> failures_{0};
  std::thread thread_;
};

void GrpcTransport::Peer::Run() {
  const auto& o = transport_.options_;
  auto credentials = o.credentials ? o.credentials : grpc::InsecureChannelCredentials();
  auto channel =
      grpc::CreateCustomChannel(address_, credentials, RaftChannelArguments(o.keepalive_ms));
  auto stub = v1::RaftTransport::NewStub(channel);
  int backoff_ms = o.reconnect_backoff_min_ms;
  v1::MessageBatch batch;
  while (true) {
    auto context = std::make_shared<grpc::ClientContext>();
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      context_ = context;
    }
    v1::StreamSummary summary;
    auto writer = stub->Stream(context.get(), &summary);
    bool healthy = true;
    while (healthy) {
      batch.Clear();
      if (!TakeBatch(&batch)) break;  // stopping
      if (writer->Write(batch)) {
        sent_ += static_cast<uint64_t>(batch.messages_size());
        backoff_ms = o.reconnect_backoff_min_ms;
      } else {
        healthy = false;
      }
    }
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    {
      std::lock_guard lock(mu_);
      context_.reset();
      if (stopping_) return;
    }
    // The stream broke: what it carried and what is queued is lost. Tell the driver so the
    // leader re-sends from the peer's match index instead of waiting for a stall.
    ++failures_;
    DropQueue();
    Log()->debug("[raft node={}] stream to node {} at {} failed: {}", o.self, node_, address_,
                 status.error_message());
    if (transport_.on_unreachable_) transport_.on_unreachable_(node_);
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_; });
    backoff_ms = std::min(backoff_ms * 2, o.reconnect_backoff_max_ms);
  }
}

// The receiving side: reads batches from one sender's stream.
class GrpcTransport::Service final : public v1::RaftTransport::Service {
 public:
  explicit Service(GrpcTransport& transport) : transport_(transport) {}

  grpc::Status Stream(grpc::ServerContext* context, grpc::ServerReader<v1::MessageBatch>* reader,
                      v1::StreamSummary* summary) override {
    const auto& o = transport_.options_;
    v1::MessageBatch batch;
    uint64_t batches = 0;
    while (reader->Read(&batch)) {
      if (batch.cluster_id() != o.cluster_id) {
        summary->set_error("cluster id mismatch");
        Log()->warn(
            "[raft node={}] refused a stream from node {} ({}): cluster id '{}' is not "
            "'{}'",
            o.self, batch.from(), context->peer(), batch.cluster_id(), o.cluster_id);
        return grpc::Status(
            grpc::StatusCode::FAILED_PRECONDITION,
            "cluster id mismatch: this node belongs to cluster '" + o.cluster_id + "'");
      }
      if (!batch.from_address().empty()) {
        transport_.LearnAddress(NodeId(batch.from()), batch.from_address());
      }
      for (const v1::Message& pm : batch.messages()) {
        auto m = DecodeMessage(pm);
        if (!m.ok()) {
          Log()->warn("[raft node={}] dropped a malformed message from node {}: {}", o.self,
                      batch.from(), m.status().ToString());
          continue;
        }
        if (m->to != o.self || m->from != NodeId(batch.from())) continue;
        transport_.OnReceived(*std::move(m));
      }
      ++batches;
    }
    summary->set_batches(batches);
    return grpc::Status::OK;
  }

 private:
  GrpcTransport& transport_;
};

GrpcTransport::GrpcTransport(GrpcTransportOptions options, MessageSink on_message,
                             UnreachableSink on_unreachable)
    : options_(std::move(options)),
      on_message_(std::move(on_message)),
      on_unreachable_(std::move(on_unreachable)),
      service_(std::make_unique<Service>(*this)),
      addresses_(options_.peers),
      self_address_(options_.self_address) {}

void GrpcTransport::SetSelfAddress(std::string address) {
  std::lock_guard lock(mu_);
  self_address_ = std::move(address);
}

std::string GrpcTransport::self_address() const {
  std::lock_guard lock(mu_);
  return self_address_;
}

GrpcTransport::~GrpcTransport() { Stop(); }

grpc::Service* GrpcTransport::service() { return service_.get(); }

void GrpcTransport::Stop() {
  std::map<NodeId, std::unique_ptr<Peer>> peers;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    peers.swap(peers_);
  }
  for (auto& [id, peer] : peers) peer->Stop();
}

GrpcTransport::Peer* GrpcTransport::FindOrCreatePeer(NodeId node) {
  auto it = peers_.find(node);
  if (it != peers_.end()) return it->second.get();
  auto addr = addresses_.find(node);
  if (addr == addresses_.end() || stopped_) return nullptr;
  auto peer = std::make_unique<Peer>(*this, node, addr->second);
  Peer* raw = peer.get();
  peers_.emplace(node, std::move(peer));
  return raw;
}

void GrpcTransport::Send(std::vector<Message> messages) {
  std::lock_guard lock(mu_);
  for (Message& m : messages) {
    Peer* peer = FindOrCreatePeer(m.to);
    if (peer == nullptr) {
      ++dropped_unknown_;
      continue;
    }
    peer->Enqueue(std::move(m));
  }
}

void GrpcTransport::LearnAddress(NodeId node, const std::string& address) {
  std::unique_ptr<Peer> replaced;
  {
    std::lock_guard lock(mu_);
    if (node == options_.self || options_.peers.count(node)) return;  // configured peers win
    auto it = addresses_.find(node);
    if (it != addresses_.end() && it->second == address) return;
    if (it == addresses_.end() &&
        addresses_.size() >= options_.peers.size() + options_.dynamic_peers_max) {
      return;
    }
    addresses_[node] = address;
    auto peer = peers_.find(node);
    if (peer != peers_.end()) {  // the observer moved: reconnect to its new address
      replaced = std::move(peer->second);
      peers_.erase(peer);
    }
  }
  Log()->info("[raft node={}] node {} is reachable at {}", options_.self, node, address);
  if (replaced) replaced->Stop();
}

void GrpcTransport::OnReceived(Message m) {
  ++received_;
  on_message_(std::move(m));
}

GrpcTransport::Stats GrpcTransport::stats() const {
  std::lock_guard lock(mu_);
  Stats s;
  s.messages_received = received_.load();
  s.messages_dropped = dropped_unknown_.load();
  for (const auto& [id, peer] : peers_) {
    s.messages_sent += peer->sent();
    s.messages_dropped += peer->dropped();
    s.stream_failures += peer->failures();
  }
  return s;
}

}  // namespace strand::raft
