// Address gossip over real connections: ten nodes that only know a seed node (node 0) fill
// their outbound slots from the addresses they learn, and a forged peer record is neither stored
// nor forwarded (while a genuine one is).
#include <gtest/gtest.h>

#include "tests/net/net_test_util.h"

namespace hearsay::test {
namespace {

constexpr size_t kNodes = 11;  // the seed and ten nodes that --connect to it
constexpr size_t kOutboundTarget = 3;

size_t ready_outbound(Host& h) {
  size_t n = 0;
  for (const auto& p : h.peer_stats())
    if (!p.inbound && p.protocol && p.protocol->handshake_done) ++n;
  return n;
}

TEST(Gossip, TenNodesReachTheirOutboundTargetFromOneSeed) {
  std::vector<std::unique_ptr<Host>> nodes;
  for (size_t i = 0; i < kNodes; ++i) {
    HostConfig cfg = loopback_config();
    cfg.peer_manager.max_outbound = kOutboundTarget;
    if (i > 0) cfg.connect.push_back({*nodes[0]->listen_address(), std::nullopt});
    nodes.push_back(std::make_unique<Host>(test_key(uint8_t(i + 1)), cfg));
    ASSERT_TRUE(nodes.back()->start().ok());
  }
  bool all = wait_until(
      [&] {
        // The seed has every other node inbound already, so it has nobody left to dial.
        for (size_t i = 1; i < kNodes; ++i)
          if (ready_outbound(*nodes[i]) < kOutboundTarget) return false;
        return true;
      },
      std::chrono::seconds(30));
  for (size_t i = 1; i < kNodes; ++i)
    EXPECT_GE(ready_outbound(*nodes[i]), kOutboundTarget) << "node " << i;
  EXPECT_TRUE(all);
  for (auto& n : nodes)
    n->stop();
}

std::vector<uint8_t> frame(const Message& m) {
  SharedBytes f = encode_frame(kTestNetwork, m);
  return *f;
}

uint64_t unix_seconds() {
  return uint64_t(std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count());
}

bool knows(Host& h, const PublicKey& id) {
  return h.with_peer_manager([&](PeerManager& pm) { return pm.addrman().find(id) != nullptr; });
}

TEST(Gossip, ForgedRecordIsNeitherStoredNorForwarded) {
  Host a(test_key(1), loopback_config());
  ASSERT_TRUE(a.start().ok());
  HostConfig b_cfg = loopback_config();
  b_cfg.connect.push_back({*a.listen_address(), std::nullopt});
  Host b(test_key(2), b_cfg);
  ASSERT_TRUE(b.start().ok());
  ASSERT_TRUE(wait_until([&] { return ready_peers(a) == 1 && ready_peers(b) == 1; }));

  // A hand-driven peer: version + verack, then one genuine record and one forged one.
  TestClient c({ClientCert::kEd25519, 200, TLS1_3_VERSION});
  ASSERT_FALSE(c.connect(*a.listen_address()));
  ASSERT_FALSE(c.handshake());
  VersionMsg v;
  v.protocol_version = kProtocolVersion;
  v.network_magic = kTestNetwork;
  v.time = int64_t(unix_seconds());
  v.user_agent = "/test/";
  ASSERT_FALSE(c.write(frame(v)));
  ASSERT_FALSE(c.write(frame(VerackMsg{})));
  ASSERT_TRUE(wait_until([&] { return ready_peers(a) == 2; }));

  PeerRecord genuine;
  genuine.address = to_net_address(*parse_endpoint("127.0.0.1:1"));
  genuine.time = unix_seconds();
  genuine.sign(test_key(50));
  ASSERT_FALSE(c.write(frame(AddrMsg{{genuine}})));
  ASSERT_TRUE(wait_until([&] { return knows(b, test_key(50).public_key()); }));

  PeerRecord forged;
  forged.address = to_net_address(*parse_endpoint("127.0.0.1:2"));
  forged.time = unix_seconds();
  forged.sign(test_key(60));
  forged.signature[0] ^= 1;
  ASSERT_FALSE(c.write(frame(AddrMsg{{forged}})));
  EXPECT_TRUE(c.wait_closed(std::chrono::seconds(5)));  // the forger is dropped
  ASSERT_TRUE(wait_until([&] { return ready_peers(a) == 1; }));
  EXPECT_FALSE(knows(a, test_key(60).public_key()));
  EXPECT_FALSE(knows(b, test_key(60).public_key()));
  // A and B still talk to each other.
  EXPECT_EQ(ready_peers(b), 1u);
  // The forger's identity is banned: it cannot come back.
  TestClient again({ClientCert::kEd25519, 200, TLS1_3_VERSION});
  ASSERT_FALSE(again.connect(*a.listen_address()));
  if (!again.handshake()) {
    EXPECT_TRUE(again.wait_closed(std::chrono::seconds(5)));
  }
  EXPECT_TRUE(wait_until([&] { return contains(a.net_stats().recent_disconnects, "is banned"); }));
  b.stop();
  a.stop();
}

}  // namespace
}  // namespace hearsay::test
