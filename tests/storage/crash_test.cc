// Crash test with real processes: storage-crash-child appends to a log and reports, on a pipe,
// each batch the log has called durable; this test SIGKILLs it at random moments (at least 200
// times; more with STRAND_CRASH_KILLS), reopens the log after every kill and checks that
//   - every batch reported durable is present, at its offsets, byte for byte;
//   - the log holds a gap-free run of offsets, every record intact (CRCs and self-describing
//     payloads), and nothing past its end is served;
//   - recovery never cut below a durable offset;
//   - the log accepts appends again.
// Between kills the test sometimes closes the log cleanly and sometimes leaves it as recovered,
// so that the child also opens both kinds of state. A fresh directory every 20 kills keeps the
// verification cost flat. The seed (STRAND_CRASH_SEED, printed) reproduces the kill timings.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "common/random.h"
#include "record/record_batch_builder.h"
#include "storage/errc.h"
#include "storage/log.h"
#include "storage/testing/test_util.h"
#include "tests/storage/crash_payload.h"

namespace strand::storage {
namespace {

constexpr uint64_t kParentIds = uint64_t{1} << 40;

struct Reported {
  Offset base;
  Offset last;
};

std::string ChildPath() {
  return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "storage-crash-child")
      .string();
}

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

// Parses "D <id> <base> <last>" lines out of `buffer`, keeping an incomplete tail.
void ParseReports(std::string* buffer, std::map<uint64_t, Reported>* durable) {
  size_t start = 0, end;
  while ((end = buffer->find('\n', start)) != std::string::npos) {
    std::string line = buffer->substr(start, end - start);
    start = end + 1;
    unsigned long long id, base, last;
    ASSERT_EQ(std::sscanf(line.c_str(), "D %llu %llu %llu", &id, &base, &last), 3) << line;
    (*durable)[id] = {Offset(static_cast<int64_t>(base)), Offset(static_cast<int64_t>(last))};
  }
  buffer->erase(0, start);
}

class CrashTest : public ::testing::Test {
 protected:
  CrashTest() { testing::QuietLogs(); }

  // Runs the child until `run_ms` have passed, then SIGKILLs it; collects its reports.
  void RunAndKill(const std::string& dir, uint64_t first_id, uint64_t seed, int64_t run_ms,
                  std::map<uint64_t, Reported>* durable) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    std::string child = ChildPath();
    std::string fd_arg = std::to_string(fds[1]);
    std::string id_arg = std::to_string(first_id);
    std::string seed_arg = std::to_string(seed);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::fcntl(fds[1], F_SETFD, 0);  // the report pipe survives exec
      ::execl(child.c_str(), child.c_str(), dir.c_str(), fd_arg.c_str(), id_arg.c_str(),
              seed_arg.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    std::string buffer;
    char chunk[4096];
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(run_ms);
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) break;
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      ssize_t n = ::read(fds[0], chunk, sizeof chunk);
      if (n <= 0) break;  // the child exited by itself (it never should this early)
      buffer.append(chunk, static_cast<size_t>(n));
      ParseReports(&buffer, durable);
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    // Killed by us, or finished: anything else (an abort from a failed CHECK) is a bug.
    ASSERT_TRUE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
                (WIFEXITED(status) && WEXITSTATUS(status) == 0))
        << "child status " << status;
    ssize_t n;
    while ((n = ::read(fds[0], chunk, sizeof chunk)) > 0) buffer.append(chunk, n);
    ::close(fds[0]);
    ParseReports(&buffer, durable);
    EXPECT_TRUE(buffer.empty()) << "a torn report line: " << buffer;
  }

  // Reopens the log and checks it against what was reported durable; returns the largest
  // batch id the child wrote that is in it (the parent's own batches have ids >= 2^40).
  uint64_t Verify(const std::string& dir, const std::map<uint64_t, Reported>& durable,
                  uint64_t parent_id, Random& random) {
    LogConfig config;
    config.segment_bytes = 64 * 1024;
    config.index_interval_bytes = 1024;
    auto log = Log::Open(dir, config, {});
    EXPECT_TRUE(log.ok()) << log.status();
    if (!log.ok()) return 0;
    const RecoveryReport& report = (*log)->recovery_report();
    Offset durable_end(0);
    for (const auto& [id, r] : durable) durable_end = std::max(durable_end, r.last + 1);
    if (report.cut) {
      EXPECT_GE(report.cut->offset, durable_end) << report.ToString();
      ++cuts_;
    }
    EXPECT_GE((*log)->LogEndOffset(), durable_end) << report.ToString();
    // Every offset from the start to the end, once, each record intact and where it belongs.
    std::map<int64_t, crash::Identity> at;
    uint64_t max_id = 0;
    Offset expected = (*log)->LogStartOffset();
    for (const auto& r : testing::ReadAll(**log)) {
      EXPECT_EQ(r.offset, expected) << "gap or repeat";
      expected = r.offset + 1;
      auto identity = crash::IdentityOf(r.value.value_or(""));
      EXPECT_TRUE(identity.has_value()) << "not a crash-test record at " << r.offset;
      if (!identity) continue;
      EXPECT_EQ(r.key, crash::KeyFor(identity->id, identity->index));
      EXPECT_EQ(r.value, crash::ValueFor(identity->id, identity->index)) << "damaged record";
      at[r.offset.value()] = *identity;
      if (identity->id < kParentIds) max_id = std::max(max_id, identity->id);
    }
    EXPECT_EQ(expected, (*log)->LogEndOffset());
    for (const auto& [id, r] : durable) {
      for (Offset o = r.base; o <= r.last; ++o) {
        auto it = at.find(o.value());
        if (it == at.end()) {
          ADD_FAILURE() << "durable batch " << id << " lost offset " << o;
          continue;
        }
        EXPECT_EQ(it->second.id, id);
        EXPECT_EQ(it->second.index, o - r.base);
      }
    }
    // Nothing past the end is served.
    auto at_end = (*log)->Read((*log)->LogEndOffset(), 1 << 20);
    EXPECT_TRUE(at_end.ok() && at_end->records.empty());
    EXPECT_EQ(StorageErrcOf((*log)->Read((*log)->LogEndOffset() + 1, 100).status()),
              Errc::kOffsetOutOfRange);
    // The log takes appends again.
    record::RecordBatchBuilder builder({});
    builder.Append(1, crash::KeyFor(parent_id, 0), crash::ValueFor(parent_id, 0));
    ByteBuffer batch = *builder.Build();
    auto info = (*log)->AppendAsLeader(batch.span(), LeaderEpoch(1));
    EXPECT_TRUE(info.ok()) << info.status();
    EXPECT_TRUE((*log)->Flush().ok());
    if (random.OneIn(2)) {
      EXPECT_TRUE((*log)->Close().ok());
    }  // else it stays as recovery left it, like after a crash
    return max_id;
  }

  int cuts_ = 0;
};

TEST_F(CrashTest, SigkillAtRandomMoments_NothingDurableIsLost) {
  const uint64_t seed = EnvOr("STRAND_CRASH_SEED", static_cast<uint64_t>(::time(nullptr)));
  // At least 200 kills; STRAND_CRASH_KILLS asks for more.
  const int kills = std::max(200, static_cast<int>(EnvOr("STRAND_CRASH_KILLS", 200)));
  std::printf("crash test: seed %llu (rerun with STRAND_CRASH_SEED=%llu), %d kills\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed), kills);
  ASSERT_TRUE(std::filesystem::exists(ChildPath())) << ChildPath();
  Random random(seed);
  testing::TempDir root;
  auto started = std::chrono::steady_clock::now();
  int done = 0;
  int64_t durable_batches = 0;
  for (int d = 0; done < kills; ++d) {
    std::string dir = root.Sub("crash-" + std::to_string(d));
    std::map<uint64_t, Reported> durable;
    uint64_t next_id = 1;
    for (int k = 0; k < 20 && done < kills; ++k, ++done) {
      SCOPED_TRACE(::testing::Message() << "dir " << d << " kill " << k << " seed " << seed);
      int64_t run_ms = 5 + static_cast<int64_t>(random.Uniform(k == 0 ? 300 : 150));
      RunAndKill(dir, next_id, random.Next(), run_ms, &durable);
      if (HasFatalFailure()) return;
      uint64_t max_id = Verify(dir, durable, kParentIds + static_cast<uint64_t>(done), random);
      if (HasFailure()) return;
      // The child's next ids continue past every batch in the log, reported durable or not.
      next_id = std::max(next_id, max_id + 1);
    }
    durable_batches += static_cast<int64_t>(durable.size());
    std::filesystem::remove_all(dir);
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "crash test: %d kills, %lld batches reported durable, %d recoveries cut a torn "
      "tail, %.1f s\n",
      done, static_cast<long long>(durable_batches), cuts_, seconds);
  EXPECT_EQ(done, kills);
}

}  // namespace
}  // namespace strand::storage
