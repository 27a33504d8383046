#pragma once

// The four compression codecs of Kafka's RecordBatch attributes, through Debian's libraries, in
// the framings Kafka's own clients write so that every Kafka client can read what Strand
// clients compress and vice versa:
//   gzip   — a gzip stream (zlib); decompression also accepts concatenated members.
//   snappy — xerial snappy-java framing (magic 82 'SNAPPY' 00, version 1, compatible 1, then
//            32 KiB blocks each as a big-endian length + raw snappy), which the Java client
//            writes; decompression also accepts a bare raw snappy block (sarama, librdkafka).
//   lz4    — the LZ4 frame format with independent 64 KiB blocks and no checksums, as Kafka's
//            KafkaLZ4BlockOutputStream writes.
//   zstd   — a zstd frame (libzstd); decompression streams, so frames without a content size
//            (zstd-jni's streaming output) work.
// The broker stores compressed batches as they arrive; it decompresses only to validate records,
// to compact and to find an offset by timestamp, always within an output bound so that a small
// hostile batch cannot expand without limit. Pure functions; thread-safe.

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/byte_buffer.h"
#include "record/record_batch.h"

namespace strand::record {

// `level` 0 means the codec's default (Kafka's defaults: gzip 6, lz4 1, zstd 3).
absl::StatusOr<ByteBuffer> Compress(Compression codec, std::span<const uint8_t> input,
                                    int level = 0);

// Fails with Errc::kCorruptBatch when the input does not decode, or decodes to more than
// output_max_bytes.
absl::StatusOr<ByteBuffer> Decompress(Compression codec, std::span<const uint8_t> input,
                                      size_t output_max_bytes);

// Kafka's compression.type names: none, gzip, snappy, lz4, zstd.
std::string_view CompressionName(Compression codec);
std::optional<Compression> ParseCompression(std::string_view name);

}  // namespace strand::record
