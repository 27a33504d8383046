// Tests RocksDbStorage on a real disk: what is persisted is what a reopened store loads, a
// conflicting suffix is replaced, snapshots replace the log or compact it, and a damaged
// snapshot file is reported rather than loaded.
#include "raft/storage/rocksdb_storage.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "raft/core/errc.h"

namespace strand::raft {
namespace {

namespace fs = std::filesystem;

class RocksDbStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/strand-raft-storage-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<RocksDbStorage> Open() {
    auto s = RocksDbStorage::Open(dir_);
    EXPECT_TRUE(s.ok()) << s.status();
    return *std::move(s);
  }

  static std::vector<Entry> Entries(uint64_t from, uint64_t to, uint64_t term) {
    std::vector<Entry> out;
    for (uint64_t i = from; i <= to; ++i) {
      out.push_back(Entry{Term(term), LogIndex(i), EntryType::kNormal, "d" + std::to_string(i)});
    }
    return out;
  }

  std::string dir_;
};

TEST_F(RocksDbStorageTest, Persist_ThenReopen_LoadsSameState) {
  {
    auto s = Open();
    ASSERT_TRUE(s->Load().ok());
    HardState hs{Term(3), NodeId(2), LogIndex(4)};
    ASSERT_TRUE(s->Persist(hs, std::nullopt, Entries(1, 5, 3), /*sync=*/true).ok());
    EXPECT_EQ(s->syncs(), 1u);
  }
  auto s = Open();
  auto boot = s->Load();
  ASSERT_TRUE(boot.ok()) << boot.status();
  EXPECT_EQ(boot->hard_state, (HardState{Term(3), NodeId(2), LogIndex(4)}));
  EXPECT_EQ(boot->entries, Entries(1, 5, 3));
  EXPECT_TRUE(boot->snapshot.Empty());
}

TEST_F(RocksDbStorageTest, OverlappingAppend_ReplacesSuffix) {
  auto s = Open();
  ASSERT_TRUE(s->Load().ok());
  ASSERT_TRUE(s->Persist(std::nullopt, std::nullopt, Entries(1, 10, 1), true).ok());
  ASSERT_TRUE(s->Persist(std::nullopt, std::nullopt, Entries(6, 7, 2), true).ok());
  s.reset();
  auto boot = Open()->Load();
  ASSERT_TRUE(boot.ok());
  std::vector<Entry> expected = Entries(1, 5, 1);
  for (Entry& e : Entries(6, 7, 2)) expected.push_back(e);
  EXPECT_EQ(boot->entries, expected);
}

TEST_F(RocksDbStorageTest, ReceivedSnapshot_ReplacesLog) {
  auto s = Open();
  ASSERT_TRUE(s->Load().ok());
  ASSERT_TRUE(s->Persist(std::nullopt, std::nullopt, Entries(1, 10, 1), true).ok());
  Snapshot snap{SnapshotMeta{LogIndex(50), Term(4), {NodeId(1), NodeId(2)}},
                std::make_shared<const std::string>("state-at-50")};
  ASSERT_TRUE(s->Persist(HardState{Term(4), kNoNode, LogIndex(50)}, snap, {}, true).ok());
  ASSERT_TRUE(s->Persist(std::nullopt, std::nullopt, Entries(51, 52, 4), true).ok());
  s.reset();
  auto boot = Open()->Load();
  ASSERT_TRUE(boot.ok());
  EXPECT_EQ(boot->snapshot.meta, snap.meta);
  EXPECT_EQ(*boot->snapshot.data, "state-at-50");
  EXPECT_EQ(boot->entries, Entries(51, 52, 4));
}

TEST_F(RocksDbStorageTest, SaveSnapshot_CompactsAndKeepsLaterEntries) {
  auto s = Open();
  ASSERT_TRUE(s->Load().ok());
  ASSERT_TRUE(s->Persist(std::nullopt, std::nullopt, Entries(1, 20, 1), true).ok());
  Snapshot snap{SnapshotMeta{LogIndex(15), Term(1), {}},
                std::make_shared<const std::string>(std::string(100000, 'x'))};
  ASSERT_TRUE(s->SaveSnapshot(snap, LogIndex(10)).ok());
  s.reset();
  auto boot = Open()->Load();
  ASSERT_TRUE(boot.ok());
  EXPECT_EQ(boot->snapshot.meta.index, LogIndex(15));
  EXPECT_EQ(boot->snapshot.data->size(), 100000u);
  EXPECT_EQ(boot->entries, Entries(16, 20, 1));
  size_t files = 0;
  for (const auto& f : fs::directory_iterator(dir_ + "/snapshots")) files += f.is_regular_file();
  EXPECT_EQ(files, 1u);
}

TEST_F(RocksDbStorageTest, DamagedSnapshotFile_IsReported) {
  {
    auto s = Open();
    ASSERT_TRUE(s->Load().ok());
    Snapshot snap{SnapshotMeta{LogIndex(5), Term(1), {}},
                  std::make_shared<const std::string>("precious")};
    ASSERT_TRUE(s->SaveSnapshot(snap, LogIndex(5)).ok());
  }
  for (const auto& f : fs::directory_iterator(dir_ + "/snapshots")) {
    std::ofstream(f.path(), std::ios::binary | std::ios::trunc) << "precioux";
  }
  auto boot = Open()->Load();
  ASSERT_FALSE(boot.ok());
  EXPECT_EQ(ErrcOf<Errc>(boot.status()), Errc::kStorageFailure);
  EXPECT_NE(boot.status().message().find("checksum"), std::string::npos);
}

}  // namespace
}  // namespace strand::raft
