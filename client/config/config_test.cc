// Tests client configuration by Kafka's property names: defaults, every kind of bad input named
// in one error, Kafka's idempotence and delivery-timeout rules, .properties parsing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "strand/consumer.h"
#include "strand/producer.h"
#include "strand/properties.h"

namespace strand::client {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(const absl::Status& status) { return std::string(status.message()); }

Properties Base() { return {{"bootstrap.servers", "127.0.0.1:9101, 127.0.0.1:9102"}}; }

TEST(ProducerConfig, DefaultsAreKafkas) {
  auto c = ProducerConfig::FromProperties(Base());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->bootstrap_servers.size(), 2u);
  EXPECT_EQ(c->acks, -1);
  EXPECT_EQ(c->batch_size_bytes, 262144);
  EXPECT_EQ(c->linger_ms, 5);
  EXPECT_EQ(c->buffer_memory_bytes, 33554432);
  EXPECT_EQ(c->max_block_ms, 60000);
  EXPECT_EQ(c->delivery_timeout_ms, 120000);
  EXPECT_EQ(c->request_timeout_ms, 30000);
  EXPECT_EQ(c->max_in_flight_requests_per_connection, 5);
  EXPECT_TRUE(c->enable_idempotence);
  EXPECT_EQ(c->compression, CompressionType::kNone);
  EXPECT_EQ(c->retries, 2147483647);
}

TEST(ProducerConfig, ValuesParsed) {
  Properties p = Base();
  p["acks"] = "1";
  p["enable.idempotence"] = "false";
  p["compression.type"] = "LZ4";
  p["linger.ms"] = " 20 ";
  p["batch.size"] = "65536";
  auto c = ProducerConfig::FromProperties(p);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->acks, 1);
  EXPECT_FALSE(c->enable_idempotence);
  EXPECT_EQ(c->compression, CompressionType::kLz4);
  EXPECT_EQ(c->linger_ms, 20);
  EXPECT_EQ(c->batch_size_bytes, 65536);
}

TEST(ProducerConfig, EveryProblemNamedAtOnce) {
  Properties p = Base();
  p["lingr.ms"] = "5";
  p["group.id"] = "g";
  p["acks"] = "2";
  p["batch.size"] = "big";
  p["buffer.memory"] = "-1";
  p["enable.idempotence"] = "yes";
  p["frobnicate"] = "1";
  auto c = ProducerConfig::FromProperties(p);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string e = ErrorOf(c.status());
  EXPECT_THAT(e, HasSubstr("unknown producer setting 'lingr.ms' (did you mean 'linger.ms'?)"));
  EXPECT_THAT(e, HasSubstr("'group.id' is a consumer setting, not a producer setting"));
  EXPECT_THAT(e, HasSubstr("acks: '2' is not one of all, -1, 0, 1"));
  EXPECT_THAT(e, HasSubstr("batch.size: 'big' is not an integer"));
  EXPECT_THAT(e, HasSubstr("buffer.memory: -1 is out of range"));
  EXPECT_THAT(e, HasSubstr("enable.idempotence: 'yes' is not true or false"));
  EXPECT_THAT(e, HasSubstr("unknown producer setting 'frobnicate'"));
}

TEST(ProducerConfig, BootstrapRequiredAndChecked) {
  EXPECT_THAT(ErrorOf(ProducerConfig::FromProperties({}).status()),
              HasSubstr("bootstrap.servers is required"));
  EXPECT_THAT(ErrorOf(ProducerConfig::FromProperties({{"bootstrap.servers", "nohost"}}).status()),
              HasSubstr("bootstrap.servers"));
}

TEST(ProducerConfig, ExplicitIdempotenceConflictsAreErrors) {
  Properties p = Base();
  p["enable.idempotence"] = "true";
  p["acks"] = "1";
  p["max.in.flight.requests.per.connection"] = "6";
  const std::string e = ErrorOf(ProducerConfig::FromProperties(p).status());
  EXPECT_THAT(e, HasSubstr("enable.idempotence=true conflicts with acks=1 (needs all)"));
  EXPECT_THAT(e, HasSubstr("max.in.flight.requests.per.connection=6 (needs <= 5)"));
  p.erase("max.in.flight.requests.per.connection");
  p["acks"] = "all";
  p["retries"] = "0";
  EXPECT_THAT(ErrorOf(ProducerConfig::FromProperties(p).status()),
              HasSubstr("conflicts with retries=0"));
}

TEST(ProducerConfig, DefaultIdempotenceGivesWayAsInKafka) {
  Properties p = Base();
  p["acks"] = "1";
  auto c = ProducerConfig::FromProperties(p);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->enable_idempotence);
  p["acks"] = "all";
  p["max.in.flight.requests.per.connection"] = "10";
  c = ProducerConfig::FromProperties(p);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->enable_idempotence);
}

TEST(ProducerConfig, DeliveryTimeoutRule) {
  Properties p = Base();
  p["delivery.timeout.ms"] = "1000";
  p["request.timeout.ms"] = "2000";
  EXPECT_THAT(ErrorOf(ProducerConfig::FromProperties(p).status()),
              HasSubstr("delivery.timeout.ms=1000 must be at least linger.ms + request.timeout.ms "
                        "= 2005"));
  p.erase("delivery.timeout.ms");
  p["request.timeout.ms"] = "200000";
  auto c = ProducerConfig::FromProperties(p);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->delivery_timeout_ms, 200005);  // raised, as Kafka does for the default
}

TEST(ProducerConfig, TransactionsNotYet) {
  Properties p = Base();
  p["transactional.id"] = "tx";
  EXPECT_THAT(ErrorOf(ProducerConfig::FromProperties(p).status()),
              HasSubstr("transactions are not supported yet"));
}

TEST(ConsumerConfig, DefaultsAndValues) {
  Properties p = Base();
  auto c = ConsumerConfig::FromProperties(p);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->auto_offset_reset, OffsetResetPolicy::kLatest);
  EXPECT_EQ(c->fetch_min_bytes, 1);
  EXPECT_EQ(c->fetch_max_wait_ms, 500);
  EXPECT_EQ(c->max_partition_fetch_bytes, 1048576);
  EXPECT_EQ(c->max_poll_records, 500);
  EXPECT_FALSE(c->read_committed);
  p["auto.offset.reset"] = "earliest";
  p["isolation.level"] = "read_committed";
  p["client.rack"] = "rack-1";
  c = ConsumerConfig::FromProperties(p);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->auto_offset_reset, OffsetResetPolicy::kEarliest);
  EXPECT_TRUE(c->read_committed);
  EXPECT_EQ(c->client_rack, "rack-1");
}

TEST(ConsumerConfig, BadValues) {
  Properties p = Base();
  p["auto.offset.reset"] = "smallest";
  p["max.poll.records"] = "0";
  p["linger.ms"] = "1";
  const std::string e = ErrorOf(ConsumerConfig::FromProperties(p).status());
  EXPECT_THAT(e, HasSubstr("auto.offset.reset: 'smallest' is not one of latest, earliest, none"));
  EXPECT_THAT(e, HasSubstr("max.poll.records: 0 is out of range [1, 1000000]"));
  EXPECT_THAT(e, HasSubstr("'linger.ms' is a producer setting, not a consumer setting"));
}

TEST(ConsumerConfig, GroupSettings) {
  Properties p = Base();
  auto c = ConsumerConfig::FromProperties(p);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->enable_auto_commit);  // no group: nothing to commit to
  EXPECT_TRUE(c->ignored_settings.empty());
  p["group.id"] = "g";
  c = ConsumerConfig::FromProperties(p);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->enable_auto_commit);
  EXPECT_EQ(c->auto_commit_interval_ms, 5000);
  EXPECT_EQ(c->group_remote_assignor, "");
  // Broker-owned under the consumer protocol: accepted, even when they contradict each other,
  // and listed so that the consumer warns about them.
  p["session.timeout.ms"] = "10000";
  p["heartbeat.interval.ms"] = "50000";
  p["group.remote.assignor"] = "range";
  c = ConsumerConfig::FromProperties(p);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->ignored_settings,
              ::testing::ElementsAre("session.timeout.ms", "heartbeat.interval.ms"));
  EXPECT_EQ(c->group_remote_assignor, "range");
  p["group.protocol"] = "classic";
  EXPECT_THAT(ErrorOf(ConsumerConfig::FromProperties(p).status()),
              HasSubstr("group.protocol: classic is not supported"));
  p["group.protocol"] = "consumer";
  ASSERT_TRUE(ConsumerConfig::FromProperties(p).ok());
  p.erase("group.id");
  p["enable.auto.commit"] = "true";
  p["group.instance.id"] = "i-1";
  const std::string e = ErrorOf(ConsumerConfig::FromProperties(p).status());
  EXPECT_THAT(e, HasSubstr("enable.auto.commit=true needs a group.id"));
  EXPECT_THAT(e, HasSubstr("group.instance.id needs a group.id"));
}

TEST(Properties, ParseText) {
  auto p = ParseProperties("# comment\n! also\n\nbootstrap.servers = a:1,b:2\nacks: all\n");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)["bootstrap.servers"], "a:1,b:2");
  EXPECT_EQ((*p)["acks"], "all");
  EXPECT_THAT(ErrorOf(ParseProperties("a=1\nnonsense\n").status()), HasSubstr("line 2"));
  auto items = ParsePropertyItems({"linger.ms=10", "client.id=x=y"});
  ASSERT_TRUE(items.ok());
  EXPECT_EQ((*items)["client.id"], "x=y");
  EXPECT_FALSE(ParsePropertyItems({"novalue"}).ok());
}

TEST(Properties, EveryDefinitionIsConsistent) {
  for (const PropertyDefinition& d : PropertyDefinitions()) {
    EXPECT_FALSE(d.doc.empty()) << d.name;
    EXPECT_NE(d.roles, 0) << d.name;
    if (d.type == PropertyType::kInt || d.type == PropertyType::kLong) {
      EXPECT_LE(d.min, d.max) << d.name;
    }
  }
}

}  // namespace
}  // namespace strand::client
