#pragma once

// GroupListing: the answer of a ListGroups fanned out to several brokers (a broker asking the
// others, a controller asking every broker), merged as the answers come in: every group listed,
// the brokers whose groups are missing, and the first error. Thread-safe. Header-only: used by
// the brokers' and the controllers' GroupService, which both link the group protos.

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "common/error_proto.h"
#include "proto/group/v1/group.pb.h"

namespace strand {

class GroupListing {
 public:
  // `expected`: the answers (or failures) to wait for.
  explicit GroupListing(int expected) : remaining_(expected) {}

  // One broker's answer: its groups, the brokers it could not ask, its error.
  void Add(::strand::group::v1::ListGroupsResponse answer) {
    std::lock_guard lock(mu_);
    for (auto& g : *answer.mutable_groups()) *out_.add_groups() = std::move(g);
    for (int32_t u : answer.unreachable_coordinators()) out_.add_unreachable_coordinators(u);
    if (answer.error().code() != 0 && out_.error().code() == 0) {
      *out_.mutable_error() = std::move(*answer.mutable_error());
    }
  }
  // A broker whose groups are missing, and why.
  void Unreachable(int32_t broker, KafkaError error, std::string_view message) {
    std::lock_guard lock(mu_);
    out_.add_unreachable_coordinators(broker);
    if (out_.error().code() == 0) SetKafkaError(out_.mutable_error(), error, message);
  }
  // Counts one expected answer in; true for the last.
  bool OneDone() {
    std::lock_guard lock(mu_);
    return --remaining_ == 0;
  }
  // The merged answer, groups by id and unreachable brokers in order (once, after the last
  // OneDone).
  ::strand::group::v1::ListGroupsResponse Take() {
    std::lock_guard lock(mu_);
    std::sort(out_.mutable_groups()->begin(), out_.mutable_groups()->end(),
              [](const auto& a, const auto& b) { return a.group_id() < b.group_id(); });
    std::sort(out_.mutable_unreachable_coordinators()->begin(),
              out_.mutable_unreachable_coordinators()->end());
    return std::move(out_);
  }

 private:
  std::mutex mu_;
  ::strand::group::v1::ListGroupsResponse out_;
  int remaining_;
};

}  // namespace strand
