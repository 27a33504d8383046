#pragma once

// StrongId: a tiny strong-typedef so that a Term can never be passed where a LogIndex or an
// Offset is expected. Each id type is a distinct instantiation (distinguished by a tag type);
// arithmetic is limited to what ordinal ids need (step by an integer, distance between two).

#include <fmt/format.h>

#include <compare>
#include <cstdint>
#include <functional>
#include <limits>
#include <ostream>

namespace strand {

template <typename Tag, typename Rep>
class StrongId {
 public:
  using rep_type = Rep;

  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep value) : value_(value) {}

  constexpr Rep value() const { return value_; }

  static constexpr StrongId Max() { return StrongId(std::numeric_limits<Rep>::max()); }
  static constexpr StrongId Min() { return StrongId(std::numeric_limits<Rep>::min()); }

  constexpr auto operator<=>(const StrongId&) const = default;

  constexpr StrongId operator+(Rep delta) const { return StrongId(value_ + delta); }
  constexpr StrongId operator-(Rep delta) const { return StrongId(value_ - delta); }
  // Distance between two ids of the same kind, as the raw representation.
  constexpr Rep operator-(StrongId other) const { return value_ - other.value_; }
  constexpr StrongId& operator+=(Rep delta) {
    value_ += delta;
    return *this;
  }
  constexpr StrongId& operator-=(Rep delta) {
    value_ -= delta;
    return *this;
  }
  constexpr StrongId& operator++() {
    ++value_;
    return *this;
  }
  constexpr StrongId Next() const { return StrongId(value_ + 1); }
  constexpr StrongId Prev() const { return StrongId(value_ - 1); }

  template <typename H>
  friend H AbslHashValue(H h, StrongId id) {
    return H::combine(std::move(h), id.value_);
  }

  friend std::ostream& operator<<(std::ostream& os, StrongId id) { return os << id.value_; }

 private:
  Rep value_{};
};

}  // namespace strand

template <typename Tag, typename Rep>
struct std::hash<strand::StrongId<Tag, Rep>> {
  size_t operator()(strand::StrongId<Tag, Rep> id) const noexcept {
    return std::hash<Rep>()(id.value());
  }
};

template <typename Tag, typename Rep>
struct fmt::formatter<strand::StrongId<Tag, Rep>> : fmt::formatter<Rep> {
  auto format(strand::StrongId<Tag, Rep> id, format_context& ctx) const {
    return fmt::formatter<Rep>::format(id.value(), ctx);
  }
};
