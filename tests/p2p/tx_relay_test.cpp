// TxRelay (p2p/tx_relay.h) under a PeerManager, with fake peers, a fake clock and a real
// mempool over a MemoryStore. Every rule of the header has a test here; signatures are verified
// by the harness, as net/'s workers would, and the verdicts fed back through on_verified.
#include "p2p/tx_relay.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "testing/relay_harness.h"

namespace hearsay {
namespace {

using namespace test;

using Ids = std::vector<TxId>;

// Ready peers of the tests: 2.. are fake peers with identity test_key(id).
constexpr PeerId kOut1 = 2, kOut2 = 3, kIn1 = 4, kIn2 = 5;

int score(const RelayNode& n, PeerId p) {
  return n.pm.peer_info(p)->misbehaviour;
}

Ids numbered_ids(size_t n, uint8_t tag, size_t from = 0) {
  Ids out;
  for (size_t i = from; i < from + n; ++i)
    out.push_back(numbered_id(i, tag));
  return out;
}

// --- requests ----------------------------------------------------------------------------------

TEST(TxRelayRequest, OneRequestInFlightPerIdThenRelayedToOthers) {
  RelayNode n;
  n.connect(kOut1, kOut1, false);
  n.connect(kOut2, kOut2, false);
  n.connect(kIn1, kIn1, true);
  const TxRef tx = make_tx(20, 0);
  const TxId id = tx->id();

  Actions a = n.msg(kOut1, inv_of({id}));
  EXPECT_EQ(ids_in(a.to<GetDataMsg>(kOut1)), Ids{id});
  // A second announcer is not asked while the first request is in flight.
  Actions b = n.msg(kOut2, inv_of({id}));
  EXPECT_TRUE(b.to<GetDataMsg>(kOut2).empty());
  n.now += 10s;
  EXPECT_TRUE(n.tick().to<GetDataMsg>(kOut2).empty());
  EXPECT_EQ(n.relay->tracker().count_in_flight(kOut1), 1u);

  Actions c = n.msg(kOut1, TxMsg{tx});
  ASSERT_EQ(c.verifies.size(), 1u);
  EXPECT_EQ(c.verifies[0].txs[0]->id(), id);
  EXPECT_TRUE(n.mempool->contains(id));
  // Announced to the peer that does not have it only: kOut1 sent it, kOut2 announced it.
  EXPECT_EQ(ids_in(c.to<InvMsg>(kIn1)), Ids{id});
  EXPECT_TRUE(c.to<InvMsg>(kOut1).empty());
  EXPECT_TRUE(c.to<InvMsg>(kOut2).empty());
  EXPECT_EQ(n.relay->tracker().size(), 0u);  // forgotten once seen
  for (PeerId p : {kOut1, kOut2, kIn1})
    EXPECT_EQ(score(n, p), 0);
  const TxRelayStats& s = n.relay->stats();
  EXPECT_EQ(s.accepted, 1u);
  EXPECT_EQ(s.getdata_sent, 1u);
  EXPECT_EQ(s.bodies_received, 1u);
  EXPECT_EQ(s.verifying, 0u);

  // Announcements of a held id are ignored.
  EXPECT_TRUE(n.msg(kIn1, inv_of({id})).to<GetDataMsg>(kIn1).empty());
  EXPECT_EQ(n.relay->tracker().size(), 0u);
}

TEST(TxRelayRequest, FallsBackToTheNextAnnouncerAfterTimeout) {
  RelayNode n;
  n.connect(kOut1, kOut1, false);
  n.connect(kOut2, kOut2, false);
  const TxRef tx = make_tx(20, 0);
  const Time t0 = n.now;
  Actions a1 = n.msg(kOut1, inv_of({tx->id()}));
  Actions a2 = n.msg(kOut2, inv_of({tx->id()}));
  // Both are preferred: the first announcer is asked at once.
  ASSERT_EQ(ids_in(a1.to<GetDataMsg>(kOut1)), Ids{tx->id()});
  EXPECT_TRUE(a2.to<GetDataMsg>(kOut2).empty());

  for (const auto& [t, acts] : n.run_until(t0 + kRequestTimeout - 1s))
    EXPECT_TRUE(acts.to<GetDataMsg>(kOut2).empty()) << "asked early";
  n.now = t0 + kRequestTimeout;
  Actions b = n.tick();
  EXPECT_EQ(ids_in(b.to<GetDataMsg>(kOut2)), Ids{tx->id()});
  EXPECT_EQ(n.relay->stats().request_timeouts, 1u);

  // The late answer of the first peer is still welcome (no score), the second one a duplicate.
  n.now += 1s;
  n.msg(kOut1, TxMsg{tx});
  EXPECT_TRUE(n.mempool->contains(tx->id()));
  n.msg(kOut2, TxMsg{tx});
  EXPECT_EQ(n.relay->stats().duplicate_bodies, 1u);
  EXPECT_EQ(score(n, kOut1), 0);
  EXPECT_EQ(score(n, kOut2), 0);
}

TEST(TxRelayRequest, FallsBackAtOnceAfterNotFound) {
  RelayNode n;
  n.connect(kOut1, kOut1, false);
  n.connect(kOut2, kOut2, false);
  const TxId id = numbered_id(1, 0x71);
  n.msg(kOut1, inv_of({id}));
  n.msg(kOut2, inv_of({id}));
  n.now += 100ms;
  Actions a = n.msg(kOut1, notfound_of({id}));
  EXPECT_EQ(ids_in(a.to<GetDataMsg>(kOut2)), Ids{id});
  EXPECT_EQ(n.relay->stats().notfound_received, 1u);
  // The last announcer says notfound too: the id is forgotten, nobody is asked again.
  Actions b = n.msg(kOut2, notfound_of({id}));
  EXPECT_TRUE(b.to<GetDataMsg>(kOut1).empty());
  EXPECT_EQ(n.relay->tracker().size(), 0u);
  // A notfound for something never asked for is ignored (and not scored).
  n.msg(kOut1, notfound_of({numbered_id(2, 0x71)}));
  EXPECT_EQ(score(n, kOut1), 0);
}

TEST(TxRelayRequest, FallsBackWhenTheAskedPeerDisconnects) {
  RelayNode n;
  n.connect(kOut1, kOut1, false);
  n.connect(kOut2, kOut2, false);
  const TxId id = numbered_id(1, 0x72);
  n.msg(kOut1, inv_of({id}));
  n.msg(kOut2, inv_of({id}));
  n.pm.on_disconnected(kOut1, n.now);
  Actions a = n.settle();
  EXPECT_EQ(ids_in(a.to<GetDataMsg>(kOut2)), Ids{id});
  EXPECT_EQ(n.relay->tracker().count(kOut1), 0u);
}

TEST(TxRelayRequest, PreferredPeersFirstInboundAfterTheDelay) {
  TxRelayConfig cfg = test_relay_config();
  RelayNode n(cfg);
  n.connect(kOut1, kOut1, false);
  n.connect(kIn1, kIn1, true);
  const TxId id = numbered_id(1, 0x73);
  const Time t0 = n.now;
  // The inbound peer announces first, yet the outbound one, announcing later, is asked.
  Actions a = n.msg(kIn1, inv_of({id}));
  EXPECT_TRUE(a.to<GetDataMsg>(kIn1).empty());
  n.now += 100ms;
  Actions b = n.msg(kOut1, inv_of({id}));
  EXPECT_EQ(ids_in(b.to<GetDataMsg>(kOut1)), Ids{id});
  // The outbound peer does not have it after all; the inbound one is asked, but not before
  // its announcement is non_preferred_delay old.
  n.now += 100ms;
  EXPECT_TRUE(n.msg(kOut1, notfound_of({id})).to<GetDataMsg>(kIn1).empty());
  for (const auto& [t, acts] : n.run_until(t0 + cfg.non_preferred_delay - 100ms, 100ms))
    EXPECT_TRUE(acts.to<GetDataMsg>(kIn1).empty());
  n.now = t0 + cfg.non_preferred_delay;
  EXPECT_EQ(ids_in(n.tick().to<GetDataMsg>(kIn1)), Ids{id});
}

TEST(TxRelayRequest, InboundOnlyIsAskedAfterTheDelayTrustedAtOnce) {
  RelayNode n;
  n.connect(kIn1, kIn1, true);
  n.connect(kIn2, kIn2, true, 0, /*trusted=*/true);
  const TxId a_id = numbered_id(1, 0x74), b_id = numbered_id(2, 0x74);
  const Time t0 = n.now;
  EXPECT_TRUE(n.msg(kIn1, inv_of({a_id})).to<GetDataMsg>(kIn1).empty());
  // A trusted (allow-listed) inbound peer is preferred like an outbound one.
  EXPECT_EQ(ids_in(n.msg(kIn2, inv_of({b_id})).to<GetDataMsg>(kIn2)), Ids{b_id});
  n.now = t0 + kNonPreferredDelay - 1ms;
  EXPECT_TRUE(n.tick().to<GetDataMsg>(kIn1).empty());
  n.now = t0 + kNonPreferredDelay;
  EXPECT_EQ(ids_in(n.tick().to<GetDataMsg>(kIn1)), Ids{a_id});
}

TEST(TxRelayRequest, CapsOnAnnouncementsAndRequestsInFlight) {
  RelayNode n;
  n.connect(kOut1, kOut1, false);
  n.connect(kIn1, kIn1, true);
  const Ids ids = numbered_ids(kMaxPeerAnnouncements + 1'000, 0x75);
  Actions a = n.msg(kOut1, inv_of(ids));
  const TxRequestTracker& t = n.relay->tracker();
  EXPECT_EQ(t.count(kOut1), kMaxPeerAnnouncements);
  const Ids asked = ids_in(a.to<GetDataMsg>(kOut1));
  ASSERT_EQ(asked.size(), kMaxPeerInFlight);
  EXPECT_EQ(asked, Ids(ids.begin(), ids.begin() + kMaxPeerInFlight));  // announcement order
  // More announcements do not grow the peer's share; time does not raise the in-flight count.
  n.msg(kOut1, inv_of(numbered_ids(100, 0x76)));
  EXPECT_EQ(t.count(kOut1), kMaxPeerAnnouncements);
  n.now += 10s;
  EXPECT_TRUE(n.tick().to<GetDataMsg>(kOut1).empty());
  EXPECT_EQ(t.count_in_flight(kOut1), kMaxPeerInFlight);
  // Answers free room: the next ones are asked at once.
  Actions b = n.msg(kOut1, notfound_of(asked));
  const Ids next = ids_in(b.to<GetDataMsg>(kOut1));
  EXPECT_EQ(next, Ids(ids.begin() + kMaxPeerInFlight, ids.begin() + 2 * kMaxPeerInFlight));
  EXPECT_EQ(t.count_in_flight(kOut1), kMaxPeerInFlight);
  // An inbound peer is capped alike.
  n.msg(kIn1, inv_of(numbered_ids(kMaxPeerAnnouncements + 10, 0x77)));
  EXPECT_EQ(t.count(kIn1), kMaxPeerAnnouncements);
  n.now += kNonPreferredDelay;
  n.tick();
  EXPECT_EQ(t.count_in_flight(kIn1), kMaxPeerInFlight);
  EXPECT_EQ(score(n, kOut1), 0);
  EXPECT_EQ(score(n, kIn1), 0);
}

// --- bodies: unrequested, forged, refused ------------------------------------------------------

TEST(TxRelayBodies, UnrequestedTxIsDroppedAndScoredUnlessThePeerPushes) {
  RelayNode n;
  n.connect(kOut1, kOut1, false);
  n.connect(kIn1, kIn1, true, kServicePushTx);
  const TxRef tx = make_tx(20, 0);
  Actions a = n.msg(kOut1, TxMsg{tx});
  EXPECT_TRUE(a.verifies.empty());
  EXPECT_FALSE(n.mempool->contains(tx->id()));
  EXPECT_EQ(score(n, kOut1), kScoreUnrequestedTx);
  EXPECT_EQ(n.relay->stats().unrequested, 1u);
  // Not marked seen: an announcement still fetches it.
  EXPECT_EQ(ids_in(n.msg(kOut1, inv_of({tx->id()})).to<GetDataMsg>(kOut1)), Ids{tx->id()});

  // A peer that set kServicePushTx may send it unannounced.
  Actions b = n.msg(kIn1, TxMsg{make_tx(21, 0)});
  EXPECT_TRUE(n.mempool->contains(make_tx(21, 0)->id()));
  EXPECT_EQ(score(n, kIn1), 0);
  EXPECT_EQ(ids_in(b.to<InvMsg>(kOut1)), Ids{make_tx(21, 0)->id()});
  EXPECT_TRUE(b.to<InvMsg>(kIn1).empty());
}

TEST(TxRelayBodies, EnoughUnrequestedTxsDisconnect) {
  RelayNode n;
  n.connect(kOut1, kOut1, false);
  Actions last{std::vector<Action>{}};
  for (int i = 0; i < kMisbehaviourThreshold / kScoreUnrequestedTx; ++i)
    last = n.msg(kOut1, TxMsg{make_tx(20, static_cast<uint64_t>(i))});
  EXPECT_TRUE(last.disconnected(kOut1));
  EXPECT_TRUE(last.bans.empty());
}

TEST(TxRelayBodies, ForgeryBansItsSenderHonestRelayerNeverScored) {
  RelayNode n;
  n.connect(kOut1, kOut1, false);  // honest
  n.connect(kOut2, kOut2, false);  // forger
  n.connect(kIn1, kIn1, true);
  const TxRef good = make_tx(20, 0);
  const TxRef bad = forged(make_tx(21, 0));
  ASSERT_FALSE(bad->verify_signature());

  n.msg(kOut1, inv_of({good->id()}));
  n.msg(kOut2, inv_of({bad->id()}));
  Actions a = n.msg(kOut1, TxMsg{good});
  EXPECT_TRUE(n.mempool->contains(good->id()));
  EXPECT_TRUE(a.bans.empty());
  Actions b = n.msg(kOut2, TxMsg{bad});
  ASSERT_EQ(b.verifies.size(), 1u);
  ASSERT_EQ(b.bans.size(), 1u);
  EXPECT_EQ(b.bans[0].identity, test_key(kOut2).public_key());
  EXPECT_EQ(b.bans[0].until, n.now + n.pm.config().ban_time);
  EXPECT_NE(b.bans[0].reason.find("forged"), std::string::npos);
  EXPECT_TRUE(b.disconnected(kOut2));
  EXPECT_FALSE(n.mempool->contains(bad->id()));
  EXPECT_TRUE(b.to<InvMsg>(kIn1).empty());  // a forgery is never relayed
  EXPECT_EQ(n.relay->stats().bad_signatures, 1u);
  EXPECT_EQ(score(n, kOut1), 0);
  EXPECT_TRUE(n.pm.is_ready(kOut1));
  // The forgery is remembered as rejected: announcing it again costs nothing.
  n.msg(kIn1, inv_of({bad->id()}));
  EXPECT_EQ(n.relay->tracker().count(kIn1), 0u);
}

TEST(TxRelayBodies, ForgeryFromAPushPeerBansItToo) {
  RelayNode n;
  n.connect(kIn1, kIn1, true, kServicePushTx);
  Actions a = n.msg(kIn1, TxMsg{forged(make_tx(21, 0))});
  ASSERT_EQ(a.bans.size(), 1u);
  EXPECT_EQ(a.bans[0].identity, test_key(kIn1).public_key());
}

TEST(TxRelayBodies, LateVerdictAfterTheSenderLeftStillBansItsIdentity) {
  RelayNode n;
  n.auto_verify = false;
  n.connect(kOut1, kOut1, false);
  n.connect(kOut2, kOut2, false);
  const TxRef bad = forged(make_tx(21, 0));
  n.msg(kOut1, inv_of({bad->id()}));
  n.msg(kOut1, TxMsg{bad});
  ASSERT_EQ(n.held.size(), 1u);
  EXPECT_EQ(n.relay->stats().verifying, 1u);
  n.pm.on_disconnected(kOut1, n.now);
  n.settle();
  Actions a = n.release();
  // Disconnecting before the forgery is found out does not escape the ban; nobody else pays.
  ASSERT_EQ(a.bans.size(), 1u);
  EXPECT_EQ(a.bans[0].identity, test_key(kOut1).public_key());
  EXPECT_FALSE(a.disconnected(kOut2));
  EXPECT_EQ(n.relay->stats().bad_signatures, 1u);
  EXPECT_EQ(n.relay->stats().verifying, 0u);
}

TEST(TxRelayBodies, PolicyRefusalNeverScores) {
  RelayNode n;
  n.connect(kOut1, kOut1, false);
  n.connect(kIn1, kIn1, true);
  const TxRef cheap = make_tx(20, 0, /*fee=*/0);
  const TxRef far_nonce = make_tx(21, 7);
  n.chain.set_next_nonce(test_key(21).public_key(), 9);  // nonce 7 was confirmed already
  for (const TxRef& tx : {cheap, far_nonce}) {
    n.msg(kOut1, inv_of({tx->id()}));
    Actions a = n.msg(kOut1, TxMsg{tx});
    EXPECT_TRUE(a.verifies.empty());  // refused before the signature check
    EXPECT_FALSE(n.mempool->contains(tx->id()));
    EXPECT_TRUE(a.to<InvMsg>(kIn1).empty());
  }
  EXPECT_EQ(n.relay->stats().rejected, 2u);
  EXPECT_EQ(score(n, kOut1), 0);
  EXPECT_TRUE(n.pm.is_ready(kOut1));
}

// Collects the relay latencies as the relay reports them.
struct LatencyLog : RelayLatencySink {
  std::vector<Duration> reported;
  void tx_relay_latency(Duration latency) override { reported.push_back(latency); }
};

// Gives `n` a relay that reports its latencies to `log` (before any peer connects).
void report_latencies(RelayNode& n, LatencyLog& log) {
  n.relay.reset();  // unregisters from the PeerManager before the new one registers
  n.relay = std::make_unique<TxRelay>(n.pm, *n.pool, test_relay_config(), nullptr, &log);
}

TEST(TxRelayBodies, VerdictsInAnyOrderAndGrouping) {
  RelayNode n;
  LatencyLog log;
  report_latencies(n, log);
  n.auto_verify = false;
  n.connect(kOut1, kOut1, false);
  n.connect(kIn1, kIn1, true);
  n.connect(kOut2, kOut2, false, kServicePushTx);
  std::vector<TxRef> txs;
  for (uint8_t k = 30; k < 34; ++k)
    txs.push_back(make_tx(k, 0));
  Ids ids;
  for (const TxRef& tx : txs)
    ids.push_back(tx->id());
  n.msg(kOut1, inv_of(ids));
  for (const TxRef& tx : txs) {
    n.now += 1ms;
    n.msg(kOut1, TxMsg{tx});
  }
  ASSERT_EQ(n.held.size(), 4u);
  // A duplicate body while the first is being verified is not verified twice.
  n.msg(kOut2, TxMsg{txs[0]});
  EXPECT_EQ(n.held.size(), 4u);
  EXPECT_EQ(n.relay->stats().duplicate_bodies, 1u);
  EXPECT_EQ(score(n, kOut2), 0);
  n.now += 5ms;
  Actions a = n.release(/*reverse=*/true);
  for (const TxRef& tx : txs)
    EXPECT_TRUE(n.mempool->contains(tx->id()));
  std::set<TxId> announced;
  for (const TxId& id : ids_in(a.to<InvMsg>(kIn1)))
    announced.insert(id);
  EXPECT_EQ(announced, std::set<TxId>(ids.begin(), ids.end()));
  // Each admission reported its latency (body first seen → accepted) as it happened.
  std::vector<Duration> lat = log.reported;
  std::sort(lat.begin(), lat.end());
  EXPECT_EQ(lat, (std::vector<Duration>{5ms, 6ms, 7ms, 8ms}));
  // A local submission is the submitter's to time: not reported.
  ASSERT_TRUE(n.submit(make_tx(34, 0)).ok());
  EXPECT_EQ(log.reported.size(), 4u);
}

// --- answering getdata -------------------------------------------------------------------------

TEST(TxRelayServe, GetDataAnsweredWithTxAndNotFound) {
  RelayNode n;
  n.connect(kOut1, kOut1, false);
  n.connect(kIn1, kIn1, true);
  const TxRef tx = make_tx(20, 0);
  ASSERT_TRUE(n.submit(tx).ok());
  n.settle();
  const TxId unknown = numbered_id(9, 0x78);
  Actions a = n.msg(kOut1, getdata_of({tx->id(), unknown}));
  ASSERT_EQ(a.to<TxMsg>(kOut1).size(), 1u);
  EXPECT_EQ(a.to<TxMsg>(kOut1)[0].tx->id(), tx->id());
  EXPECT_EQ(ids_in(a.to<NotFoundMsg>(kOut1)), Ids{unknown});
  EXPECT_EQ(n.relay->stats().served, 1u);
  EXPECT_EQ(n.relay->stats().notfound_sent, 1u);

  // Every peer asking gets the same serialisation (the frame cache).
  n.pm.on_message(kOut1, getdata_of({tx->id()}), n.now);
  n.pm.on_message(kIn1, getdata_of({tx->id()}), n.now);
  std::vector<SharedBytes> frames;
  for (const Action& act : n.pm.take_actions())
    if (const auto* s = std::get_if<SendAction>(&act))
      if (s->type == MsgType::kTx) frames.push_back(s->frame);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].get(), frames[1].get());
  EXPECT_EQ(score(n, kOut1), 0);
}

TEST(TxRelayServe, OversizedGetDataIsScoredAndCut) {
  RelayNode n;
  n.connect(kOut1, kOut1, false);
  n.connect(kOut2, kOut2, false);
  Actions ok = n.msg(kOut1, getdata_of(numbered_ids(kMaxGetDataTx, 0x79)));
  EXPECT_EQ(ids_in(ok.to<NotFoundMsg>(kOut1)).size(), kMaxGetDataTx);
  EXPECT_EQ(score(n, kOut1), 0);
  Actions big = n.msg(kOut2, getdata_of(numbered_ids(kMaxGetDataTx + 500, 0x79)));
  EXPECT_EQ(ids_in(big.to<NotFoundMsg>(kOut2)).size(), kMaxGetDataTx);
  EXPECT_EQ(score(n, kOut2), kScoreOversizedGetData);
}

TEST(TxRelayServe, ServedTxIsNotAnnouncedBackButOthersAre) {
  RelayNode n;
  const TxRef x = make_tx(20, 0);
  // Held before the peer came: the peer asks for it (as after our anti-entropy inv).
  ASSERT_TRUE(n.submit(x).ok());
  Actions hs = n.connect(kOut2, kOut2, false);
  EXPECT_EQ(ids_in(hs.to<InvMsg>(kOut2)), Ids{x->id()});
  EXPECT_TRUE(n.relay->known_to_peer(kOut2, x->id(), n.now));
  n.msg(kOut2, getdata_of({x->id()}));
  // A new transaction is announced to it; the served one never again.
  const TxRef y = make_tx(21, 0);
  ASSERT_TRUE(n.submit(y).ok());
  Actions a = n.settle();
  EXPECT_EQ(ids_in(a.to<InvMsg>(kOut2)), Ids{y->id()});
}

// --- announcing ----------------------------------------------------------------------------------

TEST(TxRelayAnnounce, KnownInventoryFilterStopsReannouncing) {
  RelayNode n;
  n.connect(kOut1, kOut1, false);
  n.connect(kOut2, kOut2, false);
  n.connect(kIn1, kIn1, true);
  n.connect(kIn2, kIn2, true);
  const TxRef x = make_tx(20, 0);
  n.msg(kIn1, inv_of({x->id()}));  // kIn1 has it
  n.msg(kOut1, inv_of({x->id()}));
  Actions a = n.msg(kOut1, TxMsg{x});
  EXPECT_TRUE(a.to<InvMsg>(kOut1).empty());  // the sender
  EXPECT_TRUE(a.to<InvMsg>(kIn1).empty());   // announced it
  EXPECT_EQ(ids_in(a.to<InvMsg>(kOut2)), Ids{x->id()});
  EXPECT_EQ(ids_in(a.to<InvMsg>(kIn2)), Ids{x->id()});
  for (PeerId p : {kOut1, kOut2, kIn1, kIn2})
    EXPECT_TRUE(n.relay->known_to_peer(p, x->id(), n.now)) << p;
  // Submitting it again announces nothing to anyone.
  EXPECT_EQ(n.submit(x).answer, PoolAnswer::kAlreadyHave);
  EXPECT_TRUE(n.settle().to<InvMsg>(kOut2).empty());
  EXPECT_EQ(n.relay->stats().inv_sent, 2u);
}

TEST(TxRelayAnnounce, AntiEntropyAnnouncesThePoolToANewPeerOldestFirst) {
  RelayNode n;
  Ids held;
  for (uint8_t k = 40; k < 45; ++k) {
    const TxRef tx = make_tx(k, 0);
    n.now += 1s;
    ASSERT_TRUE(n.submit(tx).ok());
    held.push_back(tx->id());
  }
  n.now += 1s;
  Actions a = n.connect(kIn1, kIn1, true);
  EXPECT_EQ(ids_in(a.to<InvMsg>(kIn1)), held);
  EXPECT_EQ(a.to<InvMsg>(kIn1).size(), 1u);
}

TEST(TxRelayAnnounce, EqualInvsShareOneFrame) {
  RelayNode n;
  for (PeerId p = 2; p <= 5; ++p)
    n.connect(p, static_cast<uint8_t>(p), p % 2 == 0);
  const TxRef x = make_tx(20, 0);
  n.msg(2, inv_of({x->id()}));  // peer 2 knows x
  ASSERT_TRUE(n.submit(x).ok());
  const TxRef y = make_tx(21, 0);
  ASSERT_TRUE(n.submit(y).ok());  // two events: each flushes on its own
  std::map<PeerId, std::vector<SharedBytes>> invs;
  for (const Action& act : n.pm.take_actions())
    if (const auto* s = std::get_if<SendAction>(&act))
      if (s->type == MsgType::kInv) invs[s->peer].push_back(s->frame);
  ASSERT_EQ(invs.size(), 4u);
  ASSERT_EQ(invs[2].size(), 1u);  // only y
  for (PeerId p = 3; p <= 5; ++p)
    ASSERT_EQ(invs[p].size(), 2u);
  // x: peers 3, 4, 5 share one frame; y: all four do.
  EXPECT_EQ(invs[3][0].get(), invs[4][0].get());
  EXPECT_EQ(invs[3][0].get(), invs[5][0].get());
  for (PeerId p = 3; p <= 5; ++p)
    EXPECT_EQ(invs[p][1].get(), invs[2][0].get());
  EXPECT_NE(invs[3][0].get(), invs[3][1].get());
}

TEST(TxRelayAnnounce, PushPeersGetTheBodyTheRestAnInv) {
  TxRelayConfig cfg = test_relay_config();
  cfg.push_peers = 2;
  cfg.rng_seed = 11;
  RelayNode n(cfg);
  for (PeerId p = 2; p <= 6; ++p)
    n.connect(p, static_cast<uint8_t>(p), false);
  const TxRef x = make_tx(20, 0);
  ASSERT_TRUE(n.submit(x).ok());
  std::vector<SharedBytes> pushed;
  std::set<PeerId> got_tx, got_inv;
  for (Action& act : n.pm.take_actions()) {
    const auto* s = std::get_if<SendAction>(&act);
    if (!s) continue;
    Message m = decode_frame(s->frame);
    if (const auto* t = std::get_if<TxMsg>(&m)) {
      EXPECT_EQ(t->tx->id(), x->id());
      got_tx.insert(s->peer);
      pushed.push_back(s->frame);
    } else if (const auto* i = std::get_if<InvMsg>(&m)) {
      EXPECT_EQ(ids_in(std::vector<InvMsg>{*i}), Ids{x->id()});
      got_inv.insert(s->peer);
    }
  }
  EXPECT_EQ(got_tx.size(), 2u);
  EXPECT_EQ(got_inv.size(), 3u);
  for (PeerId p : got_tx)
    EXPECT_FALSE(got_inv.count(p));
  ASSERT_EQ(pushed.size(), 2u);
  EXPECT_EQ(pushed[0].get(), pushed[1].get());
  EXPECT_EQ(n.relay->stats().pushed, 2u);

  // A relayed transaction is never pushed back to its sender.
  const TxRef y = make_tx(21, 0);
  n.msg(2, inv_of({y->id()}));
  Actions a = n.msg(2, TxMsg{y});
  EXPECT_TRUE(a.to<TxMsg>(2).empty());
  EXPECT_TRUE(a.to<InvMsg>(2).empty());
  EXPECT_EQ(
      a.to<TxMsg>(3).size() + a.to<TxMsg>(4).size() + a.to<TxMsg>(5).size() + a.to<TxMsg>(6).size(),
      2u);
}

TEST(TxRelayAnnounce, TrickleNothingBeforeTheDrawnTimeAllAfter) {
  TxRelayConfig cfg = test_relay_config();
  cfg.inv_interval = 2s;
  cfg.rng_seed = 5;
  RelayNode n(cfg);
  constexpr PeerId kPeers = 8;
  for (PeerId p = 2; p < 2 + kPeers; ++p)
    n.connect(p, static_cast<uint8_t>(p), p % 2 == 0);
  // Peers idle for a while: their timers ran out long ago, yet nothing goes out at once.
  n.run_until(n.now + 10min, 1s);
  const TxRef x = make_tx(20, 0), y = make_tx(21, 0);
  const Time t0 = n.now;
  ASSERT_TRUE(n.submit(x).ok());
  ASSERT_TRUE(n.submit(y).ok());
  EXPECT_TRUE(n.settle().sent.empty());
  EXPECT_EQ(n.pm.ready_peers().size(), kPeers);

  std::map<PeerId, Time> sent_at;
  for (const auto& [t, acts] : n.run_until(t0 + 20 * cfg.inv_interval, 25ms)) {
    for (PeerId p = 2; p < 2 + kPeers; ++p) {
      const std::vector<InvMsg> invs = acts.to<InvMsg>(p);
      if (invs.empty()) continue;
      EXPECT_FALSE(sent_at.count(p)) << "peer " << p << " got a second inv";
      EXPECT_EQ(ids_in(invs), (Ids{x->id(), y->id()}));  // both, in one message
      EXPECT_EQ(invs.size(), 1u);
      sent_at[p] = t;
    }
  }
  EXPECT_EQ(sent_at.size(), kPeers);  // everyone got it
  std::set<Time> times;
  for (const auto& [p, t] : sent_at) {
    EXPECT_GT(t, t0);
    times.insert(t);
  }
  EXPECT_GE(times.size(), kPeers / 2);  // each peer on its own timer
  EXPECT_EQ(n.relay->stats().inv_messages_sent, kPeers);
}

TEST(TxRelayAnnounce, InvHoldsAtMostMaxEntries) {
  TxRelayConfig cfg = test_relay_config();
  cfg.inv_interval = 1s;
  MempoolOptions mo = relay_mempool_options();
  mo.max_per_sender = 2 * kMaxInvPerMessage;
  RelayNode n(cfg, mo);
  n.connect(kOut1, kOut1, false);
  Ids ids;
  const size_t count = kMaxInvPerMessage + kMaxInvPerMessage / 2;
  for (size_t i = 0; i < count; ++i) {
    const TxRef tx = make_tx(20, i, 1000, 10);
    ASSERT_TRUE(n.submit(tx).ok()) << i;
    ids.push_back(tx->id());
  }
  std::vector<InvMsg> invs;
  for (const auto& [t, acts] : n.run_until(n.now + 40s, 100ms))
    for (const InvMsg& m : acts.to<InvMsg>(kOut1))
      invs.push_back(m);
  ASSERT_EQ(invs.size(), 2u);
  EXPECT_EQ(invs[0].entries.size(), kMaxInvPerMessage);
  EXPECT_EQ(ids_in(invs), ids);
}

// Regression: a transaction replaced by a later one of the same admission batch was announced
// (and pushed, with a null frame: the pool no longer held it).
TEST(TxRelayAnnounce, ReplacedWithinOneBatchIsNeitherPushedNorAnnounced) {
  TxRelayConfig cfg = test_relay_config();
  cfg.push_peers = 1;
  RelayNode n(cfg);
  n.auto_verify = false;
  n.connect(kOut1, kOut1, false, kServicePushTx);
  n.connect(kOut2, kOut2, false);
  n.connect(kIn1, kIn1, true);
  const TxRef a = make_tx(20, 0, 1000), b = make_tx(20, 0, 5000);  // b replaces a
  n.msg(kOut1, TxMsg{a});
  n.msg(kOut1, TxMsg{b});
  std::vector<TxRef> batch;
  for (const VerifyAction& v : n.held)
    batch.insert(batch.end(), v.txs.begin(), v.txs.end());
  n.held.clear();
  ASSERT_EQ(batch.size(), 2u);
  const std::vector<uint8_t> valid(2, 1);
  n.pm.on_verified(batch, valid, n.now);
  Actions out = n.settle();
  EXPECT_FALSE(n.mempool->contains(a->id()));
  EXPECT_TRUE(n.mempool->contains(b->id()));
  for (const Sent& s : out.sent) {
    if (const auto* t = std::get_if<TxMsg>(&s.msg)) {
      EXPECT_EQ(t->tx->id(), b->id());
    }
    if (const auto* i = std::get_if<InvMsg>(&s.msg)) {
      EXPECT_EQ(ids_in(std::vector<InvMsg>{*i}), Ids{b->id()});
    }
  }
  EXPECT_EQ(out.to<TxMsg>(kOut2).size() + out.to<TxMsg>(kIn1).size(), 1u);
}

// Regression: the frame cache answered getdata for a transaction no longer held.
TEST(TxRelayServe, ReplacedTxIsNotServedFromTheFrameCache) {
  RelayNode n;
  n.connect(kOut1, kOut1, false);
  const TxRef a = make_tx(20, 0, 1000), b = make_tx(20, 0, 5000);
  ASSERT_TRUE(n.submit(a).ok());
  EXPECT_EQ(n.msg(kOut1, getdata_of({a->id()})).to<TxMsg>(kOut1).size(), 1u);  // now cached
  ASSERT_TRUE(n.submit(b).ok());
  Actions r = n.msg(kOut1, getdata_of({a->id()}));
  EXPECT_TRUE(r.to<TxMsg>(kOut1).empty());
  EXPECT_EQ(ids_in(r.to<NotFoundMsg>(kOut1)), Ids{a->id()});
}

// --- local submissions ---------------------------------------------------------------------------

TEST(TxRelaySubmit, LocalPathChecksAdmitsAndAnnounces) {
  RelayNode n;
  n.connect(kOut1, kOut1, false);
  const TxRef x = make_tx(20, 0);
  PoolResult r = n.relay->submit(x, /*signature_verified=*/false, n.now);
  EXPECT_EQ(r.answer, PoolAnswer::kAccepted);
  Actions a = n.settle();
  EXPECT_TRUE(a.verifies.empty());  // checked on the caller's thread
  EXPECT_EQ(ids_in(a.to<InvMsg>(kOut1)), Ids{x->id()});
  EXPECT_EQ(n.relay->submit(x, false, n.now).answer, PoolAnswer::kAlreadyHave);

  const TxRef bad = forged(make_tx(21, 0));
  r = n.relay->submit(bad, false, n.now);
  EXPECT_EQ(r.answer, PoolAnswer::kRejected);
  EXPECT_STREQ(r.reason, "bad-signature");
  r = n.relay->submit(make_tx(22, 0, /*fee=*/0), true, n.now);
  EXPECT_EQ(r.answer, PoolAnswer::kRejected);
  EXPECT_STREQ(r.reason, "fee-rate-too-low");
  EXPECT_TRUE(n.settle().to<InvMsg>(kOut1).empty());
  const TxRelayStats& s = n.relay->stats();
  EXPECT_EQ(s.local_submitted, 4u);
  EXPECT_EQ(s.accepted, 1u);
  EXPECT_EQ(s.rejected, 2u);
}

TEST(TxRelaySubmit, LocalCopyOvertakesAPeerCopyUnderVerification) {
  RelayNode n;
  n.auto_verify = false;
  n.connect(kOut1, kOut1, false);
  n.connect(kIn1, kIn1, true);
  const TxRef x = make_tx(20, 0);
  n.msg(kOut1, inv_of({x->id()}));
  n.msg(kOut1, TxMsg{x});
  ASSERT_EQ(n.held.size(), 1u);
  ASSERT_TRUE(n.submit(x).ok());
  Actions a = n.settle();
  EXPECT_EQ(ids_in(a.to<InvMsg>(kIn1)), Ids{x->id()});
  Actions b = n.release();  // the late verdict changes nothing
  EXPECT_TRUE(b.to<InvMsg>(kIn1).empty());
  EXPECT_EQ(n.relay->stats().accepted, 1u);
  EXPECT_EQ(n.relay->stats().verifying, 0u);
}

// --- a small network -------------------------------------------------------------------------

// Six nodes in a line, each dialling the next; frames are carried at once. A transaction
// submitted at one end reaches the other, each node fetching it exactly once.
TEST(TxRelayNetwork, TransactionCrossesALineOfNodes) {
  constexpr size_t kNodes = 6;
  std::vector<std::unique_ptr<RelayNode>> nodes;
  for (size_t i = 0; i < kNodes; ++i) {
    TxRelayConfig cfg = test_relay_config();
    cfg.rng_seed = i;
    nodes.push_back(std::make_unique<RelayNode>(cfg, relay_mempool_options(), test_config(),
                                                static_cast<uint8_t>(100 + i)));
  }
  // Connection ids: node i sees node i+1 as peer 1000+i+1 (outbound), node i+1 sees i as
  // 1000+i (inbound).
  struct Link {
    size_t node;
    PeerId as;
  };
  std::map<std::pair<size_t, PeerId>, Link> wire;
  for (size_t i = 0; i + 1 < kNodes; ++i) {
    const PeerId out = 1000 + i + 1, in = 1000 + i;
    wire[{i, out}] = Link{i + 1, in};
    wire[{i + 1, in}] = Link{i, out};
    nodes[i]->pm.on_connected(conn(out, test_key(static_cast<uint8_t>(100 + i + 1)), false), kT0);
    nodes[i + 1]->pm.on_connected(conn(in, test_key(static_cast<uint8_t>(100 + i)), true), kT0);
  }
  // Carry frames until quiet.
  auto pump = [&] {
    for (bool busy = true; busy;) {
      busy = false;
      for (size_t i = 0; i < kNodes; ++i) {
        for (Action& act : nodes[i]->pm.take_actions()) {
          if (auto* v = std::get_if<VerifyAction>(&act)) {
            nodes[i]->verify_now(v->txs);
            busy = true;
          } else if (auto* s = std::get_if<SendAction>(&act)) {
            const Link to = wire.at({i, s->peer});
            nodes[to.node]->pm.on_message(to.as, decode_frame(s->frame), nodes[to.node]->now);
            busy = true;
          } else {
            ADD_FAILURE() << "unexpected action at node " << i;
          }
        }
      }
    }
    for (const auto& node : nodes)
      node->check();
  };
  pump();
  for (size_t i = 0; i < kNodes; ++i)
    EXPECT_EQ(nodes[i]->pm.ready_peers().size(), (i == 0 || i == kNodes - 1) ? 1u : 2u);

  const TxRef x = make_tx(20, 0);
  ASSERT_TRUE(nodes[0]->submit(x).ok());
  for (int round = 0; round < 20; ++round) {  // inbound announcers wait non_preferred_delay
    pump();
    for (auto& node : nodes) {
      node->now += 1s;
      node->pm.on_tick(node->now);
    }
  }
  pump();
  for (size_t i = 0; i < kNodes; ++i) {
    EXPECT_TRUE(nodes[i]->mempool->contains(x->id())) << "node " << i;
    EXPECT_EQ(nodes[i]->relay->stats().duplicate_bodies, 0u);
    if (i > 0) {
      EXPECT_EQ(nodes[i]->relay->stats().bodies_received, 1u);
    }
    for (PeerId p : nodes[i]->pm.ready_peers())
      EXPECT_EQ(nodes[i]->pm.peer_info(p)->misbehaviour, 0);
  }
}

}  // namespace
}  // namespace hearsay

namespace hearsay::test {
namespace {

TEST(TxRelayExpiry, ExpiredTransactionsLeaveThePoolOnTheTimer) {
  RelayNode n;
  const uint64_t expires_at =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(n.now + 30s).count());
  const TxRef soon = make_tx(30, 0, 1000, 100, expires_at);
  const TxRef never = make_tx(31, 0);
  ASSERT_TRUE(n.submit(soon).ok());
  ASSERT_TRUE(n.submit(never).ok());
  n.run_until(n.now + 20s);
  EXPECT_TRUE(n.mempool->contains(soon->id()));
  n.run_until(n.now + kPoolExpireInterval + 40s);
  EXPECT_FALSE(n.mempool->contains(soon->id()));
  EXPECT_TRUE(n.mempool->contains(never->id()));
  EXPECT_EQ(n.relay->stats().expired, 1u);
}

}  // namespace
}  // namespace hearsay::test
