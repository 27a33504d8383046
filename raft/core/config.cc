#include "raft/core/config.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "raft/core/errc.h"

namespace strand::raft {

bool Config::IsVoter(NodeId node) const {
  return std::find(voters.begin(), voters.end(), node) != voters.end();
}

absl::Status Config::Validate() const {
  auto invalid = [](std::string_view what) { return MakeError(Errc::kInvalidConfig, what); };
  if (id == kNoNode) return invalid("node id must be set");
  if (voters.empty()) return invalid("the voter set is empty");
  if (std::set<NodeId>(voters.begin(), voters.end()).size() != voters.size()) {
    return invalid("the voter set lists a node twice");
  }
  if (observer && IsVoter(id)) return invalid("an observer must not be in the voter set");
  if (!observer && !IsVoter(id)) {
    return invalid(absl::StrCat("node ", id.value(), " is not in the voter set"));
  }
  if (heartbeat_interval_ticks < 1) return invalid("heartbeat_interval_ticks must be >= 1");
  if (election_timeout_ticks <= heartbeat_interval_ticks) {
    return invalid("election_timeout_ticks must exceed heartbeat_interval_ticks");
  }
  if (append_bytes_max == 0 || inflight_messages_max == 0 || inflight_bytes_max == 0) {
    return invalid("append and inflight limits must be positive");
  }
  if (entry_bytes_max > uncommitted_bytes_max) {
    return invalid("entry_bytes_max must not exceed uncommitted_bytes_max");
  }
  if (snapshot_chunk_bytes == 0 || snapshot_resend_ticks < 1) {
    return invalid("snapshot_chunk_bytes and snapshot_resend_ticks must be positive");
  }
  if (replicate_stall_heartbeats < 1) return invalid("replicate_stall_heartbeats must be >= 1");
  if (apply_bytes_max == 0) return invalid("apply_bytes_max must be positive");
  if (observer_expiry_ticks <= election_timeout_ticks) {
    return invalid("observer_expiry_ticks must exceed election_timeout_ticks");
  }
  if (snapshot_interval_entries == 0) return invalid("snapshot_interval_entries must be positive");
  return absl::OkStatus();
}

}  // namespace strand::raft
