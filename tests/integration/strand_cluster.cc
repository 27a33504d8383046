#include "tests/integration/strand_cluster.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/kafka_error.h"
#include "proto/broker/v1/broker.grpc.pb.h"
#include "record/record_batch_builder.h"
#include "record/record_batch_reader.h"
#include "proto/health/v1/health.grpc.pb.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace bv1 = broker::v1;

bool IsController(int node) { return node < 100; }

bool Retriable(const std::string& name) {
  return name == "NOT_LEADER_OR_FOLLOWER" || name == "LEADER_NOT_AVAILABLE" ||
         name == "REQUEST_TIMED_OUT" || name == "NOT_ENOUGH_REPLICAS" ||
         name == "NOT_ENOUGH_REPLICAS_AFTER_APPEND" || name == "FENCED_LEADER_EPOCH" ||
         name == "UNKNOWN_LEADER_EPOCH" || name == "UNAVAILABLE" || name == "KAFKA_STORAGE_ERROR" ||
         name == "UNKNOWN_TOPIC_OR_PARTITION" || name == "NETWORK_EXCEPTION";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The PEM blocks of `text` whose type line contains `type`.
std::string PemBlocks(const std::string& text, const std::string& type) {
  std::string out;
  size_t pos = 0;
  while ((pos = text.find("-----BEGIN ", pos)) != std::string::npos) {
    const size_t header_end = text.find("-----", pos + 11);
    const size_t end = text.find("-----END ", header_end);
    const size_t block_end = text.find("-----", end + 9);
    if (header_end == std::string::npos || end == std::string::npos || block_end == std::string::npos) break;
    const std::string header = text.substr(pos, header_end - pos);
    if (header.find(type) != std::string::npos) out += text.substr(pos, block_end + 5 - pos) + "\n";
    pos = block_end + 5;
  }
  return out;
}

}  // namespace

bool TlsFromEnvironment() {
  const char* v = std::getenv("STRAND_TEST_TLS");
  return v != nullptr && std::string(v) == "1";
}

std::shared_ptr<grpc::ChannelCredentials> TlsCredentials(const std::string& key_and_chain,
                                                         const std::string& ca) {
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = ReadFile(ca);
  if (!key_and_chain.empty()) {
    const std::string pem = ReadFile(key_and_chain);
    o.pem_private_key = PemBlocks(pem, "PRIVATE KEY");
    o.pem_cert_chain = PemBlocks(pem, "CERTIFICATE");
  }
  return grpc::SslCredentials(o);
}

StrandCluster::StrandCluster(ClusterOptions options)
    : options_(std::move(options)), dir_("strand-cluster") {
  if (options_.tls) {
    std::string nodes;
    for (int id = 1; id <= options_.controllers; ++id) nodes += fmt::format("{},", id);
    for (int i = 1; i <= options_.brokers; ++i) nodes += fmt::format("{},", 100 + i);
    nodes.pop_back();
    const std::string command =
        fmt::format("bash {}/scripts/make-certs.sh --dir {} --nodes {} --clients test >{}/certs.log 2>&1",
                    STRAND_SOURCE_DIR, certs_dir(), nodes, dir_.path());
    if (std::system(command.c_str()) != 0) {
      throw std::runtime_error("make-certs.sh failed: see " + dir_.path() + "/certs.log");
    }
  }
  for (int id = 1; id <= options_.controllers; ++id) {
    addresses_[id] = fmt::format("127.0.0.1:{}", FreePort());
    quorum_ += fmt::format("{}{}@{}", id == 1 ? "" : ",", id, addresses_[id]);
  }
  for (int i = 1; i <= options_.brokers; ++i) {
    addresses_[100 + i] = fmt::format("127.0.0.1:{}", FreePort());
    replication_addresses_[100 + i] = fmt::format("127.0.0.1:{}", FreePort());
    controller_addresses_[100 + i] = fmt::format("127.0.0.1:{}", FreePort());
  }
  for (const auto& [node, address] : addresses_) {
    metrics_addresses_[node] = fmt::format("127.0.0.1:{}", FreePort());
  }
  for (const auto& [node, address] : addresses_) {
    // Servers start after the channels exist: reconnect quickly rather than with gRPC's default
    // backoff (1 s, growing), or every wait below would take seconds longer than needed.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 250);
    channels_[node] = grpc::CreateCustomChannel(address, credentials(), args);
    if (IsController(node)) {
      admins_[node] = admin::v1::AdminService::NewStub(channels_[node]);
    } else {
      brokers_[node] = bv1::BrokerService::NewStub(channels_[node]);
    }
  }
  for (const auto& [node, address] : addresses_) Start(node);
}

StrandCluster::~StrandCluster() {
  // A failed test shows what every node said last: CI keeps only the test's output.
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  if (test != nullptr && ::testing::Test::HasFailure()) {
    for (const auto& [node, process] : nodes_) {
      std::fprintf(stderr, "---- node %d (%s) log tail ----\n%s\n", node,
                   stopped_.count(node) != 0 ? "stopped by the test"
                   : running(node)           ? "running"
                                             : "EXITED on its own",
                   Tail(log_path(node), 25).c_str());
    }
  }
  // Brokers first (a broker's controlled shutdown needs the controllers), each by its PID.
  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
    if (it->second) it->second->Stop(5s);
  }
}

std::vector<int> StrandCluster::broker_ids() const {
  std::vector<int> out;
  for (int i = 1; i <= options_.brokers; ++i) out.push_back(100 + i);
  return out;
}

std::string StrandCluster::address(int node, Listener listener) const {
  if (IsController(node) || listener == Listener::kClient) return addresses_.at(node);
  return listener == Listener::kReplication ? replication_addresses_.at(node)
                                            : controller_addresses_.at(node);
}

std::string StrandCluster::certs_dir() const { return dir_.path() + "/certs"; }

std::shared_ptr<grpc::ChannelCredentials> StrandCluster::credentials(const std::string& name) const {
  if (!options_.tls) return grpc::InsecureChannelCredentials();
  const std::string file = name.rfind("node-", 0) == 0 ? name : "client-" + name;
  return TlsCredentials(fmt::format("{}/{}.pem", certs_dir(), file), certs_dir() + "/ca.pem");
}

std::shared_ptr<grpc::Channel> StrandCluster::Channel(int node, Listener listener) const {
  return grpc::CreateChannel(address(node, listener), credentials());
}

std::string StrandCluster::data_dir(int node) const {
  return fmt::format("{}/n{}", dir_.path(), node);
}

std::string StrandCluster::log_path(int node) const {
  return fmt::format("{}/n{}.log", dir_.path(), node);
}

void StrandCluster::Start(int node) {
  paused_[node] = false;
  stopped_.erase(node);
  std::vector<std::string> args{
      IsController(node) ? "--roles=controller" : "--roles=broker",
      fmt::format("--node-id={}", node),
      "--controller-quorum=" + quorum_,
      "--data-dir=" + data_dir(node),
      "--cluster-id=it",
      "--config=controller.listener.names=CONTROLLER",
      "--metrics-listen=" + metrics_addresses_.at(node),
  };
  // Each plane on its own port, as in a production deployment.
  const std::string protocol = options_.tls ? "SSL" : "PLAINTEXT";
  if (IsController(node)) {
    args.push_back("--config=listeners=CONTROLLER://" + addresses_.at(node));
    args.push_back("--config=listener.security.protocol.map=CONTROLLER:" + protocol);
  } else {
    args.push_back(fmt::format("--config=listeners=CLIENT://{},REPLICATION://{},CONTROLLER://{}",
                               addresses_.at(node), replication_addresses_.at(node),
                               controller_addresses_.at(node)));
    args.push_back(fmt::format(
        "--config=listener.security.protocol.map=CLIENT:{0},REPLICATION:{0},CONTROLLER:{0}",
        protocol));
    args.push_back("--config=inter.broker.listener.name=REPLICATION");
  }
  if (options_.tls) {
    // mTLS everywhere: the client listener requires certificates too.
    args.push_back(fmt::format("--config=ssl.keystore.location={}/node-{}.pem", certs_dir(), node));
    args.push_back(fmt::format("--config=ssl.truststore.location={}/ca.pem", certs_dir()));
    args.push_back("--config=ssl.client.auth=required");
  }
  args.insert(args.end(), options_.common_args.begin(), options_.common_args.end());
  const auto& extra = IsController(node) ? options_.controller_args : options_.broker_args;
  args.insert(args.end(), extra.begin(), extra.end());
  if (auto own = options_.node_args.find(node); own != options_.node_args.end()) {
    args.insert(args.end(), own->second.begin(), own->second.end());
  }
  if (!IsController(node) && options_.racks) args.push_back(fmt::format("--rack=rack-{}", node - 100));
  nodes_[node] = std::make_unique<ChildProcess>("strand-server", args, log_path(node));
}

void StrandCluster::Kill(int node) {
  stopped_.insert(node);
  nodes_.at(node)->Signal(SIGKILL);
  nodes_.at(node)->Wait(10s);
}

void StrandCluster::Stop(int node, std::chrono::milliseconds grace) {
  stopped_.insert(node);
  nodes_.at(node)->Stop(grace);
}

void StrandCluster::Pause(int node) {
  nodes_.at(node)->Signal(SIGSTOP);
  paused_[node] = true;
}

void StrandCluster::Resume(int node) {
  nodes_.at(node)->Signal(SIGCONT);
  paused_[node] = false;
}

bool StrandCluster::running(int node) { return nodes_.at(node) && nodes_.at(node)->Running(); }

bool StrandCluster::WaitForBrokers(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (int id : broker_ids()) {
    if (stopped_.count(id) != 0) continue;  // the test took it down
    auto health = grpc::health::v1::Health::NewStub(channels_.at(id));
    while (true) {
      grpc::ClientContext ctx;
      ctx.set_wait_for_ready(true);
      ctx.set_deadline(In(1s));
      grpc::health::v1::HealthCheckResponse r;
      grpc::Status st = health->Check(&ctx, {}, &r);
      if (st.ok() && r.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
        break;
      }
      if (!running(id)) {
        // Exited without the test stopping it (a port taken, a crash): say so now rather than
        // let a later step fail for want of a broker.
        std::fprintf(stderr, "broker %d exited on its own; its log ends:\n%s\n", id,
                     Tail(log_path(id), 25).c_str());
        return false;
      }
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
  }
  return true;
}

admin::v1::AdminService::Stub& StrandCluster::admin() {
  // Any running controller: it forwards writes to the active one.
  for (auto& [node, stub] : admins_) {
    if (running(node)) return *stub;
  }
  return *admins_.begin()->second;
}

bv1::BrokerService::Stub& StrandCluster::broker(int node) { return *brokers_.at(node); }

std::string StrandCluster::CreateTopic(const std::string& name, int partitions, int rf,
                                       const std::map<std::string, std::string>& configs) {
  admin::v1::CreateTopicsRequest req;
  auto* t = req.add_topics();
  t->set_name(name);
  t->set_partitions(partitions);
  t->set_replication_factor(rf);
  for (const auto& [k, v] : configs) (*t->mutable_configs())[k] = v;
  std::string last;
  for (int attempt = 0; attempt < 100; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(In(5s));
    admin::v1::CreateTopicsResponse resp;
    grpc::Status s = admin().CreateTopics(&ctx, req, &resp);
    if (s.ok() && resp.topics_size() == 1) {
      const std::string e = resp.topics(0).error().code() == 0 ? "NONE"
                                                              : resp.topics(0).error().name();
      if (e != "NOT_CONTROLLER" && e != "INVALID_REPLICATION_FACTOR") return e;
      last = e + ": " + resp.topics(0).error().message();
    } else {
      last = s.ok() ? "no topic in the answer" : s.error_message();
    }
    std::this_thread::sleep_for(100ms);  // no active controller, or brokers not up yet
  }
  return "GAVE_UP (last: " + last + ")";
}

std::string AlterConfig(StrandCluster& c, admin::v1::ResourceType type, const std::string& resource,
                        const std::string& name, const std::string& value, std::string* message) {
  admin::v1::AlterConfigsRequest req;
  req.set_resource_type(type);
  req.set_resource_name(resource);
  auto* change = req.add_changes();
  change->set_name(name);
  change->set_value(value);
  change->set_op(admin::v1::SET);
  for (int attempt = 0; attempt < 50; ++attempt) {  // across a change of active controller
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(In(10s));
    admin::v1::AlterConfigsResponse resp;
    if (c.admin().AlterConfigs(&ctx, req, &resp).ok()) {
      if (message) *message = resp.error().message();
      if (resp.error().name() != "NOT_CONTROLLER") {
        return resp.error().code() == 0 ? "NONE" : resp.error().name();
      }
    }
    std::this_thread::sleep_for(100ms);
  }
  return "GAVE_UP";
}

std::string StrandCluster::DeleteTopic(const std::string& name) {
  admin::v1::DeleteTopicsRequest req;
  req.add_names(name);
  grpc::ClientContext ctx;
  ctx.set_wait_for_ready(true);
  ctx.set_deadline(In(5s));
  admin::v1::DeleteTopicsResponse resp;
  grpc::Status s = admin().DeleteTopics(&ctx, req, &resp);
  if (!s.ok()) return "UNREACHABLE";
  return resp.topics(0).error().code() == 0 ? "NONE" : resp.topics(0).error().name();
}

std::optional<PartitionView> StrandCluster::Partition(const std::string& topic,
                                                      int32_t partition) {
  std::optional<PartitionView> best;
  uint64_t best_offset = 0;
  for (int id : broker_ids()) {
    if (!running(id) || paused_[id]) continue;
    bv1::MetadataRequest req;
    req.add_topics(topic);
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(In(1s));
    bv1::MetadataResponse resp;
    if (!broker(id).Metadata(&ctx, req, &resp).ok()) continue;
    if (resp.topics_size() != 1 || resp.topics(0).error().code() != 0) continue;
    if (partition >= resp.topics(0).partitions_size()) continue;
    if (best && resp.metadata_offset() <= best_offset) continue;
    const auto& p = resp.topics(0).partitions(partition);
    PartitionView v;
    v.leader = p.leader();
    v.leader_epoch = p.leader_epoch();
    v.replicas.assign(p.replicas().begin(), p.replicas().end());
    v.isr.assign(p.isr().begin(), p.isr().end());
    best = v;
    best_offset = resp.metadata_offset();
  }
  return best;
}

std::optional<PartitionView> StrandCluster::WaitForPartition(const std::string& topic,
                                                             int32_t partition,
                                                             std::chrono::milliseconds timeout,
                                                             size_t isr_size, int32_t not_leader) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto p = Partition(topic, partition);
    if (p && p->leader >= 0 && p->leader != not_leader &&
        (isr_size == 0 || p->isr.size() == isr_size)) {
      return p;
    }
    std::this_thread::sleep_for(20ms);
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<StoredRecord>> StrandCluster::ReadAll(const std::string& topic,
                                                                 int32_t partition, int node,
                                                                 bool as_follower) {
  std::vector<StoredRecord> out;
  int64_t offset = 0;
  int64_t high_watermark = -1;
  for (int round = 0; round < 100'000; ++round) {
    bv1::FetchRequest req;
    req.set_replica_id(-1);
    req.set_max_wait_ms(0);
    req.set_min_bytes(1);
    req.set_max_bytes(8 << 20);
    if (as_follower) req.set_rack_id("any");  // lets a follower serve the read (KIP-392)
    auto* t = req.add_topics();
    t->set_topic(topic);
    auto* p = t->add_partitions();
    p->set_partition(partition);
    p->set_fetch_offset(offset);
    p->set_current_leader_epoch(-1);
    p->set_partition_max_bytes(4 << 20);
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(In(10s));
    bv1::FetchResponse resp;
    grpc::Status s = broker(node).Fetch(&ctx, req, &resp);
    if (!s.ok()) return absl::UnavailableError(s.error_message());
    const auto& r = resp.topics(0).partitions(0);
    if (r.error().name() == "OFFSET_OUT_OF_RANGE" && out.empty() && offset < r.log_start_offset()) {
      offset = r.log_start_offset();  // retention removed the head of the log: read what is left
      continue;
    }
    if (r.error().code() != 0) {
      return absl::FailedPreconditionError(fmt::format("{}: {}", r.error().name(), r.error().message()));
    }
    if (r.preferred_read_replica() >= 0) {
      return absl::FailedPreconditionError("redirected to another replica");
    }
    high_watermark = r.high_watermark();
    const std::string& bytes = r.records();
    if (bytes.empty()) break;
    size_t pos = 0;
    while (pos + record::batch_layout::kHeaderSize <= bytes.size()) {
      const auto* base = reinterpret_cast<const uint8_t*>(bytes.data()) + pos;
      const auto h = record::RecordBatchHeader::Parse(base);
      const auto size = static_cast<size_t>(h.size_bytes());
      if (size == 0 || pos + size > bytes.size()) break;
      auto batch = record::DecodedBatch::Decode(std::span(base, size), 64 << 20);
      if (!batch.ok()) return batch.status();
      for (const auto& rv : batch->records()) {
        if (rv.offset.value() < offset) continue;
        out.push_back(StoredRecord{rv.offset.value(), std::string(rv.key.value_or("")),
                                   std::string(rv.value.value_or("")), rv.timestamp});
      }
      offset = h.last_offset().value() + 1;
      pos += size;
    }
    if (offset >= high_watermark) break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

TestProducer::TestProducer(StrandCluster& cluster, std::string topic, int32_t partition, int acks,
                           bool idempotent)
    : cluster_(cluster), topic_(std::move(topic)), partition_(partition), acks_(acks) {
  if (!idempotent) return;
  for (int attempt = 0; attempt < 100 && producer_id_ < 0; ++attempt) {
    for (int id : cluster_.broker_ids()) {
      if (!cluster_.running(id)) continue;
      grpc::ClientContext ctx;
      ctx.set_wait_for_ready(true);
      ctx.set_deadline(In(5s));
      bv1::InitProducerIdResponse resp;
      if (cluster_.broker(id).InitProducerId(&ctx, {}, &resp).ok() && resp.error().code() == 0) {
        producer_id_ = resp.producer_id();
        producer_epoch_ = static_cast<int16_t>(resp.producer_epoch());
        break;
      }
    }
    if (producer_id_ < 0) std::this_thread::sleep_for(100ms);
  }
}

std::string TestProducer::Build(const std::vector<std::string>& values) {
  record::BatchOptions o;
  if (producer_id_ >= 0) {
    o.producer_id = ProducerId(producer_id_);
    o.producer_epoch = ProducerEpoch(producer_epoch_);
    o.base_sequence = next_sequence_;
    next_sequence_ += static_cast<int32_t>(values.size());
  }
  record::RecordBatchBuilder b(o);
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  for (const std::string& v : values) b.Append(now, std::nullopt, v);
  auto batch = b.Build();
  return std::string(reinterpret_cast<const char*>(batch->data()), batch->size());
}

SendResult TestProducer::Attempt(int node, const std::string& batch,
                                 std::chrono::milliseconds timeout) {
  SendResult r;
  bv1::ProduceRequest req;
  req.set_acks(acks_);
  req.set_timeout_ms(static_cast<int32_t>(timeout.count()));
  auto* t = req.add_topics();
  t->set_topic(topic_);
  auto* p = t->add_partitions();
  p->set_partition(partition_);
  p->set_records(batch);
  grpc::ClientContext ctx;
  ctx.set_wait_for_ready(true);
  ctx.set_deadline(In(timeout + 1s));
  bv1::ProduceResponse resp;
  grpc::Status s = cluster_.broker(node).Produce(&ctx, req, &resp);
  if (!s.ok()) {
    r.error = s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ? "REQUEST_TIMED_OUT"
                                                                    : "UNAVAILABLE";
    return r;
  }
  const auto& pr = resp.topics(0).partitions(0);
  if (pr.error().code() != 0) {
    r.error = pr.error().name();
    return r;
  }
  r.acked = true;
  r.base_offset = pr.base_offset();
  return r;
}

SendResult TestProducer::Send(const std::vector<std::string>& values,
                              std::chrono::milliseconds deadline,
                              std::chrono::milliseconds request_timeout) {
  const std::string batch = Build(values);
  const auto end = Clock::now() + deadline;
  SendResult last;
  int attempts = 0;
  while (Clock::now() < end) {
    if (leader_ < 0 || !cluster_.running(leader_)) {  // like a client: metadata only when needed
      auto view = cluster_.Partition(topic_, partition_);
      if (!view || view->leader < 0 || !cluster_.running(view->leader)) {
        last.error = "LEADER_NOT_AVAILABLE";
        std::this_thread::sleep_for(20ms);
        continue;
      }
      leader_ = view->leader;
    }
    ++attempts;
    last = Attempt(leader_, batch, request_timeout);
    last.attempts = attempts;
    if (last.acked || !Retriable(last.error)) return last;
    leader_ = -1;
    std::this_thread::sleep_for(20ms);  // retry.backoff.ms
  }
  last.attempts = attempts;
  return last;
}

SendResult TestProducer::SendTo(int node, const std::vector<std::string>& values,
                                std::chrono::milliseconds request_timeout) {
  SendResult r = Attempt(node, Build(values), request_timeout);
  r.attempts = 1;
  return r;
}

}  // namespace strand::testing
