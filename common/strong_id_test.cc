// Tests the StrongId template: ordering, arithmetic and that distinct tags are distinct types.
#include "common/strong_id.h"

#include <gtest/gtest.h>

#include <type_traits>
#include <unordered_set>

#include "common/ids.h"

namespace strand {
namespace {

struct ATag {};
struct BTag {};
using A = StrongId<ATag, uint64_t>;
using B = StrongId<BTag, uint64_t>;

static_assert(!std::is_convertible_v<A, B>, "distinct id types must not convert");
static_assert(!std::is_convertible_v<uint64_t, A>, "construction from raw values is explicit");

TEST(StrongId, Arithmetic_AndOrdering) {
  A a(5);
  EXPECT_EQ((a + 3).value(), 8u);
  EXPECT_EQ((a - 2).value(), 3u);
  EXPECT_EQ(A(9) - A(4), 5u);
  EXPECT_LT(A(1), A(2));
  EXPECT_EQ(a.Next(), A(6));
  EXPECT_EQ(a.Prev(), A(4));
  ++a;
  EXPECT_EQ(a, A(6));
}

TEST(StrongId, Hash_AndFormat) {
  std::unordered_set<A> set{A(1), A(2), A(1)};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(fmt::format("{}", NodeId(3)), "3");
  EXPECT_EQ(kNoNode.value(), -1);
}

}  // namespace
}  // namespace strand
