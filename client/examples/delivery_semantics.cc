// strand-example-delivery: the three ways to consume with a group that docs/groups.md teaches,
// as a program that runs against a cluster.
//
//   strand-example-delivery --bootstrap HOST:PORT --topic T --group G --mode MODE
//       [--store FILE] [--max-records N] [--idle-ms MS] [--max-poll-records N] [--process-ms MS]
//       [--log-commits]
//
//   at-most-once   commit, then process: a crash after the commit loses the records being
//                  processed, never repeats one.
//   at-least-once  process, then commit (the default guidance, and what enable.auto.commit
//                  does): a crash repeats what was processed since the last commit, loses none.
//   exactly-once   the consumer-side idempotence pattern for an external store: the result and
//                  the position are written to the store together, atomically (here a file
//                  replaced by rename), and on assignment the consumer seeks to the position the
//                  store holds, not the group's committed offset. Group commits are only a
//                  hint for tools (lag); the store is the truth.
//
// "Processing" appends each record's value to the output: stdout for the first two modes, the
// store file for exactly-once (one "partition offset value" line per record, then "@position
// partition next-offset" lines). With --log-commits, each CommitSync that returned OK is
// followed on stdout by one "committed <topic>-<partition> <next-offset>" line per partition it
// carried (at-most-once and at-least-once), so that a test that kills the program knows the last
// commit it can count on: what a crash may repeat starts there.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "strand/consumer.h"

namespace {

using strand::client::Consumer;
using strand::client::ConsumerRebalanceListener;
using strand::client::OffsetAndMetadata;
using strand::client::TopicPartition;

// The external store of the exactly-once mode: processed lines and, per partition, the next
// offset to read — saved together by writing a new file and renaming it over the old one.
class FileStore {
 public:
  explicit FileStore(std::string path) : path_(std::move(path)) {
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("@position ", 0) == 0) {
        std::istringstream fields(line.substr(10));
        int32_t partition = 0;
        int64_t next = 0;
        fields >> partition >> next;
        positions_[partition] = next;
      } else {
        lines_.push_back(line);
      }
    }
  }
  std::optional<int64_t> Position(int32_t partition) const {
    auto it = positions_.find(partition);
    if (it == positions_.end()) return std::nullopt;
    return it->second;
  }
  // Result and position in one atomic step.
  bool Save(const std::vector<std::string>& new_lines, const std::map<int32_t, int64_t>& next) {
    for (const auto& l : new_lines) lines_.push_back(l);
    for (const auto& [p, o] : next) positions_[p] = o;
    const std::string tmp = path_ + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      for (const auto& l : lines_) out << l << '\n';
      for (const auto& [p, o] : positions_) out << "@position " << p << ' ' << o << '\n';
      out.flush();
      if (!out) return false;
    }
    return std::rename(tmp.c_str(), path_.c_str()) == 0;
  }

 private:
  std::string path_;
  std::vector<std::string> lines_;
  std::map<int32_t, int64_t> positions_;
};

// Exactly-once: new partitions start where the store says, whatever the group committed.
class SeekToStore : public ConsumerRebalanceListener {
 public:
  SeekToStore(Consumer*& consumer, FileStore& store) : consumer_(consumer), store_(store) {}
  void OnPartitionsAssigned(const std::vector<TopicPartition>& partitions) override {
    for (const auto& tp : partitions) {
      if (auto next = store_.Position(tp.partition)) (void)consumer_->Seek(tp, *next);
    }
  }

 private:
  Consumer*& consumer_;
  FileStore& store_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Delivery semantics with a consumer group (docs/groups.md)"};
  std::string bootstrap, topic, group, mode = "at-least-once", store_path = "delivery-store.txt";
  int64_t max_records = 0, idle_ms = 5'000, process_ms = 0;
  int max_poll_records = 500;
  bool log_commits = false;
  app.add_option("--bootstrap", bootstrap)->required();
  app.add_option("--topic", topic)->required();
  app.add_option("--group", group)->required();
  app.add_option("--mode", mode)
      ->check(CLI::IsMember({"at-most-once", "at-least-once", "exactly-once"}));
  app.add_option("--store", store_path, "exactly-once: the external store (a file)");
  app.add_option("--max-records", max_records, "stop after this many (0: until idle)");
  app.add_option("--idle-ms", idle_ms, "stop once nothing came for this long");
  app.add_option("--max-poll-records", max_poll_records, "max.poll.records");
  app.add_option("--process-ms", process_ms, "pretend each polled batch takes this long");
  app.add_flag("--log-commits", log_commits,
               "after each CommitSync that returned OK, print \"committed <topic>-<partition> "
               "<next-offset>\" per partition");
  CLI11_PARSE(app, argc, argv);

  // Commits are the program's own in every mode: auto commit off.
  auto created = Consumer::Create({{"bootstrap.servers", bootstrap},
                                   {"group.id", group},
                                   {"enable.auto.commit", "false"},
                                   {"auto.offset.reset", "earliest"},
                                   {"max.poll.records", std::to_string(max_poll_records)}});
  if (!created.ok()) {
    std::fprintf(stderr, "%s\n", std::string(created.status().message()).c_str());
    return 2;
  }
  std::unique_ptr<Consumer> consumer = *std::move(created);
  Consumer* raw = consumer.get();
  FileStore store(store_path);
  auto listener = std::make_shared<SeekToStore>(raw, store);
  absl::Status subscribed = mode == "exactly-once" ? consumer->Subscribe({topic}, listener)
                                                   : consumer->Subscribe({topic});
  if (!subscribed.ok()) {
    std::fprintf(stderr, "%s\n", std::string(subscribed.message()).c_str());
    return 1;
  }

  int64_t done = 0;
  auto last_record = std::chrono::steady_clock::now();
  while (max_records == 0 || done < max_records) {
    auto records = consumer->Poll(std::chrono::milliseconds(200));
    if (!records.ok()) {
      std::fprintf(stderr, "poll: %s\n", std::string(records.status().message()).c_str());
      return 1;
    }
    if (records->empty()) {
      if (std::chrono::steady_clock::now() - last_record > std::chrono::milliseconds(idle_ms)) {
        break;
      }
      continue;
    }
    last_record = std::chrono::steady_clock::now();
    if (process_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(process_ms));
    // The next offset of each partition in this batch.
    std::map<TopicPartition, OffsetAndMetadata> next;
    for (const auto& r : *records) next[{topic, r.partition()}] = {r.offset() + 1, -1, ""};
    // Printed (and flushed) only once the commit returned OK, after the batch's values.
    auto log_committed = [&] {
      if (!log_commits) return;
      for (const auto& [tp, offset] : next) {
        std::printf("committed %s %ld\n", tp.ToString().c_str(), static_cast<long>(offset.offset));
      }
      std::fflush(stdout);
    };

    if (mode == "at-most-once") {
      // Commit first: once this returns, a crash skips these records.
      if (absl::Status s = consumer->CommitSync(next); !s.ok()) continue;  // not processed
      log_committed();
      for (const auto& r : *records)
        std::printf("%s\n", std::string(r.value().value_or("")).c_str());
    } else if (mode == "at-least-once") {
      // Process first: a crash before the commit repeats these records.
      for (const auto& r : *records)
        std::printf("%s\n", std::string(r.value().value_or("")).c_str());
      std::fflush(stdout);
      if (consumer->CommitSync(next).ok()) log_committed();
    } else {
      // Result and position together in the store; the group commit is a hint only.
      std::vector<std::string> lines;
      std::map<int32_t, int64_t> positions;
      for (const auto& r : *records) {
        lines.push_back(std::to_string(r.partition()) + " " + std::to_string(r.offset()) + " " +
                        std::string(r.value().value_or("")));
        positions[r.partition()] = r.offset() + 1;
      }
      if (!store.Save(lines, positions)) {
        std::fprintf(stderr, "cannot write %s\n", store_path.c_str());
        return 1;
      }
      consumer->CommitAsync(next, nullptr);
    }
    done += static_cast<int64_t>(records->size());
  }
  std::fflush(stdout);
  consumer->Close();
  std::fprintf(stderr, "%ld record(s) processed (%s)\n", static_cast<long>(done), mode.c_str());
  return 0;
}
