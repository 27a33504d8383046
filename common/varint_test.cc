// Tests Kafka's zig-zag varints. The expected encodings follow from the protobuf encoding rules
// (zig-zag then base-128, least significant group first) and agree with the table in
// kafka-python's test/record/test_util.py, which checks the same values against Kafka's
// ByteUtils: 0 -> 00, -1 -> 01, 1 -> 02, 63 -> 7e, -64 -> 7f, 64 -> 80 01, 8191 -> fe 7f,
// -8193 -> 81 80 01, ...
#include "common/varint.h"

#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/random.h"

namespace strand::varint {
namespace {

std::vector<uint8_t> Bytes(std::initializer_list<int> b) {
  return std::vector<uint8_t>(b.begin(), b.end());
}

struct Vector {
  int64_t value;
  std::vector<uint8_t> encoded;
};

TEST(Varint, KnownEncodings) {
  std::vector<Vector> vectors = {
      {0, Bytes({0x00})},
      {-1, Bytes({0x01})},
      {1, Bytes({0x02})},
      {63, Bytes({0x7e})},
      {-64, Bytes({0x7f})},
      {64, Bytes({0x80, 0x01})},
      {-65, Bytes({0x81, 0x01})},
      {8191, Bytes({0xfe, 0x7f})},
      {-8192, Bytes({0xff, 0x7f})},
      {8192, Bytes({0x80, 0x80, 0x01})},
      {-8193, Bytes({0x81, 0x80, 0x01})},
      {134217728, Bytes({0x80, 0x80, 0x80, 0x80, 0x01})},
      {std::numeric_limits<int32_t>::max(), Bytes({0xfe, 0xff, 0xff, 0xff, 0x0f})},
      {std::numeric_limits<int32_t>::min(), Bytes({0xff, 0xff, 0xff, 0xff, 0x0f})},
  };
  for (const auto& v : vectors) {
    std::string out;
    AppendVarint(&out, static_cast<int32_t>(v.value));
    EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.end()), v.encoded) << v.value;
    EXPECT_EQ(SizeOfVarint(static_cast<int32_t>(v.value)), v.encoded.size());
    int32_t decoded = 0;
    EXPECT_EQ(DecodeVarint(v.encoded, &decoded), v.encoded.size());
    EXPECT_EQ(decoded, v.value);
    int64_t decoded64 = 0;
    EXPECT_EQ(DecodeVarlong(v.encoded, &decoded64), v.encoded.size());
    EXPECT_EQ(decoded64, v.value);
  }
}

TEST(Varint, VarlongExtremes) {
  for (int64_t v : {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(),
                    int64_t{1} << 40, -(int64_t{1} << 40)}) {
    std::string out;
    AppendVarlong(&out, v);
    EXPECT_EQ(out.size(), SizeOfVarlong(v));
    int64_t decoded = 0;
    auto span = std::span(reinterpret_cast<const uint8_t*>(out.data()), out.size());
    EXPECT_EQ(DecodeVarlong(span, &decoded), out.size());
    EXPECT_EQ(decoded, v);
  }
  std::string max;
  AppendVarlong(&max, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(max.size(), kMaxVarlongBytes);
}

TEST(Varint, Decode_RejectsTruncatedAndOverlong) {
  int32_t v32 = 0;
  int64_t v64 = 0;
  EXPECT_EQ(DecodeVarint({}, &v32), 0u);
  EXPECT_EQ(DecodeVarint(Bytes({0x80}), &v32), 0u);             // continuation, then nothing
  EXPECT_EQ(DecodeVarint(Bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x01}), &v32), 0u);  // 6 bytes
  EXPECT_EQ(DecodeVarint(Bytes({0xff, 0xff, 0xff, 0xff, 0x1f}), &v32), 0u);  // 33 bits
  std::vector<uint8_t> eleven(10, 0x80);
  eleven.push_back(0x01);
  EXPECT_EQ(DecodeVarlong(eleven, &v64), 0u);
  EXPECT_EQ(DecodeVarlong(Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x03}),
                          &v64),
            0u);  // 65 bits
}

TEST(Varint, RandomRoundTrip) {
  Random random(17);
  for (int i = 0; i < 10000; ++i) {
    int64_t v = static_cast<int64_t>(random.Next()) >> random.Uniform(64);
    std::string out;
    AppendVarlong(&out, v);
    int64_t decoded = 0;
    auto span = std::span(reinterpret_cast<const uint8_t*>(out.data()), out.size());
    ASSERT_EQ(DecodeVarlong(span, &decoded), out.size());
    ASSERT_EQ(decoded, v);
    int32_t v32 = static_cast<int32_t>(v);
    out.clear();
    AppendVarint(&out, v32);
    int32_t decoded32 = 0;
    span = std::span(reinterpret_cast<const uint8_t*>(out.data()), out.size());
    ASSERT_EQ(DecodeVarint(span, &decoded32), out.size());
    ASSERT_EQ(decoded32, v32);
  }
}

}  // namespace
}  // namespace strand::varint
