// The phi-accrual failure detector with a fake clock.
#include "p2p/phi_accrual.h"

#include <gtest/gtest.h>

#include <cmath>

namespace hearsay {
namespace {

const Time kStart = Time(std::chrono::seconds(1'000'000));

TEST(PhiAccrual, ZeroBeforeFirstHeartbeat) {
  PhiAccrualDetector d(5s, 60s);
  EXPECT_FALSE(d.started());
  EXPECT_EQ(d.phi(kStart + 1h), 0.0);
  d.sanity_check();
}

TEST(PhiAccrual, ExponentialModel) {
  PhiAccrualDetector d(5s, 60s);
  for (int i = 0; i <= 50; ++i)
    d.heartbeat(kStart + i * 5s);
  const Time last = kStart + 250s;
  EXPECT_EQ(d.mean(), 5s);
  // phi = t / mean · log10(e): one mean of silence → 0.434; 10 means → 4.34.
  EXPECT_NEAR(d.phi(last + 5s), kPhiFactor, 1e-9);
  EXPECT_NEAR(d.phi(last + 50s), 10 * kPhiFactor, 1e-9);
  // The silence after which phi reaches a level is what silence_for says.
  const Duration t8 = PhiAccrualDetector::silence_for(8.0, d.mean());
  EXPECT_NEAR(d.phi(last + t8), 8.0, 1e-3);
  EXPECT_NEAR(static_cast<double>(t8.count()) / 1e6, 8.0 * 5.0 / kPhiFactor, 1e-3);
  d.sanity_check();
}

TEST(PhiAccrual, SilentPeerCrossesThresholdsInOrder) {
  PhiAccrualDetector d(5s, 60s);
  for (int i = 0; i <= 20; ++i)
    d.heartbeat(kStart + i * 5s);
  const Time last = kStart + 100s;
  double prev = 0;
  std::optional<Duration> suspect, convict;
  for (Duration t = 0s; t <= 400s; t += 1s) {
    const double phi = d.phi(last + t);
    EXPECT_GE(phi, prev);  // monotonic in silence
    prev = phi;
    if (!suspect && phi >= 8) suspect = t;
    if (!convict && phi >= 16) convict = t;
  }
  ASSERT_TRUE(suspect && convict);
  EXPECT_GE(*suspect, 92s);
  EXPECT_LE(*suspect, 93s);
  EXPECT_GE(*convict, 184s);
  EXPECT_LE(*convict, 185s);
}

TEST(PhiAccrual, SlowSteadyPeerIsNeverSuspected) {
  // Messages every 20 s, four times the minimum mean: phi when each is due stays ≈ 0.43.
  PhiAccrualDetector d(5s, 60s);
  // The window starts seeded with the 5 s floor, so the first long interval looks unusual
  // (phi 1.7, far below a suspicion threshold of 8); once learned, phi stays below 1.
  double worst = 0, worst_learned = 0;
  for (int i = 0; i < 500; ++i) {
    const Time t = kStart + i * 20s;
    if (i > 0) worst = std::max(worst, d.phi(t - 1ms));
    if (i > 5) worst_learned = std::max(worst_learned, d.phi(t - 1ms));
    d.heartbeat(t);
    d.sanity_check();
  }
  EXPECT_LT(worst, 2.0);
  EXPECT_LT(worst_learned, 1.0);
  EXPECT_NEAR(static_cast<double>(d.mean().count()), 20e6, 1.0);
}

TEST(PhiAccrual, BurstsDoNotShrinkTheMeanBelowTheFloor) {
  // A relay burst: 1,000 messages 1 ms apart. The floor keeps a 5 s pause unremarkable.
  PhiAccrualDetector d(5s, 60s);
  for (int i = 0; i < 1000; ++i)
    d.heartbeat(kStart + i * 1ms);
  EXPECT_EQ(d.mean(), 5s);
  EXPECT_LT(d.phi(kStart + 1s + 5s), 1.0);
  EXPECT_EQ(d.samples(), kPhiWindow);
  d.sanity_check();
}

TEST(PhiAccrual, LongGapsAreNotLearned) {
  PhiAccrualDetector d(5s, 60s);
  for (int i = 0; i <= 10; ++i)
    d.heartbeat(kStart + i * 5s);
  d.heartbeat(kStart + 50s + 10min);  // came back after a long silence
  EXPECT_EQ(d.mean(), 5s);            // …which taught the detector nothing
  EXPECT_EQ(d.samples(), 11u);
  // Time going backwards is ignored.
  d.heartbeat(kStart);
  EXPECT_EQ(d.last_arrival(), kStart + 50s + 10min);
  d.sanity_check();
}

TEST(PhiAccrual, WindowForgetsOldIntervals) {
  PhiAccrualDetector d(1s, 60s);
  Time t = kStart;
  d.heartbeat(t);
  for (size_t i = 0; i < kPhiWindow; ++i)
    d.heartbeat(t += 2s);
  EXPECT_EQ(d.mean(), 2s);
  for (size_t i = 0; i < kPhiWindow; ++i)
    d.heartbeat(t += 10s);
  EXPECT_EQ(d.mean(), 10s);
  d.sanity_check();
}

}  // namespace
}  // namespace hearsay
