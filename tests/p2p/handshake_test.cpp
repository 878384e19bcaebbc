// The version/verack handshake, alone (Handshake) and inside a PeerManager.
#include "p2p/handshake.h"

#include <gtest/gtest.h>

#include <functional>

#include "testing/peer_harness.h"

namespace hearsay {
namespace {

using namespace test;

const HandshakeParams kParams{kPmMagic, kProtocolVersion};

TEST(Handshake, VersionThenVerackCompletes) {
  Handshake h(kParams, kT0 + 10s);
  EXPECT_EQ(h.on_message(good_version()), HandshakeStep::kSendVerack);
  EXPECT_EQ(h.state(), HandshakeState::kAwaitVerack);
  EXPECT_EQ(h.on_message(VerackMsg{}), HandshakeStep::kComplete);
  EXPECT_TRUE(h.done());
  EXPECT_EQ(h.on_message(PingMsg{7}), HandshakeStep::kPassOn);
  EXPECT_EQ(h.their_version()->user_agent, "/fake/");
  h.sanity_check();
}

TEST(Handshake, RejectsEachViolation) {
  {
    Handshake h(kParams, kT0);
    EXPECT_EQ(h.on_message(PingMsg{1}), HandshakeStep::kReject);
    EXPECT_EQ(h.reason(), "'ping' before version");
  }
  {
    Handshake h(kParams, kT0);
    EXPECT_EQ(h.on_message(VerackMsg{}), HandshakeStep::kReject);
  }
  {
    Handshake h(kParams, kT0);
    VersionMsg v = good_version();
    v.network_magic ^= 1;
    EXPECT_EQ(h.on_message(v), HandshakeStep::kReject);
    EXPECT_NE(h.reason().find("another network"), std::string::npos);
  }
  {
    Handshake h(kParams, kT0);
    VersionMsg v = good_version();
    v.protocol_version = 2;
    EXPECT_EQ(h.on_message(v), HandshakeStep::kReject);
    EXPECT_NE(h.reason().find("protocol version"), std::string::npos);
  }
  {
    Handshake h(kParams, kT0);
    ASSERT_EQ(h.on_message(good_version()), HandshakeStep::kSendVerack);
    EXPECT_EQ(h.on_message(good_version()), HandshakeStep::kReject);
    EXPECT_EQ(h.on_message(InvMsg{}), HandshakeStep::kReject);
    EXPECT_EQ(h.reason(), "'inv' before verack");
  }
  {
    Handshake h(kParams, kT0);
    ASSERT_EQ(h.on_message(good_version()), HandshakeStep::kSendVerack);
    ASSERT_EQ(h.on_message(VerackMsg{}), HandshakeStep::kComplete);
    EXPECT_EQ(h.on_message(good_version()), HandshakeStep::kReject);
    EXPECT_EQ(h.reason(), "duplicate version");
    EXPECT_EQ(h.on_message(VerackMsg{}), HandshakeStep::kReject);
  }
}

TEST(Handshake, Deadline) {
  Handshake h(kParams, kT0 + 10s);
  EXPECT_FALSE(h.timed_out(kT0 + 9s));
  EXPECT_TRUE(h.timed_out(kT0 + 10s));
  (void)h.on_message(good_version());
  (void)h.on_message(VerackMsg{});
  EXPECT_FALSE(h.timed_out(kT0 + 100s));
}

// --- inside the PeerManager ------------------------------------------------------------------

class PeerManagerHandshake : public ::testing::Test {
 protected:
  KeyPair me = test_key(1);
  KeyPair other = test_key(2);
  PeerManager pm{test_config(8333), me};
};

TEST_F(PeerManagerHandshake, OutboundSucceeds) {
  pm.on_connected(conn(1, other, /*inbound=*/false), kT0);
  Actions a(pm.take_actions());
  ASSERT_EQ(a.to<VersionMsg>(1).size(), 1u);
  const VersionMsg v = a.to<VersionMsg>(1)[0];
  EXPECT_EQ(v.network_magic, kPmMagic);
  EXPECT_EQ(v.protocol_version, kProtocolVersion);
  EXPECT_EQ(v.addr_from, loopback(8333));
  EXPECT_EQ(v.user_agent, "/test/");
  EXPECT_EQ(v.time, 1'700'000'000);

  pm.on_message(1, good_version(), kT0 + 1ms);
  Actions b(pm.take_actions());
  EXPECT_EQ(b.to<VerackMsg>(1).size(), 1u);
  EXPECT_FALSE(pm.is_ready(1));

  pm.on_message(1, VerackMsg{}, kT0 + 2ms);
  Actions c(pm.take_actions());
  EXPECT_TRUE(pm.is_ready(1));
  EXPECT_TRUE(c.disconnects.empty());
  // After the handshake: our signed record, getaddr (we dialled), a first ping.
  ASSERT_EQ(c.to<AddrMsg>(1).size(), 1u);
  const PeerRecord rec = c.to<AddrMsg>(1)[0].records.at(0);
  EXPECT_EQ(rec.identity, me.public_key());
  EXPECT_EQ(rec.address, loopback(8333));
  EXPECT_TRUE(rec.verify_signature());
  EXPECT_EQ(c.to<GetAddrMsg>(1).size(), 1u);
  EXPECT_EQ(c.to<PingMsg>(1).size(), 1u);
  pm.sanity_check();

  const PeerInfo info = *pm.peer_info(1);
  EXPECT_TRUE(info.handshake_done);
  EXPECT_FALSE(info.inbound);
  EXPECT_EQ(info.user_agent, "/fake/");
  EXPECT_EQ(info.identity, other.public_key());
}

TEST_F(PeerManagerHandshake, InboundSucceedsWithoutGetaddr) {
  Actions a = handshake(pm, 5, other, /*inbound=*/true, kT0);
  EXPECT_TRUE(pm.is_ready(5));
  EXPECT_EQ(a.to<VersionMsg>(5).size(), 1u);
  EXPECT_EQ(a.to<VerackMsg>(5).size(), 1u);
  EXPECT_TRUE(a.to<GetAddrMsg>(5).empty());
  EXPECT_EQ(a.to<AddrMsg>(5).size(), 1u);
}

TEST_F(PeerManagerHandshake, TwoManagersTalkingDirectly) {
  PeerManager them{test_config(9000), other};
  pm.on_connected(conn(1, other, false), kT0);
  them.on_connected(conn(1, me, true), kT0);
  // Shuttle frames until quiet.
  for (int round = 0; round < 10; ++round) {
    for (auto [from, to] : {std::pair{&pm, &them}, std::pair{&them, &pm}}) {
      for (Action& act : from->take_actions()) {
        auto* s = std::get_if<SendAction>(&act);
        ASSERT_NE(s, nullptr) << "unexpected action";
        to->on_message(1, decode_frame(s->frame), kT0 + 1ms);
      }
    }
  }
  EXPECT_TRUE(pm.is_ready(1));
  EXPECT_TRUE(them.is_ready(1));
  ASSERT_TRUE(pm.peer_info(1)->last_rtt.has_value());
  // Each learned the other's record.
  EXPECT_NE(pm.addrman().find(other.public_key()), nullptr);
  EXPECT_NE(them.addrman().find(me.public_key()), nullptr);
  pm.sanity_check();
  them.sanity_check();
}

struct Failure {
  const char* name;
  std::function<void(PeerManager&)> drive;
  const char* reason;
};

TEST_F(PeerManagerHandshake, EachFailureDisconnectsWithReason) {
  auto connect = [&](PeerManager& m) { m.on_connected(conn(1, other, true), kT0); };
  const std::vector<Failure> failures = {
      {"wrong magic",
       [&](PeerManager& m) {
         connect(m);
         VersionMsg v = good_version();
         v.network_magic = 0xdeadbeef;
         m.on_message(1, v, kT0);
       },
       "another network"},
      {"wrong protocol version",
       [&](PeerManager& m) {
         connect(m);
         VersionMsg v = good_version();
         v.protocol_version = 99;
         m.on_message(1, v, kT0);
       },
       "protocol version"},
      {"message before version",
       [&](PeerManager& m) {
         connect(m);
         m.on_message(1, PingMsg{1}, kT0);
       },
       "'ping' before version"},
      {"verack before version",
       [&](PeerManager& m) {
         connect(m);
         m.on_message(1, VerackMsg{}, kT0);
       },
       "'verack' before version"},
      {"message before verack",
       [&](PeerManager& m) {
         connect(m);
         m.on_message(1, good_version(), kT0);
         m.on_message(1, GetAddrMsg{}, kT0);
       },
       "'getaddr' before verack"},
      {"second version",
       [&](PeerManager& m) {
         connect(m);
         m.on_message(1, good_version(), kT0);
         m.on_message(1, VerackMsg{}, kT0);
         m.on_message(1, good_version(), kT0);
       },
       "duplicate version"},
      {"undecodable message before version",
       [&](PeerManager& m) {
         connect(m);
         m.on_bad_message(1, DecodeError::kTruncated, kT0);
       },
       "malformed message"},
      {"self connection",
       [&](PeerManager& m) {
         m.on_connected(PeerConnected{1, me.public_key(), false, {}}, kT0);
       },
       "connected to self"},
      {"timeout",
       [&](PeerManager& m) {
         connect(m);
         m.on_message(1, good_version(), kT0 + 1s);
         m.on_tick(kT0 + 9s);
         EXPECT_TRUE(Actions(m.take_actions()).disconnects.empty());
         m.on_tick(kT0 + 10s);
       },
       "handshake timeout"},
  };
  for (const Failure& f : failures) {
    SCOPED_TRACE(f.name);
    PeerManager m{test_config(8333), me};
    f.drive(m);
    Actions a(m.take_actions());
    ASSERT_EQ(a.disconnects.size(), 1u);
    EXPECT_EQ(a.disconnects[0].peer, 1u);
    EXPECT_NE(a.disconnects[0].reason.find(f.reason), std::string::npos) << a.disconnects[0].reason;
    EXPECT_FALSE(m.is_ready(1));
    m.sanity_check();
    // Messages after the disconnect request are ignored, and the close is reported later.
    m.on_message(1, PingMsg{2}, kT0 + 11s);
    EXPECT_TRUE(m.take_actions().empty());
    m.on_disconnected(1, kT0 + 11s);
    EXPECT_EQ(m.peer_count(), 0u);
    m.sanity_check();
  }
}

}  // namespace
}  // namespace hearsay
