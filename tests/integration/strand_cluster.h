#pragma once

// A Strand cluster of real processes for integration tests: 3 controllers and N brokers
// (strand-server) on 127.0.0.1, each stoppable, killable, pausable and restartable by PID; plus
// a small synchronous test client that speaks the broker API directly (metadata, produce with
// retries and optional idempotence, reading a partition back), so failover tests can check
// exactly what was acknowledged against what the log holds.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "proto/admin/v1/admin.grpc.pb.h"
#include "proto/broker/v1/broker.grpc.pb.h"
#include "tests/integration/test_process.h"

namespace strand::testing {

// A gRPC deadline `d` from now.
inline std::chrono::system_clock::time_point In(std::chrono::milliseconds d) {
  return std::chrono::system_clock::now() + d;
}

// Polls `condition` every 50 ms until it holds or `timeout` passes; its last answer.
template <typename F>
bool Eventually(F condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

// Whether integration tests run over mTLS (STRAND_TEST_TLS=1, the ctest label "mtls").
bool TlsFromEnvironment();

struct ClusterOptions {
  // Every listener SSL with client certificates required (scripts/make-certs.sh makes a CA,
  // node-<id>.pem per node and client-test.pem for the test's own calls).
  bool tls = TlsFromEnvironment();
  int controllers = 3;
  int brokers = 3;
  std::vector<std::string> controller_args;  // extra flags for every controller
  std::vector<std::string> broker_args;      // extra flags for every broker
  std::map<int, std::vector<std::string>> node_args;  // extra flags for one node, by id
  bool racks = false;                        // broker n gets --rack=rack-<n>
  // Flags every node gets: a fast Raft tick makes tests quicker, debug logs make failures
  // readable. A benchmark of the server's defaults clears this.
  std::vector<std::string> common_args = {"--tick-ms=20", "--log-level=debug"};
};

struct PartitionView {
  int32_t leader = -1;
  int32_t leader_epoch = -1;
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
};

struct StoredRecord {
  int64_t offset = 0;
  std::string key;
  std::string value;
  int64_t timestamp = 0;
};

// The listeners of a node (common/listener_config.h). A controller has one listener (the
// controller plane, which also serves the AdminService); a broker has all three.
enum class Listener { kClient, kReplication, kController };

class StrandCluster {
 public:
  explicit StrandCluster(ClusterOptions options = {});
  ~StrandCluster();

  // Broker ids are 101, 102, ...; controller ids 1, 2, 3.
  std::vector<int> broker_ids() const;
  // host:port of a node's listener; a controller's is always its controller listener.
  std::string address(int node, Listener listener = Listener::kClient) const;
  // host:port of the node's Prometheus /metrics (every node serves one, as by default).
  std::string metrics_address(int node) const { return metrics_addresses_.at(node); }
  std::string data_dir(int node) const;
  std::string log_path(int node) const;
  ChildProcess* process(int node) { return nodes_.at(node).get(); }

  bool tls() const { return options_.tls; }
  // Where make-certs.sh put the certificates (TLS only).
  std::string certs_dir() const;
  // What the test presents: client-<name>.pem (or node-<id>.pem for "node-<id>"), trusting the
  // cluster's CA; plaintext without TLS.
  std::shared_ptr<grpc::ChannelCredentials> credentials(const std::string& name = "test") const;
  // A new channel to a node's listener with credentials().
  std::shared_ptr<grpc::Channel> Channel(int node, Listener listener = Listener::kClient) const;

  void Start(int node);
  void Kill(int node);                                  // SIGKILL and reap
  void Stop(int node, std::chrono::milliseconds grace);  // SIGTERM, wait, SIGKILL if still up
  void Pause(int node);                                 // SIGSTOP
  void Resume(int node);                                // SIGCONT
  bool running(int node);

  // Waits until every broker the test has not taken down is registered and unfenced; false at
  // the timeout, or at once (with its log) when one exited on its own.
  bool WaitForBrokers(std::chrono::milliseconds timeout);

  admin::v1::AdminService::Stub& admin();
  // Creates a topic; returns the error name ("NONE" on success, "GAVE_UP (...)" after ~10 s
  // of retriable answers).
  std::string CreateTopic(const std::string& name, int partitions, int rf,
                          const std::map<std::string, std::string>& configs = {});
  std::string DeleteTopic(const std::string& name);

  broker::v1::BrokerService::Stub& broker(int node);
  // The partition as the freshest running broker sees it.
  std::optional<PartitionView> Partition(const std::string& topic, int32_t partition);
  // Waits until the partition has a leader (other than `not_leader`) and an ISR of `isr_size`
  // (0: any).
  std::optional<PartitionView> WaitForPartition(const std::string& topic, int32_t partition,
                                                std::chrono::milliseconds timeout,
                                                size_t isr_size = 0, int32_t not_leader = -1);

  // Reads every committed record of a partition from broker `node` (its leader unless
  // `as_follower`, which reads the replica `node` holds up to its high watermark).
  absl::StatusOr<std::vector<StoredRecord>> ReadAll(const std::string& topic, int32_t partition,
                                                    int node, bool as_follower = false);

 private:
  void Spawn(int node);

  ClusterOptions options_;
  TempDir dir_;
  std::string quorum_;
  std::map<int, std::string> addresses_;  // client listener (controllers: controller listener)
  std::map<int, std::string> replication_addresses_;  // brokers
  std::map<int, std::string> controller_addresses_;   // brokers (controllers: addresses_)
  std::map<int, std::string> metrics_addresses_;      // every node
  std::map<int, std::unique_ptr<ChildProcess>> nodes_;
  std::set<int> stopped_;  // taken down by the test (Kill/Stop), until started again
  std::map<int, bool> paused_;  // SIGSTOPped: metadata lookups skip them rather than time out
  std::map<int, std::shared_ptr<grpc::Channel>> channels_;
  std::map<int, std::unique_ptr<broker::v1::BrokerService::Stub>> brokers_;
  std::map<int, std::unique_ptr<admin::v1::AdminService::Stub>> admins_;
};

// Sets one config (op SET) through the controllers, across a change of active controller;
// returns the error name ("NONE" on success, "GAVE_UP" after ~5 s of NOT_CONTROLLER), and the
// error's message in `message` when given.
std::string AlterConfig(StrandCluster& c, admin::v1::ResourceType type, const std::string& resource,
                        const std::string& name, const std::string& value,
                        std::string* message = nullptr);

// TLS credentials from a PEM file holding a private key and its certificate chain (empty: no
// client certificate) and a CA file.
std::shared_ptr<grpc::ChannelCredentials> TlsCredentials(const std::string& key_and_chain,
                                                         const std::string& ca);

// One produce call's outcome, as a client sees it after its retries.
struct SendResult {
  bool acked = false;
  int64_t base_offset = -1;
  std::string error;  // the last error name when not acked
  int attempts = 0;
};

// A synchronous producer to one partition: one batch in flight, retried on retriable errors
// (refreshing the leader) until a deadline, as a Kafka producer with retries does. With
// idempotence the batch keeps its producer id, epoch and sequence across retries, so a retry of
// a batch that was written already is acknowledged with its original offset.
class TestProducer {
 public:
  TestProducer(StrandCluster& cluster, std::string topic, int32_t partition, int acks,
               bool idempotent);
  // Sends `values` (keys "k<offset-independent index>") as one batch.
  SendResult Send(const std::vector<std::string>& values, std::chrono::milliseconds deadline,
                  std::chrono::milliseconds request_timeout = std::chrono::seconds(5));
  // Sends to broker `node` only, once, no retries (for fencing tests).
  SendResult SendTo(int node, const std::vector<std::string>& values,
                    std::chrono::milliseconds request_timeout);
  int64_t producer_id() const { return producer_id_; }

 private:
  std::string Build(const std::vector<std::string>& values);
  SendResult Attempt(int node, const std::string& batch, std::chrono::milliseconds timeout);

  StrandCluster& cluster_;
  const std::string topic_;
  const int32_t partition_;
  const int acks_;
  int leader_ = -1;  // cached until a send fails
  int64_t producer_id_ = -1;
  int16_t producer_epoch_ = -1;
  int32_t next_sequence_ = 0;
};

}  // namespace strand::testing
