// Tree relay (p2p/tx_relay.h, "Tree relay"): eager push, pruning to one body per node, grafting
// when the eager path breaks or withholds, the swap to a faster lazy link, one tree per origin,
// and the limits. Whole networks of real PeerManager + TxRelay + Mempool nodes in one process
// (testing/relay_network.h), on a fake clock: delays are simulated, never slept.
#include <gtest/gtest.h>

#include "testing/relay_network.h"
#include "testing/tx_factory.h"

namespace hearsay {
namespace {

using namespace test;
using std::chrono::milliseconds;

// Tree mode (with short ids, as a node runs it) on every node unless `pull` says otherwise.
RelayNetwork::Tweak tree_on(const std::function<bool(size_t)>& pull = {},
                            const std::function<void(TxRelayConfig&)>& relay = {}) {
  return [pull, relay](size_t i, TxRelayConfig& rc, PeerManagerConfig& pc) {
    pc.services |= kServiceShortIds;
    if (!pull || !pull(i)) pc.services |= kServiceTree;
    // Small bounds keep the invariant checks after every step cheap; a short trickle keeps the
    // repairs within a few simulated 100 ms.
    rc.known_per_peer = 512;
    rc.seen_max_entries = 1024;
    rc.lazy_interval = milliseconds(50);
    if (relay) relay(rc);
  };
}

std::vector<TxRef> txs(size_t n, uint8_t first_sender = 1) {
  std::vector<TxRef> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(make_tx(static_cast<uint8_t>(first_sender + i % 8), i / 8));
  return out;
}

uint64_t total(RelayNetwork& net, uint64_t TxRelayStats::*field) {
  uint64_t sum = 0;
  for (size_t i = 0; i < net.size(); ++i)
    sum += net.node(i).relay->stats().*field;
  return sum;
}

PeerId peer(size_t i) {
  return RelayNetwork::peer_of(i);
}

// Submits `tx` at `origin` and runs the network for `d` in steps of `step`.
void submit_and_run(RelayNetwork& net, size_t origin, const TxRef& tx,
                    Duration d = std::chrono::seconds(1), Duration step = milliseconds(5)) {
  ASSERT_TRUE(net.submit(origin, tx).ok());
  net.run(d, step);
}

// Two paths from node 0 to node 2: 0–1–2 (10 ms a link) and 0–3–2 (50 ms a link). Node 2's
// tree of node 0's origin runs through node 1 once the first transaction has flooded.
void diamond(RelayNetwork& net) {
  net.link(0, 1);
  net.link(1, 2);
  net.link(0, 3);
  net.link(3, 2);
  net.set_delay(0, 1, milliseconds(10));
  net.set_delay(1, 2, milliseconds(10));
  net.set_delay(0, 3, milliseconds(50));
  net.set_delay(3, 2, milliseconds(50));
}

TEST(TreeRelay, TreeLinksNeedTheBitOnBothEnds) {
  RelayNetwork net(3, tree_on([](size_t i) { return i == 2; }));
  net.link(0, 1);
  net.link(0, 2);
  EXPECT_TRUE(net.node(0).relay->tree_link(peer(1))->tree);
  EXPECT_FALSE(net.node(0).relay->tree_link(peer(2))->tree);
  EXPECT_EQ(net.node(0).relay->stats().tree_peers, 1u);
  auto batch = txs(10);
  for (const TxRef& tx : batch)
    submit_and_run(net, 0, tx, milliseconds(100));
  net.run(std::chrono::seconds(3));
  EXPECT_TRUE(net.all_hold(batch));
  // Node 1 got them pushed; node 2, a pull node, announced and requested.
  EXPECT_EQ(net.node(1).relay->stats().getdata_sent, 0u);
  EXPECT_GT(net.node(2).relay->stats().getdata_sent, 0u);
  EXPECT_EQ(net.sent(MsgType::kTreeTx), batch.size());
  EXPECT_TRUE(net.disconnects.empty());
}

TEST(TreeRelay, TreeMessagesOffATreeLinkScoreAndAreIgnored) {
  RelayNetwork net(2, tree_on([](size_t i) { return i == 1; }));
  net.link(0, 1);
  const TxRef tx = make_tx(1, 0);
  net.node(0).pm.on_message(peer(1), TreeTxMsg{tx, 7}, net.now);
  net.node(0).pm.on_message(peer(1), PruneMsg{{7}}, net.now);
  net.node(0).pm.on_message(peer(1), GraftMsg{{7}}, net.now);
  net.pump();
  EXPECT_EQ(net.node(0).pm.peer_info(peer(1))->misbehaviour, 3 * kScoreUnexpectedTree);
  EXPECT_FALSE(net.holds(0, tx->id()));
}

TEST(TreeRelay, AFloodPrunesToOneBodyPerNodeWithoutRequests) {
  RelayNetwork net(10, tree_on());
  net.ring(true);
  auto batch = txs(20);
  submit_and_run(net, 0, batch[0], milliseconds(300), milliseconds(20));  // floods at first
  EXPECT_GT(total(net, &TxRelayStats::prunes_sent), 0u);
  EXPECT_GT(total(net, &TxRelayStats::duplicate_bodies), 0u);
  const uint64_t bodies = total(net, &TxRelayStats::bodies_received);
  const uint64_t requests = total(net, &TxRelayStats::getdata_sent);
  for (size_t k = 1; k < batch.size(); ++k)
    submit_and_run(net, 0, batch[k], milliseconds(300), milliseconds(20));
  EXPECT_TRUE(net.all_hold(batch));
  // Down the tree: one body per node and transaction, nothing asked for.
  EXPECT_EQ(total(net, &TxRelayStats::bodies_received) - bodies,
            (batch.size() - 1) * (net.size() - 1));
  EXPECT_EQ(total(net, &TxRelayStats::getdata_sent), requests);
  // The lazy links carried announcements, each mostly one way only.
  EXPECT_GT(net.sent(MsgType::kTxInv), 0u);
  EXPECT_TRUE(net.disconnects.empty());
}

TEST(TreeRelay, EachOriginGetsItsOwnShortestPathTree) {
  // A ring of 8 with 10 ms links: a shared tree must cut one link for everybody, which puts some
  // node 7 hops from some origin; per-origin trees keep everyone within 4 hops of both origins.
  RelayNetwork net(8, tree_on());
  net.ring(false);
  for (size_t i = 0; i < 8; ++i)
    net.set_delay(i, (i + 1) % 8, milliseconds(10));
  auto batch = txs(12);
  submit_and_run(net, 0, batch[0]);
  submit_and_run(net, 4, batch[1]);
  for (size_t k = 2; k < batch.size(); ++k) {
    const size_t origin = k % 2 == 0 ? 0 : 4;
    ASSERT_TRUE(net.submit(origin, batch[k]).ok());
    const Time start = net.now;
    std::vector<std::optional<Duration>> reached(8);
    reached[origin] = Duration::zero();
    while (net.now - start < milliseconds(200)) {
      net.run(milliseconds(1), milliseconds(1));
      for (size_t i = 0; i < 8; ++i)
        if (!reached[i] && net.holds(i, batch[k]->id())) reached[i] = net.now - start;
    }
    for (size_t i = 0; i < 8; ++i) {
      const size_t d = (i + 8 - origin) % 8;
      const size_t hops = std::min(d, 8 - d);
      ASSERT_TRUE(reached[i].has_value()) << "node " << i << ", tx " << k;
      EXPECT_EQ(*reached[i], milliseconds(10 * hops)) << "node " << i << ", tx " << k;
    }
  }
}

TEST(TreeRelay, AnAnnouncedBodyIsRequestedOnlyAfterTheGraftTimeoutAndTheRequestGrafts) {
  RelayNetwork net(4, tree_on());
  diamond(net);
  auto batch = txs(3);
  submit_and_run(net, 0, batch[0]);
  submit_and_run(net, 0, batch[1]);
  // Node 2 pruned node 3 for node 0's origin: node 3 announces to it, node 1 pushes.
  EXPECT_EQ(net.node(3).relay->tree_link(peer(2))->pruned_by_peer, 1u);
  EXPECT_EQ(net.node(2).relay->tree_link(peer(1))->parent_of, 1u);
  // Node 1 stops forwarding to node 2 (its pushes are lost on the way).
  net.drop = [](size_t from, size_t to, MsgType) { return from == 1 && to == 2; };
  const uint64_t requests = net.node(2).relay->stats().getdata_sent;
  ASSERT_TRUE(net.submit(0, batch[2]).ok());
  // Node 3 has it at 50 ms and announces it on its trickle; node 2 waits kGraftTimeout more.
  net.run(milliseconds(100), milliseconds(1));
  EXPECT_EQ(net.node(2).relay->stats().getdata_sent, requests);
  net.run(std::chrono::seconds(2), milliseconds(1));
  EXPECT_TRUE(net.holds(2, batch[2]->id()));
  EXPECT_EQ(net.node(2).relay->stats().getdata_sent, requests + 1);
  // Serving the request grafted node 2 at node 3: node 0's origin is pushed to it again.
  EXPECT_EQ(net.node(3).relay->tree_link(peer(2))->pruned_by_peer, 0u);
  EXPECT_GE(net.node(3).relay->stats().grafts_received, 1u);
  EXPECT_EQ(net.node(2).relay->tree_link(peer(3))->parent_of, 1u);
}

TEST(TreeRelay, AParentThatWithholdsIsPrunedAndScoredAndNothingIsLost) {
  RelayNetwork net(4, tree_on());
  diamond(net);
  auto batch = txs(6);
  submit_and_run(net, 0, batch[0]);
  net.drop = [](size_t from, size_t to, MsgType t) {
    return from == 1 && to == 2 && t == MsgType::kTreeTx;
  };
  for (size_t k = 1; k < batch.size(); ++k)
    submit_and_run(net, 0, batch[k]);
  net.run(kWithholdWindow + std::chrono::seconds(1), milliseconds(10));
  EXPECT_TRUE(net.all_hold(batch));
  EXPECT_GE(net.node(2).relay->stats().withheld, 1u);
  EXPECT_GE(net.node(2).pm.peer_info(peer(1))->misbehaviour, kScoreWithheldBody);
  // Node 2 pruned node 0's origin at node 1: no more pushes from there.
  EXPECT_EQ(net.node(1).relay->tree_link(peer(2))->pruned_by_peer, 1u);
  EXPECT_EQ(net.node(2).relay->tree_link(peer(1))->parent_of, 0u);
}

TEST(TreeRelay, AParentWhoseOwnUpstreamBrokeIsNotScored) {
  // Node 1, node 2's parent, stops getting node 0's pushes (lost on the way): it must graft
  // node 4 first, and its body reaches node 2 late. Node 1 scores node 0; node 2 scores nobody.
  RelayNetwork net(5, tree_on());
  diamond(net);
  net.link(0, 4);
  net.link(4, 1);
  net.set_delay(0, 4, milliseconds(50));
  net.set_delay(4, 1, milliseconds(50));
  auto batch = txs(5);
  submit_and_run(net, 0, batch[0]);
  ASSERT_EQ(net.node(2).relay->tree_link(peer(1))->parent_of, 1u);
  net.drop = [](size_t from, size_t to, MsgType t) {
    return from == 0 && to == 1 && t == MsgType::kTreeTx;
  };
  for (size_t k = 1; k < batch.size(); ++k)
    submit_and_run(net, 0, batch[k]);
  net.run(kWithholdWindow + std::chrono::seconds(1), milliseconds(10));
  EXPECT_TRUE(net.all_hold(batch));
  EXPECT_GE(net.node(1).relay->stats().withheld, 1u);
  EXPECT_EQ(net.node(2).relay->stats().withheld, 0u);
  EXPECT_EQ(net.node(2).pm.peer_info(peer(1))->misbehaviour, 0);
}

TEST(TreeRelay, AParentThatIsOnlySlowIsPrunedButNotScored) {
  RelayNetwork net(4, tree_on());
  diamond(net);
  auto batch = txs(4);
  submit_and_run(net, 0, batch[0]);
  // Node 1's link to node 2 turns slow: its bodies come after node 2 has grafted node 3.
  net.set_delay(1, 2, milliseconds(600));
  for (size_t k = 1; k < batch.size(); ++k)
    submit_and_run(net, 0, batch[k], std::chrono::seconds(2));
  net.run(kWithholdWindow + std::chrono::seconds(1), milliseconds(10));
  EXPECT_TRUE(net.all_hold(batch));
  EXPECT_GE(net.node(2).relay->stats().getdata_sent, 1u);
  EXPECT_EQ(net.node(2).relay->stats().withheld, 0u);
  EXPECT_EQ(net.node(2).pm.peer_info(peer(1))->misbehaviour, 0);
  EXPECT_EQ(net.node(1).relay->tree_link(peer(2))->pruned_by_peer, 1u);
}

TEST(TreeRelay, AParentThatDisconnectsIsReplacedByAGraftAtOnce) {
  RelayNetwork net(4, tree_on());
  diamond(net);
  auto batch = txs(3);
  submit_and_run(net, 0, batch[0]);
  submit_and_run(net, 0, batch[1]);
  ASSERT_EQ(net.node(2).relay->tree_link(peer(1))->parent_of, 1u);
  const uint64_t grafts = net.node(2).relay->stats().grafts_sent;
  net.unlink(1, 2);
  EXPECT_EQ(net.node(2).relay->stats().grafts_sent, grafts + 1);
  EXPECT_EQ(net.node(2).relay->tree_link(peer(3))->parent_of, 1u);
  net.run(milliseconds(100), milliseconds(1));  // the graft travels
  EXPECT_EQ(net.node(3).relay->tree_link(peer(2))->pruned_by_peer, 0u);
  // The next transaction is pushed over node 3 at once: no request, no graft timeout.
  const uint64_t requests = net.node(2).relay->stats().getdata_sent;
  ASSERT_TRUE(net.submit(0, batch[2]).ok());
  net.run(milliseconds(101), milliseconds(1));
  EXPECT_TRUE(net.holds(2, batch[2]->id()));
  EXPECT_EQ(net.node(2).relay->stats().getdata_sent, requests);
}

TEST(TreeRelay, ALazyLinkThatKeepsWinningSwapsIn) {
  // Node 2 learns node 0's origin over 0–1–2 while the direct link 0–2 is slow; then the direct
  // link turns fast and 0–1 slow. Node 0 only announces to node 2 (pruned), yet its
  // announcements beat node 1's bodies: after kTreeSwapStreak of them node 2 swaps parents.
  RelayNetwork net(3, tree_on({}, [](TxRelayConfig& rc) {
                     rc.lazy_interval = milliseconds(5);
                     rc.graft_timeout = std::chrono::seconds(1);  // no request meanwhile
                   }));
  net.link(0, 1);
  net.link(1, 2);
  net.link(0, 2);
  net.set_delay(0, 1, milliseconds(10));
  net.set_delay(1, 2, milliseconds(10));
  net.set_delay(0, 2, milliseconds(200));
  auto batch = txs(3 + kTreeSwapStreak + 3);
  submit_and_run(net, 0, batch[0]);
  submit_and_run(net, 0, batch[1]);
  ASSERT_EQ(net.node(2).relay->tree_link(peer(1))->parent_of, 1u);
  net.set_delay(0, 2, milliseconds(1));
  net.set_delay(0, 1, milliseconds(300));
  size_t k = 2;
  for (; k < 2 + kTreeSwapStreak; ++k)
    submit_and_run(net, 0, batch[k]);
  EXPECT_EQ(net.node(2).relay->stats().tree_swaps, 1u);
  EXPECT_EQ(net.node(2).relay->tree_link(peer(0))->parent_of, 1u);
  EXPECT_EQ(net.node(0).relay->tree_link(peer(2))->pruned_by_peer, 0u);  // grafted
  // From now on node 0 pushes to node 2 directly: 1 ms, not 310.
  for (; k < batch.size(); ++k) {
    ASSERT_TRUE(net.submit(0, batch[k]).ok());
    net.run(milliseconds(2), milliseconds(1));
    EXPECT_TRUE(net.holds(2, batch[k]->id()));
    net.run(std::chrono::seconds(1), milliseconds(1));
  }
  EXPECT_EQ(net.node(2).relay->stats().getdata_sent, 0u);
  EXPECT_TRUE(net.all_hold(batch));
}

TEST(TreeRelay, APushedForgeryBansItsSenderAndGoesNoFurther) {
  RelayNetwork net(3, tree_on());
  net.link(0, 1);
  net.link(1, 2);
  const TxRef fake = forged(make_tx(1, 0));
  net.node(1).pm.on_message(peer(0), TreeTxMsg{fake, 7}, net.now);
  net.pump();
  EXPECT_EQ(net.node(1).relay->stats().bad_signatures, 1u);
  ASSERT_EQ(net.disconnects.size(), 1u);
  EXPECT_NE(net.disconnects[0].find("forged"), std::string::npos) << net.disconnects[0];
  EXPECT_FALSE(net.holds(1, fake->id()));
  EXPECT_FALSE(net.holds(2, fake->id()));
  EXPECT_EQ(net.sent(MsgType::kTreeTx), 0u);
}

TEST(TreeRelay, AnUnrequestedTxOnATreeLinkStillScores) {
  // Pushes on a tree link are treetx; a bare tx nobody asked for is what it always was.
  RelayNetwork net(2, tree_on());
  net.link(0, 1);
  net.node(1).pm.on_message(peer(0), TxMsg{make_tx(1, 0)}, net.now);
  net.pump();
  EXPECT_EQ(net.node(1).pm.peer_info(peer(0))->misbehaviour, kScoreUnrequestedTx);
  EXPECT_EQ(net.node(1).relay->stats().unrequested, 1u);
}

TEST(TreeRelay, PrunedOriginsPerPeerAreBounded) {
  RelayNetwork net(2, tree_on());
  net.link(0, 1);
  for (uint32_t round = 0; round < 5; ++round) {
    PruneMsg m;
    for (uint32_t i = 0; i < kMaxTreeOriginEntries; ++i)
      m.origins.push_back(round * 100'000 + i);
    net.node(0).pm.on_message(peer(1), std::move(m), net.now);
    net.pump();  // checks every invariant, the bound included
  }
  EXPECT_EQ(net.node(0).relay->tree_link(peer(1))->pruned_by_peer, kMaxTreeOrigins);
  EXPECT_EQ(net.node(0).relay->stats().prunes_received, 5 * kMaxTreeOriginEntries);
  EXPECT_EQ(net.node(0).pm.peer_info(peer(1))->misbehaviour, 0);
}

TEST(TreeRelay, APruneStaysWhileAnotherOriginIsPrunedAndGraftedThousandsOfTimes) {
  // Only the least recently set origin is forgotten, and only beyond kMaxTreeOrigins of them:
  // churn of one origin never pushes out another that is still there.
  RelayNetwork net(2, tree_on());
  net.link(0, 1);
  net.node(0).pm.on_message(peer(1), PruneMsg{{1}}, net.now);
  for (size_t i = 0; i < 3 * kMaxTreeOrigins; ++i) {
    net.node(0).pm.on_message(peer(1), PruneMsg{{2}}, net.now);
    net.node(0).pm.on_message(peer(1), GraftMsg{{2}}, net.now);
  }
  net.pump();
  EXPECT_EQ(net.node(0).relay->tree_link(peer(1))->pruned_by_peer, 1u);  // origin 1's
}

TEST(TreeRelay, AMixedNetworkOfTreeAndPullNodesDeliversEverything) {
  RelayNetwork net(8, tree_on([](size_t i) { return i % 3 == 2; }));
  net.ring(true);
  auto batch = txs(60);
  for (size_t i = 0; i < batch.size(); ++i)
    ASSERT_TRUE(net.submit(i % net.size(), batch[i]).ok());
  net.run(std::chrono::seconds(5));
  EXPECT_TRUE(net.all_hold(batch));
  EXPECT_GT(net.sent(MsgType::kTreeTx), 0u);
  EXPECT_GT(net.sent(MsgType::kTx), 0u);
  EXPECT_TRUE(net.disconnects.empty());
}

}  // namespace
}  // namespace hearsay
