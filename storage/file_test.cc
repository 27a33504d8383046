// Tests RemoveGradually: a large file is cut from its end a step at a time before it is
// unlinked, a small one is unlinked at once, a directory tree goes file by file and is paced
// across its files, a missing path is not an error, and a hurry skips the pauses.
#include "storage/file.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "storage/testing/test_util.h"

namespace strand::storage {
namespace {

using testing::TempDir;

// Records every truncation and removal that goes through it.
class RecordingFilesystem final : public ForwardingFilesystem {
 public:
  RecordingFilesystem() : ForwardingFilesystem(PosixFilesystem()) {}

  struct RecordingFile final : ForwardingFile {
    RecordingFile(std::unique_ptr<File> base, std::vector<std::string>* ops)
        : ForwardingFile(std::move(base)), ops_(ops) {}
    absl::Status Truncate(int64_t size) override {
      ops_->push_back("truncate " + std::to_string(size));
      return ForwardingFile::Truncate(size);
    }
    std::vector<std::string>* ops_;
  };

  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override {
    auto file = ForwardingFilesystem::Open(path, mode);
    if (!file.ok()) return file.status();
    return std::unique_ptr<File>(std::make_unique<RecordingFile>(std::move(*file), &ops));
  }
  absl::Status Remove(const std::string& path) override {
    ops.push_back("remove " + std::filesystem::path(path).filename().string());
    return ForwardingFilesystem::Remove(path);
  }

  std::vector<std::string> ops;
};

void WriteFile(const std::string& path, size_t bytes) {
  std::ofstream(path) << std::string(bytes, 'x');
}

TEST(RemoveGradually, CutsALargeFileFromItsEndThenUnlinksIt) {
  TempDir dir;
  const std::string path = dir.Sub("big.log");
  WriteFile(path, 10'000);
  RecordingFilesystem fs;
  ASSERT_TRUE(RemoveGradually(fs, path, {.step_bytes = 4'000, .pause = {}}).ok());
  EXPECT_EQ(fs.ops, (std::vector<std::string>{"truncate 6000", "truncate 2000", "remove big.log"}));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(RemoveGradually, SmallFileAtOnceMissingPathIsFine) {
  TempDir dir;
  const std::string path = dir.Sub("small.log");
  WriteFile(path, 100);
  RecordingFilesystem fs;
  ASSERT_TRUE(RemoveGradually(fs, path, {.step_bytes = 4'000, .pause = {}}).ok());
  EXPECT_EQ(fs.ops, (std::vector<std::string>{"remove small.log"}));
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(RemoveGradually(fs, path, {}).ok());
}

TEST(RemoveGradually, DirectoryTreeFileByFile) {
  TempDir dir;
  const std::string root = dir.Sub("topic-0.deleted");
  std::filesystem::create_directories(root + "/sub");
  WriteFile(root + "/00000000000000000000.log", 9'000);
  WriteFile(root + "/sub/leader-epoch-checkpoint", 10);
  RecordingFilesystem fs;
  ASSERT_TRUE(RemoveGradually(fs, root, {.step_bytes = 4'000, .pause = {}}).ok());
  EXPECT_FALSE(std::filesystem::exists(root));
  const std::vector<std::string> want{"truncate 5000", "truncate 1000",
                                      "remove 00000000000000000000.log"};
  ASSERT_GE(fs.ops.size(), want.size());
  EXPECT_TRUE(std::search(fs.ops.begin(), fs.ops.end(), want.begin(), want.end()) != fs.ops.end())
      << "the segment was not cut in steps";
  EXPECT_NE(std::find(fs.ops.begin(), fs.ops.end(), "remove leader-epoch-checkpoint"), fs.ops.end());
}

TEST(RemoveGradually, PacedAcrossSmallFiles) {
  TempDir dir;
  const std::string root = dir.Sub("topic-0.deleted");
  std::filesystem::create_directories(root);
  for (const char* name : {"a.log", "b.log", "c.log"}) WriteFile(root + "/" + name, 3'000);
  RecordingFilesystem fs;
  int pauses = 0;  // the hurry is asked each time a pause is due
  ASSERT_TRUE(RemoveGradually(fs, root,
                              {.step_bytes = 4'000,
                               .pause = {},
                               .hurry =
                                   [&] {
                                     ++pauses;
                                     return false;
                                   }})
                  .ok());
  EXPECT_EQ(pauses, 1) << "9,000 bytes freed in 4,000-byte steps, none of its files cut";
  EXPECT_EQ(std::count_if(fs.ops.begin(), fs.ops.end(),
                          [](const std::string& op) { return op.starts_with("truncate"); }),
            0);
  EXPECT_FALSE(std::filesystem::exists(root));
}

TEST(RemoveGradually, AHurryStopsCuttingAndUnlinks) {
  TempDir dir;
  const std::string path = dir.Sub("big.log");
  WriteFile(path, 10'000);
  RecordingFilesystem fs;
  ASSERT_TRUE(
      RemoveGradually(fs, path, {.step_bytes = 1'000, .pause = {}, .hurry = [] { return true; }})
          .ok());
  EXPECT_EQ(fs.ops, (std::vector<std::string>{"truncate 9000", "remove big.log"}));
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace strand::storage
