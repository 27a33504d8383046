// Consumer groups through crashes, on a real cluster (3 controllers, 3 brokers, 6 member-session
// seconds, 6 __consumer_offsets partitions):
//   - a consumer process (strand-example-delivery, at least once: process, then CommitSync,
//     --log-commits) SIGKILLed mid-stream, right after printing a batch when the timing allows:
//     a second member of its group starts each partition exactly at the group's committed offset,
//     which is at or past the last commit the killed process logged and never past what it
//     processed; every record is processed, and every record processed twice lies at or past its
//     partition's last logged commit;
//   - the group's coordinator SIGKILLed while 3 in-process members consume and commit by hand
//     under a running producer: every partition commits again within 10 s, and OffsetFetch from
//     the new coordinator returns for each partition the last offset whose CommitSync returned
//     OK (no acknowledged commit is lost).
#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/client_cluster_support.h"
#include "tests/integration/group_test_support.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Placed {
  int32_t partition = -1;
  int64_t offset = -1;
};

// Produces `count` records with unique values "<prefix><i>" (keys spread them over the
// partitions); returns where each was acknowledged.
std::map<std::string, Placed> ProduceUnique(StrandCluster& c, const std::string& topic, int count,
                                            const std::string& prefix) {
  std::mutex mu;
  std::map<std::string, Placed> placed;
  auto producer = MakeProducer(c, {{"linger.ms", "5"}});
  if (producer == nullptr) return placed;
  for (int i = 0; i < count; ++i) {
    std::string value = fmt::format("{}{}", prefix, i);
    absl::Status s =
        producer->Send({.topic = topic, .key = fmt::format("k{}", i % 31), .value = value},
                       [&mu, &placed, value](const absl::StatusOr<client::RecordMetadata>& m) {
                         if (!m.ok()) return;
                         std::lock_guard lock(mu);
                         placed[value] = {m->partition, m->offset};
                       });
    EXPECT_TRUE(s.ok()) << s;
  }
  producer->Flush();
  std::lock_guard lock(mu);
  return placed;
}

// What strand-example-delivery --log-commits printed: processed values and, per partition, the
// last "committed <topic>-<p> <next-offset>" line. Read incrementally as the file grows; only
// whole lines count (a SIGKILL can cut the last one short).
class DeliveryOutput {
 public:
  DeliveryOutput(std::string path, std::string topic, std::string value_prefix)
      : path_(std::move(path)),
        commit_prefix_("committed " + topic + "-"),
        value_prefix_(std::move(value_prefix)) {}

  // Reads what was appended since the last call.
  void Read() {
    std::ifstream in(path_, std::ios::binary);
    if (!in) return;
    in.seekg(read_bytes_);
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t start = 0;
    for (size_t nl = chunk.find('\n'); nl != std::string::npos; nl = chunk.find('\n', start)) {
      Parse(chunk.substr(start, nl - start));
      start = nl + 1;
    }
    read_bytes_ += static_cast<std::streamoff>(start);  // a partial line is read again later
  }

  const std::vector<std::string>& values() const { return values_; }
  const std::map<int32_t, int64_t>& last_logged_commit() const { return last_logged_commit_; }
  size_t commit_lines() const { return commit_lines_; }
  // Whether the last line of interest was a value: a batch was printed, its commit not yet
  // logged.
  bool between_print_and_commit() const { return last_was_value_; }

 private:
  void Parse(const std::string& line) {
    if (line.rfind(commit_prefix_, 0) == 0) {
      const std::string rest = line.substr(commit_prefix_.size());  // "<p> <offset>"
      const size_t space = rest.find(' ');
      if (space == std::string::npos) return;
      last_logged_commit_[std::stoi(rest.substr(0, space))] = std::stoll(rest.substr(space + 1));
      ++commit_lines_;
      last_was_value_ = false;
    } else if (line.rfind(value_prefix_, 0) == 0 &&
               line.find_first_not_of("0123456789", value_prefix_.size()) == std::string::npos) {
      values_.push_back(line);
      last_was_value_ = true;
    }
  }

  const std::string path_;
  const std::string commit_prefix_;
  const std::string value_prefix_;
  std::streamoff read_bytes_ = 0;
  std::vector<std::string> values_;
  std::map<int32_t, int64_t> last_logged_commit_;
  size_t commit_lines_ = 0;
  bool last_was_value_ = false;
};

TEST(ConsumerGroupFailureTest, SigkilledConsumerRepeatsOnlyWhatFollowsItsLastLoggedCommit) {
  StrandCluster c(GroupCluster());
  ASSERT_TRUE(c.WaitForBrokers(30s));
  const std::string topic = "payments";
  const std::string group = "payments-app";
  constexpr int32_t kPartitions = 3;
  constexpr int kRecords = 4'000;
  constexpr size_t kKillAfter = 1'000;  // processed records
  CreateTopicAndWait(c, topic, kPartitions);
  const std::map<std::string, Placed> placed = ProduceUnique(c, topic, kRecords, "v");
  ASSERT_EQ(placed.size(), static_cast<size_t>(kRecords));

  // ~300 records/s: 20 per batch, 50 ms of "processing" each, then CommitSync.
  TempDir dir("sigkill-consumer");
  const std::string log = dir.path() + "/first.log";
  ChildProcess first(
      "strand-example-delivery",
      {"--bootstrap", Bootstrap(c), "--topic", topic, "--group", group, "--mode", "at-least-once",
       "--log-commits", "--max-poll-records", "20", "--process-ms", "50", "--idle-ms", "60000"},
      log);
  DeliveryOutput output(log, topic, "v");
  // SIGKILL once kKillAfter records were processed, at the first moment a batch is printed but
  // its commit not yet logged (or after 5 s more without catching one): then that batch is what
  // the second member repeats.
  std::optional<Clock::time_point> enough_at;
  bool killed = false;
  const auto deadline = Clock::now() + 60s;
  while (Clock::now() < deadline && first.Running()) {
    output.Read();
    if (output.values().size() >= kKillAfter) {
      if (!enough_at) enough_at = Clock::now();
      if (output.between_print_and_commit() || Clock::now() - *enough_at > 5s) {
        first.Signal(SIGKILL);
        killed = true;
        break;
      }
    }
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(killed) << output.values().size() << " processed\n" << Tail(log, 40);
  ASSERT_NE(first.Wait(10s), -1);
  const bool killed_between = output.between_print_and_commit();
  output.Read();  // whatever it wrote before the kill
  const std::map<int32_t, int64_t> logged = output.last_logged_commit();
  ASSERT_FALSE(logged.empty()) << Tail(log, 40);
  ASSERT_LT(output.values().size(), static_cast<size_t>(kRecords)) << "killed too late";

  // What the first process did, per partition: the values and the highest offset processed.
  std::set<std::string> first_values;
  std::map<int32_t, int64_t> first_max_offset;
  for (const std::string& v : output.values()) {
    ASSERT_EQ(placed.count(v), 1u) << v;
    first_values.insert(v);
    const Placed& at = placed.at(v);
    first_max_offset[at.partition] = std::max(first_max_offset[at.partition], at.offset);
  }

  // A commit request sent just before the kill may still land; then the offsets stay as they are
  // (the killed member commits nothing more, the second has not started).
  std::this_thread::sleep_for(1s);
  std::optional<GroupOffsets> committed;
  ASSERT_TRUE(Eventually([&] { return (committed = FetchCommitted(c, group)).has_value(); }, 20s));
  auto committed_of = [&](int32_t p) -> std::optional<int64_t> {
    auto it = committed->find({topic, p});
    if (it == committed->end()) return std::nullopt;
    return it->second;
  };
  std::string logged_vs_committed;
  for (const auto& [p, offset] : logged) {
    ASSERT_TRUE(committed_of(p).has_value()) << "partition " << p << " logged " << offset;
    logged_vs_committed += fmt::format(" p{}: {}/{}", p, offset, *committed_of(p));
    // An acknowledged commit is not lost; one acknowledged but not yet logged may be past it.
    EXPECT_GE(*committed_of(p), offset) << "partition " << p;
  }
  for (int32_t p = 0; p < kPartitions; ++p) {
    if (!committed_of(p)) continue;
    // At least once: nothing is committed that was not processed first.
    EXPECT_LE(*committed_of(p), first_max_offset[p] + 1) << "partition " << p;
  }

  // A second member of the group finishes (once the killed one's 6 s session lapsed).
  std::map<int32_t, int64_t> second_first_offset;
  std::map<std::string, int> second_counts;
  auto second = MakeConsumer(c, {{"group.id", group}, {"max.poll.records", "500"}});
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(second->Subscribe({topic}).ok());
  const auto second_started = Clock::now();
  auto processed_all = [&] {
    size_t n = first_values.size();
    for (const auto& [v, count] : second_counts) n += first_values.count(v) == 0 ? 1 : 0;
    return n == static_cast<size_t>(kRecords);
  };
  while (!processed_all() && Clock::now() - second_started < 60s) {
    auto records = second->Poll(200ms);
    if (!records.ok()) continue;
    for (const auto& r : *records) {
      second_first_offset.try_emplace(r.partition(), r.offset());
      ++second_counts[std::string(r.value().value_or(""))];
    }
  }
  second->Close();
  fmt::print("second member done {:.2f} s after it started\n", SecondsSince(second_started));

  EXPECT_TRUE(processed_all()) << "some records never processed";
  for (int32_t p = 0; p < kPartitions; ++p) {
    const int64_t start = committed_of(p).value_or(0);  // auto.offset.reset=earliest
    if (second_first_offset.count(p) == 0) {
      // Nothing left there: the first process had committed the whole partition.
      EXPECT_EQ(start, first_max_offset[p] + 1) << "partition " << p;
      continue;
    }
    EXPECT_EQ(second_first_offset[p], start) << "partition " << p;
    auto it = logged.find(p);
    if (it != logged.end()) {
      EXPECT_GE(second_first_offset[p], it->second) << "partition " << p;
    }
  }
  int duplicates = 0;
  for (const auto& [v, count] : second_counts) {
    EXPECT_EQ(count, 1) << v << " processed " << count << " times by the second member";
    if (first_values.count(v) == 0) continue;
    ++duplicates;
    const Placed& at = placed.at(v);
    auto it = logged.find(at.partition);
    const int64_t last_logged = it == logged.end() ? 0 : it->second;
    EXPECT_GE(at.offset, last_logged)
        << v << " (partition " << at.partition << ") processed twice below the last logged commit";
  }
  fmt::print(
      "killed after {} processed ({}between a batch's print and its commit), {} logged commit(s); "
      "{} record(s) processed twice; last logged/committed offsets:{}\n",
      first_values.size(), killed_between ? "" : "not ", output.commit_lines(), duplicates,
      logged_vs_committed);
}

// Every CommitSync's outcome, per partition, in the order they returned.
class CommitLedger {
 public:
  struct Partition {
    int64_t last_ok = -1;          // the offset of the last CommitSync that returned OK
    bool last_attempt_ok = false;  // whether the last CommitSync carrying it returned OK
    std::optional<Clock::time_point> first_ok_after_kill;
    int ok = 0;
    int failed = 0;
  };

  // `sent_at`: when the CommitSync began (one in flight at the kill does not show a resumption).
  void Record(const std::map<client::TopicPartition, client::OffsetAndMetadata>& offsets,
              const absl::Status& status, Clock::time_point sent_at) {
    std::lock_guard lock(mu_);
    for (const auto& [tp, offset] : offsets) {
      Partition& p = partitions_[tp.partition];
      p.last_attempt_ok = status.ok();
      if (!status.ok()) {
        ++p.failed;
        last_error_ = status.ToString();
        continue;
      }
      ++p.ok;
      p.last_ok = offset.offset;
      if (killed_at_ && sent_at > *killed_at_ && !p.first_ok_after_kill) {
        p.first_ok_after_kill = Clock::now();
      }
    }
  }
  void Processed(size_t n) {
    std::lock_guard lock(mu_);
    processed_ += n;
    if (killed_at_ && !first_record_after_kill_) first_record_after_kill_ = Clock::now();
  }
  void Killed(Clock::time_point at) {
    std::lock_guard lock(mu_);
    killed_at_ = at;
  }
  std::map<int32_t, Partition> partitions() const {
    std::lock_guard lock(mu_);
    return partitions_;
  }
  size_t processed() const {
    std::lock_guard lock(mu_);
    return processed_;
  }
  std::optional<Clock::time_point> first_record_after_kill() const {
    std::lock_guard lock(mu_);
    return first_record_after_kill_;
  }
  std::string last_error() const {
    std::lock_guard lock(mu_);
    return last_error_;
  }

 private:
  mutable std::mutex mu_;
  std::map<int32_t, Partition> partitions_;
  size_t processed_ = 0;
  std::optional<Clock::time_point> killed_at_;
  std::optional<Clock::time_point> first_record_after_kill_;
  std::string last_error_;
};

// A member that processes each polled batch, then commits it with CommitSync (auto commit off),
// on its own thread; every commit's outcome goes to the ledger.
class CommittingMember {
 public:
  CommittingMember(StrandCluster& c, const std::string& topic, const std::string& group,
                   CommitLedger& ledger)
      : ledger_(ledger),
        consumer_(MakeConsumer(c, {{"group.id", group},
                                   {"max.poll.records", "100"},
                                   {"default.api.timeout.ms", "20000"}})) {
    EXPECT_NE(consumer_, nullptr);
    if (consumer_ == nullptr) return;
    absl::Status s = consumer_->Subscribe({topic});
    EXPECT_TRUE(s.ok()) << s;
    thread_ = std::thread([this] { Loop(); });
  }
  ~CommittingMember() { Close(); }

  // Stops polling and leaves the group (no commit: auto commit is off).
  void Close() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (consumer_) consumer_->Close();
  }
  size_t owned() const { return owned_.load(); }

 private:
  void Loop() {
    const auto deadline = Clock::now() + 120s;  // bounded
    while (!stop_ && Clock::now() < deadline) {
      auto records = consumer_->Poll(200ms);
      owned_ = consumer_->Assignment().size();
      if (!records.ok() || records->empty()) continue;
      std::map<client::TopicPartition, client::OffsetAndMetadata> next;
      for (const auto& r : *records) next[{r.topic(), r.partition()}] = {r.offset() + 1, -1, ""};
      ledger_.Processed(records->size());
      const auto sent_at = Clock::now();
      const absl::Status committed = consumer_->CommitSync(next);
      ledger_.Record(next, committed, sent_at);
    }
  }

  CommitLedger& ledger_;
  std::unique_ptr<client::Consumer> consumer_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> owned_{0};
  std::thread thread_;
};

TEST(ConsumerGroupFailureTest, CoordinatorSigkillLosesNoAcknowledgedCommit) {
  StrandCluster c(GroupCluster());
  ASSERT_TRUE(c.WaitForBrokers(30s));
  const std::string topic = "flow";
  const std::string group = "flow-app";
  constexpr int32_t kPartitions = 6;
  CreateTopicAndWait(c, topic, kPartitions);

  // A producer for the whole test, ~2,000 records/s.
  std::atomic<bool> stop_producing{false};
  std::atomic<int> acked{0};
  std::thread producer_thread([&] {
    auto producer = MakeProducer(c, {{"linger.ms", "5"}});
    ASSERT_NE(producer, nullptr);
    const auto deadline = Clock::now() + 90s;
    for (int i = 0; i < 200'000 && !stop_producing && Clock::now() < deadline; ++i) {
      client::ProducerRecord r{
          .topic = topic, .key = fmt::format("k{}", i % 97), .value = fmt::format("f{}", i)};
      (void)producer->Send(r, [&](const absl::StatusOr<client::RecordMetadata>& m) {
        if (m.ok()) ++acked;
      });
      if (i % 100 == 99) std::this_thread::sleep_for(50ms);
    }
    producer->Flush();
  });
  // Stops and joins the producer on every way out of the test (a failed ASSERT included).
  JoinOnExit join_producer{stop_producing, producer_thread};

  CommitLedger ledger;
  std::vector<std::unique_ptr<CommittingMember>> members;
  for (int i = 0; i < 3; ++i) {
    members.push_back(std::make_unique<CommittingMember>(c, topic, group, ledger));
  }
  // Running: each member owns 2 partitions and every partition has committed.
  ASSERT_TRUE(Eventually(
      [&] {
        for (const auto& m : members) {
          if (m->owned() != 2) return false;
        }
        auto parts = ledger.partitions();
        if (parts.size() != static_cast<size_t>(kPartitions)) return false;
        for (const auto& [p, commits] : parts) {
          if (commits.ok < 3) return false;
        }
        return true;
      },
      30s));
  const int32_t coordinator = FindGroupCoordinator(c, group);
  ASSERT_NE(coordinator, -1);
  const auto before = DescribeGroup(c, group);
  ASSERT_TRUE(before.has_value());

  const auto killed_at = Clock::now();
  ledger.Killed(killed_at);
  c.Kill(coordinator);
  // Resumed: on every partition a CommitSync sent after the kill has returned OK (records
  // processed and committed through the new coordinator).
  auto resumed = [&] {
    auto parts = ledger.partitions();
    for (int32_t p = 0; p < kPartitions; ++p) {
      if (parts.count(p) == 0 || !parts[p].first_ok_after_kill) return false;
    }
    return true;
  };
  // And when the brokers name another coordinator.
  std::optional<double> moved_s;
  const bool resumed_in_time = Eventually(
      [&] {
        if (!moved_s) {
          const int32_t now = FindGroupCoordinator(c, group);
          if (now != -1 && now != coordinator) moved_s = SecondsSince(killed_at);
        }
        return moved_s.has_value() && resumed();
      },
      20s);
  double first_commit_s = 1e9, all_committed_s = 0;
  for (const auto& [p, commits] : ledger.partitions()) {
    if (!commits.first_ok_after_kill) continue;
    const double s =
        std::chrono::duration<double>(*commits.first_ok_after_kill - killed_at).count();
    first_commit_s = std::min(first_commit_s, s);
    all_committed_s = std::max(all_committed_s, s);
  }
  const auto first_record = ledger.first_record_after_kill();
  fmt::print(
      "coordinator {} SIGKILLed: another named after {:.2f} s, first record processed after "
      "{:.2f} s, first commit OK after {:.2f} s, every partition committed after {:.2f} s\n",
      coordinator, moved_s.value_or(-1.0),
      first_record ? std::chrono::duration<double>(*first_record - killed_at).count() : -1.0,
      first_commit_s, all_committed_s);
  ASSERT_TRUE(moved_s.has_value()) << "the brokers still name " << coordinator;
  ASSERT_TRUE(resumed_in_time) << "not every partition committed within 20 s; last error: "
                               << ledger.last_error();
  EXPECT_LE(all_committed_s, 10.0);

  // A little more under the new coordinator, then everything stops.
  const size_t processed_at_resume = ledger.processed();
  ASSERT_TRUE(Eventually([&] { return ledger.processed() > processed_at_resume + 1'000; }, 20s));
  stop_producing = true;
  producer_thread.join();
  for (auto& m : members) m->Close();
  EXPECT_GT(acked.load(), 0);

  const int32_t next = FindGroupCoordinator(c, group);
  EXPECT_NE(next, coordinator);
  const auto after = DescribeGroup(c, group);
  ASSERT_TRUE(after.has_value());
  fmt::print("group epoch {} before the SIGKILL, {} after the members left; coordinator {} -> {}\n",
             before->group_epoch(), after->group_epoch(), coordinator, next);
  std::optional<GroupOffsets> committed;
  ASSERT_TRUE(Eventually([&] { return (committed = FetchCommitted(c, group)).has_value(); }, 20s));
  int failed_commits = 0;
  for (const auto& [p, commits] : ledger.partitions()) {
    failed_commits += commits.failed;
    auto it = committed->find({topic, p});
    ASSERT_NE(it, committed->end()) << "partition " << p << " has no committed offset";
    if (commits.last_attempt_ok) {
      EXPECT_EQ(it->second, commits.last_ok) << "partition " << p;
    } else {
      // The last attempt failed: it may or may not have been written, the last OK one was.
      EXPECT_GE(it->second, commits.last_ok) << "partition " << p;
    }
  }
  fmt::print("{} CommitSync failure(s) (partition-commits); last: {}\n", failed_commits,
             ledger.last_error());
}

}  // namespace
}  // namespace strand::testing
