// Integration tests: inbound eviction on a real node (p2p/eviction.h). Idle authenticated peers
// that fill every inbound slot cannot keep an honest newcomer out: it takes the slot of an
// unprotected idle peer, and once it has relayed a transaction it is protected in turn. The
// allow-listed and outbound peers are never touched.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "testing/testnet.h"
#include "testing/wire_peer.h"

namespace hearsay::test {
namespace {

using namespace std::chrono_literals;

constexpr size_t kMaxInbound = 24;
constexpr uint8_t kTrustedKey = 0xb0;
constexpr uint8_t kIdleKey = 0xc0;  // the idle peers' keys: kIdleKey, kIdleKey + 1, ...

size_t closed_count(const std::vector<std::unique_ptr<WirePeer>>& peers) {
  size_t n = 0;
  for (const auto& p : peers)
    n += p->closed() ? 1 : 0;
  return n;
}

std::unique_ptr<WirePeer> connected_peer(Node& node, WirePeer::Options o) {
  auto p = std::make_unique<WirePeer>(std::move(o));
  HEARSAY_EXPECT(p->connect(*node.listen_address()), "a wire peer connects");
  HEARSAY_EXPECT(wait_until([&] { return p->ready(); }), "a wire peer completes the handshake");
  return p;
}

TEST(InboundEviction, HonestNewcomerDisplacesAnIdlePeerAndIsThenProtected) {
  TestNet net(2);
  net.start(0, {});
  Node& n = net.start(1, {0}, [](NodeConfig& c) {
    c.host.max_inbound = kMaxInbound;
    c.host.peer_manager.eviction_ports_as_groups = true;
    auto trusted = std::make_shared<AllowList>();
    trusted->insert(test_key(kTrustedKey).public_key());
    c.host.trusted = trusted;
  });
  ASSERT_TRUE(wait_until([&] { return ready_peers(n) == 1; })) << "the outbound link to node 0";

  // Every inbound slot taken: one allow-listed peer and idle ones that only answer pings.
  auto trusted = connected_peer(n, {.key_index = kTrustedKey});
  std::vector<std::unique_ptr<WirePeer>> idle;
  for (size_t i = 0; i + 1 < kMaxInbound; ++i)
    idle.push_back(connected_peer(n, {.key_index = static_cast<uint8_t>(kIdleKey + i)}));
  ASSERT_TRUE(wait_until([&] { return ready_peers(n) == 1 + kMaxInbound; }));
  ASSERT_EQ(closed_count(idle), 0u);

  // An honest newcomer gets in, and exactly one idle peer makes room for it.
  auto honest = connected_peer(n, {.key_index = 0xa1, .services = kServicePushTx});
  ASSERT_TRUE(wait_until([&] { return closed_count(idle) == 1; }));
  EXPECT_EQ(n.host().with_peer_manager([](PeerManager& pm) { return pm.evictions(); }), 1u);

  // It relays a transaction new to the node: that protects it from the next eviction.
  const TxRef tx = devnet_tx(1, 0);
  honest->send(TxMsg{tx});
  ASSERT_TRUE(wait_until([&] { return n.has_transaction(tx->id()); }));
  auto late = connected_peer(n, {.key_index = 0xa2});
  ASSERT_TRUE(wait_until([&] { return closed_count(idle) == 2; }));
  EXPECT_FALSE(honest->closed());
  EXPECT_FALSE(late->closed());

  // The allow-listed inbound peer and the outbound link are untouched.
  EXPECT_FALSE(trusted->closed());
  EXPECT_TRUE(peer_id_of(n, trusted->identity()).has_value());
  EXPECT_TRUE(peer_id_of(n, net[0].identity()).has_value());
  EXPECT_EQ(ready_peers(n), 1 + kMaxInbound);
}

// With fewer inbound peers than the protections cover, nobody can be evicted: the newcomer is
// refused and every peer stays.
TEST(InboundEviction, NewcomerIsRefusedWhenEveryPeerIsProtected) {
  constexpr size_t kFew = 4;
  TestNet net(1);
  Node& n = net.start(0, {}, [](NodeConfig& c) {
    c.host.max_inbound = kFew;
    c.host.peer_manager.eviction_ports_as_groups = true;
  });
  std::vector<std::unique_ptr<WirePeer>> idle;
  for (size_t i = 0; i < kFew; ++i)
    idle.push_back(connected_peer(n, {.key_index = static_cast<uint8_t>(kIdleKey + i)}));
  // The node closes the socket at accept, so the TLS handshake fails.
  WirePeer newcomer(WirePeer::Options{.key_index = 0xa1});
  EXPECT_FALSE(newcomer.connect(*n.listen_address()));
  EXPECT_TRUE(wait_until([&] { return n.host().net_stats().refused_inbound_cap == 1; }));
  EXPECT_EQ(closed_count(idle), 0u);
  EXPECT_EQ(ready_peers(n), kFew);
  EXPECT_EQ(n.host().with_peer_manager([](PeerManager& pm) { return pm.evictions(); }), 0u);
}

}  // namespace
}  // namespace hearsay::test
