// Stalled frames against real nodes: fifty peers that each send most of a large frame and wait
// never take the node's partial-frame memory (its own accounting) past the cap, are all cut,
// and an honest peer's transaction still crosses; a frame that misses its deadline is cut, and
// an identity that does it three times is refused for a while while others are welcome; a peer
// that leaves mid-frame gives its memory back.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "testing/net_util.h"
#include "testing/testnet.h"

namespace hearsay::test {
namespace {

using namespace std::chrono_literals;

// A frame header declaring `length` payload bytes (the checksum is never reached).
std::vector<uint8_t> frame_header(uint32_t magic, const char* command, uint32_t length) {
  std::vector<uint8_t> out;
  Writer w(out);
  w.u32(magic);
  uint8_t cmd[kCommandSize] = {};
  std::copy_n(command, std::strlen(command), cmd);
  const uint8_t checksum[4] = {};
  w.bytes(cmd).u32(length).bytes(checksum);
  return out;
}

// `bytes` followed by `zeros` zero bytes.
std::vector<uint8_t> padded(std::vector<uint8_t> bytes, size_t zeros) {
  bytes.resize(bytes.size() + zeros, 0);
  return bytes;
}

TEST(Stall, DeadlineScalesWithTheDeclaredLength) {
  const ConnectionLimits l;
  EXPECT_EQ(frame_deadline(l, 0), 10s);
  EXPECT_EQ(frame_deadline(l, 100'000), 12s);
  EXPECT_EQ(frame_deadline(l, kMaxMessagePayload), 90s);
  EXPECT_EQ(frame_deadline(l, kMaxMessagePayload), std::chrono::milliseconds(kMaxFrameDeadline));
}

constexpr size_t kStallers = 50;
constexpr uint32_t kBlockFrame = 3'900'000;  // within block's limit (kMaxBlockMessage)
constexpr size_t kFirstPart = 1'000'000;
constexpr size_t kCap = 8 * 1024 * 1024;

TEST(Stall, FiftyStalledLargeFramesStayWithinTheCapAndATransactionStillCrosses) {
  TestNet net(2);
  Node& a = net.start(0, {}, [](NodeConfig& c) {
    c.host.max_partial_frame_bytes = kCap;
    // 3.9 MB frames get 5 + 1.95 s, so the test does not wait 88 s for the last ones.
    c.host.limits.frame_grace = 5s;
    c.host.limits.frame_min_rate = 2'000'000;
    c.host.peer_manager.handshake_timeout = 120s;  // the stallers never send a version
    // Spread over three I/O threads, a frame that grows cuts frames held on other threads.
    c.host.io_threads = 3;
  });
  Node& b = net.start(1, {0});
  ASSERT_TRUE(wait_until([&] { return ready_peers(a) == 1 && ready_peers(b) == 1; }));
  const std::optional<PeerId> b_at_a = peer_id_of(a, b.identity());
  ASSERT_TRUE(b_at_a);

  std::vector<std::unique_ptr<TestClient>> stallers;
  for (size_t i = 0; i < kStallers; ++i) {
    stallers.push_back(std::make_unique<TestClient>(
        TestClient::Options{ClientCert::kEd25519, static_cast<uint8_t>(100 + i)}));
    ASSERT_FALSE(stallers.back()->connect(*a.listen_address())) << i;
    ASSERT_FALSE(stallers.back()->handshake()) << i;
  }
  ASSERT_TRUE(wait_until([&] { return a.host().connection_count() == 1 + kStallers; }));
  // Every staller opens a 3.9 MB block frame, then all but the last 1,000 bytes of it, and
  // waits. Writes to a connection the node has cut fail: that is expected.
  const std::vector<uint8_t> first =
      padded(frame_header(kDevnetMagic, "block", kBlockFrame), kFirstPart);
  const std::vector<uint8_t> second(kBlockFrame - kFirstPart - 1'000);
  for (auto& s : stallers)
    (void)s->write(first);
  for (auto& s : stallers)
    (void)s->write(second);

  // An honest transaction crosses while stalled frames hold the budget.
  ASSERT_TRUE(b.submit(devnet_tx(1, 0)).ok());
  EXPECT_TRUE(wait_until([&] { return a.mempool_size() == 1; }));

  // Every staller is cut, at the memory cap or at its frame deadline.
  EXPECT_TRUE(wait_until([&] {
    const NetStats s = a.host().net_stats();
    return s.stalls_frame_deadline + s.stalls_memory_cap == kStallers;
  }));
  for (auto& s : stallers)
    EXPECT_TRUE(s->wait_closed(5s));
  EXPECT_TRUE(wait_until([&] { return a.host().net_stats().partial_frame_bytes == 0; }));
  const NetStats s = a.host().net_stats();
  std::printf("peak %zu of %zu bytes; cut at the cap %llu, at the deadline %llu\n",
              s.partial_frame_bytes_peak, s.partial_frame_cap,
              static_cast<unsigned long long>(s.stalls_memory_cap),
              static_cast<unsigned long long>(s.stalls_frame_deadline));
  EXPECT_EQ(s.partial_frame_cap, kCap);
  EXPECT_LE(s.partial_frame_bytes_peak, kCap);
  EXPECT_GE(s.partial_frame_bytes_peak, kCap / 2);  // the cap was pressed against
  EXPECT_GT(s.stalls_memory_cap, 0u);
  // Loopback is no key and every staller had its own identity, stalling once: nobody is
  // discouraged.
  EXPECT_EQ(s.discouragements, 0u);
  // The honest link was never cut.
  EXPECT_EQ(peer_id_of(a, b.identity()), b_at_a);
  const std::string metrics = a.metrics();
  EXPECT_NE(metrics.find("hearsay_stalls_total{cause=\"memory_cap\"} " +
                         std::to_string(s.stalls_memory_cap) + "\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("hearsay_partial_frame_bytes_cap " + std::to_string(kCap) + "\n"),
            std::string::npos);
}

bool open_peer(Host& h, uint8_t key_index) {
  for (const PeerStats& p : h.peer_stats())
    if (p.identity == test_key(key_index).public_key() && p.state == "open") return true;
  return false;
}

TEST(Stall, AFramePastItsDeadlineIsCutAndThreeStallsDiscourageTheIdentity) {
  HostConfig cfg = loopback_config();
  cfg.limits.frame_grace = 300ms;
  cfg.limits.frame_min_rate = 1'000'000;  // a 50,000-byte frame: 350 ms
  cfg.peer_manager.handshake_timeout = 60s;
  Host node(test_key(1), cfg);
  ASSERT_TRUE(node.start().ok());
  constexpr uint8_t kStaller = 150;
  const std::vector<uint8_t> part_of_header = frame_header(kTestNetwork, "tx", 50'000);
  const std::vector<uint8_t> part_of_frame =
      padded(frame_header(kTestNetwork, "tx", 50'000), 1'000);
  const struct {
    std::vector<uint8_t> bytes;
    const char* reason;
  } stalls[] = {
      // The deadline runs from the first header byte.
      {{part_of_header.begin(), part_of_header.begin() + 10},
       "stalled: a frame header not complete within its deadline of 300 ms (10 bytes arrived)"},
      {part_of_frame,
       "stalled: a 50000-byte frame not complete within its deadline of 350 ms (1024 bytes "
       "arrived)"},
      {part_of_frame, "stalled: a 50000-byte frame"},
  };
  uint64_t n = 0;
  for (const auto& stall : stalls) {
    TestClient c({ClientCert::kEd25519, kStaller});
    ASSERT_FALSE(c.connect(*node.listen_address()));
    ASSERT_FALSE(c.handshake());
    ASSERT_FALSE(c.write(stall.bytes));
    EXPECT_TRUE(c.wait_closed(10s));
    ++n;
    ASSERT_TRUE(wait_until([&] { return node.net_stats().stalls_frame_deadline == n; }));
    EXPECT_TRUE(contains(node.net_stats().recent_disconnects, stall.reason))
        << node.net_stats().recent_disconnects.back();
  }
  NetStats s = node.net_stats();
  EXPECT_EQ(s.discouragements, 1u);
  EXPECT_EQ(s.stalls_memory_cap, 0u);
  EXPECT_EQ(s.partial_frame_bytes, 0u);

  // The same identity again: refused once TLS proves it.
  TestClient again({ClientCert::kEd25519, kStaller});
  ASSERT_FALSE(again.connect(*node.listen_address()));
  (void)again.handshake();
  EXPECT_TRUE(again.wait_closed(10s));
  ASSERT_TRUE(wait_until([&] { return node.net_stats().refused_discouraged == 1; }));
  // The refusal is counted on the network thread; the close reaches the log from the I/O thread.
  EXPECT_TRUE(wait_until(
      [&] { return contains(node.net_stats().recent_disconnects, "is discouraged until"); }));

  // Another identity from the same (loopback) address is welcome.
  TestClient other({ClientCert::kEd25519, kStaller + 1});
  ASSERT_FALSE(other.connect(*node.listen_address()));
  ASSERT_FALSE(other.handshake());
  EXPECT_TRUE(wait_until([&] { return open_peer(node, kStaller + 1); }));
  EXPECT_EQ(node.net_stats().refused_discouraged, 1u);
  node.stop();
}

TEST(Stall, APeerThatLeavesMidFrameReleasesItsMemoryAndIsNoStall) {
  Host node(test_key(1), loopback_config());
  ASSERT_TRUE(node.start().ok());
  TestClient c({ClientCert::kEd25519, 170});
  ASSERT_FALSE(c.connect(*node.listen_address()));
  ASSERT_FALSE(c.handshake());
  ASSERT_FALSE(c.write(padded(frame_header(kTestNetwork, "block", 1'000'000), 100'000)));
  // Charged as allocated: at least what arrived, at most the declared frame.
  ASSERT_TRUE(wait_until([&] { return node.net_stats().partial_frame_bytes >= 100'024; }));
  EXPECT_LE(node.net_stats().partial_frame_bytes, kFrameHeaderSize + 1'000'000);
  c.close();
  EXPECT_TRUE(wait_until(
      [&] { return node.net_stats().partial_frame_bytes == 0 && node.connection_count() == 0; }));
  const NetStats s = node.net_stats();
  EXPECT_EQ(s.stalls_frame_deadline + s.stalls_memory_cap, 0u);
  EXPECT_GE(s.partial_frame_bytes_peak, 100'024u);
  node.stop();
}

}  // namespace
}  // namespace hearsay::test
