// bench-groups: consumer groups on 3 controllers + 3 brokers (strand-server on 127.0.0.1).
//
//   rebalance   --members (10) consumers of the client library subscribed to a topic of
//               --partitions (100). --rounds (20) times: a member joins (a `strand consume
//               --group` process) and the time until every partition is owned again by the
//               members (each at its balanced share) is taken; then it is SIGKILLed and the time
//               until the others own every partition is taken (bounded below by the session
//               timeout). p50 / p99 of both.
//   commits     offset commits per second through one coordinator (acks=all on
//               __consumer_offsets): --commit-threads (4) threads each committing one offset in
//               a loop with OffsetCommit for --commit-seconds (10).
//   consume     --records (300000) records of 100 bytes in 12 partitions read by one consumer
//               with manual assignment and by one in a group (subscribe, auto commit): records/s
//               of each and their ratio, in one run.
//
// Broker settings: group.consumer.heartbeat.interval.ms --heartbeat-ms (5000, Kafka's default)
// and group.consumer.session.timeout.ms --session-ms (10000; Kafka's default is 45000).
// Usage: build/bin/bench-groups [--rounds 20] [--members 10] [--partitions 100] [--json]
// Run by hand; the servers and the clients share this machine's cores.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "proto/group/v1/group.grpc.pb.h"
#include "strand/consumer.h"
#include "strand/producer.h"
#include "tests/integration/strand_cluster.h"
#include "tests/integration/test_process.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using strand::testing::StrandCluster;
namespace gv1 = ::strand::group::v1;
namespace client = ::strand::client;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * v.size()));
  return v[i];
}

std::string Bootstrap(StrandCluster& c) {
  std::string out;
  for (int id : c.broker_ids()) out += (out.empty() ? "" : ",") + c.address(id);
  return out;
}

std::unique_ptr<client::Consumer> Consumer(StrandCluster& c, client::Properties extra) {
  client::Properties p = {{"bootstrap.servers", Bootstrap(c)}, {"auto.offset.reset", "earliest"}};
  for (auto& [k, v] : extra) p[k] = v;
  auto consumer = client::Consumer::Create(p);
  if (!consumer.ok()) {
    std::fprintf(stderr, "consumer: %s\n", std::string(consumer.status().message()).c_str());
    std::exit(1);
  }
  return *std::move(consumer);
}

// A member polling on its own thread; its assignment size is read by the bench.
class Member {
 public:
  Member(StrandCluster& c, const std::string& group, const std::string& topic)
      : consumer_(Consumer(c, {{"group.id", group}})) {
    (void)consumer_->Subscribe({topic});
    thread_ = std::thread([this] {
      while (!stop_) {
        (void)consumer_->Poll(100ms);
        owned_ = consumer_->Assignment().size();
      }
    });
  }
  ~Member() {
    stop_ = true;
    thread_.join();
    consumer_->Close();
  }
  size_t owned() const { return owned_.load(); }

 private:
  std::unique_ptr<client::Consumer> consumer_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> owned_{0};
  std::thread thread_;
};

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Consumer-group benchmark"};
  int rounds = 20, members = 10, partitions = 100, heartbeat_ms = 5'000, session_ms = 10'000;
  int commit_threads = 4, commit_seconds = 10, records = 300'000;
  bool json = false;
  app.add_option("--rounds", rounds)->check(CLI::Range(1, 1000));
  app.add_option("--members", members)->check(CLI::Range(2, 100));
  app.add_option("--partitions", partitions)->check(CLI::Range(1, 10'000));
  app.add_option("--heartbeat-ms", heartbeat_ms)->check(CLI::Range(100, 60'000));
  app.add_option("--session-ms", session_ms)->check(CLI::Range(1'000, 600'000));
  app.add_option("--commit-threads", commit_threads)->check(CLI::Range(1, 64));
  app.add_option("--commit-seconds", commit_seconds)->check(CLI::Range(1, 600));
  app.add_option("--records", records)->check(CLI::Range(1'000, 100'000'000));
  app.add_flag("--json", json);
  CLI11_PARSE(app, argc, argv);

  strand::testing::ClusterOptions options;
  options.tls = false;
  options.common_args = {"--log-level=info"};
  options.broker_args = {
      fmt::format("--config=group.consumer.heartbeat.interval.ms={}", heartbeat_ms),
      fmt::format("--config=group.consumer.session.timeout.ms={}", session_ms)};
  StrandCluster c(options);
  if (!c.WaitForBrokers(60s)) {
    std::fprintf(stderr, "brokers did not start\n");
    return 1;
  }
  if (c.CreateTopic("rebalance", partitions, 3) != "NONE" ||
      c.CreateTopic("data", 12, 3) != "NONE") {
    std::fprintf(stderr, "cannot create the topics\n");
    return 1;
  }
  for (int p = 0; p < partitions; ++p) c.WaitForPartition("rebalance", p, 30s, 3);

  // ---------------------------------------------------------------- rebalance
  std::vector<std::unique_ptr<Member>> group;
  for (int i = 0; i < members - 1; ++i) {
    group.push_back(std::make_unique<Member>(c, "bench", "rebalance"));
  }
  auto balanced = [&](size_t count, bool with_joiner) {
    size_t total = 0;
    const size_t low = static_cast<size_t>(partitions) / count;
    for (auto& m : group) {
      if (m->owned() < low) return false;
      total += m->owned();
    }
    // The joiner (another process) holds the rest when it is in.
    return with_joiner ? total <= static_cast<size_t>(partitions) - low
                       : total == static_cast<size_t>(partitions);
  };
  if (!WaitFor([&] { return balanced(group.size(), false); }, 120s)) {
    std::fprintf(stderr, "the first %d members never owned every partition\n", members - 1);
    return 1;
  }
  std::vector<double> join_ms, kill_ms;
  for (int round = 0; round < rounds; ++round) {
    const auto joined_at = Clock::now();
    strand::testing::ChildProcess joiner(
        "strand",
        {"consume", "--bootstrap", Bootstrap(c), "--topic", "rebalance", "--group", "bench",
         "--format", "json"},
        fmt::format("/tmp/bench-groups-joiner-{}.log", ::getpid()));
    if (!WaitFor([&] { return balanced(group.size() + 1, true); }, 120s)) {
      std::fprintf(stderr, "round %d: no balanced assignment after the join\n", round);
      return 1;
    }
    join_ms.push_back(Ms(Clock::now() - joined_at));
    std::this_thread::sleep_for(500ms);
    const auto killed_at = Clock::now();
    joiner.Signal(SIGKILL);
    (void)joiner.Wait(10s);
    if (!WaitFor([&] { return balanced(group.size(), false); }, 180s)) {
      std::fprintf(stderr, "round %d: partitions not owned again after the kill\n", round);
      return 1;
    }
    kill_ms.push_back(Ms(Clock::now() - killed_at));
    if (!json) {
      std::printf("round %2d: join %.0f ms, SIGKILL %.0f ms\n", round + 1, join_ms.back(),
                  kill_ms.back());
    }
  }
  group.clear();

  // ---------------------------------------------------------------- commits
  int coordinator = -1;
  for (int tries = 0; tries < 200 && coordinator < 0; ++tries) {
    auto stub = gv1::GroupService::NewStub(c.Channel(c.broker_ids().front()));
    grpc::ClientContext ctx;
    ctx.set_deadline(strand::testing::In(5s));
    gv1::FindCoordinatorRequest req;
    req.add_group_ids("committer");
    gv1::FindCoordinatorResponse resp;
    if (stub->FindCoordinator(&ctx, req, &resp).ok() && resp.coordinators(0).error().code() == 0) {
      coordinator = resp.coordinators(0).node_id();
    } else {
      std::this_thread::sleep_for(100ms);
    }
  }
  std::atomic<int64_t> commits{0}, refused{0};
  std::vector<double> commit_latency_ms;
  std::mutex latency_mu;
  {
    std::vector<std::thread> threads;
    const auto until = Clock::now() + std::chrono::seconds(commit_seconds);
    for (int t = 0; t < commit_threads; ++t) {
      threads.emplace_back([&, t] {
        auto stub = gv1::GroupService::NewStub(c.Channel(coordinator));
        std::vector<double> mine;
        for (int64_t i = 0; Clock::now() < until; ++i) {
          gv1::OffsetCommitRequest req;
          req.set_group_id("committer");
          req.set_member_epoch(-1);
          auto* topic = req.add_topics();
          topic->set_name("data");
          auto* p = topic->add_partitions();
          p->set_partition(t % 12);
          p->set_offset(i);
          grpc::ClientContext ctx;
          ctx.set_deadline(strand::testing::In(10s));
          gv1::OffsetCommitResponse resp;
          const auto start = Clock::now();
          if (stub->OffsetCommit(&ctx, req, &resp).ok() && resp.error().code() == 0 &&
              resp.topics(0).partitions(0).error().code() == 0) {
            ++commits;
            mine.push_back(Ms(Clock::now() - start));
          } else {
            ++refused;
          }
        }
        std::lock_guard lock(latency_mu);
        commit_latency_ms.insert(commit_latency_ms.end(), mine.begin(), mine.end());
      });
    }
    for (auto& t : threads) t.join();
  }
  const double commits_per_s = static_cast<double>(commits.load()) / commit_seconds;

  // ---------------------------------------------------------------- consume
  {
    client::Properties p = {{"bootstrap.servers", Bootstrap(c)}, {"linger.ms", "5"}};
    auto producer = client::Producer::Create(p);
    if (!producer.ok()) return 1;
    const std::string value(100, 'x');
    for (int i = 0; i < records; ++i) {
      (void)(*producer)->Send({.topic = "data", .value = value}, nullptr);
    }
    (*producer)->Flush();
  }
  auto consume_all = [&](client::Consumer& consumer) {
    int64_t n = 0;
    const auto start = Clock::now();
    const auto deadline = start + 300s;
    while (n < records && Clock::now() < deadline) {
      auto batch = consumer.Poll(200ms);
      if (batch.ok()) n += static_cast<int64_t>(batch->size());
    }
    return static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - start).count();
  };
  double manual_rps = 0, group_rps = 0;
  {
    auto consumer = Consumer(c, {{"max.poll.records", "2000"}});
    std::vector<client::TopicPartition> all;
    for (int p = 0; p < 12; ++p) all.push_back({"data", p});
    (void)consumer->Assign(all);
    manual_rps = consume_all(*consumer);
    consumer->Close();
  }
  {
    auto consumer = Consumer(c, {{"group.id", "reader"}, {"max.poll.records", "2000"}});
    (void)consumer->Subscribe({"data"});
    group_rps = consume_all(*consumer);
    consumer->Close();
  }

  const double join_p50 = Percentile(join_ms, 50), join_p99 = Percentile(join_ms, 99);
  const double kill_p50 = Percentile(kill_ms, 50), kill_p99 = Percentile(kill_ms, 99);
  const double commit_p50 = Percentile(commit_latency_ms, 50);
  const double commit_p99 = Percentile(commit_latency_ms, 99);
  if (json) {
    nlohmann::json j = {{"members", members},
                        {"partitions", partitions},
                        {"heartbeat_ms", heartbeat_ms},
                        {"session_ms", session_ms},
                        {"rounds", rounds},
                        {"join_p50_ms", join_p50},
                        {"join_p99_ms", join_p99},
                        {"kill_p50_ms", kill_p50},
                        {"kill_p99_ms", kill_p99},
                        {"commits_per_s", commits_per_s},
                        {"commit_p50_ms", commit_p50},
                        {"commit_p99_ms", commit_p99},
                        {"commits_refused", refused.load()},
                        {"manual_records_per_s", manual_rps},
                        {"group_records_per_s", group_rps}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf(
        "rebalance, %d members x %d partitions (heartbeat %d ms, session %d ms), %d rounds:\n"
        "  join:    p50 %.0f ms, p99 %.0f ms\n  SIGKILL: p50 %.0f ms, p99 %.0f ms\n"
        "commits through one coordinator, %d threads: %.0f/s (latency p50 %.1f ms, p99 %.1f "
        "ms; %ld refused)\n"
        "consume %d records: manual assignment %.0f records/s, group %.0f records/s (ratio "
        "%.2f)\n",
        members, partitions, heartbeat_ms, session_ms, rounds, join_p50, join_p99, kill_p50,
        kill_p99, commit_threads, commits_per_s, commit_p50, commit_p99,
        static_cast<long>(refused.load()), records, manual_rps, group_rps,
        manual_rps > 0 ? group_rps / manual_rps : 0);
  }
  return 0;
}
