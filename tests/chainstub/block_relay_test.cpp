// BlockRelay on a fake network of in-process nodes (block_harness.h): compact-block relay with
// all, some and none of the transactions at hand, high- and low-bandwidth peers, collisions,
// catch-up after an absence, orphans, invalid blocks and who gets banned for them, reorgs, and
// the bytes a large block costs.
#include "chainstub/block_relay.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "testing/block_harness.h"
#include "testing/block_relay_access.h"

namespace hearsay {
namespace {

using namespace test;

// A line 0 - 1 - 2 - 3 (each dials the next); node 0 produces.
struct Line {
  BlockNet net;
  explicit Line(size_t n = 4) {
    net.add_producer(0);
    for (size_t i = 1; i < n; ++i)
      net.add_node();
    for (size_t i = 0; i + 1 < n; ++i)
      net.connect(i, i + 1);
  }
};

BlockRef generate(BlockNet& net, size_t producer) {
  auto b = net.relay(producer).generate(net.now);
  EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error());
  net.run();
  return b.ok() ? *b : nullptr;
}

// A block on `prev` signed by `key`, holding `txs`, unvalidated (for lying nodes).
BlockRef forge_block(const BlockHeader& prev, const std::vector<TxRef>& txs, const KeyPair& key) {
  return signed_child(prev, txs, prev.time + 1, key);
}

std::vector<uint32_t> indexes_of(const Block& block, const std::vector<TxRef>& txs) {
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < block.txs.size(); ++i)
    for (const TxRef& tx : txs)
      if (block.txs[i]->id() == tx->id()) out.push_back(i);
  return out;
}

// --- compact blocks along a line ---------------------------------------------------------------

TEST(BlockRelayCompact, AllTransactionsInMempoolsNeedNoRoundTrip) {
  Line l;
  BlockNet& net = l.net;
  const auto txs = block_txs(60);
  for (auto& n : net.nodes)
    n->give(txs, net.now);
  BlockRef b = generate(net, 0);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->txs.size(), 60u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(net.node(i).chain->tip_id(), b->header.id()) << i;
    EXPECT_EQ(net.node(i).mempool->size(), 0u) << i;
    EXPECT_EQ(net.node(i).pm->peers().size(), i == 0 || i == 3 ? 1u : 2u);
  }
  for (size_t i = 1; i < 4; ++i) {
    const BlockRelayStats& s = net.relay(i).stats();
    EXPECT_EQ(s.getblocktxn_sent, 0u) << i;
    EXPECT_EQ(s.reconstructed, 1u) << i;
    EXPECT_EQ(s.blocks_received, 0u) << i;
    EXPECT_EQ(s.connected, 1u) << i;
    ASSERT_EQ(net.node(i).events.rebuilt.size(), 1u);
    EXPECT_EQ(net.node(i).events.rebuilt[0].from_mempool, 60u);
    EXPECT_EQ(net.node(i).events.rebuilt[0].missing, 0u);
  }
  EXPECT_EQ(net.relay(0).stats().produced, 1u);
  net.expect_honest_untouched();
}

TEST(BlockRelayCompact, MissingTransactionsAreAskedForExactly) {
  Line l;
  BlockNet& net = l.net;
  const auto txs = block_txs(40);
  // Node 2 lacks three of them (not the nonce chain's heads: a sender's later nonces).
  const std::vector<TxRef> lacking = {txs[5], txs[17], txs[33]};
  std::vector<TxRef> rest;
  for (const TxRef& tx : txs)
    if (std::find(lacking.begin(), lacking.end(), tx) == lacking.end()) rest.push_back(tx);
  for (size_t i = 0; i < 4; ++i)
    net.node(i).give(i == 2 ? rest : txs, net.now);
  const size_t mark = net.log.size();
  BlockRef b = generate(net, 0);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->txs.size(), 40u);
  for (size_t i = 0; i < 4; ++i)
    EXPECT_EQ(net.node(i).chain->tip_id(), b->header.id()) << i;
  // Node 2 asked node 1 for exactly the three, once.
  const auto asks = net.sent<GetBlockTxnMsg>(2, 1, mark);
  ASSERT_EQ(asks.size(), 1u);
  auto want = indexes_of(*b, lacking);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(asks[0].indexes, want);
  EXPECT_EQ(net.relay(2).stats().txs_requested, 3u);
  ASSERT_EQ(net.node(2).events.rebuilt.size(), 1u);
  EXPECT_EQ(net.node(2).events.rebuilt[0].missing, 3u);
  // Nobody else needed a round trip: node 2 prefilled what it had lacked for node 3.
  EXPECT_EQ(net.relay(1).stats().getblocktxn_sent, 0u);
  EXPECT_EQ(net.relay(3).stats().getblocktxn_sent, 0u);
  ASSERT_EQ(net.node(3).events.rebuilt.size(), 1u);
  EXPECT_EQ(net.node(3).events.rebuilt[0].prefilled, 3u);
  net.expect_honest_untouched();
}

TEST(BlockRelayCompact, EmptyMempoolsStillGetTheBlock) {
  Line l;
  BlockNet& net = l.net;
  const auto txs = block_txs(30);
  net.node(0).give(txs, net.now);
  const size_t mark = net.log.size();
  BlockRef b = generate(net, 0);
  ASSERT_TRUE(b);
  for (size_t i = 0; i < 4; ++i)
    EXPECT_EQ(net.node(i).chain->tip_id(), b->header.id()) << i;
  const auto asks = net.sent<GetBlockTxnMsg>(1, 0, mark);
  ASSERT_EQ(asks.size(), 1u);
  EXPECT_EQ(asks[0].indexes.size(), 30u);
  // Node 1 lacked them all and prefills them (they fit kMaxPrefillBytes) for node 2, and so on.
  EXPECT_EQ(net.relay(2).stats().getblocktxn_sent, 0u);
  EXPECT_EQ(net.relay(3).stats().getblocktxn_sent, 0u);
  EXPECT_EQ(net.node(3).events.rebuilt.at(0).prefilled, 30u);
  net.expect_honest_untouched();
}

// --- high- and low-bandwidth peers -------------------------------------------------------------

TEST(BlockRelayBandwidth, HighBandwidthPeersGetThePushOthersAnnounceAndAsk) {
  BlockNet net;
  net.add_producer(0);
  BlockRelayConfig low;
  low.high_bandwidth_peers = 0;
  net.add_node();     // 1: asks node 0 for high-bandwidth mode
  net.add_node();     // 2: likewise
  net.add_node(low);  // 3: low-bandwidth only
  net.add_node(low);  // 4
  for (size_t i = 1; i <= 4; ++i)
    net.connect(i, 0);
  const auto txs = block_txs(20);
  for (auto& n : net.nodes)
    n->give(txs, net.now);
  const size_t mark = net.log.size();
  BlockRef b = generate(net, 0);
  ASSERT_TRUE(b);
  for (size_t i = 1; i <= 4; ++i) {
    EXPECT_EQ(net.node(i).chain->tip_id(), b->header.id()) << i;
    ASSERT_EQ(net.sent<CmpctBlockMsg>(0, i, mark).size(), 1u) << i;
    EXPECT_EQ(net.sent<CmpctBlockMsg>(0, i, mark)[0].header, b->header);
    EXPECT_TRUE(net.sent<BlockMsg>(0, i, mark).empty());
  }
  for (size_t i : {1, 2}) {  // pushed at once: no headers, no getdata
    EXPECT_TRUE(net.sent<HeadersMsg>(0, i, mark).empty()) << i;
    EXPECT_TRUE(net.sent<GetDataMsg>(i, 0, mark).empty()) << i;
  }
  for (size_t i : {3, 4}) {  // announced with headers, then asked for as a compact block
    const auto headers = net.sent<HeadersMsg>(0, i, mark);
    ASSERT_EQ(headers.size(), 1u) << i;
    EXPECT_EQ(headers[0].headers, std::vector<BlockHeader>{b->header});
    const auto gd = net.sent<GetDataMsg>(i, 0, mark);
    ASSERT_EQ(gd.size(), 1u) << i;
    EXPECT_EQ(gd[0].entries, (std::vector<InvEntry>{{InvType::kCmpctBlock, b->header.id()}}));
  }
  net.expect_honest_untouched();
}

TEST(BlockRelayBandwidth, ChoosesFirstPeersPreferredPeersAndRecentDeliverers) {
  BlockNet net;
  BlockRelayConfig cfg;
  cfg.high_bandwidth_peers = 2;
  net.add_node(cfg);  // 0: the node under test
  net.add_node();     // 1..3 dial node 0 (inbound there)
  net.add_node();
  net.add_producer(1);  // 3 produces
  net.add_node();       // 4: node 0 dials it (outbound: preferred)
  const size_t mark = net.log.size();
  for (size_t i = 1; i <= 3; ++i)
    net.connect(i, 0);
  auto hb_of = [&](size_t i, size_t since) {
    const auto m = net.sent<SendCmpctMsg>(0, i, since);
    return m.empty() ? std::optional<bool>() : std::optional<bool>(m.back().high_bandwidth);
  };
  EXPECT_EQ(hb_of(1, mark), true);
  EXPECT_EQ(hb_of(2, mark), true);
  EXPECT_EQ(hb_of(3, mark), false);
  // An outbound peer takes the place of the oldest inbound one.
  size_t at = net.log.size();
  net.connect(0, 4);
  EXPECT_EQ(hb_of(4, at), true);
  EXPECT_EQ(hb_of(1, at), false);
  EXPECT_EQ(net.relay(0).high_bandwidth_peers(),
            (std::vector<PeerId>{net.peer_id(0, 2), net.peer_id(0, 4)}));
  // Node 3 delivers a new block first (announced by headers, fetched as a compact block): it
  // becomes the most recent high-bandwidth peer, and the oldest one makes room.
  at = net.log.size();
  BlockRef b = generate(net, 3);
  ASSERT_TRUE(b);
  EXPECT_EQ(net.node(0).chain->tip_id(), b->header.id());
  EXPECT_EQ(hb_of(3, at), true);
  EXPECT_EQ(hb_of(2, at), false);
  EXPECT_EQ(net.relay(0).high_bandwidth_peers(),
            (std::vector<PeerId>{net.peer_id(0, 4), net.peer_id(0, 3)}));
  // A high-bandwidth peer leaving makes room for another: the first inbound one.
  at = net.log.size();
  net.disconnect(2);  // the links are 1-0, 2-0, 3-0, 0-4
  EXPECT_EQ(hb_of(1, at), true);
  EXPECT_FALSE(hb_of(2, at).has_value());
  EXPECT_EQ(net.relay(0).high_bandwidth_peers(),
            (std::vector<PeerId>{net.peer_id(0, 4), net.peer_id(0, 1)}));
  net.expect_honest_untouched();
}

// --- collisions --------------------------------------------------------------------------------

TEST(BlockRelayCompact, DuplicateShortIdsFallBackToTheFullBlock) {
  BlockNet net;
  net.add_producer(0);
  net.add_node();
  net.connect(1, 0);
  const auto txs = block_txs(10);
  for (auto& n : net.nodes)
    n->give(txs, net.now);
  net.filter = [](size_t from, size_t, Message& m) {
    if (auto* c = std::get_if<CmpctBlockMsg>(&m); c && from == 0 && c->short_ids.size() > 1)
      c->short_ids[1] = c->short_ids[0];  // as if two transactions shared a short id
    return true;
  };
  const size_t mark = net.log.size();
  BlockRef b = generate(net, 0);
  ASSERT_TRUE(b);
  EXPECT_EQ(net.node(1).chain->tip_id(), b->header.id());
  EXPECT_EQ(net.relay(1).stats().collisions, 1u);
  EXPECT_EQ(net.relay(1).stats().blocks_received, 1u);
  const auto gd = net.sent<GetDataMsg>(1, 0, mark);
  ASSERT_EQ(gd.size(), 1u);
  EXPECT_EQ(gd[0].entries, (std::vector<InvEntry>{{InvType::kBlock, b->header.id()}}));
  net.expect_honest_untouched();  // a collision is nobody's fault
}

TEST(BlockRelayCompact, WrongMempoolMatchIsCaughtByTheMerkleRootAndFallsBack) {
  BlockNet net;
  net.add_producer(0);
  net.add_node();
  net.connect(1, 0);
  const auto txs = block_txs(10);
  for (auto& n : net.nodes)
    n->give(txs, net.now);
  const TxRef other = make_tx(99, 0, 5000, 80);  // only node 1 holds it; never in the block
  net.node(1).give({other}, net.now);
  net.filter = [&](size_t from, size_t, Message& m) {
    if (auto* c = std::get_if<CmpctBlockMsg>(&m); c && from == 0 && !c->short_ids.empty())
      c->short_ids[0] = short_id(short_id_key(c->header, c->nonce), other->id());
    return true;
  };
  BlockRef b = generate(net, 0);
  ASSERT_TRUE(b);
  EXPECT_EQ(net.node(1).chain->tip_id(), b->header.id());
  EXPECT_EQ(net.relay(1).stats().collisions, 1u);
  EXPECT_EQ(net.relay(1).stats().blocks_received, 1u);
  EXPECT_TRUE(net.node(1).mempool->contains(other->id()));
  net.expect_honest_untouched();
}

// --- sync --------------------------------------------------------------------------------------

TEST(BlockRelaySync, NodeAwayForTwentyBlocksCatchesUp) {
  BlockNet net;
  net.add_producer(0);
  net.add_node();
  const size_t link = net.connect(1, 0);
  net.disconnect(link);
  for (size_t h = 0; h < 20; ++h) {
    net.node(0).give(block_txs(3, static_cast<uint8_t>(1 + h)), net.now);
    ASSERT_TRUE(generate(net, 0));
  }
  ASSERT_EQ(net.node(0).chain->height(), 20u);
  const size_t mark = net.log.size();
  net.connect(1, 0);
  EXPECT_EQ(net.node(1).chain->tip_id(), net.node(0).chain->tip_id());
  EXPECT_EQ(net.relay(1).stats().blocks_received, 20u);
  EXPECT_EQ(net.relay(1).stats().headers_received, 20u);
  size_t asked = 0;
  for (const GetDataMsg& gd : net.sent<GetDataMsg>(1, 0, mark)) {
    EXPECT_LE(gd.entries.size(), kMaxBlocksInFlightPerPeer);
    asked += gd.entries.size();
  }
  EXPECT_EQ(asked, 20u);  // one request per block
  net.expect_honest_untouched();
}

TEST(BlockRelaySync, UnansweredRequestsGoToAnotherPeerAfterTheTimeout) {
  BlockNet net;
  net.add_producer(0);
  net.add_node();  // 1: in sync with 0
  net.add_node();  // 2: joins late
  net.connect(1, 0);
  for (size_t h = 0; h < 5; ++h)
    ASSERT_TRUE(generate(net, 0));
  ASSERT_EQ(net.node(1).chain->height(), 5u);
  // Node 0 never answers node 2's block requests.
  net.filter = [](size_t from, size_t to, Message& m) {
    return !(from == 0 && to == 2 && std::holds_alternative<BlockMsg>(m));
  };
  net.connect(2, 0);
  EXPECT_EQ(net.node(2).chain->height(), 0u);
  const size_t mark = net.log.size();
  net.connect(2, 1);
  EXPECT_EQ(net.node(2).chain->height(), 0u);  // still waiting for node 0
  net.advance(kBlockDownloadTimeout + 1s);
  EXPECT_EQ(net.node(2).chain->tip_id(), net.node(0).chain->tip_id());
  size_t from_1 = 0;
  for (const GetDataMsg& gd : net.sent<GetDataMsg>(2, 1, mark))
    from_1 += gd.entries.size();
  EXPECT_EQ(from_1, 5u);
  net.expect_honest_untouched();
}

TEST(BlockRelaySync, OrphanAsksForItsAncestorsAndConnectsLater) {
  BlockNet net;
  net.add_producer(0);
  net.add_node();
  net.connect(1, 0);
  // Node 1 hears nothing of blocks 1 and 2.
  net.filter = [](size_t from, size_t, Message& m) {
    if (from != 0) return true;
    const MsgType t = type_of(m);
    return t != MsgType::kCmpctBlock && t != MsgType::kHeaders && t != MsgType::kInv &&
           t != MsgType::kBlock;
  };
  net.node(0).give(block_txs(5), net.now);
  BlockRef b1 = generate(net, 0);
  net.node(0).give(block_txs(5, 10), net.now);
  BlockRef b2 = generate(net, 0);
  ASSERT_TRUE(b1 && b2);
  EXPECT_EQ(net.node(1).chain->height(), 0u);
  net.filter = nullptr;
  const size_t mark = net.log.size();
  net.inject(0, 1, BlockMsg{b2});  // its parent is unknown to node 1
  EXPECT_FALSE(net.sent<GetHeadersMsg>(1, 0, mark).empty());
  EXPECT_EQ(net.node(1).chain->tip_id(), b2->header.id());
  EXPECT_EQ(net.node(1).events.connected, (std::vector<BlockId>{b1->header.id(), b2->header.id()}));
  // Only block 1 was downloaded: block 2 waited in the orphan pool.
  size_t asked = 0;
  for (const GetDataMsg& gd : net.sent<GetDataMsg>(1, 0, mark))
    for (const InvEntry& e : gd.entries) {
      EXPECT_EQ(e.hash, b1->header.id());
      ++asked;
    }
  EXPECT_EQ(asked, 1u);
  net.expect_honest_untouched();
}

TEST(BlockRelaySync, ReorgAcrossTwoProducersUpdatesTheMempool) {
  BlockNet net;
  net.add_producer(0);  // A
  net.add_producer(1);  // B
  net.add_node();       // C
  const TxRef t1 = make_tx(11, 0);
  const TxRef t2 = make_tx(12, 0);
  net.node(0).give({t1}, net.now);
  net.node(1).give({t2}, net.now);
  net.node(2).give({t1, t2}, net.now);
  net.connect(2, 0);
  BlockRef a1 = generate(net, 0);
  ASSERT_TRUE(a1);
  EXPECT_EQ(net.node(2).chain->tip_id(), a1->header.id());
  EXPECT_FALSE(net.node(2).mempool->contains(t1->id()));
  EXPECT_TRUE(net.node(2).mempool->contains(t2->id()));
  // B, alone, builds a longer branch.
  BlockRef b1 = generate(net, 1);
  BlockRef b2 = generate(net, 1);
  ASSERT_TRUE(b1 && b2);
  EXPECT_EQ(b2->header.height, 2u);
  net.connect(2, 1);
  for (size_t i : {0, 2}) {
    EXPECT_EQ(net.node(i).chain->tip_id(), b2->header.id()) << i;
    EXPECT_EQ(net.relay(i).stats().reorgs, 1u) << i;
    EXPECT_EQ(net.node(i).events.disconnected, std::vector<BlockId>{a1->header.id()}) << i;
    EXPECT_TRUE(net.node(i).mempool->contains(t1->id())) << i;   // returned
    EXPECT_FALSE(net.node(i).mempool->contains(t2->id())) << i;  // confirmed by b1
  }
  net.expect_honest_untouched();
}

// --- invalid blocks ----------------------------------------------------------------------------

// Node 0 lies; 0 - 1 - 2, node 1 asks node 0 for high-bandwidth mode or not.
void expect_liar_banned(bool high_bandwidth, const std::function<BlockRef(BlockNet&)>& make) {
  BlockNet net;
  BlockRelayConfig cfg;
  cfg.high_bandwidth_peers = high_bandwidth ? 3 : 0;
  net.add_node();     // 0: the liar
  net.add_node(cfg);  // 1
  net.add_node();     // 2
  net.connect(0, 1);
  net.connect(1, 2);
  BlockRef bad = make(net);
  BlockRelayTestAccess::relay_unchecked(net.relay(0), bad, net.now);
  net.run();
  const BlockId id = bad->header.id();
  for (size_t i : {1, 2}) {
    EXPECT_EQ(net.node(i).chain->height(), 0u) << i;
    EXPECT_FALSE(net.node(i).chain->have_body(id)) << i;
  }
  ASSERT_EQ(net.node(1).bans.size(), 1u);
  EXPECT_EQ(net.node(1).bans[0].identity, node_key(0).public_key());
  EXPECT_FALSE(net.links[0].up);
  EXPECT_TRUE(net.links[1].up);
  EXPECT_EQ(net.relay(1).stats().rejected, 1u);
  ASSERT_EQ(net.node(1).events.rejected.size(), 1u);
  EXPECT_EQ(net.node(1).events.rejected[0].first, id);
  EXPECT_TRUE(net.node(2).events.first_seen.empty());  // never relayed on
  net.expect_honest_untouched({0});
}

BlockRef unauthorised_block(BlockNet& net) {
  const auto txs = block_txs(4);
  for (auto& n : net.nodes)
    n->give(txs, net.now);
  return forge_block(net.node(0).chain->tip(), txs, test_key(kRogueProducer));
}

BlockRef forged_tx_block(BlockNet& net) {
  auto txs = block_txs(4);
  for (auto& n : net.nodes)
    n->give(txs, net.now);
  txs.push_back(forged(make_tx(77, 0)));  // signed by an authorised producer all the same
  return forge_block(net.node(0).chain->tip(), txs, producer_key(1));
}

TEST(BlockRelayInvalid, UnauthorisedProducerBansTheRelayerCompact) {
  expect_liar_banned(true, unauthorised_block);
}
TEST(BlockRelayInvalid, UnauthorisedProducerBansTheRelayerFullBlock) {
  expect_liar_banned(false, unauthorised_block);
}
TEST(BlockRelayInvalid, ForgedTransactionBansTheRelayerCompact) {
  expect_liar_banned(true, forged_tx_block);
}
TEST(BlockRelayInvalid, ForgedTransactionBansTheRelayerFullBlock) {
  expect_liar_banned(false, forged_tx_block);
}

TEST(BlockRelayInvalid, ForgedTransactionBlockIsRememberedAsFailed) {
  BlockNet net;
  net.add_node();
  net.add_node();
  net.connect(0, 1);
  BlockRef bad = forged_tx_block(net);
  BlockRelayTestAccess::relay_unchecked(net.relay(0), bad, net.now);
  net.run();
  EXPECT_TRUE(net.node(1).chain->is_failed(bad->header.id()));
  EXPECT_EQ(net.node(1).events.rejected.at(0).second, "tx-bad-signature");
  // The same block submitted locally is refused, nobody banned.
  AcceptResult r = net.relay(1).submit_block(bad, net.now);
  EXPECT_NE(r.error, BlockError::kOk);
  EXPECT_EQ(net.node(1).bans.size(), 1u);
}

// --- answers -----------------------------------------------------------------------------------

TEST(BlockRelayAnswers, ServesWhatItStoresAndScoresNonsense) {
  BlockNet net;
  net.add_producer(0);
  net.add_node();
  net.connect(1, 0);
  net.node(0).give(block_txs(5), net.now);
  BlockRef b = generate(net, 0);
  ASSERT_TRUE(b);
  const BlockId id = b->header.id();
  const BlockId unknown = numbered_id(1, 0x99);
  size_t mark = net.log.size();
  net.inject(1, 0, GetDataMsg{{{InvType::kBlock, unknown}, {InvType::kBlock, id}}});
  ASSERT_EQ(net.sent<NotFoundMsg>(0, 1, mark).size(), 1u);
  EXPECT_EQ(net.sent<NotFoundMsg>(0, 1, mark)[0].entries,
            (std::vector<InvEntry>{{InvType::kBlock, unknown}}));
  ASSERT_EQ(net.sent<BlockMsg>(0, 1, mark).size(), 1u);
  EXPECT_EQ(net.sent<BlockMsg>(0, 1, mark)[0].block->header, b->header);

  mark = net.log.size();
  net.inject(1, 0, GetDataMsg{{{InvType::kCmpctBlock, id}}});
  ASSERT_EQ(net.sent<CmpctBlockMsg>(0, 1, mark).size(), 1u);
  EXPECT_EQ(net.sent<CmpctBlockMsg>(0, 1, mark)[0].short_ids.size(), 5u);

  mark = net.log.size();
  net.inject(1, 0, GetBlockTxnMsg{id, {0, 4}});
  net.inject(1, 0, GetBlockTxnMsg{unknown, {0}});  // ignored
  const auto txn = net.sent<BlockTxnMsg>(0, 1, mark);
  ASSERT_EQ(txn.size(), 1u);
  ASSERT_EQ(txn[0].txs.size(), 2u);
  EXPECT_EQ(txn[0].txs[0]->id(), b->txs[0]->id());
  EXPECT_EQ(txn[0].txs[1]->id(), b->txs[4]->id());

  mark = net.log.size();
  net.inject(1, 0, InvMsg{{{InvType::kBlock, unknown}}});
  EXPECT_EQ(net.sent<GetHeadersMsg>(0, 1, mark).size(), 1u);
  net.expect_honest_untouched();

  net.inject(1, 0, GetBlockTxnMsg{id, {5}});  // out of range: misbehaviour
  EXPECT_FALSE(net.links[0].up);
  ASSERT_FALSE(net.node(0).disconnect_reasons.empty());
  EXPECT_NE(net.node(0).disconnect_reasons.back().find("getblocktxn"), std::string::npos);
}

// --- size --------------------------------------------------------------------------------------

TEST(BlockRelaySize, TwoThousandTransactionBlockCostsUnderTenPercentPerLink) {
  Line l;
  BlockNet& net = l.net;
  const auto txs = block_txs(2000);
  for (auto& n : net.nodes)
    n->give(txs, net.now);
  net.reset_bytes();
  BlockRef b = generate(net, 0);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->txs.size(), 2000u);
  const size_t full = b->encoded_size();
  for (size_t i = 0; i < 4; ++i)
    EXPECT_EQ(net.node(i).chain->tip_id(), b->header.id()) << i;
  ::testing::Test::RecordProperty("block_bytes", static_cast<int>(full));
  for (size_t li = 0; li < net.links.size(); ++li) {
    ::testing::Test::RecordProperty("link_" + std::to_string(li) + "_bytes",
                                    static_cast<int>(net.link_bytes(li)));
    EXPECT_GT(net.link_bytes(li), 0u);
    EXPECT_LT(net.link_bytes(li) * 10, full)
        << "link " << li << ": " << net.link_bytes(li) << " bytes for a block of " << full;
  }
}

// --- production --------------------------------------------------------------------------------

TEST(BlockRelayProduce, IntervalProducesAndNonProducerRefuses) {
  BlockNet net;
  BlockRelayConfig cfg;
  cfg.block_interval = 10s;
  net.add_producer(0, cfg);
  net.add_node();
  net.connect(1, 0);
  net.advance(35s);
  EXPECT_EQ(net.node(0).chain->height(), 3u);
  EXPECT_EQ(net.node(1).chain->tip_id(), net.node(0).chain->tip_id());
  EXPECT_TRUE(net.relay(0).is_producer());
  EXPECT_FALSE(net.relay(1).is_producer());
  auto r = net.relay(1).generate(net.now);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("--producer-key"), std::string::npos);
}

}  // namespace
}  // namespace hearsay
