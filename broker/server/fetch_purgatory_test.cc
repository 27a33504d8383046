// Tests FetchPurgatory: a waiting fetch is retried when a partition it watches progresses and
// answered at its deadline; an inline-retry fetch (a follower's) is retried on the thread that
// reports progress (and once by the thread registering it), never by two threads at once, and
// again when progress came meanwhile; Stop answers what is left only once no try is in progress.
#include "broker/server/fetch_purgatory.h"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

namespace strand::broker {
namespace {

using namespace std::chrono_literals;

const storage::TopicPartition kTp{"t", 0};

// Polls `done` for up to 5 s.
bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 500 && !done(); ++i) std::this_thread::sleep_for(10ms);
  return done();
}

TEST(FetchPurgatory, RetriedOnProgressAndAnsweredAtDeadline) {
  FetchPurgatory purgatory;
  std::atomic<bool> ready{false};
  std::atomic<int> answered{0}, finals{0};
  purgatory.Watch({kTp}, NowMs() + 60'000, [&](bool final) {
    if (!ready && !final) return false;
    ++answered;
    return true;
  });
  ready = true;
  purgatory.Notify(kTp);
  EXPECT_TRUE(Eventually([&] { return answered == 1; }));
  purgatory.Watch({kTp}, NowMs() + 50, [&](bool final) {
    if (final) ++finals;
    return false;
  });
  EXPECT_TRUE(Eventually([&] { return finals == 1; }));
  EXPECT_EQ(purgatory.waiting(), 0u);
}

TEST(FetchPurgatory, InlineRetry_OnTheNotifyingThread) {
  FetchPurgatory purgatory;
  std::atomic<bool> data{false};
  std::thread::id answered_on;
  std::atomic<int> tries{0};
  purgatory.Watch(
      {kTp}, NowMs() + 60'000,
      [&](bool final) {
        ++tries;
        if (!data && !final) return false;
        answered_on = std::this_thread::get_id();
        return true;
      },
      /*inline_retry=*/true);
  EXPECT_EQ(tries, 1);  // the try after registering, by Watch itself
  data = true;
  purgatory.Notify(kTp);  // retried here, before Notify returns
  EXPECT_EQ(answered_on, std::this_thread::get_id());
  EXPECT_EQ(purgatory.waiting(), 0u);
}

TEST(FetchPurgatory, InlineRetry_ProgressBeforeRegistering_AnsweredByTheRegisteringThread) {
  FetchPurgatory purgatory;
  std::thread::id answered_on;
  int tries = 0;
  // The data came after the caller's own try and before Watch: Watch's try answers at once.
  purgatory.Watch(
      {kTp}, NowMs() + 60'000,
      [&](bool) {
        ++tries;
        answered_on = std::this_thread::get_id();
        return true;
      },
      /*inline_retry=*/true);
  EXPECT_EQ(tries, 1);
  EXPECT_EQ(answered_on, std::this_thread::get_id());
  EXPECT_EQ(purgatory.waiting(), 0u);
}

TEST(FetchPurgatory, InlineRetry_AnsweredAtItsDeadline) {
  FetchPurgatory purgatory;
  std::atomic<int> finals{0};
  // Another fetch keeps the purgatory's thread asleep towards a later deadline.
  purgatory.Watch({kTp}, NowMs() + 60'000, [](bool final) { return final; });
  purgatory.Watch(
      {kTp}, NowMs() + 50,
      [&](bool final) {
        if (final) ++finals;
        return final;
      },
      /*inline_retry=*/true);
  EXPECT_TRUE(Eventually([&] { return finals == 1; }));
  EXPECT_EQ(purgatory.waiting(), 1u);
}

TEST(FetchPurgatory, InlineRetry_NeverTwoTriesAtOnceAndProgressMeanwhileIsNotLost) {
  FetchPurgatory purgatory;
  std::atomic<int> in_try{0}, overlaps{0}, tries{0};
  std::atomic<bool> data{false};
  std::promise<void> entered;
  std::promise<void> go;
  std::shared_future<void> go_future = go.get_future().share();
  purgatory.Watch(
      {kTp}, NowMs() + 60'000,
      [&](bool final) {
        if (in_try.fetch_add(1) > 0) ++overlaps;
        const int n = ++tries;
        const bool done = data.load() || final;  // what this try saw
        if (n == 2) {  // the first inline retry: hold it while more progress comes in
          entered.set_value();
          go_future.wait();
        }
        --in_try;
        return done;
      },
      /*inline_retry=*/true);
  ASSERT_TRUE(Eventually([&] { return tries >= 1; }));
  std::thread first([&] { purgatory.Notify(kTp); });  // tries (n=2) and blocks, finding nothing
  entered.get_future().wait();
  data = true;              // progress while that try is in flight...
  purgatory.Notify(kTp);    // ...is noted, not tried at the same time
  go.set_value();
  first.join();
  EXPECT_TRUE(Eventually([&] { return purgatory.waiting() == 0; }))
      << "the progress reported during a try was lost";
  EXPECT_EQ(overlaps, 0);
}

TEST(FetchPurgatory, Stop_AnswersWhatIsLeft) {
  auto purgatory = std::make_unique<FetchPurgatory>();
  std::atomic<int> finals{0};
  for (bool inline_retry : {false, true}) {
    purgatory->Watch(
        {kTp}, NowMs() + 60'000,
        [&](bool final) {
          if (final) ++finals;
          return final;
        },
        inline_retry);
  }
  purgatory->Stop();
  EXPECT_EQ(finals, 2);
}

}  // namespace
}  // namespace strand::broker
