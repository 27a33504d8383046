#include "tools/drill/drill.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include "client/common/broker_channels.h"
#include "client/consumer/fetch_decoder.h"
#include "proto/broker/v1/broker.grpc.pb.h"

namespace strand::drill {
namespace {

using namespace std::chrono_literals;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
double Round1(double v) { return std::round(v * 10) / 10; }

WindowStats Stats(std::vector<double> v) {
  WindowStats s;
  if (v.empty()) return s;
  if (std::any_of(v.begin(), v.end(), [](double x) { return x < 0; })) {
    s.p50 = s.p99 = s.max = -1;  // a fault after which the service never came back
    return s;
  }
  std::sort(v.begin(), v.end());
  auto at = [&](double p) {
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
  };
  s.p50 = at(0.5);
  s.p99 = at(0.99);
  s.max = v.back();
  return s;
}

std::string Window(double ms) { return ms < 0 ? "never" : fmt::format("{:.0f} ms", ms); }

// The acknowledgement log, read back: one AckedRecord per line.
std::vector<AckedRecord> ReadAckLog(const std::string& path) {
  std::vector<AckedRecord> out;
  std::ifstream in(path);
  AckedRecord r;
  while (in >> r.partition >> r.offset >> r.value) out.push_back(r);
  return out;
}

// Reads one replica of a partition up to its high watermark, from `address` (the broker's client
// listener; a rack id lets a follower serve the read itself, KIP-392).
absl::StatusOr<std::vector<StoredRecord>> ReadReplica(
    const std::shared_ptr<grpc::ChannelCredentials>& credentials, const std::string& address,
    const std::string& topic, int32_t partition) {
  auto stub = broker::v1::BrokerService::NewStub(grpc::CreateChannel(address, credentials));
  const auto name = std::make_shared<const std::string>(topic);
  std::vector<StoredRecord> out;
  int64_t offset = 0;
  for (int round = 0; round < 1'000'000; ++round) {
    broker::v1::FetchRequest req;
    req.set_replica_id(-1);
    req.set_max_wait_ms(0);
    req.set_min_bytes(1);
    req.set_max_bytes(8 << 20);
    req.set_rack_id("strand-drill");
    auto* t = req.add_topics();
    t->set_topic(topic);
    auto* p = t->add_partitions();
    p->set_partition(partition);
    p->set_fetch_offset(offset);
    p->set_current_leader_epoch(-1);
    p->set_partition_max_bytes(4 << 20);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    broker::v1::FetchResponse resp;
    grpc::Status s = stub->Fetch(&ctx, req, &resp);
    if (!s.ok()) return absl::UnavailableError(fmt::format("{}: {}", address, s.error_message()));
    if (resp.topics_size() != 1 || resp.topics(0).partitions_size() != 1) {
      return absl::InternalError("a fetch answer without the partition");
    }
    const auto& r = resp.topics(0).partitions(0);
    if (r.error().code() != 0) {
      return absl::FailedPreconditionError(
          fmt::format("{}: {}", r.error().name(), r.error().message()));
    }
    if (r.preferred_read_replica() >= 0) {
      return absl::FailedPreconditionError("redirected to another replica");
    }
    const int64_t high_watermark = r.high_watermark();
    auto decoded = client::DecodeFetchedRecords(
        std::make_shared<const std::string>(
            std::move(*resp.mutable_topics(0)->mutable_partitions(0)->mutable_records())),
        name, partition, offset, /*check_crcs=*/true);
    if (!decoded.ok()) return decoded.status();
    for (const auto& record : decoded->records) {
      out.push_back(StoredRecord{record.offset(), std::string(record.value().value_or(""))});
    }
    // Nothing complete came back, or the copy is read to its high watermark.
    if (decoded->next_fetch_offset <= offset) break;
    offset = decoded->next_fetch_offset;
    if (offset >= high_watermark) break;
  }
  return out;
}

std::string StateName(admin::v1::BrokerState s) { return admin::v1::BrokerState_Name(s); }

// GET http://ADDRESS/metrics (plain HTTP/1.0, as Prometheus scrapes it).
absl::StatusOr<std::string> ScrapeMetrics(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return absl::InvalidArgumentError("no port in " + address);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(address.substr(0, colon).c_str(), address.substr(colon + 1).c_str(), &hints,
                    &found) != 0 ||
      found == nullptr) {
    return absl::UnavailableError("cannot resolve " + address);
  }
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval timeout{5, 0};
  bool connected = fd >= 0 &&
                   ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) == 0 &&
                   ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) == 0 &&
                   ::connect(fd, found->ai_addr, found->ai_addrlen) == 0;
  ::freeaddrinfo(found);
  std::string body;
  if (connected) {
    const std::string request = "GET /metrics HTTP/1.0\r\nHost: " + address + "\r\n\r\n";
    connected = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(request.size());
    char buffer[16384];
    ssize_t n;
    while (connected && (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) {
      body.append(buffer, static_cast<size_t>(n));
    }
  }
  if (fd >= 0) ::close(fd);
  if (!connected) return absl::UnavailableError("cannot scrape " + address);
  const size_t start = body.find("\r\n\r\n");
  if (body.rfind("HTTP/1.", 0) != 0 || start == std::string::npos) {
    return absl::UnavailableError("not an HTTP answer from " + address);
  }
  return body.substr(start + 4);
}

// How long the preflight waits for any broker to answer at all.
constexpr int64_t kReachableMs = 10'000;

// OK once any bootstrap address answers DescribeCluster (even with an error of its own); an
// error when none answers within kReachableMs: a name that does not resolve from here, a cluster
// that is down. Without it, the first calls' retries would take minutes to say the same.
absl::Status CheckReachable(const std::string& bootstrap,
                            const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  client::AdminClientOptions options;
  options.api_timeout_ms = kReachableMs;
  options.request_timeout_ms = kReachableMs / 2;
  options.connect_timeout_ms = kReachableMs / 2;
  auto admin = client::AdminClient::Create(bootstrap, options, credentials);
  if (!admin.ok()) return admin.status();
  auto cluster = (*admin)->DescribeCluster();
  if (cluster.ok() || !client::IsUnreachable(cluster.status())) return absl::OkStatus();
  return absl::UnavailableError(fmt::format("no broker answered within {} s ({}): {}",
                                            kReachableMs / 1000, bootstrap,
                                            std::string(cluster.status().message())));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// DrillContext

size_t DrillContext::Begin(std::string name, int node) {
  FaultRecord f;
  f.name = std::move(name);
  f.node = node;
  f.at = Clock::now();
  faults.push_back(std::move(f));
  SetPhase(faults.back().name);
  return faults.size() - 1;
}

void DrillContext::Effect(size_t fault, bool took_effect, std::string effect) {
  faults[fault].took_effect = took_effect;
  faults[fault].effect = std::move(effect);
}

void DrillContext::Held(size_t fault) {
  faults[fault].held_ms = Ms(Clock::now() - faults[fault].at);
}

void DrillContext::SetPhase(std::string phase) {
  std::lock_guard lock(mu_);
  phase_ = std::move(phase);
}

std::string DrillContext::phase() const {
  std::lock_guard lock(mu_);
  return phase_;
}

absl::StatusOr<admin::v1::PartitionInfo> DrillContext::Partition(int32_t partition) {
  admin::v1::DescribeTopicsRequest req;
  req.add_names(topic);
  auto resp = admin.DescribeTopics(req);
  if (!resp.ok()) return resp.status();
  for (const auto& t : resp->topics()) {
    for (const auto& p : t.partitions()) {
      if (p.partition() == partition) return p;
    }
  }
  return absl::NotFoundError(fmt::format("{} has no partition {}", topic, partition));
}

absl::StatusOr<admin::v1::DescribeClusterResponse> DrillContext::Cluster() {
  return admin.DescribeCluster({});
}

absl::StatusOr<int> DrillContext::ActiveController() {
  auto c = Cluster();
  if (!c.ok()) return c.status();
  return c->active_controller();
}

bool DrillContext::Wait(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return condition();
}

absl::Status DrillContext::WaitHealthy() {
  std::string missing;
  const bool healthy = Wait(
      [&] {
        for (const Node& n : target.nodes()) {
          if (!target.Running(n.id)) {
            missing = fmt::format("node {} is not running", n.id);
            return false;
          }
        }
        auto c = Cluster();
        if (!c.ok()) {
          missing =
              fmt::format("no answer to DescribeCluster: {}", std::string(c.status().message()));
          return false;
        }
        if (c->active_controller() < 0) {
          missing = "no active controller";
          return false;
        }
        for (const Node& n : target.nodes()) {
          if (n.role != Role::kBroker) continue;
          auto b = std::find_if(c->brokers().begin(), c->brokers().end(),
                                [&](const auto& info) { return info.id() == n.id; });
          if (b == c->brokers().end() || b->state() != admin::v1::RUNNING) {
            missing =
                fmt::format("broker {} is {}", n.id,
                            b == c->brokers().end() ? "not registered" : StateName(b->state()));
            return false;
          }
        }
        admin::v1::DescribeTopicsRequest req;
        req.add_names(topic);
        auto t = admin.DescribeTopics(req);
        if (!t.ok() || t->topics_size() != 1) {
          missing = "no answer to DescribeTopics";
          return false;
        }
        for (const auto& p : t->topics(0).partitions()) {
          if (p.leader() < 0 || p.isr_size() != p.replicas_size()) {
            missing = fmt::format("partition {} has leader {} and ISR of {} of {} replicas",
                                  p.partition(), p.leader(), p.isr_size(), p.replicas_size());
            return false;
          }
        }
        return true;
      },
      recovery_max);
  if (healthy) return absl::OkStatus();
  return absl::DeadlineExceededError(
      fmt::format("the cluster did not recover within {} s: {}", recovery_max.count(), missing));
}

absl::StatusOr<double> DrillContext::Metric(int node, const std::string& name) {
  std::string address;
  for (const Node& n : target.nodes()) {
    if (n.id == node) address = n.metrics_address;
  }
  if (address.empty()) return absl::NotFoundError(fmt::format("no metrics address for {}", node));
  auto text = ScrapeMetrics(address);
  if (!text.ok()) return text.status();
  double sum = 0;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size() ||
        (line[name.size()] != ' ' && line[name.size()] != '{')) {
      continue;
    }
    sum += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
  }
  return sum;
}

int32_t DrillContext::RandomPartition() {
  return static_cast<int32_t>(rng() % static_cast<uint64_t>(workload.options().partitions));
}

std::vector<int> DrillContext::Nodes(Role role) const {
  std::vector<int> ids;
  for (const Node& n : target.nodes()) {
    if (n.role == role) ids.push_back(n.id);
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------
// RunScenario

namespace {

// How long after a fault ends its windows are still measured (the cluster settling).
constexpr auto kSettle = std::chrono::seconds(10);

// The longest stretch in [from, to] without an event, per partition, the worst partition's;
// `times` holds each partition's event times.
double LongestGap(std::vector<std::vector<Clock::time_point>>& times, Clock::time_point from,
                  Clock::time_point to) {
  double worst = 0;
  for (auto& t : times) {
    std::sort(t.begin(), t.end());
    Clock::time_point previous = from;
    for (Clock::time_point e : t) {
      if (e <= from) continue;
      if (e > to) break;
      worst = std::max(worst, Ms(e - previous));
      previous = e;
    }
    worst = std::max(worst, Ms(to - previous));
  }
  return worst;
}

// Each fault's windows: the longest stretch without an acknowledgement (and without a delivery
// to the group) in any partition, from the fault until kSettle after it ended (or the next fault,
// or the workload stopped); and the time from the fault to the end of the first metadata operation
// started after it that succeeded.
void ComputeWindows(const Workload& workload, Clock::time_point stopped,
                    std::vector<FaultRecord>& faults) {
  const auto acks = workload.acks();
  const auto consumes = workload.consumes();
  const auto admin = workload.admin_events();
  const auto partitions = static_cast<size_t>(workload.options().partitions);
  std::vector<std::vector<Clock::time_point>> acked(partitions), consumed(partitions);
  for (const AckEvent& a : acks) {
    if (a.partition >= 0 && static_cast<size_t>(a.partition) < partitions) {
      acked[static_cast<size_t>(a.partition)].push_back(a.acked);
    }
  }
  for (const ConsumeEvent& c : consumes) {
    if (c.partition >= 0 && static_cast<size_t>(c.partition) < partitions) {
      consumed[static_cast<size_t>(c.partition)].push_back(c.at);
    }
  }
  for (size_t i = 0; i < faults.size(); ++i) {
    FaultRecord& f = faults[i];
    const auto ended = f.at + std::chrono::microseconds(static_cast<int64_t>(f.held_ms * 1000));
    // Until the next fault at the latest: each window is its own fault's.
    const auto next = i + 1 < faults.size() ? faults[i + 1].at : stopped;
    const auto to = std::min({ended + kSettle, next, stopped});
    f.produce_window_ms = LongestGap(acked, f.at, to);
    f.consume_window_ms = workload.options().consumers > 0 ? LongestGap(consumed, f.at, to) : -1;
    for (const AdminEvent& e : admin) {
      if (!e.ok || e.start < f.at) continue;
      const double ms = Ms(e.end - f.at);
      if (f.admin_window_ms < 0 || ms < f.admin_window_ms) f.admin_window_ms = ms;
    }
  }
}

// Every replica of every partition, the leader's copy first. Waits (up to 30 s) for followers
// whose high watermark lags the leader's.
std::vector<PartitionCopies> ReadCopies(DrillContext& ctx,
                                        const std::shared_ptr<grpc::ChannelCredentials>& creds) {
  std::vector<PartitionCopies> out;
  std::map<int, std::string> address;
  for (const Node& n : ctx.target.nodes()) address[n.id] = n.address;
  for (int32_t p = 0; p < ctx.workload.options().partitions; ++p) {
    PartitionCopies copies;
    copies.partition = p;
    auto info = ctx.Partition(p);
    if (!info.ok() || info->leader() < 0) {
      ReplicaCopy c;
      c.error = info.ok() ? "no leader" : std::string(info.status().message());
      copies.replicas.push_back(c);
      out.push_back(copies);
      continue;
    }
    std::vector<int> order{info->leader()};
    for (int r : info->replicas()) {
      if (r != info->leader()) order.push_back(r);
    }
    size_t leader_size = 0;
    for (int node : order) {
      ReplicaCopy c;
      c.node = node;
      c.leader = node == info->leader();
      const auto deadline = Clock::now() + 30s;
      while (true) {
        auto records = ReadReplica(creds, address[node], ctx.topic, p);
        if (records.ok()) {
          c.records = *std::move(records);
          c.error.clear();
        } else {
          c.error = std::string(records.status().message());
        }
        const bool settled = c.leader || (c.error.empty() && c.records.size() >= leader_size);
        if (settled || Clock::now() >= deadline) break;
        std::this_thread::sleep_for(200ms);
      }
      if (c.leader) leader_size = c.records.size();
      copies.replicas.push_back(std::move(c));
    }
    out.push_back(std::move(copies));
  }
  return out;
}

// The group's committed offsets now (-1 for a partition without one).
absl::StatusOr<std::map<int32_t, int64_t>> FinalCommits(client::AdminClient& admin,
                                                        const std::string& group,
                                                        const std::string& topic) {
  group::v1::OffsetFetchRequest req;
  req.set_group_id(group);
  auto resp = admin.FetchOffsets(req);
  if (!resp.ok()) return resp.status();
  if (resp->error().code() != 0) {
    return absl::UnavailableError(
        fmt::format("{}: {}", resp->error().name(), resp->error().message()));
  }
  std::map<int32_t, int64_t> out;
  for (const auto& t : resp->topics()) {
    if (t.name() != topic) continue;
    for (const auto& p : t.partitions()) out[p.partition()] = p.offset();
  }
  return out;
}

// Topics the admin loop created that are missing now.
int64_t MetadataLost(client::AdminClient& admin, const std::vector<AdminEvent>& events,
                     std::vector<std::string>& errors) {
  auto listed = admin.ListTopics({});
  if (!listed.ok()) {
    errors.push_back(fmt::format("cannot list topics: {}", std::string(listed.status().message())));
    return 0;
  }
  std::set<std::string> names;
  for (const auto& t : listed->topics()) names.insert(t.name());
  int64_t lost = 0;
  std::vector<std::string> gone;
  for (const AdminEvent& e : events) {
    if (e.ok && !names.count(e.topic)) {
      ++lost;
      if (gone.size() < 3) gone.push_back(e.topic);
    }
  }
  if (lost > 0) {
    errors.push_back(fmt::format("{} topics whose creation succeeded do not exist: {}", lost,
                                 fmt::join(gone, ", ")));
  }
  return lost;
}

void DeleteTopics(client::AdminClient& admin, const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size(); i += 100) {
    admin::v1::DeleteTopicsRequest req;
    for (size_t j = i; j < std::min(names.size(), i + 100); ++j) req.add_names(names[j]);
    (void)admin.DeleteTopics(req);
  }
}

// Undoes whatever a fault may have left behind, also when it stopped half-way: every network
// fault healed, every node resumed and running.
void Restore(Target& target, std::vector<std::string>& errors) {
  for (const Node& n : target.nodes()) {
    if (absl::Status s = target.Heal(n.id); !s.ok() && !absl::IsUnimplemented(s)) {
      errors.push_back(fmt::format("healing node {}: {}", n.id, std::string(s.message())));
    }
    if (target.Running(n.id)) {
      (void)target.Resume(n.id);
      if (n.role == Role::kBroker) {
        // Clears held or slowed fsyncs and a full disk (a cluster without fault injection
        // answers UNIMPLEMENTED: nothing to clear).
        // A broker just restarted may not listen yet: tries for up to 30 s.
        const auto give_up = Clock::now() + 30s;
        auto cleared = target.SetDiskFaults(n.id, DiskFaults{});
        while (absl::IsUnavailable(cleared.status()) && Clock::now() < give_up) {
          std::this_thread::sleep_for(200ms);
          cleared = target.SetDiskFaults(n.id, DiskFaults{});
        }
        if (!cleared.ok() && !absl::IsUnimplemented(cleared.status())) {
          errors.push_back(fmt::format("clearing the disk faults of node {}: {}", n.id,
                                       std::string(cleared.status().message())));
        }
      }
    } else if (absl::Status s = target.Start(n.id); !s.ok()) {
      errors.push_back(fmt::format("starting node {}: {}", n.id, std::string(s.message())));
    }
  }
}

std::string ProgressLine(const std::string& scenario, Clock::time_point start,
                         const std::string& phase, const Progress& p) {
  return fmt::format(
      "[{} {:5.1f} s] acked {} failed {} | consumed {} commits {} | admin {} ok "
      "{} failed | {}",
      scenario, Ms(Clock::now() - start) / 1000, p.acknowledged, p.failed, p.consumed, p.commits,
      p.admin_ok, p.admin_failed, phase);
}

}  // namespace

ScenarioReport RunScenario(Target& target, const Scenario& scenario, const DrillOptions& options) {
  ScenarioReport report;
  report.scenario = scenario.name;
  report.seed = options.seed;
  report.target = target.Describe();
  const auto start = Clock::now();
  const std::string run_id = fmt::format("drill-{}-{}", scenario.name, options.seed);
  report.topic = run_id;
  auto fail = [&](std::string error) {
    report.errors.push_back(std::move(error));
    report.duration_s = Ms(Clock::now() - start) / 1000;
    return report;
  };

  client::Properties settings = target.client_settings();
  settings["bootstrap.servers"] = target.bootstrap();
  auto config = client::ConsumerConfig::FromProperties(settings);
  if (!config.ok()) return fail(std::string(config.status().message()));
  auto creds = client::ClientCredentials(*config, nullptr);
  if (!creds.ok()) return fail(std::string(creds.status().message()));
  client::AdminClientOptions admin_options;
  admin_options.api_timeout_ms = 30'000;
  admin_options.request_timeout_ms = 10'000;
  // The drill's own observations (leaders, fencing, the active controller) ask the controllers
  // first: a broker cut off from them could only forward the question to nobody.
  std::string observer;
  for (const Node& n : target.nodes()) {
    if (n.role == Role::kController) observer += n.address + ",";
  }
  auto admin = client::AdminClient::Create(observer + target.bootstrap(), admin_options, *creds);
  if (!admin.ok()) return fail(std::string(admin.status().message()));
  if (absl::Status s = CheckReachable(target.bootstrap(), *creds); !s.ok()) {
    return fail("preflight: " + std::string(s.message()));
  }

  // 2. A fresh topic and group; a topic left by an earlier run of the same seed is replaced.
  DeleteTopics(**admin, {run_id});
  WorkloadOptions w;
  w.run_id = run_id;
  w.topic = run_id;
  w.group = run_id;
  w.partitions = options.partitions;
  w.producers = options.producers;
  w.consumers = options.consumers;
  w.rate = options.rate;
  w.ack_log_path = fmt::format("{}/{}.acks", options.work_dir, run_id);
  report.ack_log = w.ack_log_path;
  Workload workload(target, w);
  DrillContext ctx(target, **admin, workload, run_id, options.seed, options.recovery_max);
  ctx.read_replica = [&ctx, &target, creds = *creds](int node, int32_t partition) {
    std::string address;
    for (const Node& n : target.nodes()) {
      if (n.id == node) address = n.address;
    }
    return ReadReplica(creds, address, ctx.topic, partition);
  };

  // 1. Preflight (needs the topic name only for its ISR check, which is skipped: no topic yet).
  ctx.SetPhase("preflight");
  {
    admin::v1::CreateTopicsRequest req;
    auto* t = req.add_topics();
    t->set_name(run_id);
    t->set_partitions(options.partitions);
    t->set_replication_factor(3);
    (*t->mutable_configs())["min.insync.replicas"] = "2";
    // Segments of 256 KiB: a drill of a few seconds crosses segment boundaries (rolls, closed
    // segments for the bit-flip drill).
    (*t->mutable_configs())["segment.bytes"] = "262144";
    bool created = false;
    std::string last;
    ctx.Wait(
        [&] {
          auto resp = (*admin)->CreateTopics(req);
          if (!resp.ok()) {
            last = std::string(resp.status().message());
            return false;
          }
          const auto& e = resp->topics(0).error();
          created = e.code() == 0 || e.name() == "TOPIC_ALREADY_EXISTS";
          last = e.name() + ": " + e.message();
          return created;
        },
        30s);
    if (!created) return fail("cannot create the drill's topic " + run_id + ": " + last);
  }
  if (absl::Status s = ctx.WaitHealthy(); !s.ok())
    return fail("preflight: " + std::string(s.message()));

  // The live progress line.
  std::atomic<bool> done{false};
  std::thread progress;
  if (options.progress != nullptr) {
    progress = std::thread([&] {
      auto last_line = Clock::now();
      while (!done) {
        std::this_thread::sleep_for(200ms);
        const std::string line =
            ProgressLine(scenario.name, start, ctx.phase(), workload.progress());
        if (options.progress_tty) {
          *options.progress << "\r" << line << "\x1b[K" << std::flush;
        } else if (Clock::now() - last_line >= 5s) {
          *options.progress << line << "\n" << std::flush;
          last_line = Clock::now();
        }
      }
      if (options.progress_tty) *options.progress << "\r\x1b[K" << std::flush;
    });
  }
  auto stop_progress = [&] {
    done = true;
    if (progress.joinable()) progress.join();
  };

  // 3. The workload, warmed up.
  ctx.SetPhase("warm-up");
  if (absl::Status s = workload.Start(); !s.ok()) {
    stop_progress();
    return fail("the workload did not start: " + std::string(s.message()));
  }
  const auto warm = Clock::now();
  std::this_thread::sleep_for(options.warmup);
  if (!ctx.Wait([&] { return workload.WritesResumed(warm); }, 30s)) {
    report.errors.push_back("warm-up: not every partition acknowledged a write within 30 s");
  }

  // 4. The faults, each followed by recovery (5).
  for (int i = 0; i < options.repeat && report.errors.empty(); ++i) {
    const size_t before = ctx.faults.size();
    if (absl::Status s = scenario.fault(ctx); !s.ok()) {
      report.errors.push_back(std::string(s.message()));
    }
    if (ctx.faults.size() == before) {
      report.errors.push_back("the scenario made no fault");
    }
    ctx.SetPhase("recovery");
    Restore(target, report.errors);
    if (absl::Status s = ctx.WaitHealthy(); !s.ok()) {
      report.errors.push_back(std::string(s.message()));
    }
  }
  for (const FaultRecord& f : ctx.faults) {
    if (!f.took_effect) {
      report.errors.push_back(fmt::format("fault '{}' had no observable effect: {}", f.name,
                                          f.effect.empty() ? "nothing seen" : f.effect));
    }
  }

  // 6. Cool-down, then stop the workload.
  ctx.SetPhase("cool-down");
  std::this_thread::sleep_for(options.cooldown);
  ctx.SetPhase("draining");
  const auto stopped = Clock::now();
  workload.StopAdmin();
  workload.StopProducing(60s);
  const bool drained = workload.StopConsuming(60s);
  stop_progress();

  // 7. Read back and judge.
  ctx.SetPhase("checking");
  const auto acks = workload.acks();
  const auto failures = workload.failures();
  report.sent = workload.progress().sent;
  report.failed = static_cast<int64_t>(failures.size());
  for (size_t i = 0; i < failures.size() && i < 3; ++i)
    report.failed_examples.push_back(failures[i]);
  const auto admin_events = workload.admin_events();
  for (const auto& e : admin_events) (e.ok ? report.admin_ok : report.admin_failed)++;
  if (scenario.no_failed_requests && (report.failed > 0 || report.admin_failed > 0)) {
    std::string example = !failures.empty() ? failures.front() : "";
    for (const auto& e : admin_events) {
      if (example.empty() && !e.ok) example = e.topic + ": " + e.error;
    }
    report.errors.push_back(
        fmt::format("{} deliveries and {} metadata operations failed; a "
                    "retrying client must see none here (first: {})",
                    report.failed, report.admin_failed, example));
  }

  const std::vector<AckedRecord> logged = ReadAckLog(w.ack_log_path);
  report.ack_log_lines = static_cast<int64_t>(logged.size());
  if (report.ack_log_lines != static_cast<int64_t>(acks.size())) {
    report.errors.push_back(
        fmt::format("the acknowledgement log {} holds {} records, the "
                    "workload counted {}",
                    w.ack_log_path, logged.size(), acks.size()));
  }
  ConsumerObservations observed = workload.consumer_observations();
  observed.drained = drained;
  auto finals = FinalCommits(**admin, w.group, w.topic);
  if (finals.ok()) {
    observed.final_commits = *finals;
  } else {
    report.errors.push_back(fmt::format("cannot read the group's committed offsets: {}",
                                        std::string(finals.status().message())));
  }
  const auto copies = ReadCopies(ctx, *creds);
  report.verdict = Check(logged, copies, options.consumers > 0 ? &observed : nullptr);
  report.metadata_lost = MetadataLost(**admin, admin_events, report.errors);

  ComputeWindows(workload, stopped, ctx.faults);
  report.faults = ctx.faults;
  std::vector<double> produce, consume, admin_windows;
  for (const FaultRecord& f : report.faults) {
    produce.push_back(f.produce_window_ms);
    consume.push_back(f.consume_window_ms);
    admin_windows.push_back(f.admin_window_ms);
  }
  report.produce_window = Stats(produce);
  report.consume_window = Stats(consume);
  report.admin_window = Stats(admin_windows);

  // What the run made, removed unless it failed (then kept for the investigation).
  std::vector<std::string> made;
  for (const auto& e : admin_events) made.push_back(e.topic);
  if (report.ok()) made.push_back(run_id);
  DeleteTopics(**admin, made);
  if (report.ok()) {
    group::v1::DeleteGroupsRequest req;
    req.add_group_ids(w.group);
    (void)(*admin)->DeleteGroups(req);
  }
  report.duration_s = Ms(Clock::now() - start) / 1000;
  return report;
}

// ---------------------------------------------------------------------------------------------
// Reports

std::string FormatReport(const ScenarioReport& r) {
  std::ostringstream out;
  out << fmt::format("drill {} (seed {}) on {}: {}\n", r.scenario, r.seed, r.target,
                     r.ok() ? "PASSED" : "FAILED");
  for (size_t i = 0; i < r.faults.size(); ++i) {
    const FaultRecord& f = r.faults[i];
    out << fmt::format("  fault {}: {} (held {:.0f} ms)\n", i + 1, f.name, f.held_ms);
    out << fmt::format("    effect: {}{}\n", f.effect, f.took_effect ? "" : " [NO EFFECT]");
    out << fmt::format("    unavailable: writes {}, consumers {}, metadata operations {}\n",
                       Window(f.produce_window_ms), Window(f.consume_window_ms),
                       Window(f.admin_window_ms));
  }
  const Verdict& v = r.verdict;
  out << fmt::format(
      "  records: {} sent, {} acknowledged ({} in the acknowledgement log), {} "
      "failed\n",
      r.sent, v.acknowledged, r.ack_log_lines, r.failed);
  out << fmt::format(
      "  lost {}, duplicated {}, reordered {}, offset changed {}, divergent "
      "replicas {}\n",
      v.lost, v.duplicated, v.reordered, v.offset_changed, v.divergent_replicas);
  out << fmt::format(
      "  group: consumer offsets back {}, committed offsets lost {}, never "
      "consumed {}\n",
      v.consumer_offsets_back, v.committed_offsets_lost, v.consumed_missing);
  out << fmt::format("  metadata: {} topics created, {} failed, {} lost\n", r.admin_ok,
                     r.admin_failed, r.metadata_lost);
  if (!r.faults.empty()) {
    out << fmt::format("  write unavailability over {} fault(s): p50 {}, p99 {}, max {}\n",
                       r.faults.size(), Window(r.produce_window.p50), Window(r.produce_window.p99),
                       Window(r.produce_window.max));
  }
  for (const std::string& e : r.errors) out << "  ERROR: " << e << "\n";
  for (const std::string& e : v.violations) out << "  VIOLATION: " << e << "\n";
  for (const std::string& e : v.lost_records) out << "  lost: " << e << "\n";
  for (const std::string& e : r.failed_examples) out << "  failed delivery: " << e << "\n";
  if (!r.ok() && !r.ack_log.empty()) {  // empty: the run stopped before making anything
    out << "  acknowledgement log: " << r.ack_log << "; topic " << r.topic << " kept\n";
  }
  out << fmt::format("  took {:.1f} s\n", r.duration_s);
  return out.str();
}

nlohmann::json ReportJson(const ScenarioReport& r) {
  auto stats = [](const WindowStats& s) {
    return nlohmann::json{{"p50", Round1(s.p50)}, {"p99", Round1(s.p99)}, {"max", Round1(s.max)}};
  };
  nlohmann::json faults = nlohmann::json::array();
  for (const FaultRecord& f : r.faults) {
    faults.push_back({{"fault", f.name},
                      {"node", f.node},
                      {"held_ms", Round1(f.held_ms)},
                      {"effect", f.effect},
                      {"took_effect", f.took_effect},
                      {"produce_window_ms", Round1(f.produce_window_ms)},
                      {"consume_window_ms", Round1(f.consume_window_ms)},
                      {"admin_window_ms", Round1(f.admin_window_ms)}});
  }
  const Verdict& v = r.verdict;
  return nlohmann::json{{"scenario", r.scenario},
                        {"seed", r.seed},
                        {"ok", r.ok()},
                        {"target", r.target},
                        {"topic", r.topic},
                        {"sent", r.sent},
                        {"acknowledged", v.acknowledged},
                        {"ack_log", r.ack_log},
                        {"ack_log_records", r.ack_log_lines},
                        {"failed", r.failed},
                        {"lost", v.lost},
                        {"duplicated", v.duplicated},
                        {"reordered", v.reordered},
                        {"offset_changed", v.offset_changed},
                        {"divergent_replicas", v.divergent_replicas},
                        {"consumer_offsets_back", v.consumer_offsets_back},
                        {"committed_offsets_lost", v.committed_offsets_lost},
                        {"consumed_missing", v.consumed_missing},
                        {"metadata_ok", r.admin_ok},
                        {"metadata_failed", r.admin_failed},
                        {"metadata_lost", r.metadata_lost},
                        {"window_ms", stats(r.produce_window)},
                        {"consumer_window_ms", stats(r.consume_window)},
                        {"admin_window_ms", stats(r.admin_window)},
                        {"faults", faults},
                        {"lost_records", v.lost_records},
                        {"violations", v.violations},
                        {"errors", r.errors},
                        {"duration_s", Round1(r.duration_s)}};
}

}  // namespace strand::drill
