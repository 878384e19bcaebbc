// hearsay-cli inject: a load generator that submits signed transactions over JSON-RPC.
//
//   inject [--count N] [--rate R] [--size B] [--senders S] [--seed X] [--fee F]
//          [--start-nonce N|next] [--network NET] [--rpc HOST:PORT]... [--datadir DIR]...
//          [--connections C] [--batch B] [--out FILE] [--sign-threads T]
//
// Before anything is signed, each node is asked for its per-sender limit (getmempoolinfo's
// max_per_sender; kDefaultMaxPerSender, mempool/policy.h, when it reports none) and, without
// --network, its network (getnetworkinfo's magic; the nodes must agree). A node that does not
// answer ends the run there (exit 3). Without --senders, S is the fewest senders that keep
// every sender within the smallest limit, ceil(count / limit), and at least
// kInjectDefaultSenders; an explicit --senders below that is used as given, with a warning on
// `progress` naming the numbers (a test of the sender limit may want exactly that).
//
// How: S sender keys derive from the seed (inject_sender_key: the same seed gives the same keys
// and so the same transactions). Transaction i is sender i mod S's (i div S)-th, with nonces
// from --start-nonce (0; `next` asks the first node's getnextnonce for each sender). All are
// signed before the first is sent, on every core, so signing never limits the rate. They are
// then sent in batches (JSON-RPC batch requests of sendrawtransaction, at most --batch each,
// default: ~50 batches a second at the target rate, at most 100 and at most what fits a request
// body), batch k to endpoint k mod E (round robin over --rpc), on C connections in flight, each
// a kept-alive HTTP connection. Batch k leaves no earlier than start + k × batch / rate
// (--rate 0: as fast as the nodes answer).
//
// Accounting (sendrawtransaction HEX true, the verbose form): a transaction the node took now is
// "accepted"; one it already held is "already_held"; one it answered with an error is
// "rejected" (counted by reason: the rule's name, the message before its first colon, such as
// "sender-limit"); one whose request got no answer (connection lost, timeout) is "failed".
// --out FILE writes one JSON line per transaction, in order:
//   {"id":"<hex>","node":"HOST:PORT","t":<submit time, µs since the epoch>,"accepted":true,
//    "outcome":"accepted"|"already-held"|"rejected"|"failed"}
// ("accepted" is true only for a transaction taken now; + "error":"<message>" when rejected or
// failed). Progress goes to stderr: a bar with rate and ETA when stderr is a terminal, a plain
// line a second otherwise; the summary goes to stdout as JSON.
// Exit code (hearsay-cli): 0 when every transaction was accepted or already held; 1 when any
// was rejected or got no answer; 3 when a node did not answer before sending.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/result.h"
#include "node/cli.h"
#include "node/rpc_client.h"
#include "p2p/transaction.h"

namespace hearsay {

// Most transactions one run prepares. All are held in memory, signed, before the first is
// sent: each costs its size plus ~200 B of bookkeeping, so 5 M of 250 B is ~2.3 GB.
inline constexpr uint64_t kInjectMaxCount = 5'000'000;
// Most sender keys.
inline constexpr uint32_t kInjectMaxSenders = 1'000'000;
// Fewest sender keys chosen without --senders (a spread over senders that a few hundred
// transactions per run never notices).
inline constexpr uint32_t kInjectDefaultSenders = 16;
// Most transactions per batch request (the dispatcher accepts kRpcMaxBatchRequests; a hundred
// keeps each request well under the body limit at typical sizes and answers prompt).
inline constexpr size_t kInjectMaxBatch = 100;
// Most connections in flight.
inline constexpr size_t kInjectMaxConnections = 64;

// The options of a load that inject and flood share: which transactions to sign before the clock
// starts, how fast to offer them, where to record them.
struct LoadOptions {
  uint64_t count = 1000;
  double rate = 0;       // transactions per second; 0: as fast as possible
  size_t size = 250;     // encoded transaction size, bytes
  uint32_t senders = 0;  // 0: chosen from the per-sender limit (load_sender_count)
  uint64_t seed = 1;
  std::optional<uint32_t> network;          // unset: inject asks the nodes; flood uses devnet
  std::optional<uint64_t> fee;              // default: the default minimum fee rate for `size`
  std::optional<uint64_t> start_nonce = 0;  // nullopt: getnextnonce per sender
  std::string out_file;
  unsigned sign_threads = 0;  // 0: one per core
};

struct InjectOptions : LoadOptions {
  std::vector<RpcClientConfig> endpoints;  // at least one
  size_t connections = 4;
  size_t batch = 0;  // 0: automatic
};

struct InjectSummary {
  uint64_t count = 0;
  uint64_t accepted = 0;
  uint64_t already_held = 0;
  uint64_t rejected = 0;
  uint64_t failed = 0;
  double sign_seconds = 0;
  double send_seconds = 0;
  uint32_t senders = 0;
  double rate = 0;  // transactions the nodes answered (accepted, held or rejected) per second
  std::map<std::string, uint64_t> reject_reasons;  // by rule name
  std::string to_json() const;                     // indented JSON, as printed
};

// Sender key `index` of seed `seed`: SHA-256 of a tagged (seed, index) encoding as the seed.
KeyPair inject_sender_key(uint64_t seed, uint32_t index);

// The senders a load of `count` needs to keep every sender within `per_sender_limit`:
// ceil(count / limit), at least kInjectDefaultSenders, at most kInjectMaxSenders.
uint32_t load_sender_count(uint64_t count, uint64_t per_sender_limit);

// The threads that prepare a load: o.sign_threads, or one per core when 0.
unsigned load_sign_threads(const LoadOptions& o);
// Calls fn(i) for every i < count, on `threads` threads (thread w takes w, w + threads, ...);
// returns when all are done.
void for_each_striped(uint64_t count, unsigned threads, const std::function<void(uint64_t)>& fn);

// Transactions signed before a run starts.
struct SignedLoad {
  std::vector<TxRef> txs;  // transaction i: sender i mod S's, nonce first + i div S
  double sign_seconds = 0;
};
// Derives o.senders (> 0) keys from o.seed, asks `nonce_source` for each sender's next nonce
// when o.start_nonce is unset (--start-nonce next; an error without a source), then builds and
// signs o.count transactions of o.size bytes on o.sign_threads threads (0: one per core),
// announcing it on `progress` as "TOOL: signing ...". The error is one line naming `tool`.
Result<SignedLoad, std::string> sign_load(const LoadOptions& o, const RpcClientConfig* nonce_source,
                                          std::string_view tool, std::ostream& progress);

// Reads the LoadOptions a command was given (--count, --rate, --size, --senders, --seed, --fee,
// --start-nonce, --network, --out, --sign-threads), checking each against its range; the
// command's spec table must declare them. The error names the option.
Result<LoadOptions, std::string> parse_load_options(const CliParsedArgs& p);

// The batch size used for `options` (resolves batch = 0).
size_t inject_batch_size(const InjectOptions& options);

// Fills in what the command line left to the nodes (see above): `network` when unset, and
// `senders` when 0; warns on `progress` when an explicit --senders is too few for --count.
// Asks every endpoint once.
Result<InjectOptions, ToolError> resolve_inject_options(InjectOptions options,
                                                        std::ostream& progress);

// The reason a rejection is counted under: the rule's name, the message before its first
// colon ("sender-limit: ..." -> "sender-limit"), or the whole message when it has none.
std::string inject_reject_reason(std::string_view message);

// Runs the whole load: resolves the options (as resolve_inject_options) when `senders` is 0 or
// `network` unset, then prepares, signs, sends, writes --out. `progress` receives progress
// lines (stderr); `tty` selects the bar. The error (a local failure: --out unwritable,
// getnextnonce failing) is one line.
Result<InjectSummary, std::string> run_inject(const InjectOptions& options, std::ostream& progress,
                                              bool tty);

// Parses inject's command-line arguments (after "inject"); `base` carries the global
// --rpc/--datadir/credentials, used when inject has no --rpc of its own.
Result<InjectOptions, std::string> parse_inject_args(const std::vector<std::string>& args,
                                                     const RpcClientConfig& base);

}  // namespace hearsay
