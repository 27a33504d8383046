// storage-crash-child: the process the crash test kills. It opens (and so recovers) a log,
// then appends batches of self-describing records (crash_payload.h) with up to 8 appends
// waiting for durability at once, and reports each batch on a pipe once — and only once — the
// log has called it durable:
//   D <id> <base offset> <last offset>\n
// A line is one write(2) of less than PIPE_BUF bytes, so it reaches the pipe whole or not at
// all; the pipe's contents outlive the process, so the parent reads every report made before
// the SIGKILL. Anything the log appended but had not yet called durable is not reported, and
// the parent may or may not find it.
//
// Usage: storage-crash-child <log dir> <report fd> <first batch id> <seed>
// Bounded: it stops by itself after 60 s or 200000 batches.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "common/check.h"
#include "common/logging.h"
#include "common/random.h"
#include "record/record_batch_builder.h"
#include "storage/flusher.h"
#include "storage/log.h"
#include "tests/storage/crash_payload.h"

using namespace strand;
using namespace strand::storage;

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s <log dir> <report fd> <first batch id> <seed>\n", argv[0]);
    return 2;
  }
  InitLogging("warn");
  std::string dir = argv[1];
  int report_fd = std::atoi(argv[2]);
  uint64_t id = std::strtoull(argv[3], nullptr, 10);
  Random random(std::strtoull(argv[4], nullptr, 10));

  Flusher flusher(1);
  LogConfig config;
  // Small segments, so that kills land in rolls, seals and checkpoint writes too.
  config.segment_bytes = 64 * 1024;
  config.index_interval_bytes = 1024;
  LogOptions options;
  options.flusher = &flusher;
  auto log = Log::Open(dir, config, options);
  STRAND_CHECK_MSG(log.ok(), "open: {}", log.status().ToString());

  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  constexpr int kInFlightMax = 8;
  auto started = std::chrono::steady_clock::now();
  for (int n = 0; n < 200000; ++n, ++id) {
    if (std::chrono::steady_clock::now() - started > std::chrono::seconds(60)) break;
    record::RecordBatchBuilder builder(
        {.compression = random.OneIn(4) ? record::Compression::kLz4 : record::Compression::kNone});
    int count = crash::CountFor(id);
    for (int i = 0; i < count; ++i) {
      builder.Append(1'700'000'000'000 + static_cast<int64_t>(id), crash::KeyFor(id, i),
                     crash::ValueFor(id, i));
    }
    auto batch = builder.Build();
    STRAND_CHECK(batch.ok());
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight < kInFlightMax; });
      ++in_flight;
    }
    auto info = (*log)->AppendAsLeader(batch->span(), LeaderEpoch(1));
    STRAND_CHECK_MSG(info.ok(), "append: {}", info.status().ToString());
    uint64_t this_id = id;
    Offset base = info->base_offset, last = info->last_offset;
    (*log)->NotifyWhenDurable(last, [&, this_id, base, last](absl::Status s) {
      STRAND_CHECK_MSG(s.ok(), "durable: {}", s.ToString());
      std::string line = "D " + std::to_string(this_id) + " " + std::to_string(base.value()) + " " +
                         std::to_string(last.value()) + "\n";
      STRAND_CHECK(::write(report_fd, line.data(), line.size()) ==
                   static_cast<ssize_t>(line.size()));
      std::lock_guard lock(mu);
      --in_flight;
      cv.notify_one();
    });
  }
  STRAND_CHECK((*log)->Close().ok());
  return 0;
}
