// StallGuard: three stalls of one key within the window discourage it (identity and IP apart),
// the discouragement ends on time and needs three new stalls to return, stalls outside the
// window do not add up, loopback addresses are never keys, and memory stays within its bound,
// the key with the oldest stall forgotten first.
#include "net/stall_guard.h"

#include <gtest/gtest.h>

#include "testing/test_util.h"

namespace hearsay::test {
namespace {

constexpr Time kStart = std::chrono::hours(24 * 365 * 50);

NetAddress ip(const char* text, uint16_t port = 4000) {
  auto a = parse_ip(text);
  EXPECT_TRUE(a.ok()) << text;
  NetAddress out = *a;
  out.port = port;
  return out;
}

PublicKey id(uint8_t i) {
  return test_key(i).public_key();
}

TEST(StallGuard, ThreeStallsWithinTheWindowDiscourageTheIdentityAndTheIp) {
  StallGuard g;
  const NetAddress remote = ip("203.0.113.5");
  Time t = kStart;
  EXPECT_TRUE(g.record(id(1), remote, t).empty());
  t += std::chrono::minutes(4);
  EXPECT_TRUE(g.record(id(1), remote, t).empty());
  EXPECT_FALSE(g.discouraged(id(1), t));
  EXPECT_FALSE(g.discouraged_ip(remote, t));
  t += std::chrono::minutes(4);
  auto started = g.record(id(1), remote, t);
  g.sanity_check();
  ASSERT_EQ(started.size(), 2u);
  EXPECT_EQ(std::get<PublicKey>(started[0].target), id(1));
  EXPECT_EQ(std::get<NetAddress>(started[1].target), ip_only(remote));
  for (const auto& s : started) {
    EXPECT_EQ(s.stalls, kStallThreshold);
    EXPECT_EQ(s.until, t + kDiscouragementTime);
  }
  EXPECT_EQ(g.discouraged(id(1), t), t + kDiscouragementTime);
  // The IP is discouraged whatever the port or identity that comes next.
  EXPECT_EQ(g.discouraged_ip(ip("203.0.113.5", 9), t), t + kDiscouragementTime);
  EXPECT_FALSE(g.discouraged(id(2), t));
  EXPECT_FALSE(g.discouraged_ip(ip("203.0.113.6"), t));
  // A stall while discouraged starts nothing again (the start is logged once).
  EXPECT_TRUE(g.record(id(1), remote, t + std::chrono::seconds(1)).empty());
}

TEST(StallGuard, StallsOutsideTheWindowDoNotAddUp) {
  StallGuard g;
  const NetAddress remote = ip("198.51.100.7");
  Time t = kStart;
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(g.record(id(1), remote, t).empty()) << i;
    g.sanity_check();
    t += kStallWindow / 2;  // each stall sees only the one before it within the window
  }
  EXPECT_FALSE(g.discouraged(id(1), t));
}

TEST(StallGuard, DiscouragementEndsAndNeedsThreeNewStallsToReturn) {
  StallGuard g;
  const NetAddress remote = ip("192.0.2.1");
  for (int i = 0; i < 3; ++i)
    g.record(id(1), remote, kStart);
  const Time end = kStart + kDiscouragementTime;
  EXPECT_TRUE(g.discouraged(id(1), end - std::chrono::microseconds(1)));
  EXPECT_FALSE(g.discouraged(id(1), end));
  EXPECT_FALSE(g.discouraged_ip(remote, end));
  EXPECT_TRUE(g.record(id(1), remote, end).empty());
  EXPECT_TRUE(g.record(id(1), remote, end).empty());
  EXPECT_EQ(g.record(id(1), remote, end).size(), 2u);
  EXPECT_TRUE(g.discouraged(id(1), end));
  g.sanity_check();
}

TEST(StallGuard, LoopbackAddressesAreNeverKeys) {
  StallGuard g;
  const NetAddress local = ip("127.0.0.1");
  // Three identities of a local testnet stall once each: nobody is discouraged.
  for (uint8_t i = 1; i <= 3; ++i)
    EXPECT_TRUE(g.record(id(i), local, kStart).empty());
  EXPECT_FALSE(g.discouraged_ip(local, kStart));
  EXPECT_EQ(g.size(), 3u);  // the identities only
  // One identity that stalls three times is discouraged, the address still not.
  g.record(id(1), local, kStart);
  auto started = g.record(id(1), local, kStart);
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(std::get<PublicKey>(started[0].target), id(1));
  EXPECT_FALSE(g.discouraged_ip(local, kStart));
  EXPECT_FALSE(g.discouraged_ip(ip("::1"), kStart));
  g.sanity_check();
}

TEST(StallGuard, AnIpIsDiscouragedAcrossIdentities) {
  StallGuard g;
  const NetAddress remote = ip("2001:db8::1");
  EXPECT_TRUE(g.record(id(1), remote, kStart).empty());
  EXPECT_TRUE(g.record(id(2), remote, kStart).empty());
  auto started = g.record(id(3), remote, kStart);
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(std::get<NetAddress>(started[0].target), ip_only(remote));
  EXPECT_TRUE(g.discouraged_ip(remote, kStart));
  EXPECT_FALSE(g.discouraged(id(3), kStart));
  // Before TLS there is no identity: the address alone is recorded.
  StallGuard h;
  for (int i = 0; i < 2; ++i)
    EXPECT_TRUE(h.record(std::nullopt, remote, kStart).empty());
  EXPECT_EQ(h.record(std::nullopt, remote, kStart).size(), 1u);
}

TEST(StallGuard, MemoryIsBoundedAndTheOldestStallIsForgottenFirst) {
  StallGuardConfig cfg;
  cfg.max_entries = 4;
  StallGuard g(cfg);
  const NetAddress local = ip("127.0.0.1");
  // Identity 1 is discouraged; identity 2 has two stalls.
  Time t = kStart;
  for (int i = 0; i < 3; ++i)
    g.record(id(1), local, t);
  t += std::chrono::seconds(1);
  g.record(id(2), local, t);
  g.record(id(2), local, t);
  // Two more keys fill the guard; identity 1's stall is now the oldest.
  for (uint8_t i = 3; i <= 4; ++i)
    g.record(id(i), local, t += std::chrono::seconds(1));
  EXPECT_EQ(g.size(), 4u);
  EXPECT_TRUE(g.discouraged(id(1), t));
  // A fifth key forgets identity 1 (its discouragement with it), and keeps identity 2.
  g.record(id(5), local, t += std::chrono::seconds(1));
  g.sanity_check();
  EXPECT_EQ(g.size(), 4u);
  EXPECT_FALSE(g.discouraged(id(1), t));
  EXPECT_EQ(g.record(id(2), local, t).size(), 1u);  // its two stalls were kept
  // Many keys later the bound still holds.
  for (int i = 0; i < 100; ++i) {
    g.record(id(static_cast<uint8_t>(10 + i)), local, t += std::chrono::seconds(1));
    g.sanity_check();
  }
  EXPECT_EQ(g.size(), 4u);
}

}  // namespace
}  // namespace hearsay::test
