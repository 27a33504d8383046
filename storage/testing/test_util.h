#pragma once

// Helpers shared by the storage tests: a temporary directory removed at the end, producer
// batches with checkable contents, and reading a log back record by record.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/byte_buffer.h"
#include "record/record_batch_builder.h"
#include "storage/log.h"

namespace strand::storage::testing {

// A fresh directory from mkdtemp, removed (recursively) by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A producer batch of `records` records, each with key "k<i>" (or `key` when given) and a value
// of `value_bytes` bytes derived from `seed` and i, timestamps from `timestamp_ms`.
ByteBuffer MakeBatch(int records, int value_bytes, uint64_t seed = 0, int64_t timestamp_ms = 1000,
                     record::Compression compression = record::Compression::kNone,
                     std::optional<std::string> key = std::nullopt);
// A batch of explicit (key, value) records; a nullopt value is a tombstone.
ByteBuffer MakeKeyedBatch(
    const std::vector<std::pair<std::string, std::optional<std::string>>>& records,
    int64_t timestamp_ms = 1000, record::Compression compression = record::Compression::kNone);
std::string ValueFor(uint64_t seed, int index, int value_bytes);

struct ReadRecord {
  Offset offset;
  int64_t timestamp;
  std::optional<std::string> key;
  std::optional<std::string> value;
  LeaderEpoch epoch;
};
// Every record of the log from `from` to the end, read in chunks of `chunk_bytes`.
std::vector<ReadRecord> ReadAll(Log& log, Offset from = Offset(0), int64_t chunk_bytes = 1 << 20);
// Decodes the records of a read result.
std::vector<ReadRecord> Records(const ReadResult& result);

// Drops a Log as a crash would (no Close) and waits until no thread still holds it (a flusher
// may be finishing a queued flush), so that reopening the directory never races the old
// instance. Bounded: fails the calling test after 10 s.
void Crash(std::shared_ptr<Log>& log);

// Quiet logs in tests unless STRAND_TEST_LOG is set.
void QuietLogs();

}  // namespace strand::storage::testing
