// libFuzzer target for the batch validator and the record reader (record/). It feeds
// arbitrary bytes to ValidateBatch in every mode and to SplitBatches, and checks that what the
// validator accepts the reader decodes consistently. Because random bytes almost never carry a
// valid CRC-32C, every input is also tried with its length field and CRC repaired, which lets
// the fuzzer reach the record framing, the decompressors and the record walk.
//
// Built only with clang (-fsanitize=fuzzer,address,undefined); see tests/fuzz/run_fuzz.sh, which
// `make test` runs for a bounded time and which runs longer by hand:
//   tests/fuzz/run_fuzz.sh --seconds 3600
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/big_endian.h"
#include "record/batch_validator.h"
#include "record/record_batch.h"
#include "record/record_batch_reader.h"

namespace {

using namespace strand;
using namespace strand::record;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

void Exercise(std::span<const uint8_t> bytes) {
  for (record::ValidationMode mode :
       {record::ValidationMode::kProduce, record::ValidationMode::kReplica,
        record::ValidationMode::kStored}) {
    record::ValidationOptions options{.mode = mode,
                                      .batch_bytes_max = 1 << 20,
                                      .decompressed_bytes_max = 1 << 20,
                                      .require_keys = mode == record::ValidationMode::kProduce,
                                      .allow_control = mode != record::ValidationMode::kProduce,
                                      .now_ms = 1'700'000'000'000,
                                      .timestamp_before_max_ms = 1'000'000'000'000,
                                      .timestamp_after_max_ms = 1'000'000'000'000};
    auto summary = record::ValidateBatch(bytes, options);
    if (!summary.ok()) continue;
    // Accepted: the CRC matches, and the reader decodes exactly the records counted.
    const record::RecordBatchHeader& h = summary->header;
    Check(record::ComputeBatchCrc(bytes) == h.crc);
    Check(h.size_bytes() == static_cast<int64_t>(bytes.size()));
    auto decoded = record::DecodedBatch::Decode(bytes, 1 << 20);
    Check(decoded.ok());
    Check(static_cast<int64_t>(decoded->records().size()) == h.record_count);
    for (const record::RecordView& r : decoded->records()) {
      Check(r.offset >= h.base_offset && r.offset <= h.last_offset());
      if (mode == record::ValidationMode::kProduce) Check(r.key.has_value());
    }
  }
  auto extents = record::SplitBatches(bytes, 1024);
  if (extents.ok()) {
    size_t covered = 0;
    for (const record::BatchExtent& e : *extents) {
      Check(e.position == covered && e.size >= record::batch_layout::kHeaderSize);
      covered += e.size;
    }
    Check(covered == bytes.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> input(data, size);
  Exercise(input);
  if (size >= record::batch_layout::kHeaderSize) {
    // The same bytes with a consistent length field and a valid CRC.
    std::vector<uint8_t> repaired(data, data + size);
    StoreBigEndian32(repaired.data() + record::batch_layout::kLength,
                     static_cast<uint32_t>(size - record::batch_layout::kLogOverhead));
    repaired[record::batch_layout::kMagic] = record::batch_layout::kMagicV2;
    record::UpdateBatchCrc(repaired);
    Exercise(repaired);
  }
  return 0;
}
