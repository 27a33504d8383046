#pragma once

// RaftDriver: runs one Raft node. It owns the RawNode and a single event-loop thread that feeds
// it inputs (messages from the transport, proposals, read requests, ticks) and drains its Ready
// batches in the order the core requires: persist (one fsync per Ready: group commit), then
// send, then apply to the StateMachine, then Advance. Everything the core does happens on that
// thread; the public methods only queue work and are safe from any thread.
//
// Lifecycle: construct, connect a transport (SetTransport), Start() (loads storage, restores
// the state machine from the latest snapshot, starts the loop), ..., Stop() (fails pending
// requests with STOPPED and joins the loop). Storage, state machine and transport must outlive
// the driver's Stop().
//
// A storage failure stops the node (it cannot keep its promises without a working disk):
// pending requests fail with STORAGE_FAILURE and the loop ends; the process should exit.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <variant>

#include "absl/status/statusor.h"
#include "common/random.h"
#include "raft/core/raw_node.h"
#include "raft/driver/raft_probe.h"
#include "raft/driver/state_machine.h"
#include "raft/storage/log_storage.h"
#include "raft/transport/transport.h"

namespace strand::raft {

struct DriverOptions {
  int tick_ms = 50;                     // one Raft tick; election timeout = config ticks x this
  int64_t request_timeout_ms = 10'000;  // default deadline for proposals and read barriers
  size_t inbox_max = 200'000;           // queued inputs beyond this are refused or dropped
  uint64_t random_seed = 0;             // 0: seeded from the clock
};

// A consistent copy of the node's state, for status pages, metrics and redirects.
struct NodeStatus {
  NodeId id = kNoNode;
  Role role = Role::kFollower;
  Term term;
  NodeId leader = kNoNode;
  LogIndex last_index;
  LogIndex commit;
  LogIndex applied;
  LogIndex snapshot_index;
  bool running = false;
  // On the leader: the voters it heard from within the last election timeout (itself included).
  std::vector<NodeId> reachable_voters;
};

class RaftDriver {
 public:
  using ProposeCallback = std::function<void(absl::StatusOr<LogIndex>)>;
  using ReadCallback = std::function<void(absl::Status)>;
  // Called on the loop thread when this node's role or known leader changes. `ready` is true
  // once a new leader has applied the first entry of its term: its state machine then reflects
  // every committed entry, so it may act on it (the controller becomes active only then).
  using LeadershipListener = std::function<void(const NodeStatus& status, bool ready)>;

  RaftDriver(Config config, DriverOptions options, LogStorage& storage, StateMachine& machine,
             std::shared_ptr<prometheus::Registry> registry = nullptr);
  ~RaftDriver();

  void SetTransport(Transport* transport) { transport_ = transport; }
  void SetLeadershipListener(LeadershipListener listener) { listener_ = std::move(listener); }
  // Called on the loop thread after every Raft tick (periodic work of the application).
  void SetTickListener(std::function<void()> listener) { tick_listener_ = std::move(listener); }
  absl::Status Start();
  void Stop();

  // From the transport.
  void Deliver(Message m);
  void ReportUnreachable(NodeId node);

  // Appends `data` to the replicated log. `done` runs (on the loop thread) once the entry is
  // committed and applied locally, with its index; or with NOT_LEADER (naming the leader),
  // PROPOSAL_DROPPED, TOO_MANY_UNCOMMITTED, TIMEOUT, STOPPED, ...
  void Propose(std::string data, ProposeCallback done, int64_t timeout_ms = 0);
  std::future<absl::StatusOr<LogIndex>> Propose(std::string data);
  // A linearizable read barrier: `done` runs once the local state machine reflects every entry
  // committed before the call (ReadIndex; works on followers by asking the leader).
  void ReadBarrier(ReadCallback done, int64_t timeout_ms = 0);
  std::future<absl::Status> ReadBarrier();
  // Asks the leader to hand leadership to `target`; completes asynchronously.
  void TransferLeadership(NodeId target);

  // Runs `task` on the loop thread, where the application may read its state machine and call
  // ProposeInLoop. If the node stops before the task runs, `dropped` runs instead (on the
  // calling or the loop thread), so that a caller waiting on the task is always answered.
  // Returns false (having run `dropped`) when the node is stopped or overloaded.
  bool RunInLoop(std::function<void()> task, std::function<void()> dropped = nullptr);
  // Loop thread only: appends `data` now if this node leads and returns its index (the entry
  // commits later; the application sees it in StateMachine::Apply). NOT_LEADER and the other
  // Propose errors otherwise.
  absl::StatusOr<LogIndex> ProposeInLoop(std::string data);
  // Loop thread only: the node's state right now.
  NodeStatus LoopStatus() const;

  NodeStatus Status() const;

 private:
  struct ProposeInput {
    std::string data;
    ProposeCallback done;
    int64_t timeout_ms;
  };
  struct ReadInput {
    ReadCallback done;
    int64_t timeout_ms;
  };
  struct TransferInput {
    NodeId target;
  };
  struct UnreachableInput {
    NodeId node;
  };
  struct TaskInput {
    std::function<void()> task;
    std::function<void()> dropped;
  };
  using Input =
      std::variant<Message, ProposeInput, ReadInput, TransferInput, UnreachableInput, TaskInput>;
  using Clock = std::chrono::steady_clock;

  struct PendingProposal {
    Term term;
    ProposeCallback done;
    Clock::time_point started;
    Clock::time_point deadline;
  };
  struct PendingRead {
    ReadCallback done;
    Clock::time_point started;
    Clock::time_point deadline;
    std::optional<LogIndex> index;  // known once the leader confirmed the read point
  };

  bool Enqueue(Input input);
  void Run();
  void Handle(Input& input);
  void HandlePropose(ProposeInput& p);
  void HandleRead(ReadInput& r);
  bool ProcessReady();
  void Apply(const Ready& rd);
  void ResolveProposals(const Entry& e);
  void ResolveReads();
  void OnSoftState(const SoftState& ss);
  void MaybeSnapshot();
  void ExpireDeadlines();
  void FailAll(const absl::Status& status);
  void PublishStatus();
  Clock::time_point Deadline(int64_t timeout_ms) const;

  const Config config_;
  const DriverOptions options_;
  LogStorage& storage_;
  StateMachine& machine_;
  Transport* transport_ = nullptr;
  LeadershipListener listener_;
  std::function<void()> tick_listener_;
  RaftProbe probe_;
  Random random_;
  std::unique_ptr<RawNode> node_;

  // Loop-thread state.
  std::map<LogIndex, PendingProposal> proposals_;
  std::map<uint64_t, PendingRead> reads_;
  uint64_t read_context_ = 0;
  bool leader_ready_ = false;
  NodeId last_leader_ = kNoNode;

  // Shared with callers.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Input> inbox_;
  bool stopping_ = false;
  bool running_ = false;
  NodeStatus status_;
  std::thread thread_;
};

}  // namespace strand::raft
