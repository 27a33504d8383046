#include "storage/testing/test_util.h"

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "common/check.h"
#include "common/logging.h"
#include "common/random.h"
#include "record/batch_validator.h"
#include "record/record_batch_reader.h"

namespace strand::storage::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/strand-storage-XXXXXX";
  char* made = ::mkdtemp(tmpl.data());
  STRAND_CHECK_MSG(made != nullptr, "mkdtemp {} failed", tmpl);
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ValueFor(uint64_t seed, int index, int value_bytes) {
  Random random(seed * 1000003 + static_cast<uint64_t>(index));
  std::string value(static_cast<size_t>(value_bytes), '\0');
  for (auto& c : value) c = static_cast<char>('a' + random.Uniform(26));
  return value;
}

ByteBuffer MakeBatch(int records, int value_bytes, uint64_t seed, int64_t timestamp_ms,
                     record::Compression compression, std::optional<std::string> key) {
  record::RecordBatchBuilder builder({.compression = compression});
  for (int i = 0; i < records; ++i) {
    std::string k = key ? *key : "k" + std::to_string(i);
    builder.Append(timestamp_ms + i, k, ValueFor(seed, i, value_bytes));
  }
  auto batch = builder.Build();
  STRAND_CHECK(batch.ok());
  return std::move(*batch);
}

ByteBuffer MakeKeyedBatch(
    const std::vector<std::pair<std::string, std::optional<std::string>>>& records,
    int64_t timestamp_ms, record::Compression compression) {
  record::RecordBatchBuilder builder({.compression = compression});
  for (const auto& [k, v] : records) {
    builder.Append(timestamp_ms, k,
                   v ? std::optional<std::string_view>(*v) : std::optional<std::string_view>());
  }
  auto batch = builder.Build();
  STRAND_CHECK(batch.ok());
  return std::move(*batch);
}

std::vector<ReadRecord> Records(const ReadResult& result) {
  std::vector<ReadRecord> out;
  auto extents = record::SplitBatches(result.records.span());
  STRAND_CHECK(extents.ok());
  for (const auto& e : *extents) {
    auto bytes = result.records.span().subspan(e.position, e.size);
    auto decoded = record::DecodedBatch::Decode(bytes, 1 << 30);
    STRAND_CHECK_MSG(decoded.ok(), "{}", decoded.status().ToString());
    for (const auto& r : decoded->records()) {
      out.push_back({r.offset, r.timestamp,
                     r.key ? std::optional<std::string>(std::string(*r.key)) : std::nullopt,
                     r.value ? std::optional<std::string>(std::string(*r.value)) : std::nullopt,
                     decoded->header().partition_leader_epoch});
    }
  }
  return out;
}

std::vector<ReadRecord> ReadAll(Log& log, Offset from, int64_t chunk_bytes) {
  std::vector<ReadRecord> out;
  Offset next = std::max(from, log.LogStartOffset());
  while (next < log.LogEndOffset()) {
    auto result = log.Read(next, chunk_bytes);
    STRAND_CHECK_MSG(result.ok(), "read at {}: {}", next, result.status().ToString());
    if (result->records.empty()) break;
    for (auto& r : Records(*result)) {
      if (r.offset >= next) out.push_back(std::move(r));
    }
    STRAND_CHECK(result->next_offset > next);
    next = result->next_offset;
  }
  return out;
}

void Crash(std::shared_ptr<Log>& log) {
  std::weak_ptr<Log> weak = log;
  log.reset();
  for (int i = 0; i < 10000 && !weak.expired(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  STRAND_CHECK_MSG(weak.expired(), "a dropped log is still referenced after 10 s");
}

void QuietLogs() {
  const char* level = std::getenv("STRAND_TEST_LOG");
  InitLogging(level && *level ? level : "off");
}

}  // namespace strand::storage::testing
