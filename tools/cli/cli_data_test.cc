// Tests the data commands (produce, consume, perf produce, perf consume) end to end in-process:
// RunCli against FakeBrokerCluster (three BrokerService fakes on 127.0.0.1 with in-memory logs),
// with FakeGroupCoordinator's GroupService on the same brokers for --group.
// Checks what lands in the logs (keys, values, headers, partitions, acks, codecs), what is
// printed (offsets in input order, --format, --json, perf summaries) and the exit codes: 0, 1
// (undelivered / error answer), 2 (usage), 3 (unreachable), 4 (bad input), 5 (incomplete).
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "client/testing/fake_broker.h"
#include "client/testing/fake_group_coordinator.h"
#include "common/murmur2.h"
#include "tests/integration/test_process.h"
#include "tools/cli/cli.h"
#include "tools/cli/testing/run_cli.h"

namespace strand::cli {
namespace {

using client::testing::FakeBrokerCluster;
using client::testing::FakeGroupCoordinator;
using client::testing::GroupHeartbeat;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using Result = testing::CliRun;

class CliDataTest : public ::testing::Test {
 protected:
  CliDataTest() : cluster_(3, 101, groups_.Hook()) {
    const std::string address = cluster_.address(101);
    groups_.SetCoordinator(101, std::stoi(address.substr(address.rfind(':') + 1)));
    groups_.SetHeartbeatIntervalMs(50);
  }
  // Runs `strand --bootstrap <fake brokers> --timeout-ms 5000 args...` with `input` on stdin.
  Result Strand(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--bootstrap", cluster_.bootstrap(), "--timeout-ms", "5000"});
    return Run(args, input);
  }
  static Result Run(const std::vector<std::string>& args, const std::string& input = "") {
    return testing::RunStrand(args, input);
  }
  size_t TotalRecords(const std::string& topic, int partitions) {
    size_t n = 0;
    for (int p = 0; p < partitions; ++p) n += cluster_.Records(topic, p).size();
    return n;
  }

  FakeGroupCoordinator groups_;  // outlives the cluster, whose servers use its services
  FakeBrokerCluster cluster_;
};

TEST_F(CliDataTest, Produce_KeysHeadersAndOffsetsInInputOrder) {
  cluster_.CreateTopic("orders", 3);
  Result r = Strand({"produce", "--topic", "orders", "--partition", "1", "--key-separator", ":",
                     "--headers", "src=cli,trace", "--print-offsets"},
                    "a:1\nb:2:x\r\n:3\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "1\t0\n1\t1\n1\t2\n");
  EXPECT_THAT(r.err, IsEmpty());
  const auto records = cluster_.Records("orders", 1);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].key, "a");
  EXPECT_EQ(records[0].value, "1");
  EXPECT_EQ(records[1].key, "b");
  EXPECT_EQ(records[1].value, "2:x");  // split at the first separator; CR dropped
  EXPECT_EQ(records[2].key, "");
  using HeaderPair = std::pair<std::string, std::optional<std::string>>;
  EXPECT_EQ(records[0].headers, (std::vector<HeaderPair>{{"src", "cli"}, {"trace", std::nullopt}}));
  EXPECT_EQ(cluster_.last_acks(), -1);
  EXPECT_GE(records[0].producer_id, 0);  // idempotent by default
}

TEST_F(CliDataTest, Produce_KeyedRecordsGoWhereKafkaPutsThem) {
  cluster_.CreateTopic("orders", 3);
  Result r = Strand({"produce", "--topic", "orders", "--key-separator", "\t", "--print-offsets"},
                    "alice\tx\nbob\ty\ncarol\tz\n");
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  for (const std::string key : {"alice", "bob", "carol"}) {
    int32_t partition = -1;
    int64_t offset = -1;
    lines >> partition >> offset;
    EXPECT_EQ(partition, PartitionForKey(key, 3)) << key;
    bool found = false;
    for (const auto& rec : cluster_.Records("orders", partition)) found |= rec.key == key;
    EXPECT_TRUE(found) << key;
  }
}

TEST_F(CliDataTest, Produce_AcksAndCompressionReachTheBroker) {
  cluster_.CreateTopic("t", 1);
  Result r = Strand({"produce", "--topic", "t", "--acks", "1", "--compression", "zstd"}, "v\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(cluster_.last_acks(), 1);
  ASSERT_EQ(cluster_.Records("t", 0).size(), 1u);
  EXPECT_EQ(cluster_.Records("t", 0)[0].compression, 4);
  EXPECT_EQ(cluster_.Records("t", 0)[0].producer_id, -1);  // acks=1 turns idempotence off
  r = Strand({"produce", "--topic", "t", "-X", "linger.ms=0", "--acks", "0"}, "w\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(cluster_.last_acks(), 0);
}

TEST_F(CliDataTest, Produce_LineWithoutSeparator_ExitFourAfterSendingTheLinesBefore) {
  cluster_.CreateTopic("t", 1);
  Result r = Strand({"produce", "--topic", "t", "--key-separator", ":"}, "k:v\nbroken\nk:w\n");
  EXPECT_EQ(r.code, 4);
  EXPECT_THAT(r.err, HasSubstr("stdin line 2: no key separator ':'"));
  ASSERT_EQ(cluster_.Records("t", 0).size(), 1u);
  EXPECT_EQ(cluster_.Records("t", 0)[0].value, "v");
}

TEST_F(CliDataTest, Produce_UndeliveredRecord_ExitOneWithTheError) {
  cluster_.CreateTopic("t", 1);
  cluster_.PushFault({.method = "Produce", .error = KafkaError::kRecordListTooLarge, .times = 5});
  Result r = Strand({"produce", "--topic", "t", "--print-offsets"}, "v\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "error\tRECORD_LIST_TOO_LARGE\n");
  EXPECT_THAT(r.err, HasSubstr("error: stdin line 1: RECORD_LIST_TOO_LARGE"));
}

TEST_F(CliDataTest, Produce_UsageErrors_ExitTwo) {
  cluster_.CreateTopic("t", 2);
  const std::vector<std::vector<std::string>> cases = {
      {"produce"},
      {"produce", "--topic", "t", "--acks", "2"},
      {"produce", "--topic", "t", "--compression", "brotli"},
      {"produce", "--topic", "t", "-X", "linger.msec=5"},
      {"produce", "--topic", "t", "-X", "novalue"},
      {"produce", "--topic", "t", "--headers", "=x"},
      {"produce", "--topic", "t", "--partition", "2"},
      {"produce", "--topic", "t", "--config-file", "/nonexistent/file.properties"},
      {"--command-config", "/nonexistent/client.properties", "produce", "--topic", "t"},
      {"--command-config", "/nonexistent/client.properties", "topics", "list"},
  };
  for (const auto& args : cases) {
    const Result r = Strand(args, "v\n");
    EXPECT_EQ(r.code, 2) << ::testing::PrintToString(args) << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("error: ")) << ::testing::PrintToString(args);
  }
  EXPECT_THAT(Strand({"produce", "--topic", "t", "-X", "linger.msec=5"}).err,
              HasSubstr("linger.ms"));  // the closest known name
  EXPECT_EQ(TotalRecords("t", 2), 0u);
}

TEST_F(CliDataTest, UnknownTopicAndDeadCluster) {
  Result r = Strand({"produce", "--topic", "nosuch"}, "v\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("UNKNOWN_TOPIC_OR_PARTITION"));
  r = Strand({"consume", "--topic", "nosuch"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("UNKNOWN_TOPIC_OR_PARTITION"));

  const std::string dead = "127.0.0.1:" + std::to_string(strand::testing::FreePort());
  for (std::vector<std::string> args :
       {std::vector<std::string>{"produce", "--topic", "t"},
        std::vector<std::string>{"consume", "--topic", "t"},
        std::vector<std::string>{"perf", "produce", "--topic", "t", "--records", "1",
                                 "--record-size", "1"},
        std::vector<std::string>{"perf", "consume", "--topic", "t", "--records", "1"}}) {
    args.insert(args.begin(), {"--bootstrap", dead, "--timeout-ms", "500"});
    r = Run(args, "v\n");
    EXPECT_EQ(r.code, 3) << ::testing::PrintToString(args) << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("cannot reach the cluster"));
  }
}

TEST_F(CliDataTest, Consume_FromBeginningWithFormat) {
  cluster_.CreateTopic("t", 2);
  cluster_.AppendValues("t", 0, {"a", "b"}, 1000);
  cluster_.AppendValues("t", 1, {"c"}, 2000, /*with_keys=*/false);
  Result r = Strand({"consume", "--topic", "t", "--from-beginning", "--max-records", "3",
                     "--format", "{partition}/{offset} {key}={value} {timestamp} {headers}"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> lines;
  std::istringstream s(r.out);
  for (std::string line; std::getline(s, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines,
            (std::vector<std::string>{"0/0 key-0=a 1000 NO_HEADERS", "0/1 key-1=b 1001 NO_HEADERS",
                                      "1/0 null=c 2000 NO_HEADERS"}));
  EXPECT_THAT(r.err, HasSubstr("Processed a total of 3 records"));
}

TEST_F(CliDataTest, Consume_OffsetOnOnePartitionAsJson) {
  cluster_.CreateTopic("t", 2);
  cluster_.AppendValues("t", 1, {"a", "b", "c"}, 1000);
  Result r = Strand({"consume", "--topic", "t", "--partition", "1", "--offset", "1",
                     "--max-records", "2", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream s(r.out);
  std::string line;
  std::getline(s, line);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["offset"], 1);
  EXPECT_EQ(j["value"], "b");
  EXPECT_EQ(j["key"], "key-1");
  EXPECT_EQ(j["partition"], 1);
  std::getline(s, line);
  EXPECT_EQ(nlohmann::json::parse(line)["value"], "c");
}

TEST_F(CliDataTest, Consume_LatestByDefaultAndIdleTimeout) {
  cluster_.CreateTopic("t", 1);
  cluster_.AppendValues("t", 0, {"old"}, 1000);
  // Default: only new records; none come, so the idle timeout ends it (exit 0 without a count).
  Result r = Strand({"consume", "--topic", "t", "--idle-timeout-ms", "300"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, IsEmpty());
  // With a count that never comes: exit 5, what came is printed.
  r = Strand({"consume", "--topic", "t", "--from-beginning", "--max-records", "5",
              "--idle-timeout-ms", "300"});
  EXPECT_EQ(r.code, 5);
  EXPECT_EQ(r.out, "old\n");
  EXPECT_THAT(r.err, HasSubstr("1 of 5 record(s)"));
}

TEST_F(CliDataTest, Consume_UsageErrors_ExitTwo) {
  cluster_.CreateTopic("t", 2);
  const std::vector<std::vector<std::string>> cases = {
      {"consume"},
      {"consume", "--topic", "t", "--offset", "5"},  // needs --partition
      {"consume", "--topic", "t", "--partition", "0", "--offset", "-3"},
      {"consume", "--topic", "t", "--offset", "earliest", "--from-beginning"},
      {"consume", "--topic", "t", "--format", "{nope}"},
      {"consume", "--topic", "t", "--format", "{value}", "--json"},
      {"consume", "--topic", "t", "--partition", "2"},
      {"consume", "--topic", "t", "-X", "fetch.min.bytes=-1"},
      {"consume", "--topic", "t", "--max-records", "0"},
      {"consume", "--topic", "t", "--group", "g", "--partition", "0"},
  };
  for (const auto& args : cases) {
    const Result r = Strand(args);
    EXPECT_EQ(r.code, 2) << ::testing::PrintToString(args) << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("error")) << ::testing::PrintToString(args);
    EXPECT_THAT(r.out, IsEmpty());
  }
}

TEST_F(CliDataTest, ProduceThenConsume_RoundTripOfEveryCodec) {
  cluster_.CreateTopic("t", 1);
  for (const std::string codec : {"none", "gzip", "snappy", "lz4", "zstd"}) {
    Result r = Strand({"produce", "--topic", "t", "--compression", codec, "--key-separator", "|"},
                      codec + "|one\n" + codec + "|two\n");
    ASSERT_EQ(r.code, 0) << codec << r.err;
  }
  Result r = Strand({"consume", "--topic", "t", "--from-beginning", "--max-records", "10",
                     "--format", "{offset} {key} {value}", "--idle-timeout-ms", "5000"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "0 none one\n1 none two\n2 gzip one\n3 gzip two\n4 snappy one\n5 snappy two\n"
            "6 lz4 one\n7 lz4 two\n8 zstd one\n9 zstd two\n");
}

TEST_F(CliDataTest, PerfProduceThenPerfConsume_JsonSummaries) {
  cluster_.CreateTopic("perf", 3);
  Result r = Strand({"perf", "produce", "--topic", "perf", "--records", "3000", "--record-size",
                     "100", "--compression", "lz4", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["records"], 3000);
  EXPECT_EQ(j["failed"], 0);
  EXPECT_EQ(j["compression"], "lz4");
  EXPECT_GT(j["records_per_sec"].get<double>(), 0);
  const auto& latency = j["latency_ms"];
  EXPECT_LE(latency["p50"].get<double>(), latency["p99"].get<double>());
  EXPECT_LE(latency["p99"].get<double>(), latency["max"].get<double>());
  EXPECT_EQ(TotalRecords("perf", 3), 3000u);
  for (const auto& rec : cluster_.Records("perf", 0)) {
    ASSERT_EQ(rec.value->size(), 100u);
    ASSERT_EQ(rec.compression, 3);
  }

  r = Strand({"perf", "consume", "--topic", "perf", "--records", "3000", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["records"], 3000);
  EXPECT_EQ(j["bytes"], 300000);

  r = Strand(
      {"perf", "consume", "--topic", "perf", "--records", "3001", "--idle-timeout-ms", "300"});
  EXPECT_EQ(r.code, 5);
  EXPECT_THAT(r.out, HasSubstr("3000 records consumed"));
}

TEST_F(CliDataTest, Consume_Group_SubscribesStartsAtCommittedAndCommitsWhatItPrinted) {
  cluster_.CreateTopic("t", 2);
  cluster_.AppendValues("t", 0, {"a0", "a1", "a2", "a3", "a4"}, 1);
  cluster_.AppendValues("t", 1, {"b0", "b1", "b2", "b3", "b4"}, 1);
  groups_.SetAssignment({{"t", 0}, {"t", 1}});
  groups_.SetCommitted("t", 0, 2);  // t-1: none, so --from-beginning applies
  Result r = Strand({"consume", "--topic", "t", "--group", "cg", "--from-beginning",
                     "--max-records", "6", "--format", "{partition}:{offset}"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("Processed a total of 6 records"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("0:0\n")));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("0:1\n")));
  const auto heartbeats = groups_.Heartbeats();
  ASSERT_FALSE(heartbeats.empty());
  EXPECT_EQ(heartbeats.front().group_id(), "cg");
  EXPECT_THAT(heartbeats.front().subscribed_topic_names(), ::testing::ElementsAre("t"));
  EXPECT_EQ(heartbeats.back().member_epoch(), -1);  // left on exit
  // Exactly what was printed is committed (records fetched past --max-records are not).
  const int64_t committed0 = groups_.Committed("t", 0).value_or(2);
  const int64_t committed1 = groups_.Committed("t", 1).value_or(0);
  EXPECT_EQ((committed0 - 2) + committed1, 6);
  // The next run of the group goes on from there: the two records left.
  r = Strand({"consume", "--topic", "t", "--group", "cg", "--max-records", "2", "--idle-timeout-ms",
              "3000"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(groups_.Committed("t", 0).value_or(0) + groups_.Committed("t", 1).value_or(0), 10);
}

TEST_F(CliDataTest, PerfConsume_Group) {
  cluster_.CreateTopic("perf", 2);
  cluster_.AppendValues("perf", 0, {"x", "y", "z"}, 1);
  cluster_.AppendValues("perf", 1, {"x", "y"}, 1);
  groups_.SetAssignment({{"perf", 0}, {"perf", 1}});
  Result r =
      Strand({"perf", "consume", "--topic", "perf", "--group", "pg", "--records", "5", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["records"], 5);
  EXPECT_EQ(j["group"], "pg");
  ASSERT_GE(groups_.WaitForHeartbeat(
                [](const GroupHeartbeat& h) {
                  return h.group_id() == "pg" && h.subscribed_topic_names_size() == 1;
                },
                std::chrono::milliseconds(0)),
            0);
  EXPECT_EQ(groups_.Committed("perf", 0), 3);  // auto commit on Close
  EXPECT_EQ(groups_.Committed("perf", 1), 2);
}

TEST_F(CliDataTest, PerfProduce_ThrottledAndHumanSummary) {
  cluster_.CreateTopic("perf", 1);
  const auto start = std::chrono::steady_clock::now();
  Result r = Strand({"perf", "produce", "--topic", "perf", "--records", "200", "--record-size",
                     "10", "--throughput", "500", "--reporting-interval-ms", "100"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(390));
  EXPECT_THAT(r.out, ::testing::MatchesRegex(
                         "200 records sent, [0-9.]+ records/sec \\([0-9.]+ MB/sec\\), [0-9.]+ ms "
                         "avg latency, [0-9.]+ ms max latency, [0-9.]+ ms 50th, [0-9.]+ ms 95th, "
                         "[0-9.]+ ms 99th, [0-9.]+ ms 99.9th.\n"));
  EXPECT_THAT(r.err, HasSubstr("records sent,"));  // progress lines
}

TEST_F(CliDataTest, Help_EveryDataCommand) {
  for (std::vector<std::string> args : {std::vector<std::string>{"produce", "--help"},
                                        {"consume", "--help"},
                                        {"perf", "--help"},
                                        {"perf", "produce", "--help"},
                                        {"perf", "consume", "--help"}}) {
    const Result r = Run(args);
    EXPECT_EQ(r.code, 0) << ::testing::PrintToString(args);
    EXPECT_THAT(r.out, HasSubstr("--")) << ::testing::PrintToString(args);
  }
}

}  // namespace
}  // namespace strand::cli
