#include "controller/state/topic_id.h"

namespace strand::controller {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int Decode(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

TopicId TopicId::Random(strand::Random& random) {
  TopicId id;
  do {
    id.hi_ = random.Next();
    id.lo_ = random.Next();
  } while (id.IsZero());
  return id;
}

bool TopicId::IsZero() const { return hi_ == 0 && lo_ == 0; }

std::optional<TopicId> TopicId::FromBytes(std::string_view bytes) {
  if (bytes.size() != 16) return std::nullopt;
  TopicId id;
  for (int i = 0; i < 8; ++i) id.hi_ = (id.hi_ << 8) | static_cast<uint8_t>(bytes[i]);
  for (int i = 8; i < 16; ++i) id.lo_ = (id.lo_ << 8) | static_cast<uint8_t>(bytes[i]);
  return id;
}

std::string TopicId::Bytes() const {
  std::string out(16, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(hi_ >> (56 - 8 * i));
  for (int i = 0; i < 8; ++i) out[8 + i] = static_cast<char>(lo_ >> (56 - 8 * i));
  return out;
}

std::string TopicId::ToString() const {
  const std::string bytes = Bytes();
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3f]);
  return out;  // 22 characters, no padding
}

std::optional<TopicId> TopicId::FromString(std::string_view text) {
  if (text.size() != 22) return std::nullopt;
  std::string bytes;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const int v = Decode(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  if (bytes.size() != 16) return std::nullopt;
  return FromBytes(bytes);
}

}  // namespace strand::controller
