// The network model: each latency distribution against its definition, determinism and symmetry
// per link, region shares and the matrix, the built-in SimBlock table, region file errors by line,
// and the options' messages.
#include "sim/model.h"
#include "testing/test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>

namespace hearsay::sim {
namespace {

NetworkModel model(const std::string& latency, const std::string& bandwidth = "unlimited",
                   size_t nodes = 1000, uint64_t seed = 1) {
  auto m = NetworkModel::make(latency, bandwidth, nodes, seed);
  if (!m.ok()) ADD_FAILURE() << m.error();
  return std::move(m).value();
}

double ms(Duration d) {
  return static_cast<double>(d.count()) / 1000;
}

// Latencies of the links (i, i + 1 + i % 7), i < count: many distinct links, no table needed.
std::vector<double> sample(const NetworkModel& m, uint32_t count) {
  std::vector<double> out;
  for (uint32_t i = 0; i < count; ++i)
    out.push_back(ms(m.latency(i, i + 1 + i % 7)));
  return out;
}

double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v)
    sum += x;
  return sum / static_cast<double>(v.size());
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

std::string parse_error(const std::string& text) {
  auto r = parse_regions(text, "t.regions");
  return r.ok() ? "(parsed)" : r.error();
}

std::string make_error(const std::string& latency, const std::string& bandwidth = "unlimited") {
  auto r = NetworkModel::make(latency, bandwidth, 100, 1);
  return r.ok() ? "(made)" : r.error();
}

// A well-formed two-region file; the tests below break one line of it at a time.
const std::string kTwoRegions =
    "# comment\n"
    "regions 2\n"
    "region A 0.25 10 50   # trailing comment\n"
    "\n"
    "region B 0.75 20 100\n"
    "latency A 0 3\n"
    "latency B 3 5\n";

TEST(NetworkModel, ConstantIsExactOnEveryLink) {
  const NetworkModel m = model("constant:25");
  for (uint32_t a = 0; a < 50; ++a)
    for (uint32_t b = 0; b < 50; ++b)
      ASSERT_EQ(m.latency(a, b), Duration(25'000));
  EXPECT_EQ(m.mean_latency_ms(), 25);
  EXPECT_EQ(m.latency_spec(), "constant:25");
  EXPECT_FALSE(m.region(0).has_value());
  EXPECT_EQ(m.regions(), nullptr);
  EXPECT_EQ(model("constant:0.5").latency(3, 9), Duration(500));
  EXPECT_EQ(model("constant:0").latency(3, 9), Duration(0));
}

TEST(NetworkModel, UniformStaysWithinItsBoundsAndVaries) {
  const NetworkModel m = model("uniform:10:50");
  const auto v = sample(m, 50'000);
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  EXPECT_GE(*lo, 10);
  EXPECT_LE(*hi, 50);
  EXPECT_LT(*lo, 10.1);  // it reaches both ends
  EXPECT_GT(*hi, 49.9);
  EXPECT_GT(std::set<double>(v.begin(), v.end()).size(), 20'000u);
  EXPECT_NEAR(mean(v), 30, 0.3);
  EXPECT_EQ(m.mean_latency_ms(), 30);
  EXPECT_EQ(m.latency_spec(), "uniform:10:50");
  EXPECT_EQ(model("uniform:7:7").latency(1, 2), Duration(7'000));
}

TEST(NetworkModel, LognormalHasItsMeanAndMedian) {
  const NetworkModel m = model("lognormal:50:0.5");
  const auto v = sample(m, 200'000);
  EXPECT_NEAR(mean(v), 50, 0.5);
  EXPECT_NEAR(median(v), 50 * std::exp(-0.125), 0.5);  // e^mu, mu = ln 50 - 0.5^2 / 2
  EXPECT_NEAR(m.mean_latency_ms(), 50, 1e-6);
  EXPECT_EQ(m.latency_spec(), "lognormal:50:0.5");
  const NetworkModel flat = model("lognormal:40:0");
  EXPECT_EQ(flat.latency(1, 2), Duration(40'000));
  EXPECT_EQ(flat.latency(5, 900), Duration(40'000));
}

TEST(NetworkModel, LognormalDrawsAreCappedAndTheMeanCountsTheCap) {
  // With a wide spread a large part of the mass lies beyond 10 s: every draw stops there, and
  // the reported mean is that of the capped draws, not MEAN.
  const NetworkModel m = model("lognormal:5000:2");
  const auto v = sample(m, 200'000);
  EXPECT_LE(*std::max_element(v.begin(), v.end()), 10'000);
  EXPECT_LT(m.mean_latency_ms(), 4000);
  EXPECT_NEAR(mean(v), m.mean_latency_ms(), 0.02 * m.mean_latency_ms());
}

TEST(NetworkModel, EveryLinkIsSymmetricAndDeterministicPerSeed) {
  for (const std::string spec : {"uniform:1:100", "lognormal:50:1", "regions"}) {
    SCOPED_TRACE(spec);
    const NetworkModel m = model(spec, "unlimited", 500, 7);
    const NetworkModel same = model(spec, "unlimited", 500, 7);
    const NetworkModel other = model(spec, "unlimited", 500, 8);
    size_t differ = 0, links = 0;
    for (uint32_t a = 0; a < 500; a += 3)
      for (uint32_t b = a + 1; b < 500; b += 5) {
        ASSERT_EQ(m.latency(a, b), m.latency(b, a));
        ASSERT_EQ(m.latency(a, b), same.latency(a, b));
        differ += m.latency(a, b) != other.latency(a, b);
        ++links;
      }
    EXPECT_GT(differ, links * 9 / 10);
  }
}

TEST(NetworkModel, RegionSharesAreKeptWithinRoundingAtTenThousandNodes) {
  const RegionTable& t = simblock_regions();
  const NetworkModel m = model("regions", "unlimited", 10'000, 3);
  ASSERT_NE(m.regions(), nullptr);
  std::vector<size_t> count(t.names.size());
  size_t switches = 0;
  for (uint32_t i = 0; i < 10'000; ++i) {
    ASSERT_TRUE(m.region(i).has_value());
    ASSERT_LT(*m.region(i), t.names.size());
    ++count[*m.region(i)];
    switches += i > 0 && m.region(i) != m.region(i - 1);
  }
  for (size_t r = 0; r < t.names.size(); ++r)
    EXPECT_LE(std::abs(static_cast<double>(count[r]) - t.shares[r] * 10'000), 1) << t.names[r];
  EXPECT_GT(switches, 4000u);  // shuffled, not dealt out in blocks
  const NetworkModel other = model("regions", "unlimited", 10'000, 4);
  size_t moved = 0;
  for (uint32_t i = 0; i < 10'000; ++i)
    moved += m.region(i) != other.region(i);
  EXPECT_GT(moved, 3000u);
}

TEST(NetworkModel, SharesShortOfOneWithinTheToleranceStillPlaceEveryNode) {
  // 0.9999991 of 2,000,000 nodes is 1,999,998.2: the last region takes the rest.
  test::TempDir dir;
  std::ofstream(dir.file("short.regions"))
      << "regions 2\nregion A 0.5 1 1\nregion B 0.4999991 1 1\nlatency A 1 2\nlatency B 2 3\n";
  const NetworkModel m = model("matrix:" + dir.file("short.regions"), "unlimited", 2'000'000, 1);
  size_t in_b = 0;
  for (uint32_t i = 0; i < 2'000'000; ++i)
    in_b += *m.region(i) == 1;
  EXPECT_EQ(in_b, 1'000'000u);
}

TEST(NetworkModel, RegionLatencyFollowsTheMatrix) {
  // SimBlock's Pareto around each entry: its mean is the entry and it never goes below the entry
  // less 5 ms. 50,000 links per region pair.
  const RegionTable& t = simblock_regions();
  const NetworkModel m = model("regions", "unlimited", 10'000, 5);
  std::vector<std::vector<uint32_t>> members(t.names.size());
  for (uint32_t i = 0; i < 10'000; ++i)
    members[*m.region(i)].push_back(i);
  for (size_t i = 0; i < t.names.size(); ++i)
    for (size_t j = i; j < t.names.size(); ++j) {
      SCOPED_TRACE(t.names[i] + " to " + t.names[j]);
      const auto& from = members[i];
      const auto& to = members[j];
      std::vector<double> v;
      for (size_t k = 0; v.size() < 50'000 && k < from.size() * to.size(); ++k) {
        const uint32_t a = from[k % from.size()], b = to[k / from.size()];
        if (a != b) v.push_back(ms(m.latency(a, b)));
      }
      const double entry = t.latency_ms[i][j];
      EXPECT_GE(*std::min_element(v.begin(), v.end()), entry - 5 - 0.001);
      EXPECT_NEAR(mean(v), entry, 0.05 * entry);
      EXPECT_GT(std::set<double>(v.begin(), v.end()).size(), v.size() / 10);
    }
}

TEST(NetworkModel, RegionMeanLatencyIsThatOfRandomPairs) {
  const NetworkModel m = model("regions", "unlimited", 10'000, 6);
  std::vector<double> v;
  for (uint64_t k = 0; k < 400'000; ++k) {
    const auto a = static_cast<uint32_t>((k * 7919) % 10'000);
    const auto b = static_cast<uint32_t>((k * 104'729 + k / 10'000) % 10'000);
    if (a != b) v.push_back(ms(m.latency(a, b)));
  }
  EXPECT_NEAR(mean(v), m.mean_latency_ms(), 0.02 * m.mean_latency_ms());
  // Half the nodes are in Europe (11 ms among themselves), a third in North America.
  EXPECT_GT(m.mean_latency_ms(), 60);
  EXPECT_LT(m.mean_latency_ms(), 140);
}

TEST(NetworkModel, MatrixFileEntriesOfAtMostFiveMsAreTakenAsIs) {
  test::TempDir dir;
  std::ofstream(dir.file("two.regions")) << kTwoRegions;
  const std::string spec = "matrix:" + dir.file("two.regions");
  const NetworkModel m = model(spec, "regions", 1000, 2);
  EXPECT_EQ(m.latency_spec(), spec);
  ASSERT_EQ(m.regions()->names, (std::vector<std::string>{"A", "B"}));
  size_t in_a = 0;
  for (uint32_t a = 0; a < 1000; ++a) {
    in_a += *m.region(a) == 0;
    for (uint32_t b = a + 1; b < 1000; b += 37) {
      const size_t ra = *m.region(a), rb = *m.region(b);
      ASSERT_EQ(m.latency(a, b), Duration(ra != rb ? 3'000 : ra == 0 ? 0 : 5'000));
    }
  }
  EXPECT_EQ(in_a, 250u);
  // Pairs of distinct nodes: 250 * 249 at 0 ms, 2 * 250 * 750 at 3 ms, 750 * 749 at 5 ms.
  EXPECT_NEAR(m.mean_latency_ms(), (2 * 250 * 750 * 3.0 + 750 * 749 * 5.0) / (1000 * 999), 1e-9);
}

TEST(NetworkModel, TheMeanCountsTheCapOnAHeavyParetoTail) {
  // An entry of 5.5 ms: shape 1.1, scale 0.5 ms, so heavy-tailed that the 10 s cap takes a
  // third of its mean.
  test::TempDir dir;
  std::ofstream(dir.file("one.regions")) << "regions 1\nregion X 1 10 10\nlatency X 5.5\n";
  const NetworkModel m = model("matrix:" + dir.file("one.regions"), "unlimited", 2000, 4);
  EXPECT_NEAR(m.mean_latency_ms(), 5.5 - 0.5 / 0.1 * std::pow(0.5 / 10'000, 0.1), 1e-9);
  std::vector<double> v;
  for (uint32_t a = 0; a < 2000; ++a)
    for (uint32_t b = a + 1; b < 2000; b += 2)
      v.push_back(ms(m.latency(a, b)));
  EXPECT_GE(*std::min_element(v.begin(), v.end()), 0.5);
  EXPECT_LE(*std::max_element(v.begin(), v.end()), 10'000);
  EXPECT_NEAR(mean(v), m.mean_latency_ms(), 0.25);
}

TEST(RegionTable, TheBuiltInTableIsSimBlocks) {
  // SimBlock's NetworkConfiguration.java, the 2019 sets.
  const RegionTable& t = simblock_regions();
  EXPECT_EQ(t.names, (std::vector<std::string>{"NORTH_AMERICA", "EUROPE", "SOUTH_AMERICA",
                                               "ASIA_PACIFIC", "JAPAN", "AUSTRALIA"}));
  ASSERT_EQ(t.latency_ms.size(), 6u);
  EXPECT_EQ(t.latency_ms[0], (std::vector<double>{32, 124, 184, 198, 151, 189}));
  EXPECT_EQ(t.latency_ms[1][1], 11);
  EXPECT_EQ(t.latency_ms[3][4], 58);
  EXPECT_EQ(t.latency_ms[4][1], 252);
  EXPECT_EQ(t.latency_ms[5][5], 16);
  EXPECT_EQ(t.shares, (std::vector<double>{0.3316, 0.4998, 0.0090, 0.1177, 0.0224, 0.0195}));
  EXPECT_EQ(t.upload_mbps, (std::vector<double>{19.2, 20.7, 5.8, 15.7, 10.2, 11.3}));
  EXPECT_EQ(t.download_mbps, (std::vector<double>{52, 40, 18, 22.8, 22.8, 29.9}));
  for (size_t i = 0; i < 6; ++i)
    for (size_t j = 0; j < 6; ++j)
      EXPECT_EQ(t.latency_ms[i][j], t.latency_ms[j][i]);
}

TEST(RegionTable, AWellFormedFileParsesWithCommentsBlanksAndCrLf) {
  auto r = parse_regions(kTwoRegions, "t.regions");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->names, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(r->shares, (std::vector<double>{0.25, 0.75}));
  EXPECT_EQ(r->upload_mbps, (std::vector<double>{10, 20}));
  EXPECT_EQ(r->download_mbps, (std::vector<double>{50, 100}));
  EXPECT_EQ(r->latency_ms, (std::vector<std::vector<double>>{{0, 3}, {3, 5}}));
  std::string crlf;
  for (char c : kTwoRegions)
    crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  EXPECT_TRUE(parse_regions(crlf, "t.regions").ok());
}

// kTwoRegions with line `n` (1-based) replaced.
std::string with_line(size_t n, const std::string& line) {
  std::string out;
  size_t at = 1;
  for (size_t start = 0; start < kTwoRegions.size(); ++at) {
    const size_t nl = kTwoRegions.find('\n', start);
    out += (at == n ? line : kTwoRegions.substr(start, nl - start)) + "\n";
    start = nl + 1;
  }
  return out;
}

TEST(RegionTable, ErrorsNameTheLineAndWhatWasExpected) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "t.regions:1: expected 'regions N', the number of regions (1..64), found the end"},
      {"regions 0\n", "t.regions:1: expected 'regions N'"},
      {"regions 65\n", "t.regions:1: expected 'regions N'"},
      {"regions 1.5\n", "t.regions:1: expected 'regions N'"},
      {with_line(2, "regions 3"),
       "t.regions:6: expected 'region NAME SHARE UP DOWN' (region 3 of 3), found 'latency A 0 3'"},
      {with_line(5, "region B 0.75 20"), "t.regions:5: expected 'region NAME SHARE UP DOWN'"},
      {with_line(5, "region A 0.75 20 100"), "t.regions:5: region name 'A' is already used"},
      {with_line(5, "region B/2 0.75 20 100"), "t.regions:5: region name 'B/2'"},
      {with_line(5, "region B 0.7 20 100"), "t.regions:5: the region shares sum to 0.95"},
      {with_line(5, "region B -0.75 20 100"), "t.regions:5: share '-0.75' of region B"},
      {with_line(3, "region A 0.25 0 50"), "t.regions:3: upload '0' of region A"},
      {with_line(3, "region A 0.25 10 fast"), "t.regions:3: download 'fast' of region A"},
      {with_line(6, "latency A 0"), "t.regions:6: expected 'latency A' and 2 latencies"},
      {with_line(6, "latency A 0 3 4"), "t.regions:6: expected 'latency A' and 2 latencies"},
      {with_line(6, "latency B 0 3"), "t.regions:6: expected row 1 of 2, 'latency A ...'"},
      {with_line(6, "latency A 0 3O"), "t.regions:6: latency '3O' from A to B: expected ms"},
      {with_line(7, "latency B 3 10001"), "t.regions:7: latency '10001' from B to B"},
      {with_line(7, "latency B 4 5"),
       "t.regions:7: latency from B to A is 4 ms but from A to B 3 ms: the matrix must be "
       "symmetric"},
      {with_line(7, "# no last row"),
       "t.regions:6: expected 'latency B' and 2 latencies in ms (row 2 of 2), found the end"},
      {kTwoRegions + "region C 0 1 1\n",
       "t.regions:8: expected the end of the file after the last latency row"},
  };
  for (const auto& [text, error] : cases) {
    SCOPED_TRACE(text);
    EXPECT_EQ(parse_error(text).substr(0, error.size()), error) << parse_error(text);
  }
}

TEST(NetworkModel, BadLatencySpecsAreRefusedWithTheFix) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"uniform:5", "--latency 'uniform:5': expected uniform:LO:HI in ms"},
      {"uniform:50:10", "--latency 'uniform:50:10': expected uniform:LO:HI in ms"},
      {"uniform:-1:10", "--latency 'uniform:-1:10': expected uniform:LO:HI"},
      {"constant", "--latency 'constant': expected constant:MS"},
      {"constant:abc", "--latency 'constant:abc': expected constant:MS, MS in 0..10000"},
      {"constant:20000", "--latency 'constant:20000': expected constant:MS"},
      {"constant:5:6", "--latency 'constant:5:6': expected constant:MS"},
      {"lognormal:0:1", "--latency 'lognormal:0:1': expected lognormal:MEAN:SPREAD"},
      {"lognormal:50:4", "--latency 'lognormal:50:4': expected lognormal:MEAN:SPREAD"},
      {"lognormal:50", "--latency 'lognormal:50': expected lognormal:MEAN:SPREAD"},
      {"pareto:50", "--latency 'pareto:50': expected constant:MS, uniform:LO:HI, lognormal"},
      {"regions:2", "--latency 'regions:2': expected constant:MS"},
      {"matrix:", "--latency 'matrix:': cannot read ''"},
      {"matrix:/nonexistent/x.regions", "--latency 'matrix:/nonexistent/x.regions': cannot read"},
  };
  for (const auto& [spec, error] : cases) {
    SCOPED_TRACE(spec);
    EXPECT_EQ(make_error(spec).substr(0, error.size()), error) << make_error(spec);
  }
  EXPECT_NE(make_error("uniform:5").find("e.g. uniform:10:50"), std::string::npos);
  test::TempDir dir;
  std::ofstream(dir.file("bad.regions")) << with_line(6, "latency A 0 x");
  const std::string path = dir.file("bad.regions");
  EXPECT_EQ(make_error("matrix:" + path), "--latency 'matrix:" + path + "': " + path +
                                              ":6: latency 'x' from A to B: expected ms, 0..10000");
}

TEST(NetworkModel, BandwidthSpecs) {
  const NetworkModel unlimited = model("constant:10");
  EXPECT_EQ(unlimited.upload_bps(3), 0u);
  EXPECT_EQ(unlimited.download_bps(3), 0u);
  EXPECT_EQ(unlimited.bandwidth_spec(), "unlimited");
  const NetworkModel one = model("constant:10", "20");
  EXPECT_EQ(one.upload_bps(3), 20'000'000u);
  EXPECT_EQ(one.download_bps(999), 20'000'000u);
  EXPECT_EQ(one.bandwidth_spec(), "20");
  const NetworkModel two = model("constant:10", "2.5:50");
  EXPECT_EQ(two.upload_bps(0), 2'500'000u);
  EXPECT_EQ(two.download_bps(0), 50'000'000u);
  EXPECT_EQ(two.bandwidth_spec(), "2.5:50");
  EXPECT_EQ(model("constant:10", "8:8").bandwidth_spec(), "8");
  const NetworkModel regional = model("regions", "regions", 2000, 9);
  const RegionTable& t = simblock_regions();
  for (uint32_t i = 0; i < 2000; ++i) {
    const size_t r = *regional.region(i);
    ASSERT_EQ(regional.upload_bps(i), static_cast<uint64_t>(std::llround(t.upload_mbps[r] * 1e6)));
    ASSERT_EQ(regional.download_bps(i),
              static_cast<uint64_t>(std::llround(t.download_mbps[r] * 1e6)));
  }
}

TEST(NetworkModel, BadBandwidthSpecsAreRefusedWithTheFix) {
  for (const std::string spec : {"0", "-5", "1:2:3", "fast", "10:", ":10", "100001"}) {
    const std::string want = "--bandwidth '" + spec +
                             "': expected unlimited, MBPS, UP:DOWN (Mbit/s, more than 0 and at "
                             "most 100000) or regions, e.g. 20 or 20:50";
    EXPECT_EQ(make_error("constant:10", spec), want);
  }
  EXPECT_EQ(make_error("constant:25", "regions"),
            "--bandwidth 'regions': needs region latencies (--latency regions or matrix:PATH), "
            "not 'constant:25'; give MBPS or UP:DOWN instead");
}

}  // namespace
}  // namespace hearsay::sim
