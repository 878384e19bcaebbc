// Flow control's read hold (ReadHoldAction, Connection::hold_reading): a held connection reads
// nothing, its frame deadline and idle clocks stop, and it resumes where it left off.
#include <gtest/gtest.h>

#include <cstring>

#include "testing/net_util.h"

namespace hearsay::test {
namespace {

using namespace std::chrono_literals;

std::vector<uint8_t> ping_frame() {
  const SharedBytes f = encode_frame(kTestNetwork, PingMsg{42});
  return std::vector<uint8_t>(f->begin(), f->end());
}

void hold(Host& node, bool on) {
  node.with_peer_manager([on](PeerManager& pm) { pm.hold_reads(on); });
}

TEST(ReadHold, AHeldConnectionReadsNothingAndMissesNoDeadlineUntilResumed) {
  HostConfig cfg = loopback_config();
  cfg.limits.frame_grace = 400ms;  // a frame must be done 400 ms after its first byte
  cfg.peer_manager.handshake_timeout = 30s;
  Host node(test_key(1), cfg);
  ASSERT_TRUE(node.start().ok());
  TestClient c({});
  ASSERT_FALSE(c.connect(*node.listen_address()));
  ASSERT_FALSE(c.handshake());
  ASSERT_TRUE(wait_until([&] { return node.connection_count() == 1; }));
  const std::vector<uint8_t> frame = ping_frame();
  const std::vector<uint8_t> head(frame.begin(), frame.begin() + 10);
  const std::vector<uint8_t> rest(frame.begin() + 10, frame.end());

  // Part of a frame is read; then reading is held.
  ASSERT_FALSE(c.write(head));
  ASSERT_TRUE(wait_until([&] { return node.net_stats().partial_frame_bytes > 0; }));
  hold(node, true);
  EXPECT_TRUE(node.net_stats().reads_held);
  EXPECT_EQ(node.net_stats().read_holds, 1u);
  // Several deadlines go by: the frame's clock is stopped, so nothing is cut.
  EXPECT_FALSE(c.wait_closed(1'500ms));
  EXPECT_EQ(node.net_stats().stalls_frame_deadline, 0u);
  // What is sent meanwhile is not read: the frame in progress stays as it was.
  const size_t before = node.net_stats().partial_frame_bytes;
  ASSERT_FALSE(c.write({rest.begin(), rest.begin() + 4}));
  EXPECT_FALSE(c.wait_closed(300ms));
  EXPECT_EQ(node.net_stats().partial_frame_bytes, before);

  // Resumed: the frame completes (within what is left of its deadline) and nothing is cut.
  hold(node, false);
  EXPECT_FALSE(node.net_stats().reads_held);
  ASSERT_FALSE(c.write({rest.begin() + 4, rest.end()}));
  ASSERT_TRUE(wait_until([&] { return node.net_stats().partial_frame_bytes == 0; }));
  EXPECT_EQ(node.net_stats().stalls_frame_deadline, 0u);
  EXPECT_EQ(node.connection_count(), 1u);
  node.stop();
}

TEST(ReadHold, AConnectionMadeWhileHeldStartsHeld) {
  HostConfig cfg = loopback_config();
  cfg.peer_manager.handshake_timeout = 30s;
  Host node(test_key(1), cfg);
  ASSERT_TRUE(node.start().ok());
  hold(node, true);
  TestClient c({});
  ASSERT_FALSE(c.connect(*node.listen_address()));
  ASSERT_FALSE(c.handshake());
  ASSERT_TRUE(wait_until([&] { return node.connection_count() == 1; }));
  const std::vector<uint8_t> frame = ping_frame();
  ASSERT_FALSE(c.write({frame.begin(), frame.begin() + 10}));
  EXPECT_FALSE(c.wait_closed(300ms));
  EXPECT_EQ(node.net_stats().partial_frame_bytes, 0u) << "read while held";
  hold(node, false);
  ASSERT_TRUE(wait_until([&] { return node.net_stats().partial_frame_bytes > 0; }));
  node.stop();
}

}  // namespace
}  // namespace hearsay::test
