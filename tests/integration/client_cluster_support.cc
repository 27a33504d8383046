#include "tests/integration/client_cluster_support.h"

#include <gtest/gtest.h>

#include <thread>

#include "proto/broker/v1/broker.grpc.pb.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool BrokerKnows(StrandCluster& cluster, int broker, const std::string& topic, int partitions) {
  broker::v1::MetadataRequest req;
  req.add_topics(topic);
  grpc::ClientContext ctx;
  ctx.set_wait_for_ready(true);
  ctx.set_deadline(std::chrono::system_clock::now() + 1s);
  broker::v1::MetadataResponse resp;
  if (!cluster.broker(broker).Metadata(&ctx, req, &resp).ok()) return false;
  if (resp.topics_size() != 1 || resp.topics(0).error().code() != 0) return false;
  if (resp.topics(0).partitions_size() != partitions) return false;
  for (const auto& p : resp.topics(0).partitions()) {
    if (p.leader() < 0) return false;
  }
  return true;
}

}  // namespace

std::string Bootstrap(StrandCluster& cluster) {
  std::string out;
  for (int id : cluster.broker_ids()) out += (out.empty() ? "" : ",") + cluster.address(id);
  return out;
}

client::Properties Security(StrandCluster& cluster) {
  if (!cluster.tls()) return {};
  const std::string pem = cluster.certs_dir() + "/client-test.pem";
  return {{"security.protocol", "ssl"},
          {"ssl.ca.location", cluster.certs_dir() + "/ca.pem"},
          {"ssl.certificate.location", pem},
          {"ssl.key.location", pem}};
}

std::unique_ptr<client::Producer> MakeProducer(StrandCluster& cluster,
                                               const client::Properties& extra) {
  client::Properties p = Security(cluster);
  p["bootstrap.servers"] = Bootstrap(cluster);
  p["max.block.ms"] = "30000";
  for (const auto& [k, v] : extra) p[k] = v;
  auto producer = client::Producer::Create(p);
  EXPECT_TRUE(producer.ok()) << producer.status();
  return producer.ok() ? *std::move(producer) : nullptr;
}

std::unique_ptr<client::Consumer> MakeConsumer(StrandCluster& cluster,
                                               const client::Properties& extra) {
  client::Properties p = Security(cluster);
  p["bootstrap.servers"] = Bootstrap(cluster);
  p["auto.offset.reset"] = "earliest";
  p["enable.auto.commit"] = "false";
  for (const auto& [k, v] : extra) p[k] = v;
  auto consumer = client::Consumer::Create(p);
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  return consumer.ok() ? *std::move(consumer) : nullptr;
}

void CreateTopicAndWait(StrandCluster& cluster, const std::string& topic, int partitions,
                        const std::map<std::string, std::string>& configs) {
  ASSERT_EQ(cluster.CreateTopic(topic, partitions, 3, configs), "NONE") << topic;
  for (int p = 0; p < partitions; ++p) {
    ASSERT_TRUE(cluster.WaitForPartition(topic, p, 20s, 3)) << topic << "-" << p;
  }
  for (int id : cluster.broker_ids()) {
    if (!cluster.running(id)) continue;
    const auto deadline = Clock::now() + 20s;
    while (!BrokerKnows(cluster, id, topic, partitions)) {
      ASSERT_LT(Clock::now(), deadline) << "broker " << id << " never learned " << topic;
      std::this_thread::sleep_for(10ms);
    }
  }
}

Consumed Copy(const client::ConsumerRecord& record) {
  Consumed c;
  c.partition = record.partition();
  c.offset = record.offset();
  c.timestamp_ms = record.timestamp_ms();
  if (record.key()) c.key = std::string(*record.key());
  if (record.value()) c.value = std::string(*record.value());
  for (const client::HeaderView& h : record.headers()) {
    c.headers.push_back({std::string(h.key), h.value ? std::optional<std::string>(std::string(
                                                           *h.value))
                                                     : std::nullopt});
  }
  return c;
}

std::vector<Consumed> PollAtLeast(client::Consumer& consumer, size_t count,
                                  std::chrono::milliseconds timeout) {
  std::vector<Consumed> out;
  const auto deadline = Clock::now() + timeout;
  while (out.size() < count && Clock::now() < deadline) {
    auto records = consumer.Poll(200ms);
    EXPECT_TRUE(records.ok()) << records.status();
    if (!records.ok()) break;
    for (const client::ConsumerRecord& r : *records) out.push_back(Copy(r));
  }
  return out;
}

}  // namespace strand::testing
