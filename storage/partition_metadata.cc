#include "storage/partition_metadata.h"

#include <fmt/format.h>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "storage/errc.h"

namespace strand::storage {
namespace {

constexpr int64_t kFileBytesMax = 4096;
constexpr std::string_view kTopicIdKey = "topic_id: ";

}  // namespace

absl::StatusOr<std::string> ReadPartitionMetadata(Filesystem& fs, const std::string& dir) {
  const std::string path = JoinPath(dir, kPartitionMetadataFile);
  auto exists = fs.Exists(path);
  if (!exists.ok()) return exists.status();
  if (!*exists) return std::string();
  auto contents = ReadSmallFile(fs, path, kFileBytesMax);
  if (!contents.ok()) {
    // Larger than any file we write: not ours, so not adoptable.
    if (StorageErrcOf(contents.status()) == Errc::kCorruptLog) return std::string();
    return contents.status();
  }
  bool version_ok = false;
  std::string topic_id;
  for (absl::string_view line : absl::StrSplit(*contents, '\n')) {
    if (line == "version: 0") version_ok = true;
    if (absl::ConsumePrefix(&line, absl::string_view(kTopicIdKey.data(), kTopicIdKey.size()))) {
      topic_id = std::string(line);
    }
  }
  return version_ok ? topic_id : std::string();
}

absl::Status WritePartitionMetadata(Filesystem& fs, const std::string& dir,
                                    const std::string& topic_id) {
  if (topic_id.empty() || topic_id.find('\n') != std::string::npos) {
    return StorageError(Errc::kInvalidArgument,
                        fmt::format("'{}' is not a topic id for {}", topic_id, dir));
  }
  return WriteFileAtomically(fs, JoinPath(dir, kPartitionMetadataFile),
                             fmt::format("version: 0\n{}{}\n", kTopicIdKey, topic_id));
}

}  // namespace strand::storage
