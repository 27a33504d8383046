#pragma once

// partition.metadata: which topic (by id) a log directory belongs to, as in Kafka (KIP-516).
// Topic names are reused after a deletion; ids are not. A log directory is adopted only when
// its file names the topic id the metadata expects — a missing, empty, unreadable or different
// one never means "adopt this log" (LogManager moves such a directory aside as a stray).
//
// Format (Kafka's): "version: 0\ntopic_id: <id>\n". The id is opaque text to storage (the
// broker writes the topic's base64url UUID). Written durably: temp file, fsync, rename,
// directory fsync.

#include <string>

#include "absl/status/statusor.h"
#include "storage/file.h"

namespace strand::storage {

inline constexpr char kPartitionMetadataFile[] = "partition.metadata";

// The topic id recorded in `dir`, or "" when the file is missing, empty or malformed (the
// caller treats all three alike: not adoptable). An I/O error other than "missing" is an error.
absl::StatusOr<std::string> ReadPartitionMetadata(Filesystem& fs, const std::string& dir);

// Records `topic_id` (not empty) in `dir` durably.
absl::Status WritePartitionMetadata(Filesystem& fs, const std::string& dir,
                                    const std::string& topic_id);

}  // namespace strand::storage
