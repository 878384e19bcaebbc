// Flow control in TxRelay (p2p/tx_relay.h): announcements over the tracker's per-peer cap are
// deferred and fetched later, not lost; each peer's request window follows its link
// (p2p/link_meter.h); a peer that only looked overloaded has its delayed announcements brought
// forward; a verification backlog holds reading from peers and resumes it. Fake peers, a fake
// clock, a real mempool.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <set>

#include "p2p/link_meter.h"
#include "p2p/tx_relay.h"
#include "testing/relay_harness.h"

namespace hearsay {
namespace {

using namespace test;
using namespace std::chrono_literals;

using Ids = std::vector<TxId>;

constexpr PeerId kOut1 = 2, kIn1 = 4;

Ids numbered_ids(size_t n, uint8_t tag) {
  Ids out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(numbered_id(i, tag));
  return out;
}

// A relay whose per-peer bounds are small enough for a test to cross them.
TxRelayConfig small_config() {
  TxRelayConfig c = test_relay_config();
  c.tracker.max_announcements = 50;
  c.tracker.max_in_flight = 10;
  c.max_in_flight_ceiling = 40;
  c.max_deferred_per_peer = 200;
  return c;
}

// --- LinkMeter ----------------------------------------------------------------------------------

TEST(LinkMeter, WindowIsTwiceTheMeasuredBandwidthDelayProductWithinItsBounds) {
  LinkMeter m;
  EXPECT_EQ(m.window(10, 1000), 10u) << "nothing measured: the floor";
  EXPECT_FALSE(m.drains_within(1, 1s)) << "an unknown rate drains nothing";
  // 1,000 answers a second, each 40 ms after its request: 40 in flight fill the link.
  const Time t0 = Time(1'000'000);
  bool closed = false;
  for (int i = 0; i <= 200; ++i) {
    const Time now = t0 + std::chrono::milliseconds(i);
    closed |= m.delivered(now - 40ms, now);
  }
  EXPECT_TRUE(closed);
  EXPECT_NEAR(m.rate(), 1000, 1);
  ASSERT_TRUE(m.min_rtt().has_value());
  EXPECT_EQ(*m.min_rtt(), Duration(40ms));
  EXPECT_EQ(m.window(10, 1000), 80u);
  EXPECT_EQ(m.window(100, 1000), 100u) << "never below the floor";
  EXPECT_EQ(m.window(10, 50), 50u) << "never above the ceiling";
  EXPECT_TRUE(m.drains_within(1'999, 2s));
  EXPECT_FALSE(m.drains_within(2'000, 2s));
}

TEST(LinkMeter, OldMeasurementsAgeOutAfterTwoFilterPeriods) {
  LinkMeter m;
  const Time t0 = Time(5'000'000);
  for (int i = 0; i <= 200; ++i)
    m.delivered(t0 + std::chrono::milliseconds(i) - 10ms, t0 + std::chrono::milliseconds(i));
  EXPECT_NEAR(m.rate(), 1000, 1);
  // Much later the link is slow: 10 answers a second, 500 ms each.
  const Time t1 = t0 + 3 * kLinkFilterPeriod;
  for (int i = 0; i <= 30; ++i) {
    const Time now = t1 + std::chrono::milliseconds(100 * i);
    m.delivered(now - 500ms, now);
  }
  EXPECT_NEAR(m.rate(), 10, 0.5);
  EXPECT_EQ(*m.min_rtt(), Duration(500ms));
}

TEST(LinkMeter, ABurstOfAnswersFollowedBySilenceIsMeasuredOnTheClock) {
  LinkMeter m;
  const Time t0 = Time(9'000'000);
  for (int i = 0; i <= 50; ++i)  // 50 answers counted within 50 ms, then nothing
    EXPECT_FALSE(m.delivered(t0 - 1ms, t0 + std::chrono::milliseconds(i)));
  EXPECT_EQ(m.rate(), 0) << "no sample closed yet";
  EXPECT_FALSE(m.close_sample(t0 + 99ms));
  EXPECT_TRUE(m.close_sample(t0 + 125ms));
  EXPECT_NEAR(m.rate(), 400, 1);  // 50 answers over 125 ms
  EXPECT_FALSE(m.close_sample(t0 + 500ms)) << "an empty sample says nothing";
}

// --- deferred announcements ---------------------------------------------------------------------

// Answers every getdata with notfound until nothing more is asked; returns every id asked for.
Ids drain_with_notfound(RelayNode& n, PeerId peer, Actions first) {
  Ids asked;
  Ids batch = ids_in(first.to<GetDataMsg>(peer));
  while (!batch.empty()) {
    asked.insert(asked.end(), batch.begin(), batch.end());
    batch = ids_in(n.msg(peer, notfound_of(batch)).to<GetDataMsg>(peer));
  }
  return asked;
}

TEST(TxRelayFlow, AnnouncementsOverTheTrackersCapAreFetchedLaterNotLost) {
  RelayNode n(small_config());
  n.connect(kOut1, kOut1, false);
  const Ids ids = numbered_ids(180, 0x31);  // 50 tracked, 130 deferred
  Actions a = n.msg(kOut1, inv_of(ids));
  EXPECT_EQ(n.relay->tracker().count(kOut1), 50u);
  EXPECT_EQ(n.relay->stats().deferred, 130u);
  EXPECT_EQ(n.relay->stats().deferred_now, 130u);
  const Ids asked = drain_with_notfound(n, kOut1, std::move(a));
  // Every announced id was asked for exactly once, in announcement order.
  EXPECT_EQ(asked, ids);
  EXPECT_EQ(n.relay->stats().deferred_now, 0u);
  EXPECT_EQ(n.relay->stats().deferred_dropped, 0u);
}

TEST(TxRelayFlow, DeferredIdsSeenMeanwhileAreNotAskedForAndTheDeferredQueueIsBounded) {
  RelayNode n(small_config());
  n.connect(kOut1, kOut1, false);
  n.connect(kIn1, kIn1, true, kServicePushTx);
  const std::vector<TxRef> txs = block_txs(60, 10);
  Ids ids;
  for (const TxRef& tx : txs)
    ids.push_back(tx->id());
  Actions a = n.msg(kOut1, inv_of(ids));
  EXPECT_EQ(n.relay->stats().deferred, 10u);
  // The last deferred one arrives from another peer first: it is not asked for again.
  n.msg(kIn1, TxMsg{txs.back()});
  EXPECT_TRUE(n.mempool->contains(ids.back()));
  const Ids asked = drain_with_notfound(n, kOut1, std::move(a));
  EXPECT_EQ(asked, Ids(ids.begin(), ids.end() - 1));
  // Over the deferred bound (200), more announcements are dropped, and counted.
  n.msg(kOut1, inv_of(numbered_ids(50 + 200 + 7, 0x32)));
  EXPECT_EQ(n.relay->stats().deferred_dropped, 7u);
  EXPECT_EQ(n.relay->stats().deferred_now, 200u);
}

// --- the request window -------------------------------------------------------------------------

// 50 transactions: the first 10 (one small_config window) and the other 40, by id.
struct Window {
  std::map<TxId, TxRef> by_id;
  Ids first, rest;
};
Window first_window_and_rest() {
  Window w;
  const std::vector<TxRef> txs = block_txs(50, 10);
  for (size_t i = 0; i < txs.size(); ++i) {
    w.by_id[txs[i]->id()] = txs[i];
    (i < 10 ? w.first : w.rest).push_back(txs[i]->id());
  }
  return w;
}

// The peer answers each getdata entry `rtt` after it was sent, with the body; the node verifies
// at once. Returns the most requests ever in flight to the peer.
size_t fetch_over_link(RelayNode& n, PeerId peer, const std::vector<TxRef>& txs, Duration rtt) {
  std::map<TxId, TxRef> by_id;
  for (const TxRef& tx : txs)
    by_id[tx->id()] = tx;
  std::deque<std::pair<Time, TxId>> pending;  // (answer due, id)
  auto queue = [&](const Actions& a) {
    for (const TxId& id : ids_in(a.to<GetDataMsg>(peer)))
      pending.emplace_back(n.now + rtt, id);
  };
  Ids ids;
  for (const TxRef& tx : txs)
    ids.push_back(tx->id());
  queue(n.msg(peer, inv_of(ids)));
  size_t most = 0;
  const Time deadline = n.now + 60s;
  while (n.mempool->size() < txs.size() && n.now < deadline) {
    most = std::max(most, n.relay->tracker().count_in_flight(peer));
    if (pending.empty()) {  // nothing asked: the node's timer runs
      n.now += 100ms;
      queue(n.tick());
      continue;
    }
    n.now = std::max(n.now, pending.front().first);
    while (!pending.empty() && pending.front().first <= n.now) {
      const TxId id = pending.front().second;
      pending.pop_front();
      queue(n.msg(peer, TxMsg{by_id.at(id)}));
    }
  }
  return most;
}

TxRelayConfig roomy_config() {
  TxRelayConfig c = small_config();
  c.max_deferred_per_peer = 1'000;
  return c;
}

TEST(TxRelayFlow, TheWindowGrowsWithALongLinkUpToItsCeiling) {
  RelayNode n(roomy_config());
  n.connect(kOut1, kOut1, false);
  const std::vector<TxRef> txs = block_txs(600, 10);
  const size_t most = fetch_over_link(n, kOut1, txs, 50ms);
  const TxRelayStats& st = n.relay->stats();
  ASSERT_EQ(n.mempool->size(), txs.size()) << st.accepted << " accepted, " << st.rejected
                                           << " rejected, " << st.getdata_sent << " asked";
  // From the floor (10) to the ceiling (40): the link's product grows with the window.
  EXPECT_EQ(most, 40u);
  EXPECT_EQ(n.relay->stats().request_timeouts, 0u);
}

TEST(TxRelayFlow, AShortLinkKeepsTheFloor) {
  RelayNode n(roomy_config());
  n.connect(kOut1, kOut1, false);
  const std::vector<TxRef> txs = block_txs(300, 10);
  // 0.1 ms round trips: ten requests in flight already carry 100,000 a second.
  const size_t most = fetch_over_link(n, kOut1, txs, 100us);
  for (const TxRef& tx : txs)
    ASSERT_TRUE(n.mempool->contains(tx->id()));
  EXPECT_EQ(most, 10u);
}

// A preferred peer at its window gets the overload delay (its rate unknown); once its answers
// show it clears its backlog within that delay, the delayed announcements are asked at once.
TEST(TxRelayFlow, APeerThatOnlyLookedOverloadedIsAskedWithoutTheDelay) {
  RelayNode n(small_config());
  n.connect(kOut1, kOut1, false);
  const Window w = first_window_and_rest();
  const auto& [by_id, first, rest] = w;
  Ids asked = ids_in(n.msg(kOut1, inv_of(first)).to<GetDataMsg>(kOut1));
  EXPECT_EQ(asked, first);
  // Announced while the peer is at its window: delayed by kOverloadedPeerDelay.
  EXPECT_TRUE(n.msg(kOut1, inv_of(rest)).to<GetDataMsg>(kOut1).empty());
  EXPECT_EQ(n.relay->tracker().state(kOut1, rest[0]), AnnouncementState::kCandidateDelayed);
  // Answers every 20 ms: 50 a second, so the 40-odd waiting or in flight clear in under a second,
  // within the 2 s delay (the meter needs 100 ms of answers to say so).
  Ids later;
  for (const TxId& id : asked) {
    n.now += 20ms;
    const Ids more = ids_in(n.msg(kOut1, TxMsg{by_id.at(id)}).to<GetDataMsg>(kOut1));
    later.insert(later.end(), more.begin(), more.end());
  }
  EXPECT_EQ(n.relay->stats().expedited, 40u);
  ASSERT_FALSE(later.empty()) << "asked 200 ms in, long before the 2 s delay ran out";
  EXPECT_EQ(later.front(), rest.front());
}

// The peer answers its first window in one burst; nothing else is asked (the rest is delayed), so
// no answer closes the meter's sample: the relay's tick does, and lifts the delay.
TEST(TxRelayFlow, ABurstThenSilenceStillLiftsTheOverloadDelayOnTheTick) {
  RelayNode n(small_config());
  n.connect(kOut1, kOut1, false);
  const Window w = first_window_and_rest();
  const auto& [by_id, first, rest] = w;
  const Ids asked = ids_in(n.msg(kOut1, inv_of(first)).to<GetDataMsg>(kOut1));
  ASSERT_EQ(asked, first);
  EXPECT_TRUE(n.msg(kOut1, inv_of(rest)).to<GetDataMsg>(kOut1).empty());
  for (const TxId& id : asked) {
    n.now += 1ms;
    EXPECT_TRUE(n.msg(kOut1, TxMsg{by_id.at(id)}).to<GetDataMsg>(kOut1).empty());
  }
  EXPECT_EQ(n.relay->stats().expedited, 0u);
  n.now += 100ms;  // far less than kOverloadedPeerDelay
  const Ids later = ids_in(n.tick().to<GetDataMsg>(kOut1));
  EXPECT_EQ(n.relay->stats().expedited, 40u);
  EXPECT_EQ(later, Ids(rest.begin(), rest.begin() + 10));
}

// An inbound peer's announcements are not brought forward: they wait their non-preferred delay
// and, at its window, the overload delay too (Bitcoin's rules stay the floor for such peers).
TEST(TxRelayFlow, AnInboundPeerIsNeverExpedited) {
  RelayNode n(small_config());
  n.connect(kIn1, kIn1, true);
  const Window w = first_window_and_rest();
  const auto& [by_id, first, rest] = w;
  const Time t0 = n.now;
  EXPECT_TRUE(n.msg(kIn1, inv_of(first)).to<GetDataMsg>(kIn1).empty());
  n.now = t0 + kNonPreferredDelay;
  EXPECT_EQ(ids_in(n.tick().to<GetDataMsg>(kIn1)), first);
  // At its window: non-preferred delay plus overload delay.
  EXPECT_TRUE(n.msg(kIn1, inv_of(rest)).to<GetDataMsg>(kIn1).empty());
  for (const TxId& id : first) {
    n.now += 20ms;
    EXPECT_TRUE(n.msg(kIn1, TxMsg{by_id.at(id)}).to<GetDataMsg>(kIn1).empty());
  }
  ASSERT_TRUE(n.relay->peer_flow(kIn1).has_value());
  EXPECT_GT(n.relay->peer_flow(kIn1)->rate, 0) << "the meter measured it";
  EXPECT_EQ(n.relay->stats().expedited, 0u);
  n.now = t0 + 2 * kNonPreferredDelay + 1ms;  // past the non-preferred delay alone
  EXPECT_TRUE(n.tick().to<GetDataMsg>(kIn1).empty());
  n.now = t0 + 2 * kNonPreferredDelay + kOverloadedPeerDelay;
  EXPECT_EQ(ids_in(n.tick().to<GetDataMsg>(kIn1)), Ids(rest.begin(), rest.begin() + 10));
}

// --- holding reads ------------------------------------------------------------------------------

TEST(TxRelayFlow, AVerificationBacklogHoldsReadingAndItsClearingResumesIt) {
  TxRelayConfig cfg = small_config();
  cfg.verify_hold_high = 8;
  cfg.verify_hold_low = 4;
  RelayNode n(cfg);
  n.auto_verify = false;
  n.connect(kIn1, kIn1, true, kServicePushTx);
  const std::vector<TxRef> txs = block_txs(12, 10);
  size_t holds = 0;
  for (size_t i = 0; i < 8; ++i) {
    Actions a = n.msg(kIn1, TxMsg{txs[i]});
    holds += a.holds.size();
    if (i < 7) {
      EXPECT_TRUE(a.holds.empty()) << i;
    }
  }
  ASSERT_EQ(holds, 1u);
  EXPECT_TRUE(n.pm.reads_held());
  // What was read before the hold took effect is still handled.
  Actions late = n.msg(kIn1, TxMsg{txs[8]});
  EXPECT_TRUE(late.holds.empty()) << "held already: no second action";
  EXPECT_EQ(n.relay->stats().verifying, 9u);
  // Verdicts come back: at the low watermark (4) reading resumes.
  Actions r = n.release();
  ASSERT_EQ(r.holds.size(), 1u);
  EXPECT_FALSE(r.holds[0].hold);
  EXPECT_FALSE(n.pm.reads_held());
  for (size_t i = 0; i < 9; ++i)
    EXPECT_TRUE(n.mempool->contains(txs[i]->id()));
  EXPECT_EQ(n.relay->stats().verifying_peak, 9u);
  EXPECT_EQ(n.relay->stats().verify_dropped, 0u);
}

}  // namespace
}  // namespace hearsay
