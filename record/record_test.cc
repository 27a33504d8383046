// Tests one record's encoding: round trips through EncodeRecord/ParseRecord including null and
// empty keys, values and headers and extreme deltas, the encoded-size calculation, and that
// every kind of malformed record is refused rather than misread.
#include "record/record.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "record/errc.h"

namespace strand::record {
namespace {

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(Record, RoundTrip_NullsEmptiesAndHeaders) {
  std::vector<RecordHeaderView> headers = {{"a", "1"}, {"empty", ""}, {"null", std::nullopt}};
  struct Case {
    std::optional<std::string_view> key, value;
    int64_t ts_delta;
    int32_t offset_delta;
    bool with_headers;
  };
  for (const Case& c : {Case{std::nullopt, std::nullopt, 0, 0, false}, Case{"", "", -1, 1, true},
                        Case{"key", "value", INT64_MIN, INT32_MAX, true},
                        Case{"k", std::nullopt, INT64_MAX, 7, false}}) {
    std::string encoded;
    auto h = c.with_headers ? std::span<const RecordHeaderView>(headers)
                            : std::span<const RecordHeaderView>();
    EncodeRecord(c.offset_delta, c.ts_delta, c.key, c.value, h, &encoded);
    EXPECT_EQ(encoded.size(), EncodedRecordSize(c.offset_delta, c.ts_delta, c.key, c.value, h));
    encoded += "trailing";  // ParseRecord reads one record and reports its size
    RecordFields f;
    ASSERT_TRUE(ParseRecord(AsBytes(encoded), &f).ok());
    EXPECT_EQ(f.size_bytes, encoded.size() - 8);
    EXPECT_EQ(f.key, c.key);
    EXPECT_EQ(f.value, c.value);
    EXPECT_EQ(f.timestamp_delta, c.ts_delta);
    EXPECT_EQ(f.offset_delta, c.offset_delta);
    auto parsed_headers = ParseHeaders(f);
    ASSERT_EQ(parsed_headers.size(), h.size());
    for (size_t i = 0; i < h.size(); ++i) EXPECT_EQ(parsed_headers[i], h[i]);
  }
}

absl::Status Parse(std::vector<uint8_t> bytes) {
  RecordFields f;
  return ParseRecord(bytes, &f);
}

TEST(Record, Parse_RejectsMalformed) {
  // A good record for reference: length 7, attrs 0, ts 0, offset 0, key null, value "" , 0 hdrs.
  EXPECT_TRUE(Parse({0x0c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00}).ok());
  std::vector<std::vector<uint8_t>> bad = {
      {},                                                      // nothing
      {0x0e, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00},              // length 7 but 6 bytes follow
      {0x0a, 0x00, 0x00, 0x00, 0x01, 0x00},                    // length 5: too short for the fields
      {0x01},                                                  // length -1
      {0x0c, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00},              // key length -2
      {0x0c, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00},              // key length 4 runs past the record
      {0x0c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01},              // header count -1
      {0x0c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02},              // one header, no bytes for it
      {0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x01, 0x00},  // header with a null key
      {0x0e, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00},        // a byte left over inside the length
      {0x0c, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
       0x7f},  // bad varlong
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    absl::Status s = Parse(bad[i]);
    EXPECT_FALSE(s.ok()) << "case " << i;
    EXPECT_EQ(RecordErrcOf(s), Errc::kCorruptBatch) << "case " << i;
  }
}

}  // namespace
}  // namespace strand::record
