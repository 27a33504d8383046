// Tests how `strand produce` splits lines and parses headers, and how `strand consume` prints
// records: --format templates (fields, escapes, braces, nulls, headers) and --json, with their
// error messages.
#include "tools/cli/record_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace strand::cli {
namespace {

using ::testing::HasSubstr;

client::ConsumerRecord Record(std::optional<std::string_view> key,
                              std::optional<std::string_view> value,
                              std::vector<client::HeaderView> headers = {}) {
  return client::ConsumerRecord(std::make_shared<const std::string>("orders"), 3, 42,
                                1'700'000'000'123, client::TimestampType::kCreateTime, 7, key,
                                value, std::move(headers), nullptr);
}

TEST(SplitLine, KeySeparator) {
  auto kv = SplitLine("k1:v:1", ":");
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ(kv->key, "k1");
  EXPECT_EQ(kv->value, "v:1");
  kv = SplitLine(":value", ":");
  EXPECT_EQ(kv->key, "");
  kv = SplitLine("a=>b", "=>");
  EXPECT_EQ(kv->key, "a");
  EXPECT_EQ(kv->value, "b");
  EXPECT_FALSE(SplitLine("novalue", ":").ok());
}

TEST(SplitLine, NoSeparator_WholeLineNullKey) {
  auto kv = SplitLine("a:b", "");
  ASSERT_TRUE(kv.ok());
  EXPECT_FALSE(kv->key.has_value());
  EXPECT_EQ(kv->value, "a:b");
}

TEST(ParseHeaders, ItemsAndRepeats) {
  auto h = ParseHeaders({"a=1,b=x=y", "c", "a=2"});
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 4u);
  EXPECT_EQ((*h)[0], (client::Header{"a", "1"}));
  EXPECT_EQ((*h)[1], (client::Header{"b", "x=y"}));
  EXPECT_EQ((*h)[2], (client::Header{"c", std::nullopt}));
  EXPECT_EQ((*h)[3], (client::Header{"a", "2"}));
  EXPECT_THAT(ParseHeaders({"=v"}).status().message(), HasSubstr("has no key"));
}

TEST(RecordFormat, EveryField) {
  auto f = RecordFormat::Parse(
      "{topic}/{partition}@{offset} t={timestamp} {timestamp_type} e={leader_epoch} "
      "{key}\\t{value} [{headers}]");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->Render(Record("k", "v", {{"h1", "x"}, {"h2", std::nullopt}})),
            "orders/3@42 t=1700000000123 CreateTime e=7 k\tv [h1:x,h2:null]\n");
}

TEST(RecordFormat, NullsNoHeadersBracesEscapes) {
  auto f = RecordFormat::Parse("{{{key}}} {value} {headers}\\n\\\\x\\q");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->Render(Record(std::nullopt, std::nullopt)), "{null} null NO_HEADERS\n\\x\\q\n");
  EXPECT_EQ(RecordFormat::Parse("")->Render(Record("k", "v")), "\n");
}

TEST(RecordFormat, Errors) {
  EXPECT_THAT(RecordFormat::Parse("{nope}").status().message(), HasSubstr("unknown field {nope}"));
  EXPECT_THAT(RecordFormat::Parse("{value").status().message(), HasSubstr("unclosed '{'"));
  EXPECT_THAT(RecordFormat::Parse("a}b").status().message(), HasSubstr("unmatched '}'"));
}

TEST(RecordJson, Shape) {
  const auto j = RecordJson(Record(std::nullopt, "v", {{"h", "x"}}));
  EXPECT_EQ(j.dump(),
            R"({"topic":"orders","partition":3,"offset":42,"timestamp":1700000000123,)"
            R"("timestamp_type":"CreateTime","key":null,"value":"v",)"
            R"("headers":[{"key":"h","value":"x"}]})");
}

}  // namespace
}  // namespace strand::cli
