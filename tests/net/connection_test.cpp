// Connection robustness against a peer that holds a valid certificate and then misbehaves at
// the transport level (garbage, an oversize length, a bad checksum, silence, never reading),
// plus the emulated link delay. Each misbehaving peer is dropped and the node keeps serving.
#include <gtest/gtest.h>

#include <cstring>

#include "crypto/hash.h"
#include "testing/host_access.h"
#include "testing/net_util.h"

namespace hearsay::test {
namespace {

std::vector<uint8_t> frame_header(const char* command, uint32_t length,
                                  std::array<uint8_t, 4> checksum) {
  std::vector<uint8_t> out;
  Writer w(out);
  w.u32(kTestNetwork);
  uint8_t cmd[kCommandSize] = {};
  std::memcpy(cmd, command, std::strlen(command));
  w.bytes(cmd).u32(length).bytes(checksum);
  return out;
}

struct BadPeerCase {
  const char* name;
  std::vector<uint8_t> bytes;  // sent after the TLS handshake (empty: stay silent)
  const char* reason;          // expected in the node's disconnect log (never empty)
};

std::vector<BadPeerCase> bad_peers() {
  std::vector<BadPeerCase> cases;
  std::vector<uint8_t> garbage(300);
  for (size_t i = 0; i < garbage.size(); ++i)
    garbage[i] = uint8_t(i * 37 + 11);
  cases.push_back({"Garbage", garbage, "bad frame"});
  cases.push_back({"OversizeLength", frame_header("ping", 5'000'000, {0, 0, 0, 0}), "bad frame"});
  std::vector<uint8_t> bad_sum = frame_header("ping", 8, {1, 2, 3, 4});
  bad_sum.resize(bad_sum.size() + 8, 0);
  cases.push_back({"BadChecksum", bad_sum, "bad frame"});
  // A well-formed frame whose payload does not decode (ping needs 8 bytes).
  std::vector<uint8_t> short_ping(3, 0);
  Hash256 sum = sha256d(short_ping);
  std::vector<uint8_t> undecodable = frame_header("ping", 3, {sum[0], sum[1], sum[2], sum[3]});
  undecodable.insert(undecodable.end(), short_ping.begin(), short_ping.end());
  cases.push_back({"UndecodablePayload", undecodable, "undecodable ping"});
  // Silent: the version handshake timeout (2 s in loopback_config) drops it.
  cases.push_back({"Silent", {}, "handshake timeout"});
  return cases;
}

class BadPeer : public ::testing::TestWithParam<BadPeerCase> {};

TEST_P(BadPeer, IsDisconnectedAndNodeKeepsServing) {
  Host node(test_key(1), loopback_config());
  ASSERT_TRUE(node.start().ok());
  TestClient bad({});
  ASSERT_FALSE(bad.connect(*node.listen_address()));
  ASSERT_FALSE(bad.handshake());
  ASSERT_TRUE(wait_until([&] { return node.connection_count() == 1; }));
  if (!GetParam().bytes.empty()) {
    ASSERT_FALSE(bad.write(GetParam().bytes));
  }
  EXPECT_TRUE(bad.wait_closed(std::chrono::seconds(8)));
  ASSERT_TRUE(wait_until([&] { return !node.net_stats().recent_disconnects.empty(); }));
  std::string why = node.net_stats().recent_disconnects.back();
  std::printf("disconnect logged: %s\n", why.c_str());
  ASSERT_NE(std::strlen(GetParam().reason), 0u) << "an empty reason matches any log line";
  EXPECT_NE(why.find(GetParam().reason), std::string::npos) << why;
  EXPECT_EQ(node.connection_count(), 0u);

  HostConfig good_cfg = loopback_config();
  good_cfg.listen.reset();
  good_cfg.connect.push_back({*node.listen_address(), std::nullopt});
  Host good(test_key(2), good_cfg);
  ASSERT_TRUE(good.start().ok());
  EXPECT_TRUE(wait_until([&] { return ready_peers(node) == 1; }));
  good.stop();
  node.stop();
}

INSTANTIATE_TEST_SUITE_P(Transport, BadPeer, ::testing::ValuesIn(bad_peers()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Connection, SilentTcpClientTimesOutInTlsHandshake) {
  Host node(test_key(1), loopback_config());
  ASSERT_TRUE(node.start().ok());
  TestClient c({});
  ASSERT_FALSE(c.connect(*node.listen_address()));
  EXPECT_TRUE(c.wait_closed(std::chrono::seconds(6), /*plain=*/true));
  ASSERT_TRUE(wait_until([&] { return node.net_stats().tls_refused == 1; }));
  EXPECT_TRUE(contains(node.net_stats().recent_refusals, "TLS handshake timeout"));
  node.stop();
}

TEST(Connection, PeerThatNeverReadsIsDisconnectedAtTheQueueCap) {
  HostConfig cfg = loopback_config();
  cfg.limits.send_queue_cap = 256 * 1024;
  cfg.limits.send_high_watermark = 128 * 1024;
  cfg.limits.send_low_watermark = 32 * 1024;
  cfg.peer_manager.handshake_timeout = std::chrono::seconds(30);
  Host node(test_key(1), cfg);
  ASSERT_TRUE(node.start().ok());
  TestClient lazy({});
  ASSERT_FALSE(lazy.connect(*node.listen_address()));
  ASSERT_FALSE(lazy.handshake());
  ASSERT_TRUE(wait_until([&] { return node.connection_count() == 1; }));
  PeerId id = node.peer_stats().at(0).id;
  InvMsg inv;
  inv.entries.resize(1000);
  SharedBytes frame = encode_frame(kTestNetwork, inv);
  // The kernel's socket buffers take some megabytes first; then the queue grows to the cap.
  size_t pushed = 0;
  bool dropped = wait_until(
      [&] {
        for (int i = 0; i < 20; ++i) {
          if (!HostTestAccess::send(node, id, frame, MsgType::kInv)) return true;
          ++pushed;
        }
        return false;
      },
      std::chrono::seconds(20));
  ASSERT_TRUE(dropped) << "pushed " << pushed << " frames";
  ASSERT_TRUE(wait_until([&] { return !node.net_stats().recent_disconnects.empty(); }));
  EXPECT_TRUE(contains(node.net_stats().recent_disconnects, "send queue over its cap"))
      << node.net_stats().recent_disconnects.back();
  node.stop();
}

TEST(Connection, LinkDelayRaisesPingRtt) {
  HostConfig a_cfg = loopback_config();
  a_cfg.link.delay_ms = 50;
  Host a(test_key(1), a_cfg);
  ASSERT_TRUE(a.start().ok());
  HostConfig b_cfg = loopback_config();
  b_cfg.listen.reset();
  b_cfg.link.delay_ms = 50;
  b_cfg.connect.push_back({*a.listen_address(), std::nullopt});
  Host b(test_key(2), b_cfg);
  ASSERT_TRUE(b.start().ok());
  for (Host* h : {&a, &b}) {
    ASSERT_TRUE(wait_until([&] {
      auto p = h->peer_stats();
      return p.size() == 1 && p[0].protocol && p[0].protocol->last_rtt;
    }));
    auto p = h->peer_stats().at(0);
    EXPECT_GE(*p.protocol->last_rtt, std::chrono::milliseconds(100));
    EXPECT_EQ(p.link.delay_ms, 50u);
  }
  b.stop();
  a.stop();
}

}  // namespace
}  // namespace hearsay::test
