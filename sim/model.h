// The simulator's network model: one-way latency per link and upload / download bandwidth per
// node, chosen on hearsay-sim's command line (--latency, --bandwidth) and drawn once from the
// run's seed, so a run is a pure function of its arguments.
//
// --latency:
//   constant:MS              every link MS milliseconds one way (0..10000)
//   uniform:LO:HI            each link uniform in [LO, HI] ms, to the microsecond
//   lognormal:MEAN:SPREAD    each link log-normal with mean MEAN ms; SPREAD is the standard
//                            deviation of the underlying normal (0: constant; at most 3)
//   regions                  SimBlock's six regions (sim/data/simblock.regions, sources cited
//                            there): nodes are dealt out to the regions by their shares (each
//                            region's count within one of share * nodes, which nodes by a seeded
//                            shuffle); a link draws its latency from SimBlock's Pareto around the
//                            matrix entry of its ends' regions (mean: the entry)
//   matrix:PATH              the same with your own file, in the format of simblock.regions
// Every draw is capped at 10 s and rounded to the microsecond. Nothing per link is stored: a
// link's draws are hashed from (seed, its lower end, its higher end) with splitmix64.
// --bandwidth:
//   unlimited                no serialisation delay (the default)
//   MBPS or UP:DOWN          every node's upload and download, megabits per second
//   regions                  each node its region's upload / download (needs region latencies)
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/result.h"
#include "p2p/types.h"

namespace hearsay::sim {

// A region file's content (see sim/data/simblock.regions for the format).
struct RegionTable {
  std::vector<std::string> names;
  std::vector<std::vector<double>> latency_ms;  // [from][to], one way
  std::vector<double> shares;                   // of the nodes, summing to 1
  std::vector<double> upload_mbps, download_mbps;
};

// Parses a region file's text; errors say which line and why. `origin` names it in errors.
Result<RegionTable, std::string> parse_regions(const std::string& text, const std::string& origin);
// The built-in table (SimBlock's), parsed from sim/data/simblock.regions compiled in.
const RegionTable& simblock_regions();

class NetworkModel {
 public:
  // Parses the two options for `nodes` nodes; errors name the option, the value and the fix.
  static Result<NetworkModel, std::string> make(const std::string& latency,
                                                const std::string& bandwidth, size_t nodes,
                                                uint64_t seed);

  // One-way latency of the link between a and b (the same both ways), deterministic for
  // (seed, a, b): drawn by hashing, so no per-link table is kept.
  Duration latency(uint32_t a, uint32_t b) const;
  // Bits per second; 0: unlimited.
  uint64_t upload_bps(uint32_t node) const;
  uint64_t download_bps(uint32_t node) const;
  // The node's region index (region models only; `node` < nodes).
  std::optional<size_t> region(uint32_t node) const;
  const RegionTable* regions() const { return m_table.get(); }
  // The two options as given, normalised ("constant:25", "unlimited"), for reports.
  const std::string& latency_spec() const { return m_latency_spec; }
  const std::string& bandwidth_spec() const { return m_bandwidth_spec; }
  // The mean one-way latency over links of this model (for reports and the bound): the
  // expected value, computed analytically (with the cap), of a link between two distinct nodes
  // taken at random; for region models, weighted by the nodes' actual region counts.
  double mean_latency_ms() const { return m_mean_ms; }

 private:
  enum class Kind : uint8_t { kConstant, kUniform, kLognormal, kRegions };
  NetworkModel() = default;
  Status set_latency(const std::string& spec);
  Status set_bandwidth(const std::string& spec);
  void assign_regions(size_t nodes);
  double draw_ms(uint32_t a, uint32_t b) const;
  double expected_ms() const;

  Kind m_kind = Kind::kConstant;
  uint64_t m_seed = 0;
  int64_t m_lo_us = 0, m_hi_us = 0;            // constant (both the same) and uniform
  double m_mu = 0, m_sigma = 0;                // lognormal: the underlying normal
  std::shared_ptr<const RegionTable> m_table;  // region models
  std::vector<uint8_t> m_region;               // per node, region models
  uint64_t m_up_bps = 0, m_down_bps = 0;       // one value for every node
  bool m_bandwidth_by_region = false;
  std::string m_latency_spec, m_bandwidth_spec;
  double m_mean_ms = 0;
};

}  // namespace hearsay::sim
