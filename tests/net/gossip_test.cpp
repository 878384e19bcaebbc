// Address gossip over real connections: ten nodes that only know a seed node (node 0) fill
// their outbound slots from the addresses they learn (half of them running their connections
// on I/O threads, half on the network thread), and a forged peer record is neither stored
// nor forwarded (while a genuine one is), as a peer that checks no signature sees.
#include <gtest/gtest.h>

#include "testing/net_util.h"

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
    // Both ways to run the connections, side by side: on the network thread, and spread over
    // two I/O threads.
    cfg.io_threads = i % 2 == 0 ? 0 : 2;
    if (i > 0) cfg.connect.push_back({*nodes[0]->listen_address(), std::nullopt});
    nodes.push_back(std::make_unique<Host>(test_key(uint8_t(i + 1)), cfg));
    ASSERT_TRUE(nodes.back()->start().ok());
  }
  // One snapshot of every node's ready outbound connections: asserted as seen together (a
  // second read could catch a node between closing a duplicate connection and redialling).
  std::vector<size_t> outbound(kNodes, 0);
  bool all = wait_until(
      [&] {
        // The seed has every other node inbound already, so it has nobody left to dial.
        for (size_t i = 1; i < kNodes; ++i)
          outbound[i] = ready_outbound(*nodes[i]);
        for (size_t i = 1; i < kNodes; ++i)
          if (outbound[i] < kOutboundTarget) return false;
        return true;
      },
      std::chrono::seconds(30));
  for (size_t i = 1; i < kNodes; ++i)
    EXPECT_GE(outbound[i], kOutboundTarget) << "node " << i;
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

// Whether `h` has a peer of identity test_key(key_index) whose version handshake is complete.
bool has_ready_peer(Host& h, uint8_t key_index) {
  for (const auto& p : h.peer_stats())
    if (p.identity == test_key(key_index).public_key() && p.protocol &&
        p.protocol->handshake_done && !p.protocol->disconnecting)
      return true;
  return false;
}

// A hand-driven peer of `h` that completed the version handshake (as test_key(key_index)).
std::unique_ptr<TestClient> join(Host& h, uint8_t key_index) {
  auto c = std::make_unique<TestClient>(TestClient::Options{ClientCert::kEd25519, key_index});
  EXPECT_FALSE(c->connect(*h.listen_address()));
  EXPECT_FALSE(c->handshake());
  VersionMsg v;
  v.protocol_version = kProtocolVersion;
  v.network_magic = kTestNetwork;
  v.time = int64_t(unix_seconds());
  v.user_agent = "/test/";
  EXPECT_FALSE(c->write(frame(v)));
  EXPECT_FALSE(c->write(frame(VerackMsg{})));
  return c;
}

PeerRecord signed_record(const char* endpoint, uint8_t key_index) {
  PeerRecord r;
  r.address = to_net_address(*parse_endpoint(endpoint));
  r.time = unix_seconds();
  r.sign(test_key(key_index));
  return r;
}

bool has_record(const Message& m, const PublicKey& id) {
  const auto* addr = std::get_if<AddrMsg>(&m);
  if (!addr) return false;
  for (const PeerRecord& r : addr->records)
    if (r.identity == id) return true;
  return false;
}

TEST(Gossip, ForgedRecordIsNeitherStoredNorForwarded) {
  Host a(test_key(1), loopback_config());
  ASSERT_TRUE(a.start().ok());
  HostConfig b_cfg = loopback_config();
  b_cfg.connect.push_back({*a.listen_address(), std::nullopt});
  Host b(test_key(2), b_cfg);
  ASSERT_TRUE(b.start().ok());
  ASSERT_TRUE(wait_until([&] { return ready_peers(a) == 1 && ready_peers(b) == 1; }));

  // The watcher sees what A forwards and, unlike B, checks no signature: a forged record that
  // A forwarded would reach it as sent. (A forwards each fresh record to kAddrForwardFanout = 2
  // ready peers other than its source: here B and the watcher, both.)
  std::unique_ptr<TestClient> watcher = join(a, 201);
  ASSERT_TRUE(wait_until([&] { return has_ready_peer(a, 201); }));
  // The forger: one genuine record, then a forged one.
  std::unique_ptr<TestClient> forger = join(a, 200);
  ASSERT_TRUE(wait_until([&] { return has_ready_peer(a, 200); }));

  const PeerRecord genuine = signed_record("127.0.0.1:1", 50);
  ASSERT_FALSE(forger->write(frame(AddrMsg{{genuine}})));
  ASSERT_TRUE(wait_until([&] { return knows(b, test_key(50).public_key()); }));
  EXPECT_TRUE(watcher->read_until([&](const Message& m) { return has_record(m, genuine.identity); },
                                  std::chrono::seconds(10)))
      << "the watcher does not see what A forwards";

  PeerRecord forged = signed_record("127.0.0.1:2", 60);
  forged.signature[0] ^= 1;
  ASSERT_FALSE(forger->write(frame(AddrMsg{{forged}})));
  EXPECT_TRUE(forger->wait_closed(std::chrono::seconds(5)));  // the forger is dropped
  ASSERT_TRUE(wait_until([&] { return !has_ready_peer(a, 200); }));
  EXPECT_FALSE(knows(a, forged.identity));
  EXPECT_FALSE(knows(b, forged.identity));

  // A barrier: A handles messages in order, so anything it forwarded from the forged record
  // reaches the watcher before a genuine record sent after it.
  std::unique_ptr<TestClient> late = join(a, 202);
  ASSERT_TRUE(wait_until([&] { return has_ready_peer(a, 202); }));
  const PeerRecord after = signed_record("127.0.0.1:3", 51);
  ASSERT_FALSE(late->write(frame(AddrMsg{{after}})));
  bool forwarded_forged = false;
  EXPECT_TRUE(watcher->read_until(
      [&](const Message& m) {
        forwarded_forged |= has_record(m, forged.identity);
        return has_record(m, after.identity);
      },
      std::chrono::seconds(10)));
  EXPECT_FALSE(forwarded_forged) << "A forwarded the forged record";
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
