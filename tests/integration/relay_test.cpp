// Integration tests: real nodes on loopback relaying transactions.
#include <gtest/gtest.h>

#include <set>

#include "crypto/hex.h"
#include "net/ban_list.h"
#include "testing/node_access.h"
#include "testing/testnet.h"

namespace hearsay::test {
namespace {

using namespace std::chrono_literals;

TEST(Relay, ThousandTransactionsReachEveryNodeOfARingWithChords) {
  constexpr size_t kNodes = 10, kTxs = 1000, kSenders = 100;
  TestNet net(kNodes);
  ASSERT_NO_FATAL_FAILURE(start_ring(net));

  std::vector<size_t> injected_at;
  ASSERT_NO_FATAL_FAILURE(injected_at = submit_spread(net, kTxs, kSenders, 7));
  ASSERT_NO_FATAL_FAILURE(wait_all_hold(net, kTxs));

  // Every mempool holds the same ids.
  const auto ids0 = net[0].mempool_ids();
  const std::set<TxId> reference(ids0.begin(), ids0.end());
  double bodies = 0, received = 0;
  for (size_t i = 0; i < kNodes; ++i) {
    const auto ids = net[i].mempool_ids();
    EXPECT_EQ(std::set<TxId>(ids.begin(), ids.end()), reference) << "node " << i;
    const TxRelayStats s = net[i].relay_stats();
    EXPECT_EQ(s.unrequested, 0u) << "node " << i;
    EXPECT_EQ(s.bad_signatures, 0u) << "node " << i;
    EXPECT_EQ(s.rejected, 0u) << "node " << i;
    // Each transaction this node did not inject arrived as a body at least once.
    EXPECT_GE(s.bodies_received, kTxs - injected_at[i]) << "node " << i;
    EXPECT_LE(s.bodies_received, 2 * (kTxs - injected_at[i])) << "node " << i;
    bodies += static_cast<double>(s.bodies_received);
    received += static_cast<double>(kTxs - injected_at[i]);
  }
  const double per_tx = bodies / received;
  std::printf("bodies received per transaction per node: %.3f\n", per_tx);
  EXPECT_LE(per_tx, 2.0);
}

// Half the nodes speak short ids (the default), half were started with --short-ids 0 as an
// older node would be: short-id links between new nodes, full ids wherever an old one is at
// either end, and every transaction everywhere.
TEST(Relay, AMixedNetworkOfShortIdAndFullIdNodesDeliversEverything) {
  constexpr size_t kNodes = 10, kTxs = 400, kSenders = 40;
  TestNet net(kNodes);
  ASSERT_NO_FATAL_FAILURE(
      start_ring(net, [](size_t i, NodeConfig& c) { c.short_ids = i % 2 == 0; }));
  ASSERT_NO_FATAL_FAILURE(submit_spread(net, kTxs, kSenders, 11));
  ASSERT_NO_FATAL_FAILURE(wait_all_hold(net, kTxs));
  for (size_t i = 0; i < kNodes; ++i) {
    const TxRelayStats s = net[i].relay_stats();
    EXPECT_EQ(s.unrequested, 0u) << "node " << i;
    EXPECT_EQ(s.rejected, 0u) << "node " << i;
    if (i % 2 == 1) {
      EXPECT_EQ(s.short_id_peers, 0u) << "node " << i;
    }
    EXPECT_EQ(ready_peers(net[i]), expected_links(i, kNodes)) << "node " << i;
  }
  // The chords i - 4 join new nodes to new nodes: those links ran on short ids.
  EXPECT_GT(net[4].relay_stats().short_id_peers, 0u);
  EXPECT_GT(net[8].relay_stats().short_id_peers, 0u);
}

TEST(Relay, ForgingNodeIsBannedByEveryNeighbourAndNothingForgedSpreads) {
  // Honest ring 0-1-2-3; node 4 (the forger) connects to 0 and 2.
  TestNet net(5);
  net.start(0, {});
  net.start(1, {0});
  net.start(2, {1});
  net.start(3, {2, 0});
  Node& liar = net.start(4, {0, 2});
  ASSERT_TRUE(wait_until([&] { return ready_peers(liar) == 2 && ready_peers(net[1]) == 2; }));

  // The forger skips its own validation: each forged transaction is admitted and announced.
  std::vector<TxRef> forgeries;
  for (uint8_t k = 0; k < 20; ++k) {
    forgeries.push_back(forged(devnet_tx(k, 0)));
    ASSERT_TRUE(NodeTestAccess::submit_unverified(liar, forgeries.back()).ok());
  }
  EXPECT_FALSE(liar.submit(forged(devnet_tx(99, 0))).ok()) << "the checked path refuses forgeries";

  const std::string liar_hex = to_hex(liar.identity());
  auto banned_by = [&](size_t i) {
    for (const BanEntry& b : net[i].host().list_bans())
      if (ban_target_string(b.target) == liar_hex) return true;
    return false;
  };
  ASSERT_TRUE(wait_until([&] { return banned_by(0) && banned_by(2); }));
  ASSERT_TRUE(wait_until([&] { return ready_peers(liar) == 0; }));

  for (size_t i = 0; i < 4; ++i) {
    for (const TxRef& f : forgeries)
      EXPECT_FALSE(net[i].has_transaction(f->id())) << "node " << i;
    EXPECT_EQ(net[i].relay_stats().accepted, 0u) << "node " << i;
  }
  // Nodes 1 and 3 never heard of a forgery: nobody honest announced one.
  EXPECT_EQ(net[1].relay_stats().inv_received, 0u);
  EXPECT_EQ(net[3].relay_stats().inv_received, 0u);
  EXPECT_GE(net[0].relay_stats().bad_signatures, 1u);
  EXPECT_GE(net[2].relay_stats().bad_signatures, 1u);

  // The honest network still works, and the forger stays out when it dials again.
  TxRef good = devnet_tx(200, 0);
  ASSERT_TRUE(net[1].submit(good).ok());
  for (size_t i = 0; i < 4; ++i)
    EXPECT_TRUE(wait_until([&] { return net[i].has_transaction(good->id()); })) << "node " << i;
  EXPECT_EQ(ready_peers(liar), 0u);
  EXPECT_FALSE(liar.has_transaction(good->id()));
}

TEST(Relay, NodeThatWasOfflineCatchesUpOnReconnect) {
  constexpr size_t kTxs = 500;
  TestNet net(5);
  net.start(0, {});
  net.start(1, {0});
  net.start(2, {1});
  net.start(3, {2, 0});
  net.start(4, {0, 2});
  ASSERT_TRUE(wait_until([&] { return ready_peers(net[4]) == 2; }));
  net.stop(4);

  for (size_t k = 0; k < kTxs; ++k)
    ASSERT_TRUE(net[k % 4].submit(devnet_tx(static_cast<uint8_t>(k % 50), k / 50)).ok());
  for (size_t i = 0; i < 4; ++i)
    ASSERT_TRUE(wait_until([&] { return net[i].mempool_size() == kTxs; }, 60s)) << "node " << i;

  Node& back = net.start(4, {0, 2});
  EXPECT_EQ(back.mempool_size(), 0u);
  ASSERT_TRUE(wait_until([&] { return back.mempool_size() == kTxs; }, 20s))
      << "holds " << back.mempool_size() << " of " << kTxs;
  EXPECT_EQ(back.relay_stats().unrequested, 0u);
}

}  // namespace
}  // namespace hearsay::test
