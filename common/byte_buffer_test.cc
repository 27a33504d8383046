// Tests ByteBuffer (growth keeps contents, moves leave the source empty) and the big-endian
// load/store helpers.
#include "common/byte_buffer.h"

#include <gtest/gtest.h>

#include "common/big_endian.h"

namespace strand {
namespace {

TEST(ByteBuffer, AppendGrowAndMove) {
  ByteBuffer b;
  EXPECT_TRUE(b.empty());
  for (int i = 0; i < 1000; ++i) {
    uint8_t byte = static_cast<uint8_t>(i);
    b.Append(&byte, 1);
  }
  ASSERT_EQ(b.size(), 1000u);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(b.data()[i], static_cast<uint8_t>(i));
  ByteBuffer moved = std::move(b);
  EXPECT_EQ(moved.size(), 1000u);
  EXPECT_EQ(b.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from state is specified
  moved.ResizeUninitialized(10);
  EXPECT_EQ(moved.view().size(), 10u);
  ByteBuffer copy = ByteBuffer::CopyOf(std::string_view("abc"));
  EXPECT_EQ(copy.view(), "abc");
}

TEST(BigEndian, LoadStore) {
  uint8_t buf[8];
  StoreBigEndian64(buf, 0x0102030405060708ULL);
  EXPECT_EQ(buf[0], 0x01);
  EXPECT_EQ(buf[7], 0x08);
  EXPECT_EQ(LoadBigEndian64(buf), 0x0102030405060708ULL);
  StoreBigEndian32(buf, 0xA1B2C3D4u);
  EXPECT_EQ(buf[0], 0xA1);
  EXPECT_EQ(LoadBigEndian32(buf), 0xA1B2C3D4u);
  StoreBigEndian16(buf, 0xBEEF);
  EXPECT_EQ(buf[0], 0xBE);
  EXPECT_EQ(LoadBigEndian16(buf), 0xBEEF);
}

}  // namespace
}  // namespace strand
