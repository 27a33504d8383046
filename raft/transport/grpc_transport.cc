#include "raft/transport/grpc_transport.h"

#include <chrono>
#include <deque>
#include <optional>

#include "common/grpc_callback_pin.h"
#include "common/grpc_channel.h"
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
  return InternalChannelArguments(keepalive_ms, kMaxMessageBytes);
}

void ConfigureRaftServer(grpc::ServerBuilder& builder, int keepalive_ms) {
  ConfigureKeepaliveServer(builder, keepalive_ms, keepalive_ms, keepalive_ms);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
}

// One destination: a bounded queue written to a long-lived client stream with gRPC's callback
// API. No thread of its own: the caller of Send starts a write when none is in flight, and each
// completed write starts the next, so a message costs no thread hand-off on the way out.
class GrpcTransport::Peer {
 public:
  Peer(GrpcTransport& transport, NodeId node, std::string address)
      : transport_(transport), node_(node), address_(std::move(address)) {
    const auto& o = transport_.options_;
    auto credentials = o.credentials ? o.credentials : grpc::InsecureChannelCredentials();
    stub_ = v1::RaftTransport::NewStub(grpc::CreateCustomChannel(
        address_, credentials, RaftChannelArguments(o.keepalive_ms)));
    backoff_ms_ = o.reconnect_backoff_min_ms;
  }
  ~Peer() { Stop(); }

  void Enqueue(Message m) {
    Stream* start = nullptr;
    {
      std::lock_guard lock(mu_);
      const auto& o = transport_.options_;
      const size_t bytes = m.SizeBytes();
      if (stopping_ || queue_.size() >= o.queue_messages_max ||
          queued_bytes_ + bytes > o.queue_bytes_max) {
        ++dropped_;
        return;
      }
      queued_bytes_ += bytes;
      queue_.push_back(std::move(m));
      if (stream_ == nullptr) {
        if (std::chrono::steady_clock::now() < next_attempt_) return;  // backing off
        stream_ = new Stream(*this);
        start = stream_;
      }
      if (!stream_->writing && !stream_->broken) {
        FillBatch(stream_);
        if (start == nullptr) start = stream_;
      } else {
        start = nullptr;
      }
    }
    if (start != nullptr) start->Begin();
  }

  void Stop() {
    std::unique_lock lock(mu_);
    stopping_ = true;
    if (stream_ != nullptr) stream_->context.TryCancel();
    cv_.wait(lock, [&] { return stream_ == nullptr; });
  }

  // The peer opened a stream to us: it is up, so stop backing off from it.
  void ResetBackoff() {
    std::lock_guard lock(mu_);
    backoff_ms_ = transport_.options_.reconnect_backoff_min_ms;
    next_attempt_ = std::chrono::steady_clock::time_point();
  }

  uint64_t sent() const { return sent_.load(); }
  uint64_t dropped() const {
    std::lock_guard lock(mu_);
    return dropped_;
  }
  uint64_t failures() const { return failures_.load(); }

 private:
  // One stream attempt. Deletes itself when the RPC is done.
  struct Stream final : public grpc::ClientWriteReactor<v1::MessageBatch> {
    explicit Stream(Peer& p) : peer(p) {}
    // Starts the RPC (first call only) and the write prepared in `batch`.
    void Begin() {
      if (!started) {
        started = true;
        peer.stub_->async()->Stream(&context, &summary, this);
        if (writing) StartWrite(&batch);
        StartCall();
        return;
      }
      if (writing) StartWrite(&batch);
    }
    void OnWriteDone(bool ok) override { peer.WriteDone(this, ok); }
    void OnDone(const grpc::Status& status) override { peer.StreamDone(this, status); }

    Peer& peer;
    grpc::ClientContext context;
    v1::StreamSummary summary;
    v1::MessageBatch batch;
    bool started = false;
    bool writing = false;  // a StartWrite is outstanding (guarded by peer.mu_)
    bool broken = false;
  };

  // Moves queued messages (up to the batch limit, at least one) into the stream's batch.
  void FillBatch(Stream* stream) {
    const auto& o = transport_.options_;
    stream->batch.Clear();
    stream->batch.set_cluster_id(o.cluster_id);
    stream->batch.set_from(o.self.value());
    stream->batch.set_from_address(transport_.self_address());
    size_t bytes = 0;
    while (!queue_.empty() &&
           (bytes == 0 || bytes + queue_.front().SizeBytes() <= o.batch_bytes_max)) {
      bytes += queue_.front().SizeBytes();
      queued_bytes_ -= queue_.front().SizeBytes();
      EncodeMessage(queue_.front(), stream->batch.add_messages());
      queue_.pop_front();
    }
    stream->writing = true;
  }

  void WriteDone(Stream* stream, bool ok) {
    bool more = false;
    {
      std::lock_guard lock(mu_);
      stream->writing = false;
      if (!ok) {
        stream->broken = true;  // the RPC ends; OnDone follows
        return;
      }
      sent_ += static_cast<uint64_t>(stream->batch.messages_size());
      backoff_ms_ = transport_.options_.reconnect_backoff_min_ms;
      if (!queue_.empty() && !stopping_) {
        FillBatch(stream);
        more = true;
      }
    }
    if (more) stream->StartWrite(&stream->batch);
  }

  void StreamDone(Stream* stream, const grpc::Status& status) {
    bool report = false;
    {
      std::lock_guard lock(mu_);
      if (stream_ == stream) stream_ = nullptr;
      if (!stopping_) {
        // The stream broke: what it carried and what is queued is lost. Tell the driver so the
        // leader re-sends from the peer's match index instead of waiting for a stall.
        ++failures_;
        dropped_ += queue_.size();
        queue_.clear();
        queued_bytes_ = 0;
        next_attempt_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(backoff_ms_);
        backoff_ms_ = std::min(backoff_ms_ * 2, transport_.options_.reconnect_backoff_max_ms);
        report = true;
      }
      cv_.notify_all();
    }
    if (report) {
      Log()->debug("[raft node={}] stream to node {} at {} ended: {}", transport_.options_.self,
                   node_, address_, status.error_message());
      if (transport_.on_unreachable_) transport_.on_unreachable_(node_);
    }
    delete stream;
  }

  GrpcTransport& transport_;
  const NodeId node_;
  const std::string address_;
  std::unique_ptr<v1::RaftTransport::Stub> stub_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Message> queue_;
  size_t queued_bytes_ = 0;
  uint64_t dropped_ = 0;
  bool stopping_ = false;
  Stream* stream_ = nullptr;  // the current attempt, if any
  std::chrono::steady_clock::time_point next_attempt_;
  int backoff_ms_ = 0;
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> failures_{0};
};

// The receiving side: reads batches from one sender's stream.
class GrpcTransport::Service final : public v1::RaftTransport::Service {
 public:
  explicit Service(GrpcTransport& transport) : transport_(transport) {}

  grpc::Status Stream(grpc::ServerContext* context, grpc::ServerReader<v1::MessageBatch>* reader,
                      v1::StreamSummary* summary) override {
    const auto& o = transport_.options_;
    v1::MessageBatch batch;
    uint64_t batches = 0;
    bool first_batch = true;
    std::optional<int64_t> authorized;  // the sender this stream was authorized as
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
      if (o.authorize_sender && (!authorized || *authorized != batch.from())) {
        if (grpc::Status s = o.authorize_sender(*context, NodeId(batch.from())); !s.ok()) {
          // A misconfigured peer retries every few hundred ms: log once per 10 s.
          const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
          auto last = transport_.last_refusal_log_.load();
          if (now - last > 10'000'000'000LL &&
              transport_.last_refusal_log_.compare_exchange_strong(last, now)) {
            Log()->warn("[raft node={}] refused a stream from {} claiming node {}: {} ({} refused "
                        "in all)",
                        o.self, context->peer(), batch.from(), s.error_message(),
                        transport_.refused_streams_.load() + 1);
          }
          transport_.refused_streams_++;
          summary->set_error(s.error_message());
          return s;
        }
        authorized = batch.from();
      }
      if (!batch.from_address().empty()) {
        transport_.LearnAddress(NodeId(batch.from()), batch.from_address());
      }
      if (std::exchange(first_batch, false)) transport_.HeardFrom(NodeId(batch.from()));
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
      self_address_(options_.self_address) {
  PinGrpcCallbackQueue();
}

void GrpcTransport::SetSelfAddress(std::string address) {
  std::lock_guard lock(address_mu_);
  self_address_ = std::move(address);
}

std::string GrpcTransport::self_address() const {
  std::lock_guard lock(address_mu_);
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
    if (options_.accept_learned_address && !options_.accept_learned_address(node, address)) {
      ++refused_addresses_;
      return;
    }
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

void GrpcTransport::HeardFrom(NodeId node) {
  std::lock_guard lock(mu_);
  auto it = peers_.find(node);
  if (it != peers_.end()) it->second->ResetBackoff();
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
