#pragma once

// Helpers for tests of the client library (strand::client) on a real StrandCluster: the bootstrap
// list, producers and consumers with test-sized timeouts, waiting until every broker serves a
// new topic, and reading partitions back with a Consumer.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "strand/consumer.h"
#include "strand/producer.h"
#include "tests/integration/strand_cluster.h"

namespace strand::testing {

// Every broker's address, comma-separated.
std::string Bootstrap(StrandCluster& cluster);
// The client settings for the cluster's TLS mode (none when plaintext).
client::Properties Security(StrandCluster& cluster);

// A producer on the cluster with `extra` settings over the defaults (fails the test if refused).
std::unique_ptr<client::Producer> MakeProducer(StrandCluster& cluster,
                                               const client::Properties& extra = {});
// A consumer with auto.offset.reset=earliest and `extra` settings.
std::unique_ptr<client::Consumer> MakeConsumer(StrandCluster& cluster,
                                               const client::Properties& extra = {});

// Creates a topic (RF 3) and waits until it has leaders with a full ISR and every running broker
// answers metadata for it, so a new client's first metadata request finds it.
void CreateTopicAndWait(StrandCluster& cluster, const std::string& topic, int partitions,
                        const std::map<std::string, std::string>& configs = {});

// A consumed record, copied out of the fetch buffers.
struct Consumed {
  int32_t partition = -1;
  int64_t offset = -1;
  int64_t timestamp_ms = -1;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<client::Header> headers;
};
Consumed Copy(const client::ConsumerRecord& record);

// Polls `consumer` until `count` records came or `timeout` passed; returns what came.
std::vector<Consumed> PollAtLeast(client::Consumer& consumer, size_t count,
                                  std::chrono::milliseconds timeout);

}  // namespace strand::testing
