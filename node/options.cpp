#include "node/options.h"

#include <boost/program_options.hpp>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>

#include "net/address.h"

namespace hearsay {

namespace po = boost::program_options;

namespace {

// A numeric option: its name, where it goes, and its inclusive range.
struct NumericOption {
  const char* name;
  const char* help;
  uint64_t min;
  uint64_t max;
  uint64_t NodeOptions::*u64 = nullptr;
  uint32_t NodeOptions::*u32 = nullptr;
};

const NumericOption kNumeric[] = {
    {"max-inbound", "most inbound connections", 0, 10000, nullptr, &NodeOptions::max_inbound},
    {"max-outbound", "outbound connections to keep", 0, 64, nullptr, &NodeOptions::max_outbound},
    {"max-inbound-per-ip", "most inbound connections from one IP (loopback exempt)", 1, 10000,
     nullptr, &NodeOptions::max_inbound_per_ip},
    {"inv-interval-ms",
     "mean interval between announcements to a peer, ms (0 = at once; else exponential)", 0, 60000,
     nullptr, &NodeOptions::inv_interval_ms},
    {"push-peers", "also push each new transaction whole to this many peers", 0, 64, nullptr,
     &NodeOptions::push_peers},
    {"verify-threads", "signature verification threads (0 = one per core)", 0, 256, nullptr,
     &NodeOptions::verify_threads},
    {"mempool-max-mb", "mempool memory limit, MB", 1, 1'000'000, &NodeOptions::mempool_max_mb,
     nullptr},
    {"mempool-expiry", "hours a transaction may stay in the mempool", 1, 100'000,
     &NodeOptions::mempool_expiry_hours, nullptr},
    {"ban-time", "seconds a misbehaving peer stays banned", 1, 10ULL * 365 * 24 * 3600,
     &NodeOptions::ban_time_s, nullptr},
    {"link-delay-ms", "emulated one-way delay added to every outgoing message, ms", 0, 60000,
     nullptr, &NodeOptions::link_delay_ms},
    {"link-jitter-ms", "emulated jitter (uniform, ± ms) on top of --link-delay-ms", 0, 60000,
     nullptr, &NodeOptions::link_jitter_ms},
    {"link-bandwidth-kbps", "emulated outgoing bandwidth per peer, kbit/s (0 = unlimited)", 0,
     10'000'000, nullptr, &NodeOptions::link_bandwidth_kbps},
    {"block-interval",
     "with --producer-key: produce a block every this many seconds (0 = only on generateblock)", 0,
     86400, nullptr, &NodeOptions::block_interval_s},
    {"cmpct-hb-peers",
     "peers sent each new block at once as a compact block (BIP152 high-bandwidth mode)", 0, 8,
     nullptr, &NodeOptions::cmpct_hb_peers},
};

const char* const kLogLevels[] = {"trace", "debug", "info", "warn", "error", "off"};

std::string default_datadir() {
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.hearsay";
}

po::options_description describe(const NodeOptions& d) {
  po::options_description all("hearsayd options");
  // clang-format off
  all.add_options()
    ("help,h", "print this help and exit")
    ("version", "print the version and exit")
    ("datadir", po::value<std::string>(), "data directory (default: ~/.hearsay)")
    ("conf", po::value<std::string>(), "config file (default: <datadir>/hearsay.conf)")
    ("network", po::value<std::string>()->default_value(d.network),
     "network: 'devnet' (built in) or the path of a network file (hearsay-cli network new)")
    ("listen", po::value<std::string>()->default_value(d.listen), "P2P listen address HOST:PORT")
    ("rpc", po::value<std::string>()->default_value(d.rpc), "JSON-RPC listen address HOST:PORT")
    ("connect", po::value<std::vector<std::string>>()->composing(),
     "peer to keep connected, [PUBKEY@]HOST:PORT (repeatable; PUBKEY pins its identity)")
    ("allow-peers", po::value<std::string>(),
     "file of allowed peer identities, one hex public key per line")
    ("mempool-sync", po::bool_switch(), "fsync every mempool write batch (power-loss safe)")
    ("mempool-reset", po::bool_switch(), "discard the stored mempool at start")
    ("trace", po::value<std::string>(), "append trace events (JSON lines) to this file")
    ("log-level", po::value<std::string>()->default_value(d.log_level),
     "trace, debug, info, warn, error or off")
    ("log-file", po::value<std::string>(), "also log to this file")
    ("rpc-user", po::value<std::string>(), "RPC user name (instead of the cookie file)")
    ("rpc-password", po::value<std::string>(), "RPC password (with --rpc-user)")
    ("metrics-public", po::bool_switch(), "serve /metrics without authentication")
    ("producer-key", po::value<std::string>(),
     "key file of a block producer the network authorises: this node produces blocks")
    ("min-fee-rate", po::value<std::string>(),
     "lowest fee rate admitted and relayed, per 1,000 bytes [0..1000000000000] (default: the "
     "network's min_relay_fee_rate)");
  // clang-format on
  for (const NumericOption& n : kNumeric) {
    uint64_t def = n.u64 ? d.*(n.u64) : d.*(n.u32);
    std::string help =
        std::string(n.help) + " [" + std::to_string(n.min) + ".." + std::to_string(n.max) + "]";
    all.add_options()(n.name, po::value<std::string>()->default_value(std::to_string(def)),
                      help.c_str());
  }
  return all;
}

Result<uint64_t, std::string> parse_number(const NumericOption& n, const std::string& text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || v < n.min ||
      v > n.max)
    return fail("--" + std::string(n.name) + ": '" + text +
                "' is not allowed: expected a whole number from " + std::to_string(n.min) + " to " +
                std::to_string(n.max));
  return v;
}

// The message of a Boost.ProgramOptions error. Its what() substitutes the option's name and
// value into a template ("... option '%canonical_option%' ...") and loops forever when one of
// them holds its own placeholder: a config line `%canonical_option%=1` hung start-up. Input with
// a '%' therefore gets a message built here, naming the option.
std::string error_message(const po::error& e, std::string_view input) {
  if (input.find('%') == std::string_view::npos) return e.what();
  if (const auto* named = dynamic_cast<const po::error_with_option_name*>(&e))
    return "unknown option, or an invalid value for option, '" + named->get_option_name() + "'";
  return e.what();  // the other errors substitute nothing
}

std::string get(const po::variables_map& vm, const char* name) {
  return vm.count(name) ? vm[name].as<std::string>() : std::string();
}

// Stores the config file's options in `vm` below the command line's. `config_text` null: read
// `path` from disk (a missing file is an error only when --conf named it); otherwise its text
// (nullopt: there is no config file).
Status store_config_file(const std::string& path, bool conf_given,
                         const std::optional<std::string>* config_text,
                         const po::options_description& desc, po::variables_map& vm) {
  std::optional<std::string> text;
  if (config_text) {
    text = *config_text;
  } else if (std::ifstream file(path); file) {
    std::ostringstream all;
    all << file.rdbuf();
    text = all.str();
  }
  if (text) {
    std::istringstream conf(*text);
    try {
      po::store(po::parse_config_file(conf, desc), vm);  // never overrides the command line
    } catch (const po::error& e) {
      return fail("config file " + path + ": " + error_message(e, *text) +
                  " (fix or remove that line; names are the options without '--')");
    }
  } else if (conf_given) {
    return fail("--conf: cannot read " + path + " (does it exist and is it readable?)");
  }
  return {};
}

// The checks of the options given as text: addresses, the log level, the RPC credentials.
Status check_text_options(const NodeOptions& o) {
  for (const auto& [name, value] : {std::pair{"--listen", o.listen}, std::pair{"--rpc", o.rpc}}) {
    auto ep = parse_endpoint(value);
    if (!ep) return fail(std::string(name) + ": " + ep.error());
  }
  for (const std::string& c : o.connect) {
    auto target = parse_dial_target(c);
    if (!target) return fail("--connect: " + target.error());
    if (target->address.port == 0)
      return fail("--connect: '" + c + "' needs a port from 1 to 65535");
  }
  bool level_ok = false;
  for (const char* l : kLogLevels)
    level_ok |= o.log_level == l;
  if (!level_ok)
    return fail("--log-level: '" + o.log_level +
                "' is not allowed: expected trace, debug, info, warn, error or off");
  if (o.rpc_user.empty() != o.rpc_password.empty())
    return fail(std::string("--rpc-user and --rpc-password go together: give both or neither"));
  return {};
}

// `config_text` null: read the config file from disk; otherwise its text (nullopt: none).
Result<ParsedOptions, std::string> parse_options(const std::vector<std::string>& args,
                                                 const std::optional<std::string>* config_text) {
  ParsedOptions out;
  NodeOptions& o = out.options;
  po::options_description desc = describe(o);
  po::variables_map vm;
  std::vector<std::string> cmdline(args.begin() + (args.empty() ? 0 : 1), args.end());
  try {
    po::store(po::command_line_parser(cmdline).options(desc).run(), vm);
  } catch (const po::error& e) {
    std::string all;
    for (const std::string& a : cmdline)
      all += a;
    return fail(error_message(e, all) + " (see hearsayd --help)");
  }
  if (vm.count("help")) {
    std::ostringstream s;
    s << "Usage: hearsayd [options]\n\n" << desc;
    out.outcome = OptionsOutcome::kHelp;
    out.text = s.str();
    return out;
  }
  if (vm.count("version")) {
    out.outcome = OptionsOutcome::kVersion;
    out.text = std::string("hearsayd ") + kHearsayVersion;
    return out;
  }
  o.datadir = vm.count("datadir") ? get(vm, "datadir") : default_datadir();
  if (o.datadir.empty()) return fail("--datadir: must not be empty");
  bool conf_given = vm.count("conf") > 0;
  o.conf = conf_given ? get(vm, "conf") : o.datadir + "/hearsay.conf";
  if (Status c = store_config_file(o.conf, conf_given, config_text, desc, vm); !c)
    return fail(c.message());
  po::notify(vm);

  o.network = get(vm, "network");
  o.listen = get(vm, "listen");
  o.rpc = get(vm, "rpc");
  if (vm.count("connect")) o.connect = vm["connect"].as<std::vector<std::string>>();
  o.allow_peers = get(vm, "allow-peers");
  o.mempool_sync = vm["mempool-sync"].as<bool>();
  o.mempool_reset = vm["mempool-reset"].as<bool>();
  o.trace = get(vm, "trace");
  o.log_level = get(vm, "log-level");
  o.log_file = get(vm, "log-file");
  o.rpc_user = get(vm, "rpc-user");
  o.rpc_password = get(vm, "rpc-password");
  o.metrics_public = vm["metrics-public"].as<bool>();
  o.producer_key = get(vm, "producer-key");

  for (const NumericOption& n : kNumeric) {
    auto v = parse_number(n, get(vm, n.name));
    if (!v) return fail(v.error());
    if (n.u64) o.*(n.u64) = *v;
    if (n.u32) o.*(n.u32) = static_cast<uint32_t>(*v);
  }
  if (vm.count("min-fee-rate")) {  // no default: absent means the network's
    const NumericOption fee{"min-fee-rate", "", 0, kMaxMinFeeRate};
    auto v = parse_number(fee, get(vm, "min-fee-rate"));
    if (!v) return fail(v.error());
    o.min_fee_rate = *v;
  }
  if (Status c = check_text_options(o); !c) return fail(c.message());
  return out;
}

}  // namespace

Result<ParsedOptions, std::string> parse_node_options(const std::vector<std::string>& args) {
  return parse_options(args, nullptr);
}

Result<ParsedOptions, std::string> parse_node_options_with_config(
    const std::vector<std::string>& args, const std::optional<std::string>& config_text) {
  return parse_options(args, &config_text);
}

}  // namespace hearsay
