#include "node/cli.h"

#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <ostream>

#include "chainstub/params.h"
#include "crypto/hex.h"
#include "crypto/keyfile.h"
#include "mempool/policy.h"
#include "node/flood.h"
#include "node/inject.h"
#include "node/options.h"
#include "node/rpc_client.h"
#include "p2p/serialize.h"

namespace hearsay {

namespace json = boost::json;

const RpcParamConversion kRpcNumericParams[] = {
    {"setban", 2},            // bantime (seconds)
    {"setban", 3},            // absolute (bool)
    {"getrawmempool", 0},     // verbose (bool)
    {"getblockhash", 0},      // height
    {"getblock", 1},          // verbosity
    {"getblockheader", 1},    // verbose (bool)
    {"generate", 0},          // number of blocks
    {"disconnectnode", 1},    // nodeid
    {"setnetworkactive", 0},  // state (bool)
};
const size_t kRpcNumericParamsCount = std::size(kRpcNumericParams);

namespace {

constexpr const char* kUsage =
    "Usage: hearsay-cli [--datadir DIR] [--rpc HOST:PORT] [--rpc-user U --rpc-password P]\n"
    "                   [--rpc-timeout SECONDS] COMMAND [ARGS]\n"
    "\n"
    "Global options:\n"
    "  --datadir DIR        hearsayd's data directory, for its .cookie (default: ~/.hearsay)\n"
    "  --rpc HOST:PORT      hearsayd's RPC address (default: 127.0.0.1:18732)\n"
    "  --rpc-user U, --rpc-password P   credentials instead of the cookie\n"
    "  --rpc-timeout S      seconds to wait for an answer (default: 900)\n"
    "\n"
    "RPC commands (arguments are positional, as bitcoin-cli's):\n"
    "  getinfo | getpeerinfo | addpeer PUBKEY@HOST:PORT | disconnectpeer PUBKEY|ID\n"
    "  disconnectnode HOST:PORT | disconnectnode \"\" ID | setnetworkactive true|false\n"
    "  listbanned | setban TARGET add|remove [SECONDS] | clearbanned\n"
    "  sendrawtransaction HEX | gettransaction TXID | getmempoolinfo | getrawmempool\n"
    "  getnextnonce PUBKEY_HEX | stop | uptime | help [METHOD]\n"
    "  getnetworkinfo | getconnectioncount\n"
    "  generateblock | getbestblock | getchaininfo | getblockchaininfo | getblockcount\n"
    "  getblock HASH [VERBOSITY 0|1|2] | getblockheader HASH [true|false]\n"
    "  any other method: arguments as strings\n"
    "hearsay-cli help METHOD documents each RPC: its usage, parameters, result and an example\n"
    "(asked of the node at --rpc).\n"
    "\n"
    "Tools:\n"
    "  keygen --out FILE    write a new key file, print its public key\n"
    "  tx ...               build and sign a transaction, print its hex (help tx)\n"
    "  sendtx ...           build, sign and submit a transaction, print its id (help sendtx)\n"
    "  inject ...           load generator over RPC (help inject)\n"
    "  flood NODE ...       load generator over P2P, as a peer (help flood)\n"
    "  network new ...      write a new network file and its producer keys (help network)\n"
    "  help [TOOL|METHOD]   this text, a tool's options, or an RPC method's documentation\n"
    "\n"
    "Exit codes: 0 ok; 1 the daemon answered an error, or a local failure; 2 bad command\n"
    "line; 3 no answer from hearsayd (not running, wrong --rpc, wrong credentials).\n";

constexpr const char* kTxUsage =
    "Usage: hearsay-cli tx --key FILE --nonce N [--fee N] [--payload HEX | --size BYTES]\n"
    "                      [--expiry N] [--network devnet|MAGIC]\n"
    "  --key FILE       the sender's key file (hearsay-cli keygen)\n"
    "  --nonce N        the sender's nonce (sendtx: default the node's getnextnonce)\n"
    "  --fee N          fee units (default: the default minimum fee rate, 100 per 1,000 bytes)\n"
    "  --payload HEX    the opaque payload (default: empty)\n"
    "  --size BYTES     instead of --payload: a zero payload making the transaction this size\n"
    "  --expiry N       0 never (default); < 500,000,000 a last block height; else unix time\n"
    "  --network NET    devnet or the network magic, decimal or 0x-hex; tx (offline) defaults\n"
    "                   to devnet, sendtx to the node's network (getnetworkinfo's magic)\n";

constexpr const char* kSendtxUsage =
    "Usage: hearsay-cli sendtx --key FILE [--nonce N] [the other options of tx]\n"
    "Builds and signs as tx does, submits with sendrawtransaction and prints the transaction\n"
    "id. The nonce defaults to the node's getnextnonce for the key, the network to the node's\n"
    "(getnetworkinfo's magic); --nonce and --network override them.\n";

constexpr const char* kKeygenUsage =
    "Usage: hearsay-cli keygen --out FILE\n"
    "Writes a new Ed25519 key file (mode 0600; refuses to overwrite) and prints its public key.\n";

constexpr const char* kInjectUsage =
    "Usage: hearsay-cli inject [options]\n"
    "  --count N            transactions to send (default 1000)\n"
    "  --rate R             transactions per second (default 0: as fast as possible)\n"
    "  --size BYTES         size of each transaction (default 250)\n"
    "  --senders S          sender keys (default: enough for --count under the nodes'\n"
    "                       per-sender limit, getmempoolinfo's max_per_sender, and at least 16;\n"
    "                       fewer than that gets a warning and sender-limit rejections)\n"
    "  --seed X             derives the sender keys (default 1)\n"
    "  --fee N              fee of each (default: the default minimum fee rate)\n"
    "  --start-nonce N|next first nonce of each sender (default 0; next: getnextnonce)\n"
    "  --network NET        devnet or a magic (default: the nodes' network, getnetworkinfo)\n"
    "  --rpc HOST:PORT      a node to send to; repeat to spread over nodes (round robin)\n"
    "  --datadir DIR        the node's datadir for its cookie; once for all, or once per --rpc\n"
    "  --connections C      requests in flight (default 4)\n"
    "  --batch B            transactions per batch request (default: automatic, <= 100)\n"
    "  --out FILE           one JSON line per transaction: id, node, submit time (us), outcome\n"
    "  --sign-threads T     threads signing before the run (default: one per core)\n"
    "Progress on stderr; a JSON summary on stdout: accepted, already_held, rejected (and\n"
    "reject_reasons: counts by rule, such as sender-limit), failed (no answer), senders, rate.\n"
    "Exit codes: 0 every transaction accepted or already held; 1 any rejected or unanswered;\n"
    "2 bad command line; 3 no answer from a node before sending.\n";

constexpr const char* kFloodUsage =
    "Usage: hearsay-cli flood [PUBKEY@]HOST:PORT [options]\n"
    "Loads a node through its P2P port as a peer does: TLS with its own Ed25519 identity,\n"
    "version/verack, pongs; the transactions are signed on every core and framed before the\n"
    "clock starts. PUBKEY@ pins the node's identity: a node proving another is refused.\n"
    "  --mode push|announce push (default): stream tx frames, claiming kServicePushTx in the\n"
    "                       version; announce: send inv (at most 1,000 ids each, at most 55,000\n"
    "                       announced and not yet asked for: what a node tracks and defers) and\n"
    "                       answer getdata\n"
    "  --count N            transactions [1..5000000] (default 1000)\n"
    "  --rate R             transactions per second, paced every millisecond (default 0: as\n"
    "                       fast as the socket takes them)\n"
    "  --size BYTES         size of each transaction (default 250)\n"
    "  --senders S          sender keys (default: ceil(count / 64), at least 16)\n"
    "  --seed X             derives the sender keys, as inject's (default 1)\n"
    "  --fee N              fee of each (default: the least the default minimum fee rate,\n"
    "                       100 per 1,000 bytes, allows)\n"
    "  --start-nonce N|next first nonce of each sender (default 0; next: the node's\n"
    "                       getnextnonce, over RPC)\n"
    "  --network NET        devnet (default) or a magic, decimal or 0x-hex\n"
    "  --key FILE           flood's identity key (hearsay-cli keygen; default: a new random one)\n"
    "  --sign-threads T     threads signing before the run [1..1024] (default: one per core)\n"
    "  --out FILE           one JSON line per transaction: id, t_sent, t_requested (us since\n"
    "                       the epoch; t_requested null when the node did not ask)\n"
    "  --timeout S          give up when the node makes no progress for S seconds\n"
    "                       [1..86400] (default 60)\n"
    "  --wait-accepted      then poll the node's getmempoolinfo (RPC) until it holds them all\n"
    "  --forge              a forger: one bit of every signature flipped after signing. A node\n"
    "                       bans the identity at the first one it verifies (testnet.py chaos)\n"
    "  --rpc HOST:PORT, --datadir DIR   the node's RPC and cookie, for --wait-accepted and\n"
    "                       --start-nonce next (default: the global options)\n"
    "Progress on stderr; a JSON summary on stdout: mode, count, announced, sent, requested,\n"
    "offered_rate (offers per second from the first write to the end of the last),\n"
    "first/last_send_us, first/last_request_us, duration_seconds, cpu_seconds, drained (the\n"
    "node answered the closing ping, so it read everything), held, all_held_us, accept_rate\n"
    "(--wait-accepted), closed_by_node, failure, forged.\n"
    "Exit codes: 0 all offered (announce: and fetched) and read by the node (--wait-accepted:\n"
    "and held); 1 the node closed the session or made no progress within --timeout, or a\n"
    "local failure; 2 bad command line; 3 no session (unreachable, TLS refused, another\n"
    "identity than PUBKEY@, no version handshake; or no answer from the RPC it needs).\n";

constexpr const char* kNetworkUsage =
    "Usage: hearsay-cli network new --producers N --out DIR [--name NAME] [--magic HEX]\n"
    "                               [--block-interval S] [--max-block-size BYTES]\n"
    "Writes DIR/network.json (hearsayd --network DIR/network.json) and the producer key files\n"
    "DIR/producer-<i>.key (hearsayd --producer-key FILE), i = 0..N-1; refuses to overwrite a\n"
    "network.json. Prints the network, the file, the genesis id and each producer's key.\n"
    "  --producers N          producer keys to create [1..1000]\n"
    "  --out DIR              directory to write to (created if missing)\n"
    "  --name NAME            1..32 characters of A-Z a-z 0-9 _ - (default: testnet-<8 hex>)\n"
    "  --magic HEX            network magic, 32-bit hex such as 0x1a2b3c4d, not the devnet's\n"
    "                         (default: random)\n"
    "  --block-interval S     target seconds between blocks [1..86400] (default 10)\n"
    "  --max-block-size BYTES largest block [10000..4000000] (default 1000000)\n";

const CliOptionSpec kTxOptions[] = {
    {"key", true},  {"nonce", true},  {"fee", true},     {"payload", true},
    {"size", true}, {"expiry", true}, {"network", true},
};

struct Globals {
  RpcClientConfig rpc;
  bool help = false;
  bool version = false;
};

// A failure of one command: its exit code and one line for stderr.
struct CliError {
  int code;
  std::string message;
};
using CliResult = Result<int, CliError>;

CliError usage_error(std::string message) {
  return CliError{kCliUsage, std::move(message)};
}

std::string default_datadir() {
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.hearsay";
}

// Called with each option as it is read, in order; a failure ends the parse with its message.
using OptionCheck = std::function<Status(const std::string& name, const std::string& value)>;

enum class OptionError { kUnknown, kNeedsValue, kTakesNoValue, kGivenTwice };

// The message of a malformed option. `command` empty: a global option, before COMMAND, where
// any error but a missing value reads as an unknown option.
std::string option_error(std::string_view command, OptionError e, const std::string& name) {
  const std::string option = "--" + name;
  if (command.empty())
    return e == OptionError::kNeedsValue ? option + " needs a value"
                                         : "unknown option " + option + " (see hearsay-cli --help)";
  const std::string see = " (see hearsay-cli help " + std::string(command) + ")";
  const std::string cmd(command);
  switch (e) {
    case OptionError::kUnknown:
      return cmd + ": unknown option " + option + see;
    case OptionError::kNeedsValue:
      return cmd + ": " + option + " needs a value" + see;
    case OptionError::kTakesNoValue:
      return cmd + ": " + option + " takes no value" + see;
    case OptionError::kGivenTwice:
      break;
  }
  return cmd + ": " + option + " given twice" + see;
}

// hearsay-cli's option parser: reads `args` from index `i` into `out` and returns the index
// where it stopped. For a command (`command` not empty) every argument not starting with "--"
// is positional and the parse reads to the end. For the global options (`command` empty) the
// first such argument, COMMAND, ends the options, and "-h" and "-help" spell --help. `check`,
// when set, sees each option as it is read, so errors come in the order of the arguments.
// (Not Boost.ProgramOptions, hearsayd's parser: that would read an RPC argument such as "-1" or
// "--x" after COMMAND as an option, accept abbreviated names, and word its errors otherwise.)
Result<size_t, std::string> read_options(std::string_view command,
                                         const std::vector<std::string>& args, size_t i,
                                         std::span<const CliOptionSpec> specs, CliParsedArgs& out,
                                         const OptionCheck& check) {
  const bool global = command.empty();
  for (; i < args.size(); ++i) {
    std::string a = args[i];
    if (global && (a == "-h" || a == "-help")) a = "--help";
    if (!a.starts_with("--")) {
      if (global) break;
      out.positional.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const CliOptionSpec* spec = nullptr;
    for (const CliOptionSpec& s : specs)
      if (name == s.name) spec = &s;
    if (spec == nullptr) return fail(option_error(command, OptionError::kUnknown, name));
    if (spec->takes_value && !inline_value) {
      if (i + 1 >= args.size()) return fail(option_error(command, OptionError::kNeedsValue, name));
      value = args[++i];
    }
    if (!spec->takes_value && inline_value)
      return fail(option_error(command, OptionError::kTakesNoValue, name));
    auto& vals = out.values[name];
    if (!vals.empty() && !spec->repeatable)
      return fail(option_error(command, OptionError::kGivenTwice, name));
    if (check) {
      Status s = check(name, value);
      if (!s) return fail(s.message());
    }
    vals.push_back(std::move(value));
  }
  return i;
}

// The global options, before COMMAND; `i` ends at COMMAND. Each may be repeated (the last wins).
Result<Globals, std::string> parse_globals(const std::vector<std::string>& args, size_t& i) {
  static const CliOptionSpec kSpecs[] = {
      {"help", false, true},       {"version", false, true}, {"datadir", true, true},
      {"rpc", true, true},         {"rpc-user", true, true}, {"rpc-password", true, true},
      {"rpc-timeout", true, true},
  };
  Globals g;
  g.rpc.port = kDefaultRpcPort;
  g.rpc.datadir = default_datadir();
  auto apply = [&g](const std::string& name, const std::string& value) -> Status {
    if (name == "datadir") {
      if (value.empty()) return fail(std::string("--datadir: must not be empty"));
      g.rpc.datadir = value;
    } else if (name == "rpc") {
      auto hp = parse_host_port(value, kDefaultRpcPort);
      if (!hp) return fail("--rpc: " + hp.error());
      g.rpc.host = hp->host;
      g.rpc.port = hp->port;
    } else if (name == "rpc-user") {
      g.rpc.user = value;
    } else if (name == "rpc-password") {
      g.rpc.password = value;
    } else if (name == "rpc-timeout") {
      auto s = parse_uint("--rpc-timeout", value, 0, 365ULL * 24 * 3600);
      if (!s) return fail(s.error());
      if (*s > 0) g.rpc.timeout = std::chrono::seconds(*s);
    }
    return {};
  };
  CliParsedArgs p;
  auto end = read_options("", args, i, kSpecs, p, apply);
  if (!end) return fail(end.error());
  i = *end;
  g.help = p.has("help");
  g.version = p.has("version");
  if (p.has("rpc-user") != p.has("rpc-password"))
    return fail(
        std::string("--rpc-user and --rpc-password go together (or give neither, to use "
                    "the cookie in --datadir)"));
  if (p.has("rpc-user") && g.rpc.user.empty())
    return fail(std::string("--rpc-user: must not be empty"));
  return g;
}

int report(const CliIo& io, const CliError& e) {
  std::string line = e.message;
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  io.err << line << "\n";
  return e.code;
}

CliError rpc_failure(const RpcClientError& e) {
  return CliError{e.rpc_code ? kCliFailure : kCliUnreachable, e.one_line()};
}

void print_result(const CliIo& io, const json::value& result) {
  std::string text = format_rpc_result(result);
  if (!text.empty()) io.out << text << "\n";
}

// --- tx and sendtx ------------------------------------------------------------------------------

struct TxRequest {
  KeyPair key;
  std::optional<uint64_t> nonce;
  TxTemplate tmpl;
  bool network_given = false;  // --network; otherwise tmpl.network is the devnet's
};

Result<TxRequest, CliError> parse_tx_request(std::string_view command,
                                             const std::vector<std::string>& args) {
  auto parsed = parse_cli_options(command, args, kTxOptions);
  if (!parsed) return fail(usage_error(parsed.error()));
  const CliParsedArgs& p = *parsed;
  if (!p.positional.empty())
    return fail(usage_error(std::string(command) + ": unexpected argument '" + p.positional[0] +
                            "' (see hearsay-cli help " + std::string(command) + ")"));
  const std::string* key_file = p.get("key");
  if (key_file == nullptr)
    return fail(usage_error(std::string(command) + ": --key FILE is required (make one with " +
                            "hearsay-cli keygen --out FILE)"));
  std::optional<uint64_t> nonce;
  if (const std::string* n = p.get("nonce")) {
    auto v = parse_uint("--nonce", *n);
    if (!v) return fail(usage_error(v.error()));
    nonce = *v;
  } else if (command == "tx") {
    return fail(usage_error("tx: --nonce N is required (sendtx asks the node for it)"));
  }
  TxTemplate t;
  t.network = kDevnetMagic;
  if (const std::string* n = p.get("network")) {
    auto v = parse_network(*n);
    if (!v) return fail(usage_error(v.error()));
    t.network = *v;
  }
  const bool network_given = p.has("network");
  if (const std::string* f = p.get("fee")) {
    auto v = parse_uint("--fee", *f);
    if (!v) return fail(usage_error(v.error()));
    t.fee = *v;
  }
  if (const std::string* e = p.get("expiry")) {
    auto v = parse_uint("--expiry", *e);
    if (!v) return fail(usage_error(v.error()));
    t.expiry = *v;
  }
  const std::string* payload = p.get("payload");
  const std::string* size = p.get("size");
  if (payload != nullptr && size != nullptr)
    return fail(usage_error(std::string(command) + ": give --payload or --size, not both"));
  if (payload != nullptr) {
    auto bytes = from_hex(*payload);
    if (!bytes) return fail(usage_error("--payload: not hex (an even number of 0-9a-f digits)"));
    if (bytes->size() > kMaxTxPayload)
      return fail(usage_error("--payload: " + std::to_string(bytes->size()) +
                              " bytes, more than the largest payload, " +
                              std::to_string(kMaxTxPayload)));
    t.payload = std::move(*bytes);
  }
  if (size != nullptr) {
    auto v = parse_uint("--size", *size, kMinTxSize, kMaxTxSize);
    if (!v) return fail(usage_error(v.error()));
    auto len = payload_size_for(static_cast<size_t>(*v));
    if (!len) return fail(usage_error(len.error()));
    t.payload.assign(*len, 0);
  }
  auto key = load_key_file(*key_file);
  if (!key) return fail(CliError{kCliFailure, key.error()});
  return TxRequest{*key, nonce, std::move(t), network_given};
}

CliResult cmd_keygen(const std::vector<std::string>& args, const CliIo& io) {
  static const CliOptionSpec kSpecs[] = {{"out", true}};
  auto p = parse_cli_options("keygen", args, kSpecs);
  if (!p) return fail(usage_error(p.error()));
  const std::string* out = p->get("out");
  if (out == nullptr || !p->positional.empty())
    return fail(usage_error("keygen: usage: hearsay-cli keygen --out FILE"));
  std::error_code ec;
  if (std::filesystem::exists(*out, ec))
    return fail(CliError{kCliFailure, "keygen: " + *out +
                                          " exists; not overwriting a key (choose another --out "
                                          "or remove it first)"});
  KeyPair key = KeyPair::generate();
  Status s = save_key_file(*out, key);
  if (!s) return fail(CliError{kCliFailure, s.message()});
  io.out << to_hex(key.public_key()) << "\n";
  return kCliOk;
}

CliResult cmd_tx(const std::vector<std::string>& args, const CliIo& io) {
  auto req = parse_tx_request("tx", args);
  if (!req) return fail(req.error());
  TxRef tx = build_tx(req->tmpl, req->key, *req->nonce);
  io.out << to_hex(tx->encoding()) << "\n";
  return kCliOk;
}

// The node's next nonce for `key` (getnextnonce).
Result<uint64_t, CliError> query_next_nonce(RpcClient& client, const KeyPair& key) {
  json::array params;
  params.emplace_back(to_hex(key.public_key()));
  auto r = client.call("getnextnonce", params);
  if (!r) return fail(rpc_failure(r.error()));
  json::error_code ec;
  const uint64_t nonce =
      r->is_number() ? r->to_number<uint64_t>(ec) : (ec = json::error::not_number, 0);
  if (ec)
    return fail(CliError{kCliFailure, "error: getnextnonce answered " + json::serialize(*r) +
                                          ", not a nonce (pass --nonce N)"});
  return nonce;
}

CliResult cmd_sendtx(const std::vector<std::string>& args, const Globals& g, const CliIo& io) {
  auto req = parse_tx_request("sendtx", args);
  if (!req) return fail(req.error());
  RpcClient client(g.rpc);
  if (!req->network_given) {
    auto magic = query_node_magic(client);
    if (!magic) return fail(CliError{magic.error().exit_code, magic.error().message});
    req->tmpl.network = *magic;
  }
  uint64_t nonce = 0;
  if (req->nonce) {
    nonce = *req->nonce;
  } else {
    auto n = query_next_nonce(client, req->key);
    if (!n) return fail(n.error());
    nonce = *n;
  }
  TxRef tx = build_tx(req->tmpl, req->key, nonce);
  json::array params;
  params.emplace_back(to_hex(tx->encoding()));
  auto r = client.call("sendrawtransaction", params);
  if (!r) return fail(rpc_failure(r.error()));
  print_result(io, *r);
  return kCliOk;
}

// The line inject ends with when not every transaction was accepted or already held: how
// many were rejected (by reason) and how many got no answer. Empty when all went in.
std::string inject_failure_line(const InjectSummary& s) {
  std::string line;
  if (s.rejected > 0) {
    line = std::to_string(s.rejected) + " of " + std::to_string(s.count) +
           " transactions were rejected (";
    bool first = true;
    for (const auto& [reason, n] : s.reject_reasons) {
      line += (first ? "" : ", ") + reason + ": " + std::to_string(n);
      first = false;
    }
    line += ")";
  }
  if (s.failed > 0) {
    line += line.empty() ? std::to_string(s.failed) + " of " + std::to_string(s.count) +
                               " transactions got no answer"
                         : "; " + std::to_string(s.failed) + " got no answer";
    line += " (see the progress lines above)";
  }
  return line.empty() ? line : "error: inject: " + line;
}

CliResult cmd_inject(const std::vector<std::string>& args, const Globals& g, const CliIo& io) {
  auto opts = parse_inject_args(args, g.rpc);
  if (!opts) return fail(usage_error(opts.error()));
  auto resolved = resolve_inject_options(*opts, io.err);
  if (!resolved) return fail(CliError{resolved.error().exit_code, resolved.error().message});
  auto summary = run_inject(*resolved, io.err, io.err_is_tty);
  if (!summary) return fail(CliError{kCliFailure, summary.error()});
  io.out << summary->to_json() << "\n";
  const std::string failure = inject_failure_line(*summary);
  if (!failure.empty()) return fail(CliError{kCliFailure, failure});
  return kCliOk;
}

CliResult cmd_flood(const std::vector<std::string>& args, const Globals& g, const CliIo& io) {
  auto opts = parse_flood_args(args, g.rpc);
  if (!opts) return fail(usage_error(opts.error()));
  auto summary = run_flood(*opts, io.err);
  if (!summary) return fail(CliError{summary.error().exit_code, summary.error().message});
  io.out << summary->to_json() << "\n";
  if (!summary->failure.empty()) return fail(CliError{kCliFailure, "flood: " + summary->failure});
  return kCliOk;
}

Result<uint32_t, std::string> parse_magic(std::string_view text) {
  std::string_view digits = text;
  if (digits.starts_with("0x") || digits.starts_with("0X")) digits.remove_prefix(2);
  uint64_t v = 0;
  const char* end = digits.data() + digits.size();
  auto r = std::from_chars(digits.data(), end, v, 16);
  if (digits.empty() || digits.size() > 8 || r.ec != std::errc() || r.ptr != end || v == 0)
    return fail("--magic: '" + std::string(text) +
                "' is not a network magic: expected 1 to 8 hex digits such as 0x1a2b3c4d, not 0");
  if (v == kDevnetMagic)
    return fail("--magic: '" + std::string(text) +
                "' is the devnet's magic; choose another (or leave --magic out for a random one)");
  return static_cast<uint32_t>(v);
}

CliResult cmd_network(const std::vector<std::string>& args, const CliIo& io) {
  static const CliOptionSpec kSpecs[] = {{"producers", true},      {"out", true},
                                         {"name", true},           {"magic", true},
                                         {"block-interval", true}, {"max-block-size", true}};
  if (args.empty() || args[0] != "new")
    return fail(usage_error("network: expected 'network new ...' (see hearsay-cli help network)"));
  std::vector<std::string> rest(args.begin() + 1, args.end());
  auto p = parse_cli_options("network new", rest, kSpecs);
  if (!p) return fail(usage_error(p.error()));
  if (!p->positional.empty())
    return fail(usage_error("network new: unexpected argument '" + p->positional[0] +
                            "' (see hearsay-cli help network)"));
  NewNetworkOptions o;
  const std::string* producers = p->get("producers");
  const std::string* out = p->get("out");
  if (producers == nullptr || out == nullptr)
    return fail(usage_error(
        "network new: --producers N and --out DIR are required (see hearsay-cli help network)"));
  auto n = parse_uint("--producers", *producers, 1, kMaxProducers);
  if (!n) return fail(usage_error(n.error()));
  o.producers = static_cast<size_t>(*n);
  if (out->empty()) return fail(usage_error("--out: must not be empty"));
  o.out_dir = *out;
  if (const std::string* name = p->get("name")) o.name = *name;
  if (const std::string* magic = p->get("magic")) {
    auto m = parse_magic(*magic);
    if (!m) return fail(usage_error(m.error()));
    o.magic = *m;
  }
  if (const std::string* s = p->get("block-interval")) {
    auto v = parse_uint("--block-interval", *s, 1, kMaxBlockIntervalSeconds);
    if (!v) return fail(usage_error(v.error()));
    o.block_interval_s = *v;
  }
  if (const std::string* s = p->get("max-block-size")) {
    auto v = parse_uint("--max-block-size", *s, kMinMaxBlockSize, kMaxBlockSize);
    if (!v) return fail(usage_error(v.error()));
    o.max_block_size = static_cast<size_t>(*v);
  }
  const auto now_s = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
  auto params = create_network(o, now_s);
  if (!params) return fail(CliError{kCliFailure, "network new: " + params.error()});
  const std::filesystem::path dir(o.out_dir);
  char magic[16];
  std::snprintf(magic, sizeof magic, "0x%08x", params->magic);
  io.out << "network  " << params->name << " (magic " << magic << ")\n";
  io.out << "file     " << (dir / "network.json").string() << "\n";
  io.out << "genesis  " << to_hex(params->genesis_id()) << "\n";
  for (size_t i = 0; i < params->producers.size(); ++i)
    io.out << "producer " << (dir / ("producer-" + std::to_string(i) + ".key")).string() << " "
           << to_hex(params->producers[i]) << "\n";
  return kCliOk;
}

// The local tools' help texts, by name ("help" itself: the usage).
const char* local_help(std::string_view topic) {
  if (topic.empty() || topic == "help") return kUsage;
  if (topic == "tx") return kTxUsage;
  if (topic == "sendtx") return kSendtxUsage;
  if (topic == "keygen") return kKeygenUsage;
  if (topic == "inject") return kInjectUsage;
  if (topic == "flood") return kFloodUsage;
  if (topic == "network") return kNetworkUsage;
  return nullptr;
}

// help [TOOL | METHOD]: a tool's help here; any other name is asked of the node's help RPC.
CliResult cmd_help(const std::vector<std::string>& args, const Globals& g, const CliIo& io) {
  const std::string topic = args.empty() ? "" : args[0];
  if (args.size() > 1)
    return fail(usage_error("help: one name at a time (hearsay-cli help [TOOL|METHOD])"));
  if (const char* text = local_help(topic)) {
    io.out << text;
    return kCliOk;
  }
  RpcClient client(g.rpc);
  auto r = client.call("help", json::array{json::string(topic)});
  if (!r && !r.error().rpc_code)
    return fail(
        CliError{kCliUnreachable,
                 "error: '" + topic +
                     "' is not a local tool (keygen, tx, sendtx, inject, flood, network), and "
                     "the node could not be reached for RPC help: " +
                     r.error().message + " (check --rpc and --datadir)"});
  if (!r) return fail(rpc_failure(r.error()));
  // The node's text usually ends with a newline already: do not add a blank line.
  if (const json::string* text = r->if_string(); text != nullptr && text->ends_with('\n'))
    io.out << std::string_view(*text);
  else
    print_result(io, *r);
  return kCliOk;
}

CliResult cmd_rpc(const std::string& method, const std::vector<std::string>& args, const Globals& g,
                  const CliIo& io) {
  auto params = convert_rpc_params(method, args);
  if (!params) return fail(usage_error(params.error()));
  RpcClient client(g.rpc);
  auto r = client.call(method, *params);
  if (!r) return fail(rpc_failure(r.error()));
  print_result(io, *r);
  return kCliOk;
}

}  // namespace

const std::string* CliParsedArgs::get(std::string_view name) const {
  auto it = values.find(name);
  return it == values.end() || it->second.empty() ? nullptr : &it->second.back();
}

Result<CliParsedArgs, std::string> parse_cli_options(std::string_view command,
                                                     const std::vector<std::string>& args,
                                                     std::span<const CliOptionSpec> specs) {
  CliParsedArgs out;
  auto end = read_options(command, args, 0, specs, out, nullptr);
  if (!end) return fail(end.error());
  return out;
}

Result<HostPort, std::string> parse_host_port(std::string_view text, uint16_t default_port) {
  HostPort hp;
  std::string_view port_text;
  if (text.starts_with("[")) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close == 1)
      return fail("'" + std::string(text) + "': an IPv6 address goes in brackets, [::1]:PORT");
    hp.host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return fail("'" + std::string(text) + "': expected [IPV6]:PORT");
      port_text = rest.substr(1);
      if (port_text.empty()) return fail("'" + std::string(text) + "': the port is missing");
    }
  } else {
    auto colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') != colon)
      return fail("'" + std::string(text) + "': put an IPv6 address in brackets, [::1]:PORT");
    hp.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = text.substr(colon + 1);
      if (port_text.empty()) return fail("'" + std::string(text) + "': the port is missing");
    }
  }
  if (hp.host.empty()) return fail("'" + std::string(text) + "': the host is missing");
  hp.port = default_port;
  if (!port_text.empty()) {
    auto p = parse_uint("port", port_text, 1, 65535);
    if (!p) return fail("'" + std::string(text) + "': the port must be 1..65535");
    hp.port = static_cast<uint16_t>(*p);
  }
  return hp;
}

Result<uint32_t, std::string> parse_network(std::string_view text) {
  if (text == "devnet") return kDevnetMagic;
  uint64_t v = 0;
  std::from_chars_result r{};
  const char* end = text.data() + text.size();
  if (text.starts_with("0x") || text.starts_with("0X"))
    r = std::from_chars(text.data() + 2, end, v, 16);
  else
    r = std::from_chars(text.data(), end, v, 10);
  if (text.empty() || r.ec != std::errc() || r.ptr != end || v == 0 || v > UINT32_MAX ||
      text == "0x")
    return fail("--network: '" + std::string(text) +
                "' is neither 'devnet' nor a network magic (1..4294967295, decimal or 0x-hex)");
  return static_cast<uint32_t>(v);
}

Result<uint64_t, std::string> parse_uint(std::string_view option, std::string_view text,
                                         uint64_t min, uint64_t max) {
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  auto r = std::from_chars(text.data(), end, v, 10);
  if (text.empty() || r.ec != std::errc() || r.ptr != end || v < min || v > max)
    return fail(std::string(option) + ": '" + std::string(text) + "' is not a whole number in " +
                std::to_string(min) + ".." + std::to_string(max));
  return v;
}

Result<json::array, std::string> convert_rpc_params(std::string_view method,
                                                    const std::vector<std::string>& args) {
  json::array params;
  for (size_t i = 0; i < args.size(); ++i) {
    bool as_json = false;
    for (const RpcParamConversion& c : kRpcNumericParams)
      if (method == c.method && static_cast<size_t>(c.index) == i) as_json = true;
    if (!as_json) {
      params.emplace_back(args[i]);
      continue;
    }
    json::error_code ec;
    json::value v = json::parse(args[i], ec);
    if (ec)
      return fail("argument " + std::to_string(i + 1) + " of " + std::string(method) + " ('" +
                  args[i] + "') must be a JSON value such as a number or true/false");
    params.emplace_back(std::move(v));
  }
  return params;
}

Result<uint32_t, ToolError> query_node_magic(RpcClient& client) {
  auto r = client.call("getnetworkinfo", json::array());
  if (!r && !r.error().rpc_code) return fail(ToolError{kCliUnreachable, r.error().one_line()});
  const std::string pass = "; pass --network devnet|MAGIC";
  if (!r)
    return fail(ToolError{kCliFailure, "error: " + client.address() +
                                           " did not say its network (getnetworkinfo: " +
                                           r.error().one_line() + ")" + pass});
  const json::object* o = r->if_object();
  const json::value* m = o != nullptr ? o->if_contains("magic") : nullptr;
  Result<uint32_t, std::string> magic = fail(std::string("no magic"));
  if (m != nullptr && m->is_string()) magic = parse_network(m->get_string());
  if (m != nullptr && m->is_number()) {
    json::error_code ec;
    const auto v = m->to_number<uint64_t>(ec);
    if (!ec && v > 0 && v <= UINT32_MAX) magic = static_cast<uint32_t>(v);
  }
  if (!magic)
    return fail(ToolError{kCliFailure, "error: getnetworkinfo of " + client.address() +
                                           " has no \"magic\" (0x and 8 hex digits)" + pass});
  return *magic;
}

TxRef build_tx(const TxTemplate& t, const KeyPair& key, uint64_t nonce) {
  TxFields f;
  f.network = t.network;
  f.nonce = nonce;
  f.expiry = t.expiry;
  f.payload = t.payload;
  const size_t size =
      kTxFixedPrefix + compact_size_len(f.payload.size()) + f.payload.size() + kTxSignatureSize;
  f.fee = t.fee ? *t.fee : min_fee_for(size, kDefaultMinFeeRate);
  return Transaction::create(f, key);
}

int run_cli(const std::vector<std::string>& args, CliIo io) {
  crypto_init();
  size_t i = 0;
  auto globals = parse_globals(args, i);
  if (!globals) return report(io, usage_error("error: " + globals.error()));
  if (globals->version) {
    io.out << "hearsay-cli 0.1.0\n";
    return kCliOk;
  }
  if (globals->help || i >= args.size()) {
    if (i >= args.size() && !globals->help) {
      io.err << kUsage;
      return kCliUsage;
    }
    io.out << kUsage;
    return kCliOk;
  }
  const std::string& command = args[i];
  std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  CliResult r = fail(usage_error(""));
  if (command == "help")
    r = cmd_help(rest, *globals, io);
  else if (command == "keygen")
    r = cmd_keygen(rest, io);
  else if (command == "tx")
    r = cmd_tx(rest, io);
  else if (command == "sendtx")
    r = cmd_sendtx(rest, *globals, io);
  else if (command == "inject")
    r = cmd_inject(rest, *globals, io);
  else if (command == "flood")
    r = cmd_flood(rest, *globals, io);
  else if (command == "network")
    r = cmd_network(rest, io);
  else
    r = cmd_rpc(command, rest, *globals, io);
  if (!r) {
    CliError e = r.error();
    if (!e.message.starts_with("error")) e.message = "error: " + e.message;
    return report(io, e);
  }
  return *r;
}

}  // namespace hearsay
