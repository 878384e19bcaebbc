// PeerManager with fake peers and a fake clock: liveness, duplicate connections, dialling,
// address gossip, and a simulated network of ten managers discovering each other.
#include "p2p/peer_manager.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>

#include "testing/peer_harness.h"

namespace hearsay {
namespace {

using namespace test;

// --- ping / pong ---------------------------------------------------------------------------

TEST(PeerManagerLiveness, PingPongMeasuresRtt) {
  PeerManager pm(test_config(), test_key(1));
  Actions hs = handshake(pm, 1, test_key(2), true, kT0);
  ASSERT_EQ(hs.to<PingMsg>(1).size(), 1u);  // first ping at once
  const uint64_t nonce = hs.to<PingMsg>(1)[0].nonce;
  EXPECT_NE(nonce, 0u);

  pm.on_message(1, PongMsg{nonce}, kT0 + 150ms);
  EXPECT_EQ(pm.peer_info(1)->last_rtt, Duration(150ms));
  EXPECT_EQ(pm.peer_info(1)->min_rtt, Duration(150ms));

  // No new ping before the interval; one at it.
  pm.on_tick(kT0 + 4s);
  EXPECT_TRUE(Actions(pm.take_actions()).to<PingMsg>(1).empty());
  pm.on_tick(kT0 + 5s);
  Actions a(pm.take_actions());
  ASSERT_EQ(a.to<PingMsg>(1).size(), 1u);
  pm.on_message(1, PongMsg{a.to<PingMsg>(1)[0].nonce}, kT0 + 5s + 80ms);
  EXPECT_EQ(pm.peer_info(1)->last_rtt, Duration(80ms));
  EXPECT_EQ(pm.peer_info(1)->min_rtt, Duration(80ms));

  // We answer pings.
  pm.on_message(1, PingMsg{77}, kT0 + 6s);
  Actions b(pm.take_actions());
  ASSERT_EQ(b.to<PongMsg>(1).size(), 1u);
  EXPECT_EQ(b.to<PongMsg>(1)[0].nonce, 77u);

  // A pong we did not ask for is misbehaviour (scored, not fatal at once).
  pm.on_message(1, PongMsg{12345}, kT0 + 7s);
  EXPECT_EQ(pm.peer_info(1)->misbehaviour, kScoreBadPong);
  EXPECT_TRUE(pm.is_ready(1));
  pm.sanity_check();
}

TEST(PeerManagerLiveness, UnsolicitedPongsAddUpToADisconnect) {
  PeerManager pm(test_config(), test_key(1));
  handshake(pm, 1, test_key(2), true, kT0);
  for (int i = 0; i < kMisbehaviourThreshold / kScoreBadPong; ++i)
    pm.on_message(1, PongMsg{static_cast<uint64_t>(i) + 1}, kT0 + 1s);
  Actions a(pm.take_actions());
  ASSERT_TRUE(a.disconnected(1));
  EXPECT_NE(a.reason(1).find("pong"), std::string::npos);
  pm.sanity_check();
}

// --- malformed input (on_bad_message) ------------------------------------------------------

TEST(PeerManagerMalformed, BadFrameIsScoredAndDisconnectsWithoutBan) {
  PeerManager pm(test_config(), test_key(1));
  handshake(pm, 1, test_key(2), true, kT0);
  handshake(pm, 2, test_key(3), true, kT0);
  pm.on_bad_message(1, DecodeError::kBadChecksum, kT0 + 1s);
  Actions a(pm.take_actions());
  ASSERT_EQ(a.disconnects.size(), 1u);
  EXPECT_EQ(a.disconnects[0].peer, 1u);
  EXPECT_NE(a.reason(1).find("malformed message (bad frame: payload checksum mismatch)"),
            std::string::npos)
      << a.reason(1);
  EXPECT_TRUE(a.bans.empty()) << "malformed input disconnects; it does not ban";
  EXPECT_EQ(pm.peer_info(1)->misbehaviour, std::min(kScoreMalformed, kMisbehaviourThreshold));
  EXPECT_FALSE(pm.is_ready(1));
  EXPECT_TRUE(pm.is_ready(2));
  EXPECT_EQ(pm.peer_info(2)->misbehaviour, 0);
  pm.sanity_check();

  // Once disconnecting, whatever else net/ reports of the peer is ignored.
  pm.on_bad_message(1, DecodeError::kBadMagic, kT0 + 2s);
  pm.on_message(1, PingMsg{5}, kT0 + 2s);
  EXPECT_TRUE(pm.take_actions().empty());

  // Not banned: the same identity may come back.
  pm.on_disconnected(1, kT0 + 3s);
  pm.on_connected(conn(3, test_key(2), true), kT0 + 4s);
  EXPECT_FALSE(Actions(pm.take_actions()).disconnected(3));
  pm.sanity_check();
}

TEST(PeerManagerMalformed, UndecodablePayloadNamesTheCommand) {
  PeerManager pm(test_config(), test_key(1));
  handshake(pm, 1, test_key(2), true, kT0);
  pm.on_bad_message(1, DecodeError::kTruncated, kT0 + 1s, MsgType::kPing);
  Actions a(pm.take_actions());
  ASSERT_TRUE(a.disconnected(1));
  EXPECT_NE(a.reason(1).find("undecodable ping payload: truncated input"), std::string::npos)
      << a.reason(1);
  EXPECT_TRUE(a.bans.empty());
  EXPECT_EQ(pm.peer_info(1)->misbehaviour, std::min(kScoreMalformed, kMisbehaviourThreshold));
  pm.sanity_check();
}

TEST(PeerManagerMalformed, DisconnectsWhateverTheScoreAndIgnoresUnknownPeers) {
  PeerManager pm(test_config(), test_key(1));
  handshake(pm, 1, test_key(2), true, kT0);
  pm.on_message(1, PongMsg{12345}, kT0 + 1s);  // some score already: it adds, capped
  EXPECT_TRUE(Actions(pm.take_actions()).disconnects.empty());
  pm.on_bad_message(1, DecodeError::kUnknownCommand, kT0 + 2s);
  Actions a(pm.take_actions());
  ASSERT_TRUE(a.disconnected(1));
  EXPECT_NE(a.reason(1).find("bad frame: unknown command"), std::string::npos) << a.reason(1);
  EXPECT_EQ(pm.peer_info(1)->misbehaviour, kMisbehaviourThreshold);

  pm.on_bad_message(42, DecodeError::kBadMagic, kT0 + 3s);  // never connected
  EXPECT_TRUE(pm.take_actions().empty());
  pm.sanity_check();
}

// A fake peer that answers every ping at once until `silent_from`; returns when phi crossed
// the suspicion and disconnection thresholds (relative to its last message).
struct Silence {
  std::optional<Duration> suspected, disconnected;
  std::string reason;
};
Silence run_until_silent(PeerManager& pm, Time silent_from, Time end) {
  Silence s;
  Time last_msg = kT0;
  for (Time now = kT0; now <= end && !s.disconnected; now += 1s) {
    pm.on_tick(now);
    Actions a(pm.take_actions());
    for (const PingMsg& p : a.to<PingMsg>(1)) {
      if (now < silent_from) {
        pm.on_message(1, PongMsg{p.nonce}, now);
        last_msg = now;
      }
    }
    if (!s.suspected && pm.is_suspected(1)) s.suspected = now - last_msg;
    if (a.disconnected(1)) {
      s.disconnected = now - last_msg;
      s.reason = a.reason(1);
    }
    pm.sanity_check();
  }
  return s;
}

TEST(PeerManagerLiveness, SilentPeerIsSuspectedThenDroppedWithinBounds) {
  const PeerManagerConfig cfg = test_config();
  PeerManager pm(cfg, test_key(1));
  Actions hs = handshake(pm, 1, test_key(2), true, kT0);
  pm.on_message(1, PongMsg{hs.to<PingMsg>(1)[0].nonce}, kT0);

  const Silence s = run_until_silent(pm, kT0 + 2min, kT0 + 30min);
  ASSERT_TRUE(s.suspected.has_value());
  ASSERT_TRUE(s.disconnected.has_value());
  // Pongs came every ping interval, so the mean is the interval and the bounds follow.
  const Duration suspect_at = PhiAccrualDetector::silence_for(cfg.phi_suspect, cfg.ping_interval);
  const Duration drop_at = PhiAccrualDetector::silence_for(cfg.phi_disconnect, cfg.ping_interval);
  EXPECT_GE(*s.suspected, suspect_at);
  EXPECT_LE(*s.suspected, suspect_at + 1s);  // one tick of resolution
  EXPECT_GE(*s.disconnected, drop_at);
  EXPECT_LE(*s.disconnected, drop_at + 1s);
  EXPECT_LT(*s.disconnected, cfg.idle_timeout);
  EXPECT_NE(s.reason.find("phi"), std::string::npos) << s.reason;
}

TEST(PeerManagerLiveness, SlowSteadyPeerIsNeitherSuspectedNorDropped) {
  // The peer never answers our pings, but some message of its arrives every 20 s (four ping
  // intervals): slow, steady, alive.
  PeerManager pm(test_config(), test_key(1));
  handshake(pm, 1, test_key(2), true, kT0);
  for (Time now = kT0; now <= kT0 + 1h; now += 1s) {
    if ((now - kT0) % 20s == 0s && now > kT0) pm.on_message(1, PingMsg{1}, now);
    pm.on_tick(now);
    Actions a(pm.take_actions());
    ASSERT_FALSE(a.disconnected(1)) << a.reason(1);
    ASSERT_FALSE(pm.is_suspected(1)) << "phi " << pm.peer_info(1)->phi;
  }
  EXPECT_LT(pm.peer_info(1)->phi, 2.0);
}

TEST(PeerManagerLiveness, SlowPongsAreFine) {
  // Every pong takes 20 s: arrivals every 25 s.
  PeerManager pm(test_config(), test_key(1));
  Actions hs = handshake(pm, 1, test_key(2), true, kT0);
  std::deque<std::pair<Time, uint64_t>> due;
  due.emplace_back(kT0 + 20s, hs.to<PingMsg>(1)[0].nonce);
  for (Time now = kT0; now <= kT0 + 1h; now += 1s) {
    while (!due.empty() && due.front().first <= now) {
      pm.on_message(1, PongMsg{due.front().second}, now);
      due.pop_front();
    }
    pm.on_tick(now);
    Actions a(pm.take_actions());
    for (const PingMsg& p : a.to<PingMsg>(1))
      due.emplace_back(now + 20s, p.nonce);
    ASSERT_FALSE(a.disconnected(1)) << a.reason(1);
    ASSERT_FALSE(pm.is_suspected(1));
  }
  EXPECT_EQ(pm.peer_info(1)->last_rtt, Duration(20s));
}

TEST(PeerManagerLiveness, HardIdleTimeoutCatchesAPeerThatStretchedItsMean) {
  PeerManagerConfig cfg = test_config();
  cfg.idle_timeout = 2min;
  cfg.phi_max_interval = 10min;  // let the peer teach a long mean
  PeerManager pm(cfg, test_key(1));
  handshake(pm, 1, test_key(2), true, kT0);
  Time now = kT0;
  for (int i = 0; i < 30; ++i) {
    now += 100s;
    pm.on_message(1, PingMsg{1}, now);
    pm.on_tick(now);
  }
  pm.take_actions();
  pm.on_tick(now + 119s);
  EXPECT_FALSE(Actions(pm.take_actions()).disconnected(1));
  pm.on_tick(now + 120s);
  Actions a(pm.take_actions());
  ASSERT_TRUE(a.disconnected(1));
  EXPECT_NE(a.reason(1).find("idle"), std::string::npos);
}

// --- duplicate connections -----------------------------------------------------------------

TEST(PeerManagerDuplicates, BothSidesKeepTheSameConnection) {
  for (bool swap_keys : {false, true}) {
    for (bool a_sees_outbound_first : {false, true}) {
      for (bool b_sees_outbound_first : {false, true}) {
        SCOPED_TRACE(testing::Message()
                     << swap_keys << a_sees_outbound_first << b_sees_outbound_first);
        const KeyPair ka = test_key(swap_keys ? 20 : 21);
        const KeyPair kb = test_key(swap_keys ? 21 : 20);
        PeerManager a(test_config(1000), ka), b(test_config(2000), kb);
        // Connection X: dialled by a (a's id 1, b's id 11). Y: dialled by b (a's 2, b's 12).
        auto a_out = [&] { a.on_connected(conn(1, kb, false), kT0); };
        auto a_in = [&] { a.on_connected(conn(2, kb, true), kT0); };
        auto b_in = [&] { b.on_connected(conn(11, ka, true), kT0); };
        auto b_out = [&] { b.on_connected(conn(12, ka, false), kT0); };
        if (a_sees_outbound_first)
          a_out(), a_in();
        else
          a_in(), a_out();
        if (b_sees_outbound_first)
          b_out(), b_in();
        else
          b_in(), b_out();
        Actions aa(a.take_actions()), bb(b.take_actions());
        ASSERT_EQ(aa.disconnects.size(), 1u);
        ASSERT_EQ(bb.disconnects.size(), 1u);
        const bool a_smaller = ka.public_key() < kb.public_key();
        // Keep the connection dialled by the smaller key: X if a is smaller.
        EXPECT_EQ(aa.disconnects[0].peer, a_smaller ? 2u : 1u);
        EXPECT_EQ(bb.disconnects[0].peer, a_smaller ? 12u : 11u);
        EXPECT_NE(aa.disconnects[0].reason.find("duplicate"), std::string::npos);
        a.sanity_check();
        b.sanity_check();
      }
    }
  }
}

TEST(PeerManagerDuplicates, TwoDialsToOneIdentityKeepTheOlder) {
  PeerManager pm(test_config(), test_key(1));
  pm.on_connected(conn(1, test_key(2), false), kT0);
  pm.on_connected(conn(2, test_key(2), false, loopback(7777)), kT0);
  pm.on_connected(conn(3, test_key(3), true), kT0);
  pm.on_connected(conn(4, test_key(3), true), kT0);  // the dialler (3) resolves these
  Actions a(pm.take_actions());
  ASSERT_EQ(a.disconnects.size(), 1u);
  EXPECT_EQ(a.disconnects[0].peer, 2u);
  pm.sanity_check();
}

// --- dialling ------------------------------------------------------------------------------

TEST(PeerManagerDialling, ConnectPeersAreDialledAndRedialledWithGrowingBackoff) {
  PeerManagerConfig cfg = test_config();
  const NetAddress target = loopback(9000, 9);
  cfg.connect = {{target, std::nullopt}};
  PeerManager pm(cfg, test_key(1));
  pm.on_tick(kT0);
  Actions first(pm.take_actions());
  ASSERT_EQ(first.dials.size(), 1u);
  EXPECT_EQ(first.dials[0].address, target);
  EXPECT_FALSE(first.dials[0].identity.has_value());

  // Failures: the delay before each redial grows (and respects the cap).
  Time now = kT0;
  std::vector<Duration> delays;
  for (int i = 0; i < 12; ++i) {
    pm.on_dial_failed(target, now);
    const Time failed = now;
    Actions a(std::vector<Action>{});
    do {
      now += 100ms;
      pm.on_tick(now);
      a = Actions(pm.take_actions());
      pm.sanity_check();
    } while (a.dials.empty() && now - failed < 1h);
    ASSERT_EQ(a.dials.size(), 1u);
    delays.push_back(now - failed);
  }
  for (size_t i = 1; i < delays.size(); ++i)
    EXPECT_GE(delays[i] + 100ms, delays[i - 1]);
  EXPECT_LE(delays[0], cfg.dial_backoff_min + 100ms);
  EXPECT_GE(delays.back(), cfg.dial_backoff_max / 2);
  EXPECT_LE(delays.back(), cfg.dial_backoff_max + 100ms);

  // Success, then a disconnect: redialled after about the minimum back-off.
  const KeyPair remote = test_key(9);
  handshake(pm, 1, remote, false, now, target);
  EXPECT_TRUE(pm.is_ready(1));
  pm.on_disconnected(1, now);
  const Time closed = now;
  Actions a(std::vector<Action>{});
  do {
    now += 100ms;
    pm.on_tick(now);
    a = Actions(pm.take_actions());
  } while (a.dials.empty() && now - closed < 1h);
  ASSERT_EQ(a.dials.size(), 1u);
  EXPECT_LE(now - closed, cfg.dial_backoff_min + 100ms);

  // Connected to that identity inbound: no redial while it lasts.
  pm.on_connected(conn(2, remote, false, target), now);
  pm.take_actions();
  pm.on_disconnected(2, now);
  pm.on_connected(conn(4, remote, true), now);
  pm.on_message(4, good_version(), now);
  pm.on_message(4, VerackMsg{}, now);
  for (int i = 0; i < 100; ++i) {
    now += 1s;
    pm.on_tick(now);
    Actions b(pm.take_actions());
    for (const auto& d : b.dials)
      EXPECT_NE(d.address, target);
  }
  pm.sanity_check();
}

TEST(PeerManagerDialling, OutboundTargetFilledFromTheAddressBook) {
  PeerManagerConfig cfg = test_config();
  cfg.max_outbound = 8;
  PeerManager pm(cfg, test_key(1));
  std::map<uint16_t, PublicKey> book;  // port → identity
  for (int i = 0; i < 20; ++i) {
    const KeyPair k = test_key(static_cast<uint8_t>(100 + i));
    const PeerRecord r = signed_record(k, static_cast<uint16_t>(5000 + i), kT0);
    (void)pm.addrman().add(r);
    book[r.address.port] = k.public_key();
  }
  pm.on_tick(kT0);
  Actions a(pm.take_actions());
  ASSERT_EQ(a.dials.size(), 8u);
  std::set<PublicKey> dialled;
  for (const DialAction& d : a.dials) {
    ASSERT_TRUE(d.identity.has_value());  // pinned to the record's identity
    EXPECT_EQ(book.at(d.address.port), *d.identity);
    dialled.insert(*d.identity);
  }
  EXPECT_EQ(dialled.size(), 8u);
  EXPECT_EQ(pm.pending_dials(), 8u);

  // Nothing more while all slots are pending.
  pm.on_tick(kT0 + 1s);
  EXPECT_TRUE(Actions(pm.take_actions()).dials.empty());

  // Two dials fail, three connect: two new dials, to other identities.
  pm.on_dial_failed(a.dials[0].address, kT0 + 2s);
  pm.on_dial_failed(a.dials[1].address, kT0 + 2s);
  PeerId next = 1;
  for (int i = 2; i < 5; ++i) {
    pm.on_connected(PeerConnected{next++, *a.dials[i].identity, false, a.dials[i].address},
                    kT0 + 2s);
  }
  pm.on_tick(kT0 + 2s);
  Actions b(pm.take_actions());
  ASSERT_EQ(b.dials.size(), 2u);
  for (const DialAction& d : b.dials)
    EXPECT_FALSE(dialled.count(*d.identity));
  EXPECT_EQ(pm.outbound_count() + pm.pending_dials(), 8u);
  pm.sanity_check();
}

// --- addr gossip ---------------------------------------------------------------------------

class PeerManagerGossip : public ::testing::Test {
 protected:
  void SetUp() override {
    for (PeerId id = 1; id <= 4; ++id) {
      Actions a = handshake(pm, id, test_key(static_cast<uint8_t>(10 + id)), true, kT0);
      pm.on_message(id, PongMsg{a.to<PingMsg>(id).at(0).nonce}, kT0);
    }
  }
  KeyPair me = test_key(1);
  PeerManager pm{test_config(8333), me};
};

TEST_F(PeerManagerGossip, GoodRecordIsStoredAndForwardedToTwoOthers) {
  const KeyPair k = test_key(50);
  const PeerRecord rec = signed_record(k, 6000, kT0);
  pm.on_message(1, AddrMsg{{rec}}, kT0 + 1s);
  Actions a(pm.take_actions());
  ASSERT_NE(pm.addrman().find(k.public_key()), nullptr);
  EXPECT_TRUE(a.disconnects.empty());
  EXPECT_TRUE(a.to<AddrMsg>(1).empty());  // never back to the source
  size_t forwarded = 0;
  for (PeerId id = 2; id <= 4; ++id) {
    for (const AddrMsg& m : a.to<AddrMsg>(id)) {
      ASSERT_EQ(m.records.size(), 1u);
      EXPECT_EQ(m.records[0], rec);
      ++forwarded;
    }
  }
  EXPECT_EQ(forwarded, kAddrForwardFanout);

  // The same record again: known, not verified or forwarded again.
  pm.on_message(2, AddrMsg{{rec}}, kT0 + 2s);
  EXPECT_TRUE(Actions(pm.take_actions()).sent.empty());
  pm.sanity_check();
}

TEST_F(PeerManagerGossip, ForgedRecordIsDroppedBannedAndNotForwarded) {
  PeerRecord rec = signed_record(test_key(51), 6001, kT0);
  rec.address.port = 6002;  // signature no longer matches
  pm.on_message(1, AddrMsg{{rec}}, kT0 + 1s);
  Actions a(pm.take_actions());
  EXPECT_EQ(pm.addrman().find(rec.identity), nullptr);
  ASSERT_TRUE(a.disconnected(1));
  EXPECT_NE(a.reason(1).find("forged"), std::string::npos);
  ASSERT_EQ(a.bans.size(), 1u);
  EXPECT_EQ(a.bans[0].identity, test_key(11).public_key());
  EXPECT_EQ(a.bans[0].until, kT0 + 1s + kMisbehaviourBanTime);
  EXPECT_EQ(pm.peer_info(1)->misbehaviour, kMisbehaviourThreshold);
  EXPECT_TRUE(a.to<AddrMsg>(2).empty() && a.to<AddrMsg>(3).empty() && a.to<AddrMsg>(4).empty());
  pm.sanity_check();

  // The banned identity is refused when it comes back.
  pm.on_disconnected(1, kT0 + 2s);
  pm.on_connected(conn(9, test_key(11), true), kT0 + 3s);
  EXPECT_TRUE(Actions(pm.take_actions()).disconnected(9));
}

TEST_F(PeerManagerGossip, CheapRejectionsAreNotMisbehaviour) {
  std::vector<PeerRecord> recs;
  recs.push_back(signed_record(test_key(52), 6003, kT0 + 1h));  // far future
  recs.push_back(signed_record(me, 6004, kT0));                 // ourselves
  recs.push_back(signed_record(test_key(53), 0, kT0));          // no port
  PeerRecord stale = signed_record(test_key(54), 6005, kT0 - kMaxRecordAge - 1min);
  recs.push_back(stale);
  pm.on_message(1, AddrMsg{recs}, kT0);
  Actions a(pm.take_actions());
  EXPECT_TRUE(a.disconnects.empty());
  EXPECT_EQ(pm.peer_info(1)->misbehaviour, 0);
  EXPECT_EQ(pm.addrman().size(), 0u);
  // A slightly future record (within the skew) is fine.
  pm.on_message(1, AddrMsg{{signed_record(test_key(55), 6006, kT0 + 5min)}}, kT0);
  EXPECT_EQ(pm.addrman().size(), 1u);
}

TEST_F(PeerManagerGossip, VerificationIsRateLimitedPerPeer) {
  std::vector<PeerRecord> recs;
  for (int i = 0; i < 100; ++i)
    recs.push_back(signed_record(test_key(static_cast<uint8_t>(100 + i)),
                                 static_cast<uint16_t>(7000 + i), kT0));
  // Over the budget, even a forgery further down is dropped unverified and uncounted.
  recs.back().address.port = 1;
  pm.on_message(1, AddrMsg{recs}, kT0);
  Actions a(pm.take_actions());
  EXPECT_TRUE(a.disconnects.empty());
  EXPECT_EQ(pm.addrman().size(), static_cast<size_t>(kAddrInitialTokens));
  EXPECT_TRUE(a.sent.empty());  // a large batch is not forwarded
  // Tokens come back at kAddrRatePerSecond.
  pm.on_message(1, AddrMsg{recs}, kT0 + 100s);
  EXPECT_EQ(pm.addrman().size(), static_cast<size_t>(kAddrInitialTokens) + 10u);
  pm.sanity_check();
}

TEST_F(PeerManagerGossip, GetaddrAnsweredOnceAndOurGetaddrAnswerIsBudgeted) {
  for (int i = 0; i < 5; ++i)
    (void)pm.addrman().add(signed_record(test_key(static_cast<uint8_t>(60 + i)),
                                         static_cast<uint16_t>(6100 + i), kT0));
  pm.on_message(2, GetAddrMsg{}, kT0 + 1s);
  Actions a(pm.take_actions());
  ASSERT_EQ(a.to<AddrMsg>(2).size(), 1u);
  const AddrMsg answer = a.to<AddrMsg>(2)[0];
  EXPECT_EQ(answer.records.size(), 6u);  // our record + 5
  EXPECT_EQ(answer.records[0].identity, me.public_key());
  pm.on_message(2, GetAddrMsg{}, kT0 + 2s);
  EXPECT_TRUE(Actions(pm.take_actions()).sent.empty());

  // An outbound peer answers our getaddr with 500 records: all verified (earned budget).
  handshake(pm, 7, test_key(90), false, kT0);
  std::vector<PeerRecord> recs;
  for (int i = 0; i < 500; ++i) {
    Seed seed{};
    seed[0] = static_cast<uint8_t>(i);
    seed[1] = static_cast<uint8_t>(i >> 8);
    seed[2] = 0xaa;
    recs.push_back(signed_record(KeyPair::from_seed(seed), static_cast<uint16_t>(10000 + i), kT0));
  }
  pm.on_message(7, AddrMsg{recs}, kT0 + 1s);
  EXPECT_EQ(pm.addrman().size(), 5u + 500u);
  pm.sanity_check();
}

TEST_F(PeerManagerGossip, OwnRecordIsReadvertised) {
  Time now = kT0;
  size_t got = 0;
  for (; now < kT0 + 20min; now += 1s) {
    pm.on_tick(now);
    for (const Sent& s : Actions(pm.take_actions()).sent) {
      if (auto* ping = std::get_if<PingMsg>(&s.msg))
        pm.on_message(s.peer, PongMsg{ping->nonce}, now);
      if (auto* m = std::get_if<AddrMsg>(&s.msg)) {
        ASSERT_EQ(m->records.size(), 1u);
        EXPECT_EQ(m->records[0].identity, me.public_key());
        EXPECT_TRUE(m->records[0].verify_signature());
        ++got;
      }
    }
  }
  EXPECT_GE(got, 4u);  // at least one round to each of the four peers
  EXPECT_EQ(pm.ready_peers().size(), 4u);
}

// --- a simulated network -------------------------------------------------------------------

// Ten PeerManagers wired in memory: SendActions are decoded and delivered in order, DialActions
// become a pair of on_connected calls (or on_dial_failed), DisconnectActions close both ends.
class SimNet {
 public:
  struct Node {
    std::unique_ptr<PeerManager> pm;
    KeyPair key;
    NetAddress addr;
  };

  SimNet(size_t n, size_t max_outbound) : m_max_outbound(max_outbound) {
    for (size_t i = 0; i < n; ++i)
      add_node(i == 0 ? std::nullopt : std::optional<size_t>(0));
  }

  // A node whose only --connect peer is node `connect_to`.
  void add_node(std::optional<size_t> connect_to) {
    const size_t i = m_nodes.size();
    const KeyPair key = test_key(static_cast<uint8_t>(200 + i));
    PeerManagerConfig cfg = test_config(static_cast<uint16_t>(20000 + i));
    cfg.max_outbound = m_max_outbound;
    cfg.rng_seed = 1000 + i;
    if (connect_to) cfg.connect = {{m_nodes[*connect_to].addr, std::nullopt}};
    m_nodes.push_back(Node{std::make_unique<PeerManager>(cfg, key), key, cfg.listen_address});
  }

  Node& node(size_t i) { return m_nodes[i]; }
  size_t size() const { return m_nodes.size(); }
  Time now() const { return m_now; }

  // Ticks every node, then delivers until quiet.
  void step(Duration dt) {
    m_now += dt;
    for (size_t i = 0; i < m_nodes.size(); ++i) {
      m_nodes[i].pm->on_tick(m_now);
      collect(i);
    }
    while (!m_events.empty()) {
      auto ev = std::move(m_events.front());
      m_events.pop_front();
      ev();
    }
    for (Node& n : m_nodes)
      n.pm->sanity_check();
  }

 private:
  using End = std::pair<size_t, PeerId>;  // node, connection id at that node

  void collect(size_t i) {
    for (Action& act : m_nodes[i].pm->take_actions()) {
      if (auto* s = std::get_if<SendAction>(&act)) {
        auto it = m_links.find({i, s->peer});
        if (it == m_links.end()) continue;  // closed meanwhile
        const End to = it->second;
        SharedBytes frame = s->frame;
        m_events.push_back([this, to, frame, from = End{i, s->peer}] {
          if (!m_links.count(from)) return;
          m_nodes[to.first].pm->on_message(to.second, decode_frame(frame), m_now);
          collect(to.first);
        });
      } else if (auto* d = std::get_if<DisconnectAction>(&act)) {
        const End a{i, d->peer};
        auto it = m_links.find(a);
        if (it == m_links.end()) continue;
        const End b = it->second;
        m_links.erase(a);
        m_links.erase(b);
        m_events.push_back([this, a, b] {
          for (End e : {a, b}) {
            m_nodes[e.first].pm->on_disconnected(e.second, m_now);
            collect(e.first);
          }
        });
      } else if (auto* dial = std::get_if<DialAction>(&act)) {
        m_events.push_back([this, i, d = *dial] { do_dial(i, d); });
      }
    }
  }

  void do_dial(size_t from, const DialAction& d) {
    std::optional<size_t> to;
    for (size_t j = 0; j < m_nodes.size(); ++j)
      if (m_nodes[j].addr == d.address) to = j;
    if (!to || (d.identity && *d.identity != m_nodes[*to].key.public_key())) {
      m_nodes[from].pm->on_dial_failed(d.address, m_now);
      collect(from);
      return;
    }
    const PeerId a = m_next_id++, b = m_next_id++;
    m_links[{from, a}] = {*to, b};
    m_links[{*to, b}] = {from, a};
    NetAddress ephemeral = m_nodes[from].addr;
    ephemeral.port = static_cast<uint16_t>(30000 + a % 30000);
    m_nodes[from].pm->on_connected(
        PeerConnected{a, m_nodes[*to].key.public_key(), false, d.address}, m_now);
    m_nodes[*to].pm->on_connected(PeerConnected{b, m_nodes[from].key.public_key(), true, ephemeral},
                                  m_now);
    collect(from);
    collect(*to);
  }

  size_t m_max_outbound;
  std::vector<Node> m_nodes;
  std::map<End, End> m_links;
  std::deque<std::function<void()>> m_events;
  PeerId m_next_id = 1;
  Time m_now = kT0;
};

TEST(PeerManagerSimulation, TenNodesReachTheirOutboundTargetThroughGossip) {
  constexpr size_t kNodes = 10;
  constexpr size_t kTarget = 4;
  SimNet net(kNodes, kTarget);
  auto all_full = [&] {
    // Node 0 is everyone's --connect peer: all its slots to others are taken by inbound
    // connections, so only the others can (and must) fill their outbound slots.
    for (size_t i = 1; i < net.size(); ++i)
      if (net.node(i).pm->outbound_count() < kTarget) return false;
    return true;
  };
  for (int s = 0; s < 3600 && !all_full(); ++s)
    net.step(1s);
  for (size_t i = 1; i < net.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_GE(net.node(i).pm->outbound_count(), kTarget);
    // Outbound peers went beyond the one --connect peer, learned through gossip alone.
    EXPECT_GE(net.node(i).pm->addrman().size(), kTarget);
  }
  std::printf("all outbound targets reached after %.0f s simulated\n",
              static_cast<double>((net.now() - kT0).count()) / 1e6);
  // And the network stays up: nothing is dropped as unresponsive.
  const auto before = net.node(5).pm->peers().size();
  for (int s = 0; s < 600; ++s)
    net.step(1s);
  EXPECT_GE(net.node(5).pm->peers().size(), before);
  for (size_t i = 1; i < net.size(); ++i)
    EXPECT_GE(net.node(i).pm->outbound_count(), kTarget);

  // A late joiner given one --connect (not node 0) fills its slots from that peer's book.
  net.add_node(3);
  PeerManager& late = *net.node(net.size() - 1).pm;
  for (int s = 0; s < 600 && late.outbound_count() < kTarget; ++s)
    net.step(1s);
  EXPECT_GE(late.outbound_count(), kTarget);
  EXPECT_GE(late.addrman().size(), net.size() - 2);  // knows (almost) everyone
}

// --- relay handlers: transactions and blocks ------------------------------------------------

// Records what reaches it.
struct RecordingHandler : RelayHandler {
  std::vector<PeerId> ready, gone;
  std::vector<Message> messages;
  size_t ticks = 0, verdicts = 0;
  void on_peer_ready(PeerId peer, Time) override { ready.push_back(peer); }
  void on_message(PeerId, Message&& msg, Time) override { messages.push_back(std::move(msg)); }
  void on_peer_gone(PeerId peer, Time) override { gone.push_back(peer); }
  void on_tick(Time) override { ++ticks; }
  void on_verified(std::span<const TxRef> txs, std::span<const uint8_t>, Time) override {
    verdicts += txs.size();
  }
};

InvEntry entry(InvType t, uint8_t n) {
  return InvEntry{t, numbered_id(n, 0x77)};
}

TEST(PeerManagerRelay, BlockMessagesGoToTheBlockRelayInventorySplitByType) {
  PeerManager pm(test_config(), test_key(1));
  RecordingHandler txs, blocks;
  pm.set_relay(&txs);
  pm.set_block_relay(&blocks);
  handshake(pm, 1, test_key(2), true, kT0);
  EXPECT_EQ(txs.ready, std::vector<PeerId>{1});
  EXPECT_EQ(blocks.ready, std::vector<PeerId>{1});

  for (Message m : {Message(GetHeadersMsg{}), Message(HeadersMsg{}), Message(SendCmpctMsg{}),
                    Message(GetBlockTxnMsg{}), Message(SendHeadersMsg{})})
    pm.on_message(1, std::move(m), kT0);
  EXPECT_EQ(blocks.messages.size(), 5u);
  EXPECT_TRUE(txs.messages.empty());

  // Transactions only: whole to the tx relay. Blocks only: whole to the block relay.
  const InvMsg tx_inv{{entry(InvType::kTx, 1), entry(InvType::kTx, 2)}};
  pm.on_message(1, tx_inv, kT0);
  ASSERT_EQ(txs.messages.size(), 1u);
  EXPECT_EQ(std::get<InvMsg>(txs.messages[0]), tx_inv);
  const GetDataMsg block_gd{{entry(InvType::kBlock, 3), entry(InvType::kCmpctBlock, 4)}};
  pm.on_message(1, block_gd, kT0);
  ASSERT_EQ(blocks.messages.size(), 6u);
  EXPECT_EQ(std::get<GetDataMsg>(blocks.messages[5]), block_gd);

  // Mixed: split, each part in the message's order.
  pm.on_message(1,
                NotFoundMsg{{entry(InvType::kTx, 5), entry(InvType::kBlock, 6),
                             entry(InvType::kTx, 7), entry(InvType::kCmpctBlock, 8)}},
                kT0);
  ASSERT_EQ(txs.messages.size(), 2u);
  EXPECT_EQ(std::get<NotFoundMsg>(txs.messages[1]),
            (NotFoundMsg{{entry(InvType::kTx, 5), entry(InvType::kTx, 7)}}));
  ASSERT_EQ(blocks.messages.size(), 7u);
  EXPECT_EQ(std::get<NotFoundMsg>(blocks.messages[6]),
            (NotFoundMsg{{entry(InvType::kBlock, 6), entry(InvType::kCmpctBlock, 8)}}));
  pm.on_message(1, FeeFilterMsg{5}, kT0);  // neither kind: the tx relay's
  EXPECT_EQ(txs.messages.size(), 3u);

  // Ticks, verdicts and departures reach both.
  pm.on_tick(kT0 + 1s);
  const TxRef tx = make_tx(3, 0);
  const TxRef batch[] = {tx};
  const uint8_t valid[] = {1};
  pm.on_verified(batch, valid, kT0 + 1s);
  pm.on_disconnected(1, kT0 + 2s);
  for (const RecordingHandler* h : {&txs, &blocks}) {
    EXPECT_EQ(h->ticks, 1u);
    EXPECT_EQ(h->verdicts, 1u);
    EXPECT_EQ(h->gone, std::vector<PeerId>{1});
  }
  pm.sanity_check();
}

TEST(PeerManagerRelay, WithoutABlockRelayEverythingGoesToTheTxRelay) {
  PeerManager pm(test_config(), test_key(1));
  RecordingHandler txs;
  pm.set_relay(&txs);
  handshake(pm, 1, test_key(2), true, kT0);
  const InvMsg mixed{{entry(InvType::kTx, 1), entry(InvType::kBlock, 2)}};
  pm.on_message(1, mixed, kT0);
  pm.on_message(1, HeadersMsg{}, kT0);
  pm.on_message(1, SendHeadersMsg{}, kT0);
  ASSERT_EQ(txs.messages.size(), 3u);
  EXPECT_EQ(std::get<InvMsg>(txs.messages[0]), mixed);
}

}  // namespace
}  // namespace hearsay
