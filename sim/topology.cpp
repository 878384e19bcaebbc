#include "sim/topology.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <deque>
#include <optional>
#include <unordered_set>

#include "sim/random.h"

namespace hearsay::sim {
namespace {

using Pair = std::pair<uint32_t, uint32_t>;

// Resampling attempts before a random graph gives up. A random d-regular graph with d >= 3 is
// connected with high probability, so this bound is only reached by impossible requests; it is
// contrib/testnet/topology.py's MAX_ATTEMPTS.
constexpr int kMaxAttempts = 1000;
// Highest node index an edge-list file may name when --nodes is inferred from it: a hundred
// times the simulator's design size. A larger index is a typo, and the inferred node count
// would allocate per node.
constexpr uint64_t kMaxFileIndex = 1'000'000;
// Draws (this plus eight per pick) before pick_distinct stops rejecting ineligible nodes and
// lists the eligible ones instead: rejection is cheap while most nodes qualify.
constexpr size_t kRejectionDraws = 64;
// Seed streams, so that a run's other users of its seed draw numbers unrelated to these.
constexpr uint64_t kTopologyStream = 0x746f706f6c6f6779;  // "topology"
constexpr uint64_t kPickStream = 0x7069636b6f757462;      // "pickoutb"

bool coin(Rng& rng) {
  return rng.next() >> 63;
}

// Fisher-Yates on the simulator's generator (std::shuffle's draws differ between libraries).
template <class T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i)
    std::swap(v[i - 1], v[rng.below(i)]);
}

// An unordered pair as one key.
uint64_t pair_key(uint32_t a, uint32_t b) {
  return (uint64_t{std::min(a, b)} << 32) | std::max(a, b);
}
using PairSet = std::unordered_set<uint64_t>;

// Up to `count` distinct nodes below `n` for which `eligible` holds, each draw uniform among
// the eligible nodes not drawn yet: by rejection while most nodes qualify, else from a list.
template <class Eligible>
std::vector<uint32_t> pick_distinct(Rng& rng, size_t n, size_t count, const Eligible& eligible) {
  std::vector<uint32_t> picked;
  if (n == 0) return picked;
  auto fresh = [&](uint32_t v) {
    return eligible(v) && std::find(picked.begin(), picked.end(), v) == picked.end();
  };
  for (size_t draws = 0; picked.size() < count && draws < kRejectionDraws + 8 * count; ++draws) {
    const auto v = static_cast<uint32_t>(rng.below(n));
    if (fresh(v)) picked.push_back(v);
  }
  if (picked.size() == count) return picked;
  std::vector<uint32_t> rest;
  for (uint32_t v = 0; v < n; ++v) {
    if (fresh(v)) rest.push_back(v);
  }
  while (picked.size() < count && !rest.empty()) {
    const size_t i = rng.below(rest.size());
    picked.push_back(rest[i]);
    rest[i] = rest.back();
    rest.pop_back();
  }
  return picked;
}

// Chooses a dialler for each pair so that outbound counts stay even: in a random order, the
// end with fewer dials so far dials (a coin decides ties), as topology.py's _orient.
std::vector<Pair> orient(size_t n, std::vector<Pair> pairs, Rng& rng) {
  shuffle(pairs, rng);
  std::vector<uint32_t> out(n);
  for (auto& [a, b] : pairs) {
    if (out[a] > out[b] || (out[a] == out[b] && coin(rng))) std::swap(a, b);
    ++out[a];
  }
  std::sort(pairs.begin(), pairs.end());
  return pairs;
}

// Whether two of `points` (distinct, not yet linked) could still be paired.
bool can_pair(std::vector<uint32_t> points, const PairSet& linked) {
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  for (size_t i = 0; i < points.size(); ++i) {
    for (size_t j = i + 1; j < points.size(); ++j) {
      if (!linked.contains(pair_key(points[i], points[j]))) return true;
    }
  }
  return false;
}

// One attempt of the pairing model keeping the graph simple (topology.py's
// _random_regular_pairs): shuffle the d copies of every node, pair neighbours of the shuffle,
// defer the copies whose pair would be a loop or a second link, and shuffle those again. A
// simple d-regular graph, not necessarily connected, close to uniform when d is small against
// n; nullopt when the rest cannot pair.
std::optional<std::vector<Pair>> pair_points(size_t n, size_t d, Rng& rng) {
  std::vector<uint32_t> points;
  points.reserve(n * d);
  for (uint32_t v = 0; v < n; ++v)
    points.insert(points.end(), d, v);
  PairSet linked;
  linked.reserve(n * d / 2);
  std::vector<Pair> pairs;
  std::vector<uint32_t> rest;
  while (!points.empty()) {
    shuffle(points, rng);
    rest.clear();
    bool progress = false;
    for (size_t i = 0; i + 1 < points.size(); i += 2) {
      const uint32_t a = points[i], b = points[i + 1];
      if (a != b && linked.insert(pair_key(a, b)).second) {
        pairs.emplace_back(std::min(a, b), std::max(a, b));
        progress = true;
      } else {
        rest.insert(rest.end(), {a, b});
      }
    }
    points.swap(rest);
    if (!progress && !can_pair(points, linked)) return std::nullopt;
  }
  return pairs;
}

// Every pair of nodes below n that `pairs` lacks.
std::vector<Pair> complement(size_t n, const std::vector<Pair>& pairs) {
  PairSet linked;
  for (const auto& [a, b] : pairs)
    linked.insert(pair_key(a, b));
  std::vector<Pair> out;
  for (uint32_t a = 0; a < n; ++a) {
    for (uint32_t b = a + 1; b < n; ++b) {
      if (!linked.contains(pair_key(a, b))) out.emplace_back(a, b);
    }
  }
  return out;
}

// A uniformly random connected 2-regular graph is a Hamiltonian cycle: a random order of the
// nodes, closed (each cycle is 2n of the n! orders, so every cycle is equally likely).
std::vector<Pair> random_cycle(size_t n, Rng& rng) {
  std::vector<uint32_t> order(n);
  for (uint32_t v = 0; v < n; ++v)
    order[v] = v;
  shuffle(order, rng);
  std::vector<Pair> pairs;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t a = order[i], b = order[(i + 1) % n];
    pairs.emplace_back(std::min(a, b), std::max(a, b));
  }
  return pairs;
}

// A simple d-regular graph, not necessarily connected. Above half the possible degree it is
// the complement of a random (n-1-d)-regular one (complementing maps the one family onto the
// other one to one, so the choice stays uniform), where pairing rarely gets stuck.
std::optional<std::vector<Pair>> regular_pairs(size_t n, size_t d, Rng& rng) {
  if (d == 2 && n >= 3) return random_cycle(n, rng);
  if (2 * d <= n - 1) return pair_points(n, d, rng);
  auto sparse = pair_points(n, n - 1 - d, rng);
  if (!sparse) return std::nullopt;
  return complement(n, *sparse);
}

Result<Topology, std::string> random_regular(size_t n, size_t d, uint64_t seed) {
  if (d < 1) return fail("--degree must be at least 1 for random-regular");
  if (d >= n) {
    return fail("--degree " + std::to_string(d) + " needs more than " + std::to_string(d) +
                " nodes (with --nodes " + std::to_string(n) + " use --topology full)");
  }
  if (n * d % 2) {
    return fail("random-regular needs --nodes × --degree even (" + std::to_string(n) + " × " +
                std::to_string(d) + " is odd): change one of them");
  }
  if (d == 1 && n > 2) {
    return fail(
        "random-regular with --degree 1 is separate pairs, never connected beyond "
        "--nodes 2: use --degree 2 or more");
  }
  Rng rng(seed ^ kTopologyStream);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto pairs = regular_pairs(n, d, rng);
    if (!pairs) continue;
    Topology t{n, orient(n, std::move(*pairs), rng), "random-regular"};
    if (t.connected()) return t;
  }
  return fail("no connected " + std::to_string(d) + "-regular graph on " + std::to_string(n) +
              " nodes after " + std::to_string(kMaxAttempts) +
              " attempts (raise --degree, or use --topology ring)");
}

// Node i dials i+1 .. i+k (mod n), k = degree/2 (at least 1, at most n/2): every node dials k
// and listens to k. When 2k = n, i and i+k are one pair, dialled from the lower half.
Topology ring(size_t n, size_t degree) {
  const size_t k = std::min(std::max<size_t>(1, degree / 2), n / 2);
  Topology t{n, {}, "ring"};
  for (size_t j = 1; j <= k; ++j) {
    for (size_t i = 0; i < n; ++i) {
      if (2 * j == n && i >= j) continue;
      t.edges.emplace_back(i, (i + j) % n);
    }
  }
  std::sort(t.edges.begin(), t.edges.end());
  return t;
}

// A balanced tournament: i dials i+1 .. i+(n-1)/2 (mod n), and the lower-numbered even node of
// an opposite pair (n even) dials, as topology.py's full.
Topology full(size_t n) {
  Topology t{n, {}, "full"};
  for (uint32_t a = 0; a < n; ++a) {
    for (uint32_t b = a + 1; b < n; ++b) {
      const size_t gap = b - a;
      if (gap < n - gap || (gap == n - gap && a % 2 == 0)) {
        t.edges.emplace_back(a, b);
      } else {
        t.edges.emplace_back(b, a);
      }
    }
  }
  std::sort(t.edges.begin(), t.edges.end());
  return t;
}

// Nodes dial in index order, each kBitcoinOutbound distinct others that are not linked to it
// already and still accept inbound.
Topology bitcoin_dials(size_t n, Rng& rng) {
  Topology t{n, {}, "bitcoin"};
  std::vector<uint32_t> inbound(n);
  PairSet linked;
  linked.reserve(n * kBitcoinOutbound);
  for (uint32_t node = 0; node < n; ++node) {
    auto eligible = [&](uint32_t v) {
      return v != node && inbound[v] < kBitcoinMaxInbound && !linked.contains(pair_key(node, v));
    };
    for (uint32_t v : pick_distinct(rng, n, kBitcoinOutbound, eligible)) {
      t.edges.emplace_back(node, v);
      ++inbound[v];
      linked.insert(pair_key(node, v));
    }
  }
  std::sort(t.edges.begin(), t.edges.end());
  return t;
}

Result<Topology, std::string> bitcoin(size_t n, uint64_t seed) {
  Rng rng(seed ^ kTopologyStream);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    Topology t = bitcoin_dials(n, rng);
    if (t.connected()) return t;
  }
  return fail("no connected bitcoin topology on " + std::to_string(n) + " nodes after " +
              std::to_string(kMaxAttempts) + " attempts (use --topology random-regular)");
}

Result<std::string, std::string> read_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return fail("cannot read topology file " + path + ": " + std::strerror(errno));
  std::string text;
  char buf[65536];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0)
    text.append(buf, got);
  const bool failed = std::ferror(f);
  const int error = errno;
  std::fclose(f);
  if (failed) return fail("cannot read topology file " + path + ": " + std::strerror(error));
  return text;
}

constexpr const char* kSpace = " \t\r\v\f";

std::string trim(const std::string& s) {
  const size_t first = s.find_first_not_of(kSpace);
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(kSpace) + 1 - first);
}

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  for (size_t at = line.find_first_not_of(kSpace); at != std::string::npos;
       at = line.find_first_not_of(kSpace, at)) {
    const size_t end = std::min(line.find_first_of(kSpace, at), line.size());
    out.push_back(line.substr(at, end - at));
    at = end;
  }
  return out;
}

// A node index as the file spells it: digits only; too long for 64 bits reads as the maximum
// (out of range for every limit). nullopt when it is not a number.
std::optional<uint64_t> parse_index(const std::string& word) {
  if (word.empty() ||
      !std::all_of(word.begin(), word.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(word.data(), word.data() + word.size(), value);
  return ec == std::errc{} ? value : UINT64_MAX;
}

// One line of an edge-list file, named `where` (path:line) in errors: nullopt for a blank or
// comment line. With `nodes` 0 the node count is inferred, so only absurd indexes are refused.
Result<std::optional<Pair>, std::string> parse_edge_line(const std::string& raw,
                                                         const std::string& where, size_t nodes) {
  const std::string line = trim(raw.substr(0, raw.find('#')));
  std::string spaced = line;
  std::replace(spaced.begin(), spaced.end(), ',', ' ');
  const std::vector<std::string> tokens = words(spaced);
  if (tokens.empty()) return std::optional<Pair>{};
  std::optional<uint64_t> ends[2];
  if (tokens.size() == 2) ends[0] = parse_index(tokens[0]), ends[1] = parse_index(tokens[1]);
  if (!ends[0] || !ends[1]) {
    return fail(where + ": expected two 0-based node indexes 'A B', got '" + line + "'");
  }
  const uint64_t limit = nodes > 0 ? nodes - 1 : kMaxFileIndex;
  for (size_t i = 0; i < 2; ++i) {
    if (*ends[i] <= limit) continue;
    return fail(where + ": node " + tokens[i] + " is out of range: " +
                (nodes > 0 ? "--nodes is " + std::to_string(nodes) + " (indexes are 0-based)"
                           : "at most " + std::to_string(kMaxFileIndex) +
                                 " when --nodes is inferred from the file"));
  }
  if (*ends[0] == *ends[1]) {
    return fail(where + ": a node cannot link to itself (" + tokens[0] + ")");
  }
  return std::optional<Pair>{Pair(*ends[0], *ends[1])};
}

// An edge-list file: "A B" means A dials B (the order a testnet run records), a pair given
// twice (either way round) is one link, dialled as first given.
Result<Topology, std::string> from_file(const std::string& path, size_t nodes) {
  auto text = read_file(path);
  if (!text) return fail(text.error());
  Topology t{nodes, {}, "file"};
  PairSet linked;
  uint64_t top = 0;
  size_t lineno = 0;
  for (size_t at = 0; at < text->size(); ++lineno) {
    const size_t end = std::min(text->find('\n', at), text->size());
    auto edge =
        parse_edge_line(text->substr(at, end - at), path + ":" + std::to_string(lineno + 1), nodes);
    at = end + 1;
    if (!edge) return fail(edge.error());
    if (!*edge) continue;
    const auto [a, b] = **edge;
    if (linked.insert(pair_key(a, b)).second) t.edges.emplace_back(a, b);
    top = std::max<uint64_t>({top, a, b});
  }
  if (t.nodes == 0) t.nodes = t.edges.empty() ? 0 : top + 1;
  if (t.nodes == 0) {
    return fail(path +
                " has no links to infer the node count from: add 'A B' lines or give --nodes");
  }
  std::sort(t.edges.begin(), t.edges.end());
  const std::vector<int> hops = t.hops_from(0);
  const auto lost = std::find(hops.begin(), hops.end(), -1);
  if (lost != hops.end()) {
    return fail(path + ": the graph is not connected (node " + std::to_string(lost - hops.begin()) +
                " cannot be reached from node 0), so some nodes would never hear of a transaction");
  }
  return t;
}

}  // namespace

std::vector<std::vector<uint32_t>> Topology::adjacency() const {
  std::vector<std::vector<uint32_t>> adj(nodes);
  for (const auto& [a, b] : edges) {
    adj[a].push_back(b);
    adj[b].push_back(a);
  }
  for (auto& neighbours : adj)
    std::sort(neighbours.begin(), neighbours.end());
  return adj;
}

bool Topology::connected() const {
  if (nodes <= 1) return true;
  const std::vector<int> hops = hops_from(0);
  return std::find(hops.begin(), hops.end(), -1) == hops.end();
}

std::vector<int> Topology::hops_from(uint32_t origin) const {
  HEARSAY_CHECK(origin < nodes);
  const auto adj = adjacency();
  std::vector<int> hops(nodes, -1);
  hops[origin] = 0;
  std::deque<uint32_t> queue{origin};
  while (!queue.empty()) {
    const uint32_t u = queue.front();
    queue.pop_front();
    for (uint32_t v : adj[u]) {
      if (hops[v] < 0) {
        hops[v] = hops[u] + 1;
        queue.push_back(v);
      }
    }
  }
  return hops;
}

Result<Topology, std::string> build_topology(const std::string& spec, size_t nodes, size_t degree,
                                             uint64_t seed) {
  if (spec.starts_with("file:")) {
    if (spec.size() == 5) return fail("--topology file: needs a path: file:PATH");
    return from_file(spec.substr(5), nodes);
  }
  if (spec != "random-regular" && spec != "ring" && spec != "full" && spec != "bitcoin") {
    return fail("unknown --topology '" + spec +
                "': use random-regular, ring, full, bitcoin or file:PATH");
  }
  if (nodes < 1) return fail("--nodes must be at least 1");
  if (nodes == 1) return Topology{1, {}, spec};
  if (spec == "random-regular") return random_regular(nodes, degree, seed);
  if (spec == "ring") return ring(nodes, degree);
  if (spec == "full") return full(nodes);
  return bitcoin(nodes, seed);
}

std::vector<uint32_t> pick_outbound(uint32_t node, size_t count, const std::vector<uint8_t>& up,
                                    const std::vector<uint32_t>& inbound, size_t max_inbound,
                                    const std::vector<uint32_t>& exclude, uint64_t seed) {
  HEARSAY_CHECK(inbound.size() == up.size());
  std::vector<uint32_t> excluded = exclude;
  std::sort(excluded.begin(), excluded.end());
  auto eligible = [&](uint32_t v) {
    return v != node && up[v] && inbound[v] < max_inbound &&
           !std::binary_search(excluded.begin(), excluded.end(), v);
  };
  Rng rng(seed ^ kPickStream);
  return pick_distinct(rng, up.size(), count, eligible);
}

}  // namespace hearsay::sim
