// hearsayd's options: every one has a default, a range and a message that names it.
//
// Sources, highest priority first: the command line, then `<datadir>/hearsay.conf` (the same
// names without the leading dashes, `name=value` per line, `#` comments). A value out of range,
// an unknown option or a malformed line fails start-up with a message naming the option and the
// allowed range: `--name: 'VALUE' ...` for the command line, `config file PATH line N:
// name=VALUE ...` for the config file. Text from the config file appears in a message cut to a
// line's worth, with bytes that are not printable ASCII written as \xNN. Options that contradict
// each other (--relay-mode and --push-peers; tree mode's timers outside tree mode; --reconcile
// and --short-ids; reconciliation's options without it) fail with a message naming both, each
// the way it was given.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto/result.h"

namespace hearsay {

// The release (kept equal to CMakeLists.txt's project VERSION).
inline constexpr const char* kHearsayVersion = "0.1.0";
inline constexpr uint16_t kDefaultP2pPort = 18733;
inline constexpr uint16_t kDefaultRpcPort = 18732;

// Largest --min-fee-rate, per 1,000 bytes (the network file's bound on min_relay_fee_rate).
inline constexpr uint64_t kMaxMinFeeRate = 1'000'000'000'000;

// --relay-mode: how transactions travel. pull: announced, then requested; push: the same, and
// each new one also sent whole to --push-peers peers; tree: pushed along one tree per origin
// with the peers that relay by tree too, announced on the other links (p2p/tx_relay.h, "Tree
// relay"). --push-peers K > 0 without --relay-mode means push (the older way to ask for it).
inline constexpr const char* kRelayModes[] = {"pull", "push", "tree"};
// --push-peers under --relay-mode push when it is not given: kDefaultPushPeers (p2p/tx_relay.h).
// Tree mode's timers, ms (node.cpp checks them against p2p/tx_relay.h's kGraftTimeout and
// kLazyInterval).
inline constexpr uint32_t kDefaultGraftTimeoutMs = 100;
inline constexpr uint32_t kDefaultLazyIntervalMs = 500;
// Set reconciliation (p2p/tx_relay.h, "Set reconciliation"): the interval between rounds, ms
// (node.cpp checks it against kReconcileInterval), and the most --flood-peers (Bitcoin's 125
// connections).
inline constexpr uint32_t kDefaultReconcileIntervalMs = 2000;
inline constexpr uint32_t kMaxFloodPeers = 125;

// --max-partial-frame-memory, MiB: net/frame_budget.h's default and least cap (node.cpp checks
// them against kDefaultMaxPartialFrameBytes and kMinPartialFrameBytes).
inline constexpr uint32_t kDefaultMaxPartialFrameMemoryMib = 64;
inline constexpr uint32_t kMinPartialFrameMemoryMib = 8;
inline constexpr uint32_t kMaxPartialFrameMemoryMib = 65536;

struct NodeOptions {
  std::string datadir;  // default: $HOME/.hearsay
  std::string conf;     // default: <datadir>/hearsay.conf
  std::string network = "devnet";
  std::string listen = "0.0.0.0:18733";
  std::string rpc = "127.0.0.1:18732";
  std::vector<std::string> connect;  // [PUBKEY@]HOST:PORT, repeatable
  std::string allow_peers;           // file: one hex public key per line
  std::string trusted_peers;         // same format: never evicted, not exclusive
  uint32_t max_inbound = 117;
  uint32_t max_outbound = 8;
  uint32_t max_inbound_per_ip = 8;
  uint32_t max_partial_frame_memory_mib = kDefaultMaxPartialFrameMemoryMib;
  uint32_t inv_interval_ms = 0;
  // The relay mode in effect (one of kRelayModes): --relay-mode, or push for --push-peers K > 0
  // alone. push_peers is the one in effect too: kDefaultPushPeers under push when not given.
  std::string relay_mode = "pull";
  uint32_t push_peers = 0;
  uint32_t graft_timeout_ms = kDefaultGraftTimeoutMs;  // --graft-timeout-ms (tree mode only)
  uint32_t lazy_interval_ms = kDefaultLazyIntervalMs;  // --lazy-interval-ms (tree mode only)
  bool short_ids = true;                               // --short-ids
  // Reconciliation in effect: --reconcile, else off with --short-ids 0 (it compares short ids).
  bool reconcile = true;
  uint32_t reconcile_interval_ms = kDefaultReconcileIntervalMs;  // --reconcile-interval-ms
  uint32_t flood_peers = 0;     // --flood-peers (with reconciliation, in pull mode only)
  uint32_t verify_threads = 0;  // 0: one per core
  uint32_t io_threads = 0;      // --io-threads; 0: on the network thread (kDefaultIoThreads)
  uint64_t mempool_max_mb = 300;
  uint64_t mempool_expiry_hours = 336;
  bool mempool_sync = false;
  bool mempool_reset = false;
  bool mempool_repair = false;  // --mempool-repair: salvage a damaged store at start
  uint64_t ban_time_s = 24 * 3600;
  std::string trace;
  uint32_t link_delay_ms = 0;
  uint32_t link_jitter_ms = 0;
  uint32_t link_bandwidth_kbps = 0;
  std::string log_level = "info";
  std::string log_file;    // --log-file as given: empty = <datadir>/debug.log, "none" = no file
  bool log_stderr = true;  // --log-stderr: log to stderr too
  std::string rpc_user;
  std::string rpc_password;
  bool metrics_public = false;
  std::string producer_key;       // --producer-key FILE: a key the network authorises
  uint32_t block_interval_s = 0;  // 0: blocks only on generateblock
  uint32_t cmpct_hb_peers = 3;    // BIP152 high-bandwidth peers (Bitcoin Core's 3)
  // --min-fee-rate, when given (command line or config file); otherwise the network's
  // min_relay_fee_rate applies.
  std::optional<uint64_t> min_fee_rate;
};

enum class OptionsOutcome { kRun, kHelp, kVersion };

struct ParsedOptions {
  OptionsOutcome outcome = OptionsOutcome::kRun;
  NodeOptions options;
  std::string text;  // --help / --version text
};

// Parses argv (argv[0] is skipped), then the config file. Errors are one line for stderr.
Result<ParsedOptions, std::string> parse_node_options(const std::vector<std::string>& args);
// The same with the config file's text given instead of read from disk (nullopt: there is no
// config file); parse_node_options reads the file and calls this. Never throws.
Result<ParsedOptions, std::string> parse_node_options_with_config(
    const std::vector<std::string>& args, const std::optional<std::string>& config_text);

// The file hearsayd logs to: --log-file, else <datadir>/debug.log; empty for `--log-file none`.
inline constexpr const char* kDefaultLogFile = "debug.log";
std::string log_file_path(const NodeOptions& o);

}  // namespace hearsay
