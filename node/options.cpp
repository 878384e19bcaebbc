#include "node/options.h"

#include <boost/program_options.hpp>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>

#include "net/address.h"
#include "p2p/tx_relay.h"

namespace hearsay {

namespace po = boost::program_options;

namespace {

// The groups of `hearsayd --help`, in the order printed.
enum class Group { kGeneral, kNetwork, kRelay, kBlocks, kRpc, kLogging, kLink, kCount };
constexpr const char* kGroupTitles[] = {
    "General and data directory",
    "P2P network",
    "Relay and mempool",
    "Blocks",
    "RPC and metrics",
    "Logging and tracing",
    "Link emulation (for tests)",
};
static_assert(std::size(kGroupTitles) == static_cast<size_t>(Group::kCount));

// Where an option's value goes: at most one member of NodeOptions (none for --help, --version,
// --datadir and --conf, which are read apart) and, for a number, its inclusive range.
struct Target {
  std::string NodeOptions::*text = nullptr;
  std::vector<std::string> NodeOptions::*list = nullptr;
  bool NodeOptions::*flag = nullptr;
  uint32_t NodeOptions::*u32 = nullptr;
  uint64_t NodeOptions::*u64 = nullptr;
  std::optional<uint64_t> NodeOptions::*optional_u64 = nullptr;
  uint64_t min = 0;
  uint64_t max = 0;
};

constexpr Target to_text(std::string NodeOptions::*m) {
  return {.text = m};
}
constexpr Target to_list(std::vector<std::string> NodeOptions::*m) {
  return {.list = m};
}
constexpr Target to_flag(bool NodeOptions::*m) {
  return {.flag = m};
}
constexpr Target to_u32(uint32_t NodeOptions::*m, uint64_t min, uint64_t max) {
  return {.u32 = m, .min = min, .max = max};
}
constexpr Target to_u64(uint64_t NodeOptions::*m, uint64_t min, uint64_t max) {
  return {.u64 = m, .min = min, .max = max};
}
constexpr Target to_optional_u64(std::optional<uint64_t> NodeOptions::*m, uint64_t min,
                                 uint64_t max) {
  return {.optional_u64 = m, .min = min, .max = max};
}

// One option, described once: its --help group, its name, the name of its value (nullptr: a
// switch that takes none), its help and where its value goes. A text option's default is
// NodeOptions' initial value.
struct OptionSpec {
  Group group;
  const char* name;
  const char* value_name;
  const char* help;
  Target to = {};

  bool numeric() const { return to.u32 || to.u64 || to.optional_u64; }
};

using O = NodeOptions;
const OptionSpec kOptions[] = {
    {Group::kGeneral, "help", nullptr, "print this help and exit"},
    {Group::kGeneral, "version", nullptr, "print the version and exit"},
    {Group::kGeneral, "datadir", "DIR", "data directory (default: ~/.hearsay)"},
    {Group::kGeneral, "conf", "FILE", "config file (default: <datadir>/hearsay.conf)"},
    {Group::kGeneral, "network", "NAME|PATH",
     "network: 'devnet' (built in) or the path of a network file (hearsay-cli network new)",
     to_text(&O::network)},
    {Group::kGeneral, "verify-threads", "N", "signature verification threads (0 = one per core)",
     to_u32(&O::verify_threads, 0, 256)},
    {Group::kGeneral, "io-threads", "N",
     "threads that run the peer connections: TLS, framing, decoding (0 = the network thread)",
     to_u32(&O::io_threads, 0, 64)},

    {Group::kNetwork, "listen", "HOST:PORT", "P2P listen address", to_text(&O::listen)},
    {Group::kNetwork, "connect", "[PUBKEY@]HOST:PORT",
     "peer to keep connected (repeatable; PUBKEY pins its identity)", to_list(&O::connect)},
    {Group::kNetwork, "allow-peers", "FILE",
     "file of allowed peer identities, one hex public key per line", to_text(&O::allow_peers)},
    {Group::kNetwork, "trusted-peers", "FILE",
     "file of trusted peer identities (same format): never evicted for a newcomer, announcements "
     "preferred; others may still connect",
     to_text(&O::trusted_peers)},
    {Group::kNetwork, "max-inbound", "N", "most inbound connections",
     to_u32(&O::max_inbound, 0, 10000)},
    {Group::kNetwork, "max-outbound", "N", "outbound connections to keep",
     to_u32(&O::max_outbound, 0, 64)},
    {Group::kNetwork, "max-inbound-per-ip", "N",
     "most inbound connections from one IP (loopback exempt)",
     to_u32(&O::max_inbound_per_ip, 1, 10000)},
    {Group::kNetwork, "max-partial-frame-memory", "MIB",
     "memory all peers' partial (half-received) frames may hold together, MiB; at the cap the "
     "largest stalled ones are cut first",
     to_u32(&O::max_partial_frame_memory_mib, kMinPartialFrameMemoryMib,
            kMaxPartialFrameMemoryMib)},
    {Group::kNetwork, "ban-time", "S", "seconds a misbehaving peer stays banned",
     to_u64(&O::ban_time_s, 1, 10ULL * 365 * 24 * 3600)},

    {Group::kRelay, "inv-interval-ms", "MS",
     "mean interval between announcements to a peer, ms (0 = at once; else exponential)",
     to_u32(&O::inv_interval_ms, 0, 60000)},
    {Group::kRelay, "relay-mode", "pull|push|tree",
     "how transactions travel: pull (announced, then requested), push (pull, and each new one "
     "also sent whole to --push-peers peers, default 2) or tree (pushed along one tree per "
     "origin with peers that relay by tree too, announced on the other links)",
     to_text(&O::relay_mode)},
    {Group::kRelay, "push-peers", "K",
     "with --relay-mode push: also push each new transaction whole to this many peers (K > 0 "
     "alone means --relay-mode push)",
     to_u32(&O::push_peers, 0, 64)},
    {Group::kRelay, "graft-timeout-ms", "MS",
     "with --relay-mode tree: how long an announced transaction waits for its tree push before "
     "it is requested, ms",
     to_u32(&O::graft_timeout_ms, 1, 60000)},
    {Group::kRelay, "lazy-interval-ms", "MS",
     "with --relay-mode tree: mean interval between announcements to a tree peer, ms (0 = at "
     "once)",
     to_u32(&O::lazy_interval_ms, 0, 60000)},
    {Group::kRelay, "short-ids", "0|1",
     "announce and request transactions by 6-byte short id with peers that support it (0: "
     "36-byte ids with every peer)",
     to_flag(&O::short_ids)},
    {Group::kRelay, "reconcile", "0|1",
     "compare mempools by sketch (set reconciliation) with peers that support it, on links with "
     "short ids: on connect and every --reconcile-interval-ms (default 1, or 0 with --short-ids "
     "0: reconciliation compares short ids, and --reconcile 1 --short-ids 0 is refused)",
     to_flag(&O::reconcile)},
    {Group::kRelay, "reconcile-interval-ms", "MS",
     "with --reconcile 1: mean interval between reconciliation rounds with a peer, ms (each "
     "drawn within 25 % of it; 0 = only on connect)",
     to_u32(&O::reconcile_interval_ms, 0, 3'600'000)},
    {Group::kRelay, "flood-peers", "K",
     "with --reconcile 1 and --relay-mode pull: announce each new transaction to only this many "
     "of the peers that reconcile (outbound first; the others learn it by reconciliation, so "
     "--reconcile-interval-ms must be > 0); peers that do not reconcile still get every "
     "announcement (0 = announce to every peer)",
     to_u32(&O::flood_peers, 0, kMaxFloodPeers)},
    {Group::kRelay, "min-fee-rate", "R",
     "lowest fee rate admitted and relayed, per 1,000 bytes (default: the network's "
     "min_relay_fee_rate)",
     to_optional_u64(&O::min_fee_rate, 0, kMaxMinFeeRate)},
    {Group::kRelay, "mempool-max-mb", "MB", "mempool memory limit, MB",
     to_u64(&O::mempool_max_mb, 1, 1'000'000)},
    {Group::kRelay, "mempool-expiry", "H", "hours a transaction may stay in the mempool",
     to_u64(&O::mempool_expiry_hours, 1, 100'000)},
    {Group::kRelay, "mempool-sync", nullptr, "fsync every mempool write batch (power-loss safe)",
     to_flag(&O::mempool_sync)},
    {Group::kRelay, "mempool-reset", nullptr, "discard the stored mempool at start",
     to_flag(&O::mempool_reset)},
    {Group::kRelay, "mempool-repair", nullptr,
     "salvage a damaged mempool store at start (LevelDB repair; the damaged files are kept)",
     to_flag(&O::mempool_repair)},

    {Group::kBlocks, "producer-key", "FILE",
     "key file of a block producer the network authorises: this node produces blocks",
     to_text(&O::producer_key)},
    {Group::kBlocks, "block-interval", "S",
     "with --producer-key: produce a block every this many seconds (0 = only on generateblock)",
     to_u32(&O::block_interval_s, 0, 86400)},
    {Group::kBlocks, "cmpct-hb-peers", "N",
     "peers sent each new block at once as a compact block (BIP152 high-bandwidth mode)",
     to_u32(&O::cmpct_hb_peers, 0, 8)},

    {Group::kRpc, "rpc", "HOST:PORT", "JSON-RPC and /metrics listen address", to_text(&O::rpc)},
    {Group::kRpc, "rpc-user", "USER", "RPC user name (instead of the cookie file)",
     to_text(&O::rpc_user)},
    {Group::kRpc, "rpc-password", "PASS", "RPC password (with --rpc-user)",
     to_text(&O::rpc_password)},
    {Group::kRpc, "metrics-public", nullptr, "serve /metrics without authentication",
     to_flag(&O::metrics_public)},

    {Group::kLogging, "log-level", "LEVEL", "trace, debug, info, warn, error or off",
     to_text(&O::log_level)},
    {Group::kLogging, "log-file", "FILE|none",
     "log to this file as well (appended to; reopened on SIGHUP); 'none': no file (default: "
     "<datadir>/debug.log)",
     to_text(&O::log_file)},
    {Group::kLogging, "log-stderr", "0|1", "log to stderr as well (0: only to the log file)",
     to_flag(&O::log_stderr)},
    {Group::kLogging, "trace", "FILE", "append trace events (JSON lines) to this file",
     to_text(&O::trace)},

    {Group::kLink, "link-delay-ms", "MS", "emulated one-way delay added to every outgoing message",
     to_u32(&O::link_delay_ms, 0, 60000)},
    {Group::kLink, "link-jitter-ms", "MS",
     "emulated jitter (uniform, ± ms) on top of --link-delay-ms",
     to_u32(&O::link_jitter_ms, 0, 60000)},
    {Group::kLink, "link-bandwidth-kbps", "KBPS",
     "emulated outgoing bandwidth per peer, kbit/s (0 = unlimited)",
     to_u32(&O::link_bandwidth_kbps, 0, 10'000'000)},
};

const char* const kLogLevels[] = {"trace", "debug", "info", "warn", "error", "off"};

// The most characters of a config line (or a value) an error message shows.
constexpr size_t kExcerptChars = 80;

constexpr const char* kConfigFix =
    " (fix or remove that line; names are hearsayd's options without '--': see hearsayd --help)";

std::string default_datadir() {
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.hearsay";
}

// `text` with every byte outside printable ASCII written as \xNN.
std::string printable(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f) {
      out += c;
    } else {
      constexpr const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    }
  }
  return out;
}

// At most kExcerptChars bytes of `text`, printable, with "..." when cut.
std::string excerpt(std::string_view text) {
  if (text.size() <= kExcerptChars) return printable(text);
  return printable(text.substr(0, kExcerptChars)) + "...";
}

std::string trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  const size_t end = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(begin, end - begin + 1));
}

std::string numeric_help(const OptionSpec& s) {
  return std::string(s.help) + " [" + std::to_string(s.to.min) + ".." + std::to_string(s.to.max) +
         "]";
}

// Adds `s` to `group`: its value name, its default (from `d`) and, for a number, its range.
void describe_one(const OptionSpec& s, const NodeOptions& d, po::options_description& group) {
  const std::string help = s.numeric() ? numeric_help(s) : s.help;
  const po::value_semantic* value = nullptr;
  if (!s.value_name) {
    value = s.to.flag ? po::bool_switch() : nullptr;
  } else if (s.to.flag) {
    value = po::value<bool>()
                ->value_name(s.value_name)
                ->default_value(d.*s.to.flag, d.*s.to.flag ? "1" : "0");
  } else if (s.to.list) {
    value = po::value<std::vector<std::string>>()->value_name(s.value_name)->composing();
  } else if (s.to.u32 || s.to.u64 || (s.to.text && !(d.*s.to.text).empty())) {
    const std::string def = s.to.u32   ? std::to_string(d.*s.to.u32)
                            : s.to.u64 ? std::to_string(d.*s.to.u64)
                                       : d.*s.to.text;
    value = po::value<std::string>()->value_name(s.value_name)->default_value(def);
  } else {
    value = po::value<std::string>()->value_name(s.value_name);
  }
  // --help also answers to -h, as most programs do.
  const std::string name = std::string_view(s.name) == "help" ? "help,h" : s.name;
  if (value)
    group.add_options()(name.c_str(), value, help.c_str());
  else
    group.add_options()(name.c_str(), help.c_str());
}

po::options_description describe(const NodeOptions& d) {
  po::options_description all("hearsayd options (in hearsay.conf: name=value, without '--')");
  for (size_t g = 0; g < std::size(kGroupTitles); ++g) {
    po::options_description group(kGroupTitles[g]);
    for (const OptionSpec& s : kOptions)
      if (static_cast<size_t>(s.group) == g) describe_one(s, d, group);
    all.add(group);
  }
  return all;
}

// Where each value came from, so that an error names it the way the operator wrote it: the
// command line's `--name`, or the config file's path, line and `name=value`.
class Origins {
 public:
  void add_command_line(const po::parsed_options& parsed) {
    for (const auto& option : parsed.options)
      for (const std::string& v : option.value)
        m_command_line.emplace(option.string_key, v);
  }
  void set_file(std::string path) { m_file = std::move(path); }
  void add_file_line(std::string name, std::string value, size_t line) {
    m_lines.push_back({std::move(name), std::move(value), line});
  }
  const std::string& file() const { return m_file; }

  // "config file PATH line N" for the first line setting `name` (to `value` unless nullptr).
  std::optional<std::string> file_line(std::string_view name, const std::string* value) const {
    for (const Line& l : m_lines)
      if (l.name == name && (!value || l.value == *value))
        return "config file " + m_file + " line " + std::to_string(l.line);
    return std::nullopt;
  }

  // "--name: 'VALUE'" or "config file PATH line N: name=VALUE", the value shown safely.
  std::string subject(const std::string& name, const std::string& value) const {
    if (!m_command_line.count({name, value}))
      if (auto at = file_line(name, &value)) return *at + ": " + name + "=" + excerpt(value);
    return "--" + name + ": '" + excerpt(value) + "'";
  }
  // subject(name, value) with the value `name` was given: the command line's, else the config
  // file's first (for options whose value is not text, such as the 0|1 switches).
  std::string subject_as_given(const std::string& name) const {
    for (const auto& [n, v] : m_command_line)
      if (n == name) return subject(n, v);
    for (const Line& l : m_lines)
      if (l.name == name) return subject(l.name, l.value);
    return "--" + name;
  }
  // "--name" or "config file PATH line N: name".
  std::string subject(const std::string& name) const {
    bool on_command_line = false;
    for (const auto& [n, v] : m_command_line)
      on_command_line |= n == name;
    if (!on_command_line)
      if (auto at = file_line(name, nullptr)) return *at + ": " + name;
    return "--" + name;
  }

 private:
  struct Line {
    std::string name;
    std::string value;
    size_t line;
  };
  std::set<std::pair<std::string, std::string>> m_command_line;
  std::string m_file;
  std::vector<Line> m_lines;
};

Result<uint64_t, std::string> parse_number(const OptionSpec& s, const std::string& text,
                                           const Origins& origins) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || v < s.to.min ||
      v > s.to.max)
    return fail(origins.subject(s.name, text) + " is not allowed: expected a whole number from " +
                std::to_string(s.to.min) + " to " + std::to_string(s.to.max));
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

// Checks every line of the config file the way Boost.ProgramOptions reads it (text after '#'
// ignored, blanks trimmed, `name=value`) and records where each name is set. The errors name
// the file and the line and show the line safely.
Status scan_config(const std::string& text, const po::options_description& desc, Origins& origins) {
  std::istringstream in(text);
  size_t number = 0;
  for (std::string raw; std::getline(in, raw);) {
    ++number;
    const std::string at = "config file " + origins.file() + " line " + std::to_string(number);
    const std::string line = trim(std::string_view(raw).substr(0, raw.find('#')));
    if (line.empty()) continue;
    const size_t eq = line.find('=');
    if (line.front() == '[' || eq == std::string::npos)
      return fail(at + ": '" + excerpt(raw) + "' is not a name=value line" + kConfigFix);
    const std::string name = trim(std::string_view(line).substr(0, eq));
    // An empty name would match every option (find_nothrow throws ambiguous_option for it).
    if (name.empty())
      return fail(at + ": '" + excerpt(raw) + "' has no option name before '='" + kConfigFix);
    if (!desc.find_nothrow(name, false))
      return fail(at + ": unknown option '" + excerpt(name) + "'" + kConfigFix);
    if (name == "help" || name == "version" || name == "datadir" || name == "conf")
      return fail(at + ": " + name + " works on the command line only (give --" + name +
                  " there and remove that line)");
    origins.add_file_line(name, trim(std::string_view(line).substr(eq + 1)), number);
  }
  return {};
}

// Stores the config file's options in `vm` below the command line's. `config_text` null: read
// `path` from disk (a missing file is an error only when --conf named it); otherwise its text
// (nullopt: there is no config file).
Status store_config_file(const std::string& path, bool conf_given,
                         const std::optional<std::string>* config_text,
                         const po::options_description& desc, po::variables_map& vm,
                         Origins& origins) {
  std::optional<std::string> text;
  if (config_text) {
    text = *config_text;
  } else if (std::ifstream file(path); file) {
    std::ostringstream all;
    all << file.rdbuf();
    text = all.str();
  }
  if (!text) {
    if (conf_given)
      return fail("--conf: cannot read " + path + " (does it exist and is it readable?)");
    return {};
  }
  origins.set_file(path);
  if (Status s = scan_config(*text, desc, origins); !s) return s;
  std::istringstream conf(*text);
  try {
    po::store(po::parse_config_file(conf, desc), vm);  // never overrides the command line
  } catch (const po::error& e) {
    std::optional<std::string> at;
    if (const auto* named = dynamic_cast<const po::error_with_option_name*>(&e)) {
      std::string name = named->get_option_name();
      name.erase(0, name.find_first_not_of('-'));
      at = origins.file_line(name, nullptr);
    }
    return fail(at.value_or("config file " + path) + ": " + printable(error_message(e, *text)) +
                kConfigFix);
  }
  return {};
}

// The checks of the options given as text: addresses, the log level, the RPC credentials.
Status check_text_options(const NodeOptions& o, const Origins& origins) {
  for (const auto& [name, value] : {std::pair{"listen", o.listen}, std::pair{"rpc", o.rpc}}) {
    auto ep = parse_endpoint(value);
    if (!ep) return fail(origins.subject(name) + ": " + ep.error());
  }
  for (const std::string& c : o.connect) {
    auto target = parse_dial_target(c);
    if (!target) return fail(origins.subject("connect", c) + ": " + target.error());
    if (target->address.port == 0)
      return fail(origins.subject("connect", c) + " needs a port from 1 to 65535");
  }
  bool level_ok = false;
  for (const char* l : kLogLevels)
    level_ok |= o.log_level == l;
  if (!level_ok)
    return fail(origins.subject("log-level", o.log_level) +
                " is not allowed: expected trace, debug, info, warn, error or off");
  if (o.rpc_user.empty() != o.rpc_password.empty())
    return fail(std::string("--rpc-user and --rpc-password go together: give both or neither"));
  if (o.mempool_reset && o.mempool_repair)
    return fail(std::string(
        "--mempool-repair and --mempool-reset exclude each other: --mempool-reset discards the "
        "stored mempool, --mempool-repair salvages it; give one of them"));
  return {};
}

// Given on the command line or in the config file, not just the default.
bool given(const po::variables_map& vm, const char* name) {
  return vm.count(name) && !vm[name].defaulted();
}

// What chose the relay mode in effect (check_relay_options settled it): "--relay-mode: 'tree'",
// "--push-peers: '2'" or "the default", each the way it was given.
std::string relay_mode_origin(const po::variables_map& vm, const Origins& origins,
                              const NodeOptions& o) {
  if (given(vm, "relay-mode")) return origins.subject("relay-mode", get(vm, "relay-mode"));
  if (o.relay_mode == "push") return origins.subject("push-peers", get(vm, "push-peers"));
  return "the default";
}

// --relay-mode against --push-peers and tree mode's timers; sets the mode and the push peers in
// effect (push for --push-peers K > 0 alone; kDefaultPushPeers under push when not given).
Status check_relay_options(const po::variables_map& vm, const Origins& origins, NodeOptions& o) {
  bool known = false;
  for (const char* m : kRelayModes)
    known |= o.relay_mode == m;
  if (!known)
    return fail(origins.subject("relay-mode", o.relay_mode) +
                " is not allowed: expected pull, push or tree");
  auto as_given = [&](const char* name) { return origins.subject(name, get(vm, name)); };
  const bool mode_given = given(vm, "relay-mode");
  if (!mode_given && o.push_peers > 0) o.relay_mode = "push";
  if (o.relay_mode == "push") {
    if (given(vm, "push-peers") && o.push_peers == 0)
      return fail(as_given("relay-mode") + " and " + as_given("push-peers") +
                  " contradict each other: push mode sends each new transaction to K > 0 peers "
                  "(leave --push-peers out to push to " +
                  std::to_string(kDefaultPushPeers) + ", or use --relay-mode pull)");
    if (!given(vm, "push-peers")) o.push_peers = kDefaultPushPeers;
  } else if (o.push_peers > 0) {
    return fail(as_given("relay-mode") + " and " + as_given("push-peers") +
                " contradict each other: push peers are for --relay-mode push (give one of "
                "them)");
  }
  if (o.relay_mode != "tree") {
    const std::string why = relay_mode_origin(vm, origins, o);
    for (const char* timer : {"graft-timeout-ms", "lazy-interval-ms"})
      if (given(vm, timer))
        return fail(as_given(timer) + " applies to --relay-mode tree only, and the relay mode is " +
                    o.relay_mode + " (" + why + "): give --relay-mode tree, or remove --" + timer);
  }
  return {};
}

// --reconcile against --short-ids, and reconciliation's interval and low fanout against it and
// the relay mode (settled first by check_relay_options); sets the reconciliation in effect:
// --short-ids 0 turns it off unless --reconcile 1 is given, which is refused.
Status check_recon_options(const po::variables_map& vm, const Origins& origins, NodeOptions& o) {
  auto as_given = [&](const char* name) { return origins.subject_as_given(name); };
  if (!o.short_ids) {
    if (given(vm, "reconcile") && o.reconcile)
      return fail(as_given("reconcile") + " and " + as_given("short-ids") +
                  " contradict each other: reconciliation compares the short ids of a link's "
                  "transactions (give --reconcile 0, or leave --short-ids at 1)");
    o.reconcile = false;
  }
  const bool flood_given = o.flood_peers > 0;  // --flood-peers 0 is the default behaviour
  if (!o.reconcile) {
    const bool by_switch = given(vm, "reconcile");
    const std::string why =
        by_switch ? as_given("reconcile") : as_given("short-ids") + " turns it off";
    const std::string fix = by_switch ? "give --reconcile 1" : "give --short-ids 1";
    auto off = [&](const char* option) {
      return fail(as_given(option) +
                  " applies only with reconciliation, and reconciliation is off (" + why +
                  "): " + fix + ", or remove --" + option);
    };
    if (given(vm, "reconcile-interval-ms")) return off("reconcile-interval-ms");
    if (flood_given) return off("flood-peers");
    return {};
  }
  if (!flood_given) return {};
  if (o.reconcile_interval_ms == 0)
    return fail(as_given("flood-peers") + " and " + as_given("reconcile-interval-ms") +
                " contradict each other: reconciling only on connect, the peers not flooded would "
                "never learn the later transactions (give --reconcile-interval-ms MS > 0, or "
                "remove --flood-peers)");
  if (o.relay_mode != "pull")
    return fail(as_given("flood-peers") +
                " applies to --relay-mode pull only, and the relay mode is " + o.relay_mode + " (" +
                relay_mode_origin(vm, origins, o) +
                "): give --relay-mode pull, or remove --flood-peers");
  return {};
}

// Reads every option of the table from `vm` into `o`; numbers are checked against their range.
Status read_values(const po::variables_map& vm, const Origins& origins, NodeOptions& o) {
  for (const OptionSpec& s : kOptions) {
    if (s.to.flag) {
      o.*s.to.flag = vm[s.name].as<bool>();
    } else if (s.to.list) {
      if (vm.count(s.name)) o.*s.to.list = vm[s.name].as<std::vector<std::string>>();
    } else if (s.to.text) {
      if (vm.count(s.name)) o.*s.to.text = get(vm, s.name);
    } else if (s.numeric() && vm.count(s.name)) {  // --min-fee-rate absent: the network's
      auto v = parse_number(s, get(vm, s.name), origins);
      if (!v) return fail(v.error());
      if (s.to.u64) o.*s.to.u64 = *v;
      if (s.to.u32) o.*s.to.u32 = static_cast<uint32_t>(*v);
      if (s.to.optional_u64) o.*s.to.optional_u64 = *v;
    }
  }
  return {};
}

// The help text, one group of options after the other.
std::string help_text(const po::options_description& desc) {
  std::ostringstream s;
  s << "Usage: hearsayd [options]\n\n" << desc;
  return s.str();
}

// `config_text` null: read the config file from disk; otherwise its text (nullopt: none).
Result<ParsedOptions, std::string> parse_options(const std::vector<std::string>& args,
                                                 const std::optional<std::string>* config_text) {
  ParsedOptions out;
  NodeOptions& o = out.options;
  po::options_description desc = describe(o);
  po::variables_map vm;
  Origins origins;
  std::vector<std::string> cmdline(args.begin() + (args.empty() ? 0 : 1), args.end());
  try {
    po::parsed_options parsed = po::command_line_parser(cmdline).options(desc).run();
    origins.add_command_line(parsed);
    po::store(parsed, vm);
  } catch (const po::error& e) {
    std::string all;
    for (const std::string& a : cmdline)
      all += a;
    return fail(printable(error_message(e, all)) + " (see hearsayd --help)");
  }
  if (vm.count("help")) {
    out.outcome = OptionsOutcome::kHelp;
    out.text = help_text(desc);
    return out;
  }
  if (vm.count("version")) {
    out.outcome = OptionsOutcome::kVersion;
    out.text = std::string("hearsayd ") + kHearsayVersion;
    return out;
  }
  o.datadir = vm.count("datadir") ? get(vm, "datadir") : default_datadir();
  if (o.datadir.empty()) return fail("--datadir: must not be empty");
  const bool conf_given = vm.count("conf") > 0;
  o.conf = conf_given ? get(vm, "conf") : o.datadir + "/hearsay.conf";
  if (Status c = store_config_file(o.conf, conf_given, config_text, desc, vm, origins); !c)
    return fail(c.message());
  po::notify(vm);
  if (Status s = read_values(vm, origins, o); !s) return fail(printable(s.message()));
  if (vm.count("log-file") && o.log_file.empty())  // empty stands for the default
    return fail(origins.subject("log-file", "") +
                " is not allowed: give a file, or 'none' to write no log file");
  if (Status c = check_text_options(o, origins); !c) return fail(printable(c.message()));
  if (Status c = check_relay_options(vm, origins, o); !c) return fail(printable(c.message()));
  if (Status c = check_recon_options(vm, origins, o); !c) return fail(printable(c.message()));
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

std::string log_file_path(const NodeOptions& o) {
  if (o.log_file == "none") return {};
  if (o.log_file.empty()) return (o.datadir + "/") + kDefaultLogFile;
  return o.log_file;
}

}  // namespace hearsay
