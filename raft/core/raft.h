#pragma once

// Raft: the consensus state machine of one node (Ongaro & Ousterhout, "In Search of an
// Understandable Consensus Algorithm", and the Raft thesis for pre-vote, check-quorum,
// leadership transfer and ReadIndex).
//
// Pure and deterministic: inputs are Step(message), Tick(), Propose(data) and a few requests;
// outputs accumulate in an outbox (messages), in the RaftLog (entries to persist, entries to
// apply), in a pending snapshot and in read states. RawNode turns those into Ready batches. No
// threads, clocks, sockets or files; randomness comes from the Random& passed in, so a seed
// replays a run exactly.
//
// The implementation is split by operation:
//   raft.cc              term and role transitions, message dispatch
//   raft_election.cc     ticks, pre-vote, votes, check-quorum, leader lease
//   raft_replication.cc  appends, heartbeats, commit, follower log handling
//   raft_snapshot.cc     compaction, chunked InstallSnapshot (send and receive)
//   raft_control.cc      read index, leadership transfer, observers, proposals
//
// Owned by RawNode; single-threaded.

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/random.h"
#include "raft/core/config.h"
#include "raft/core/progress.h"
#include "raft/core/raft_log.h"
#include "raft/core/types.h"

namespace strand::raft {

// What a node starts from: the state it persisted before it stopped (all empty for a new node).
struct BootState {
  HardState hard_state;
  Snapshot snapshot;
  std::vector<Entry> entries;  // the entries after the snapshot, in order
};

class Raft {
 public:
  // `config` must have passed Validate(); `random` must outlive the Raft.
  Raft(const Config& config, Random& random, BootState boot);

  // ---- inputs ----
  void Tick();
  void Step(const Message& m);
  // Appends `data` to the log if this node leads. Returns the index the entry will have if it
  // commits (with the current term()); NOT_LEADER, TRANSFER_IN_PROGRESS, PROPOSAL_TOO_LARGE or
  // TOO_MANY_UNCOMMITTED otherwise.
  absl::StatusOr<LogIndex> Propose(std::string data);
  // Asks the leader to hand leadership to `target` (forwarded when this node is a follower).
  absl::Status TransferLeadership(NodeId target);
  // Requests a linearizable read point; the answer arrives as a ReadState with `context`.
  absl::Status ReadIndex(uint64_t context);
  // Starts an election now (pre-vote first when enabled).
  void Campaign();
  // The transport lost its connection to `node`: messages in flight to it are gone, so the
  // leader stops streaming optimistically and probes from the peer's match index.
  void ReportUnreachable(NodeId node);
  // The application has a snapshot of its state at `index` (<= applied): remember it for
  // lagging followers and drop log entries up to index - snapshot_trailing_entries.
  // Returns the compaction point (entries <= it may be deleted from storage).
  LogIndex Compact(LogIndex index, std::shared_ptr<const std::string> data);

  // ---- outputs, consumed by RawNode ----
  // Generates the appends, commit updates and read-index heartbeat rounds that inputs made due;
  // they are coalesced here so one Ready carries one message per follower, not one per entry.
  void FlushAppends();
  std::vector<Message> TakeMessages();
  std::vector<ReadState> TakeReadStates();
  bool TakeMessagesEmpty() const { return msgs_.empty(); }
  bool ReadStatesEmpty() const { return read_states_.empty(); }
  const std::optional<Snapshot>& pending_snapshot() const { return pending_snapshot_; }
  // The driver persisted the entries up to (index, term) / the pending snapshot.
  void EntriesPersisted(LogIndex index, Term term);
  void SnapshotPersisted();

  // ---- observation ----
  NodeId id() const { return config_.id; }
  Role role() const { return role_; }
  Term term() const { return term_; }
  NodeId leader() const { return leader_; }
  NodeId vote() const { return vote_; }
  HardState hard_state() const { return {term_, vote_, log_.committed()}; }
  SoftState soft_state() const { return {leader_, role_}; }
  const RaftLog& log() const { return log_; }
  RaftLog& mutable_log() { return log_; }
  const Snapshot& snapshot() const { return snapshot_; }
  const Config& config() const { return config_; }
  const Progress* progress(NodeId node) const;
  NodeId transfer_target() const { return transfer_target_; }
  // Leader only: whether `node` answered within the last election timeout.
  bool PeerRecentlyHeard(NodeId node) const;
  size_t known_observers() const { return known_observers_.size(); }
  // Messages dropped because no honest peer could have sent them (see Admissible).
  uint64_t dropped_inadmissible() const { return dropped_inadmissible_; }
  // Snapshot chunks refused as malformed (overrunning the declared size).
  uint64_t malformed_snapshot_chunks() const { return malformed_snapshot_chunks_; }

 private:
  // raft.cc
  void Reset(Term term);
  void BecomeFollower(Term term, NodeId leader);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void Send(Message m);
  // False for a message no honest peer sends: terms or indexes past 2^62, or a message only
  // voters send from a node outside the voter set. Such messages are dropped before anything.
  bool Admissible(const Message& m) const;
  bool CheckTerm(const Message& m);
  void StepLeader(const Message& m);
  void StepCandidate(const Message& m);
  void StepFollower(const Message& m);
  void ResetRandomizedElectionTimeout();

  // raft_election.cc
  void TickElection();
  void TickLeader();
  void TickObserver();
  void StartCampaign(bool pre_vote, bool transfer);
  void HandleVoteRequest(const Message& m);
  void HandleVoteResponse(const Message& m);
  bool InLease() const;
  bool QuorumActive();

  // raft_replication.cc
  bool SendAppend(NodeId to, bool send_if_empty);
  void SendHeartbeat(NodeId to, uint64_t context);
  void BroadcastHeartbeat();
  void AppendLocal(std::vector<Entry> entries);
  bool MaybeCommit();
  void HandleAppend(const Message& m);
  void HandleAppendResponse(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleHeartbeatResponse(const Message& m);
  void ForgetLostEntries(Progress& pr, LogIndex peer_last);

  // raft_snapshot.cc
  void SendSnapshotChunk(NodeId to);
  void HandleSnapshotChunk(const Message& m);
  void HandleSnapshotResponse(const Message& m);
  void InstallSnapshot(Snapshot snapshot);

  // raft_control.cc
  void HandleReadIndexRequest(NodeId from, uint64_t context);
  void ReleaseReads();
  void ReleaseDeferredReads();
  void HandleTransferRequest(NodeId target);
  void HandleObserverJoin(const Message& m);
  void TrackObserver(NodeId node);
  void ExpireObservers();
  void MaybeSendTimeoutNow(NodeId to);

  Progress& ProgressOf(NodeId node);
  void ForEachPeer(const std::function<void(NodeId, Progress&)>& fn);

  const Config config_;
  Random& random_;

  Term term_;
  NodeId vote_ = kNoNode;
  Role role_ = Role::kFollower;
  NodeId leader_ = kNoNode;
  RaftLog log_;
  Snapshot snapshot_;                         // the latest snapshot this node has
  std::optional<Snapshot> pending_snapshot_;  // received, not yet persisted and installed
  std::vector<Message> msgs_;
  std::vector<ReadState> read_states_;

  // Leader: one Progress per voter (including itself) and per known observer. std::map keeps the
  // iteration order, and so the message order, deterministic.
  std::map<NodeId, Progress> progress_;
  // Candidate: votes received in the current campaign.
  std::map<NodeId, bool> votes_;
  // Every role: observers that asked to be replicated to, and ticks since each was heard from.
  std::map<NodeId, int> known_observers_;
  uint64_t dropped_inadmissible_ = 0;
  uint64_t malformed_snapshot_chunks_ = 0;

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  int observer_join_elapsed_ = 0;
  NodeId transfer_target_ = kNoNode;
  size_t uncommitted_bytes_ = 0;
  bool appends_due_ = false;     // new entries or a commit advance await FlushAppends
  bool read_round_due_ = false;  // read requests await a heartbeat round (FlushAppends)
  bool committed_in_term_ = false;

  // ReadIndex (Raft thesis 6.4): requests wait for a quorum of heartbeat acknowledgements whose
  // context is at least their sequence number.
  struct ReadRequest {
    uint64_t seq;
    uint64_t context;
    LogIndex index;
    NodeId from;  // requester; this node's own id for local requests
  };
  std::deque<ReadRequest> reads_;
  std::vector<std::pair<NodeId, uint64_t>> deferred_reads_;  // until a commit in this term
  std::map<NodeId, uint64_t> read_acked_seq_;
  uint64_t read_seq_ = 0;

  // Follower: the snapshot being received in chunks.
  struct SnapshotReceiver {
    SnapshotMeta meta;
    uint64_t size = 0;
    std::string data;
    bool active = false;
  };
  SnapshotReceiver receiver_;
};

}  // namespace strand::raft
