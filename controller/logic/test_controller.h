#pragma once

// Test harness for QuorumController: an in-memory MetadataLog whose batches the test commits
// explicitly (CommitAll), a committed image kept by replaying committed batches (as the Raft
// state machine does), a manual clock, and helpers to register and unfence brokers.

#include <optional>
#include <vector>

#include "controller/logic/quorum_controller.h"

namespace strand::controller::testing {

class TestLog final : public MetadataLog {
 public:
  absl::StatusOr<uint64_t> Append(const v1::MetadataBatch& batch) override;
  std::vector<std::pair<uint64_t, v1::MetadataBatch>> batches;
  uint64_t next_index = 1;
  bool refuse = false;  // behave like a node that lost leadership
};

class TestController {
 public:
  explicit TestController(ControllerConfig config = DefaultConfig());
  static ControllerConfig DefaultConfig();

  // Commits every appended batch: replays it into the committed image, tells the controller.
  void CommitAll();
  // Registers a broker, commits, and returns its epoch.
  int64_t Register(int id, const std::string& rack = "", const std::string& incarnation = "");
  // Heartbeats with the broker caught up to the committed image; commits what it appended.
  v1::BrokerHeartbeatResponse Heartbeat(int id, bool shut_down = false);
  // Registers and unfences brokers `ids`.
  void AddBrokers(const std::vector<int>& ids, const std::vector<std::string>& racks = {});
  // Creates a topic through the controller and commits; returns the response's topic result.
  admin::v1::TopicResult CreateTopic(const std::string& name, int partitions, int rf,
                                     std::map<std::string, std::string> configs = {});
  const PartitionState& Partition(const std::string& topic, int p) const;
  void Advance(int64_t ms) { now_ms += ms; }

  TestLog log;
  QuorumController controller;
  MetadataImage committed;
  int64_t now_ms = 1'000'000;
  std::map<int, int64_t> epochs;
  std::map<int, std::string> incarnations;  // of each broker's latest registration
};

}  // namespace strand::controller::testing
