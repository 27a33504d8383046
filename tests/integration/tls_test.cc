// mTLS on a real cluster (3 controllers, 3 brokers, every listener SSL with client certificates
// required; certificates from scripts/make-certs.sh), with plain gRPC stubs:
//
//   - the cluster works over mTLS (Raft, the ControllerService, replication, clients), and a
//     node's certificate binds what it may claim: another node's id in a follower fetch, a
//     heartbeat, a registration, AlterPartition, producer ids, the offsets topic or a Raft
//     stream is refused naming the principal, as is a client certificate on an internal plane
//     and a broker's certificate on the client plane making a follower's claim;
//   - handshakes refused: a client trusting another CA, a certificate from another CA, an
//     expired certificate, no certificate where one is required;
//   - certificates rotated to a new CA under acks=all load, the old CA dropped: no failed
//     request, the served certificate's serial changes, the old CA's certificates are refused
//     afterwards and a broker restarted on the new ones rejoins the ISR.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "proto/controller/v1/controller.grpc.pb.h"
#include "proto/raft/v1/raft.grpc.pb.h"
#include "proto/health/v1/health.grpc.pb.h"
#include "tests/integration/strand_cluster.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace av1 = admin::v1;
namespace bv1 = broker::v1;
namespace cv1 = controller::v1;
namespace rv1 = raft::v1;

ClusterOptions Tls(std::vector<std::string> extra = {}) {
  ClusterOptions o;
  o.tls = true;
  o.controller_args = extra;
  o.broker_args = extra;
  return o;
}

std::string Sh(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

std::string MakeCerts(const std::string& args) {
  return Sh(fmt::format("bash {}/scripts/make-certs.sh {} 2>&1; echo rc=$?", STRAND_SOURCE_DIR, args));
}

// The serial of the certificate a listener serves (openssl s_client, presenting `client`).
std::string ServedSerial(const std::string& address, const std::string& client_pem,
                         const std::string& ca) {
  return Sh(fmt::format("openssl s_client -connect {} -cert {} -key {} -CAfile {} </dev/null "
                        "2>/dev/null | openssl x509 -noout -serial 2>/dev/null",
                        address, client_pem, client_pem, ca));
}

grpc::Status Health(const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                    const std::string& address) {
  auto stub = grpc::health::v1::Health::NewStub(grpc::CreateChannel(address, credentials));
  grpc::ClientContext ctx;
  ctx.set_deadline(In(5s));
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  return stub->Check(&ctx, req, &resp);
}

void ExpectDenied(const grpc::Status& s, const std::string& needle) {
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_message().find(needle), std::string::npos) << s.error_message();
}

bv1::FetchRequest FollowerFetch(int replica) {
  bv1::FetchRequest req;
  req.set_replica_id(replica);
  req.set_replica_epoch(1);
  req.set_max_wait_ms(0);
  auto* t = req.add_topics();
  t->set_topic("bound");
  t->add_partitions()->set_partition(0);
  return req;
}

void ExpectAcked(StrandCluster& c, const std::string& topic) {
  TestProducer p(c, topic, 0, -1, false);
  EXPECT_TRUE(p.Send({"over mtls"}, 20s).acked);
}

TEST(TlsTest, NodesAreBoundToTheirCertificates) {
  StrandCluster c(Tls());
  ASSERT_TRUE(c.WaitForBrokers(40s));
  ASSERT_EQ(c.CreateTopic("bound", 1, 3), "NONE");
  auto view = c.WaitForPartition("bound", 0, 20s, 3);
  ASSERT_TRUE(view);
  ExpectAcked(c, "bound");  // replication and the controllers work over mTLS
  const int leader = view->leader;
  const int other = leader == 101 ? 102 : 101;     // a real follower
  const int third = 101 + 102 + 103 - leader - other;

  // Follower fetches: another node's certificate, a client's, and a broker's on the client plane.
  {
    auto as_other = bv1::BrokerService::NewStub(grpc::CreateChannel(
        c.address(leader, Listener::kReplication), c.credentials(fmt::format("node-{}", other))));
    grpc::ClientContext ctx;
    bv1::FetchResponse resp;
    ExpectDenied(as_other->Fetch(&ctx, FollowerFetch(third), &resp),
                 fmt::format("principal 'strand-node-{}' is node {}, not node {}", other, other,
                             third));
    auto as_client = bv1::BrokerService::NewStub(c.Channel(leader, Listener::kReplication));
    grpc::ClientContext ctx2;
    ExpectDenied(as_client->Fetch(&ctx2, FollowerFetch(other), &resp),
                 "principal 'test' is not a cluster node");
    auto on_client_plane = bv1::BrokerService::NewStub(grpc::CreateChannel(
        c.address(leader, Listener::kClient), c.credentials(fmt::format("node-{}", other))));
    grpc::ClientContext ctx3;
    ExpectDenied(on_client_plane->Fetch(&ctx3, FollowerFetch(other), &resp), "listener CLIENT");
  }

  // The ControllerService: every request names a broker, and only that broker's certificate
  // may send it.
  grpc::ClientContext dctx;
  av1::DescribeClusterResponse described;
  ASSERT_TRUE(c.admin().DescribeCluster(&dctx, {}, &described).ok());
  const int active = described.active_controller();
  auto as_102 = cv1::ControllerService::NewStub(
      grpc::CreateChannel(c.address(active, Listener::kController), c.credentials("node-102")));
  {
    grpc::ClientContext ctx;
    cv1::RegisterBrokerRequest req;
    req.set_broker_id(101);
    cv1::RegisterBrokerResponse resp;
    ExpectDenied(as_102->RegisterBroker(&ctx, req, &resp),
                 "RegisterBroker for broker 101 refused on listener CONTROLLER: principal "
                 "'strand-node-102' is node 102, not node 101");
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(5s));
    auto stream = as_102->BrokerHeartbeat(&ctx);
    cv1::BrokerHeartbeatRequest hb;
    hb.set_broker_id(101);
    hb.set_want_shut_down(true);
    stream->Write(hb);
    stream->WritesDone();
    cv1::BrokerHeartbeatResponse r;
    while (stream->Read(&r)) ADD_FAILURE() << "a heartbeat for broker 101 was answered";
    ExpectDenied(stream->Finish(), "principal 'strand-node-102' is node 102, not node 101");
  }
  {
    grpc::ClientContext ctx;
    cv1::AlterPartitionRequest req;
    req.set_broker_id(101);
    cv1::AlterPartitionResponse resp;
    ExpectDenied(as_102->AlterPartition(&ctx, req, &resp), "not node 101");
    grpc::ClientContext ctx2;
    cv1::AllocateProducerIdsRequest ids;
    ids.set_broker_id(101);
    cv1::AllocateProducerIdsResponse ids_resp;
    ExpectDenied(as_102->AllocateProducerIds(&ctx2, ids, &ids_resp), "not node 101");
    grpc::ClientContext ctx4;
    cv1::CreateOffsetsTopicRequest offsets;
    offsets.set_broker_id(101);
    cv1::CreateOffsetsTopicResponse offsets_resp;
    ExpectDenied(as_102->CreateOffsetsTopic(&ctx4, offsets, &offsets_resp),
                 "CreateOffsetsTopic for broker 101 refused on listener CONTROLLER: principal "
                 "'strand-node-102' is node 102, not node 101");
    // A client certificate is no broker at all.
    auto as_client =
        cv1::ControllerService::NewStub(c.Channel(active, Listener::kController));
    grpc::ClientContext ctx3;
    ExpectDenied(as_client->AlterPartition(&ctx3, req, &resp),
                 "principal 'test' is not a cluster node");
  }

  // Raft streams: a controller's certificate claiming another controller, and a broker's
  // certificate pushing a broker the metadata log.
  auto raft_stream = [&](int node, Listener listener, const std::string& cert, int from) {
    auto stub = rv1::RaftTransport::NewStub(
        grpc::CreateChannel(c.address(node, listener), c.credentials(cert)));
    grpc::ClientContext ctx;
    ctx.set_deadline(In(5s));
    rv1::StreamSummary summary;
    auto writer = stub->Stream(&ctx, &summary);
    rv1::MessageBatch batch;
    batch.set_cluster_id("it");
    batch.set_from(from);
    writer->Write(batch);
    writer->WritesDone();
    return writer->Finish();
  };
  const int follower_controller = active == 1 ? 2 : 1;
  const int third_controller = 1 + 2 + 3 - active - follower_controller;
  ExpectDenied(raft_stream(follower_controller, Listener::kController,
                           fmt::format("node-{}", third_controller), active),
               fmt::format("a Raft stream from node {} refused on listener CONTROLLER", active));
  ExpectDenied(raft_stream(101, Listener::kController, "node-102", 102), "node 102 is not a controller");
  ExpectDenied(raft_stream(101, Listener::kController, "node-102", active),
               fmt::format("principal 'strand-node-102' is node 102, not node {}", active));

  // Nothing moved: the same leader, a whole ISR, every process up, writes acknowledged.
  std::this_thread::sleep_for(1s);
  auto after = c.Partition("bound", 0);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->leader, leader);
  EXPECT_EQ(after->isr.size(), 3u);
  for (int node : {1, 2, 3, 101, 102, 103}) EXPECT_TRUE(c.running(node)) << node;
  ExpectAcked(c, "bound");
}

TEST(TlsTest, HandshakesWithoutAValidCertificateAreRefused) {
  StrandCluster c(Tls());
  ASSERT_TRUE(c.WaitForBrokers(40s));
  const std::string certs = c.certs_dir();
  const std::string other = certs + "-other";
  ASSERT_NE(MakeCerts(fmt::format("--dir {} --nodes 101 --clients test --ca-name other-ca", other))
                .find("rc=0"),
            std::string::npos);
  ASSERT_NE(MakeCerts(fmt::format("--dir {} --keep-ca --clients expired --days 0", certs))
                .find("rc=0"),
            std::string::npos);
  const std::string client = c.address(101);
  const std::string controller = c.address(1);
  // The right certificate works (the baseline for each refusal below).
  EXPECT_TRUE(Health(c.credentials(), client).ok());
  struct Case {
    std::string what;
    std::shared_ptr<grpc::ChannelCredentials> credentials;
  };
  std::vector<Case> cases = {
      {"the client trusts another CA",
       TlsCredentials(certs + "/client-test.pem", other + "/ca.pem")},
      {"a certificate from another CA",
       TlsCredentials(other + "/client-test.pem", certs + "/ca.pem")},
      {"an expired certificate", TlsCredentials(certs + "/client-expired.pem", certs + "/ca.pem")},
      {"no certificate", TlsCredentials("", certs + "/ca.pem")},
      {"plaintext to a TLS listener", grpc::InsecureChannelCredentials()},
  };
  for (const Case& k : cases) {
    for (const std::string& address : {client, controller, c.address(102, Listener::kReplication)}) {
      grpc::Status s = Health(k.credentials, address);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
          << k.what << " at " << address << ": " << s.error_message();
    }
  }
  for (int node : {1, 2, 3, 101, 102, 103}) EXPECT_TRUE(c.running(node)) << node;
  EXPECT_TRUE(Health(c.credentials(), client).ok());
}

TEST(TlsTest, RotationToANewCaUnderLoad_NoFailedRequest) {
  StrandCluster c(Tls({"--config=strand.ssl.refresh.interval.ms=1000"}));
  ASSERT_TRUE(c.WaitForBrokers(40s));
  ASSERT_EQ(c.CreateTopic("rotate", 1, 3), "NONE");
  ASSERT_TRUE(c.WaitForPartition("rotate", 0, 20s, 3));
  const std::string certs = c.certs_dir();
  const std::string next = certs + "-next";
  ASSERT_NE(MakeCerts(fmt::format("--dir {} --nodes 1,2,3,101,102,103 --clients test --ca-name "
                                  "strand-ca-2",
                                  next))
                .find("rc=0"),
            std::string::npos);
  // The test keeps its own copies of the old client files (the cluster's are rewritten).
  const std::string old_dir = certs + "-old";
  std::filesystem::copy(certs, old_dir);
  const std::string before = ServedSerial(c.address(101), old_dir + "/client-test.pem", old_dir + "/ca.pem");
  ASSERT_NE(before.find("serial="), std::string::npos) << before;

  // acks=all load for the whole rotation; the producer's connections were made with the old
  // certificates and stay up (TLS is checked at the handshake).
  std::atomic<bool> stop{false};
  std::atomic<int> acked{0}, failed{0};
  std::thread load([&] {
    TestProducer p(c, "rotate", 0, -1, true);
    const auto end = Clock::now() + 60s;
    while (!stop && Clock::now() < end) {
      SendResult r = p.Send({fmt::format("v{}", acked.load())}, 15s);
      (r.acked ? acked : failed)++;
      std::this_thread::sleep_for(5ms);
    }
  });
  auto replace = [](const std::string& from, const std::string& to) {
    const std::string tmp = to + ".tmp";
    std::filesystem::copy_file(from, tmp, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::rename(tmp, to);
  };
  auto wait_reload = [] { std::this_thread::sleep_for(3s); };
  // 1. Trust both CAs everywhere.
  {
    std::ofstream bundle(certs + "/bundle.pem");
    bundle << std::ifstream(old_dir + "/ca.pem").rdbuf() << std::ifstream(next + "/ca.pem").rdbuf();
  }
  replace(certs + "/bundle.pem", certs + "/ca.pem");
  wait_reload();
  // 2. Every node presents a certificate from the new CA (and so does the test from now on).
  for (int node : {1, 2, 3, 101, 102, 103}) {
    replace(fmt::format("{}/node-{}.pem", next, node), fmt::format("{}/node-{}.pem", certs, node));
  }
  replace(next + "/client-test.pem", certs + "/client-test.pem");
  wait_reload();
  // 3. Drop the old CA.
  replace(next + "/ca.pem", certs + "/ca.pem");
  wait_reload();
  const int acked_during_rotation = acked.load();

  const std::string after = ServedSerial(c.address(101), next + "/client-test.pem", next + "/ca.pem");
  ASSERT_NE(after.find("serial="), std::string::npos) << after;
  EXPECT_NE(before, after) << "the served certificate did not change";
  EXPECT_TRUE(Health(TlsCredentials(next + "/client-test.pem", next + "/ca.pem"), c.address(102)).ok());
  EXPECT_EQ(Health(TlsCredentials(old_dir + "/client-test.pem", next + "/ca.pem"), c.address(102))
                .error_code(),
            grpc::StatusCode::UNAVAILABLE)
      << "a certificate of the dropped CA was accepted";
  EXPECT_EQ(Health(TlsCredentials(next + "/client-test.pem", old_dir + "/ca.pem"), c.address(102))
                .error_code(),
            grpc::StatusCode::UNAVAILABLE)
      << "the server still presents a certificate of the old CA";
  // A broker restarted now makes every internal connection anew, on the new CA only.
  auto view = c.Partition("rotate", 0);
  ASSERT_TRUE(view);
  const int restarted = view->leader == 103 ? 102 : 103;
  c.Stop(restarted, 10s);
  c.Start(restarted);
  bool rejoined = false;
  for (auto end = Clock::now() + 40s; Clock::now() < end && !rejoined;) {
    auto v = c.Partition("rotate", 0);
    rejoined = v && v->isr.size() == 3;
    if (!rejoined) std::this_thread::sleep_for(200ms);
  }
  stop = true;
  load.join();
  EXPECT_TRUE(rejoined) << "broker " << restarted << " did not rejoin the ISR on new certificates";
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(acked_during_rotation, 50);
  std::printf("rotation: %d acks=all writes acknowledged during the rotation, %d in all, %d "
              "failed; serial %s -> %s",
              acked_during_rotation, acked.load(), failed.load(), before.c_str(), after.c_str());
}

}  // namespace
}  // namespace strand::testing
