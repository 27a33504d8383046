#pragma once

// Decoding a partition's fetched bytes (whole RecordBatch v2 batches, back to back) into
// ConsumerRecords without copying keys, values or headers: each record keeps a reference to the
// fetched bytes, or to its batch's decompressed bytes. Records below `fetch_offset` are skipped
// (a broker returns whole batches, which may start earlier); control batches are skipped; a
// trailing partial batch is ignored (it is fetched again next time). With check.crcs every
// batch's CRC-32C is verified. Pure; thread-compatible.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "strand/record.h"

namespace strand::client {

struct DecodedFetch {
  std::vector<ConsumerRecord> records;
  // Where the next fetch starts: one past the last complete batch's last offset (past control
  // batches and compaction gaps too), or fetch_offset when nothing complete came back.
  int64_t next_fetch_offset = -1;
};

// Fails with CORRUPT_MESSAGE (a bad CRC, an undecodable batch) naming the partition and offset.
absl::StatusOr<DecodedFetch> DecodeFetchedRecords(std::shared_ptr<const std::string> bytes,
                                                  std::shared_ptr<const std::string> topic,
                                                  int32_t partition, int64_t fetch_offset,
                                                  bool check_crcs);

}  // namespace strand::client
