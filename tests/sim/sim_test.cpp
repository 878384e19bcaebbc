// The simulator: its timing model against what the protocol must take on a link, determinism,
// and the scenarios (churn, partition and heal, forgers) with their promises.
#include "sim/sim.h"

#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <set>

#include "sim/scenario.h"

namespace hearsay::sim {
namespace {

constexpr Duration kVerify = std::chrono::microseconds(50);

NetworkModel model(const std::string& latency, size_t nodes,
                   const std::string& bandwidth = "unlimited") {
  auto m = NetworkModel::make(latency, bandwidth, nodes, 1);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error());
  return std::move(*m);
}

// Node 1 dials node 0 (so node 0 is its outbound peer, whose announcements it requests at once).
std::unique_ptr<Simulation> pair(const std::string& bandwidth = "unlimited", SimConfig cfg = {}) {
  cfg.verify_cost = kVerify;
  cfg.relay.reconcile = false;  // no rounds on connect: only the transaction's own messages
  Topology t{2, {{1, 0}}, "file"};
  auto sim = std::make_unique<Simulation>(cfg, t, model("constant:25", 2, bandwidth));
  sim->start();
  sim->run(sim->now() + kSettle);
  return sim;
}

TEST(SimTiming, AHopIsThreeTripsPlusOneVerification) {
  auto sim = pair();
  const Time t0 = sim->now() + std::chrono::milliseconds(7);
  const size_t i = sim->inject_at(t0, 0, true);
  ASSERT_TRUE(sim->run(t0 + std::chrono::seconds(5), [&] { return sim->all_delivered(); }));
  const TxRecord& r = sim->txs()[i];
  EXPECT_EQ(r.accepted[0], t0.count());  // a local transaction, verified by the submitter
  // inv (25 ms) → getdata (25 ms) → tx (25 ms), then the signature check.
  EXPECT_EQ(r.first_seen[1], (t0 + std::chrono::milliseconds(75)).count());
  EXPECT_EQ(r.from[1], 0);
  EXPECT_EQ(r.accepted[1], r.first_seen[1] + kVerify.count());
}

TEST(SimTiming, BandwidthAddsEachFramesSerialisation) {
  auto fast = pair();
  auto slow = pair("1");  // 1 Mbit/s up and down: a microsecond is a bit
  for (auto* sim : {fast.get(), slow.get()}) {
    sim->inject_at(sim->now(), 0, true);
    ASSERT_TRUE(
        sim->run(sim->now() + std::chrono::seconds(5), [&] { return sim->all_delivered(); }));
  }
  const int64_t hop_fast = fast->txs()[0].first_seen[1] - fast->txs()[0].injected.count();
  const int64_t hop_slow = slow->txs()[0].first_seen[1] - slow->txs()[0].injected.count();
  // The three frames cross an upload and a download queue each: at least the transaction's own
  // TLS bytes twice, in bits = µs.
  const auto body = static_cast<int64_t>(tls_wire_bytes(fast->txs()[0].tx->size() + 24));
  EXPECT_GE(hop_slow - hop_fast, 2 * 8 * body);
  EXPECT_EQ(fast->counters(0).sent_bytes, slow->counters(0).sent_bytes);
}

TEST(SimTiming, ADownloadQueueTakesFramesInTheOrderTheyArrive) {
  // Links of 5 to 200 ms: a frame from a far peer must not hold up one that arrives earlier from
  // a near peer. With 1 Gbit/s a frame of a few hundred bytes takes microseconds, so every
  // arrival is within a millisecond of the unlimited network's.
  auto run = [](const std::string& bandwidth) {
    Scenario sc;
    sc.nodes = 30;
    sc.degree = 6;
    sc.txs = 30;
    sc.rate = 50;
    sc.latency = "uniform:5:200";
    sc.bandwidth = bandwidth;
    sc.sim.verify_cost = kVerify;
    auto r = run_scenario(sc, {});
    EXPECT_TRUE(r.ok() && r->delivered);
    return std::move(*r);
  };
  const RunResult free = run("unlimited"), fast = run("1000");
  for (size_t t = 0; t < free.sim->txs().size(); ++t)
    for (uint32_t i = 0; i < free.sim->size(); ++i) {
      const int64_t a = free.sim->txs()[t].first_seen[i], b = fast.sim->txs()[t].first_seen[i];
      EXPECT_GE(b, a);
      EXPECT_LT(b - a, 1000) << "transaction " << t << " node " << i;
    }
}

TEST(SimTiming, VerificationsQueueOnTheNodesCores) {
  // 40 transactions reach node 1 in one burst: with one core the last waits for 39 others.
  auto run = [](unsigned cores) {
    SimConfig cfg;
    cfg.cores = cores;
    auto sim = pair("unlimited", cfg);
    const Time t0 = sim->now();
    for (int k = 0; k < 40; ++k)
      sim->inject_at(t0, 0, true);
    EXPECT_TRUE(sim->run(t0 + std::chrono::seconds(10), [&] { return sim->all_delivered(); }));
    int64_t last = 0;
    for (const TxRecord& r : sim->txs())
      last = std::max(last, r.accepted[1] - r.first_seen[1]);
    return last;
  };
  EXPECT_GE(run(1), 40 * kVerify.count());
  EXPECT_LT(run(8), 40 * kVerify.count());
}

TEST(SimTiming, CountsFramesAndTlsRecords) {
  auto sim = pair();
  sim->inject_at(sim->now(), 0, true);
  ASSERT_TRUE(sim->run(sim->now() + std::chrono::seconds(5), [&] { return sim->all_delivered(); }));
  const NodeCounters c = sim->counters(0);
  const auto tx = static_cast<size_t>(MsgType::kTx);
  EXPECT_EQ(c.sent[tx], 1u);
  EXPECT_EQ(sim->txs()[0].tx->size(), sim->config().tx_size);  // --size is the whole transaction
  EXPECT_EQ(c.sent_bytes[tx], sim->txs()[0].tx->size() + kFrameHeaderSize);
  uint64_t frames = 0, messages = 0;
  for (size_t t = 0; t < kMsgTypeCount; ++t) {
    frames += c.sent_bytes[t];
    messages += c.sent[t];
  }
  EXPECT_EQ(c.bytes_sent, frames);
  // One record per burst to a peer, all under 16 KiB: fewer records than frames (the handshake
  // sends verack, getaddr and ping in one burst), at least one.
  const uint64_t overhead = c.tls_bytes_sent - frames;
  EXPECT_EQ(overhead % kTlsRecordOverhead, 0u);
  EXPECT_GE(overhead, kTlsRecordOverhead);
  EXPECT_LT(overhead, messages * kTlsRecordOverhead);
  EXPECT_EQ(c.relay.at("served"), 1u);
}

Scenario small(size_t nodes, size_t txs, double rate) {
  Scenario sc;
  sc.nodes = nodes;
  sc.degree = 6;
  sc.txs = txs;
  sc.rate = rate;
  sc.latency = "uniform:5:30";
  sc.sim.verify_cost = kVerify;
  sc.timeout_s = 120;
  return sc;
}

RunResult run_ok(const Scenario& sc) {
  auto r = run_scenario(sc, {});
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  return std::move(*r);
}

TEST(SimScenario, SameSeedSameRunAnotherSeedAnother) {
  Scenario sc = small(24, 40, 50);
  auto key = [](const RunResult& r) {
    std::vector<int64_t> k;
    for (const TxRecord& t : r.sim->txs())
      for (size_t i = 0; i < r.sim->size(); ++i)
        k.insert(k.end(), {t.first_seen[i], t.from[i], t.accepted[i]});
    for (size_t i = 0; i < r.sim->size(); ++i)
      k.push_back(static_cast<int64_t>(r.final[i].tls_bytes_sent));
    k.push_back(static_cast<int64_t>(r.sim->events()));
    return k;
  };
  const RunResult a = run_ok(sc), b = run_ok(sc);
  EXPECT_TRUE(a.delivered);
  EXPECT_EQ(key(a), key(b));
  sc.sim.seed = 2;
  EXPECT_NE(key(a), key(run_ok(sc)));
}

TEST(SimScenario, ChurnStillDeliversEverythingToNodesThatStayUp) {
  Scenario sc = small(40, 100, 40);  // 2.5 s of injections
  sc.churn = 3;                      // about 7 nodes leave, each for a second
  sc.churn_down_s = 1;
  const RunResult r = run_ok(sc);
  ASSERT_TRUE(r.delivered);
  EXPECT_GE(r.sim->leaves(), 3u);
  EXPECT_GE(r.sim->joins(), 3u);
  size_t steady = 0;
  for (uint32_t i = 0; i < r.sim->size(); ++i) {
    if (!r.sim->steady(i)) continue;
    ++steady;
    for (const TxRecord& t : r.sim->txs()) {
      if (t.measured) {
        EXPECT_GE(t.accepted[i], 0) << "node " << i;
      }
    }
  }
  EXPECT_LT(steady, r.sim->size());  // churn took some nodes out of the count
  EXPECT_GT(steady, r.sim->size() / 2);
}

TEST(SimScenario, ChurnUnderBitcoinDiallingRefillsEveryOutboundSlot) {
  Scenario sc = small(60, 60, 30);
  sc.topology = "bitcoin";
  sc.churn = 4;
  sc.churn_down_s = 0.5;
  const RunResult r = run_ok(sc);
  ASSERT_TRUE(r.delivered);
  ASSERT_GE(r.sim->joins(), 3u);
  // Once the last rejoin's dials completed, every node that is up has its 8 outbound peers:
  // rejoined nodes dialled afresh, and the nodes that had dialled a leaver replaced it.
  r.sim->run(r.sim->now() + std::chrono::seconds(2));
  for (uint32_t i = 0; i < r.sim->size(); ++i) {
    if (r.sim->up(i)) {
      EXPECT_EQ(r.sim->outbound(i), kBitcoinOutbound) << "node " << i;
    }
  }
}

TEST(SimScenario, APartitionHealsAndEachSideCatchesUp) {
  Scenario sc = small(30, 60, 20);  // 3 s of injections
  sc.partition_at_s = 0.5;
  sc.heal_at_s = 4;
  const RunResult r = run_ok(sc);
  ASSERT_TRUE(r.delivered);
  const Time cut =
      r.measured_start + std::chrono::milliseconds(500) + std::chrono::milliseconds(100);
  const Time heal = r.measured_start + std::chrono::seconds(4);
  // A transaction injected while the halves were apart reached the other half only after the
  // heal, and did reach it: the nodes caught up on what the other side accepted meanwhile.
  size_t crossed_late = 0;
  for (const TxRecord& t : r.sim->txs()) {
    if (!t.measured || t.injected < cut || t.injected >= heal) continue;
    for (uint32_t i = 0; i < r.sim->size(); ++i) {
      ASSERT_GE(t.accepted[i], 0);
      if (t.accepted[i] > heal.count()) ++crossed_late;
    }
  }
  EXPECT_GT(crossed_late, 0u);
  const int64_t during_min = [&] {
    int64_t m = INT64_MAX;
    for (const TxRecord& t : r.sim->txs())
      if (t.measured && t.injected >= cut && t.injected < heal)
        for (uint32_t i = 0; i < r.sim->size(); ++i)
          if (t.accepted[i] > heal.count()) m = std::min(m, t.accepted[i]);
    return m;
  }();
  EXPECT_GE(during_min, heal.count());
}

TEST(SimScenario, ForgersAreBannedByEveryHonestNeighbourAndNothingForgedIsAccepted) {
  Scenario sc = small(40, 40, 20);
  sc.forgers = 0.1;
  const RunResult r = run_ok(sc);
  ASSERT_EQ(r.forgers.size(), 4u);
  EXPECT_TRUE(r.delivered);
  EXPECT_EQ(r.sim->forgeries_accepted(), 0u);
  const std::set<std::pair<uint32_t, uint32_t>> bans(r.sim->bans().begin(), r.sim->bans().end());
  const auto adj = r.sim->topology().adjacency();
  for (uint32_t f : r.forgers)
    for (uint32_t n : adj[f]) {
      if (!r.sim->forger(n)) {
        EXPECT_TRUE(bans.count({n, f})) << n << " never banned forger " << f;
      }
    }
  for (const auto& [by, whom] : bans)
    EXPECT_TRUE(r.sim->forger(whom)) << by << " banned honest node " << whom;
}

TEST(SimScenario, BlocksAreMadeOnScheduleAndEveryNodeConnectsThem) {
  Scenario sc = small(20, 100, 50);
  sc.blocks = 2;
  sc.block_interval_s = 1;
  const RunResult r = run_ok(sc);
  ASSERT_TRUE(r.delivered);
  ASSERT_EQ(r.sim->blocks().size(), 2u);
  size_t confirmed = 0;
  for (const BlockRecord& b : r.sim->blocks()) {
    confirmed += b.txs;
    EXPECT_EQ(b.producer, 0u);
    EXPECT_EQ(b.made, r.measured_start + std::chrono::seconds(b.height));
    for (uint32_t i = 0; i < r.sim->size(); ++i)
      EXPECT_GE(b.connected[i], b.made.count()) << "node " << i << " block " << b.height;
  }
  EXPECT_GT(confirmed, 0u);  // the blocks carried the mempool's transactions
}

TEST(SimScenario, BadNumbersAreRefusedNamingTheOption) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<std::pair<std::function<void(Scenario&)>, std::string>> cases = {
      {[&](Scenario& s) { s.rate = inf; }, "--rate"},
      {[&](Scenario& s) { s.forgers = nan; }, "--forgers"},
      {[&](Scenario& s) { s.churn = nan; }, "--churn"},
      {[&](Scenario& s) { s.heal_at_s = 3; }, "--heal-at"},  // without --partition-at
      {[&](Scenario& s) { s.partition_at_s = s.heal_at_s = nan; }, "--partition-at"},
      {[&](Scenario& s) { s.blocks = 2, s.block_interval_s = nan; }, "--block-interval"},
      {[&](Scenario& s) { s.timeout_s = inf; }, "--timeout"},
  };
  for (const auto& [spoil, option] : cases) {
    Scenario sc = small(10, 5, 10);
    spoil(sc);
    auto r = run_scenario(sc, {});
    ASSERT_FALSE(r.ok()) << option;
    EXPECT_NE(r.error().find(option), std::string::npos) << r.error();
  }
}

TEST(SimScenario, ScheduleFileErrorsNameTheLine) {
  const std::string path = ::testing::TempDir() + "/schedule.txt";
  {
    std::ofstream f(path);
    f << "# offset origin\n0 1\n500 9\n";
  }
  auto bad = read_schedule(path, 5);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find(path + ":3"), std::string::npos) << bad.error();
  auto good = read_schedule(path, 10);
  ASSERT_TRUE(good.ok());
  ASSERT_EQ(good->size(), 2u);
  EXPECT_EQ((*good)[1].offset, std::chrono::microseconds(500));
  EXPECT_EQ((*good)[1].origin, 9u);
}

}  // namespace
}  // namespace hearsay::sim
