// Tests the four codecs: round trips of empty, small, compressible and incompressible inputs;
// the framings Kafka's Java client expects (xerial snappy header, LZ4 frame flags); reading the
// other framings other clients write (raw snappy, zstd without a content size, concatenated
// gzip members); and that truncated, garbled or oversized input fails as CORRUPT_BATCH.
#include "record/compression.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <string>

#include "common/random.h"
#include "record/errc.h"

namespace strand::record {
namespace {

constexpr Compression kCodecs[] = {Compression::kGzip, Compression::kSnappy, Compression::kLz4,
                                   Compression::kZstd};

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string Input(size_t size, bool compressible, uint64_t seed) {
  Random random(seed);
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    s[i] = compressible ? static_cast<char>('a' + (i / 7) % 5) : static_cast<char>(random.Next());
  }
  return s;
}

TEST(Compression, RoundTrip_AllCodecsAllShapes) {
  for (Compression codec : kCodecs) {
    for (size_t size : {size_t{0}, size_t{1}, size_t{100}, size_t{70000}, size_t{300000}}) {
      for (bool compressible : {true, false}) {
        SCOPED_TRACE(testing::Message() << CompressionName(codec) << " size=" << size
                                        << " compressible=" << compressible);
        std::string in = Input(size, compressible, size);
        auto compressed = Compress(codec, AsBytes(in));
        ASSERT_TRUE(compressed.ok()) << compressed.status();
        if (compressible && size >= 70000) {
          EXPECT_LT(compressed->size(), size / 4);
        }
        auto out = Decompress(codec, compressed->span(), size + 1);
        ASSERT_TRUE(out.ok()) << out.status();
        EXPECT_EQ(out->view(), in);
      }
    }
  }
}

TEST(Compression, Snappy_WritesXerialFraming) {
  auto compressed = Compress(Compression::kSnappy, AsBytes(Input(100000, true, 1)));
  ASSERT_TRUE(compressed.ok());
  const uint8_t expected_header[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0,
                                       0,    0,   0,   1,   0,   0,   0,   1};
  ASSERT_GE(compressed->size(), 16u);
  EXPECT_EQ(std::memcmp(compressed->data(), expected_header, 16), 0);
}

TEST(Compression, Lz4_WritesIndependent64KBlocksWithoutChecksums) {
  auto compressed = Compress(Compression::kLz4, AsBytes(Input(1000, true, 1)));
  ASSERT_TRUE(compressed.ok());
  ASSERT_GE(compressed->size(), 6u);
  const uint8_t* b = compressed->data();
  EXPECT_EQ(b[0], 0x04);  // magic 0x184D2204, little-endian
  EXPECT_EQ(b[1], 0x22);
  EXPECT_EQ(b[2], 0x4D);
  EXPECT_EQ(b[3], 0x18);
  EXPECT_EQ(b[4], 0x60);  // FLG: version 01, block independence, no checksums, no size
  EXPECT_EQ(b[5], 0x40);  // BD: 64 KiB maximum block size
}

TEST(Compression, Zstd_ReadsStreamingFramesWithoutContentSize) {
  std::string in = Input(200000, true, 3);
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::string out(ZSTD_compressBound(in.size()), '\0');
  ZSTD_outBuffer o{out.data(), out.size(), 0};
  ZSTD_inBuffer i{in.data(), in.size(), 0};
  // compressStream2 with ZSTD_e_continue/end and no pledged size writes no content size.
  ASSERT_FALSE(ZSTD_isError(ZSTD_compressStream2(cctx, &o, &i, ZSTD_e_continue)));
  size_t left = 1;
  while (left != 0) left = ZSTD_compressStream2(cctx, &o, &i, ZSTD_e_end);
  ZSTD_freeCCtx(cctx);
  out.resize(o.pos);
  EXPECT_EQ(ZSTD_getFrameContentSize(out.data(), out.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  auto decoded = Decompress(Compression::kZstd, AsBytes(out), in.size());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->view(), in);
}

TEST(Compression, Gzip_ReadsConcatenatedMembers) {
  auto a = Compress(Compression::kGzip, AsBytes(std::string("hello ")));
  auto b = Compress(Compression::kGzip, AsBytes(std::string("world")));
  ASSERT_TRUE(a.ok() && b.ok());
  ByteBuffer both;
  both.Append(a->span());
  both.Append(b->span());
  auto decoded = Decompress(Compression::kGzip, both.span(), 100);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->view(), "hello world");
}

TEST(Compression, Snappy_ReadsRawBlocks) {
  // A raw snappy block (no xerial framing), as sarama and librdkafka write: varint length 5,
  // then a literal of 5 bytes (tag (5-1)<<2).
  const uint8_t raw[] = {0x05, 0x10, 'h', 'e', 'l', 'l', 'o'};
  auto decoded = Decompress(Compression::kSnappy, raw, 100);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->view(), "hello");
}

TEST(Compression, Decompress_RejectsTruncatedAndGarbage) {
  std::string in = Input(50000, false, 9);
  for (Compression codec : kCodecs) {
    SCOPED_TRACE(CompressionName(codec));
    auto compressed = Compress(codec, AsBytes(in));
    ASSERT_TRUE(compressed.ok());
    auto truncated = compressed->span().first(compressed->size() / 2);
    auto result = Decompress(codec, truncated, in.size());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(RecordErrcOf(result.status()), Errc::kCorruptBatch);
    std::string garbage = Input(1000, false, 11);
    auto g = Decompress(codec, AsBytes(garbage), in.size());
    EXPECT_FALSE(g.ok());
  }
}

TEST(Compression, Decompress_StopsAtTheOutputBound) {
  std::string in(1 << 20, 'z');  // compresses a thousandfold
  for (Compression codec : kCodecs) {
    SCOPED_TRACE(CompressionName(codec));
    auto compressed = Compress(codec, AsBytes(in));
    ASSERT_TRUE(compressed.ok());
    auto bounded = Decompress(codec, compressed->span(), 64 * 1024);
    ASSERT_FALSE(bounded.ok());
    EXPECT_EQ(RecordErrcOf(bounded.status()), Errc::kCorruptBatch);
    EXPECT_NE(bounded.status().message().find("decompressed_batch_bytes_max"), std::string::npos);
  }
}

TEST(Compression, Names) {
  for (int c = 0; c <= kCompressionCodecMax; ++c) {
    auto codec = static_cast<Compression>(c);
    EXPECT_EQ(ParseCompression(CompressionName(codec)), codec);
  }
  EXPECT_EQ(ParseCompression("brotli"), std::nullopt);
}

}  // namespace
}  // namespace strand::record
