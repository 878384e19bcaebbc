// Malformed input through the whole stack: net/ only reports what does not decode
// (ConnectionObserver::on_bad_message → PeerManager::on_bad_message), p2p scores it and asks for
// the disconnect, net/ carries it out — and the node goes on serving its other peers.
#include <gtest/gtest.h>

#include "testing/net_util.h"

namespace hearsay::test {
namespace {

TEST(MalformedInput, GarbageFrameIsReportedToP2pAndOnlyThatPeerIsCutOff) {
  HostConfig cfg = loopback_config();
  cfg.peer_manager.ping_interval = std::chrono::milliseconds(200);  // pongs show it is served
  Host node(test_key(1), cfg);
  ASSERT_TRUE(node.start().ok());

  // A well-behaved peer, ready before the bad one shows up.
  HostConfig good_cfg = loopback_config();
  good_cfg.listen.reset();
  good_cfg.connect.push_back({*node.listen_address(), std::nullopt});
  Host good(test_key(2), good_cfg);
  ASSERT_TRUE(good.start().ok());
  ASSERT_TRUE(wait_until([&] { return ready_peers(node) == 1 && ready_peers(good) == 1; }));
  const PeerId good_id = node.peer_stats().at(0).id;

  // A client with a valid certificate that sends bytes no frame starts with.
  TestClient bad({});
  ASSERT_FALSE(bad.connect(*node.listen_address()));
  ASSERT_FALSE(bad.handshake());
  ASSERT_TRUE(wait_until([&] { return node.connection_count() == 2; }));
  std::vector<uint8_t> garbage(300);
  for (size_t i = 0; i < garbage.size(); ++i)
    garbage[i] = uint8_t(i * 37 + 11);
  ASSERT_FALSE(bad.write(garbage));
  EXPECT_TRUE(bad.wait_closed(std::chrono::seconds(8)));

  // The reason is the PeerManager's (scored as misbehaviour), not a decision of net/'s own.
  ASSERT_TRUE(wait_until([&] { return !node.net_stats().recent_disconnects.empty(); }));
  const std::string why = node.net_stats().recent_disconnects.back();
  EXPECT_NE(why.find("misbehaviour: malformed message (bad frame: wrong network magic)"),
            std::string::npos)
      << why;
  EXPECT_EQ(node.net_stats().bans, 0u) << "malformed input disconnects; it does not ban";

  // The good peer is untouched and still served: it keeps answering pings on its connection.
  ASSERT_TRUE(wait_until([&] { return node.connection_count() == 1; }));
  std::vector<PeerStats> left = node.peer_stats();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].id, good_id);
  ASSERT_TRUE(left[0].protocol);
  EXPECT_TRUE(left[0].protocol->handshake_done);
  EXPECT_EQ(left[0].protocol->misbehaviour, 0);
  const uint64_t pongs = left[0].traffic.msgs_in[static_cast<size_t>(MsgType::kPong)];
  EXPECT_TRUE(wait_until([&] {
    auto p = node.peer_stats();
    return p.size() == 1 && p[0].traffic.msgs_in[static_cast<size_t>(MsgType::kPong)] > pongs;
  }));
  good.stop();
  node.stop();
}

}  // namespace
}  // namespace hearsay::test
