// End-to-end test of the operator surface on real processes: three strand-server controllers on
// 127.0.0.1, three brokers stood in for by BrokerLifecycle sessions, and the real `strand`
// binary driving topics, configs and cluster description — output parsed, exit codes checked.
// Also checks what grpcurl and Kubernetes probes rely on: server reflection lists Strand's
// services and serves their descriptors, and grpc.health.v1 answers SERVING.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "broker/lifecycle/broker_lifecycle.h"
#include "proto/health/v1/health.grpc.pb.h"
#include "tests/integration/protocol/reflection_client.grpc.pb.h"
#include "tests/integration/test_process.h"

namespace strand::controller {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using broker::BrokerLifecycle;
using broker::BrokerLifecycleOptions;
using strand::testing::ChildProcess;

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class CliEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string quorum;
    for (int id = 1; id <= 3; ++id) {
      const int port = strand::testing::FreePort();
      addresses_.push_back(fmt::format("127.0.0.1:{}", port));
      voters_[NodeId(id)] = addresses_.back();
      quorum += fmt::format("{}{}@{}", id == 1 ? "" : ",", id, addresses_.back());
    }
    bootstrap_ = fmt::format("{},{},{}", addresses_[0], addresses_[1], addresses_[2]);
    for (int id = 1; id <= 3; ++id) {
      nodes_.push_back(std::make_unique<ChildProcess>(
          "strand-server",
          std::vector<std::string>{"--node-id=" + std::to_string(id),
                                   "--controller-quorum=" + quorum,
                                   "--config=listeners=CONTROLLER://" + addresses_[static_cast<size_t>(id - 1)],
 "--config=controller.listener.names=CONTROLLER",
                                   fmt::format("--data-dir={}/c{}", dir_.path(), id),
                                   "--cluster-id=e2e", "--config=num.partitions=2",
                                   fmt::format("--metrics-listen=127.0.0.1:{}",
                                               strand::testing::FreePort())},
          fmt::format("{}/c{}.log", dir_.path(), id)));
    }
    for (int id = 101; id <= 103; ++id) {
      BrokerLifecycleOptions o;
      o.cluster_id = "e2e";
      o.broker_id = NodeId(id);
      v1::Listener l;
      l.set_name("CLIENT");
      l.set_host("127.0.0.1");
      l.set_port(30000 + id);
      o.listeners = {l};
      o.rack = fmt::format("rack-{}", id % 3);
      o.controllers = voters_;
      brokers_.push_back(std::make_unique<BrokerLifecycle>(o, [] { return UINT64_MAX; }));
      brokers_.back()->Start();
    }
    for (auto& b : brokers_) ASSERT_TRUE(b->WaitUnfenced(20s));
  }

  CliResult Strand(std::vector<std::string> args) {
    const std::string out = fmt::format("{}/cli-{}.out", dir_.path(), runs_);
    const std::string err = fmt::format("{}/cli-{}.err", dir_.path(), runs_++);
    std::vector<std::string> argv{"--bootstrap", bootstrap_};
    argv.insert(argv.end(), args.begin(), args.end());
    // stdout and stderr are told apart by a wrapper: the CLI prints results to stdout only.
    std::vector<std::string> shell{"-c", fmt::format("exec \"$0\" \"$@\" >{} 2>{}", out, err),
                                   strand::testing::BinDir() + "/strand"};
    shell.insert(shell.end(), argv.begin(), argv.end());
    CliResult r;
    pid_t pid = fork();
    if (pid == 0) {
      std::vector<char*> c_args;
      c_args.push_back(const_cast<char*>("/bin/sh"));
      for (auto& a : shell) c_args.push_back(const_cast<char*>(a.c_str()));
      c_args.push_back(nullptr);
      execv("/bin/sh", c_args.data());
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream o(out), e(err);
    r.out.assign(std::istreambuf_iterator<char>(o), {});
    r.err.assign(std::istreambuf_iterator<char>(e), {});
    return r;
  }

  strand::testing::TempDir dir_{"strand-cli-e2e"};
  std::vector<std::string> addresses_;
  std::map<NodeId, std::string> voters_;
  std::string bootstrap_;
  std::vector<std::unique_ptr<ChildProcess>> nodes_;
  std::vector<std::unique_ptr<BrokerLifecycle>> brokers_;
  int runs_ = 0;
};

TEST_F(CliEndToEndTest, TopicsConfigsAndCluster) {
  auto created = Strand({"topics", "create", "orders", "--partitions", "6",
                         "--replication-factor", "3", "--config", "retention.ms=3600000"});
  ASSERT_EQ(created.exit_code, 0) << created.err;

  auto described = Strand({"topics", "describe", "orders", "--json"});
  ASSERT_EQ(described.exit_code, 0) << described.err;
  json topic = json::parse(described.out);
  EXPECT_EQ(topic["name"], "orders");
  ASSERT_EQ(topic["partitions"].size(), 6u);
  for (const json& p : topic["partitions"]) {
    const int leader = p["leader"];
    EXPECT_EQ(p["replicas"].size(), 3u);
    EXPECT_NE(std::find(p["isr"].begin(), p["isr"].end(), leader), p["isr"].end());
    EXPECT_TRUE(p.contains("leader_epoch"));
    std::set<int> racks;  // rack-aware: three racks, three replicas
    for (int r : p["replicas"]) racks.insert(r % 3);
    EXPECT_EQ(racks.size(), 3u);
  }

  auto cluster = Strand({"cluster", "describe", "--json"});
  ASSERT_EQ(cluster.exit_code, 0) << cluster.err;
  json c = json::parse(cluster.out);
  EXPECT_GE(c["active_controller"].get<int>(), 1);
  EXPECT_EQ(c["controllers"].size(), 3u);
  ASSERT_EQ(c["brokers"].size(), 3u);
  for (const json& b : c["brokers"]) EXPECT_EQ(b["state"], "running");

  auto list = Strand({"topics", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find("orders"), std::string::npos);

  EXPECT_EQ(Strand({"configs", "alter", "--topic", "orders", "--set", "cleanup.policy=compact"})
                .exit_code, 0);
  auto configs = Strand({"configs", "describe", "--topic", "orders", "--json"});
  ASSERT_EQ(configs.exit_code, 0) << configs.err;
  EXPECT_NE(configs.out.find("3600000"), std::string::npos);
  EXPECT_NE(configs.out.find("compact"), std::string::npos);

  EXPECT_EQ(Strand({"topics", "add-partitions", "orders", "--partitions", "8"}).exit_code, 0);
  EXPECT_EQ(json::parse(Strand({"topics", "describe", "orders", "--json"}).out)["partitions"]
                .size(),
            8u);

  // The cluster default from --config=num.partitions=2 applies without --partitions.
  ASSERT_EQ(Strand({"topics", "create", "defaulted", "--replication-factor", "1"}).exit_code, 0);
  EXPECT_EQ(json::parse(Strand({"topics", "describe", "defaulted", "--json"}).out)["partitions"]
                .size(),
            2u);

  auto again = Strand({"topics", "create", "orders", "--partitions", "1",
                       "--replication-factor", "1"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("TOPIC_ALREADY_EXISTS"), std::string::npos);
  auto bad = Strand({"topics", "create", "bad", "--partitions", "1", "--replication-factor", "1",
                     "--config", "retention.ms=soon"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("INVALID_CONFIG"), std::string::npos);
  auto wide = Strand({"topics", "create", "wide", "--partitions", "1", "--replication-factor",
                      "4"});
  EXPECT_EQ(wide.exit_code, 1);
  EXPECT_NE(wide.err.find("INVALID_REPLICATION_FACTOR"), std::string::npos);

  EXPECT_EQ(Strand({"topics", "delete", "orders"}).exit_code, 0);
  EXPECT_EQ(Strand({"topics", "list"}).out.find("orders"), std::string::npos);
  auto missing = Strand({"topics", "describe", "orders"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("UNKNOWN_TOPIC_OR_PARTITION"), std::string::npos);
}

TEST_F(CliEndToEndTest, ReflectionAndHealth_OnEveryListener) {
  for (const std::string& address : addresses_) {
    auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    grpc::health::v1::HealthCheckResponse health;
    grpc::ClientContext health_ctx;
    ASSERT_TRUE(grpc::health::v1::Health::NewStub(channel)
                    ->Check(&health_ctx, grpc::health::v1::HealthCheckRequest(), &health)
                    .ok());
    EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING);

    grpc::ClientContext ctx;
    auto stream = grpc::reflection::v1alpha::ServerReflection::NewStub(channel)
                      ->ServerReflectionInfo(&ctx);
    grpc::reflection::v1alpha::ServerReflectionRequest list;
    list.set_list_services("");
    grpc::reflection::v1alpha::ServerReflectionResponse listed;
    ASSERT_TRUE(stream->Write(list) && stream->Read(&listed));
    std::set<std::string> services;
    for (const auto& s : listed.list_services_response().service()) services.insert(s.name());
    EXPECT_TRUE(services.count("strand.admin.v1.AdminService")) << address;
    EXPECT_TRUE(services.count("strand.controller.v1.ControllerService"));
    EXPECT_TRUE(services.count("grpc.health.v1.Health"));
    // What grpcurl needs to call CreateTopics with JSON: the method's descriptors.
    grpc::reflection::v1alpha::ServerReflectionRequest symbol;
    symbol.set_file_containing_symbol("strand.admin.v1.AdminService");
    grpc::reflection::v1alpha::ServerReflectionResponse files;
    ASSERT_TRUE(stream->Write(symbol) && stream->Read(&files));
    bool found = false;
    for (const std::string& bytes : files.file_descriptor_response().file_descriptor_proto()) {
      google::protobuf::FileDescriptorProto file;
      ASSERT_TRUE(file.ParseFromString(bytes));
      for (const auto& service : file.service()) {
        if (service.name() != "AdminService") continue;
        for (const auto& method : service.method()) found |= method.name() == "CreateTopics";
      }
    }
    EXPECT_TRUE(found);
    // What `grpcurl -plaintext HOST:PORT grpc.health.v1.Health/Check` needs: the health
    // service's descriptors, by reflection like any other service.
    grpc::reflection::v1alpha::ServerReflectionRequest health_symbol;
    health_symbol.set_file_containing_symbol("grpc.health.v1.Health");
    grpc::reflection::v1alpha::ServerReflectionResponse health_files;
    ASSERT_TRUE(stream->Write(health_symbol) && stream->Read(&health_files));
    EXPECT_FALSE(health_files.has_error_response())
        << address << ": " << health_files.error_response().error_message();
    std::set<std::string> health_methods;
    for (const std::string& bytes :
         health_files.file_descriptor_response().file_descriptor_proto()) {
      google::protobuf::FileDescriptorProto file;
      ASSERT_TRUE(file.ParseFromString(bytes));
      if (file.package() != "grpc.health.v1") continue;
      for (const auto& service : file.service()) {
        for (const auto& method : service.method()) health_methods.insert(method.name());
      }
    }
    EXPECT_EQ(health_methods, (std::set<std::string>{"Check", "Watch"})) << address;
    stream->WritesDone();
    (void)stream->Finish();
  }
}

}  // namespace
}  // namespace strand::controller
