// hearsay-sim: the relay code of many hearsay nodes in one process and virtual time (sim/sim.h),
// run as a scenario (sim/scenario.h) and reported by the testnet tool's analysis.
#include <spawn.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "sim/scenario.h"

extern char** environ;

namespace po = boost::program_options;
namespace json = boost::json;
using namespace hearsay;
using namespace hearsay::sim;

namespace {

constexpr const char* kUsage = R"(Usage: hearsay-sim run [options] --out DIR
       hearsay-sim calibrate        print this machine's Ed25519 verification time (µs)

Simulates a network of hearsay nodes: the real relay code (PeerManager, TxRelay, BlockRelay,
mempool, chain) of every node, in one process and one thread, in virtual time. Writes DIR's
testnet.json, counters.json and arrivals.jsonl, then runs the testnet tool's analysis
(contrib/testnet/testnet.py analyze DIR) for report.json, report.md and the figures, as for a
real testnet. The same seed and arguments (with --verify-us given) give the same report.json.

Exit code: 0 when every steady node (never down, not a forger) holds every measured transaction
(and connected --blocks blocks); 1 when not by --timeout or on an error; 2 for bad options.

Options)";

struct Args {
  Scenario sc;
  std::string out;
  std::string analyzer = HEARSAY_TESTNET_TOOL;
  bool report = true;
  bool quiet = false;
  double verify_us = -1;
  std::string relay_mode = "pull";
  unsigned push_peers = 0, flood_peers = 0, graft_ms = 100, lazy_ms = 500, recon_ms = 2000,
           inv_ms = 0, reconcile = 1, short_ids = 1, trusted = 1;
};

po::options_description describe(Args& a) {
  Scenario& s = a.sc;
  po::options_description d(kUsage);
  auto o = d.add_options();
  o("help,h", "this text");
  o("out", po::value(&a.out), "the run's folder (created)");
  o("nodes", po::value(&s.nodes)->default_value(s.nodes), "nodes (2..1,000,000)");
  o("degree", po::value(&s.degree)->default_value(s.degree),
    "links per node (random-regular, ring)");
  o("topology", po::value(&s.topology)->default_value(s.topology),
    "random-regular, ring, full, bitcoin (8 outbound each, ≤ 117 inbound) or file:PATH");
  o("seed", po::value(&s.sim.seed)->default_value(s.sim.seed), "seeds everything random");
  o("txs", po::value(&s.txs)->default_value(s.txs), "measured transactions");
  o("rate", po::value(&s.rate)->default_value(s.rate), "injections per second");
  o("size", po::value(&s.sim.tx_size)->default_value(s.sim.tx_size),
    "bytes per transaction (as hearsay-cli inject --size)");
  o("warmup", po::value(&s.warmup)->default_value(s.warmup), "unmeasured transactions first");
  o("origin", po::value(&s.origin)->default_value(s.origin),
    "random (every node in a seeded order) or a node index");
  o("schedule", po::value(&s.schedule),
    "a file of \"OFFSET_US ORIGIN\" lines: the measured injections (replaces --txs, --rate and "
    "--origin)");
  o("latency", po::value(&s.latency)->default_value(s.latency),
    "constant:MS, uniform:LO:HI, lognormal:MEAN:SPREAD, regions (SimBlock's) or matrix:PATH");
  o("bandwidth", po::value(&s.bandwidth)->default_value(s.bandwidth),
    "unlimited, MBPS, UP:DOWN or regions");
  o("verify-us", po::value(&a.verify_us),
    "CPU per signature check (default: measured at start-up)");
  o("cores", po::value(&s.sim.cores)->default_value(s.sim.cores),
    "signature-check workers per node (1..256)");
  o("relay-mode", po::value(&a.relay_mode)->default_value(a.relay_mode),
    "pull, push or tree (as hearsayd)");
  o("push-peers", po::value(&a.push_peers)->default_value(a.push_peers),
    "push mode's K (0 under --relay-mode push: hearsayd's default, 2)");
  o("graft-timeout-ms", po::value(&a.graft_ms)->default_value(a.graft_ms),
    "tree mode's graft timeout");
  o("lazy-interval-ms", po::value(&a.lazy_ms)->default_value(a.lazy_ms),
    "tree mode's lazy interval");
  o("short-ids", po::value(&a.short_ids)->default_value(a.short_ids), "0|1, as hearsayd");
  o("reconcile", po::value(&a.reconcile)->default_value(a.reconcile), "0|1, as hearsayd");
  o("reconcile-interval-ms", po::value(&a.recon_ms)->default_value(a.recon_ms), "as hearsayd");
  o("flood-peers", po::value(&a.flood_peers)->default_value(a.flood_peers), "as hearsayd");
  o("inv-interval-ms", po::value(&a.inv_ms)->default_value(a.inv_ms), "as hearsayd");
  o("trusted", po::value(&a.trusted)->default_value(a.trusted),
    "1: every node has every other on its --allow-peers list, as a testnet run does (inbound "
    "announcements are preferred like outbound ones); 0: an open network, where an inbound "
    "announcer's transaction waits the non-preferred delay");
  o("blocks", po::value(&s.blocks)->default_value(s.blocks),
    "blocks to wait for (node 0 produces)");
  o("block-interval", po::value(&s.block_interval_s)->default_value(0), "seconds between blocks");
  o("churn", po::value(&s.churn)->default_value(0),
    "nodes leaving per second (each rejoins after --churn-down-s)");
  o("churn-down-s", po::value(&s.churn_down_s)->default_value(s.churn_down_s),
    "seconds a leaving node stays down");
  o("partition-at", po::value(&s.partition_at_s),
    "seconds after the first measured injection: the network splits in two random halves");
  o("heal-at", po::value(&s.heal_at_s),
    "seconds after the first measured injection: the halves reconnect");
  o("forgers", po::value(&s.forgers)->default_value(0), "fraction of nodes that forge signatures");
  o("timeout", po::value(&s.timeout_s)->default_value(s.timeout_s),
    "virtual seconds before giving up");
  o("analyzer", po::value(&a.analyzer)->default_value(a.analyzer),
    "the testnet tool that writes the report");
  o("no-report", po::bool_switch(), "write the run's files only, no report");
  o("quiet", po::bool_switch(&a.quiet), "no progress line");
  return d;
}

// Ranges and the relay options as hearsayd checks them; an empty string when all is well.
std::string settle(const po::variables_map& vm, Args& a) {
  Scenario& s = a.sc;
  RelaySettings& r = s.sim.relay;
  if (a.out.empty()) return "--out DIR is required";
  if (std::filesystem::exists(std::filesystem::path(a.out) / "testnet.json"))
    return a.out + " already holds a run: choose another --out or remove it";
  if (a.relay_mode != "pull" && a.relay_mode != "push" && a.relay_mode != "tree")
    return "--relay-mode '" + a.relay_mode + "': expected pull, push or tree";
  if (a.relay_mode == "push" && a.push_peers == 0 && !vm["push-peers"].defaulted())
    return "--relay-mode push with --push-peers 0: give K > 0 or leave it out (2)";
  if (a.relay_mode != "push" && a.push_peers > 0)
    return "--push-peers applies to --relay-mode push only";
  if (a.short_ids > 1 || a.reconcile > 1 || a.trusted > 1)
    return "--short-ids, --reconcile and --trusted take 0 or 1";
  if (a.reconcile && !a.short_ids && !vm["reconcile"].defaulted())
    return "--reconcile 1 needs --short-ids 1 (reconciliation compares short ids)";
  if (a.flood_peers > 0 && (!a.reconcile || a.recon_ms == 0 || a.relay_mode != "pull"))
    return "--flood-peers needs --reconcile 1, --reconcile-interval-ms > 0 and --relay-mode pull";
  if (s.sim.cores < 1 || s.sim.cores > 256) return "--cores: expected 1..256";
  if (s.nodes > 1'000'000) return "--nodes: at most 1,000,000";
  if (s.degree > s.nodes) return "--degree: at most --nodes";
  if (s.txs < 1 || s.txs > 10'000'000) return "--txs: expected 1..10,000,000";
  if (s.warmup > 10'000'000) return "--warmup: at most 10,000,000";
  if (s.blocks > 100'000) return "--blocks: at most 100,000";
  if (a.graft_ms < 1 || a.graft_ms > 60'000 || a.lazy_ms > 60'000 || a.inv_ms > 60'000 ||
      a.recon_ms > 3'600'000 || a.flood_peers > 125 || a.push_peers > 64)
    return "relay options out of hearsayd's ranges (hearsayd --help): --graft-timeout-ms 1..60000, "
           "--lazy-interval-ms and --inv-interval-ms ≤ 60000, --reconcile-interval-ms ≤ 3600000, "
           "--push-peers ≤ 64, --flood-peers ≤ 125";
  if (vm.count("verify-us") && !(a.verify_us > 0 && a.verify_us <= 1e6))
    return "--verify-us: expected 0 < US ≤ 1,000,000";
  if (s.sim.producer >= s.nodes) return "--producer: expected a node index below --nodes";
  r.mode = a.relay_mode;
  r.push_peers = a.relay_mode == "push" ? (a.push_peers ? a.push_peers : kDefaultPushPeers) : 0;
  r.graft_timeout = std::chrono::milliseconds(a.graft_ms);
  r.lazy_interval = std::chrono::milliseconds(a.lazy_ms);
  r.short_ids = a.short_ids;
  r.reconcile = a.reconcile && a.short_ids;
  r.reconcile_interval = std::chrono::milliseconds(a.recon_ms);
  r.flood_peers = a.flood_peers;
  r.inv_interval = std::chrono::milliseconds(a.inv_ms);
  s.sim.trusted = a.trusted == 1;
  a.report = !vm["no-report"].as<bool>();
  return {};
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

std::string machine() {
  utsname u{};
  uname(&u);
  std::ifstream cpu("/proc/cpuinfo");
  std::string line, model;
  while (std::getline(cpu, line))
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  return std::string(u.sysname) + " " + u.release + " " + u.machine + ", " + model + ", " +
         std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " CPUs";
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// The progress line: delivered transactions, virtual against wall time, events per second.
class Progress {
 public:
  explicit Progress(bool on) : m_on(on) {}
  void operator()(const Simulation& sim) {
    if (!m_on) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - m_last < std::chrono::milliseconds(250)) return;
    m_last = now;
    size_t done = 0, measured = 0;
    for (size_t i = 0; i < sim.txs().size(); ++i)
      if (sim.txs()[i].measured) {
        ++measured;
        done += sim.missing(i) == 0;
      }
    const double wall = std::chrono::duration<double>(now - m_start).count();
    const double virt = std::chrono::duration<double>(sim.now() - Simulation::start_time()).count();
    const int width = 30;
    const int fill = measured ? static_cast<int>(width * done / measured) : 0;
    std::fprintf(stderr,
                 "\r[%s%s] %zu/%zu delivered  virtual %.1f s  wall %.1f s  %.2f M events/s ",
                 std::string(fill, '#').c_str(), std::string(width - fill, '.').c_str(), done,
                 measured, virt, wall, static_cast<double>(sim.events()) / wall / 1e6);
    std::fflush(stderr);
  }
  void end() {
    if (m_on) std::fputc('\n', stderr);
  }

 private:
  bool m_on;
  std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point m_last{};
};

int analyze(const Args& a) {
  std::vector<std::string> argv{"python3", a.analyzer, "analyze", a.out};
  std::vector<char*> raw;
  raw.reserve(argv.size() + 1);
  for (std::string& s : argv)
    raw.push_back(s.data());
  raw.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, "python3", nullptr, nullptr, raw.data(), environ) != 0) {
    std::cerr << "hearsay-sim: cannot run python3 for the report; the run's files are in " << a.out
              << " (python3 " << a.analyzer << " analyze " << a.out << " writes it later)\n";
    return 1;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  std::cerr << "hearsay-sim: the analysis (" << a.analyzer << ") failed; the run's files are in "
            << a.out << "\n";
  return 1;
}

int run(Args& a) {
  const auto wall0 = std::chrono::steady_clock::now();
  std::optional<double> calibrated;
  if (a.verify_us > 0) {
    a.sc.sim.verify_cost = Duration(static_cast<int64_t>(std::llround(a.verify_us)));
  } else {
    a.sc.sim.verify_cost = calibrate_verify_cost();
    calibrated = static_cast<double>(a.sc.sim.verify_cost.count());
  }
  Progress progress(!a.quiet && isatty(STDERR_FILENO));
  auto r = run_scenario(a.sc, [&](const Simulation& s) { progress(s); });
  progress.end();
  if (!r) {
    std::cerr << "hearsay-sim: " << r.error() << "\n";
    return 2;
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  if (Status s = write_run(a.out, a.sc, *r); !s) {
    std::cerr << "hearsay-sim: " << s.message() << "\n";
    return 1;
  }
  const double events = static_cast<double>(r->sim->events());
  const json::object run_facts{
      {"wall_s", wall},
      {"events_per_s", wall > 0 ? events / wall : 0.0},
      {"peak_rss_mb", peak_rss_mb()},
      {"machine", machine()},
      {"date", utc_now()},
      {"calibrated_verify_us", calibrated ? json::value(*calibrated) : nullptr}};
  std::ofstream(std::filesystem::path(a.out) / "sim_run.json")
      << json::serialize(run_facts) << "\n";
  std::cerr << "hearsay-sim: " << r->sim->size() << " nodes, " << r->sim->events() << " events in "
            << wall << " s wall (" << events / wall / 1e6 << " M events/s), virtual "
            << std::chrono::duration<double>(r->sim->now() - Simulation::start_time()).count()
            << " s, peak RSS " << peak_rss_mb() << " MB; "
            << (r->delivered ? "every steady node holds every transaction"
                             : "NOT delivered everywhere before --timeout")
            << "\n";
  const bool delivered = r->delivered;
  r->sim.reset();  // before the analysis: its memory is the analysis's
  if (a.report && analyze(a) != 0) return 1;
  return delivered ? 0 : 1;
}

int run_command(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    Args a;
    std::cout << describe(a) << "\n";
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "calibrate") {
    std::cout << calibrate_verify_cost().count() << "\n";
    return 0;
  }
  if (args[0] != "run") {
    std::cerr << "hearsay-sim: unknown command '" << args[0]
              << "': expected run or calibrate (see hearsay-sim --help)\n";
    return 2;
  }
  Args a;
  po::options_description desc = describe(a);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(std::vector<std::string>(args.begin() + 1, args.end()))
                  .options(desc)
                  .run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "hearsay-sim: " << e.what() << " (see hearsay-sim --help)\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  if (std::string why = settle(vm, a); !why.empty()) {
    std::cerr << "hearsay-sim: " << why << " (see hearsay-sim --help)\n";
    return 2;
  }
  return run(a);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_command(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {  // out of memory, a filesystem error: say so, exit 1
    std::cerr << "hearsay-sim: " << e.what() << "\n";
    return 1;
  }
}
