// Tests MemoryBudget (buffer.memory): accounting, a blocked acquisition released by a Release,
// the max.block.ms timeout, first-come-first-served waiters and Close.
#include "client/producer/memory_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace strand::client {
namespace {

using namespace std::chrono_literals;

TEST(MemoryBudget, AcquireReleaseAndTimeout) {
  MemoryBudget budget(1000);
  EXPECT_TRUE(budget.Acquire(600, 0ms));
  EXPECT_EQ(budget.available_bytes(), 400);
  EXPECT_FALSE(budget.TryAcquire(500));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(budget.Acquire(500, 50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  budget.Release(600);
  EXPECT_EQ(budget.available_bytes(), 1000);
}

TEST(MemoryBudget, WaiterWakesOnRelease) {
  MemoryBudget budget(1000);
  ASSERT_TRUE(budget.Acquire(1000, 0ms));
  std::atomic<bool> got{false};
  std::thread waiter([&] { got = budget.Acquire(300, 5s); });
  while (!budget.has_waiters()) std::this_thread::sleep_for(1ms);
  EXPECT_FALSE(got);
  budget.Release(300);
  waiter.join();
  EXPECT_TRUE(got);
  EXPECT_EQ(budget.available_bytes(), 0);
}

TEST(MemoryBudget, WaitersServedInOrderAndTryAcquireDoesNotJump) {
  MemoryBudget budget(1000);
  ASSERT_TRUE(budget.Acquire(1000, 0ms));
  std::atomic<bool> big_done{false}, small_done{false};
  std::thread big([&] {
    ASSERT_TRUE(budget.Acquire(800, 5s));
    big_done = true;
  });
  while (!budget.has_waiters()) std::this_thread::sleep_for(1ms);
  std::thread small([&] {
    ASSERT_TRUE(budget.Acquire(100, 5s));
    small_done = true;
  });
  std::this_thread::sleep_for(20ms);
  budget.Release(200);  // enough for the small one, not the big one: nobody jumps the queue
  EXPECT_FALSE(budget.TryAcquire(100));
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(big_done);
  EXPECT_FALSE(small_done);
  budget.Release(600);  // 800: the big one, first in line, takes it all
  big.join();
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(small_done);
  budget.Release(100);
  small.join();
  EXPECT_TRUE(small_done);
  EXPECT_EQ(budget.available_bytes(), 0);
}

TEST(MemoryBudget, CloseWakesWaiters) {
  MemoryBudget budget(100);
  ASSERT_TRUE(budget.Acquire(100, 0ms));
  std::atomic<bool> done{false}, got{true};
  std::thread waiter([&] {
    got = budget.Acquire(50, 10s);
    done = true;
  });
  while (!budget.has_waiters()) std::this_thread::sleep_for(1ms);
  budget.Close();
  waiter.join();
  EXPECT_TRUE(done);
  EXPECT_FALSE(got);
}

}  // namespace
}  // namespace strand::client
