#include "record/compression.h"

#include <fmt/format.h>
#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "common/big_endian.h"
#include "record/errc.h"

namespace strand::record {
namespace {

absl::Status Corrupt(std::string_view codec, std::string_view what) {
  return RecordError(Errc::kCorruptBatch, fmt::format("{} records: {}", codec, what));
}

absl::Status TooBig(std::string_view codec, size_t limit) {
  return RecordError(
      Errc::kCorruptBatch,
      fmt::format("{} records decompress to more than {} bytes (decompressed_batch_bytes_max)",
                  codec, limit));
}

// The next output size when a decoder has filled `current` bytes, capped at the limit + 1 so
// that exceeding the limit is observable.
size_t GrowTo(size_t current, size_t limit) {
  size_t next = std::max<size_t>(current * 2, 64 * 1024);
  return std::min(next, limit + 1);
}

// ---- gzip ----

absl::StatusOr<ByteBuffer> GzipCompress(std::span<const uint8_t> input, int level) {
  z_stream z{};
  // windowBits 15 + 16: a gzip header and trailer rather than zlib's.
  if (deflateInit2(&z, level == 0 ? 6 : level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return RecordError(Errc::kCodecFailed, "gzip: deflateInit2 failed");
  }
  ByteBuffer out(deflateBound(&z, input.size()) + 32);
  z.next_in = const_cast<Bytef*>(input.data());
  z.avail_in = static_cast<uInt>(input.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  size_t produced = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return RecordError(Errc::kCodecFailed, "gzip: deflate failed");
  out.ResizeUninitialized(produced);
  return out;
}

absl::StatusOr<ByteBuffer> GzipDecompress(std::span<const uint8_t> input, size_t limit) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) return Corrupt("gzip", "inflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  ByteBuffer out(GrowTo(input.size() * 2, limit));
  size_t filled = 0;
  z.next_in = const_cast<Bytef*>(input.data());
  z.avail_in = static_cast<uInt>(input.size());
  while (true) {
    if (filled == out.size()) {
      if (out.size() > limit) return TooBig("gzip", limit);
      out.ResizeUninitialized(GrowTo(out.size(), limit));
    }
    z.next_out = out.data() + filled;
    z.avail_out = static_cast<uInt>(out.size() - filled);
    int rc = inflate(&z, Z_NO_FLUSH);
    filled = out.size() - z.avail_out;
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      // Another gzip member follows (GZIPInputStream reads concatenated members too).
      if (inflateReset(&z) != Z_OK) return Corrupt("gzip", "inflateReset failed");
      continue;
    }
    if (rc == Z_BUF_ERROR && z.avail_in == 0 && z.avail_out != 0) {
      return Corrupt("gzip", "truncated stream");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) return Corrupt("gzip", z.msg ? z.msg : "inflate error");
  }
  if (filled > limit) return TooBig("gzip", limit);
  out.ResizeUninitialized(filled);
  return out;
}

// ---- snappy (xerial framing) ----

constexpr uint8_t kXerialMagic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
constexpr size_t kXerialHeaderSize = 16;  // magic, version, compatible version
constexpr size_t kXerialBlockSize = 32 * 1024;

absl::StatusOr<ByteBuffer> SnappyCompress(std::span<const uint8_t> input) {
  size_t blocks = (input.size() + kXerialBlockSize - 1) / kXerialBlockSize;
  ByteBuffer out(kXerialHeaderSize + blocks * (4 + snappy::MaxCompressedLength(kXerialBlockSize)));
  std::memcpy(out.data(), kXerialMagic, sizeof kXerialMagic);
  StoreBigEndian32(out.data() + 8, 1);   // version
  StoreBigEndian32(out.data() + 12, 1);  // minimum compatible version
  size_t at = kXerialHeaderSize;
  for (size_t pos = 0; pos < input.size(); pos += kXerialBlockSize) {
    size_t n = std::min(kXerialBlockSize, input.size() - pos);
    size_t compressed = 0;
    snappy::RawCompress(reinterpret_cast<const char*>(input.data() + pos), n,
                        reinterpret_cast<char*>(out.data() + at + 4), &compressed);
    StoreBigEndian32(out.data() + at, static_cast<uint32_t>(compressed));
    at += 4 + compressed;
  }
  out.ResizeUninitialized(at);
  return out;
}

absl::Status SnappyRawAppend(std::span<const uint8_t> block, size_t limit, ByteBuffer* out) {
  const char* data = reinterpret_cast<const char*>(block.data());
  size_t n = 0;
  if (!snappy::GetUncompressedLength(data, block.size(), &n)) {
    return Corrupt("snappy", "bad block length");
  }
  if (out->size() + n > limit) return TooBig("snappy", limit);
  size_t at = out->size();
  out->ResizeUninitialized(at + n);
  if (!snappy::RawUncompress(data, block.size(), reinterpret_cast<char*>(out->data() + at))) {
    return Corrupt("snappy", "undecodable block");
  }
  return absl::OkStatus();
}

absl::StatusOr<ByteBuffer> SnappyDecompress(std::span<const uint8_t> input, size_t limit) {
  ByteBuffer out;
  bool xerial = input.size() >= kXerialHeaderSize &&
                std::memcmp(input.data(), kXerialMagic, sizeof kXerialMagic) == 0;
  if (!xerial) {
    STRAND_RETURN_IF_ERROR(SnappyRawAppend(input, limit, &out));
    return out;
  }
  size_t pos = kXerialHeaderSize;
  while (pos < input.size()) {
    if (input.size() - pos < 4) return Corrupt("snappy", "truncated block length");
    uint32_t n = LoadBigEndian32(input.data() + pos);
    pos += 4;
    if (n > input.size() - pos) return Corrupt("snappy", "block runs past the end");
    STRAND_RETURN_IF_ERROR(SnappyRawAppend(input.subspan(pos, n), limit, &out));
    pos += n;
  }
  return out;
}

// ---- lz4 (frame format) ----

absl::StatusOr<ByteBuffer> Lz4Compress(std::span<const uint8_t> input, int level) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;  // Kafka's Java reader needs these
  prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
  prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
  prefs.compressionLevel = level;
  ByteBuffer out(LZ4F_compressFrameBound(input.size(), &prefs));
  size_t n = LZ4F_compressFrame(out.data(), out.size(), input.data(), input.size(), &prefs);
  if (LZ4F_isError(n)) {
    return RecordError(Errc::kCodecFailed, fmt::format("lz4: {}", LZ4F_getErrorName(n)));
  }
  out.ResizeUninitialized(n);
  return out;
}

absl::StatusOr<ByteBuffer> Lz4Decompress(std::span<const uint8_t> input, size_t limit) {
  LZ4F_dctx* dctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) {
    return Corrupt("lz4", "cannot create a decompression context");
  }
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> guard(dctx,
                                                                     LZ4F_freeDecompressionContext);
  ByteBuffer out(GrowTo(input.size() * 2, limit));
  size_t filled = 0, pos = 0;
  while (true) {
    if (filled == out.size()) {
      if (out.size() > limit) return TooBig("lz4", limit);
      out.ResizeUninitialized(GrowTo(out.size(), limit));
    }
    size_t dst_size = out.size() - filled;
    size_t src_size = input.size() - pos;
    size_t hint = LZ4F_decompress(dctx, out.data() + filled, &dst_size, input.data() + pos,
                                  &src_size, nullptr);
    if (LZ4F_isError(hint)) return Corrupt("lz4", LZ4F_getErrorName(hint));
    filled += dst_size;
    pos += src_size;
    if (hint == 0) break;  // frame complete
    // The output had room, so a call that moved nothing means the input ended mid-frame.
    if (dst_size == 0 && src_size == 0) return Corrupt("lz4", "truncated frame");
  }
  if (pos != input.size()) return Corrupt("lz4", "bytes after the end of the frame");
  if (filled > limit) return TooBig("lz4", limit);
  out.ResizeUninitialized(filled);
  return out;
}

// ---- zstd ----

absl::StatusOr<ByteBuffer> ZstdCompress(std::span<const uint8_t> input, int level) {
  ByteBuffer out(ZSTD_compressBound(input.size()));
  size_t n =
      ZSTD_compress(out.data(), out.size(), input.data(), input.size(), level == 0 ? 3 : level);
  if (ZSTD_isError(n)) {
    return RecordError(Errc::kCodecFailed, fmt::format("zstd: {}", ZSTD_getErrorName(n)));
  }
  out.ResizeUninitialized(n);
  return out;
}

absl::StatusOr<ByteBuffer> ZstdDecompress(std::span<const uint8_t> input, size_t limit) {
  std::unique_ptr<ZSTD_DStream, size_t (*)(ZSTD_DStream*)> stream(ZSTD_createDStream(),
                                                                  ZSTD_freeDStream);
  if (!stream || ZSTD_isError(ZSTD_initDStream(stream.get()))) {
    return Corrupt("zstd", "cannot create a stream");
  }
  ByteBuffer out(GrowTo(input.size() * 4, limit));
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  size_t filled = 0;
  while (true) {
    if (filled == out.size()) {
      if (out.size() > limit) return TooBig("zstd", limit);
      out.ResizeUninitialized(GrowTo(out.size(), limit));
    }
    ZSTD_outBuffer o{out.data() + filled, out.size() - filled, 0};
    size_t before = in.pos;
    size_t hint = ZSTD_decompressStream(stream.get(), &o, &in);
    if (ZSTD_isError(hint)) return Corrupt("zstd", ZSTD_getErrorName(hint));
    filled += o.pos;
    if (hint == 0 && in.pos == in.size) break;  // last frame complete, input used up
    // The output had room, so a call that moved nothing means the input ended mid-frame.
    if (o.pos == 0 && in.pos == before) return Corrupt("zstd", "truncated frame");
  }
  if (filled > limit) return TooBig("zstd", limit);
  out.ResizeUninitialized(filled);
  return out;
}

}  // namespace

absl::StatusOr<ByteBuffer> Compress(Compression codec, std::span<const uint8_t> input, int level) {
  switch (codec) {
    case Compression::kNone:
      return ByteBuffer::CopyOf(input);
    case Compression::kGzip:
      return GzipCompress(input, level);
    case Compression::kSnappy:
      return SnappyCompress(input);
    case Compression::kLz4:
      return Lz4Compress(input, level);
    case Compression::kZstd:
      return ZstdCompress(input, level);
  }
  return RecordError(Errc::kCodecFailed, "unknown compression codec");
}

absl::StatusOr<ByteBuffer> Decompress(Compression codec, std::span<const uint8_t> input,
                                      size_t output_max_bytes) {
  switch (codec) {
    case Compression::kNone:
      if (input.size() > output_max_bytes) return TooBig("uncompressed", output_max_bytes);
      return ByteBuffer::CopyOf(input);
    case Compression::kGzip:
      return GzipDecompress(input, output_max_bytes);
    case Compression::kSnappy:
      return SnappyDecompress(input, output_max_bytes);
    case Compression::kLz4:
      return Lz4Decompress(input, output_max_bytes);
    case Compression::kZstd:
      return ZstdDecompress(input, output_max_bytes);
  }
  return Corrupt("unknown codec", "cannot decompress");
}

std::string_view CompressionName(Compression codec) {
  switch (codec) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kSnappy:
      return "snappy";
    case Compression::kLz4:
      return "lz4";
    case Compression::kZstd:
      return "zstd";
  }
  return "unknown";
}

std::optional<Compression> ParseCompression(std::string_view name) {
  for (int c = 0; c <= kCompressionCodecMax; ++c) {
    if (CompressionName(static_cast<Compression>(c)) == name) return static_cast<Compression>(c);
  }
  return std::nullopt;
}

}  // namespace strand::record
