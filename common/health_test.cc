#include "common/health.h"

#include <gtest/gtest.h>

namespace strand {
namespace {

using namespace std::chrono_literals;

TEST(ProcessHealth, StartsNotReadyThenFollowsTheServer) {
  ProcessHealth h;
  EXPECT_FALSE(h.Readiness().ok);
  EXPECT_EQ(h.Readiness().reason, "starting");
  h.SetReady("broker", true);
  EXPECT_TRUE(h.Readiness().ok);
  h.SetReady("broker", false, "fenced");
  EXPECT_EQ(h.Readiness().reason, "fenced");
}

TEST(ProcessHealth, CombinedModeIsReadyWhenEveryRoleIs) {
  ProcessHealth h;
  h.SetReady("controller", true);
  h.SetReady("broker", false, "opening logs");
  EXPECT_FALSE(h.Readiness().ok);
  EXPECT_EQ(h.Readiness().reason, "broker: opening logs");
  h.SetReady("broker", true, "1 replica(s) here not in their ISR");
  EXPECT_TRUE(h.Readiness().ok);
  EXPECT_EQ(h.Readiness().reason, "1 replica(s) here not in their ISR");
  h.SetReady("controller", false, "no controller leader known");
  EXPECT_EQ(h.Readiness().reason, "controller: no controller leader known");
}

TEST(ProcessHealth, LivenessFailsNamingEachStalledLoop) {
  ProcessHealth h;
  EXPECT_TRUE(h.Liveness().ok);  // nothing watched yet
  const auto start = ProcessHealth::Clock::now();
  const int raft = h.AddLoop("raft", 1000ms);
  const int monitor = h.AddLoop("monitor", 5000ms);
  EXPECT_TRUE(h.Liveness(start + 500ms).ok);
  const ProcessHealth::Report r = h.Liveness(start + 2000ms);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("raft loop stalled"), std::string::npos) << r.reason;
  EXPECT_EQ(r.reason.find("monitor"), std::string::npos) << r.reason;
  h.Beat(raft);
  EXPECT_TRUE(h.Liveness(ProcessHealth::Clock::now() + 900ms).ok);
  EXPECT_FALSE(h.Liveness(ProcessHealth::Clock::now() + 6000ms).ok);
  h.RemoveLoop(raft);
  h.RemoveLoop(monitor);
  EXPECT_TRUE(h.Liveness(ProcessHealth::Clock::now() + 60s).ok);  // a planned stop
}

}  // namespace
}  // namespace strand
