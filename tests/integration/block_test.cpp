// Block relay between real nodes on loopback (real TLS, real LevelDB chains and
// mempools) producing and relaying blocks.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "crypto/hex.h"
#include "net/ban_list.h"
#include "testing/node_access.h"
#include "testing/testnet.h"

namespace hearsay::test {
namespace {

using namespace std::chrono_literals;

// The wire commands that carry a block or negotiate how blocks are sent. (inv and getdata are
// shared with transactions and are not counted.)
const std::set<std::string> kBlockCommands = {"cmpctblock", "getblocktxn", "blocktxn",
                                              "block",      "headers",     "sendcmpct",
                                              "getheaders", "sendheaders"};

uint64_t block_bytes_sent(const PeerStats& p) {
  uint64_t bytes = 0;
  for (size_t t = 0; t < kMsgTypeCount; ++t)
    if (kBlockCommands.count(command_name(static_cast<MsgType>(t))) != 0)
      bytes += p.traffic.bytes_out[t];
  return bytes;
}

bool banned_by(Node& n, const PublicKey& who) {
  const std::string hex = to_hex(who);
  for (const BanEntry& b : n.host().list_bans())
    if (ban_target_string(b.target) == hex) return true;
  return false;
}

bool stores_body(Node& n, const BlockId& id) {
  return n.with_chain([&](BlockRelay&, ChainState& c, Mempool&) { return c.have_body(id); });
}

// A block on `parent` holding `txs`, signed by `key` (authorised or not), unvalidated.
BlockRef make_block(const BlockHeader& parent, std::vector<TxRef> txs, const KeyPair& key) {
  return signed_child(parent, std::move(txs), parent.time, key);
}

TEST(Blocks, BlockOfTwoThousandTransactionsReachesEightNodesInUnderTenPercentOfItsSize) {
  constexpr size_t kNodes = 8, kTxs = 2000, kSenders = 200;
  TestNet net(kNodes);
  ASSERT_NO_FATAL_FAILURE(start_ring(net, [](size_t i, NodeConfig& c) {
    if (i == 0) make_producer(c);
  }));

  ASSERT_NO_FATAL_FAILURE(submit_spread(net, kTxs, kSenders, 8));
  ASSERT_NO_FATAL_FAILURE(wait_all_hold(net, kTxs));

  auto block = net[0].generate_block();
  ASSERT_TRUE(block.ok()) << block.error();
  ASSERT_EQ((*block)->txs.size(), kTxs);
  const BlockId id = (*block)->header.id();
  for (size_t i = 0; i < kNodes; ++i) {
    ASSERT_TRUE(wait_until([&] { return tip_of(net[i]) == id; }, 30s))
        << "node " << i << " is at height " << net[i].chain_info().height;
    EXPECT_EQ(net[i].chain_info().height, 1u);
    EXPECT_TRUE(wait_until([&] { return net[i].mempool_size() == 0; }, 10s))
        << "node " << i << " still holds " << net[i].mempool_size();
  }

  // Bytes each node sent each neighbour for the block, against the block's full size.
  std::map<PublicKey, size_t> index;
  for (size_t i = 0; i < kNodes; ++i)
    index[net[i].identity()] = i;
  const size_t full = (*block)->encoded_size();
  std::printf("block: %zu transactions, %zu bytes\n", kTxs, full);
  size_t links = 0;
  for (size_t i = 0; i < kNodes; ++i) {
    const BlockRelayStats s = net[i].block_stats();
    std::printf("node %zu: reconstructed %llu, transactions requested %llu, full blocks %llu\n", i,
                static_cast<unsigned long long>(s.reconstructed),
                static_cast<unsigned long long>(s.txs_requested),
                static_cast<unsigned long long>(s.blocks_received));
    for (const PeerStats& p : net[i].peer_stats()) {
      ASSERT_TRUE(p.identity);
      const uint64_t bytes = block_bytes_sent(p);
      std::printf("  link %zu -> %zu: %llu bytes for the block (%.2f %% of its size)\n", i,
                  index.at(*p.identity), static_cast<unsigned long long>(bytes),
                  100.0 * static_cast<double>(bytes) / static_cast<double>(full));
      EXPECT_LT(bytes * 10, full) << "link " << i << " -> " << index.at(*p.identity);
      ++links;
    }
  }
  EXPECT_EQ(links, 2 * 12u);  // 12 links, both directions
}

TEST(Blocks, InvalidBlocksAreAcceptedByNoHonestNodeAndTheirRelayerIsBanned) {
  // Honest ring 0-1-2-3 (node 0 produces). Liar 4 dials 0 and 2 and relays a block signed by a
  // key the devnet does not authorise; liar 5 dials 1 and 3 and relays a block by the devnet's
  // producer 0 holding one forged transaction.
  TestNet net(6);
  net.start(0, {}, make_producer);
  net.start(1, {0});
  net.start(2, {1});
  net.start(3, {2, 0});
  net.start(4, {0, 2});
  net.start(5, {1, 3});
  for (size_t i = 0; i < 6; ++i)
    ASSERT_TRUE(wait_until([&] { return ready_peers(net[i]) == (i < 4 ? 3u : 2u); }))
        << "node " << i << " has " << ready_peers(net[i]) << " ready peers";

  auto first = net[0].generate_block();
  ASSERT_TRUE(first.ok()) << first.error();
  const BlockId tip = (*first)->header.id();
  for (size_t i = 0; i < 6; ++i)
    ASSERT_TRUE(wait_until([&] { return tip_of(net[i]) == tip; })) << "node " << i;

  const BlockRef unauthorised = make_block((*first)->header, {devnet_tx(50, 0)}, test_key(9));
  const BlockRef with_forgery = make_block(
      (*first)->header, {devnet_tx(51, 0), forged(devnet_tx(52, 0))}, devnet_producer_key(0));
  NodeTestAccess::relay_block_unchecked(net[4], unauthorised);
  NodeTestAccess::relay_block_unchecked(net[5], with_forgery);

  const PublicKey liar4 = net[4].identity(), liar5 = net[5].identity();
  ASSERT_TRUE(wait_until([&] {
    return banned_by(net[0], liar4) && banned_by(net[2], liar4) && banned_by(net[1], liar5) &&
           banned_by(net[3], liar5);
  })) << "bans: 0→4 "
      << banned_by(net[0], liar4) << ", 2→4 " << banned_by(net[2], liar4) << ", 1→5 "
      << banned_by(net[1], liar5) << ", 3→5 " << banned_by(net[3], liar5);
  ASSERT_TRUE(wait_until([&] { return ready_peers(net[4]) == 0 && ready_peers(net[5]) == 0; }));

  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(tip_of(net[i]), tip) << "node " << i;
    EXPECT_FALSE(stores_body(net[i], unauthorised->header.id())) << "node " << i;
    EXPECT_FALSE(stores_body(net[i], with_forgery->header.id())) << "node " << i;
    EXPECT_EQ(net[i].block_stats().connected, 1u) << "node " << i;
  }

  // The honest network still produces and relays.
  ASSERT_TRUE(net[2].submit(devnet_tx(60, 0)).ok());
  ASSERT_TRUE(wait_until([&] { return net[0].mempool_size() == 1; }));
  auto second = net[0].generate_block();
  ASSERT_TRUE(second.ok()) << second.error();
  EXPECT_EQ((*second)->txs.size(), 1u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(wait_until([&] { return tip_of(net[i]) == (*second)->header.id(); }))
        << "node " << i;
    EXPECT_EQ(net[i].chain_info().height, 2u);
  }
}

TEST(Blocks, NodeOfflineForTwentyBlocksCatchesUpAndDropsWhatTheyConfirmed) {
  TestNet net(3);
  net.start(0, {}, make_producer);
  net.start(1, {0});
  net.start(2, {1});
  ASSERT_TRUE(wait_until([&] { return ready_peers(net[1]) == 2 && ready_peers(net[2]) == 1; }));

  auto first = net[0].generate_block();
  ASSERT_TRUE(first.ok()) << first.error();
  for (size_t i = 0; i < 3; ++i)
    ASSERT_TRUE(wait_until([&] { return tip_of(net[i]) == (*first)->header.id(); }));

  // Ten transactions every node holds, then node 2 goes away.
  std::vector<TxRef> confirmed;
  for (uint8_t k = 0; k < 10; ++k) {
    confirmed.push_back(devnet_tx(k, 0));
    ASSERT_TRUE(net[1].submit(confirmed.back()).ok());
  }
  for (size_t i = 0; i < 3; ++i)
    ASSERT_TRUE(wait_until([&] { return net[i].mempool_size() == 10; })) << "node " << i;
  net.stop(2);

  // Restarted alone, it reloads its chain (and its mempool) before any peer connects.
  {
    Node& alone = net.start(2, {});
    EXPECT_EQ(tip_of(alone), (*first)->header.id());
    EXPECT_EQ(alone.chain_info().height, 1u);
    EXPECT_EQ(alone.mempool_size(), 10u);
    EXPECT_EQ(ready_peers(alone), 0u);
    net.stop(2);
  }

  // Twenty blocks while it is away: the ten in the first, three new ones in two others.
  for (size_t b = 0; b < 20; ++b) {
    if (b == 7 || b == 14) {
      for (size_t k = 0; k < 3; ++k) {
        confirmed.push_back(devnet_tx(static_cast<uint8_t>(100 + b + k), 0));
        ASSERT_TRUE(net[0].submit(confirmed.back()).ok());
      }
    }
    auto block = net[0].generate_block();
    ASSERT_TRUE(block.ok()) << block.error();
    EXPECT_EQ((*block)->txs.size(), b == 0 ? 10u : (b == 7 || b == 14) ? 3u : 0u) << "block " << b;
  }
  const ChainInfo producer = net[0].chain_info();
  ASSERT_EQ(producer.height, 21u);
  EXPECT_EQ(producer.txs_confirmed, confirmed.size());
  ASSERT_TRUE(wait_until([&] { return tip_of(net[1]) == producer.tip; }));

  TempDir trace_dir;
  const std::string trace = trace_dir.file("trace.jsonl");
  Node& back = net.start(2, {1}, [&](NodeConfig& c) { c.trace_path = trace; });
  ASSERT_TRUE(wait_until([&] { return tip_of(back) == producer.tip; }, 20s))
      << "node 2 is at height " << back.chain_info().height;
  EXPECT_EQ(back.chain_info().height, 21u);
  EXPECT_TRUE(wait_until([&] { return back.mempool_size() == 0; }, 10s))
      << "holds " << back.mempool_size();
  for (const TxRef& tx : confirmed)
    EXPECT_FALSE(back.has_transaction(tx->id()));
  EXPECT_EQ(back.chain_info().txs_confirmed, confirmed.size());

  // Its trace tells the catch-up: twenty blocks first seen from its peer, twenty connected.
  net.stop(2);  // flushes the trace
  std::ifstream in(trace);
  size_t first_seen = 0, connected = 0;
  uint64_t last_height = 0;
  for (std::string line; std::getline(in, line);) {
    const boost::json::object ev = boost::json::parse(line).as_object();
    if (ev.at("ev") == "block_first_seen") {
      ++first_seen;
      EXPECT_NE(ev.at("from"), "local");
    } else if (ev.at("ev") == "block_connected") {
      ++connected;
      last_height = ev.at("height").to_number<uint64_t>();
    }
  }
  EXPECT_EQ(first_seen, 20u);
  EXPECT_EQ(connected, 20u);
  EXPECT_EQ(last_height, 21u);
}

}  // namespace
}  // namespace hearsay::test
