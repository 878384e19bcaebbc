// hearsay-cli inject: a load generator that submits signed transactions over JSON-RPC.
//
//   inject [--count N] [--rate R] [--size B] [--senders S] [--seed X] [--fee F]
//          [--start-nonce N|next] [--network NET] [--rpc HOST:PORT]... [--datadir DIR]...
//          [--connections C] [--batch B] [--out FILE] [--sign-threads T]
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
// Accounting: a transaction the node accepted is "accepted"; one it answered with an error is
// "rejected" (by message, in the summary); one whose request got no answer (connection lost,
// timeout) is "failed". --out FILE writes one JSON line per transaction, in order:
//   {"id":"<hex>","node":"HOST:PORT","t":<submit time, µs since the epoch>,"accepted":true}
// (+ "error":"<message>" when not accepted). Progress goes to stderr: a bar with rate and ETA
// when stderr is a terminal, a plain line a second otherwise; the summary goes to stdout as JSON.
// Exit code: 0 when every transaction got an answer, 1 otherwise.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/result.h"
#include "node/rpc_client.h"
#include "p2p/transaction.h"

namespace hearsay {

// Most transactions one run prepares. All are held in memory, signed, before the first is
// sent: each costs its size plus ~200 B of bookkeeping, so 5 M of 250 B is ~2.3 GB.
inline constexpr uint64_t kInjectMaxCount = 5'000'000;
// Most sender keys.
inline constexpr uint32_t kInjectMaxSenders = 1'000'000;
// Most transactions per batch request (the dispatcher accepts kRpcMaxBatchRequests; a hundred
// keeps each request well under the body limit at typical sizes and answers prompt).
inline constexpr size_t kInjectMaxBatch = 100;
// Most connections in flight.
inline constexpr size_t kInjectMaxConnections = 64;

struct InjectOptions {
  uint64_t count = 1000;
  double rate = 0;    // transactions per second; 0: as fast as possible
  size_t size = 250;  // encoded transaction size, bytes
  uint32_t senders = 16;
  uint64_t seed = 1;
  uint32_t network = 0;
  std::optional<uint64_t> fee;              // default: the default minimum fee rate for `size`
  std::optional<uint64_t> start_nonce = 0;  // nullopt: getnextnonce per sender
  std::vector<RpcClientConfig> endpoints;   // at least one
  size_t connections = 4;
  size_t batch = 0;  // 0: automatic
  std::string out_file;
  unsigned sign_threads = 0;  // 0: one per core
};

struct InjectSummary {
  uint64_t count = 0;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t failed = 0;
  double sign_seconds = 0;
  double send_seconds = 0;
  double rate = 0;  // transactions the nodes answered (accepted or rejected) per second
  std::map<std::string, uint64_t> reject_reasons;
  std::string to_json() const;  // indented JSON, as printed
};

// Sender key `index` of seed `seed`: SHA-256 of a tagged (seed, index) encoding as the seed.
KeyPair inject_sender_key(uint64_t seed, uint32_t index);

// The batch size used for `options` (resolves batch = 0).
size_t inject_batch_size(const InjectOptions& options);

// Runs the whole load: prepares, signs, sends, writes --out. `progress` receives progress
// lines (stderr); `tty` selects the bar. The error (a local failure: --out unwritable,
// getnextnonce failing) is one line.
Result<InjectSummary, std::string> run_inject(const InjectOptions& options, std::ostream& progress,
                                              bool tty);

// Parses inject's command-line arguments (after "inject"); `base` carries the global
// --rpc/--datadir/credentials, used when inject has no --rpc of its own.
Result<InjectOptions, std::string> parse_inject_args(const std::vector<std::string>& args,
                                                     const RpcClientConfig& base);

}  // namespace hearsay
