// A simulated run from start to report: hearsay-sim run's options, the network they build, the
// schedule they imply (warm-up, injections, churn, partition, forgers, blocks), and the files the
// testnet tool's analysis reads (contrib/testnet/analyze.py: one definition of every metric for
// real and simulated runs).
//
// The run, in virtual time:
//  1. every node starts and dials its links; kSettle for the handshakes (and the first
//     reconciliation rounds) to finish;
//  2. `warmup` transactions at `rate`, unmeasured, until every node holds them (so the measured
//     ones meet warm relay state, as in a testnet run);
//  3. the counters' baseline; then the measured transactions at `rate` (or as the schedule file
//     says), each from its origin; forgers inject a forgery every second meanwhile; churn,
//     partition and heal happen at their times, counted from the first measured injection;
//  4. until every steady node (never down, not a forger) holds every measured transaction (in its
//     mempool or confirmed by a block it connected) and, with blocks, has connected the `blocks`
//     blocks made every block_interval_s from the first measured injection; or the timeout;
//  5. the final counters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "crypto/result.h"
#include "sim/sim.h"

namespace hearsay::sim {

inline constexpr Duration kSettle = std::chrono::seconds(3);
// A time option not given (--partition-at, --heal-at).
inline constexpr double kNoTime = -1;

struct Scenario {
  size_t nodes = 50;
  size_t degree = 8;
  std::string topology = "random-regular";
  std::string latency = "constant:25";
  std::string bandwidth = "unlimited";
  size_t txs = 1000;
  double rate = 100;  // per second
  size_t warmup = 0;
  std::string origin = "random";  // random: every node in a seeded order; or an index
  std::string schedule;           // a file of "OFFSET_US ORIGIN" lines, replacing rate and origin
  size_t blocks = 0;              // blocks the producer (sim.producer) makes
  double block_interval_s = 0;    // between them, from the first measured injection
  double churn = 0;               // nodes leaving per second (Poisson), each down churn_down_s
  double churn_down_s = 10;
  double partition_at_s = kNoTime;  // seconds after the first measured injection
  double heal_at_s = kNoTime;
  double forgers = 0;  // fraction of the nodes
  double timeout_s = 600;
  SimConfig sim;
};

// One measured injection: when (from the first) and where.
struct Injection {
  Duration offset{};
  uint32_t origin = 0;
};

// Reads a schedule file (one "OFFSET_US ORIGIN" per line, '#' comments; offsets ascending, origins
// < nodes). Errors name path:line.
Result<std::vector<Injection>, std::string> read_schedule(const std::string& path, size_t nodes);

struct RunResult {
  std::unique_ptr<Simulation> sim;
  bool delivered = false;  // every steady node holds every measured transaction (and blocks),
                           // else the run ended at --timeout
  Time measured_start{};
  std::vector<NodeCounters> baseline, final;
  std::vector<uint32_t> forgers;
};

// Checks the scenario, builds the network and runs it; `progress` is called now and then during
// the run. Errors (bad options, unreadable files) are for the user, with the fix.
Result<RunResult, std::string> run_scenario(const Scenario& sc,
                                            const std::function<void(const Simulation&)>& progress);

// Writes testnet.json, counters.json, arrivals.jsonl (and blocks.jsonl, block_arrivals.jsonl with
// blocks) into `dir`, created if missing: everything deterministic for the scenario.
Status write_run(const std::string& dir, const Scenario& sc, const RunResult& r);

}  // namespace hearsay::sim
