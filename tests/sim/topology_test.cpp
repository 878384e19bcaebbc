#include "sim/topology.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "testing/test_util.h"

namespace hearsay::sim {
namespace {

Topology build(const std::string& spec, size_t nodes, size_t degree, uint64_t seed = 1) {
  auto t = build_topology(spec, nodes, degree, seed);
  EXPECT_TRUE(t) << spec << " " << nodes << " " << degree << ": " << t.error();
  return t ? *t : Topology{};
}

std::string error_of(const std::string& spec, size_t nodes, size_t degree) {
  auto t = build_topology(spec, nodes, degree, 1);
  EXPECT_FALSE(t) << spec << " " << nodes << " " << degree;
  return t ? "" : t.error();
}

// Every index in range, no self-link, every unordered pair at most once.
::testing::AssertionResult simple(const Topology& t) {
  std::set<std::pair<uint32_t, uint32_t>> pairs;
  for (const auto& [a, b] : t.edges) {
    if (a >= t.nodes || b >= t.nodes) return ::testing::AssertionFailure() << a << "-" << b;
    if (a == b) return ::testing::AssertionFailure() << "self-link at " << a;
    if (!pairs.emplace(std::min(a, b), std::max(a, b)).second) {
      return ::testing::AssertionFailure() << "pair " << a << "-" << b << " twice";
    }
  }
  return ::testing::AssertionSuccess();
}

std::vector<size_t> outbound(const Topology& t) {
  std::vector<size_t> out(t.nodes);
  for (const auto& e : t.edges)
    ++out[e.first];
  return out;
}

std::vector<size_t> inbound(const Topology& t) {
  std::vector<size_t> in(t.nodes);
  for (const auto& e : t.edges)
    ++in[e.second];
  return in;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

::testing::AssertionResult regular(size_t n, size_t d, uint64_t seed) {
  const Topology t = build("random-regular", n, d, seed);
  if (t.kind != "random-regular" || t.nodes != n || t.edges.size() != n * d / 2) {
    return ::testing::AssertionFailure() << t.kind << " " << t.nodes << " " << t.edges.size();
  }
  if (auto s = simple(t); !s) return s;
  if (!t.connected()) return ::testing::AssertionFailure() << "not connected";
  for (const auto& neighbours : t.adjacency()) {
    if (neighbours.size() != d) return ::testing::AssertionFailure() << neighbours.size();
  }
  return ::testing::AssertionSuccess();
}

// Sparse, half-full (pairing gets stuck often) and nearly full (built as complements) graphs.
TEST(Topology, RandomRegularIsSimpleConnectedAndRegular) {
  const std::pair<size_t, size_t> cases[] = {
      {2, 1},  {3, 2},    {4, 2},    {4, 3},    {10, 3},   {10, 8},   {11, 10},  {12, 5},
      {50, 4}, {101, 50}, {101, 60}, {100, 97}, {1000, 2}, {1000, 3}, {1000, 8}, {10000, 8}};
  for (const auto& [n, d] : cases) {
    EXPECT_TRUE(regular(n, d, 1)) << n << " × " << d;
  }
}

// About one small cubic graph in 500 comes out disconnected (two K4s, say): drawn again.
TEST(Topology, RandomRegularResamplesDisconnectedGraphs) {
  for (uint64_t seed = 0; seed < 1000; ++seed) {
    ASSERT_TRUE(regular(8, 3, seed)) << seed;
    ASSERT_TRUE(regular(12, 3, seed)) << seed;
  }
}

TEST(Topology, RandomRegularDependsOnlyOnTheSeed) {
  for (const char* spec : {"random-regular", "bitcoin"}) {
    const Topology a = build(spec, 500, 8, 7);
    EXPECT_EQ(a.edges, build(spec, 500, 8, 7).edges) << spec;
    EXPECT_NE(a.edges, build(spec, 500, 8, 8).edges) << spec;
  }
  // The cycle and the complement paths are seeded too.
  EXPECT_NE(build("random-regular", 100, 2, 1).edges, build("random-regular", 100, 2, 2).edges);
  EXPECT_NE(build("random-regular", 20, 15, 1).edges, build("random-regular", 20, 15, 2).edges);
}

// Every node dials and listens, and nearly all dial half their links give or take one (a coin
// per link would leave only 71% of degree-8 nodes there; the measured share is 98%).
TEST(Topology, RandomRegularBalancesDials) {
  for (size_t d : {3, 8}) {
    const Topology t = build("random-regular", 1000, d, 3);
    size_t near_half = 0;
    for (size_t out : outbound(t)) {
      if (d > 3) {
        EXPECT_GE(out, 1u) << d;
        EXPECT_LT(out, d) << d;
      }
      near_half += 2 * out + 2 >= d && 2 * out <= d + 2;
    }
    EXPECT_GE(near_half, 900u) << d;
  }
}

TEST(Topology, RingLinksNearNeighboursDiallingForward) {
  const Topology t = build("ring", 10, 4);
  EXPECT_EQ(t.kind, "ring");
  EXPECT_TRUE(simple(t));
  const auto adj = t.adjacency();
  for (uint32_t i = 0; i < 10; ++i) {
    const std::vector<uint32_t> want = [&] {
      std::vector<uint32_t> v{(i + 1) % 10, (i + 2) % 10, (i + 8) % 10, (i + 9) % 10};
      std::sort(v.begin(), v.end());
      return v;
    }();
    EXPECT_EQ(adj[i], want) << i;
  }
  for (const auto& [a, b] : t.edges)
    EXPECT_TRUE(b == (a + 1) % 10 || b == (a + 2) % 10);
  EXPECT_EQ(build("ring", 6, 2).edges.size(), 6u);  // degree 2: one cycle
  const auto hops = build("ring", 6, 2).hops_from(0);
  EXPECT_EQ(hops, (std::vector<int>{0, 1, 2, 3, 2, 1}));
  // Wider than the ring: every pair once, the opposite ones dialled once.
  const Topology wide = build("ring", 6, 10);
  EXPECT_TRUE(simple(wide));
  EXPECT_EQ(wide.edges.size(), 15u);
  EXPECT_EQ(build("ring", 2, 2).edges, (std::vector<std::pair<uint32_t, uint32_t>>{{0, 1}}));
}

TEST(Topology, FullLinksEveryPairInABalancedTournament) {
  for (size_t n : {2, 6, 7}) {
    const Topology t = build("full", n, 0);
    EXPECT_EQ(t.edges.size(), n * (n - 1) / 2);
    EXPECT_TRUE(simple(t));
    for (size_t out : outbound(t)) {
      EXPECT_GE(out, (n - 1) / 2) << n;
      EXPECT_LE(out, n / 2) << n;
    }
  }
  EXPECT_EQ(build("full", 1, 0).edges.size(), 0u);
}

TEST(Topology, BitcoinDialsEightAndCapsInbound) {
  const Topology t = build("bitcoin", 1000, 0, 5);
  EXPECT_EQ(t.kind, "bitcoin");
  EXPECT_TRUE(simple(t));
  EXPECT_TRUE(t.connected());
  for (size_t out : outbound(t))
    ASSERT_EQ(out, kBitcoinOutbound);
  for (size_t in : inbound(t))
    ASSERT_LE(in, kBitcoinMaxInbound);
}

// With few nodes a node dials fewer than eight only when every other node is linked to it
// already (no node reaches the inbound cap here).
TEST(Topology, BitcoinDialsAllItCanInSmallNetworks) {
  for (size_t n : {2, 5, 9, 12, 20}) {
    const Topology t = build("bitcoin", n, 0, n);
    EXPECT_TRUE(simple(t));
    EXPECT_TRUE(t.connected());
    const auto out = outbound(t);
    const auto adj = t.adjacency();
    for (size_t i = 0; i < n; ++i) {
      EXPECT_LE(out[i], kBitcoinOutbound);
      if (out[i] < kBitcoinOutbound) {
        EXPECT_EQ(adj[i].size(), n - 1) << n << " node " << i;
      }
    }
  }
}

TEST(Topology, AdjacencyConnectedAndHops) {
  const Topology two{4, {{0, 1}, {3, 2}}, "file"};
  EXPECT_FALSE(two.connected());
  EXPECT_EQ(two.hops_from(2), (std::vector<int>{-1, -1, 0, 1}));
  const Topology path{4, {{2, 3}, {0, 1}, {2, 1}}, "file"};
  EXPECT_TRUE(path.connected());
  EXPECT_EQ(path.adjacency()[2], (std::vector<uint32_t>{1, 3}));
  EXPECT_EQ(path.hops_from(0), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_TRUE((Topology{1, {}, "ring"}).connected());
}

TEST(Topology, FileKeepsTheGivenDialsAndInfersNodes) {
  test::TempDir dir;
  const std::string path = dir.file("edges.txt");
  std::ofstream(path) << "# a testnet run's links\n"
                         "0 1\n"
                         "\n"
                         "2,1   # comma form\r\n"
                         "  3\t2\n"
                         "1 0\n"  // the pair again, reversed: one link, dialled as first given
                         "0 3";   // no final newline
  const Topology t = build("file:" + path, 0, 8);
  EXPECT_EQ(t.kind, "file");
  EXPECT_EQ(t.nodes, 4u);
  EXPECT_EQ(t.edges, (std::vector<std::pair<uint32_t, uint32_t>>{{0, 1}, {0, 3}, {2, 1}, {3, 2}}));
  EXPECT_EQ(build("file:" + path, 4, 8).edges, t.edges);
}

TEST(Topology, FileErrorsNameTheLine) {
  test::TempDir dir;
  const std::string path = dir.file("bad.txt");
  auto error_for = [&](const std::string& text, size_t nodes) {
    std::ofstream(path, std::ios::trunc) << text;
    return error_of("file:" + path, nodes, 8);
  };
  EXPECT_TRUE(has(error_for("0 1\n1 x\n", 0), path + ":2: expected two 0-based node indexes"));
  EXPECT_TRUE(has(error_for("0 1 2\n", 0), path + ":1: expected two"));
  EXPECT_TRUE(has(error_for("0 1 2\n", 0), "got '0 1 2'"));
  EXPECT_TRUE(has(error_for("-1 2\n", 0), path + ":1: expected two"));
  EXPECT_TRUE(has(error_for("0 1\n# x\n1 1\n", 0), path + ":3: a node cannot link to itself (1)"));
  EXPECT_TRUE(has(error_for("0 1\n1 4\n", 4), path + ":2: node 4 is out of range: --nodes is 4"));
  EXPECT_TRUE(has(error_for("0 99999999999999999999999\n", 0), path + ":1: node 9999"));
  EXPECT_TRUE(has(error_for("0 5000000\n", 0), "when --nodes is inferred"));
  EXPECT_TRUE(has(error_for("0 1\n2 3\n", 0), "not connected (node 2 cannot be reached"));
  EXPECT_TRUE(has(error_for("0 1\n", 3), "not connected (node 2"));
  EXPECT_TRUE(has(error_for("# nothing\n", 0), "no links"));
  EXPECT_TRUE(has(error_of("file:" + dir.file("missing"), 0, 8), "cannot read topology file"));
  EXPECT_TRUE(has(error_of("file:" + dir.str(), 0, 8), "cannot read topology file"));
  EXPECT_TRUE(has(error_of("file:", 0, 8), "file:PATH"));
}

TEST(Topology, BadSpecsNameTheOptionAndTheFix) {
  EXPECT_TRUE(has(error_of("mesh", 10, 4), "unknown --topology 'mesh'"));
  EXPECT_TRUE(has(error_of("ring", 0, 4), "--nodes must be at least 1"));
  EXPECT_TRUE(has(error_of("random-regular", 11, 3), "--nodes × --degree even (11 × 3 is odd)"));
  EXPECT_TRUE(has(error_of("random-regular", 8, 8), "use --topology full"));
  EXPECT_TRUE(has(error_of("random-regular", 8, 0), "--degree must be at least 1"));
  EXPECT_TRUE(has(error_of("random-regular", 8, 1), "use --degree 2 or more"));
}

TEST(Topology, PickOutboundSkipsDownFullExcludedAndSelf) {
  const size_t n = 40;
  std::vector<uint8_t> up(n, 1);
  std::vector<uint32_t> in(n, 0);
  up[3] = up[4] = 0;
  in[5] = in[6] = 117;
  const std::vector<uint32_t> exclude{7, 8};
  std::set<uint32_t> seen;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const auto picks = pick_outbound(0, 8, up, in, 117, exclude, seed);
    ASSERT_EQ(picks.size(), 8u);
    EXPECT_EQ(std::set<uint32_t>(picks.begin(), picks.end()).size(), 8u);
    seen.insert(picks.begin(), picks.end());
  }
  std::set<uint32_t> eligible;
  for (uint32_t v = 9; v < n; ++v)
    eligible.insert(v);
  eligible.insert({1, 2});
  EXPECT_EQ(seen, eligible);  // never an ineligible node, and every eligible one sometimes
  EXPECT_EQ(pick_outbound(0, 8, up, in, 117, exclude, 9),
            pick_outbound(0, 8, up, in, 117, exclude, 9));
}

TEST(Topology, PickOutboundReturnsAllWhenFewQualify) {
  std::vector<uint8_t> up(1000, 0);
  std::vector<uint32_t> in(1000, 0);
  for (uint32_t v : {10, 500, 999, 42})
    up[v] = 1;
  in[500] = 3;
  auto picks = pick_outbound(42, 8, up, in, 3, {}, 1);
  std::sort(picks.begin(), picks.end());
  EXPECT_EQ(picks, (std::vector<uint32_t>{10, 999}));
  EXPECT_TRUE(pick_outbound(42, 0, up, in, 3, {}, 1).empty());
}

// When few nodes qualify the picks come from a list of them, still each equally likely: over
// 1000 seeds each of 20 nodes is picked about 400 times (standard deviation 15).
TEST(Topology, PickOutboundIsUniformAmongFewQualifying) {
  std::vector<uint8_t> up(1000, 0);
  const std::vector<uint32_t> in(1000, 0);
  for (uint32_t v = 0; v < 1000; v += 50)
    up[v] = 1;
  std::vector<int> picked(1000, 0);
  for (uint64_t seed = 0; seed < 1000; ++seed) {
    for (uint32_t v : pick_outbound(1, 8, up, in, 117, {}, seed))
      ++picked[v];
  }
  for (uint32_t v = 0; v < 1000; v += 50) {
    EXPECT_GT(picked[v], 300) << v;
    EXPECT_LT(picked[v], 500) << v;
  }
}

}  // namespace
}  // namespace hearsay::sim
