// hearsay-cli flood: a load generator that reaches a node through its P2P port, as a peer does.
//
//   flood [PUBKEY@]HOST:PORT [--mode push|announce] [--count N] [--rate R] [--size B]
//         [--senders S] [--seed X] [--fee F] [--start-nonce N|next] [--network NET]
//         [--key FILE] [--sign-threads T] [--out FILE] [--timeout S]
//         [--wait-accepted] [--rpc HOST:PORT] [--datadir DIR]
//
// Why: inject (node/inject.h) submits over JSON-RPC, and each submission costs the node an HTTP
// request and a signature check on its RPC threads; a real peer costs it a frame. flood offers
// transactions the way peers do, so what it measures is the node's relay path, and it is cheap
// enough on its own side (one core, no signing after the clock starts) never to be the limit.
//
// Session: TCP, then TLS 1.3 with an Ed25519 certificate of its own identity (--key FILE, in
// crypto/keyfile.h's format, or a fresh random key), verified by net/tls.h's rules; PUBKEY@
// pins the node's identity and a node that proves another is refused in the TLS handshake.
// Then version (kServicePushTx in push mode) and verack, as docs/protocol.md §6.10 has it; the
// clock starts when the node's verack arrives. Pings are answered with pongs throughout.
//
// Preparation, before the clock: the transactions are those inject would sign from the same
// options (sign_load: the same seed gives the same transactions), signed on every core, and
// each is encoded once into a frame, all frames back to back in one buffer, so that sending
// is writing slices of it. After that a single io thread does all the work.
//
// Modes:
//  - push (default): `tx` frames are streamed in order. The node handles an unannounced `tx`
//    from a peer that set kServicePushTx as a requested one (p2p/tx_relay.h).
//  - announce: ids go out in `inv` messages (at most kMaxInvPerMessage each) and `getdata` is
//    answered with the prepared frames (`notfound` for ids flood does not have). A node tracks
//    kMaxPeerAnnouncements announcements per peer and defers up to kMaxDeferredPerPeer more
//    (fetched later); it ignores the rest, so flood keeps at most that many ids announced and
//    not yet asked for.
// --rate R paces the offers (frames in push mode, inv entries in announce mode) with a steady
// timer in batches of about a millisecond's worth; 0 offers as fast as the socket takes them.
// One write is in flight at a time, gathering up to kFloodMaxWriteBytes; TCP backpressure from
// a node that reads slower than flood writes therefore shows as a lower offered rate.
//
// End: once every transaction was offered (and, in announce mode, fetched), flood sends a ping
// and waits for its pong: the node has read everything before it answers. With
// --wait-accepted it then polls the node's getmempoolinfo (RPC: --rpc/--datadir, or the global
// ones) until the mempool holds `count` more transactions than when the clock started, or
// --timeout passes. --timeout S also ends a run in which flood waits on the node for S seconds
// without progress: a write that does not complete, announced ids not fetched, no pong.
//
// Output: a JSON summary on stdout (FloodSummary::to_json); progress on stderr; --out FILE one
// JSON line per transaction, in order: {"id":"<hex>","t_sent":<µs since the epoch>,
// "t_requested":<µs since the epoch>|null} (t_sent: when its frame, push, or its inv,
// announce, was handed to the socket; t_requested: when the node's getdata for it arrived).
// Exit code (hearsay-cli): 0 every transaction offered (announce: and fetched), the pong
// received (--wait-accepted: and all held); 1 the node closed the connection or stopped making
// progress first, or a local failure (--out); 2 bad command line; 3 no session: the node could
// not be reached, refused the TLS handshake, proved another identity than PUBKEY@ or did not
// complete the version handshake (or, with --wait-accepted / --start-nonce next, its RPC did
// not answer).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/address.h"
#include "node/cli.h"
#include "node/inject.h"

namespace hearsay {

// Bytes gathered into one write: a few TLS records, few enough syscalls per transaction.
inline constexpr size_t kFloodMaxWriteBytes = 256 * 1024;
// Pacing: with --rate R, a batch of about R × kFloodPaceTick transactions leaves each tick.
inline constexpr std::chrono::milliseconds kFloodPaceTick{1};
// Connect, TLS and version handshake together (the node allows 10 s for the version part).
inline constexpr std::chrono::seconds kFloodSessionTimeout{15};
// Longest --timeout, seconds.
inline constexpr uint64_t kFloodMaxTimeout = 24 * 3600;

enum class FloodMode { kPush, kAnnounce };

struct FloodOptions : LoadOptions {
  DialTarget target;  // the node's P2P address, and its identity when pinned
  FloodMode mode = FloodMode::kPush;
  std::string key_file;  // empty: a fresh random identity
  std::chrono::seconds timeout{60};
  bool wait_accepted = false;
  bool forge = false;  // --forge: every signature made invalid (a forger, for chaos runs)
  // The node's RPC, for --wait-accepted and --start-nonce next (flood's --rpc/--datadir, or the
  // global ones).
  RpcClientConfig rpc;
};

struct FloodSummary {
  std::string mode;
  std::string node;           // HOST:PORT
  std::string node_identity;  // hex, as proven in TLS
  std::string identity;       // ours, hex
  uint64_t count = 0;
  uint32_t senders = 0;
  bool forged = false;
  double sign_seconds = 0;
  uint64_t announced = 0;  // announce mode: ids sent in inv
  uint64_t sent = 0;       // tx frames handed to the socket
  uint64_t requested = 0;  // distinct ids the node asked for (getdata)
  uint64_t notfound = 0;   // getdata entries flood did not have
  // The offers (push: tx frames, announce: inv entries) from the first write's start to the
  // last one's end, per second; first/last_*: µs since the epoch (0: none).
  double offered_rate = 0;
  int64_t first_send_us = 0, last_send_us = 0;
  int64_t first_request_us = 0, last_request_us = 0;
  double duration_seconds = 0;   // clock start to the end of the run
  double cpu_seconds = 0;        // this process's CPU time over the same span
  bool drained = false;          // the final pong arrived
  std::optional<uint64_t> held;  // --wait-accepted: mempool growth when the wait ended
  int64_t all_held_us = 0;       // --wait-accepted: when the mempool held them all (0: never)
  std::string closed_by_node;    // how the node ended the session, when it did
  std::string failure;           // why the run failed (empty: it did not)
  std::string to_json() const;   // indented JSON, as printed
};

// Parses flood's arguments (after "flood"); `base` carries the global --rpc/--datadir and
// credentials. Errors name the option.
Result<FloodOptions, std::string> parse_flood_args(const std::vector<std::string>& args,
                                                   const RpcClientConfig& base);

// Runs the load: signs, connects, offers, waits, writes --out. A summary comes back whenever a
// session was established, failed or not (summary.failure says why; exit 1); the error is for
// what ends the run before that (exit_code 3: no session; 1: a local failure).
Result<FloodSummary, ToolError> run_flood(const FloodOptions& options, std::ostream& progress);

}  // namespace hearsay
