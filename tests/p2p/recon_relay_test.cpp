// Set reconciliation (p2p/tx_relay.h, "Set reconciliation"): mempools compared by sketch on
// connect and periodically, bisection when a sketch is too small, the repair of lost
// announcements, low fanout, and the limits a hostile peer meets. Whole networks of real
// PeerManager + TxRelay + Mempool nodes in one process (testing/relay_network.h), on a fake
// clock.
#include <gtest/gtest.h>

#include "p2p/sketch.h"
#include "testing/relay_network.h"
#include "testing/tx_factory.h"
#include "testing/tx_relay_access.h"

namespace hearsay {
namespace {

using namespace test;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Reconciliation (with the short ids it is made of) on every node unless `off` says otherwise.
RelayNetwork::Tweak recon_on(const std::function<void(size_t, TxRelayConfig&)>& relay = {},
                             const std::function<bool(size_t)>& off = {}) {
  return [relay, off](size_t i, TxRelayConfig& rc, PeerManagerConfig& pc) {
    pc.services |= kServiceShortIds;
    if (!off || !off(i)) pc.services |= kServiceRecon;
    rc.reconcile_interval = Duration::zero();  // on connect only, unless `relay` says
    if (relay) relay(i, rc);
  };
}

// `n` transactions of their own senders (nonce 0 each), so that any subset is admissible.
std::vector<TxRef> txs(size_t n, uint16_t first_sender) {
  std::vector<TxRef> out;
  for (size_t i = 0; i < n; ++i) {
    const uint16_t s = static_cast<uint16_t>(first_sender + i);
    out.push_back(make_tx(static_cast<uint8_t>(s % 256), s / 256, 1000, 60));
  }
  return out;
}

void hold(RelayNetwork& net, size_t i, const std::vector<TxRef>& batch) {
  for (const TxRef& tx : batch)
    ASSERT_TRUE(net.submit(i, tx).ok());
}

bool holds_all(RelayNetwork& net, size_t i, const std::vector<TxRef>& batch) {
  for (const TxRef& tx : batch)
    if (!net.holds(i, tx->id())) return false;
  return true;
}

const TxRelayStats& stats(RelayNetwork& net, size_t i) {
  return net.node(i).relay->stats();
}

PeerId peer(size_t i) {
  return RelayNetwork::peer_of(i);
}

uint64_t announced_entries(RelayNetwork& net) {
  uint64_t n = 0;
  for (size_t i = 0; i < net.size(); ++i)
    n += stats(net, i).inv_sent;
  return n;
}

// Nodes 0 and 1 share `shared` transactions and hold `each` of their own; node 0 dials node 1
// and the network runs for 3 s. Whether each then holds the other's own.
bool meet(RelayNetwork& net, size_t shared, size_t each) {
  const auto both = txs(shared, 1);
  const auto only0 = txs(each, 1000);
  const auto only1 = txs(each, 2000);
  hold(net, 0, both);
  hold(net, 1, both);
  hold(net, 0, only0);
  hold(net, 1, only1);
  net.link(0, 1);
  net.run(seconds(3), milliseconds(10));
  return holds_all(net, 0, only1) && holds_all(net, 1, only0);
}

TEST(Recon, ConnectingNodesExchangeOnlyWhatDiffers) {
  RelayNetwork net(2, recon_on());
  EXPECT_TRUE(meet(net, 400, 15));
  // Node 0 dialled: it asked, node 1 answered, and only the 30 differences were announced.
  EXPECT_EQ(stats(net, 0).recon_rounds, 1u);
  EXPECT_EQ(stats(net, 1).recon_rounds, 0u);
  EXPECT_EQ(stats(net, 1).recon_requests_received, 1u);
  EXPECT_EQ(stats(net, 0).recon_differences, 30u);
  EXPECT_EQ(stats(net, 0).recon_bisections, 0u);
  EXPECT_EQ(announced_entries(net), 30u);
  EXPECT_EQ(stats(net, 0).bodies_received + stats(net, 1).bodies_received, 30u);
  EXPECT_TRUE(net.node(0).relay->recon_link(peer(1))->asker);
  EXPECT_FALSE(net.node(1).relay->recon_link(peer(0))->asker);
}

TEST(Recon, AnAnswererKeepsTheSetsOfAtMostEightRounds) {
  // Nine peers dial node 0 and ask at once: node 0 keeps a set per asker's round, at most
  // kMaxReconSnapshots of them (sanity_check(), run after every step, would stop the test), and
  // every round still completes.
  static_assert(kMaxReconSnapshots == 8);
  RelayNetwork net(10, recon_on());
  const auto held = txs(50, 1);
  hold(net, 0, held);
  for (size_t i = 1; i < 10; ++i)
    net.link(i, 0);
  net.run(seconds(3), milliseconds(10));
  EXPECT_TRUE(net.all_hold(held));
  EXPECT_EQ(stats(net, 0).recon_requests_received, 9u);
}

TEST(Recon, WithoutTheBitOnBothEndsTheNewestAreAnnouncedInstead) {
  RelayNetwork net(2, recon_on({}, [](size_t i) { return i == 1; }));
  const auto shared = txs(100, 1);
  hold(net, 0, shared);
  hold(net, 1, shared);
  net.link(0, 1);
  net.run(seconds(1), milliseconds(10));
  EXPECT_FALSE(net.node(0).relay->recon_link(peer(1))->reconciles);
  EXPECT_EQ(stats(net, 0).recon_rounds, 0u);
  EXPECT_EQ(net.sent(MsgType::kReqRecon), 0u);
  EXPECT_EQ(announced_entries(net), 200u);  // each side announces all it holds
}

TEST(Recon, ADifferenceBeyondTheSketchIsFoundByBisection) {
  RelayNetwork net(2, recon_on());
  EXPECT_TRUE(meet(net, 300, 150));
  // 300 differences do not fit a first sketch of 68: the parts were split until they did.
  EXPECT_GT(stats(net, 0).recon_bisections, 0u);
  EXPECT_GT(stats(net, 1).recon_failures, 0u);
  EXPECT_EQ(stats(net, 0).recon_differences, 300u);
  EXPECT_EQ(announced_entries(net), 300u);
  // Each failure costs its sketch again in finer parts: within 4 × the 1,200 bytes that one
  // sketch of exactly 300 would take.
  EXPECT_LT(stats(net, 0).recon_sketch_bytes_sent, 4u * 300 * 4);
}

TEST(Recon, APartTooSmallToSplitFurtherIsExchangedWhole) {
  // Disjoint sets of 100: every part fails at capacity 68 until its two sides hold at most
  // 2 × 68 together; then each side announces its part whole.
  RelayNetwork net(2, recon_on());
  EXPECT_TRUE(meet(net, 0, 100));
  EXPECT_GT(stats(net, 0).recon_exchanges, 0u);
  EXPECT_EQ(stats(net, 0).recon_announced + stats(net, 1).recon_announced, 200u);
  EXPECT_EQ(announced_entries(net), 200u);
}

TEST(Recon, AnEmptySideGetsEverythingAnnouncedWithoutDecoding) {
  RelayNetwork net(2, recon_on());
  const auto held = txs(500, 1);
  hold(net, 1, held);
  net.link(0, 1);  // node 0, empty, asks
  net.run(seconds(2), milliseconds(10));
  EXPECT_TRUE(holds_all(net, 0, held));
  EXPECT_EQ(stats(net, 1).recon_failures, 0u);
  EXPECT_EQ(stats(net, 0).recon_requests_sent, 1u);
  EXPECT_EQ(stats(net, 1).recon_announced, 500u);
}

TEST(Recon, TheAnswererMayBeTheEmptySide) {
  RelayNetwork net(2, recon_on());
  const auto held = txs(500, 1);
  hold(net, 0, held);
  net.link(0, 1);  // node 0 asks; node 1, empty, answers that it has nothing
  net.run(seconds(2), milliseconds(10));
  EXPECT_TRUE(holds_all(net, 1, held));
  EXPECT_EQ(stats(net, 0).recon_announced, 500u);
  EXPECT_EQ(stats(net, 0).recon_bisections, 0u);
}

TEST(Recon, PeriodicRoundsRepairAnnouncementsThatWereLost) {
  for (bool periodic : {false, true}) {
    SCOPED_TRACE(periodic ? "periodic" : "on connect only");
    RelayNetwork net(2, recon_on([&](size_t, TxRelayConfig& rc) {
                       if (periodic) rc.reconcile_interval = milliseconds(500);
                     }));
    TxRelayTestAccess::lose_announcements_to(*net.node(0).relay,
                                             {RelayNetwork::key_of(1).public_key()});
    net.link(0, 1);
    const auto batch = txs(50, 1);
    hold(net, 0, batch);
    net.run(seconds(3), milliseconds(50));
    EXPECT_EQ(stats(net, 0).announce_dropped, 50u);
    // Without periodic rounds nothing repairs the loss; with them everything arrives.
    EXPECT_EQ(holds_all(net, 1, batch), periodic);
    if (periodic) {
      EXPECT_GE(stats(net, 0).recon_rounds, 2u);
    }
  }
}

TEST(Recon, TheAnswererRepairsTheAskerToo) {
  // Node 1 (the answerer) loses its announcements to node 0; node 0's rounds repair them.
  RelayNetwork net(
      2, recon_on([](size_t, TxRelayConfig& rc) { rc.reconcile_interval = milliseconds(500); }));
  TxRelayTestAccess::lose_announcements_to(*net.node(1).relay,
                                           {RelayNetwork::key_of(0).public_key()});
  net.link(0, 1);
  const auto batch = txs(40, 1);
  hold(net, 1, batch);
  net.run(seconds(2), milliseconds(50));
  EXPECT_TRUE(holds_all(net, 0, batch));
  EXPECT_EQ(stats(net, 1).recon_announced, 40u);
}

TEST(Recon, LowFanoutFloodsToFewAndReconcilesWithTheRest) {
  // A star: node 0 dials 1..4 and floods to one of them; the others learn by reconciliation.
  RelayNetwork net(5, recon_on([](size_t i, TxRelayConfig& rc) {
                     rc.reconcile_interval = milliseconds(300);
                     if (i == 0) rc.flood_peers = 1;
                   }));
  for (size_t i = 1; i < 5; ++i)
    net.link(0, i);
  size_t flooded = 0;
  for (size_t i = 1; i < 5; ++i)
    flooded += net.node(0).relay->recon_link(peer(i))->flood ? 1 : 0;
  EXPECT_EQ(flooded, 1u);
  const auto batch = txs(30, 1);
  hold(net, 0, batch);
  net.run(seconds(3), milliseconds(20));
  EXPECT_TRUE(net.all_hold(batch));
  EXPECT_GE(stats(net, 0).recon_announced, 30u * 3);
}

TEST(Recon, ANodeRefusingATransactionIsNotOfferedItEveryRound) {
  // Node 1 refuses node 0's transaction (its fee rate); node 0 offers it once per
  // kReconOfferMemory, not once per round.
  RelayNetwork net(
      2, recon_on([](size_t, TxRelayConfig& rc) { rc.reconcile_interval = milliseconds(200); }),
      [](size_t i, MempoolOptions& mo) {
        if (i == 1) mo.min_fee_rate = 1'000'000;
      });
  net.link(0, 1);
  ASSERT_TRUE(net.submit(0, make_tx(7, 0, 1000, 60)).ok());
  net.run(seconds(10), milliseconds(50));
  EXPECT_GE(stats(net, 0).recon_rounds, 20u);
  // Once to settle node 1's request of it (it asked, so it was not refusing yet), once more
  // after that: not once in each of the 50 rounds.
  EXPECT_EQ(stats(net, 1).recon_announced, 0u);
  EXPECT_LE(stats(net, 0).recon_announced, 2u);
  EXPECT_LE(stats(net, 0).recon_differences, 2u);
}

// --- a hostile peer ---------------------------------------------------------------------------

ReqReconMsg request(uint32_t round, const std::vector<uint32_t>& elements, size_t capacity,
                    uint32_t set_size) {
  p2p::Sketch s(capacity);
  for (uint32_t e : elements)
    s.add(e);
  return ReqReconMsg{round, 0, 0, set_size, s.serialize()};
}

TEST(Recon, MessagesWhereTheyAreNotExpectedAreMisbehaviour) {
  RelayNetwork net(2, recon_on());
  net.link(0, 1);  // node 0 asks, node 1 answers
  // Node 0 is asked by the peer it asks; node 1 gets an answer it never asked for.
  net.node(0).pm.on_message(peer(1), request(1, {}, 8, 0), net.now);
  net.node(1).pm.on_message(peer(0), ReconDiffMsg{1, 0, 0, ReconResult::kDecoded, 0, {}}, net.now);
  EXPECT_EQ(net.node(0).pm.peer_info(peer(1))->misbehaviour, kScoreUnexpectedRecon);
  EXPECT_EQ(net.node(1).pm.peer_info(peer(0))->misbehaviour, kScoreUnexpectedRecon);
}

TEST(Recon, AnAnswerForAPartNotAskedAboutIsMisbehaviour) {
  RelayNetwork net(2, recon_on());
  net.drop = [](size_t from, size_t, MsgType t) {
    return from == 1 && t == MsgType::kReconDiff;  // node 0's round stays open
  };
  net.link(0, 1);
  ASSERT_TRUE(net.node(0).relay->recon_link(peer(1))->in_round);
  net.node(0).pm.on_message(peer(1), ReconDiffMsg{1, 3, 5, ReconResult::kDecoded, 0, {}}, net.now);
  EXPECT_EQ(net.node(0).pm.peer_info(peer(1))->misbehaviour, kScoreUnexpectedRecon);
  // An answer to an older round is late, not hostile.
  net.node(0).pm.on_message(peer(1), ReconDiffMsg{0, 0, 0, ReconResult::kDecoded, 0, {}}, net.now);
  EXPECT_EQ(net.node(0).pm.peer_info(peer(1))->misbehaviour, kScoreUnexpectedRecon);
}

TEST(Recon, AnAnswerClaimingAHugeSetCannotMakeUsSendMore) {
  RelayNetwork net(2, recon_on());
  hold(net, 0, txs(200, 1));
  net.drop = [](size_t from, size_t, MsgType t) { return from == 1 && t == MsgType::kReconDiff; };
  net.link(0, 1);
  const uint64_t first = net.sent_bytes(MsgType::kReqRecon);
  // A failed answer claiming 2^32 − 1 elements: the split is bounded by what the two sets can
  // hold (kMaxReconSet) and by the round's bytes.
  net.node(0).pm.on_message(peer(1), ReconDiffMsg{1, 0, 0, ReconResult::kFailed, 0xffffffff, {}},
                            net.now);
  net.pump();
  const uint64_t split = net.sent_bytes(MsgType::kReqRecon) - first;
  EXPECT_GT(split, 0u);
  EXPECT_LE(split, kMaxReconRoundBytes + 1024 * (kFrameHeaderSize + kReconHeaderSize + 3));
}

TEST(Recon, AnUnansweredRoundIsAbandonedAndTheNextOneStarts) {
  RelayNetwork net(2,
                   recon_on([](size_t, TxRelayConfig& rc) { rc.reconcile_interval = seconds(1); }));
  net.drop = [](size_t from, size_t, MsgType t) { return from == 1 && t == MsgType::kReconDiff; };
  net.link(0, 1);
  net.run(kReconTimeout + seconds(3), milliseconds(500));
  EXPECT_EQ(stats(net, 0).recon_timeouts, 1u);
  EXPECT_EQ(stats(net, 0).recon_rounds, 2u);
  EXPECT_TRUE(net.node(0).relay->recon_link(peer(1))->in_round);
}

TEST(Recon, AForgedSketchIsNeverDecodedIntoAFalseDifference) {
  RelayNetwork net(2, recon_on());
  hold(net, 0, txs(100, 1));
  net.link(1, 0);  // node 1 asks node 0
  const uint64_t announced = stats(net, 0).recon_announced;
  // Sketches of 20 random elements at capacity 8 (over capacity), claiming 20 elements: the
  // answer is a failure every time, never a list of false differences.
  std::mt19937 rng(7);
  for (uint32_t round = 10; round < 60; ++round) {
    std::vector<uint32_t> elements(20);
    for (uint32_t& e : elements)
      e = static_cast<uint32_t>(rng()) | 1;
    net.node(0).pm.on_message(peer(1), request(round, elements, 8, 20), net.now);
  }
  net.pump();
  EXPECT_EQ(stats(net, 0).recon_failures, 50u);
  EXPECT_EQ(stats(net, 0).recon_announced, announced);
}

TEST(Recon, APeerThatAsksTooMuchIsRefusedWithinItsBudget) {
  RelayNetwork net(2, recon_on());
  hold(net, 0, txs(600, 1));
  net.link(1, 0);  // node 1 asks node 0
  const uint64_t refused = stats(net, 0).recon_refused;
  // Each request costs 600 × 256 + 64 × 256² ≈ 4.3 M units: the budget allows about 15 at once.
  for (uint32_t round = 10; round < 60; ++round)
    net.node(0).pm.on_message(peer(1), request(round, {1, 2, 3}, kMaxReconCapacity, 3), net.now);
  net.pump();
  const uint64_t answered = stats(net, 0).recon_requests_received;
  EXPECT_GT(stats(net, 0).recon_refused - refused, 30u);
  EXPECT_LT(stats(net, 0).recon_refused - refused, 50u);
  // The budget refills with time.
  net.run(seconds(2), seconds(1));
  const uint64_t refused_before = stats(net, 0).recon_refused;
  net.node(0).pm.on_message(peer(1), request(99, {1, 2, 3}, kMaxReconCapacity, 3), net.now);
  net.pump();
  EXPECT_EQ(stats(net, 0).recon_requests_received, answered + 1);
  EXPECT_EQ(stats(net, 0).recon_refused, refused_before);
}

}  // namespace
}  // namespace hearsay
