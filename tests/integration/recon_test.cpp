// Integration tests: real nodes on loopback repairing their mempools by set reconciliation
// (p2p/tx_relay.h, "Set reconciliation"): after a reconnect, after a partition heals, and after
// announcements were lost.
//
// Each test fails without reconciliation (checked by running them with NodeConfig::reconcile =
// false): in the first the nodes never converge (what each lacks is older than the newest
// kAntiEntropyMax the old on-connect announcement sends); the second converges by that old
// announcement (each node holds 1,000 then, all among the newest), but its reconciliation counters
// stay at 0; in the third the peer never gets the lost transactions.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "crypto/hex.h"
#include "testing/testnet.h"
#include "testing/tx_factory.h"
#include "testing/tx_relay_access.h"

namespace hearsay::test {
namespace {

using namespace std::chrono_literals;

// Senders of the preloaded transactions: a key family of their own, 50 nonces each (under the
// mempool's max_per_sender of 64).
constexpr uint8_t kFamily = 0x5e;
constexpr size_t kChain = 50;

// `senders` chains of kChain transactions, from key `first` of the family on.
std::vector<TxRef> chains(uint16_t first, size_t senders) {
  std::vector<TxRef> txs;
  txs.reserve(senders * kChain);
  for (size_t s = 0; s < senders; ++s) {
    const KeyPair key = family_key(static_cast<uint16_t>(first + s), kFamily);
    for (uint64_t nonce = 0; nonce < kChain; ++nonce)
      txs.push_back(filled_tx(key, kDevnetMagic, nonce, 1000, 100, static_cast<uint8_t>(nonce)));
  }
  return txs;
}

// Admits `txs` to the node's mempool in one batch, oldest first, as a restart reloads its store:
// no peer is connected, nothing is announced. The signatures are this test's own.
void preload(Node& n, const std::vector<TxRef>& txs) {
  std::vector<Candidate> batch;
  batch.reserve(txs.size());
  for (const TxRef& tx : txs)
    batch.push_back(Candidate{tx, true});
  const Time now =
      std::chrono::duration_cast<Time>(std::chrono::system_clock::now().time_since_epoch());
  const auto results =
      n.with_relay([&](TxRelay&, Mempool& m) { return m.admit_batch(batch, now); });
  for (size_t k = 0; k < results.size(); ++k)
    ASSERT_TRUE(results[k].ok()) << "preloaded tx " << k << " refused";
}

// Frame bytes (header and payload) the nodes sent, of these message types, since they started.
uint64_t bytes_sent(TestNet& net, std::initializer_list<MsgType> types) {
  uint64_t sum = 0;
  for (size_t i = 0; i < net.size(); ++i) {
    const TrafficCounters t = net[i].host().total_traffic();
    for (MsgType type : types)
      sum += t.bytes_out[static_cast<size_t>(type)];
  }
  return sum;
}

// The sum of one relay counter over the nodes of `net`.
uint64_t total(TestNet& net, uint64_t TxRelayStats::*field) {
  uint64_t sum = 0;
  for (size_t i = 0; i < net.size(); ++i)
    sum += net[i].relay_stats().*field;
  return sum;
}

// Whether node `n` reconciles with its ready peer of identity `peer`.
bool reconciles_with(Node& n, const PublicKey& peer) {
  const std::optional<PeerId> id = peer_id_of(n, peer);
  if (!id) return false;
  const auto link = n.with_relay([&](TxRelay& r, Mempool&) { return r.recon_link(*id); });
  return link && link->reconciles;
}

// Bans each other's identity at both ends (RPC setban): the link closes and stays closed.
void cut(Node& a, Node& b) {
  ASSERT_TRUE(a.host().set_ban(to_hex(b.identity()), std::chrono::hours(1), "partition").ok());
  ASSERT_TRUE(b.host().set_ban(to_hex(a.identity()), std::chrono::hours(1), "partition").ok());
}

// Lifts those bans (RPC setban remove): the dialling end's --connect slot dials again.
void heal(Node& a, Node& b) {
  ASSERT_TRUE(a.host().remove_ban(to_hex(b.identity())));
  ASSERT_TRUE(b.host().remove_ban(to_hex(a.identity())));
}

// Short dial back-off: a link cut for seconds comes back within a second of its healing.
void quick_redial(NodeConfig& c) {
  c.host.peer_manager.dial_backoff_min = 100ms;
  c.host.peer_manager.dial_backoff_max = 500ms;
}

// Two nodes hold 20,000 transactions in common and 200 each the other lacks, all 400 older than
// the common ones. They connect: the dialler's round on connect (the only one: interval 0)
// finds the 400 and each side gets the other's 200, for a small part of what announcing the
// common set would cost.
TEST(Recon, ReconnectRepairsTwoHundredEachWayForUnderATenthOfAnnouncingTheSet) {
  constexpr size_t kShared = 20'000, kOwn = 200;
  TestNet net(2);
  auto on_connect_only = [](NodeConfig& c) { c.relay.reconcile_interval = Duration::zero(); };
  Node& a = net.start(0, {}, on_connect_only);
  Node& b = net.start(1, {}, on_connect_only);
  const std::vector<TxRef> shared = chains(0, kShared / kChain);
  ASSERT_NO_FATAL_FAILURE(preload(a, chains(1000, kOwn / kChain)));
  ASSERT_NO_FATAL_FAILURE(preload(b, chains(2000, kOwn / kChain)));
  ASSERT_NO_FATAL_FAILURE(preload(a, shared));
  ASSERT_NO_FATAL_FAILURE(preload(b, shared));
  ASSERT_EQ(a.mempool_size(), kShared + kOwn);
  ASSERT_EQ(b.mempool_size(), kShared + kOwn);

  net.dial(1, 0);
  ASSERT_TRUE(wait_until([&] { return ready_peers(a) == 1 && ready_peers(b) == 1; }));
  EXPECT_TRUE(wait_until([&] { return reconciles_with(b, a.identity()); }));
  ASSERT_TRUE(wait_until(
      [&] {
        return a.mempool_size() == kShared + 2 * kOwn && b.mempool_size() == kShared + 2 * kOwn;
      },
      60s))
      << "A holds " << a.mempool_size() << ", B " << b.mempool_size() << " of "
      << kShared + 2 * kOwn;

  const uint64_t sketches = bytes_sent(net, {MsgType::kReqRecon, MsgType::kReconDiff});
  const uint64_t announced =
      bytes_sent(net, {MsgType::kInv, MsgType::kTxInv, MsgType::kGetData, MsgType::kGetTx,
                       MsgType::kNotFound, MsgType::kTxNotFound});
  // The baseline: announcing the 20,000 common ids as inv entries (4-byte type and 32-byte id)
  // the way a full-id anti-entropy on connect would, 720,000 bytes; frame headers not counted.
  // (As 6-byte short ids in txinv: 120,000 bytes, printed too.)
  constexpr uint64_t kBaseline = kShared * 36, kShortIdBaseline = kShared * 6;
  const auto used = static_cast<double>(sketches + announced);
  std::printf(
      "reconnect: %llu bytes (reqrecon and recondiff %llu, announcements and requests %llu) "
      "for %zu differences: %.2f %% of announcing %zu ids by inv (%llu bytes), %.2f %% by "
      "txinv (%llu bytes)\n",
      static_cast<unsigned long long>(sketches + announced),
      static_cast<unsigned long long>(sketches), static_cast<unsigned long long>(announced),
      2 * kOwn, 100 * used / kBaseline, kShared, static_cast<unsigned long long>(kBaseline),
      100 * used / kShortIdBaseline, static_cast<unsigned long long>(kShortIdBaseline));
  RecordProperty("recon_bytes", std::to_string(sketches + announced));
  RecordProperty("announcement_baseline_bytes", std::to_string(kBaseline));
  EXPECT_GT(sketches, 0u);
  EXPECT_LE(sketches + announced, kBaseline / 10);

  // B dialled: it asked, and found the 400.
  const TxRelayStats asker = b.relay_stats(), answerer = a.relay_stats();
  std::printf(
      "reconnect: %llu reqrecon, %llu bisections; inv entries sent %llu (asker), %llu "
      "(answerer)\n",
      static_cast<unsigned long long>(asker.recon_requests_sent),
      static_cast<unsigned long long>(asker.recon_bisections),
      static_cast<unsigned long long>(asker.inv_sent),
      static_cast<unsigned long long>(answerer.inv_sent));
  EXPECT_EQ(asker.recon_rounds, 1u);
  EXPECT_GE(asker.recon_differences, 2 * kOwn);
  EXPECT_GT(answerer.recon_requests_received, 0u);
  for (const TxRelayStats& s : {asker, answerer}) {
    // Each side announced its own 200 (and never the common set: the old anti-entropy sends
    // the newest kAntiEntropyMax = 5,000).
    EXPECT_GE(s.recon_announced, kOwn);
    EXPECT_LT(s.inv_sent, 2 * kOwn);
    EXPECT_EQ(s.unrequested, 0u);
    EXPECT_EQ(s.rejected, 0u);
  }
  EXPECT_EQ(misbehaviour_of(a, b.identity()), 0);
  EXPECT_EQ(misbehaviour_of(b, a.identity()), 0);
}

// Twelve nodes on the ring with chords, cut into halves of six (every cross link banned at both
// ends). Each half gets 1,000 transactions of its own. The bans are lifted, nothing more is
// injected, and the rounds on connect of the cross links (the only ones: interval 0) bring every
// node all 2,000.
TEST(Recon, PartitionHealsByTheRoundsOnReconnect) {
  constexpr size_t kNodes = 12, kHalf = kNodes / 2, kPerHalf = 1000, kSenders = 20;
  TestNet net(kNodes);
  ASSERT_NO_FATAL_FAILURE(start_ring(net, [](size_t, NodeConfig& c) {
    c.relay.reconcile_interval = Duration::zero();
    quick_redial(c);
  }));
  auto half_of = [&](size_t i) { return i < kHalf ? 0 : 1; };
  std::vector<std::pair<size_t, size_t>> cross;
  for (size_t i = 0; i < kNodes; ++i)
    for (size_t j : ring_with_chords(i, kNodes))
      if (half_of(i) != half_of(j)) cross.emplace_back(i, j);
  ASSERT_EQ(cross.size(), 6u);
  for (auto [i, j] : cross)
    ASSERT_NO_FATAL_FAILURE(cut(net[i], net[j]));
  auto links_within = [&](size_t i) {
    size_t k = expected_links(i, kNodes);
    for (auto [x, y] : cross)
      k -= (x == i) + (y == i);
    return k;
  };
  for (size_t i = 0; i < kNodes; ++i)
    ASSERT_TRUE(wait_until([&] { return ready_peers(net[i]) == links_within(i); }))
        << "node " << i << " has " << ready_peers(net[i]) << " ready peers";

  // Half h: senders h * kSenders on, each transaction at a node of the half in turn.
  for (size_t h = 0; h < 2; ++h)
    for (size_t k = 0; k < kPerHalf; ++k) {
      const size_t at = h * kHalf + k % kHalf;
      const auto sender = static_cast<uint8_t>(h * kSenders + k % kSenders);
      ASSERT_TRUE(net[at].submit(devnet_tx(sender, k / kSenders)).ok())
          << "half " << h << " tx " << k << " at node " << at;
    }
  for (size_t i = 0; i < kNodes; ++i)
    ASSERT_TRUE(wait_until([&] { return net[i].mempool_size() == kPerHalf; }, 60s))
        << "node " << i << " holds " << net[i].mempool_size() << " of its half's " << kPerHalf;
  const uint64_t announced_before = total(net, &TxRelayStats::recon_announced);
  const uint64_t rounds_before = total(net, &TxRelayStats::recon_rounds);

  for (auto [i, j] : cross)
    ASSERT_NO_FATAL_FAILURE(heal(net[i], net[j]));
  for (size_t i = 0; i < kNodes; ++i)
    ASSERT_TRUE(wait_until([&] { return ready_peers(net[i]) == expected_links(i, kNodes); }))
        << "node " << i << " has " << ready_peers(net[i]) << " ready peers";
  ASSERT_NO_FATAL_FAILURE(wait_all_hold(net, 2 * kPerHalf));

  // Every transaction crossed by reconciliation: a half's own ones are announced across only by
  // a round (nobody there admits them anew), so at least 2,000 announcements were a round's.
  const uint64_t rounds = total(net, &TxRelayStats::recon_rounds) - rounds_before;
  const uint64_t announced = total(net, &TxRelayStats::recon_announced) - announced_before;
  std::printf("partition heal: %llu rounds, %llu ids announced by reconciliation\n",
              static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(announced));
  EXPECT_GE(rounds, cross.size());
  EXPECT_GE(announced, 2 * kPerHalf);
  for (size_t i = 0; i < kNodes; ++i) {
    const TxRelayStats s = net[i].relay_stats();
    EXPECT_EQ(s.unrequested, 0u) << "node " << i;
    EXPECT_EQ(s.rejected, 0u) << "node " << i;
  }
}

// B's only link is to A, and A's announcements to B are lost (the test switch, as a full queue
// would lose them). A's transactions still reach B: the periodic rounds (200 ms) find them.
// C, A's other peer, gets them by announcement as usual.
//
//   B — A — C      (A dials B and C; A drops its announcements to B)
TEST(Recon, PeriodicRoundsRepairLostAnnouncements) {
  constexpr size_t kTxs = 200, kSenders = 10;
  TestNet net(3);
  auto every_200ms = [](NodeConfig& c) { c.relay.reconcile_interval = 200ms; };
  Node& b = net.start(1, {}, every_200ms);
  Node& c = net.start(2, {}, every_200ms);
  Node& a = net.start(0, {1, 2}, every_200ms);
  a.with_relay(
      [&](TxRelay& r, Mempool&) { TxRelayTestAccess::lose_announcements_to(r, {b.identity()}); });
  ASSERT_TRUE(wait_until([&] {
    return ready_peers(a) == 2 && reconciles_with(a, b.identity()) &&
           reconciles_with(a, c.identity());
  }));

  for (size_t k = 0; k < kTxs; ++k)
    ASSERT_TRUE(a.submit(devnet_tx(static_cast<uint8_t>(k % kSenders), k / kSenders)).ok());
  EXPECT_TRUE(wait_until([&] { return c.mempool_size() == kTxs; }))
      << "C holds " << c.mempool_size() << " of " << kTxs;
  ASSERT_TRUE(wait_until([&] { return b.mempool_size() == kTxs; }))
      << "B holds " << b.mempool_size() << " of " << kTxs;

  const TxRelayStats sa = a.relay_stats(), sb = b.relay_stats();
  EXPECT_GE(sa.announce_dropped, kTxs) << "the switch lost nothing";
  EXPECT_GT(sa.recon_differences, 0u);
  EXPECT_GE(sa.recon_announced, kTxs);
  EXPECT_GT(sb.recon_requests_received, 0u);
  EXPECT_EQ(sb.unrequested, 0u);
  EXPECT_EQ(sb.rejected, 0u);
  EXPECT_EQ(misbehaviour_of(b, a.identity()), 0);
}

}  // namespace
}  // namespace hearsay::test
