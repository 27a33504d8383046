#include "common/grpc_listener.h"

#include <fmt/format.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>
#include <grpcpp/impl/server_initializer.h>

#include "absl/strings/str_join.h"
#include "common/connection_limiter.h"
#include "common/grpc_channel.h"
#include "common/grpc_server.h"
#include "common/thread_name.h"
#include "common/tls_credentials.h"

namespace strand {
namespace {

// Answers every call for a service this listener does not carry.
class WrongPlane final : public grpc::CallbackGenericService {
 public:
  WrongPlane(const Endpoint& listener, unsigned planes)
      : listener_(listener.name), planes_(PlaneNames(planes)) {}

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    class Refusal final : public grpc::ServerGenericBidiReactor {
     public:
      explicit Refusal(grpc::Status status) { Finish(status); }
      void OnDone() override { delete this; }
    };
    return new Refusal(
        grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                     fmt::format("{} is not served on listener {}, which carries the {} plane (see "
                                 "docs/security.md)",
                                 ctx->method(), listener_, planes_)));
  }

 private:
  const std::string listener_;
  const std::string planes_;
};

// Records the names of the services a server was built with (gRPC keeps them to itself), so that
// health can answer for each by name.
class ServiceNamesPlugin final : public grpc::ServerBuilderPlugin {
 public:
  explicit ServiceNamesPlugin(std::vector<std::string>* out) : out_(out) {}
  std::string name() override { return "strand_service_names"; }
  void InitServer(grpc::ServerInitializer* si) override {
    if (const std::vector<std::string>* names = si->GetServiceList()) *out_ = *names;
  }
  void Finish(grpc::ServerInitializer*) override {}
  void ChangeArguments(const std::string&, void*) override {}
  bool has_async_methods() const override { return false; }
  bool has_sync_methods() const override { return false; }

 private:
  std::vector<std::string>* out_;
};

class ServiceNamesOption final : public grpc::ServerBuilderOption {
 public:
  explicit ServiceNamesOption(std::vector<std::string>* out) : out_(out) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->push_back(std::make_unique<ServiceNamesPlugin>(out_));
  }

 private:
  std::vector<std::string>* out_;
};

}  // namespace

struct ListenerServers::Server {
  Endpoint listener;
  unsigned planes = 0;
  int port = 0;
  WrongPlane wrong_plane;
  std::unique_ptr<LimitedAcceptor> acceptor;  // client listeners: accepts under the limits
  std::unique_ptr<grpc::Server> server;
  std::vector<std::string> services;  // full names of the services registered on it

  Server(const Endpoint& l, unsigned p) : listener(l), planes(p), wrong_plane(l, p) {}
};

void ConfigureClientListener(grpc::ServerBuilder& builder) {
  ConfigureKeepaliveServer(builder, kClientKeepaliveMs, kClientKeepaliveTimeoutMs,
                           kMinClientPingIntervalMs);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, kClientIdleMs);
}

void ConfigureInternalListener(grpc::ServerBuilder& builder) {
  ConfigureKeepaliveServer(builder, kInternalKeepaliveMs, kInternalKeepaliveMs,
                           kInternalKeepaliveMs);
}

absl::StatusOr<std::unique_ptr<ListenerServers>> ListenerServers::Start(
    const ListenerConfig& config, int request_bytes_max, const Register& add_services) {
  EnableServerConventions();
  std::unique_ptr<ListenerServers> out(new ListenerServers());
  out->limiter_ = std::make_shared<ConnectionLimiter>(config.connection_limits);
  for (const Endpoint& listener : config.listeners) {
    const unsigned planes = config.PlanesOf(listener.name);
    auto s = std::make_unique<Server>(listener, planes);
    grpc::ServerBuilder builder;
    // A controller's controller listener also serves operators' admin calls (the CLI, grpcurl).
    const bool applications =
        (planes & kClientPlane) || (config.controller_role && (planes & kControllerPlane));
    if (applications) {
      ConfigureClientListener(builder);
    } else {
      ConfigureInternalListener(builder);
    }
    if (planes == kClientPlane) {
      // What clients can make this server hold: threads for blocking handlers, buffer memory.
      grpc::ResourceQuota quota(fmt::format("strand-listener-{}", listener.name));
      quota.SetMaxThreads(static_cast<int>(config.connection_limits.threads_max));
      quota.Resize(static_cast<size_t>(config.connection_limits.memory_max_bytes));
      builder.SetResourceQuota(quota);
    }
    builder.SetMaxReceiveMessageSize(request_bytes_max);
    builder.SetMaxSendMessageSize(request_bytes_max);
    // Client-only listeners accept under the connection limits (common/connection_limiter.h);
    // the others let gRPC accept.
    std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> external;
    if (planes == kClientPlane) {
      auto acceptor = LimitedAcceptor::Bind(listener);
      if (!acceptor.ok()) {
        out->Shutdown(std::chrono::system_clock::now());
        return acceptor.status();
      }
      s->acceptor = *std::move(acceptor);
      s->port = s->acceptor->port();
      external = builder.experimental().AddExternalConnectionAcceptor(
          grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD,
          ServerCredentialsFor(config, listener));
    } else {
      const std::string bind =
          listener.host.empty() ? fmt::format("[::]:{}", listener.port) : listener.Address();
      builder.AddListeningPort(bind, ServerCredentialsFor(config, listener), &s->port);
    }
    add_services(listener, planes, builder);
    builder.SetOption(std::make_unique<ServiceNamesOption>(&s->services));
    builder.RegisterCallbackGenericService(&s->wrong_plane);
    s->server = builder.BuildAndStart();
    if (!s->server || s->port == 0) {
      out->Shutdown(std::chrono::system_clock::now());
      return absl::UnavailableError(
          fmt::format("cannot listen on {} (listener {}): address in use or not local",
                      listener.Address(), listener.name));
    }
    if (s->acceptor) s->acceptor->Start(std::move(external), out->limiter_);
    out->servers_.push_back(std::move(s));
    out->SetServing(false);
    out->SetProbes(false, true);
  }
  return out;
}

ListenerServers::~ListenerServers() { Shutdown(std::chrono::system_clock::now()); }

void ListenerServers::SetServing(bool serving) {
  for (auto& s : servers_) {
    if (!s->server) continue;
    grpc::HealthCheckServiceInterface* health = s->server->GetHealthCheckService();
    if (health == nullptr) continue;
    // By name: gRPC's SetServingStatus(bool) would set every name, the probes' too.
    health->SetServingStatus("", serving);
    for (const std::string& service : s->services) {
      // gRPC's own (health, reflection) answer whatever the process's state.
      if (service.rfind("grpc.", 0) != 0) health->SetServingStatus(service, serving);
    }
  }
}

void ListenerServers::WatchHealth(std::shared_ptr<ProcessHealth> health) {
  watcher_ = NamedThread("health-watch", [this, health = std::move(health)] {
    std::unique_lock lock(watch_mu_);
    while (!watch_stop_) {
      lock.unlock();
      SetProbes(health->Readiness().ok, health->Liveness().ok);
      lock.lock();
      watch_cv_.wait_for(lock, std::chrono::milliseconds(250), [this] { return watch_stop_; });
    }
  });
}

void ListenerServers::SetProbes(bool ready, bool live) {
  for (auto& s : servers_) {
    if (!s->server) continue;
    grpc::HealthCheckServiceInterface* health = s->server->GetHealthCheckService();
    if (health == nullptr) continue;
    health->SetServingStatus(std::string(kReadinessService), ready);
    health->SetServingStatus(std::string(kLivenessService), live);
  }
}

void ListenerServers::Shutdown(std::chrono::system_clock::time_point deadline) {
  {
    std::lock_guard lock(watch_mu_);
    watch_stop_ = true;
  }
  watch_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
  for (auto& s : servers_) {
    if (s->acceptor) s->acceptor->Stop();
  }
  for (auto& s : servers_) {
    if (s->server) s->server->Shutdown(deadline);
  }
  for (auto& s : servers_) {
    if (s->server) s->server->Wait();
    s->server.reset();
  }
}

ConnectionStats ListenerServers::Connections() const {
  return limiter_ ? limiter_->Stats() : ConnectionStats{};
}

int ListenerServers::BoundPort(const std::string& name) const {
  for (const auto& s : servers_) {
    if (s->listener.name == name) return s->port;
  }
  return 0;
}

std::string ListenerServers::Describe() const {
  std::vector<std::string> parts;
  for (const auto& s : servers_) {
    parts.push_back(fmt::format("{}://{}:{} ({}, {})", s->listener.name, s->listener.host, s->port,
                                PlaneNames(s->planes), SecurityProtocolName(s->listener.protocol)));
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace strand
