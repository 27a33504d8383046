// libFuzzer target for every gRPC service a Strand process serves: request decoding and handler
// entry, over real sockets, against a real controller and broker running in this process
// (1 controller + 1 broker, plaintext, each plane on its own listener, data in a temp dir).
//
// An input is one call: its first byte picks the RPC (every method of BrokerService,
// AdminService, ControllerService, RaftTransport and GroupService, in descriptor order) and the
// rest is the request as sent on the wire. Unary calls send those bytes as they are (a generic stub), so
// the server's decoding sees arbitrary bytes; the streaming calls (a heartbeat stream, a Raft
// stream) send them parsed into the request type (garbage parses to a partial message). Each
// call goes to the listener that carries its plane. A crash, a sanitizer report or a server
// that stops answering fails the run.
//
// At start it calls every RPC once with its seed request and exits 1 unless each one reached
// its handler (an answer from the handler: not UNIMPLEMENTED, UNAVAILABLE, INTERNAL or UNKNOWN);
// at exit it prints how many inputs reached each handler.
//
// Seeds (tests/fuzz/corpus/service): STRAND_FUZZ_WRITE_SEEDS=DIR service_fuzz writes one per RPC
// and exits. Built only with clang (-fsanitize=fuzzer,address,undefined); tests/fuzz/run_fuzz.sh
// runs it for a bounded time in `make test`, longer by hand.
#include <fmt/format.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/text_format.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "broker/server/broker_server.h"
#include "common/listener_config.h"
#include "common/logging.h"
#include "controller/server/controller_server.h"
#include "proto/admin/v1/admin.grpc.pb.h"
#include "proto/broker/v1/broker.grpc.pb.h"
#include "proto/controller/v1/controller.grpc.pb.h"
#include "proto/raft/v1/raft.grpc.pb.h"
#include "record/record_batch_builder.h"
#include "tests/raw_unary_call.h"

namespace {

using namespace strand;
namespace pb = google::protobuf;

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

enum class Target { kBrokerClient, kBrokerReplication, kBrokerController, kController };

struct Rpc {
  const pb::MethodDescriptor* method;
  std::string path;  // /package.Service/Method
  Target target;
  std::string seed_text;  // the seed request, text format
  uint64_t entered = 0;   // inputs answered by the handler
};

struct World {
  std::string dir;
  std::map<Target, std::string> addresses;
  std::unique_ptr<controller::ControllerServer> controller;
  std::unique_ptr<broker::BrokerServer> broker;
  std::map<Target, std::shared_ptr<grpc::Channel>> channels;
  std::vector<Rpc> rpcs;
  uint64_t inputs = 0;
};

World* world = nullptr;

std::string ProduceSeed() {
  record::RecordBatchBuilder b(record::BatchOptions{});
  b.Append(1'700'000'000'000, std::string_view("k"), std::string_view("v"), {});
  auto batch = b.Build();
  std::string bytes(reinterpret_cast<const char*>(batch->data()), batch->size());
  std::string escaped;
  for (unsigned char c : bytes) escaped += fmt::format("\\{:03o}", c);
  return "acks: 1 timeout_ms: 1000 topics { topic: \"fuzz\" partitions { partition: 0 records: \"" +
         escaped + "\" } }";
}

// Seed requests in text format, by method name (empty: the default request).
std::map<std::string, std::string> SeedTexts() {
  return {
      {"Metadata", "topics: \"fuzz\""},
      {"Produce", ProduceSeed()},
      {"Fetch", "replica_id: -1 max_wait_ms: 10 topics { topic: \"fuzz\" partitions { "
                "partition: 0 fetch_offset: 0 current_leader_epoch: -1 } }"},
      {"ListOffsets", "replica_id: -1 topics { topic: \"fuzz\" partitions { partition: 0 "
                      "timestamp: -1 } }"},
      {"ProduceRecords", "topic: \"fuzz\" records { value_string: \"v\" }"},
      {"FetchRecords", "topic: \"fuzz\" partition: 0 offset: -2"},
      {"CreateTopics", "topics { name: \"fuzz-new\" partitions: 1 replication_factor: 1 }"},
      {"DescribeTopics", "names: \"fuzz\""},
      {"RegisterBroker", "broker_id: 101"},
      {"AlterPartition", "broker_id: 101"},
      {"AllocateProducerIds", "broker_id: 101"},
      {"CreateOffsetsTopic", "broker_id: 101"},
      {"BrokerHeartbeat", "broker_id: 101"},
      {"Stream", "cluster_id: \"fuzz\" from: 1"},
      {"FindCoordinator", "group_ids: \"fuzz-group\""},
      {"ConsumerGroupHeartbeat", "group_id: \"fuzz-group\" member_id: \"m\" member_epoch: 0 "
                                 "subscribed_topic_names: \"fuzz\" rebalance_timeout_ms: 1000"},
      {"OffsetCommit", "group_id: \"fuzz-group\" member_epoch: -1 topics { name: \"fuzz\" "
                       "partitions { partition: 0 offset: 1 } }"},
      {"OffsetFetch", "group_id: \"fuzz-group\""},
      {"DescribeGroups", "group_ids: \"fuzz-group\" include_offsets: true"},
      {"DeleteGroups", "group_ids: \"fuzz-group\""},
      {"OffsetDelete", "group_id: \"fuzz-group\" topics { name: \"fuzz\" partitions: 0 }"},
  };
}

Target TargetOf(const pb::ServiceDescriptor* service) {
  const std::string& name = service->full_name();
  if (name == "strand.broker.v1.BrokerService") return Target::kBrokerClient;
  if (name == "strand.group.v1.GroupService") return Target::kBrokerClient;
  if (name == "strand.admin.v1.AdminService") return Target::kController;
  if (name == "strand.controller.v1.ControllerService") return Target::kController;
  return Target::kController;  // RaftTransport: the controller's Raft
}

std::unique_ptr<pb::Message> NewRequest(const Rpc& rpc) {
  const pb::Message* prototype =
      pb::MessageFactory::generated_factory()->GetPrototype(rpc.method->input_type());
  return std::unique_ptr<pb::Message>(prototype->New());
}

std::string SeedBytes(const Rpc& rpc) {
  auto m = NewRequest(rpc);
  if (!pb::TextFormat::ParseFromString(rpc.seed_text, m.get())) {
    std::fprintf(stderr, "service_fuzz: bad seed for %s: %s\n", rpc.path.c_str(),
                 rpc.seed_text.c_str());
    std::exit(1);
  }
  return m->SerializeAsString();
}

std::chrono::system_clock::time_point Deadline() {
  return std::chrono::system_clock::now() + std::chrono::seconds(2);
}

grpc::Status CallUnary(const Rpc& rpc, const std::string& bytes) {
  return strand::testing::RawUnaryCall(world->channels.at(rpc.target), rpc.path, bytes, Deadline());
}

grpc::Status CallHeartbeat(const std::string& bytes) {
  controller::v1::BrokerHeartbeatRequest req;
  req.ParseFromString(bytes);  // garbage: a partial message
  auto stub = controller::v1::ControllerService::NewStub(world->channels.at(Target::kController));
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  auto stream = stub->BrokerHeartbeat(&ctx);
  stream->Write(req);
  stream->WritesDone();
  controller::v1::BrokerHeartbeatResponse resp;
  while (stream->Read(&resp)) {
  }
  return stream->Finish();
}

grpc::Status CallRaft(Target target, const std::string& bytes) {
  raft::v1::MessageBatch batch;
  batch.ParseFromString(bytes);
  auto stub = raft::v1::RaftTransport::NewStub(world->channels.at(target));
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  raft::v1::StreamSummary summary;
  auto writer = stub->Stream(&ctx, &summary);
  writer->Write(batch);
  writer->WritesDone();
  return writer->Finish();
}

grpc::Status Call(const Rpc& rpc, const std::string& bytes) {
  if (rpc.method->name() == "BrokerHeartbeat") return CallHeartbeat(bytes);
  if (rpc.method->name() == "Stream") return CallRaft(rpc.target, bytes);
  return CallUnary(rpc, bytes);
}

// Whether the answer came from the handler.
bool Entered(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::UNIMPLEMENTED:
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
      return false;
    default:
      return true;
  }
}

// Creates the topic the seeds use ("fuzz", 2 partitions); true when it exists.
bool CreateFuzzTopic() {
  admin::v1::CreateTopicsRequest req;
  auto* t = req.add_topics();
  t->set_name("fuzz");
  t->set_partitions(2);
  t->set_replication_factor(1);
  admin::v1::CreateTopicsResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  auto stub = admin::v1::AdminService::NewStub(world->channels.at(Target::kController));
  if (!stub->CreateTopics(&ctx, req, &resp).ok() || resp.topics_size() != 1) return false;
  const std::string error = resp.topics(0).error().name();
  return error.empty() || error == "NONE" || error == "TOPIC_ALREADY_EXISTS";
}

void PrintEntered() {
  if (world == nullptr) return;
  std::error_code ignored;
  std::filesystem::remove_all(world->dir, ignored);  // the servers' data (best effort)
  std::fprintf(stderr, "service_fuzz: %llu inputs; reached each handler:\n",
               static_cast<unsigned long long>(world->inputs));
  for (const Rpc& r : world->rpcs) {
    const char* where = r.target == Target::kController ? "controller" : "broker";
    std::fprintf(stderr, "  %-60s %-10s %llu\n", r.path.c_str(), where,
                 static_cast<unsigned long long>(r.entered));
  }
}

void Start() {
  world = new World();
  char tmpl[] = "/tmp/strand-service-fuzz.XXXXXX";
  world->dir = mkdtemp(tmpl);
  InitLogging("error");
  // Invalid UTF-8 in string fields is every other input: protobuf's complaint about it is noise.
  pb::SetLogHandler(nullptr);
  for (Target t : {Target::kController, Target::kBrokerClient, Target::kBrokerReplication,
                   Target::kBrokerController}) {
    world->addresses[t] = fmt::format("127.0.0.1:{}", FreePort());
  }
  const std::map<NodeId, std::string> voters = {{NodeId(1), world->addresses[Target::kController]}};

  controller::ControllerServerOptions c;
  c.node_id = NodeId(1);
  c.voters = voters;
  c.cluster_id = "fuzz";
  c.data_dir = world->dir + "/controller";
  c.tick_ms = 20;
  c.registry = std::make_shared<prometheus::Registry>();
  auto cl = ParseListenerConfig({{"listeners", "CONTROLLER://" + world->addresses[Target::kController]},
                                 {"controller.listener.names", "CONTROLLER"}},
                                true, false);
  if (!cl.ok()) std::abort();
  c.listeners = *cl;
  auto controller = controller::ControllerServer::Start(c);
  if (!controller.ok()) {
    std::fprintf(stderr, "service_fuzz: controller: %s\n", controller.status().ToString().c_str());
    std::exit(1);
  }
  world->controller = *std::move(controller);

  broker::BrokerServerOptions b;
  b.node_id = NodeId(101);
  b.voters = voters;
  b.cluster_id = "fuzz";
  b.data_dir = world->dir + "/broker";
  b.tick_ms = 20;
  b.registry = std::make_shared<prometheus::Registry>();
  auto bl = ParseListenerConfig(
      {{"listeners", fmt::format("CLIENT://{},REPLICATION://{},CONTROLLER://{}",
                                 world->addresses[Target::kBrokerClient],
                                 world->addresses[Target::kBrokerReplication],
                                 world->addresses[Target::kBrokerController])},
       {"listener.security.protocol.map", "CLIENT:PLAINTEXT,REPLICATION:PLAINTEXT,CONTROLLER:PLAINTEXT"},
       {"controller.listener.names", "CONTROLLER"},
       {"inter.broker.listener.name", "REPLICATION"}},
      false, true);
  if (!bl.ok()) std::abort();
  b.listeners = *bl;
  auto settings = broker::ParseBrokerSettings({});
  if (!settings.ok()) std::abort();
  b.settings = *settings;
  auto br = broker::BrokerServer::Start(b);
  if (!br.ok()) {
    std::fprintf(stderr, "service_fuzz: broker: %s\n", br.status().ToString().c_str());
    std::exit(1);
  }
  world->broker = *std::move(br);
  for (const auto& [t, address] : world->addresses) {
    world->channels[t] = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  }

  // The RPC table, from the services' descriptors.
  const auto seeds = SeedTexts();
  for (const pb::ServiceDescriptor* service :
       {pb::DescriptorPool::generated_pool()->FindServiceByName("strand.broker.v1.BrokerService"),
        pb::DescriptorPool::generated_pool()->FindServiceByName("strand.admin.v1.AdminService"),
        pb::DescriptorPool::generated_pool()->FindServiceByName("strand.controller.v1.ControllerService"),
        pb::DescriptorPool::generated_pool()->FindServiceByName("strand.raft.v1.RaftTransport")}) {
    if (service == nullptr) std::abort();
    for (int i = 0; i < service->method_count(); ++i) {
      Rpc r;
      r.method = service->method(i);
      r.path = fmt::format("/{}/{}", service->full_name(), r.method->name());
      r.target = TargetOf(service);
      auto seed = seeds.find(r.method->name());
      if (seed != seeds.end()) r.seed_text = seed->second;
      if (service->name() == "AdminService") {
        Rpc proxied = r;  // the same calls through a broker's AdminProxy
        proxied.target = Target::kBrokerClient;
        world->rpcs.push_back(std::move(proxied));
      }
      world->rpcs.push_back(std::move(r));
    }
  }
  // The broker's own Raft listener (the metadata log from the controllers) too.
  {
    Rpc r = world->rpcs.back();
    r.target = Target::kBrokerController;
    world->rpcs.push_back(std::move(r));
  }
  // The broker's GroupService (consumer groups).
  {
    const pb::ServiceDescriptor* service =
        pb::DescriptorPool::generated_pool()->FindServiceByName("strand.group.v1.GroupService");
    if (service == nullptr) std::abort();
    for (int i = 0; i < service->method_count(); ++i) {
      Rpc r;
      r.method = service->method(i);
      r.path = fmt::format("/{}/{}", service->full_name(), r.method->name());
      r.target = TargetOf(service);
      auto seed = seeds.find(r.method->name());
      if (seed != seeds.end()) r.seed_text = seed->second;
      world->rpcs.push_back(std::move(r));
    }
  }

  if (const char* dir = std::getenv("STRAND_FUZZ_WRITE_SEEDS")) {
    std::filesystem::create_directories(dir);
    for (size_t i = 0; i < world->rpcs.size(); ++i) {
      const Rpc& r = world->rpcs[i];
      std::ofstream out(fmt::format("{}/{:02}-{}", dir, i, r.method->name()), std::ios::binary);
      out.put(static_cast<char>(i));
      out << SeedBytes(r);
    }
    std::fprintf(stderr, "service_fuzz: wrote %zu seeds to %s\n", world->rpcs.size(), dir);
    std::error_code ignored;
    std::filesystem::remove_all(world->dir, ignored);
    std::_Exit(0);
  }

  // The cluster serves: the broker is registered and a topic exists.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool ready = false;
  while (!ready && std::chrono::steady_clock::now() < until) {
    ready = CreateFuzzTopic();
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!ready) {
    std::fprintf(stderr, "service_fuzz: the in-process cluster never served\n");
    std::exit(1);
  }

  // Every handler is reached by its seed.
  bool all = true;
  for (Rpc& r : world->rpcs) {
    const grpc::Status s = Call(r, SeedBytes(r));
    if (!Entered(s)) {
      std::fprintf(stderr, "service_fuzz: %s did not reach its handler: %d %s\n", r.path.c_str(),
                   static_cast<int>(s.error_code()), s.error_message().c_str());
      all = false;
    }
  }
  if (!all) std::exit(1);
  std::atexit(PrintEntered);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  Start();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Rpc& rpc = world->rpcs[data[0] % world->rpcs.size()];
  const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  const grpc::Status s = Call(rpc, bytes);
  ++world->inputs;
  if (Entered(s)) ++rpc.entered;
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    // The server must keep answering: a second try after a moment, then fail loudly.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    grpc::Status again = Call(world->rpcs[0], "");
    if (again.error_code() == grpc::StatusCode::UNAVAILABLE) {
      std::fprintf(stderr, "service_fuzz: the server stopped answering after %s: %s\n",
                   rpc.path.c_str(), again.error_message().c_str());
      __builtin_trap();
    }
  }
  // Inputs may delete the topic the seeds use: bring it back now and then.
  if (world->inputs % 500 == 0) CreateFuzzTopic();
  return 0;
}
