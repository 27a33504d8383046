#include "tools/metrics_http.h"

#include <sys/statvfs.h>

#include <cstring>
#include <vector>

#include <civetweb.h>
#include <fmt/format.h>
#include <prometheus/collectable.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace strand::server {

namespace {

// The data directory's file system, measured at each scrape (statvfs is cheap): what the disk
// alert divides. Unprivileged free space (f_bavail), as `df` shows it.
class DiskSpace final : public prometheus::Collectable {
 public:
  explicit DiskSpace(std::string dir) : dir_(std::move(dir)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    struct statvfs s {};
    if (statvfs(dir_.c_str(), &s) != 0) return {};
    const double block = static_cast<double>(s.f_frsize);
    auto family = [&](const char* name, const char* help, double value) {
      prometheus::MetricFamily f;
      f.name = name;
      f.help = help;
      f.type = prometheus::MetricType::Gauge;
      prometheus::ClientMetric m;
      m.label.push_back({"dir", dir_});
      m.gauge.value = value;
      f.metric.push_back(std::move(m));
      return f;
    };
    return {family("strand_storage_log_dir_free_bytes",
                   "Bytes free to this process on the data directory's file system",
                   block * static_cast<double>(s.f_bavail)),
            family("strand_storage_log_dir_size_bytes",
                   "Size of the data directory's file system in bytes",
                   block * static_cast<double>(s.f_blocks))};
  }

 private:
  const std::string dir_;
};

void Respond(mg_connection* conn, int status, const char* type, const std::string& body) {
  mg_response_header_start(conn, status);
  mg_response_header_add(conn, "Content-Type", type, -1);
  const std::string length = std::to_string(body.size());
  mg_response_header_add(conn, "Content-Length", length.c_str(), -1);
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  mg_response_header_send(conn);
  const mg_request_info* request = mg_get_request_info(conn);
  if (request != nullptr && std::strcmp(request->request_method, "HEAD") == 0) return;
  mg_write(conn, body.data(), body.size());
}

}  // namespace

struct MetricsHttp::State {
  std::shared_ptr<prometheus::Registry> registry;
  std::shared_ptr<ProcessHealth> health;
  DiskSpace disk;
  mg_context* ctx = nullptr;

  State(std::shared_ptr<prometheus::Registry> r, std::shared_ptr<ProcessHealth> h,
        const std::string& dir)
      : registry(std::move(r)), health(std::move(h)), disk(dir) {}

  static int Handle(mg_connection* conn, void* data) {
    const State& self = *static_cast<const State*>(data);
    const mg_request_info* request = mg_get_request_info(conn);
    const std::string method = request->request_method;
    if (method != "GET" && method != "HEAD") {
      Respond(conn, 405, "text/plain; charset=utf-8", method + " is not served; use GET\n");
      return 405;
    }
    const std::string path = request->local_uri != nullptr ? request->local_uri : "";
    if (path == "/metrics") {
      std::vector<prometheus::MetricFamily> families = self.registry->Collect();
      for (auto& f : self.disk.Collect()) families.push_back(std::move(f));
      Respond(conn, 200, "text/plain; version=0.0.4; charset=utf-8",
              prometheus::TextSerializer().Serialize(families));
      return 200;
    }
    if (path == "/healthz" || path == "/readyz") {
      const ProcessHealth::Report r =
          path == "/healthz" ? self.health->Liveness() : self.health->Readiness();
      const int status = r.ok ? 200 : 503;
      std::string body = r.ok ? (path == "/healthz" ? "ok" : "ready") : "not ready: " + r.reason;
      if (!r.ok && path == "/healthz") body = "not live: " + r.reason;
      if (r.ok && !r.reason.empty()) body += " (" + r.reason + ")";
      Respond(conn, status, "text/plain; charset=utf-8", body + "\n");
      return status;
    }
    Respond(conn, 404, "text/plain; charset=utf-8",
            path + " not found: /metrics, /healthz and /readyz are served here\n");
    return 404;
  }
};

absl::StatusOr<std::unique_ptr<MetricsHttp>> MetricsHttp::Start(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry,
    std::shared_ptr<ProcessHealth> health, const std::string& data_dir) {
  std::unique_ptr<MetricsHttp> out(new MetricsHttp());
  out->state_ = std::make_unique<State>(std::move(registry), std::move(health), data_dir);
  mg_init_library(0);
  // No document_root: civetweb serves the handler below and never a file.
  const char* options[] = {"listening_ports", address.c_str(), "num_threads", "4", nullptr};
  mg_callbacks callbacks{};
  mg_init_data init{&callbacks, nullptr, options};
  char text[256] = {};
  unsigned code = 0;
  mg_error_data error{&code, text, sizeof(text)};
  out->state_->ctx = mg_start2(&init, &error);
  if (out->state_->ctx == nullptr) {
    return absl::UnavailableError(fmt::format("cannot serve HTTP on {}: {}", address,
                                              text[0] != '\0' ? text : "civetweb failed"));
  }
  mg_set_request_handler(out->state_->ctx, "/", &State::Handle, out->state_.get());
  return out;
}

MetricsHttp::~MetricsHttp() {
  if (state_ && state_->ctx != nullptr) mg_stop(state_->ctx);
}

int MetricsHttp::port() const {
  mg_server_port ports[4] = {};
  const int n = mg_get_server_ports(state_->ctx, 4, ports);
  return n > 0 ? ports[0].port : 0;
}

}  // namespace strand::server
