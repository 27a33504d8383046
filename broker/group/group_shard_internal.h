#pragma once

// Helpers shared by GroupShard's source files (group_shard.cc: membership and reads;
// group_offsets.cc: committed offsets). Internal to broker/group.

#include <string>
#include <string_view>

#include "broker/group/group_shard.h"
#include "common/error_proto.h"

namespace strand::broker::group::internal {

inline std::string TypeString(v1::GroupType t) {
  return t == v1::GROUP_TYPE_CLASSIC ? "classic" : "consumer";
}

template <typename Response>
GroupResult<Response> Fail(KafkaError code, std::string_view message) {
  GroupResult<Response> out;
  SetKafkaError(out.response.mutable_error(), code, message);
  return out;
}

}  // namespace strand::broker::group::internal
