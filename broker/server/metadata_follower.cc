#include "broker/server/metadata_follower.h"

#include <fmt/format.h>

#include "common/logging.h"
#include "raft/driver/raft_driver.h"
#include "raft/storage/rocksdb_storage.h"
#include "raft/transport/grpc_transport.h"

namespace strand::broker {
namespace {

namespace cv1 = controller::v1;

// Drops every outgoing message while the fault switch is on.
class GatedTransport final : public raft::Transport {
 public:
  GatedTransport(raft::Transport& inner, std::function<bool()> closed)
      : inner_(inner), closed_(std::move(closed)) {}
  void Send(std::vector<raft::Message> messages) override {
    if (closed_ && closed_()) return;
    inner_.Send(std::move(messages));
  }

 private:
  raft::Transport& inner_;
  const std::function<bool()> closed_;
};

}  // namespace

MetadataFollower::MetadataFollower(MetadataFollowerOptions options)
    : options_(std::move(options)) {}

MetadataFollower::~MetadataFollower() { Stop(); }

absl::StatusOr<std::unique_ptr<MetadataFollower>> MetadataFollower::Create(
    MetadataFollowerOptions options) {
  if (options.voters.count(options.self)) {
    return absl::InvalidArgumentError(
        fmt::format("node {} is a controller; a broker needs its own node id", options.self));
  }
  std::unique_ptr<MetadataFollower> f(new MetadataFollower(std::move(options)));
  const MetadataFollowerOptions& o = f->options_;
  auto storage = raft::RocksDbStorage::Open(o.data_dir + "/metadata");
  if (!storage.ok()) return storage.status();
  f->storage_ = *std::move(storage);

  raft::Config config;
  config.id = o.self;
  config.observer = true;
  for (const auto& [id, address] : o.voters) config.voters.push_back(id);
  config.snapshot_interval_entries = o.snapshot_interval_entries;
  config.snapshot_trailing_entries = o.snapshot_trailing_entries;
  raft::DriverOptions driver_options;
  driver_options.tick_ms = o.tick_ms;
  f->driver_ = std::make_unique<raft::RaftDriver>(config, driver_options, *f->storage_, f->machine_,
                                                  o.registry);

  raft::GrpcTransportOptions t;
  t.cluster_id = o.cluster_id;
  t.self = o.self;
  t.self_address = o.self_address;
  t.peers = o.voters;
  // The controllers are the only peers a broker's metadata log talks to.
  t.accept_learned_address = [](NodeId, const std::string&) { return false; };
  t.credentials = o.credentials;
  t.authorize_sender = o.authorize_sender;
  raft::RaftDriver* driver = f->driver_.get();
  auto isolated = o.isolated;
  f->transport_ = std::make_unique<raft::GrpcTransport>(
      t,
      [driver, isolated](raft::Message m) {
        if (isolated && isolated()) return;
        driver->Deliver(std::move(m));
      },
      [driver](NodeId n) { driver->ReportUnreachable(n); });
  f->gate_ = std::make_unique<GatedTransport>(*f->transport_, isolated);
  f->driver_->SetTransport(f->gate_.get());

  MetadataFollower* self = f.get();
  f->machine_.SetApplyListener([self](const controller::MetadataDelta& delta, uint64_t offset) {
    self->offset_.store(offset, std::memory_order_release);
    if (self->listener_) self->listener_(delta, offset);
  });
  f->machine_.SetRestoreListener([self](uint64_t offset) {
    self->offset_.store(offset, std::memory_order_release);
    controller::MetadataDelta everything;
    everything.snapshot = true;
    if (self->listener_) self->listener_(everything, offset);
  });
  return f;
}

std::unique_ptr<MetadataFollower> MetadataFollower::CreateLocal(LocalMetadata source) {
  std::unique_ptr<MetadataFollower> f(new MetadataFollower(MetadataFollowerOptions{}));
  f->source_ = source.machine;
  f->local_ = std::move(source);
  return f;
}

grpc::Service* MetadataFollower::service() { return transport_ ? transport_->service() : nullptr; }

absl::Status MetadataFollower::Start() {
  if (local_.machine != nullptr) {
    // Subscribed first, so that no batch falls between the subscription and the whole-image
    // pass below (a batch seen twice is harmless: the listener reconciles to the image).
    local_.subscribe(
        [this](const controller::MetadataDelta& delta, uint64_t offset) {
          offset_.store(offset, std::memory_order_release);
          if (listener_) listener_(delta, offset);
        },
        [this](uint64_t offset) {
          offset_.store(offset, std::memory_order_release);
          controller::MetadataDelta everything;
          everything.snapshot = true;
          if (listener_) listener_(everything, offset);
        });
  } else if (absl::Status s = driver_->Start(); !s.ok()) {
    return s;
  }
  started_ = true;
  // Whatever the local log already held was applied during Start: make sure the listener
  // looks at the whole image once even if no snapshot was restored.
  const uint64_t offset =
      source_->Read([](const controller::MetadataImage& i) { return i.offset(); });
  offset_.store(offset, std::memory_order_release);
  controller::MetadataDelta everything;
  everything.snapshot = true;
  if (listener_) listener_(everything, offset);
  return absl::OkStatus();
}

void MetadataFollower::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (local_.subscribe && started_) local_.subscribe(nullptr, nullptr);  // waits out a callback
  if (driver_ && started_) driver_->Stop();
  if (transport_) transport_->Stop();
}

}  // namespace strand::broker
