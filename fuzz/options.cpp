// Fuzz target: hearsayd's option parser (node/options.h, parse_node_options_with_config), fed
// a config file and, before the input's first NUL byte if there is one, command-line
// arguments (one per line).
//
// Oracle: no exception escapes and nothing crashes; a refusal is a non-empty message; every
// accepted numeric option lies in its documented range (the table below, copied from
// `hearsayd --help`), the log level is one of the six, the relay mode is one of the three and
// agrees with --push-peers (push: K > 0; else 0), the tree timers lie in their ranges,
// reconciliation is on only with short ids, low fanout (--flood-peers K > 0) only with
// reconciliation, rounds every interval > 0 and pull mode, the listen and RPC addresses and every
// --connect target parse, and the RPC user and password come together. With no command-line
// arguments, the accepted options written back out as a config file parse to the same options.
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "net/address.h"
#include "node/options.h"

using namespace hearsay;

namespace {

// The documented ranges (hearsayd --help).
struct Range {
  const char* name;
  uint64_t min;
  uint64_t max;
  uint64_t (*get)(const NodeOptions&);
};
const Range kRanges[] = {
    {"max-inbound", 0, 10000, [](const NodeOptions& o) -> uint64_t { return o.max_inbound; }},
    {"max-outbound", 0, 64, [](const NodeOptions& o) -> uint64_t { return o.max_outbound; }},
    {"max-inbound-per-ip", 1, 10000,
     [](const NodeOptions& o) -> uint64_t { return o.max_inbound_per_ip; }},
    {"inv-interval-ms", 0, 60000,
     [](const NodeOptions& o) -> uint64_t { return o.inv_interval_ms; }},
    {"push-peers", 0, 64, [](const NodeOptions& o) -> uint64_t { return o.push_peers; }},
    {"verify-threads", 0, 256, [](const NodeOptions& o) -> uint64_t { return o.verify_threads; }},
    {"mempool-max-mb", 1, 1'000'000,
     [](const NodeOptions& o) -> uint64_t { return o.mempool_max_mb; }},
    {"mempool-expiry", 1, 100'000,
     [](const NodeOptions& o) -> uint64_t { return o.mempool_expiry_hours; }},
    {"ban-time", 1, 10ULL * 365 * 24 * 3600,
     [](const NodeOptions& o) -> uint64_t { return o.ban_time_s; }},
    {"link-delay-ms", 0, 60000, [](const NodeOptions& o) -> uint64_t { return o.link_delay_ms; }},
    {"link-jitter-ms", 0, 60000, [](const NodeOptions& o) -> uint64_t { return o.link_jitter_ms; }},
    {"link-bandwidth-kbps", 0, 10'000'000,
     [](const NodeOptions& o) -> uint64_t { return o.link_bandwidth_kbps; }},
    {"block-interval", 0, 86400,
     [](const NodeOptions& o) -> uint64_t { return o.block_interval_s; }},
    {"cmpct-hb-peers", 0, 8, [](const NodeOptions& o) -> uint64_t { return o.cmpct_hb_peers; }},
    {"flood-peers", 0, kMaxFloodPeers,
     [](const NodeOptions& o) -> uint64_t { return o.flood_peers; }},
};

bool same(const NodeOptions& a, const NodeOptions& b) {
  for (const Range& r : kRanges)
    if (r.get(a) != r.get(b)) return false;
  return a.datadir == b.datadir && a.conf == b.conf && a.network == b.network &&
         a.listen == b.listen && a.rpc == b.rpc && a.connect == b.connect &&
         a.allow_peers == b.allow_peers && a.mempool_sync == b.mempool_sync &&
         a.mempool_reset == b.mempool_reset && a.mempool_repair == b.mempool_repair &&
         a.log_stderr == b.log_stderr && a.trace == b.trace && a.log_level == b.log_level &&
         a.log_file == b.log_file && a.rpc_user == b.rpc_user && a.rpc_password == b.rpc_password &&
         a.metrics_public == b.metrics_public && a.producer_key == b.producer_key &&
         a.min_fee_rate == b.min_fee_rate && a.relay_mode == b.relay_mode &&
         a.graft_timeout_ms == b.graft_timeout_ms && a.lazy_interval_ms == b.lazy_interval_ms &&
         a.short_ids == b.short_ids && a.reconcile == b.reconcile &&
         a.reconcile_interval_ms == b.reconcile_interval_ms;
}

// The options as a config file (every option the parser reads from one, by name).
std::string write_config(const NodeOptions& o) {
  std::ostringstream s;
  for (const Range& r : kRanges)
    s << r.name << "=" << r.get(o) << "\n";
  s << "network=" << o.network << "\nlisten=" << o.listen << "\nrpc=" << o.rpc << "\n";
  s << "relay-mode=" << o.relay_mode << "\n";
  if (o.relay_mode == "tree")  // the tree timers are refused in the other modes
    s << "graft-timeout-ms=" << o.graft_timeout_ms << "\nlazy-interval-ms=" << o.lazy_interval_ms
      << "\n";
  s << "short-ids=" << (o.short_ids ? 1 : 0) << "\nreconcile=" << (o.reconcile ? 1 : 0) << "\n";
  if (o.reconcile)  // refused without reconciliation
    s << "reconcile-interval-ms=" << o.reconcile_interval_ms << "\n";
  for (const std::string& c : o.connect)
    s << "connect=" << c << "\n";
  auto text = [&](const char* name, const std::string& v) {
    if (!v.empty()) s << name << "=" << v << "\n";
  };
  text("allow-peers", o.allow_peers);
  text("trace", o.trace);
  text("log-level", o.log_level);
  text("log-file", o.log_file);
  text("rpc-user", o.rpc_user);
  text("rpc-password", o.rpc_password);
  text("producer-key", o.producer_key);
  if (o.mempool_sync) s << "mempool-sync=1\n";
  if (o.mempool_reset) s << "mempool-reset=1\n";
  if (o.mempool_repair) s << "mempool-repair=1\n";
  s << "log-stderr=" << (o.log_stderr ? 1 : 0) << "\n";
  if (o.metrics_public) s << "metrics-public=1\n";
  if (o.min_fee_rate) s << "min-fee-rate=" << *o.min_fee_rate << "\n";
  return s.str();
}

void check_accepted(const NodeOptions& o) {
  for (const Range& r : kRanges) {
    FUZZ_ASSERT(r.get(o) >= r.min);
    FUZZ_ASSERT(r.get(o) <= r.max);
  }
  if (o.min_fee_rate) FUZZ_ASSERT(*o.min_fee_rate <= kMaxMinFeeRate);
  FUZZ_ASSERT(o.relay_mode == "pull" || o.relay_mode == "push" || o.relay_mode == "tree");
  FUZZ_ASSERT((o.relay_mode == "push") == (o.push_peers > 0));
  FUZZ_ASSERT(o.graft_timeout_ms >= 1 && o.graft_timeout_ms <= 60000);
  FUZZ_ASSERT(o.lazy_interval_ms <= 60000);
  FUZZ_ASSERT(!o.reconcile || o.short_ids);
  FUZZ_ASSERT(o.reconcile_interval_ms <= 3'600'000);
  if (o.flood_peers > 0)
    FUZZ_ASSERT(o.reconcile && o.reconcile_interval_ms > 0 && o.relay_mode == "pull");
  bool level_ok = false;
  for (const char* l : {"trace", "debug", "info", "warn", "error", "off"})
    level_ok |= o.log_level == l;
  FUZZ_ASSERT(level_ok);
  FUZZ_ASSERT(parse_endpoint(o.listen).ok());
  FUZZ_ASSERT(parse_endpoint(o.rpc).ok());
  for (const std::string& c : o.connect) {
    auto t = parse_dial_target(c);
    FUZZ_ASSERT(t.ok() && t->address.port != 0);
  }
  FUZZ_ASSERT(o.rpc_user.empty() == o.rpc_password.empty());
  FUZZ_ASSERT(!o.datadir.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args{"hearsayd", "--datadir=/nonexistent/hearsay-fuzz"};
  std::string_view config = input;
  const size_t nul = input.find('\0');
  bool cmdline = false;
  if (nul != std::string_view::npos) {
    std::string_view a = input.substr(0, nul);
    config = input.substr(nul + 1);
    while (!a.empty()) {
      const size_t nl = a.find('\n');
      args.emplace_back(a.substr(0, nl));
      a = nl == std::string_view::npos ? std::string_view() : a.substr(nl + 1);
      cmdline = true;
    }
  }
  auto parsed = parse_node_options_with_config(args, std::string(config));
  if (!parsed) {
    FUZZ_ASSERT(!parsed.error().empty());
    return 0;
  }
  if (parsed->outcome != OptionsOutcome::kRun) {
    FUZZ_ASSERT(!parsed->text.empty());
    return 0;
  }
  const NodeOptions& o = parsed->options;
  check_accepted(o);
  if (!cmdline) {
    const std::string written = write_config(o);
    auto again = parse_node_options_with_config(args, written);
    if (!again) std::fprintf(stderr, "refused: %s\n%s", again.error().c_str(), written.c_str());
    FUZZ_ASSERT(again.ok() && again->outcome == OptionsOutcome::kRun);
    FUZZ_ASSERT(same(o, again->options));
  }
  return 0;
}
