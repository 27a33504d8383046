// bench-log: partition-log throughput against the machine's own limit, measured in the same run.
//
// For each case it runs the Log and a plain-POSIX baseline doing the same I/O, alternating them
// `--rounds` times; it prints the median of each side and the median of the per-round ratios:
//
//   append 16KiB fsync   log  55.1 MB/s  3420 batches/s | raw  58.9 MB/s  3660 batches/s |
//   ratio=0.94
//
// Cases (records of 1 KiB, batches of 16 KiB and 1 MiB):
//   append ... fsync      default policy (flush.messages=1); the writer waits until each batch is
//                         durable before appending the next (acks=all with one request in
//                         flight). Baseline: write + fdatasync per batch.
//   append ... pipelined  default policy; the writer never waits, group commit decides how many
//                         batches each fsync covers. Baseline: the same bytes with as many
//                         fdatasyncs as the log issued, evenly spaced.
//   append ... nofsync    flush.messages/flush.ms never: appends reach the page cache only.
//                         Baseline: write only.
//   read ...              sequential Log::Read of 1 MiB per call over what was appended (from the
//                         page cache). Baseline: pread of the same file in 1 MiB pieces.
//
// Usage: bench-log [--dir=DIR] [--fsync-mb=16] [--nofsync-mb=256] [--rounds=9] [--cases=a,b]
//                  [--no-preallocate] [--preallocate-chunk-mb=N]
// (cases: fsync, pipelined, nofsync, read; read uses what nofsync wrote, so it needs nofsync)
// DIR defaults to $TMPDIR or /tmp; it must be on the disk you want to measure.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/byte_buffer.h"
#include "common/check.h"
#include "common/logging.h"
#include "record/record_batch_builder.h"
#include "storage/fault_injecting_filesystem.h"
#include "storage/flusher.h"
#include "storage/log.h"

namespace strand::storage {
namespace {

constexpr int kRecordBytes = 1024;

struct Options {
  std::string dir;
  int64_t fsync_bytes = 16LL << 20;
  int64_t nofsync_bytes = 256LL << 20;
  int rounds = 9;
  std::string cases = "all";
  bool preallocate = true;              // the default LogConfig
  int64_t preallocate_chunk_bytes = 0;  // 0: the config's default
};

struct Figure {
  double seconds = 0;
  int64_t bytes = 0;
  int64_t batches = 0;
  double mb_per_s() const { return bytes / seconds / 1e6; }
  double batches_per_s() const { return batches / seconds; }
};

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string FreshDir(const Options& o, const std::string& name) {
  std::string dir = o.dir + "/bench-log-" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// One batch of 1 KiB records adding up to about `batch_bytes`.
ByteBuffer MakeBatch(int64_t batch_bytes) {
  int records = static_cast<int>(std::max<int64_t>(1, batch_bytes / (kRecordBytes + 16)));
  record::RecordBatchBuilder builder({});
  std::string value(kRecordBytes, 'v');
  for (int i = 0; i < records; ++i) {
    value[i % kRecordBytes] = static_cast<char>('a' + i % 26);
    builder.Append(1'700'000'000'000 + i, "key-" + std::to_string(i), value);
  }
  auto batch = builder.Build();
  STRAND_CHECK(batch.ok());
  return std::move(*batch);
}

struct LogRun {
  Figure figure;
  int64_t fsyncs = 0;
  std::string dir;
};

// Appends `total` bytes of copies of `batch` to a fresh log.
LogRun RunLog(const Options& o, const ByteBuffer& batch, int64_t total, bool fsync, bool wait,
              const std::string& name) {
  LogRun run;
  run.dir = FreshDir(o, name);
  FaultInjectingFilesystem counting(PosixFilesystem());  // no faults: counts fsyncs
  Flusher flusher(1);
  ::sync();  // start from a clean page cache, as the baseline does
  LogConfig config;
  config.max_message_bytes = 2 << 20;
  config.preallocate = o.preallocate;
  if (o.preallocate_chunk_bytes > 0) config.preallocate_chunk_bytes = o.preallocate_chunk_bytes;
  if (!fsync) config.flush_messages = config.flush_ms = kNever;
  LogOptions options;
  options.fs = fsync ? static_cast<Filesystem*>(&counting) : &PosixFilesystem();
  options.flusher = &flusher;
  auto log = Log::Open(run.dir + "/p-0", config, options);
  STRAND_CHECK(log.ok());
  int64_t count = std::max<int64_t>(1, total / static_cast<int64_t>(batch.size()));
  ByteBuffer scratch = ByteBuffer::CopyOf(batch.span());
  int64_t syncs_before = counting.syncs();
  double start = Now();
  for (int64_t i = 0; i < count; ++i) {
    // The append rewrites the header in place; the payload stays as the producer sent it.
    auto info = (*log)->AppendAsLeader(scratch.span(), LeaderEpoch(0));
    STRAND_CHECK_MSG(info.ok(), "{}", info.status().ToString());
    if (wait) STRAND_CHECK((*log)->WaitDurable(info->last_offset, 60000).ok());
  }
  if (fsync && !wait) {
    STRAND_CHECK((*log)->WaitDurable((*log)->LogEndOffset() - 1, 60000).ok());
  }
  run.figure = {Now() - start, count * static_cast<int64_t>(batch.size()), count};
  run.fsyncs = counting.syncs() - syncs_before;
  STRAND_CHECK((*log)->Close().ok());
  return run;
}

// Writes `total` bytes in `chunk` pieces through write(2), with `fsyncs` fdatasyncs spread
// evenly (one after every batch when fsyncs == batches).
Figure RunRaw(const Options& o, int64_t chunk, int64_t total, int64_t fsyncs,
              const std::string& name) {
  std::string dir = FreshDir(o, name);
  std::string path = dir + "/raw.log";
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  STRAND_CHECK(fd >= 0);
  ByteBuffer data(static_cast<size_t>(chunk));
  std::memset(data.data(), 'r', data.size());
  ::sync();
  int64_t count = std::max<int64_t>(1, total / chunk);
  double start = Now();
  int64_t synced = 0;
  for (int64_t i = 0; i < count; ++i) {
    STRAND_CHECK(::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
    // The (i+1)-th write is followed by a sync when the even spacing says so.
    int64_t due = fsyncs * (i + 1) / count;
    while (synced < due) {
      STRAND_CHECK(::fdatasync(fd) == 0);
      ++synced;
    }
  }
  Figure f{Now() - start, count * chunk, count};
  ::close(fd);
  std::filesystem::remove_all(dir);
  return f;
}

// Two sequential passes over the log: the first after opening it (CRCs checked: nothing read
// back from disk has been checked yet), the second in steady state (already checked).
std::pair<Figure, Figure> ReadLog(const std::string& dir, int64_t chunk) {
  LogOptions options;
  auto log = Log::Open(dir + "/p-0", LogConfig{.max_message_bytes = 2 << 20}, options);
  STRAND_CHECK(log.ok());
  Figure passes[2];
  for (int pass = 0; pass < 2; ++pass) {
    double start = Now();
    Offset next(0);
    int64_t bytes = 0, reads = 0;
    while (next < (*log)->LogEndOffset()) {
      auto r = (*log)->Read(next, chunk);
      STRAND_CHECK(r.ok());
      bytes += static_cast<int64_t>(r->records.size());
      next = r->next_offset;
      ++reads;
    }
    passes[pass] = {Now() - start, bytes, reads};
  }
  // A clean close, so that the next open trusts the data again without checking it: each round's
  // first pass then really checks every CRC.
  STRAND_CHECK((*log)->Close().ok());
  return {passes[0], passes[1]};
}

std::pair<Figure, Figure> ReadRaw(const std::string& dir, int64_t chunk) {
  std::string path;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/p-0")) {
    if (e.path().extension() == ".log") path = e.path();
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  STRAND_CHECK(fd >= 0);
  ByteBuffer buffer(static_cast<size_t>(chunk));
  Figure passes[2];
  for (int pass = 0; pass < 2; ++pass) {
    double start = Now();
    int64_t bytes = 0, reads = 0, n;
    while ((n = ::pread(fd, buffer.data(), buffer.size(), bytes)) > 0) {
      bytes += n;
      ++reads;
    }
    passes[pass] = {Now() - start, bytes, reads};
  }
  ::close(fd);
  return {passes[0], passes[1]};
}

Figure Median(std::vector<Figure> runs) {
  std::sort(runs.begin(), runs.end(),
            [](const Figure& a, const Figure& b) { return a.mb_per_s() < b.mb_per_s(); });
  return runs[runs.size() / 2];
}

// Prints the median figures of both sides and the median of the per-round ratios: each round
// runs the two sides back to back, so pairing them cancels most of the drift of a shared disk.
void Print(const std::string& name, const std::vector<Figure>& logs,
           const std::vector<Figure>& raws, const std::string& extra = "") {
  std::vector<double> ratios;
  for (size_t i = 0; i < logs.size(); ++i) {
    ratios.push_back(logs[i].mb_per_s() / raws[i].mb_per_s());
  }
  std::sort(ratios.begin(), ratios.end());
  Figure log = Median(logs), raw = Median(raws);
  std::printf(
      "%-26s log %8.1f MB/s %9.0f batches/s | raw %8.1f MB/s %9.0f batches/s | "
      "ratio=%.2f%s\n",
      name.c_str(), log.mb_per_s(), log.batches_per_s(), raw.mb_per_s(), raw.batches_per_s(),
      ratios[ratios.size() / 2], extra.c_str());
  std::fflush(stdout);
}

bool Wanted(const Options& o, const std::string& name) {
  if (o.cases == "all") return true;
  std::string list = "," + o.cases + ",";
  return list.find("," + name + ",") != std::string::npos;
}

void AppendCase(const Options& o, int64_t batch_bytes, const std::string& label, bool fsync,
                bool wait, const std::string& mode, std::vector<std::string>* read_dirs) {
  std::string name = "append " + label + " " + mode;
  if (!Wanted(o, mode)) return;
  ByteBuffer batch = MakeBatch(batch_bytes);
  // Enough batches per round for a stable rate: at least 64 of the large ones.
  int64_t total = fsync ? std::max<int64_t>(o.fsync_bytes, 64 * static_cast<int64_t>(batch.size()))
                        : o.nofsync_bytes;
  std::vector<Figure> logs, raws;
  int64_t fsyncs = 0;
  for (int r = 0; r < o.rounds; ++r) {
    // Alternate which side runs first, so that neither always inherits the other's writeback.
    bool raw_first = r % 2 == 1;
    int64_t chunk = static_cast<int64_t>(batch.size());
    int64_t count = std::max<int64_t>(1, total / chunk);
    if (raw_first) {
      int64_t raw_syncs = !fsync ? 0 : wait ? count : std::max<int64_t>(fsyncs, 1);
      raws.push_back(RunRaw(o, chunk, total, raw_syncs, "raw"));
    }
    LogRun run = RunLog(o, batch, total, fsync, wait, label + mode);
    logs.push_back(run.figure);
    fsyncs = run.fsyncs;
    bool keep = r + 1 == o.rounds && !fsync && read_dirs;
    if (keep) {
      read_dirs->push_back(run.dir);
    } else {
      std::filesystem::remove_all(run.dir);
    }
    if (!raw_first) {
      int64_t raw_syncs = !fsync ? 0 : wait ? count : run.fsyncs;
      raws.push_back(RunRaw(o, chunk, total, raw_syncs, "raw"));
    }
  }
  Print(name, logs, raws,
        fsync ? "  (" + std::to_string(fsyncs) + " fsyncs for " +
                    std::to_string(Median(logs).batches) + " batches)"
              : "");
}

}  // namespace
}  // namespace strand::storage

int main(int argc, char** argv) {
  using namespace strand::storage;
  strand::InitLogging("warn");
  Options o;
  const char* tmp = std::getenv("TMPDIR");
  o.dir = tmp && *tmp ? tmp : "/tmp";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      size_t n = std::strlen(flag);
      return a.compare(0, n, flag) == 0 ? a.c_str() + n : nullptr;
    };
    if (const char* v = value("--dir=")) {
      o.dir = v;
    } else if (const char* mb = value("--fsync-mb=")) {
      o.fsync_bytes = std::atoll(mb) << 20;
    } else if (const char* nmb = value("--nofsync-mb=")) {
      o.nofsync_bytes = std::atoll(nmb) << 20;
    } else if (const char* rounds = value("--rounds=")) {
      o.rounds = std::max(1, std::atoi(rounds));
    } else if (const char* cases = value("--cases=")) {
      o.cases = cases;
    } else if (a == "--no-preallocate") {
      o.preallocate = false;
    } else if (const char* chunk = value("--preallocate-chunk-mb=")) {
      o.preallocate = true;
      o.preallocate_chunk_bytes = std::atoll(chunk) << 20;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--dir=DIR] [--fsync-mb=N] [--nofsync-mb=N] [--rounds=N] "
                   "[--cases=fsync,pipelined,nofsync,read]\n",
                   argv[0]);
      return 2;
    }
  }
  std::printf("bench-log: dir=%s rounds=%d (median), 1 KiB records, preallocate=%s\n",
              o.dir.c_str(), o.rounds, o.preallocate ? "true" : "false");
  std::vector<std::string> read_dirs;
  AppendCase(o, 16 << 10, "16KiB", true, true, "fsync", nullptr);
  AppendCase(o, 1 << 20, "1MiB", true, true, "fsync", nullptr);
  AppendCase(o, 16 << 10, "16KiB", true, false, "pipelined", nullptr);
  AppendCase(o, 1 << 20, "1MiB", true, false, "pipelined", nullptr);
  AppendCase(o, 16 << 10, "16KiB", false, false, "nofsync", &read_dirs);
  AppendCase(o, 1 << 20, "1MiB", false, false, "nofsync", &read_dirs);
  if (Wanted(o, "read")) {
    const char* labels[] = {"16KiB", "1MiB"};
    for (size_t i = 0; i < read_dirs.size(); ++i) {
      std::vector<Figure> first_logs, logs, first_raws, raws;
      for (int r = 0; r < o.rounds; ++r) {
        auto [log_first, log_steady] = ReadLog(read_dirs[i], 1 << 20);
        auto [raw_first, raw_steady] = ReadRaw(read_dirs[i], 1 << 20);
        first_logs.push_back(log_first);
        logs.push_back(log_steady);
        first_raws.push_back(raw_first);
        raws.push_back(raw_steady);
      }
      Print(std::string("read ") + labels[i] + " 1st pass", first_logs, first_raws,
            "  (every batch CRC-checked)");
      Print(std::string("read ") + labels[i] + " batches", logs, raws);
    }
  }
  for (const auto& d : read_dirs) std::filesystem::remove_all(d);
  return 0;
}
