// write_run: a simulated run's files, in the shapes contrib/testnet/analyze.py reads (its module
// comment is the reference). arrivals.jsonl stands for the traces of a real run: one line per
// transaction, not one file per node (10,000 traces of 1,000 transactions would be gigabytes).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <queue>

#include <boost/json.hpp>

#include "crypto/hex.h"
#include "p2p/messages.h"
#include "sim/scenario.h"

namespace hearsay::sim {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

double ms(Duration d) {
  return static_cast<double>(d.count()) / 1000.0;
}

// The link delay a real run would be given: the constant latency, else none.
json::value link_delay(const Scenario& sc, const RunResult& run) {
  if (sc.latency.rfind("constant:", 0) != 0) return nullptr;
  return run.sim->model().mean_latency_ms();
}

size_t measured(const RunResult& r) {
  size_t n = 0;
  for (const TxRecord& t : r.sim->txs())
    n += t.measured;
  return n;
}

// Injections per second: --rate, or the schedule's own (its span over its count).
json::value rate(const Scenario& sc, const RunResult& r) {
  if (sc.schedule.empty()) return sc.rate;
  std::vector<Time> at;
  for (const TxRecord& t : r.sim->txs())
    if (t.measured) at.push_back(t.injected);
  if (at.size() < 2 || at.back() <= at.front()) return nullptr;
  return static_cast<double>(at.size() - 1) /
         std::chrono::duration<double>(at.back() - at.front()).count();
}

json::object params(const Scenario& sc, const RunResult& run) {
  const RelaySettings& r = sc.sim.relay;
  const bool tree = r.mode == "tree";
  const bool recon = r.reconcile && r.short_ids;
  json::object p{
      {"nodes", sc.nodes},
      {"degree", sc.degree},
      {"topology", sc.topology},
      {"seed", sc.sim.seed},
      {"txs", measured(run)},
      {"rate", rate(sc, run)},
      {"size", sc.sim.tx_size},
      {"warmup", sc.warmup},
      {"link_delay_ms", link_delay(sc, run)},
      {"jitter_ms", 0},
      {"relay_mode", r.mode},
      {"push_peers", r.push_peers},
      {"graft_timeout_ms", tree ? json::value(ms(r.graft_timeout)) : json::value(nullptr)},
      {"lazy_interval_ms", tree ? json::value(ms(r.lazy_interval)) : json::value(nullptr)},
      {"reconcile", recon ? 1 : 0},
      {"reconcile_interval_ms",
       recon ? json::value(ms(r.reconcile_interval)) : json::value(nullptr)},
      {"flood_peers", recon ? json::value(r.flood_peers) : json::value(nullptr)},
      {"inv_interval_ms", ms(r.inv_interval)},
      {"origin", sc.schedule.empty() ? json::value(sc.origin) : json::value("schedule")},
      {"latency", sc.latency},
      {"bandwidth", sc.bandwidth},
      {"verify_us", sc.sim.verify_cost.count()},
      {"cores", sc.sim.cores},
      {"blocks", sc.blocks},
      {"block_interval", sc.block_interval_s},
      {"producer", sc.sim.producer},
      {"churn", sc.churn},
      {"churn_down_s", sc.churn_down_s},
      {"partition_at", sc.partition_at_s >= 0 ? json::value(sc.partition_at_s) : nullptr},
      {"heal_at", sc.heal_at_s >= 0 ? json::value(sc.heal_at_s) : nullptr},
      {"forgers", sc.forgers},
      {"trusted", sc.sim.trusted ? 1 : 0},
  };
  return p;
}

// Per origin of a measured transaction, the latency of the slowest shortest path from it (ms):
// the time no gossip can beat on this network, link latencies summed (Dijkstra).
json::object origin_bounds(const Simulation& sim) {
  const auto adj = sim.topology().adjacency();
  std::vector<uint8_t> done_origin(sim.size());
  json::object out;
  for (const TxRecord& t : sim.txs()) {
    if (!t.measured || done_origin[t.origin]) continue;
    done_origin[t.origin] = 1;
    std::vector<int64_t> dist(sim.size(), INT64_MAX);
    using Item = std::pair<int64_t, uint32_t>;
    std::priority_queue<Item, std::vector<Item>, std::greater<>> queue;
    dist[t.origin] = 0;
    queue.emplace(0, t.origin);
    int64_t farthest = 0;
    while (!queue.empty()) {
      const auto [d, u] = queue.top();
      queue.pop();
      if (d != dist[u]) continue;
      farthest = std::max(farthest, d);
      for (uint32_t v : adj[u])
        if (const int64_t nd = d + sim.model().latency(u, v).count(); nd < dist[v]) {
          dist[v] = nd;
          queue.emplace(nd, v);
        }
    }
    out[std::to_string(t.origin)] = static_cast<double>(farthest) / 1000.0;
  }
  return out;
}

json::object sim_facts(const Scenario& sc, const RunResult& r) {
  const Simulation& sim = *r.sim;
  json::array forgers(r.forgers.begin(), r.forgers.end());
  json::array left;
  for (uint32_t i = 0; i < sim.size(); ++i)
    if (!sim.up(i)) left.push_back(i);
  json::array bans;
  for (const auto& [by, whom] : sim.bans())
    bans.push_back(json::array{by, whom});
  return {
      {"events", sim.events()},
      {"virtual_ms", ms(sim.now() - Simulation::start_time())},
      {"verify_us", sc.sim.verify_cost.count()},
      {"cores", sc.sim.cores},
      {"latency", sim.model().latency_spec()},
      {"bandwidth", sim.model().bandwidth_spec()},
      {"mean_latency_ms", sim.model().mean_latency_ms()},
      {"bound_ms_by_origin", origin_bounds(sim)},
      {"forgers", std::move(forgers)},
      {"forgeries_accepted", sim.forgeries_accepted()},
      {"left", std::move(left)},
      {"churn_leaves", sim.leaves()},
      {"churn_joins", sim.joins()},
      {"bans", std::move(bans)},
  };
}

json::object run_json(const Scenario& sc, const RunResult& r) {
  const Simulation& sim = *r.sim;
  json::array edges;
  for (const auto& [a, b] : sim.topology().edges)
    edges.push_back(json::array{a, b});
  json::array nodes;
  for (uint32_t i = 0; i < sim.size(); ++i)
    nodes.push_back(json::object{{"index", i}, {"identity", to_hex(sim.identity(i))}});
  return {
      {"params", params(sc, r)},
      {"topology",
       json::object{{"nodes", sim.size()}, {"kind", sim.topology().kind}, {"edges", edges}}},
      {"nodes", std::move(nodes)},
      {"inject", json::object{{"summary", json::object{{"count", measured(r)},
                                                       {"accepted", measured(r)},
                                                       {"rejected", 0},
                                                       {"failed", 0},
                                                       {"rate", rate(sc, r)}}}}},
      {"completed", r.delivered},
      {"timed_out", !r.delivered},
      {"machine", nullptr},
      {"date", nullptr},
      {"load_before", nullptr},
      {"load_after", nullptr},
      {"exit_codes", nullptr},
      {"sim", sim_facts(sc, r)},
  };
}

json::object node_counters(uint32_t i, const NodeCounters& c) {
  json::object messages;
  for (size_t t = 0; t < kMsgTypeCount; ++t)
    if (c.sent[t] > 0)
      messages[command_name(static_cast<MsgType>(t))] =
          json::object{{"sent", c.sent[t]}, {"sent_bytes", c.sent_bytes[t]}};
  json::object relay;
  for (const auto& [k, v] : c.relay)
    relay[k] = v;
  return {{"index", i},
          {"bytes_sent", c.bytes_sent},
          {"tls_bytes_sent", c.tls_bytes_sent},
          {"messages", std::move(messages)},
          {"relay", std::move(relay)}};
}

json::object counters_json(const std::vector<NodeCounters>& all) {
  json::array nodes;
  for (uint32_t i = 0; i < all.size(); ++i)
    nodes.push_back(node_counters(i, all[i]));
  return {{"nodes", std::move(nodes)}};
}

Status write_text(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text << '\n';
  f.close();
  if (!f)
    return fail("cannot write " + path.string() + ": check the folder's permissions and space");
  return {};
}

// A time in µs, or null for never (-1).
void write_time(FILE* f, int64_t t) {
  if (t < 0) {
    std::fputs("null", f);
  } else {
    std::fprintf(f, "%lld", static_cast<long long>(t));
  }
}

// One line per measured transaction; written by hand (10 million entries at 10,000 nodes).
Status write_arrivals(const fs::path& path, const Simulation& sim) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) return fail("cannot write " + path.string() + ": check the folder's permissions");
  for (const TxRecord& t : sim.txs()) {
    if (!t.measured) continue;
    std::fprintf(f.get(), "{\"id\":\"%s\",\"origin\":%u,\"t\":%lld,\"nodes\":[",
                 to_hex(t.tx->id()).c_str(), t.origin, static_cast<long long>(t.injected.count()));
    const char* sep = "";
    for (uint32_t i = 0; i < sim.size(); ++i) {
      if (t.first_seen[i] < 0 && t.accepted[i] < 0) continue;
      std::fprintf(f.get(), "%s[%u,", sep, i);
      write_time(f.get(), t.first_seen[i]);
      std::fprintf(f.get(), ",%d,", t.from[i]);
      write_time(f.get(), t.accepted[i]);
      std::fputc(']', f.get());
      sep = ",";
    }
    std::fputs("]}\n", f.get());
  }
  if (std::ferror(f.get())) return fail("cannot write " + path.string() + ": out of space?");
  return {};
}

Status write_blocks(const fs::path& dir, const Simulation& sim) {
  std::string blocks, arrivals;
  for (const BlockRecord& b : sim.blocks()) {
    json::array txs;
    for (const TxId& id : b.tx_ids)
      txs.push_back(json::string(to_hex(id)));
    blocks += json::serialize(json::object{{"hash", to_hex(b.id)},
                                           {"height", b.height},
                                           {"txs", b.txs},
                                           {"size", b.size},
                                           {"t", b.made.count()},
                                           {"tx", std::move(txs)}}) +
              "\n";
    json::array nodes;
    for (uint32_t i = 0; i < sim.size(); ++i) {
      if (b.first_seen[i] < 0 && b.connected[i] < 0) continue;
      nodes.push_back(json::array{i, b.first_seen[i] < 0 ? json::value(nullptr) : b.first_seen[i],
                                  b.from[i],
                                  b.connected[i] < 0 ? json::value(nullptr) : b.connected[i]});
    }
    arrivals += json::serialize(json::object{{"id", to_hex(b.id)},
                                             {"height", b.height},
                                             {"producer", b.producer},
                                             {"t", b.made.count()},
                                             {"nodes", std::move(nodes)}}) +
                "\n";
  }
  if (Status s = write_text(dir / "blocks.jsonl", blocks); !s) return s;
  return write_text(dir / "block_arrivals.jsonl", arrivals);
}

}  // namespace

Status write_run(const std::string& dir, const Scenario& sc, const RunResult& r) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail("cannot create " + dir + ": " + ec.message());
  const fs::path d(dir);
  if (Status s = write_text(d / "testnet.json", json::serialize(run_json(sc, r))); !s) return s;
  const json::object counters{{"baseline", counters_json(r.baseline)},
                              {"final", counters_json(r.final)}};
  if (Status s = write_text(d / "counters.json", json::serialize(counters)); !s) return s;
  if (Status s = write_arrivals(d / "arrivals.jsonl", *r.sim); !s) return s;
  if (sc.blocks > 0) return write_blocks(d, *r.sim);
  return {};
}

}  // namespace hearsay::sim
