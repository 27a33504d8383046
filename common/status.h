#pragma once

// Expected failures travel as absl::Status / absl::StatusOr<T>. Each module has a domain error
// enum (`enum class Errc`) that rides along as a status payload, so callers branch on the enum
// and never parse messages:
//
//   namespace strand::raft { enum class Errc { kNotLeader = 1, ... }; }
//   template <> struct strand::ErrcTraits<strand::raft::Errc> {
//     static constexpr std::string_view kTypeUrl = "strand/raft.Errc";
//     static absl::StatusCode Code(raft::Errc);     // the gRPC-compatible status code
//     static std::string_view Name(raft::Errc);     // "NOT_LEADER"
//   };
//   return MakeError(Errc::kNotLeader, "node 2 is not the leader; try node 1");
//   if (ErrcOf<Errc>(status) == Errc::kNotLeader) ...

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace strand {

template <typename E>
struct ErrcTraits;

template <typename E>
absl::string_view TypeUrl() {
  return absl::string_view(ErrcTraits<E>::kTypeUrl.data(), ErrcTraits<E>::kTypeUrl.size());
}

template <typename E>
absl::Status MakeError(E errc, std::string_view message) {
  // Debian's Abseil has its own string_view type, so std::string_view is bridged explicitly.
  std::string text(ErrcTraits<E>::Name(errc));
  text.append(": ").append(message);
  absl::Status status(ErrcTraits<E>::Code(errc), text);
  status.SetPayload(TypeUrl<E>(), absl::Cord(absl::StrCat(static_cast<int>(errc))));
  return status;
}

template <typename E>
std::optional<E> ErrcOf(const absl::Status& status) {
  auto payload = status.GetPayload(TypeUrl<E>());
  if (!payload) return std::nullopt;
  int value = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &value)) return std::nullopt;
  return static_cast<E>(value);
}

// The status message as a std::string_view: Debian's Abseil has its own string_view type, which
// fmt does not know, so it is bridged explicitly wherever a message is formatted.
inline std::string_view MessageOf(const absl::Status& status) {
  return std::string_view(status.message().data(), status.message().size());
}

// Returns early from the enclosing function when `expr` (an absl::Status) is not OK.
#define STRAND_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status strand_status_ = (expr);          \
    if (!strand_status_.ok()) return strand_status_; \
  } while (false)

#define STRAND_CONCAT_INNER(a, b) a##b
#define STRAND_CONCAT(a, b) STRAND_CONCAT_INNER(a, b)
// STRAND_ASSIGN_OR_RETURN(auto x, FunctionReturningStatusOr());
#define STRAND_ASSIGN_OR_RETURN(lhs, expr)                     \
  auto STRAND_CONCAT(strand_statusor_, __LINE__) = (expr);     \
  if (!STRAND_CONCAT(strand_statusor_, __LINE__).ok())         \
    return STRAND_CONCAT(strand_statusor_, __LINE__).status(); \
  lhs = std::move(*STRAND_CONCAT(strand_statusor_, __LINE__))

}  // namespace strand
