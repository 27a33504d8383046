// Tests the CRC-32C wrapper against published check values: the standard check value for
// "123456789" (CRC catalogue, "CRC-32/ISCSI": check=0xe3069283), the RFC 3720 (iSCSI) appendix
// B.4 vectors (32 zero bytes, 32 0xFF bytes, 0..31 ascending), and that extending over pieces
// equals one pass over the whole.
#include "common/crc32c.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace strand {
namespace {

TEST(Crc32c, StandardCheckValue) {
  EXPECT_EQ(Crc32c(std::string_view("123456789")), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string_view("")), 0u);
}

TEST(Crc32c, Rfc3720Vectors) {
  std::vector<uint8_t> zeros(32, 0x00), ones(32, 0xFF), ascending(32);
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(Crc32c(zeros), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(ones), 0x62A8AB43u);
  EXPECT_EQ(Crc32c(ascending), 0x46DD794Eu);
}

TEST(Crc32c, Extend_EqualsOnePass) {
  std::string text = "The quick brown fox jumps over the lazy dog";
  uint32_t whole = Crc32c(std::string_view(text));
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    uint32_t first = Crc32c(text.data(), cut);
    EXPECT_EQ(Crc32cExtend(first, text.data() + cut, text.size() - cut), whole) << cut;
  }
}

}  // namespace
}  // namespace strand
