// RateLimitedLog: lines a peer can provoke are limited per key, in bounded memory.
#include "net/rate_limited_log.h"

#include <gtest/gtest.h>

namespace hearsay {
namespace {

using namespace std::chrono_literals;

TEST(RateLimitedLog, AtMostNPerKeyPerInterval) {
  RateLimitedLog rl(2, 1s);
  const auto t0 = RateLimitedLog::Clock::time_point{} + 100s;
  EXPECT_TRUE(rl.check("a", t0).log);
  EXPECT_TRUE(rl.check("a", t0 + 1ms).log);
  EXPECT_FALSE(rl.check("a", t0 + 2ms).log);
  EXPECT_FALSE(rl.check("a", t0 + 3ms).log);
  EXPECT_TRUE(rl.check("b", t0 + 3ms).log);  // keys are independent
  EXPECT_EQ(rl.suppressed_total(), 2u);
  auto d = rl.check("a", t0 + 1s);  // a new interval: allowed, and reports what was lost
  EXPECT_TRUE(d.log);
  EXPECT_EQ(d.suppressed, 2u);
  d = rl.check("a", t0 + 1s + 1ms);
  EXPECT_TRUE(d.log);
  EXPECT_EQ(d.suppressed, 0u);
  rl.sanity_check();
}

TEST(RateLimitedLog, KeysAreBounded) {
  RateLimitedLog rl(1, 1s, 4);
  const auto t0 = RateLimitedLog::Clock::time_point{} + 100s;
  for (int i = 0; i < 100; ++i) {
    rl.check("peer" + std::to_string(i), t0);
    rl.sanity_check();
  }
  EXPECT_LE(rl.key_count(), 4u);
  // The flood shares the overflow key, which is itself limited.
  EXPECT_GE(rl.suppressed_total(), 90u);
  // Once the interval passes, expired keys make room for new ones.
  EXPECT_TRUE(rl.check("late", t0 + 2s).log);
  EXPECT_LE(rl.key_count(), 4u);
}

}  // namespace
}  // namespace hearsay
