// The network model (sim/model.h). Every per-link value is a pure function of (seed, a, b),
// computed on demand from a hash, so a run of 10,000 nodes keeps one byte per node (its region)
// and no per-link table, whatever the topology.
#include "sim/model.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numbers>
#include <string_view>
#include <tuple>

#include "sim/random.h"

namespace hearsay::sim {

extern const char kSimBlockRegionsText[];  // sim/data/simblock.regions, compiled in

namespace {

// A region index is stored per node in a byte; 64 is far more than any published table has.
constexpr size_t kMaxRegions = 64;
static_assert(kMaxRegions <= 256, "regions are stored per node as uint8_t");
constexpr size_t kMaxNameLength = 32;
// No terrestrial link takes 10 s one way; also the cap on every draw, so that a heavy tail (a
// Pareto, a wide log-normal) stays finite.
constexpr double kMaxLatencyMs = 10000;
constexpr double kMaxMbps = 100000;  // 100 Gbit/s per node
constexpr double kShareTolerance = 1e-6;
// A log-normal SPREAD above 3 puts most of the mean in links slower than the cap.
constexpr double kMaxSpread = 3;
// SimBlock's Pareto (Network.java getLatency): shape 0.2 * MEAN, scale MEAN - 5 ms, whose mean
// is then exactly MEAN; it has a mean only for shape > 1, so entries of at most 5 ms are used as
// they are.
constexpr double kParetoShapePerMs = 0.2;
constexpr double kParetoOffsetMs = 5;
// Independent streams drawn from the one seed.
constexpr uint64_t kLinkStream = 0x6c696e6b;    // "link"
constexpr uint64_t kRegionStream = 0x72656769;  // "regi"

// Hashed from the link's ends in order, so that (a, b) and (b, a) draw the same.
uint64_t link_hash(uint64_t seed, uint32_t a, uint32_t b) {
  const uint64_t key = (uint64_t{std::min(a, b)} << 32) | std::max(a, b);
  return splitmix64(splitmix64(seed ^ kLinkStream) ^ key);
}

// Uniform in (0, 1]: never 0, so logarithms and negative powers stay finite.
double unit(uint64_t h) {
  return static_cast<double>((h >> 11) + 1) * 0x1p-53;
}

double pareto_ms(double mean, double u) {
  if (mean <= kParetoOffsetMs) return mean;
  const double shape = kParetoShapePerMs * mean;
  return std::min(kMaxLatencyMs, (mean - kParetoOffsetMs) * std::pow(u, -1.0 / shape));
}

// E[min(X, kMaxLatencyMs)] for pareto_ms's X.
double pareto_mean_ms(double mean) {
  if (mean <= kParetoOffsetMs) return mean;
  const double shape = kParetoShapePerMs * mean, scale = mean - kParetoOffsetMs;
  return mean - scale / (shape - 1) * std::pow(scale / kMaxLatencyMs, shape - 1);
}

double normal_cdf(double x) {
  return 0.5 * std::erfc(-x / std::numbers::sqrt2);
}

// E[min(X, kMaxLatencyMs)] for X = exp(N(mu, sigma^2)).
double lognormal_mean_ms(double mu, double sigma) {
  const double mean = std::exp(mu + sigma * sigma / 2);
  if (sigma == 0) return std::min(mean, kMaxLatencyMs);
  const double cap = std::log(kMaxLatencyMs);
  return mean * normal_cdf((cap - mu - sigma * sigma) / sigma) +
         kMaxLatencyMs * (1 - normal_cdf((cap - mu) / sigma));
}

// A decimal number, the whole of `s`, finite.
std::optional<double> number(std::string_view s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

uint64_t bps(double mbps) {
  return static_cast<uint64_t>(std::llround(mbps * 1e6));
}

// The shortest decimal that reads back as `v`, without an exponent (100000, not 1e+05).
std::string shortest(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  if (r.ec != std::errc()) r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (size_t start = 0;;) {
    const size_t e = s.find(sep, start);
    out.push_back(s.substr(start, e == std::string_view::npos ? e : e - start));
    if (e == std::string_view::npos) return out;
    start = e + 1;
  }
}

// A region file's non-blank records, split into fields, with their line numbers.
struct Record {
  size_t line = 0;
  std::vector<std::string_view> fields;
};

std::vector<Record> split_records(std::string_view text) {
  std::vector<Record> out;
  const auto lines = split(text, '\n');
  for (size_t n = 0; n < lines.size(); ++n) {
    std::string_view rest = lines[n].substr(0, lines[n].find('#'));
    Record r{n + 1, {}};
    for (size_t b; (b = rest.find_first_not_of(" \t\r")) != std::string_view::npos;) {
      rest.remove_prefix(b);
      const size_t e = std::min(rest.find_first_of(" \t\r"), rest.size());
      r.fields.push_back(rest.substr(0, e));
      rest.remove_prefix(e);
    }
    if (!r.fields.empty()) out.push_back(std::move(r));
  }
  return out;
}

bool valid_name(std::string_view s) {
  return !s.empty() && s.size() <= kMaxNameLength && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// Reads the records in order: the header, the regions, the latency rows; the first error wins.
class RegionParser {
 public:
  RegionParser(std::string_view text, std::string origin)
      : m_origin(std::move(origin)), m_records(split_records(text)) {}

  Result<RegionTable, std::string> parse() {
    bool ok = header();
    for (size_t i = 0; ok && i < m_count; ++i)
      ok = region(i);
    ok = ok && shares_sum();
    for (size_t i = 0; ok && i < m_count; ++i)
      ok = latency_row(i);
    if (ok && m_pos < m_records.size())
      ok = error(m_records[m_pos].line, "expected the end of the file after the last latency row",
                 &m_records[m_pos]);
    if (!ok) return fail(m_error);
    return std::move(m_table);
  }

 private:
  bool error(size_t line, const std::string& what, const Record* found = nullptr) {
    m_error = m_origin + ":" + std::to_string(line) + ": " + what;
    if (found) {
      m_error += ", found '";
      for (size_t i = 0; i < found->fields.size(); ++i)
        m_error += (i ? " " : "") + std::string(found->fields[i]);
      m_error += "'";
    }
    return false;
  }
  // The next record if it has `fields` fields and starts with `keyword`; else an error naming
  // `expected` and what was found instead (at the end of the file, the last record's line).
  const Record* next(std::string_view keyword, size_t fields, const std::string& expected) {
    if (m_pos == m_records.size()) {
      error(m_records.empty() ? 1 : m_records.back().line,
            expected + ", found the end of the file");
      return nullptr;
    }
    const Record& r = m_records[m_pos++];
    if (r.fields.size() == fields && r.fields[0] == keyword) return &r;
    error(r.line, expected, &r);
    return nullptr;
  }
  std::string nth(size_t i) const {
    return std::to_string(i + 1) + " of " + std::to_string(m_count);
  }

  bool header() {
    const std::string expected =
        "expected 'regions N', the number of regions (1.." + std::to_string(kMaxRegions) + ")";
    const Record* r = next("regions", 2, expected);
    if (!r) return false;
    const auto n = number(r->fields[1]);
    if (!n || *n < 1 || *n > static_cast<double>(kMaxRegions) || *n != std::floor(*n))
      return error(r->line, expected, r);
    m_count = static_cast<size_t>(*n);
    m_table.latency_ms.assign(m_count, std::vector<double>(m_count));
    return true;
  }

  bool region(size_t i) {
    const Record* r =
        next("region", 5, "expected 'region NAME SHARE UP DOWN' (region " + nth(i) + ")");
    if (!r) return false;
    const std::string name(r->fields[1]);
    if (!valid_name(name))
      return error(r->line, "region name '" + name + "': expected 1.." +
                                std::to_string(kMaxNameLength) + " letters, digits, '_' or '-'");
    if (std::find(m_table.names.begin(), m_table.names.end(), name) != m_table.names.end())
      return error(r->line, "region name '" + name + "' is already used");
    const auto share = number(r->fields[2]), up = number(r->fields[3]), down = number(r->fields[4]);
    if (!share || *share < 0 || *share > 1)
      return error(r->line, "share '" + std::string(r->fields[2]) + "' of region " + name +
                                ": expected a fraction of the nodes, 0..1");
    for (auto [v, field, what] :
         {std::tuple{up, r->fields[3], "upload"}, std::tuple{down, r->fields[4], "download"}})
      if (!v || *v <= 0 || *v > kMaxMbps)
        return error(r->line, std::string(what) + " '" + std::string(field) + "' of region " +
                                  name + ": expected Mbit/s, more than 0 and at most " +
                                  shortest(kMaxMbps));
    m_table.names.push_back(name);
    m_table.shares.push_back(*share);
    m_table.upload_mbps.push_back(*up);
    m_table.download_mbps.push_back(*down);
    m_last_region_line = r->line;
    return true;
  }

  bool shares_sum() {
    double sum = 0;
    for (double s : m_table.shares)
      sum += s;
    return std::abs(sum - 1) <= kShareTolerance ||
           error(m_last_region_line, "the region shares sum to " + shortest(sum) +
                                         ", expected 1 (within " + shortest(kShareTolerance) + ")");
  }

  bool latency_row(size_t i) {
    const std::string& name = m_table.names[i];
    const Record* r = next("latency", m_count + 2,
                           "expected 'latency " + name + "' and " + std::to_string(m_count) +
                               " latencies in ms (row " + nth(i) + ")");
    if (!r) return false;
    if (r->fields[1] != name)
      return error(r->line, "expected row " + nth(i) + ", 'latency " + name + " ...'", r);
    for (size_t j = 0; j < m_count; ++j) {
      const auto ms = number(r->fields[j + 2]);
      const std::string& to = m_table.names[j];
      if (!ms || *ms < 0 || *ms > kMaxLatencyMs)
        return error(r->line, "latency '" + std::string(r->fields[j + 2]) + "' from " + name +
                                  " to " + to + ": expected ms, 0.." + shortest(kMaxLatencyMs));
      if (j < i && *ms != m_table.latency_ms[j][i])
        return error(r->line, "latency from " + name + " to " + to + " is " + shortest(*ms) +
                                  " ms but from " + to + " to " + name + " " +
                                  shortest(m_table.latency_ms[j][i]) +
                                  " ms: the matrix must be symmetric");
      m_table.latency_ms[i][j] = *ms;
    }
    return true;
  }

  std::string m_origin, m_error;
  std::vector<Record> m_records;
  size_t m_pos = 0, m_count = 0, m_last_region_line = 0;
  RegionTable m_table;
};

// The built-in table for "regions", a file's for "matrix:PATH".
Result<std::shared_ptr<const RegionTable>, std::string> region_table(const std::string& spec) {
  if (spec == "regions") return std::make_shared<const RegionTable>(simblock_regions());
  const std::string path = spec.substr(std::string_view("matrix:").size());
  std::error_code ec;
  std::ifstream in(path, std::ios::binary);
  if (path.empty() || !std::filesystem::is_regular_file(path, ec) || !in)
    return fail("cannot read '" + path +
                "': expected matrix:PATH, a region file in the format of "
                "sim/data/simblock.regions");
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return fail("cannot read '" + path + "'");
  auto table = parse_regions(text, path);
  if (!table.ok()) return fail(table.error());
  return std::make_shared<const RegionTable>(std::move(table).value());
}

}  // namespace

Result<RegionTable, std::string> parse_regions(const std::string& text, const std::string& origin) {
  return RegionParser(text, origin).parse();
}

const RegionTable& simblock_regions() {
  static const RegionTable kTable = [] {
    auto r = parse_regions(kSimBlockRegionsText, "sim/data/simblock.regions");
    if (!r.ok())
      std::fprintf(stderr, "hearsay-sim: built-in region table: %s\n", r.error().c_str());
    HEARSAY_CHECK(r.ok());
    return std::move(r).value();
  }();
  return kTable;
}

Result<NetworkModel, std::string> NetworkModel::make(const std::string& latency,
                                                     const std::string& bandwidth, size_t nodes,
                                                     uint64_t seed) {
  NetworkModel m;
  m.m_seed = seed;
  if (Status s = m.set_latency(latency); !s.ok()) return fail(s.message());
  if (Status s = m.set_bandwidth(bandwidth); !s.ok()) return fail(s.message());
  if (m.m_kind == Kind::kRegions) m.assign_regions(nodes);
  m.m_mean_ms = m.expected_ms();
  return m;
}

Status NetworkModel::set_latency(const std::string& spec) {
  const std::string given = "--latency '" + spec + "': ";
  if (spec == "regions" || spec.starts_with("matrix:")) {
    auto table = region_table(spec);
    if (!table.ok()) return Status::error(given + table.error());
    m_kind = Kind::kRegions;
    m_table = std::move(table).value();
    m_latency_spec = spec;
    return {};
  }
  // Each number is in 0..kMaxLatencyMs (a SPREAD is also at most kMaxSpread).
  const auto parts = split(spec, ':');
  const std::string_view kind = parts[0];
  std::vector<double> v;
  for (size_t i = 1; i < parts.size(); ++i)
    if (auto x = number(parts[i]); x && *x >= 0 && *x <= kMaxLatencyMs) v.push_back(*x);
  const bool all = v.size() + 1 == parts.size();
  const std::string max = shortest(kMaxLatencyMs);
  if (kind == "constant" && all && v.size() == 1) {
    m_kind = Kind::kConstant;
    m_lo_us = m_hi_us = std::llround(v[0] * 1000);
  } else if (kind == "uniform" && all && v.size() == 2 && v[0] <= v[1]) {
    m_kind = Kind::kUniform;
    m_lo_us = std::llround(v[0] * 1000);
    m_hi_us = std::llround(v[1] * 1000);
  } else if (kind == "lognormal" && all && v.size() == 2 && v[0] > 0 && v[1] <= kMaxSpread) {
    m_kind = Kind::kLognormal;
    m_sigma = v[1];
    m_mu = std::log(v[0]) - m_sigma * m_sigma / 2;
  } else {
    const std::string usage =
        kind == "constant" ? "constant:MS, MS in 0.." + max + ", e.g. constant:25"
        : kind == "uniform"
            ? "uniform:LO:HI in ms, 0 <= LO <= HI <= " + max + ", e.g. uniform:10:50"
        : kind == "lognormal"
            ? "lognormal:MEAN:SPREAD, MEAN in ms (more than 0, at most " + max + "), SPREAD 0.." +
                  shortest(kMaxSpread) + ", e.g. lognormal:50:0.5"
            : "constant:MS, uniform:LO:HI, lognormal:MEAN:SPREAD, regions or matrix:PATH";
    return Status::error(given + "expected " + usage);
  }
  m_latency_spec = kind;
  for (double x : v)
    m_latency_spec += ":" + shortest(x);
  return {};
}

Status NetworkModel::set_bandwidth(const std::string& spec) {
  const std::string given = "--bandwidth '" + spec + "': ";
  m_bandwidth_spec = spec;
  if (spec == "unlimited") return {};
  if (spec == "regions") {
    if (m_kind != Kind::kRegions)
      return Status::error(given +
                           "needs region latencies (--latency regions or matrix:PATH), "
                           "not '" +
                           m_latency_spec + "'; give MBPS or UP:DOWN instead");
    m_bandwidth_by_region = true;
    return {};
  }
  const auto parts = split(spec, ':');
  std::vector<double> mbps;
  for (auto p : parts)
    if (auto v = number(p); v && *v > 0 && *v <= kMaxMbps) mbps.push_back(*v);
  if (parts.size() > 2 || mbps.size() != parts.size())
    return Status::error(given +
                         "expected unlimited, MBPS, UP:DOWN (Mbit/s, more than 0 and at "
                         "most " +
                         shortest(kMaxMbps) + ") or regions, e.g. 20 or 20:50");
  m_up_bps = bps(mbps.front());
  m_down_bps = bps(mbps.back());
  m_bandwidth_spec = mbps.front() == mbps.back()
                         ? shortest(mbps.front())
                         : shortest(mbps.front()) + ":" + shortest(mbps.back());
  return {};
}

// Quotas by cumulative share, rounded, so each region gets its share of the nodes within one
// and they add up to exactly `nodes`; then a seeded shuffle decides which nodes.
void NetworkModel::assign_regions(size_t nodes) {
  m_region.clear();
  m_region.reserve(nodes);
  const auto& shares = m_table->shares;
  double cumulative = 0;
  size_t dealt = 0;
  for (size_t r = 0; r < shares.size(); ++r) {
    cumulative += shares[r] * static_cast<double>(nodes);
    const size_t bound = r + 1 == shares.size()
                             ? nodes
                             : std::min(nodes, static_cast<size_t>(std::llround(cumulative)));
    for (; dealt < bound; ++dealt)
      m_region.push_back(static_cast<uint8_t>(r));
  }
  Rng rng(m_seed ^ kRegionStream);
  for (size_t i = nodes; i > 1; --i)
    std::swap(m_region[i - 1], m_region[rng.below(i)]);
}

double NetworkModel::draw_ms(uint32_t a, uint32_t b) const {
  const uint64_t h = link_hash(m_seed, a, b);
  if (m_kind == Kind::kLognormal) {
    const double z =
        std::sqrt(-2 * std::log(unit(h))) * std::cos(2 * std::numbers::pi * unit(splitmix64(h)));
    return std::min(kMaxLatencyMs, std::exp(m_mu + m_sigma * z));
  }
  HEARSAY_CHECK(a < m_region.size() && b < m_region.size());
  return pareto_ms(m_table->latency_ms[m_region[a]][m_region[b]], unit(h));
}

// The expected latency of a link between two distinct nodes taken at random (analytic, with the
// cap; ignoring the rounding of each draw to whole microseconds).
double NetworkModel::expected_ms() const {
  switch (m_kind) {
    case Kind::kConstant:
    case Kind::kUniform:
      return static_cast<double>(m_lo_us + m_hi_us) / 2000;
    case Kind::kLognormal:
      return lognormal_mean_ms(m_mu, m_sigma);
    case Kind::kRegions:
      break;
  }
  const size_t n = m_table->names.size();
  std::vector<double> count(n);
  for (uint8_t r : m_region)
    count[r] += 1;
  // Pairs of distinct nodes by region pair; with fewer than two nodes, by share instead.
  const bool by_share = m_region.size() < 2;
  double sum = 0, pairs = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      const double w = by_share ? m_table->shares[i] * m_table->shares[j]
                                : count[i] * (count[j] - (i == j ? 1 : 0));
      sum += w * pareto_mean_ms(m_table->latency_ms[i][j]);
      pairs += w;
    }
  return pairs > 0 ? sum / pairs : 0;
}

Duration NetworkModel::latency(uint32_t a, uint32_t b) const {
  switch (m_kind) {
    case Kind::kConstant:
      return Duration(m_lo_us);
    case Kind::kUniform:
      return Duration(m_lo_us + static_cast<int64_t>(link_hash(m_seed, a, b) %
                                                     static_cast<uint64_t>(m_hi_us - m_lo_us + 1)));
    default:
      return Duration(std::llround(draw_ms(a, b) * 1000));
  }
}

uint64_t NetworkModel::upload_bps(uint32_t node) const {
  return m_bandwidth_by_region ? bps(m_table->upload_mbps[*region(node)]) : m_up_bps;
}

uint64_t NetworkModel::download_bps(uint32_t node) const {
  return m_bandwidth_by_region ? bps(m_table->download_mbps[*region(node)]) : m_down_bps;
}

std::optional<size_t> NetworkModel::region(uint32_t node) const {
  if (m_kind != Kind::kRegions) return std::nullopt;
  HEARSAY_CHECK(node < m_region.size());
  return m_region[node];
}

}  // namespace hearsay::sim
