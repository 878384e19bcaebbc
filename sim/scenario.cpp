#include "sim/scenario.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "sim/random.h"

namespace hearsay::sim {

namespace {

// Seed streams of the schedule (the simulation's own derive from the same seed elsewhere).
enum : uint64_t { kTagOrigins = 101, kTagChurn, kTagForgers, kTagPartition, kTagWarmup };

Duration seconds(double s) {
  return Duration(static_cast<int64_t>(std::llround(s * 1e6)));
}

// x is a number in [lo, hi] (NaN and infinities are not).
bool in_range(double x, double lo, double hi) {
  return x >= lo && x <= hi;
}

Status check(const Scenario& sc) {
  if (sc.nodes < 2) return fail(std::string("--nodes must be at least 2"));
  if (!in_range(sc.rate, 1e-6, 1e6))
    return fail("--rate " + std::to_string(sc.rate) +
                ": expected 0.000001 ≤ rate ≤ 1,000,000 per second");
  if (!(sc.forgers >= 0 && sc.forgers < 1))
    return fail("--forgers " + std::to_string(sc.forgers) + ": expected a fraction in [0, 1)");
  if (!in_range(sc.churn, 0, 1e6))
    return fail(std::string("--churn: expected 0 ≤ nodes leaving per second ≤ 1,000,000"));
  if (sc.churn > 0 && !in_range(sc.churn_down_s, 1e-6, 1e6))
    return fail(std::string("--churn-down-s: expected 0 < seconds ≤ 1,000,000"));
  const bool split = sc.partition_at_s != kNoTime, heal = sc.heal_at_s != kNoTime;
  if (split != heal ||
      (split && !(in_range(sc.partition_at_s, 0, 1e6) && in_range(sc.heal_at_s, 0, 1e6) &&
                  sc.heal_at_s > sc.partition_at_s)))
    return fail(std::string(
        "--partition-at and --heal-at go together, in seconds (0..1,000,000) with the heal after "
        "the partition (e.g. --partition-at 2 --heal-at 8)"));
  if (sc.blocks > 0 && !in_range(sc.block_interval_s, 1e-3, 1e6))
    return fail(std::string("--blocks needs --block-interval S, 0.001 ≤ S ≤ 1,000,000"));
  if (!in_range(sc.timeout_s, 1e-3, 1e7))
    return fail(std::string("--timeout: expected 0.001 ≤ virtual seconds ≤ 10,000,000"));
  if (auto p = payload_size_for(sc.sim.tx_size); !p) return fail(p.error());
  return {};
}

// The measured injections: the schedule file's, or `txs` at `rate` from the origins in turn.
Result<std::vector<Injection>, std::string> injections(const Scenario& sc) {
  if (!sc.schedule.empty()) return read_schedule(sc.schedule, sc.nodes);
  std::vector<uint32_t> order;
  if (sc.origin == "random") {
    order.resize(sc.nodes);
    for (uint32_t i = 0; i < sc.nodes; ++i)
      order[i] = i;
    Rng rng(sc.sim.seed ^ kTagOrigins);
    for (size_t i = order.size() - 1; i > 0; --i)
      std::swap(order[i], order[rng.below(i + 1)]);
  } else {
    char* end = nullptr;
    const unsigned long o = std::strtoul(sc.origin.c_str(), &end, 10);
    if (sc.origin.empty() || *end != '\0' || o >= sc.nodes)
      return fail("--origin '" + sc.origin + "': expected random or a node index 0.." +
                  std::to_string(sc.nodes - 1));
    order.push_back(static_cast<uint32_t>(o));
  }
  std::vector<Injection> out;
  for (size_t k = 0; k < sc.txs; ++k)
    out.push_back({seconds(static_cast<double>(k) / sc.rate), order[k % order.size()]});
  return out;
}

// The next honest node from `o` on (measured transactions never come from a forger).
uint32_t honest_from(const Simulation& sim, uint32_t o) {
  for (size_t k = 0; k < sim.size() && sim.forger(o); ++k)
    o = static_cast<uint32_t>((o + 1) % sim.size());
  return o;
}

std::vector<NodeCounters> all_counters(const Simulation& sim) {
  std::vector<NodeCounters> out;
  out.reserve(sim.size());
  for (uint32_t i = 0; i < sim.size(); ++i)
    out.push_back(sim.counters(i));
  return out;
}

// Every steady node connected `blocks` blocks.
bool blocks_done(const Simulation& sim, size_t blocks) {
  if (blocks == 0) return true;
  size_t full = 0;
  for (const BlockRecord& b : sim.blocks()) {
    bool all = true;
    for (uint32_t i = 0; i < sim.size() && all; ++i)
      all = !sim.steady(i) || b.connected[i] >= 0;
    full += all;
  }
  return full >= blocks;
}

void schedule_churn(Simulation& sim, const Scenario& sc, Time from, Time until) {
  if (sc.churn <= 0) return;
  Rng rng(sc.sim.seed ^ kTagChurn);
  double t = 0;
  const double span = std::chrono::duration<double>(until - from).count();
  for (;;) {
    t += -std::log(1 - rng.uniform()) / sc.churn;  // exponential gaps: a Poisson process
    if (t >= span) break;
    const auto node = static_cast<uint32_t>(rng.below(sim.size()));
    const Time at = from + seconds(t);
    sim.leave_at(at, node);
    sim.join_at(at + seconds(sc.churn_down_s), node);
  }
}

void schedule_partition(Simulation& sim, const Scenario& sc, Time from) {
  if (sc.partition_at_s == kNoTime) return;
  std::vector<uint8_t> side(sim.size());
  Rng rng(sc.sim.seed ^ kTagPartition);
  for (uint8_t& s : side)
    s = static_cast<uint8_t>(rng.below(2));
  sim.partition_at(from + seconds(sc.partition_at_s), std::move(side));
  sim.heal_at(from + seconds(sc.heal_at_s));
}

std::vector<uint32_t> choose_forgers(Simulation& sim, const Scenario& sc) {
  const auto count = static_cast<size_t>(std::floor(sc.forgers * static_cast<double>(sim.size())));
  std::vector<uint32_t> all(sim.size());
  for (uint32_t i = 0; i < all.size(); ++i)
    all[i] = i;
  Rng rng(sc.sim.seed ^ kTagForgers);
  for (size_t i = 0; i < count; ++i)
    std::swap(all[i], all[i + rng.below(all.size() - i)]);
  all.resize(count);
  std::sort(all.begin(), all.end());
  for (uint32_t f : all)
    sim.set_forger(f);
  return all;
}

}  // namespace

// A schedule's last injection at most 10^12 µs (11.6 days) after its first: virtual time stays far
// from the clock's range.
constexpr int64_t kMaxOffsetUs = 1'000'000'000'000;

Result<std::vector<Injection>, std::string> read_schedule(const std::string& path, size_t nodes) {
  std::ifstream in(path);
  if (!in) return fail("cannot read schedule file " + path + ": check the path and permissions");
  std::vector<Injection> out;
  std::string line;
  for (size_t lineno = 1; std::getline(in, line); ++lineno) {
    line = line.substr(0, line.find('#'));
    std::istringstream s(line);
    int64_t offset = 0;
    int64_t origin = 0;
    std::string rest;
    if (!(s >> offset)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    } else if ((s >> origin) && !(s >> rest) && offset >= 0 && offset <= kMaxOffsetUs &&
               origin >= 0 && static_cast<size_t>(origin) < nodes &&
               (out.empty() || offset >= out.back().offset.count())) {
      out.push_back({Duration(offset), static_cast<uint32_t>(origin)});
      continue;
    }
    return fail(path + ":" + std::to_string(lineno) +
                ": expected \"OFFSET_US ORIGIN\" with offsets ascending from 0 (at most " +
                std::to_string(kMaxOffsetUs) + ", 11.6 days) and ORIGIN a node index below " +
                std::to_string(nodes));
  }
  if (out.empty()) return fail(path + ": no injections (one \"OFFSET_US ORIGIN\" line each)");
  return out;
}

Result<RunResult, std::string> run_scenario(
    const Scenario& sc, const std::function<void(const Simulation&)>& progress) {
  if (Status s = check(sc); !s) return fail(s.message());
  auto topo = build_topology(sc.topology, sc.nodes, sc.degree, sc.sim.seed);
  if (!topo) return fail(topo.error());
  auto model = NetworkModel::make(sc.latency, sc.bandwidth, topo->nodes, sc.sim.seed);
  if (!model) return fail(model.error());
  auto plan = injections(sc);
  if (!plan) return fail(plan.error());

  RunResult r;
  SimConfig cfg = sc.sim;
  // Four times the transactions the run makes (forgeries included), never under 4,096 (see
  // SimConfig::seen_max_entries).
  const size_t forgeries = static_cast<size_t>(sc.forgers * static_cast<double>(sc.nodes)) *
                           (plan->back().offset / std::chrono::seconds(1) + 1);
  cfg.seen_max_entries = std::max<size_t>(4096, 4 * (plan->size() + sc.warmup + forgeries));
  cfg.known_per_peer = std::min(kKnownPerPeer, cfg.seen_max_entries);
  r.sim = std::make_unique<Simulation>(cfg, std::move(*topo), std::move(*model));
  Simulation& sim = *r.sim;
  r.forgers = choose_forgers(sim, sc);
  const auto tick = [&] {
    if (progress) progress(sim);
  };
  const Time deadline = sim.now() + seconds(sc.timeout_s);
  sim.start();
  sim.run(sim.now() + kSettle, {}, tick);

  Rng warm(sc.sim.seed ^ kTagWarmup);
  for (size_t k = 0; k < sc.warmup; ++k)
    sim.inject_at(sim.now() + seconds(static_cast<double>(k) / sc.rate),
                  honest_from(sim, static_cast<uint32_t>(warm.below(sim.size()))), false);
  if (sc.warmup > 0)
    sim.run(
        deadline, [&] { return sim.all_delivered(); }, tick);
  r.baseline = all_counters(sim);

  r.measured_start = sim.now();
  Time last = r.measured_start;
  for (const Injection& in : *plan) {
    last = r.measured_start + in.offset;
    sim.inject_at(last, honest_from(sim, in.origin), true);
  }
  for (uint32_t f : r.forgers)
    for (Time t = r.measured_start; t <= last; t += std::chrono::seconds(1))
      sim.inject_at(t, f, false);
  // Blocks, as the testnet asks for them: every interval from the first injection, N times.
  for (size_t k = 1; k <= sc.blocks; ++k)
    sim.make_block_at(r.measured_start + seconds(sc.block_interval_s * static_cast<double>(k)));
  schedule_churn(sim, sc, r.measured_start, last);
  schedule_partition(sim, sc, r.measured_start);
  const Time heal =
      sc.heal_at_s == kNoTime ? r.measured_start : r.measured_start + seconds(sc.heal_at_s);
  // Done once every injection (and the heal) happened and everything arrived everywhere.
  const auto done = [&] {
    return sim.now() >= last && sim.now() >= heal && sim.all_delivered() &&
           blocks_done(sim, sc.blocks);
  };
  r.delivered = sim.run(deadline, done, tick);
  r.final = all_counters(sim);
  return r;
}

}  // namespace hearsay::sim
