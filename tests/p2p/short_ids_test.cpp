// Short-id relay (p2p/tx_relay.h, "Short ids"): negotiation, interoperation with peers that
// do not speak it, one body per transaction when several peers announce it, and collisions
// forced by narrowing the ids on chosen links. Whole networks of real PeerManager + TxRelay +
// Mempool nodes in one process (testing/relay_network.h).
#include <gtest/gtest.h>

#include "testing/relay_network.h"
#include "testing/tx_factory.h"

namespace hearsay {
namespace {

using namespace test;

// Every node sets kServiceShortIds (the node's default) unless `old` says it is an old one.
RelayNetwork::Tweak short_ids_on(std::function<bool(size_t)> old = {}) {
  return [old](size_t i, TxRelayConfig&, PeerManagerConfig& pc) {
    if (!old || !old(i)) pc.services |= kServiceShortIds;
  };
}

std::vector<TxRef> txs(size_t n, uint8_t first_sender = 1) {
  std::vector<TxRef> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(make_tx(static_cast<uint8_t>(first_sender + i % 8), i / 8));
  return out;
}

TEST(ShortIds, BothSidesNegotiateAndRelayBySixByteIds) {
  RelayNetwork net(2, short_ids_on());
  net.link(0, 1);
  EXPECT_EQ(net.node(0).relay->stats().short_id_peers, 1u);
  EXPECT_EQ(net.node(1).relay->stats().short_id_peers, 1u);
  auto batch = txs(20);
  for (const TxRef& tx : batch)
    ASSERT_TRUE(net.submit(0, tx).ok());
  net.run(std::chrono::seconds(3));  // node 1 asks an inbound peer after kNonPreferredDelay
  EXPECT_TRUE(net.all_hold(batch));
  EXPECT_GT(net.sent(MsgType::kTxInv), 0u);
  EXPECT_GT(net.sent(MsgType::kGetTx), 0u);
  EXPECT_EQ(net.sent(MsgType::kInv), 0u);
  EXPECT_EQ(net.sent(MsgType::kGetData), 0u);
  EXPECT_TRUE(net.disconnects.empty());
}

TEST(ShortIds, APeerWithoutTheBitGetsFullIdsAndNoSendShortIds) {
  RelayNetwork net(2, short_ids_on([](size_t i) { return i == 1; }));
  net.link(0, 1);
  EXPECT_EQ(net.sent(MsgType::kSendShortIds), 0u);
  auto batch = txs(10);
  for (const TxRef& tx : batch)
    ASSERT_TRUE(net.submit(0, tx).ok());
  net.run(std::chrono::seconds(3));
  EXPECT_TRUE(net.all_hold(batch));
  EXPECT_EQ(net.sent(MsgType::kTxInv), 0u);
  EXPECT_GT(net.sent(MsgType::kInv), 0u);
}

TEST(ShortIds, AMixedNetworkOfOldAndNewNodesDeliversEverythingEverywhere) {
  // Eight nodes, every other one old, in a ring with chords: old–new, new–new and old–old links.
  RelayNetwork net(8, short_ids_on([](size_t i) { return i % 2 == 1; }));
  net.ring(true);
  auto batch = txs(120);
  for (size_t i = 0; i < batch.size(); ++i)
    ASSERT_TRUE(net.submit(i % net.size(), batch[i]).ok());
  net.run(std::chrono::seconds(5));
  EXPECT_TRUE(net.all_hold(batch));
  EXPECT_GT(net.sent(MsgType::kTxInv), 0u);  // new–new links
  EXPECT_GT(net.sent(MsgType::kInv), 0u);    // links with an old node
  EXPECT_TRUE(net.disconnects.empty());
}

TEST(ShortIds, ATransactionAnnouncedByThreePeersIsFetchedOnce) {
  // Nodes 0–2 hold the transactions; node 3 connects to all three at once, so their
  // announcements (anti-entropy) reach it before any body: same bucket, one request each.
  RelayNetwork net(4, short_ids_on());
  auto batch = txs(30);
  for (size_t i = 0; i < 3; ++i)
    for (const TxRef& tx : batch)
      ASSERT_TRUE(net.node(i).relay->submit(tx, true, net.now).ok());
  for (size_t i = 0; i < 3; ++i) {
    net.node(3).pm.on_connected(conn(RelayNetwork::peer_of(i), RelayNetwork::key_of(i), false),
                                net.now);
    net.node(i).pm.on_connected(conn(RelayNetwork::peer_of(3), RelayNetwork::key_of(3), true),
                                net.now);
  }
  net.pump();
  net.run(std::chrono::seconds(3));
  EXPECT_TRUE(net.all_hold(batch));
  const TxRelayStats& s = net.node(3).relay->stats();
  EXPECT_EQ(s.bodies_received, batch.size());
  EXPECT_EQ(s.duplicate_bodies, 0u);
  EXPECT_EQ(s.short_id_unknown, 3 * batch.size());  // nothing known when they arrived
}

TEST(ShortIds, AnnouncedIdsKnownToTheReceiverAreNotFetchedAgain) {
  RelayNetwork net(3, short_ids_on());
  net.link(0, 1);
  net.link(1, 2);
  auto batch = txs(20);
  for (const TxRef& tx : batch)
    ASSERT_TRUE(net.submit(0, tx).ok());
  net.run(std::chrono::seconds(5));
  ASSERT_TRUE(net.all_hold(batch));
  // Node 0 meets node 2, which already holds everything: its anti-entropy announcements all match
  // what node 2 saw, so nothing is requested.
  const uint64_t gettx_before = net.sent(MsgType::kGetTx);
  net.link(0, 2);
  EXPECT_EQ(net.sent(MsgType::kGetTx), gettx_before);
  EXPECT_EQ(net.node(2).relay->stats().bodies_received, batch.size());
}

// Narrows the short ids of the link between nodes a and b to `mask` on both ends.
RelayNetwork::Tweak narrowed_link(size_t a, size_t b, uint64_t mask) {
  return [=](size_t i, TxRelayConfig& rc, PeerManagerConfig& pc) {
    pc.services |= kServiceShortIds;
    if (i != a && i != b) return;
    rc.short_id_mask = mask;
    rc.short_id_mask_peers = {RelayNetwork::key_of(i == a ? b : a).public_key()};
  };
}

TEST(ShortIds, CollisionsWithinOneAnnouncementGoByFullIdAndLoseNothing) {
  // Every id is 0 on the link: ten transactions queued at once share one short id.
  RelayNetwork net(2, narrowed_link(0, 1, 0));
  net.link(0, 1);
  auto batch = txs(10);
  for (const TxRef& tx : batch)
    ASSERT_TRUE(net.node(0).relay->submit(tx, true, net.now).ok());
  net.pump();
  net.run(std::chrono::seconds(2));
  EXPECT_TRUE(net.all_hold(batch));
  EXPECT_EQ(net.node(0).relay->stats().short_id_collisions, batch.size() - 1);
  EXPECT_GT(net.sent(MsgType::kInv), 0u);
}

// A catch-up larger than the short ids a sender remembers per peer: the ids beyond go by full
// id, so none is forgotten before the receiver asks for it (it would be answered txnotfound and,
// with no other announcer, not fetched at all).
TEST(ShortIds, AnAnnouncementLargerThanTheShortIdMemoryLosesNothing) {
  RelayNetwork net(2, short_ids_on());
  const std::vector<TxRef> batch = block_txs(kAnnouncedShortIdsPerPeer + 100, 10);
  for (const TxRef& tx : batch)
    ASSERT_TRUE(net.node(0).relay->submit(tx, true, net.now).ok());
  net.link(0, 1);
  net.run(std::chrono::seconds(5));  // well within the 60 s request timeout
  EXPECT_TRUE(net.all_hold(batch));
  EXPECT_EQ(net.node(0).relay->stats().short_id_collisions, 0u);
  EXPECT_GE(net.sent(MsgType::kInv), 1u);
  EXPECT_EQ(net.sent(MsgType::kTxNotFound), 0u);
}

TEST(ShortIds, UnknownIdsOfOneBucketFromOnePeerAreAskedForInOneGetTx) {
  // The bucket part is cut to nothing on the link, the link part to 8 bits: ten new ids from one
  // peer all fall in one bucket, which the tracker holds one of; the rest go in one gettx at once.
  // Node 0 announces on a trickle, so that the ten leave in one txinv.
  RelayNetwork net(2, [](size_t i, TxRelayConfig& rc, PeerManagerConfig& pc) {
    narrowed_link(0, 1, 0xff)(i, rc, pc);
    if (i == 0) rc.inv_interval = std::chrono::milliseconds(500);
  });
  net.link(0, 1);
  auto batch = txs(10);
  for (const TxRef& tx : batch)
    ASSERT_TRUE(net.node(0).relay->submit(tx, true, net.now).ok());
  net.pump();
  net.run(std::chrono::seconds(3));
  EXPECT_TRUE(net.all_hold(batch));
  EXPECT_LE(net.sent(MsgType::kGetTx), 2u);
  EXPECT_EQ(net.node(1).relay->stats().duplicate_bodies, 0u);
}

TEST(ShortIds, ACollisionWithWhatTheReceiverHoldsCostsOnlyThatLink) {
  // Triangle: the link 0–1 collides everything; 0–2 and 2–1 are ordinary. Node 1 holds c and node
  // 0 holds d when they meet: each takes the other's announcement for its own transaction. Both
  // still reach every node through node 2, and node 0 resends by full id when it meets c.
  RelayNetwork net(3, narrowed_link(0, 1, 0));
  const TxRef c = make_tx(1, 0), d = make_tx(2, 0);
  ASSERT_TRUE(net.node(1).relay->submit(c, true, net.now).ok());
  ASSERT_TRUE(net.node(0).relay->submit(d, true, net.now).ok());
  net.link(0, 1);
  EXPECT_FALSE(net.holds(0, c->id()));  // taken for each other on that link
  EXPECT_FALSE(net.holds(1, d->id()));
  net.link(0, 2);
  net.link(2, 1);
  net.run(std::chrono::seconds(2));
  EXPECT_TRUE(net.all_hold({c, d}));
  EXPECT_GE(net.node(0).relay->stats().short_id_collisions, 1u);
}

TEST(ShortIds, ManyNarrowedLinksInABusyNetworkStillDeliverEverything) {
  // 16-bit ids on the links among nodes 0–4 of a ten-node network (bucket and link bits), with
  // 300 transactions from every node: collisions happen within announcements and with what
  // receivers hold; every transaction still reaches every node.
  RelayNetwork net(10, [](size_t i, TxRelayConfig& rc, PeerManagerConfig& pc) {
    pc.services |= kServiceShortIds;
    if (i >= 5) return;
    rc.short_id_mask = 0x00ff'0000'00ffULL;
    for (size_t j = 0; j < 5; ++j)
      if (j != i) rc.short_id_mask_peers.push_back(RelayNetwork::key_of(j).public_key());
  });
  net.ring(true);
  auto batch = txs(300);
  for (size_t i = 0; i < batch.size(); ++i)
    ASSERT_TRUE(net.submit(i % net.size(), batch[i]).ok());
  net.run(std::chrono::seconds(5));
  EXPECT_TRUE(net.all_hold(batch));
  uint64_t collisions = 0;
  for (size_t i = 0; i < net.size(); ++i)
    collisions += net.node(i).relay->stats().short_id_collisions;
  EXPECT_GT(collisions, 0u);
}

TEST(ShortIds, ShortIdMessagesOutsideShortIdModeScoreAndAreIgnored) {
  RelayNetwork net(2, short_ids_on([](size_t i) { return i == 1; }));
  net.link(0, 1);
  net.node(0).pm.on_message(RelayNetwork::peer_of(1), TxInvMsg{{1, 2, 3}}, net.now);
  net.node(0).pm.on_message(RelayNetwork::peer_of(1), GetTxMsg{{1}}, net.now);
  net.pump();
  EXPECT_EQ(net.node(0).pm.peer_info(RelayNetwork::peer_of(1))->misbehaviour,
            2 * kScoreUnexpectedShortIds);
  EXPECT_EQ(net.sent(MsgType::kTx), 0u);
}

TEST(ShortIds, AGetTxForAnIdNeverAnnouncedIsAnsweredWithTxNotFound) {
  RelayNetwork net(2, short_ids_on());
  net.link(0, 1);
  ASSERT_TRUE(net.submit(0, make_tx(1, 0)).ok());
  const uint64_t before = net.sent(MsgType::kTxNotFound);
  net.node(0).pm.on_message(RelayNetwork::peer_of(1), GetTxMsg{{0x1234}}, net.now);
  net.pump();
  EXPECT_EQ(net.sent(MsgType::kTxNotFound), before + 1);
}

}  // namespace
}  // namespace hearsay
