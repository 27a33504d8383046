// Forged requests on a real cluster (3 controllers, 3 brokers), sent with plain gRPC stubs the
// way anyone on the network could: every forgery is refused, no process dies, and the cluster
// keeps serving.
//
//   - Raft: a snapshot chunk overrunning its declared size sent to all six processes (it used to
//     abort each of them), a term of 2^64-1, a vote request from a node outside the quorum, an
//     observer join claiming a broker's id with another address (the metadata log used to
//     follow the claim);
//   - follower fetches claiming a real follower's id with a huge or guessed broker epoch: with
//     both real followers stopped, an acks=all write stays unacknowledged (forged fetches used to
//     move the high watermark and acknowledge it), and after the followers return and the
//     leader is killed, nothing acknowledged is lost;
//   - BrokerHeartbeat with want_shut_down, AlterPartition, AllocateProducerIds and
//     CreateOffsetsTopic for real brokers without their registration's incarnation id
//     (DescribeCluster no longer publishes broker epochs or incarnation ids);
//   - long polls past strand.fetch.waiting.max are answered at once instead of parked;
//   - a call on a listener whose plane does not carry it is refused, naming the listener;
//   - Fetch bytes that do not parse (the broker parses Fetch itself, a raw method) are refused
//     with INVALID_ARGUMENT.
#include <signal.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "proto/broker/v1/fault.grpc.pb.h"
#include "proto/controller/v1/controller.grpc.pb.h"
#include "proto/health/v1/health.grpc.pb.h"
#include "proto/raft/v1/raft.grpc.pb.h"
#include "tests/integration/strand_cluster.h"
#include "tests/raw_unary_call.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace av1 = admin::v1;
namespace bv1 = broker::v1;
namespace cv1 = controller::v1;
namespace rv1 = raft::v1;

std::shared_ptr<grpc::Channel> Channel(StrandCluster& c, int node,
                                      Listener listener = Listener::kClient) {
  return c.Channel(node, listener);
}

std::optional<av1::DescribeClusterResponse> Describe(StrandCluster& c) {
  grpc::ClientContext ctx;
  ctx.set_wait_for_ready(true);
  ctx.set_deadline(In(5s));
  av1::DescribeClusterResponse resp;
  if (!c.admin().DescribeCluster(&ctx, {}, &resp).ok()) return std::nullopt;
  return resp;
}

// Sends `messages` to `node` on one Raft stream, as node `from` of cluster "it" (claiming to
// listen at `from_address` when not empty), on the given listener.
grpc::Status SendRaft(StrandCluster& c, int node, int from, const std::vector<rv1::Message>& messages,
                      const std::string& from_address = "",
                      Listener listener = Listener::kController) {
  auto stub = rv1::RaftTransport::NewStub(Channel(c, node, listener));
  grpc::ClientContext ctx;
  ctx.set_deadline(In(3s));
  rv1::StreamSummary summary;
  auto writer = stub->Stream(&ctx, &summary);
  rv1::MessageBatch batch;
  batch.set_cluster_id("it");
  batch.set_from(from);
  batch.set_from_address(from_address);
  for (const auto& m : messages) *batch.add_messages() = m;
  writer->Write(batch);
  writer->WritesDone();
  return writer->Finish();
}

// The cluster still serves: a topic can be created and written with acks=all.
void ExpectServing(StrandCluster& c, const std::string& topic, int replicas = 3) {
  ASSERT_EQ(c.CreateTopic(topic, 1, replicas), "NONE");
  ASSERT_TRUE(c.WaitForPartition(topic, 0, 20s, static_cast<size_t>(replicas)));
  TestProducer p(c, topic, 0, -1, false);
  EXPECT_TRUE(p.Send({"alive"}, 20s).acked);
}

void ExpectAllRunning(StrandCluster& c) {
  for (int node : {1, 2, 3, 101, 102, 103}) EXPECT_TRUE(c.running(node)) << "node " << node;
}

TEST(ForgedRequestsTest, RaftForgeries_NoProcessDiesAndTheQuorumCarriesOn) {
  StrandCluster c;
  ASSERT_TRUE(c.WaitForBrokers(30s));
  auto before = Describe(c);
  ASSERT_TRUE(before && before->active_controller() > 0);
  const uint64_t term = before->controller_term();
  const int leader = before->active_controller();
  // A chunk of 64 bytes for a snapshot declared as 8, "from the leader" in its current term, to
  // every process; then a "last" chunk that ends short.
  for (int node : {1, 2, 3, 101, 102, 103}) {
    if (node == leader) continue;
    rv1::Message overrun;
    overrun.set_type(rv1::SNAPSHOT_CHUNK);
    overrun.set_from(leader);
    overrun.set_to(node);
    overrun.set_term(term);
    overrun.mutable_snapshot()->set_index(1'000'000);
    overrun.mutable_snapshot()->set_term(term);
    overrun.set_snapshot_offset(0);
    overrun.set_snapshot_size(8);
    overrun.set_snapshot_chunk(std::string(64, 'x'));
    rv1::Message short_last = overrun;
    short_last.set_snapshot_size(100);
    short_last.set_snapshot_done(true);
    SendRaft(c, node, leader, {overrun, short_last});
    if (node > 100) {  // a broker's other listeners do not take Raft traffic at all
      for (Listener l : {Listener::kClient, Listener::kReplication}) {
        grpc::Status st = SendRaft(c, node, leader, {overrun, short_last}, "", l);
        EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED) << st.error_message();
      }
    }
  }
  // A term at the top of the range, and a vote request from outside the quorum.
  for (int node : {1, 2, 3}) {
    rv1::Message max_term;
    max_term.set_type(rv1::HEARTBEAT);
    max_term.set_from(node == 1 ? 2 : 1);
    max_term.set_to(node);
    max_term.set_term(~uint64_t{0});
    SendRaft(c, node, max_term.from(), {max_term});
    rv1::Message vote;
    vote.set_type(rv1::VOTE);
    vote.set_from(999);
    vote.set_to(node);
    vote.set_term(term + 10);
    vote.set_index(1'000'000);
    vote.set_log_term(term + 10);
    SendRaft(c, node, 999, {vote});
  }
  // An observer join claiming broker 101 at another address: the metadata log must keep going
  // to where broker 101 registered.
  for (int node : {1, 2, 3}) {
    rv1::Message join;
    join.set_type(rv1::OBSERVER_JOIN);
    join.set_from(101);
    join.set_to(node);
    SendRaft(c, node, 101, {join}, "127.0.0.1:1");
  }
  std::this_thread::sleep_for(1s);
  ExpectAllRunning(c);
  auto after = Describe(c);
  ASSERT_TRUE(after);
  EXPECT_LT(after->controller_term(), term + 5) << "a forged term was adopted";
  ExpectServing(c, "after-raft-forgeries");
  // Broker 101 still follows the metadata log.
  bool known = false;
  for (int attempt = 0; attempt < 100 && !known; ++attempt) {
    bv1::MetadataRequest req;
    req.add_topics("after-raft-forgeries");
    grpc::ClientContext ctx;
    ctx.set_deadline(In(2s));
    bv1::MetadataResponse resp;
    known = c.broker(101).Metadata(&ctx, req, &resp).ok() && resp.topics_size() == 1 &&
            resp.topics(0).error().code() == 0;
    if (!known) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(known) << "broker 101 stopped receiving the metadata log";
  ExpectAllRunning(c);
}

TEST(ForgedRequestsTest, ForgedFollowerFetches_NeverAcknowledgeAWrite) {
  StrandCluster c;
  ASSERT_TRUE(c.WaitForBrokers(30s));
  // min.insync.replicas=2: when the stopped followers are fenced (after the 3 s session
  // timeout) the ISR shrinks to the leader alone, which must not commit anything either.
  ASSERT_EQ(c.CreateTopic("victim", 1, 3, {{"min.insync.replicas", "2"}}), "NONE");
  auto view = c.WaitForPartition("victim", 0, 20s, 3);
  ASSERT_TRUE(view);
  TestProducer producer(c, "victim", 0, -1, false);
  ASSERT_TRUE(producer.Send({"before"}, 20s).acked);
  std::vector<int> followers;
  for (int r : view->replicas) {
    if (r != view->leader) followers.push_back(r);
  }
  ASSERT_EQ(followers.size(), 2u);
  for (int f : followers) c.Pause(f);

  // Forged fetches "from" each follower while an acks=all write waits at the leader.
  std::atomic<bool> stop{false};
  std::atomic<int> refused{0}, served{0}, wrong_plane{0};
  std::thread forger([&] {
    // On the inter-broker listener (where followers fetch) and on the client listener (which
    // refuses follower fetches outright).
    auto replication = bv1::BrokerService::NewStub(Channel(c, view->leader, Listener::kReplication));
    auto client = bv1::BrokerService::NewStub(Channel(c, view->leader, Listener::kClient));
    int64_t guess = 1;
    while (!stop) {
      for (int f : followers) {
        auto& stub = guess % 3 == 0 ? client : replication;
        bv1::FetchRequest req;
        req.set_replica_id(f);
        // Alternately a huge epoch and a guessed small one (epochs are metadata offsets).
        req.set_replica_epoch(guess % 2 ? (int64_t{1} << 60) : guess);
        req.set_max_wait_ms(0);
        auto* t = req.add_topics();
        t->set_topic("victim");
        auto* p = t->add_partitions();
        p->set_partition(0);
        p->set_fetch_offset(1'000);
        p->set_durable_offset(1'000);
        p->set_current_leader_epoch(view->leader_epoch);
        p->set_last_fetched_epoch(view->leader_epoch);
        grpc::ClientContext ctx;
        ctx.set_deadline(In(2s));
        bv1::FetchResponse resp;
        grpc::Status st = stub->Fetch(&ctx, req, &resp);
        if (st.error_code() == grpc::StatusCode::PERMISSION_DENIED) ++wrong_plane;
        if (!st.ok()) continue;
        (resp.error().code() != 0 ? refused : served)++;
      }
      guess = guess % 400 + 1;
    }
  });
  const SendResult during = producer.SendTo(view->leader, {"during"}, 6s);
  stop = true;
  forger.join();
  EXPECT_FALSE(during.acked) << "acknowledged while no real follower had the record";
  EXPECT_GT(refused.load(), 50);
  EXPECT_GT(wrong_plane.load(), 20);
  EXPECT_EQ(served.load(), 0) << "a forged follower fetch was served";

  // The real followers return: the write completes (a retry), and a leader kill loses nothing
  // that was acknowledged.
  for (int f : followers) c.Resume(f);
  const SendResult retried = producer.Send({"after"}, 30s);
  ASSERT_TRUE(retried.acked) << retried.error;
  ASSERT_TRUE(c.WaitForPartition("victim", 0, 30s, 3));
  c.Kill(view->leader);
  auto next = c.WaitForPartition("victim", 0, 30s, 0, view->leader);
  ASSERT_TRUE(next);
  // (The new leader's high watermark catches up with what it holds once a follower fetches.)
  std::vector<std::string> values;
  auto has = [&](const char* v) {
    return std::find(values.begin(), values.end(), v) != values.end();
  };
  for (int attempt = 0; attempt < 200 && !(has("before") && has("after")); ++attempt) {
    auto records = c.ReadAll("victim", 0, next->leader);
    values.clear();
    if (records.ok()) {
      for (const auto& r : *records) values.push_back(r.value);
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(std::find(values.begin(), values.end(), "before"), values.end());
  EXPECT_NE(std::find(values.begin(), values.end(), "after"), values.end());
}

TEST(ForgedRequestsTest, ForgedBrokerRequests_AreRefused) {
  StrandCluster c;
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(c.CreateTopic("steady", 3, 3), "NONE");
  for (int p = 0; p < 3; ++p) ASSERT_TRUE(c.WaitForPartition("steady", p, 20s, 3));
  auto cluster = Describe(c);
  ASSERT_TRUE(cluster);
  for (const auto& b : cluster->brokers()) {
    EXPECT_EQ(b.broker_epoch(), 0) << "DescribeCluster publishes broker epochs";
    EXPECT_TRUE(b.incarnation_id().empty()) << "DescribeCluster publishes incarnation ids";
  }
  const int active = cluster->active_controller();
  auto controller = cv1::ControllerService::NewStub(Channel(c, active, Listener::kController));
  std::vector<int> leaders_before;
  for (int p = 0; p < 3; ++p) leaders_before.push_back(c.Partition("steady", p)->leader);
  // Heartbeats asking to shut every broker down, over a range of guessed epochs.
  int refused = 0;
  for (int broker : c.broker_ids()) {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10s));
    auto stream = controller->BrokerHeartbeat(&ctx);
    for (int64_t epoch = 1; epoch <= 300; ++epoch) {
      cv1::BrokerHeartbeatRequest hb;
      hb.set_broker_id(broker);
      hb.set_broker_epoch(epoch);
      hb.set_metadata_offset(1'000'000);
      hb.set_want_shut_down(true);
      cv1::BrokerHeartbeatResponse r;
      if (!stream->Write(hb) || !stream->Read(&r)) break;
      if (r.error().code() != 0) ++refused;
      EXPECT_FALSE(r.should_shut_down());
    }
    stream->WritesDone();
    ctx.TryCancel();
    (void)stream->Finish();
  }
  EXPECT_EQ(refused, 900);
  // AlterPartition and producer-id blocks in the leader's name, over guessed epochs.
  for (int64_t epoch = 1; epoch <= 300; ++epoch) {
    cv1::AlterPartitionRequest alter;
    alter.set_broker_id(leaders_before[0]);
    alter.set_broker_epoch(epoch);
    grpc::ClientContext ctx;
    ctx.set_deadline(In(5s));
    cv1::AlterPartitionResponse r;
    ASSERT_TRUE(controller->AlterPartition(&ctx, alter, &r).ok());
    EXPECT_NE(r.error().code(), 0) << "epoch " << epoch;
    cv1::AllocateProducerIdsRequest ids;
    ids.set_broker_id(leaders_before[0]);
    ids.set_broker_epoch(epoch);
    grpc::ClientContext ids_ctx;
    ids_ctx.set_deadline(In(5s));
    cv1::AllocateProducerIdsResponse ids_resp;
    ASSERT_TRUE(controller->AllocateProducerIds(&ids_ctx, ids, &ids_resp).ok());
    EXPECT_NE(ids_resp.error().code(), 0) << "epoch " << epoch;
    cv1::CreateOffsetsTopicRequest offsets;
    offsets.set_broker_id(leaders_before[0]);
    offsets.set_broker_epoch(epoch);
    grpc::ClientContext offsets_ctx;
    offsets_ctx.set_deadline(In(5s));
    cv1::CreateOffsetsTopicResponse offsets_resp;
    ASSERT_TRUE(controller->CreateOffsetsTopic(&offsets_ctx, offsets, &offsets_resp).ok());
    EXPECT_EQ(offsets_resp.error().name(), "STALE_BROKER_EPOCH") << "epoch " << epoch;
  }
  // No forged request created the offsets topic.
  EXPECT_FALSE(c.Partition("__consumer_offsets", 0).has_value());
  // Nothing moved: every broker runs, leads what it led, and the ISRs are whole.
  std::this_thread::sleep_for(1s);
  auto after = Describe(c);
  ASSERT_TRUE(after);
  for (const auto& b : after->brokers()) EXPECT_EQ(b.state(), av1::RUNNING) << b.id();
  for (int p = 0; p < 3; ++p) {
    auto v = c.Partition("steady", p);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->leader, leaders_before[static_cast<size_t>(p)]);
    EXPECT_EQ(v->isr.size(), 3u);
  }
  ExpectAllRunning(c);
}

// Each listener serves only its plane: a call for another plane is refused with an error that
// names the listener, and health answers on every listener.
TEST(ForgedRequestsTest, CallsOnTheWrongPlane_AreRefusedNamingTheListener) {
  ClusterOptions o;
  o.controllers = 1;
  o.brokers = 1;
  o.broker_args = {"--enable-fault-injection"};
  StrandCluster c(o);
  ASSERT_TRUE(c.WaitForBrokers(30s));
  const int b = 101;
  auto expect_refused = [](const grpc::Status& st, grpc::StatusCode code, const char* listener) {
    EXPECT_EQ(st.error_code(), code) << st.error_message();
    EXPECT_NE(st.error_message().find(fmt::format("listener {}", listener)), std::string::npos)
        << st.error_message();
  };
  // Metadata, produce and consumer fetches are client-plane calls.
  {
    grpc::ClientContext ctx;
    bv1::MetadataResponse resp;
    expect_refused(bv1::BrokerService::NewStub(Channel(c, b, Listener::kReplication))
                       ->Metadata(&ctx, {}, &resp),
                   grpc::StatusCode::PERMISSION_DENIED, "REPLICATION");
  }
  {
    grpc::ClientContext ctx;
    bv1::ProduceResponse resp;
    expect_refused(bv1::BrokerService::NewStub(Channel(c, b, Listener::kReplication))
                       ->Produce(&ctx, {}, &resp),
                   grpc::StatusCode::PERMISSION_DENIED, "REPLICATION");
  }
  {
    grpc::ClientContext ctx;
    bv1::FetchRequest req;
    req.set_replica_id(102);
    bv1::FetchResponse resp;
    expect_refused(bv1::BrokerService::NewStub(Channel(c, b, Listener::kClient))
                       ->Fetch(&ctx, req, &resp),
                   grpc::StatusCode::PERMISSION_DENIED, "CLIENT");
  }
  // The broker's controller listener takes only the metadata log.
  {
    grpc::ClientContext ctx;
    bv1::MetadataResponse resp;
    expect_refused(bv1::BrokerService::NewStub(Channel(c, b, Listener::kController))
                       ->Metadata(&ctx, {}, &resp),
                   grpc::StatusCode::UNIMPLEMENTED, "CONTROLLER");
  }
  // Fault injection is on the internal replication plane only.
  {
    grpc::ClientContext ctx;
    bv1::SetFaultsResponse resp;
    expect_refused(bv1::FaultInjectionService::NewStub(Channel(c, b, Listener::kClient))
                       ->SetFaults(&ctx, {}, &resp),
                   grpc::StatusCode::UNIMPLEMENTED, "CLIENT");
    grpc::ClientContext ok_ctx;
    EXPECT_TRUE(bv1::FaultInjectionService::NewStub(Channel(c, b, Listener::kReplication))
                    ->SetFaults(&ok_ctx, {}, &resp)
                    .ok());
  }
  // The ControllerService is not on any broker listener.
  for (Listener l : {Listener::kClient, Listener::kReplication, Listener::kController}) {
    grpc::ClientContext ctx;
    cv1::AllocateProducerIdsResponse resp;
    grpc::Status st =
        cv1::ControllerService::NewStub(Channel(c, b, l))->AllocateProducerIds(&ctx, {}, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED) << st.error_message();
  }
  // Health on every listener of both processes.
  for (auto [node, l] : {std::pair{b, Listener::kClient}, {b, Listener::kReplication},
                         {b, Listener::kController}, {1, Listener::kController}}) {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckResponse r;
    grpc::Status st = grpc::health::v1::Health::NewStub(Channel(c, node, l))->Check(&ctx, {}, &r);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(r.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  // Fetch is parsed by the broker itself: bytes that are no FetchRequest (a tag whose varint
  // never ends, then a length past the end) get INVALID_ARGUMENT, and the broker carries on.
  for (const std::string& junk : {std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11),
                                  std::string("\x42\x7f\x0a", 3)}) {
    const grpc::Status st = RawUnaryCall(Channel(c, b, Listener::kClient),
                                         "/strand.broker.v1.BrokerService/Fetch", junk, In(5s));
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
    EXPECT_NE(st.error_message().find("FetchRequest"), std::string::npos) << st.error_message();
  }
  ExpectServing(c, "after-wrong-plane", 1);
  // And its fetches still answer, with the record just written.
  auto read = c.ReadAll("after-wrong-plane", 0, b);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].value, "alive");
}

TEST(ForgedRequestsTest, LongPollsPastTheLimit_AreAnsweredAtOnce) {
  ClusterOptions o;
  o.broker_args = {"--config", "strand.fetch.waiting.max=2"};
  StrandCluster c(o);
  ASSERT_TRUE(c.WaitForBrokers(30s));
  // One replica: no follower parks fetches at its leader, only the consumers below.
  ASSERT_EQ(c.CreateTopic("quiet", 1, 1), "NONE");
  auto view = c.WaitForPartition("quiet", 0, 20s, 1);
  ASSERT_TRUE(view);
  // A consumer long poll on an empty partition waits max_wait_ms, unless it is not parked (or
  // the broker does not lead it yet: `error` tells).
  auto long_poll = [&](int32_t max_wait_ms = 4'000, std::string* error = nullptr) -> int64_t {
    auto stub = bv1::BrokerService::NewStub(Channel(c, view->leader));
    bv1::FetchRequest req;
    req.set_replica_id(-1);
    req.set_max_wait_ms(max_wait_ms);
    req.set_min_bytes(1);
    auto* t = req.add_topics();
    t->set_topic("quiet");
    auto* p = t->add_partitions();
    p->set_partition(0);
    p->set_fetch_offset(0);
    p->set_current_leader_epoch(-1);
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10s));
    bv1::FetchResponse resp;
    const auto start = Clock::now();
    EXPECT_TRUE(stub->Fetch(&ctx, req, &resp).ok());
    if (error != nullptr) {
      const bool answered = resp.topics_size() == 1 && resp.topics(0).partitions_size() == 1;
      const auto& e = answered ? resp.topics(0).partitions(0).error() : resp.error();
      *error = !answered ? "NO_ANSWER" : e.code() == 0 ? "NONE" : e.name();
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  };
  // The leader has taken up its role (brokers apply metadata asynchronously).
  std::string error;
  for (int attempt = 0; attempt < 200 && error != "NONE"; ++attempt) {
    long_poll(0, &error);
    if (error != "NONE") std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(error, "NONE");
  std::vector<int64_t> parked(2);
  std::vector<std::thread> pollers;
  for (int i = 0; i < 2; ++i) pollers.emplace_back([&, i] { parked[i] = long_poll(); });
  std::this_thread::sleep_for(1s);  // both are parked now
  const int64_t third = long_poll();
  for (auto& t : pollers) t.join();
  EXPECT_LT(third, 2'000) << "a fetch past the limit was parked";
  for (int64_t ms : parked) EXPECT_GE(ms, 3'000) << "the first two long polls were not parked";
  ExpectAllRunning(c);
}

}  // namespace
}  // namespace strand::testing
