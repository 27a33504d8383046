// The fault-injecting file system's power-loss journal, slow and held fsyncs, and the log
// manager's space probe that a broker with a full disk polls.
#include "storage/fault_injecting_filesystem.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "storage/errc.h"
#include "storage/log_manager.h"
#include "storage/testing/test_util.h"

namespace strand::storage {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The journal's last word on each path, as tools/drill reads it.
std::map<std::string, int64_t> ReadJournal(const std::string& path) {
  std::ifstream in(path);
  std::map<std::string, int64_t> out;
  std::string line;
  while (std::getline(in, line)) {
    const size_t space = line.find(' ');
    out[line.substr(space + 1)] = std::stoll(line.substr(0, space));
  }
  return out;
}

TEST(FaultInjectingFilesystem, JournalRecordsWhatEachSyncMadeDurable) {
  TempDir dir;
  FaultInjectingFilesystem fs(PosixFilesystem());
  const std::string journal = dir.Sub("journal");
  ASSERT_TRUE(fs.RecordSyncedLengths(journal).ok());
  const std::string a = dir.Sub("a.log"), b = dir.Sub("b.tmp"), c = dir.Sub("c.log");
  {
    auto file = fs.Open(a, OpenMode::kCreateExclusive);
    ASSERT_TRUE(file.ok()) << file.status();
    ASSERT_TRUE((*file)->WriteAt(0, Bytes("0123456789")).ok());
    ASSERT_TRUE((*file)->Sync().ok());
    ASSERT_TRUE((*file)->WriteAt(10, Bytes("abcdef")).ok());  // never synced
    // Preallocation grows the file but is no data: the synced length follows the writes.
    ASSERT_TRUE((*file)->Allocate(0, 4096).ok());
  }
  EXPECT_EQ(ReadJournal(journal)[a], 10);
  EXPECT_EQ(std::filesystem::file_size(a), 4096u);
  {
    auto file = fs.Open(a, OpenMode::kReadWrite);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Truncate(4).ok());  // below the synced length: lowers it
  }
  EXPECT_EQ(ReadJournal(journal)[a], 4);
  {
    auto file = fs.Open(b, OpenMode::kCreateTruncate);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->WriteAt(0, Bytes("checkpoint")).ok());
    ASSERT_TRUE((*file)->Sync().ok());
  }
  ASSERT_TRUE(fs.Rename(b, c).ok());  // the synced length moves with the file
  auto lengths = ReadJournal(journal);
  EXPECT_EQ(lengths[b], -1);
  EXPECT_EQ(lengths[c], 10);
  ASSERT_TRUE(fs.Remove(c).ok());
  EXPECT_EQ(ReadJournal(journal)[c], -1);

  // A file that existed before: its length when first opened for writing counts as synced;
  // opening it only to read records nothing.
  const std::string old = dir.Sub("old.log");
  std::ofstream(old) << "twelve bytes";
  ASSERT_TRUE(fs.Open(old, OpenMode::kRead).ok());
  EXPECT_EQ(ReadJournal(journal).count(old), 0u);
  {
    auto file = fs.Open(old, OpenMode::kReadWrite);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->WriteAt(12, Bytes("++")).ok());
  }
  EXPECT_EQ(ReadJournal(journal)[old], 12);
}

TEST(FaultInjectingFilesystem, JournalStartsOverWhenLong) {
  TempDir dir;
  FaultInjectingFilesystem fs(PosixFilesystem());
  const std::string journal = dir.Sub("journal");
  ASSERT_TRUE(fs.RecordSyncedLengths(journal).ok());
  // A long name makes long lines: 25,000 syncs write more than the 4 MiB it starts over at.
  const std::string busy = dir.Sub(std::string(200, 'b') + ".log");
  auto file = fs.Open(busy, OpenMode::kCreate);
  ASSERT_TRUE(file.ok());
  const std::string chunk(10, 'x');
  for (int i = 0; i < 25'000; ++i) {
    ASSERT_TRUE((*file)->WriteAt(i * 10, Bytes(chunk)).ok());
    ASSERT_TRUE((*file)->Sync().ok());
  }
  EXPECT_LT(std::filesystem::file_size(journal), 4u << 20);
  EXPECT_EQ(ReadJournal(journal)[busy], 250'000);
}

TEST(FaultInjectingFilesystem, HeldSyncsWaitUntilReleased) {
  TempDir dir;
  FaultInjectingFilesystem fs(PosixFilesystem());
  auto file = fs.Open(dir.Sub("f"), OpenMode::kCreate);
  ASSERT_TRUE(file.ok());
  fs.HoldSyncs();
  std::atomic<bool> done{false};
  std::thread syncer([&] {
    EXPECT_TRUE((*file)->Sync().ok());
    done = true;
  });
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(done.load()) << "a held fsync returned";
  EXPECT_EQ(fs.syncs_slowed(), 1);
  fs.ReleaseSyncs();
  syncer.join();
  EXPECT_TRUE(done.load());

  fs.DelaySyncs(50ms);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE((*file)->Sync().ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
  EXPECT_EQ(fs.syncs_slowed(), 2);
  fs.HoldSyncs();
  fs.ClearFaults();  // releases too
  ASSERT_TRUE((*file)->Sync().ok());
}

TEST(FaultInjectingFilesystem, CountsInjectedErrors) {
  TempDir dir;
  FaultInjectingFilesystem fs(PosixFilesystem());
  auto file = fs.Open(dir.Sub("f"), OpenMode::kCreate);
  ASSERT_TRUE(file.ok());
  fs.FailWritesWithNoSpace();
  EXPECT_EQ(StorageErrcOf((*file)->WriteAt(0, Bytes("x"))), Errc::kDiskFull);
  fs.FailCreates();
  EXPECT_FALSE(fs.Open(dir.Sub("g"), OpenMode::kCreate).ok());
  EXPECT_EQ(fs.injected_errors(), 1);  // creations refused count only as refusals
}

TEST(LogManagerSpaceProbe, FailsWhileTheDiskIsFullAndLeavesNothing) {
  TempDir dir;
  FaultInjectingFilesystem fs(PosixFilesystem());
  LogManagerConfig config;
  config.data_dir = dir.Sub("data");
  LogManagerOptions options;
  options.fs = &fs;
  options.background_threads = false;
  auto manager = LogManager::Open(config, {}, std::move(options));
  ASSERT_TRUE(manager.ok()) << manager.status();
  EXPECT_TRUE((*manager)->ProbeSpace(1 << 20).ok());
  fs.FailWritesAfterBytes(100 << 10);  // 100 KiB left
  EXPECT_EQ(StorageErrcOf((*manager)->ProbeSpace(1 << 20)), Errc::kDiskFull);
  fs.ClearFaults();
  EXPECT_TRUE((*manager)->ProbeSpace(1 << 20).ok());
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("data/.space-probe")));
}

}  // namespace
}  // namespace strand::storage
