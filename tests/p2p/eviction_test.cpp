// Inbound eviction (p2p/eviction.h): each protection category, the choice among the rest, the
// network groups, and PeerManager::evict_inbound's candidates (never outbound, never trusted).
#include "p2p/eviction.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "p2p/peer_manager.h"
#include "testing/peer_harness.h"

namespace hearsay {
namespace {

using namespace test;
using namespace std::chrono_literals;

NetAddress ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port = 8333) {
  NetAddress n;
  n.ip[10] = n.ip[11] = 0xff;
  n.ip[12] = a;
  n.ip[13] = b;
  n.ip[14] = c;
  n.ip[15] = d;
  n.port = port;
  return n;
}

// `n` candidates in one network group, connected one second apart (id i at i seconds), with no
// ping, no transaction and no block: only longevity protects any of them.
std::vector<EvictionCandidate> plain(size_t n, uint64_t group = 7) {
  std::vector<EvictionCandidate> c;
  for (size_t i = 1; i <= n; ++i)
    c.push_back(EvictionCandidate{i, kT0 + std::chrono::seconds(i), std::nullopt, {}, {}, group});
  return c;
}

TEST(EvictionSelect, NobodyWhenEveryCandidateIsProtected) {
  EXPECT_EQ(select_peer_to_evict({}), std::nullopt);
  // One group: one is protected by its group, half of the other by longevity... down to none.
  EXPECT_EQ(select_peer_to_evict(plain(1)), std::nullopt);
  // Four distinct groups: all four are protected.
  auto c = plain(4);
  for (size_t i = 0; i < c.size(); ++i)
    c[i].net_group = i;
  EXPECT_EQ(select_peer_to_evict(c), std::nullopt);
}

TEST(EvictionSelect, TheNewestUnprotectedPeerGoes) {
  // One group of 10: its oldest is protected by the group, 4 of the other 9 by longevity, and
  // of the 5 left the newest (id 10) goes.
  EXPECT_EQ(select_peer_to_evict(plain(10)), 10u);
}

TEST(EvictionSelect, RecentTransactionsProtect) {
  auto c = plain(10);
  c[9].last_tx = kT0 + 100s;  // the newest relayed a transaction: the next newest goes
  EXPECT_EQ(select_peer_to_evict(c), 9u);
  // Only the four most recent are protected.
  for (size_t i = 5; i < 10; ++i)
    c[i].last_tx = kT0 + std::chrono::seconds(100 + i);  // ids 6..10; id 6 is the oldest news
  EXPECT_EQ(select_peer_to_evict(c), 6u);
}

TEST(EvictionSelect, RecentBlocksProtect) {
  auto c = plain(10);
  c[9].last_block = kT0 + 100s;
  c[8].last_block = kT0 + 99s;
  EXPECT_EQ(select_peer_to_evict(c), 8u);
}

TEST(EvictionSelect, LowPingsProtect) {
  auto c = plain(20);
  // The 8 lowest pings are ids 13..20 (the newest); id 12 answered too, but slower.
  for (size_t i = 11; i < 20; ++i)
    c[i].min_rtt = std::chrono::milliseconds(100 - i);
  // The group protects id 1; pings protect 13..20; 11 are left (2..12), longevity protects 5 of
  // them (2..6), and the newest of the rest goes: id 12.
  EXPECT_EQ(select_peer_to_evict(c), 12u);
}

TEST(EvictionSelect, TheMostCrowdedGroupLosesItsNewest) {
  // Group 1 holds ids 1..12, group 2 the newest, 13..16. Each group's oldest is protected, then
  // 7 of the other 14 by longevity (2..8); left are 9..12 of group 1 and 14..16 of group 2: the
  // more crowded group 1 loses its newest, though group 2's are newer.
  auto c = plain(16, 1);
  for (size_t i = 12; i < 16; ++i)
    c[i].net_group = 2;
  EXPECT_EQ(select_peer_to_evict(c), 12u);
}

TEST(EvictionSelect, DistinctGroupsAreProtected) {
  // A lone peer in its own group is protected even though it is the newest.
  auto c = plain(10, 1);
  c[9].net_group = 99;
  EXPECT_EQ(select_peer_to_evict(c), 9u);
}

TEST(NetworkGroup, Ipv4Slash16Ipv6Slash32AndPortsOnLoopbackWhenAsked) {
  EXPECT_EQ(network_group(ipv4(10, 1, 2, 3), false), network_group(ipv4(10, 1, 200, 7), false));
  EXPECT_NE(network_group(ipv4(10, 1, 2, 3), false), network_group(ipv4(10, 2, 2, 3), false));
  NetAddress a, b;
  a.ip = {0x20, 0x01, 0x0d, 0xb8, 1};
  b.ip = {0x20, 0x01, 0x0d, 0xb8, 2};
  EXPECT_EQ(network_group(a, false), network_group(b, false));
  b.ip[3] = 0xb9;
  EXPECT_NE(network_group(a, false), network_group(b, false));
  // Loopback: one group, unless ports stand in for groups (the test switch).
  EXPECT_EQ(network_group(ipv4(127, 0, 0, 1, 1000), false),
            network_group(ipv4(127, 0, 0, 1, 2000), false));
  EXPECT_NE(network_group(ipv4(127, 0, 0, 1, 1000), true),
            network_group(ipv4(127, 0, 0, 1, 2000), true));
  // The switch changes nothing off loopback.
  EXPECT_EQ(network_group(ipv4(10, 1, 2, 3, 1000), true),
            network_group(ipv4(10, 1, 9, 9, 2000), true));
}

TEST(NetworkGroup, KeyedValuesDependOnTheKey) {
  SipKey k1{}, k2{};
  k2[0] = 1;
  const NetAddress a = ipv4(10, 1, 2, 3);
  EXPECT_EQ(keyed_network_group(k1, a, false), keyed_network_group(k1, ipv4(10, 1, 7, 7), false));
  EXPECT_NE(keyed_network_group(k1, a, false), keyed_network_group(k2, a, false));
}

// --- PeerManager::evict_inbound --------------------------------------------------------------

// Inbound peers from one network group (10.0.x.y), one second apart; ids from `first`.
void connect_inbound(PeerManager& pm, PeerId first, size_t n, bool trusted = false) {
  for (size_t i = 0; i < n; ++i) {
    const PeerId id = first + i;
    PeerConnected c = conn(id, test_key(static_cast<uint8_t>(id)), true,
                           ipv4(10, 0, static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)));
    c.trusted = trusted;
    pm.on_connected(c, kT0 + std::chrono::seconds(id));
  }
  pm.take_actions();
}

TEST(PeerManagerEviction, NeverOutboundNorTrustedAndTheVictimIsDisconnected) {
  PeerManager pm(test_config(), test_key(1));
  // Outbound and trusted peers are the newest: they would go first were they candidates.
  connect_inbound(pm, 10, 10);
  connect_inbound(pm, 30, 3, /*trusted=*/true);
  for (PeerId id = 40; id < 43; ++id)
    handshake(pm, id, test_key(static_cast<uint8_t>(id)), false, kT0 + std::chrono::seconds(id));
  pm.take_actions();

  const std::optional<PeerId> victim = pm.evict_inbound();
  ASSERT_TRUE(victim.has_value());
  EXPECT_GE(*victim, 10u);
  EXPECT_LT(*victim, 20u);
  Actions a(pm.take_actions());
  ASSERT_TRUE(a.disconnected(*victim));
  EXPECT_NE(a.reason(*victim).find("evicted"), std::string::npos);
  EXPECT_EQ(pm.evictions(), 1u);
  pm.sanity_check();

  // A peer already on its way out is not chosen again.
  const std::optional<PeerId> second = pm.evict_inbound();
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(*second, *victim);
}

TEST(PeerManagerEviction, AllProtectedEvictsNobody) {
  PeerManager pm(test_config(), test_key(1));
  connect_inbound(pm, 10, 1);
  connect_inbound(pm, 30, 5, /*trusted=*/true);
  EXPECT_EQ(pm.evict_inbound(), std::nullopt);
  EXPECT_TRUE(Actions(pm.take_actions()).disconnects.empty());
  EXPECT_EQ(pm.evictions(), 0u);
}

TEST(PeerManagerEviction, NovelTransactionsAndBlocksAreRecordedForProtection) {
  PeerManager pm(test_config(), test_key(1));
  connect_inbound(pm, 10, 10);
  // Without news the newest (19) would go; its news protect it, and 18's block protects 18.
  pm.note_novel_tx(19, kT0 + 100s);
  pm.note_novel_block(18, kT0 + 100s);
  EXPECT_EQ(pm.peer_info(19)->last_novel_tx, kT0 + 100s);
  EXPECT_EQ(pm.peer_info(18)->last_novel_block, kT0 + 100s);
  EXPECT_EQ(pm.evict_inbound(), 17u);
  pm.note_novel_tx(12345, kT0);  // an unknown peer: ignored
  pm.sanity_check();
}

}  // namespace
}  // namespace hearsay
