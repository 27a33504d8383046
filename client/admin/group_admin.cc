#include "client/admin/group_admin.h"

#include <algorithm>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "client/admin/admin_retry.h"
#include "client/common/backoff.h"
#include "client/logger.h"
#include "common/kafka_error.h"
#include "strand/record.h"

namespace strand::client {
namespace {

namespace gv1 = ::strand::group::v1;
namespace bv1 = ::strand::broker::v1;

using Clock = GroupAdmin::Clock;

int64_t MsUntil(Clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
}

absl::Status FromGrpc(const grpc::Status& status, std::string_view what) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      fmt::format("{}: {}", what, status.error_message()));
}

bool Retriable(int32_t code) { return code != 0 && AdminRetriable(static_cast<KafkaError>(code)); }

}  // namespace

std::string HostPort(const std::string& host, int32_t port) {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                             : fmt::format("{}:{}", host, port);
}

GroupAdmin::GroupAdmin(std::vector<std::string> bootstrap, AdminClientOptions options,
                       ChannelPool& channels)
    : bootstrap_(std::move(bootstrap)), options_(options), channels_(channels) {}

void GroupAdmin::SetDeadline(grpc::ClientContext& context, Clock::time_point deadline) const {
  // gRPC deadlines are on the system clock; the budget is kept on the monotonic one.
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(
                           std::clamp<int64_t>(MsUntil(deadline), 1, options_.request_timeout_ms)));
}

bool GroupAdmin::Wait(int64_t wait_ms, Clock::time_point deadline) const {
  const int64_t left_ms = MsUntil(deadline);
  if (left_ms <= 0) return false;
  std::this_thread::sleep_for(std::chrono::milliseconds(std::min(left_ms, wait_ms)));
  return MsUntil(deadline) > 0;
}

// ---------------------------------------------------------------- any broker

absl::Status GroupAdmin::OnAnyBroker(std::string_view method, Clock::time_point deadline,
                                     const Attempt& attempt) {
  const Clock::time_point start = Clock::now();
  Backoff backoff(options_.retry_backoff_ms, options_.retry_backoff_max_ms);
  absl::Status last_failure;
  std::set<std::string> not_brokers;  // answered UNIMPLEMENTED: controllers
  size_t unanswered_in_a_row = 0;
  int32_t attempts = 0;
  while (true) {
    ++attempts;
    const size_t index = current_.load() % bootstrap_.size();
    const std::string& address = bootstrap_[index];
    grpc::ClientContext context;
    SetDeadline(context, deadline);
    const grpc::Status status = attempt(address, context);
    if (status.ok()) return absl::OkStatus();
    bool wait = true;
    if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      not_brokers.insert(address);
      if (not_brokers.size() == bootstrap_.size()) {
        return absl::UnimplementedError(fmt::format(
            "{}: consumer groups are served by brokers, and no address of the bootstrap list "
            "({}) is one (they answered: {}); name at least one broker",
            method, fmt::join(bootstrap_, ", "), status.error_message()));
      }
      wait = false;
    } else if (IsTransportFailure(status)) {
      last_failure = FromGrpc(status, address);
      // Try every address once before waiting: a dead one should cost nothing.
      wait = ++unanswered_in_a_row % bootstrap_.size() == 0;
      ClientLogger()->debug("{} on {}: no answer ({})", method, address, status.error_message());
    } else {
      return FromGrpc(status, fmt::format("{} on {}", method, address));
    }
    size_t expected = index;
    current_.compare_exchange_strong(expected, (index + 1) % bootstrap_.size());
    if (attempts >= options_.attempts_max) break;
    if (wait ? !Wait(backoff.NextMs(), deadline) : MsUntil(deadline) <= 0) break;
  }
  const int64_t elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  if (last_failure.ok()) {
    return absl::DeadlineExceededError(
        fmt::format("{}: no broker answered in {} ms ({} attempts)", method, elapsed_ms, attempts));
  }
  return absl::Status(last_failure.code(),
                      fmt::format("cannot reach the cluster: no answer from {} ({} attempts in {} "
                                  "ms; last error: {})",
                                  fmt::join(bootstrap_, ", "), attempts, elapsed_ms,
                                  std::string(last_failure.message())));
}

absl::StatusOr<gv1::ListGroupsResponse> GroupAdmin::ListGroups(
    const gv1::ListGroupsRequest& request, Clock::time_point deadline) {
  gv1::ListGroupsResponse response;
  absl::Status status = OnAnyBroker("ListGroups", deadline,
                                    [&](const std::string& address, grpc::ClientContext& context) {
                                      response.Clear();
                                      return gv1::GroupService::NewStub(channels_.Get(address))
                                          ->ListGroups(&context, request, &response);
                                    });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<bv1::MetadataResponse> GroupAdmin::Metadata(const std::vector<std::string>& topics,
                                                           Clock::time_point deadline) {
  bv1::MetadataRequest request;
  for (const std::string& t : topics) request.add_topics(t);
  bv1::MetadataResponse response;
  absl::Status status = OnAnyBroker("Metadata", deadline,
                                    [&](const std::string& address, grpc::ClientContext& context) {
                                      response.Clear();
                                      return bv1::BrokerService::NewStub(channels_.Get(address))
                                          ->Metadata(&context, request, &response);
                                    });
  if (!status.ok()) return status;
  return response;
}

// ---------------------------------------------------------------- coordinators

absl::StatusOr<gv1::Coordinator> GroupAdmin::Coordinator(const std::string& group_id,
                                                         Clock::time_point deadline) {
  {
    std::lock_guard lock(mu_);
    auto it = coordinators_.find(group_id);
    if (it != coordinators_.end()) return it->second;
  }
  gv1::FindCoordinatorRequest request;
  request.add_group_ids(group_id);
  gv1::FindCoordinatorResponse response;
  absl::Status status = OnAnyBroker("FindCoordinator", deadline,
                                    [&](const std::string& address, grpc::ClientContext& context) {
                                      response.Clear();
                                      return gv1::GroupService::NewStub(channels_.Get(address))
                                          ->FindCoordinator(&context, request, &response);
                                    });
  if (!status.ok()) return status;
  for (const gv1::Coordinator& c : response.coordinators()) {
    if (c.group_id() != group_id) continue;
    if (c.error().code() == 0) {
      std::lock_guard lock(mu_);
      coordinators_[group_id] = c;
    }
    return c;
  }
  return absl::InternalError(
      fmt::format("FindCoordinator: the answer names no coordinator for group '{}'", group_id));
}

void GroupAdmin::Forget(const std::string& group_id) {
  std::lock_guard lock(mu_);
  coordinators_.erase(group_id);
}

absl::Status GroupAdmin::OnCoordinator(std::string_view method, const std::string& group_id,
                                       Clock::time_point deadline, const Attempt& attempt,
                                       const ErrorOf& error_of, const SetError& set_error) {
  Backoff backoff(options_.retry_backoff_ms, options_.retry_backoff_max_ms);
  // What the last attempt gave, for when the time runs out: an answer (left in the caller's
  // response, with its retriable error), FindCoordinator's error, or no answer.
  std::optional<common::v1::Error> find_error;
  absl::Status unanswered;
  for (int32_t attempts = 1;; ++attempts) {
    absl::StatusOr<gv1::Coordinator> coordinator = Coordinator(group_id, deadline);
    if (!coordinator.ok()) return coordinator.status();
    find_error.reset();
    unanswered = absl::OkStatus();
    if (const int32_t code = coordinator->error().code(); code != 0) {
      if (!Retriable(code)) {
        set_error(coordinator->error());
        return absl::OkStatus();
      }
      find_error = coordinator->error();
      ClientLogger()->debug("FindCoordinator for group '{}': {}, retrying", group_id,
                            coordinator->error().name());
    } else {
      const std::string address = HostPort(coordinator->host(), coordinator->port());
      grpc::ClientContext context;
      SetDeadline(context, deadline);
      const grpc::Status status = attempt(address, context);
      if (status.ok()) {
        const common::v1::Error& error = error_of();
        if (!Retriable(error.code())) return absl::OkStatus();
        ClientLogger()->debug("{} for group '{}' on broker {}: {}, finding the coordinator again",
                              method, group_id, coordinator->node_id(), error.name());
      } else if (IsTransportFailure(status)) {
        unanswered = absl::Status(
            static_cast<absl::StatusCode>(status.error_code()),
            fmt::format("cannot reach the coordinator of group '{}' (broker {} at {}): {}",
                        group_id, coordinator->node_id(), address, status.error_message()));
        ClientLogger()->debug("{}", std::string(unanswered.message()));
      } else {
        return FromGrpc(status, fmt::format("{} on {}", method, address));
      }
      Forget(group_id);
    }
    if (attempts >= options_.attempts_max || !Wait(backoff.NextMs(), deadline)) break;
  }
  if (!unanswered.ok()) return unanswered;
  if (find_error) set_error(*find_error);
  return absl::OkStatus();  // else the last answer is in the caller's response
}

absl::StatusOr<gv1::DescribedGroup> GroupAdmin::Describe(const std::string& group_id,
                                                         bool include_offsets,
                                                         Clock::time_point deadline) {
  gv1::DescribeGroupsRequest request;
  request.add_group_ids(group_id);
  request.set_include_offsets(include_offsets);
  gv1::DescribeGroupsResponse response;
  gv1::DescribedGroup out;
  out.set_group_id(group_id);
  auto describe = [&](const std::string& address, grpc::ClientContext& context) {
    response.Clear();
    grpc::Status s = gv1::GroupService::NewStub(channels_.Get(address))
                         ->DescribeGroups(&context, request, &response);
    out.Clear();
    out.set_group_id(group_id);
    for (const gv1::DescribedGroup& g : response.groups()) {
      if (g.group_id() == group_id) out = g;
    }
    if (s.ok() && response.groups_size() == 0) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "the answer describes no group");
    }
    return s;
  };
  absl::Status status = OnCoordinator(
      "DescribeGroups", group_id, deadline, describe,
      [&]() -> const common::v1::Error& { return out.error(); },
      [&](const common::v1::Error& e) { *out.mutable_error() = e; });
  if (status.code() == absl::StatusCode::kUnimplemented) {
    // Only controllers in the bootstrap list (FindCoordinator is a broker's call): a controller
    // describes the group too, asking its coordinator.
    status = OnAnyBroker("DescribeGroups", deadline, describe);
  }
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<gv1::DeletedGroup> GroupAdmin::Delete(const std::string& group_id,
                                                     Clock::time_point deadline) {
  gv1::DeleteGroupsRequest request;
  request.add_group_ids(group_id);
  gv1::DeleteGroupsResponse response;
  gv1::DeletedGroup out;
  absl::Status status = OnCoordinator(
      "DeleteGroups", group_id, deadline,
      [&](const std::string& address, grpc::ClientContext& context) {
        response.Clear();
        grpc::Status s = gv1::GroupService::NewStub(channels_.Get(address))
                             ->DeleteGroups(&context, request, &response);
        out.Clear();
        out.set_group_id(group_id);
        if (s.ok() && response.groups_size() == 0) {
          return grpc::Status(grpc::StatusCode::INTERNAL, "the answer names no group");
        }
        if (s.ok()) out = response.groups(0);
        return s;
      },
      [&]() -> const common::v1::Error& { return out.error(); },
      [&](const common::v1::Error& e) { *out.mutable_error() = e; });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<gv1::OffsetFetchResponse> GroupAdmin::FetchOffsets(
    const gv1::OffsetFetchRequest& request, Clock::time_point deadline) {
  gv1::OffsetFetchResponse response;
  absl::Status status = OnCoordinator(
      "OffsetFetch", request.group_id(), deadline,
      [&](const std::string& address, grpc::ClientContext& context) {
        response.Clear();
        return gv1::GroupService::NewStub(channels_.Get(address))
            ->OffsetFetch(&context, request, &response);
      },
      [&]() -> const common::v1::Error& { return response.error(); },
      [&](const common::v1::Error& e) { *response.mutable_error() = e; });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<gv1::OffsetCommitResponse> GroupAdmin::CommitOffsets(
    const gv1::OffsetCommitRequest& request, Clock::time_point deadline) {
  // A commit retried after a lost answer commits the same offsets again: harmless.
  gv1::OffsetCommitResponse response;
  absl::Status status = OnCoordinator(
      "OffsetCommit", request.group_id(), deadline,
      [&](const std::string& address, grpc::ClientContext& context) {
        response.Clear();
        return gv1::GroupService::NewStub(channels_.Get(address))
            ->OffsetCommit(&context, request, &response);
      },
      [&]() -> const common::v1::Error& { return response.error(); },
      [&](const common::v1::Error& e) { *response.mutable_error() = e; });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<gv1::OffsetDeleteResponse> GroupAdmin::DeleteOffsets(
    const gv1::OffsetDeleteRequest& request, Clock::time_point deadline) {
  gv1::OffsetDeleteResponse response;
  absl::Status status = OnCoordinator(
      "OffsetDelete", request.group_id(), deadline,
      [&](const std::string& address, grpc::ClientContext& context) {
        response.Clear();
        return gv1::GroupService::NewStub(channels_.Get(address))
            ->OffsetDelete(&context, request, &response);
      },
      [&]() -> const common::v1::Error& { return response.error(); },
      [&](const common::v1::Error& e) { *response.mutable_error() = e; });
  if (!status.ok()) return status;
  return response;
}

// ---------------------------------------------------------------- partition leaders

absl::StatusOr<std::map<GroupTopicPartition, int64_t>> GroupAdmin::ListOffsets(
    const std::map<GroupTopicPartition, int64_t>& timestamps, Clock::time_point deadline) {
  std::map<GroupTopicPartition, int64_t> pending = timestamps;
  std::map<GroupTopicPartition, int64_t> results;
  Backoff backoff(options_.retry_backoff_ms, options_.retry_backoff_max_ms);
  absl::Status last_retriable;
  while (!pending.empty()) {
    std::set<std::string> topics;
    for (const auto& [tp, ts] : pending) topics.insert(tp.first);
    absl::StatusOr<bv1::MetadataResponse> metadata =
        Metadata(std::vector<std::string>(topics.begin(), topics.end()), deadline);
    if (!metadata.ok()) return metadata.status();
    std::map<int32_t, std::string> brokers;
    for (const bv1::BrokerEndpoint& b : metadata->brokers()) {
      brokers[b.id()] = HostPort(b.host(), b.port());
    }
    // Leader address -> the pending partitions it leads.
    std::map<std::string, std::vector<GroupTopicPartition>> by_leader;
    for (const bv1::TopicMetadata& t : metadata->topics()) {
      if (!topics.count(t.name())) continue;
      const int32_t code = t.error().code();
      if (code != 0 && !Retriable(code)) {
        return KafkaStatus(static_cast<KafkaError>(code), t.error().message().empty()
                                                              ? fmt::format("topic '{}'", t.name())
                                                              : t.error().message());
      }
      std::map<int32_t, const bv1::PartitionMetadata*> partitions;
      for (const bv1::PartitionMetadata& p : t.partitions()) partitions[p.partition()] = &p;
      for (const auto& [tp, ts] : pending) {
        if (tp.first != t.name()) continue;
        auto it = partitions.find(tp.second);
        if (code == 0 && it == partitions.end()) {
          return KafkaStatus(KafkaError::kUnknownTopicOrPartition,
                             fmt::format("topic '{}' has {} partitions: there is no partition {}",
                                         tp.first, partitions.size(), tp.second));
        }
        if (it == partitions.end() || it->second->leader() < 0 ||
            !brokers.count(it->second->leader())) {
          last_retriable = KafkaStatus(KafkaError::kLeaderNotAvailable,
                                       fmt::format("{}-{} has no leader", tp.first, tp.second));
          continue;
        }
        by_leader[brokers[it->second->leader()]].push_back(tp);
      }
    }
    for (const auto& [address, tps] : by_leader) {
      bv1::ListOffsetsRequest request;
      request.set_replica_id(-1);
      bv1::ListOffsetsTopic* topic = nullptr;
      for (const GroupTopicPartition& tp : tps) {  // sorted: one entry per topic
        if (topic == nullptr || topic->topic() != tp.first) {
          topic = request.add_topics();
          topic->set_topic(tp.first);
        }
        bv1::ListOffsetsPartition* p = topic->add_partitions();
        p->set_partition(tp.second);
        p->set_current_leader_epoch(-1);
        p->set_timestamp(pending.at(tp));
      }
      grpc::ClientContext context;
      SetDeadline(context, deadline);
      bv1::ListOffsetsResponse response;
      const grpc::Status status = bv1::BrokerService::NewStub(channels_.Get(address))
                                      ->ListOffsets(&context, request, &response);
      if (!status.ok()) {
        if (!IsTransportFailure(status)) {
          return FromGrpc(status, fmt::format("ListOffsets on {}", address));
        }
        last_retriable = FromGrpc(status, fmt::format("ListOffsets on {}", address));
        continue;
      }
      for (const bv1::ListOffsetsTopicResponse& t : response.topics()) {
        for (const bv1::ListOffsetsPartitionResponse& p : t.partitions()) {
          const GroupTopicPartition tp{t.topic(), p.partition()};
          if (!pending.count(tp)) continue;
          const int32_t code = p.error().code();
          if (code == 0) {
            results[tp] = p.offset();
            pending.erase(tp);
          } else if (Retriable(code)) {
            last_retriable = KafkaStatus(static_cast<KafkaError>(code), p.error().message());
          } else {
            return KafkaStatus(static_cast<KafkaError>(code),
                               fmt::format("{}-{}: {}", tp.first, tp.second, p.error().message()));
          }
        }
      }
    }
    if (pending.empty()) break;
    if (!Wait(backoff.NextMs(), deadline)) {
      return last_retriable.ok()
                 ? absl::DeadlineExceededError("ListOffsets: partitions left unanswered")
                 : last_retriable;
    }
  }
  return results;
}

}  // namespace strand::client
