// TxRelay: transaction relay — announce, request, validate, admit, announce on. Sans-IO.
//
// TxRelay is the PeerManager's RelayHandler for transactions. It runs on the protocol thread,
// owns no socket, thread or clock, and speaks through the PeerManager it is built with (send,
// verify, misbehaving, ban). The mempool is reached through TxPool (tx_pool.h).
//
// Rules:
//  * Seen-set: every id accepted, rejected or under verification is remembered for
//    seen_expiry (SeenSet: salted, bounded, O(1)). Announcements of seen or held ids are
//    ignored, so each transaction is fetched and verified at most once per node.
//  * Known inventory: per peer, a bounded set (a SeenSet of TxRelayConfig::known_per_peer ids,
//    kKnownPerPeer by default, each kept kKnownExpiry) of ids the peer is known to have: it
//    announced, sent or was sent them. Nothing in it is announced to the peer.
//  * Announcement: an accepted transaction is queued for every ready peer not known to have it.
//    inv_interval == 0 sends the queue at the end of the event that filled it; otherwise each
//    peer's queue goes out at a time drawn from an exponential distribution with that mean
//    (Bitcoin's Poisson trickle: a spy cannot tell who announced first). An inv holds at most
//    kMaxInvPerMessage entries; peers whose queue holds the same ids share one serialisation.
//    push_peers > 0: the whole transaction is also sent at once to that many random ready peers
//    not known to have it (they need no inv); we then set kServicePushTx in our version.
//  * Requests (TxRequestTracker): each unseen announced id is requested from one announcer at a
//    time; preferred announcers (outbound, or allow-listed like Bitcoin's noban peers) first,
//    others after non_preferred_delay, peers at their in-flight cap after a further
//    kOverloadedPeerDelay; an unanswered request times out after request_timeout and a
//    notfound at once, and the next announcer is asked. Caps (TxRelayConfig::tracker):
//    kMaxPeerAnnouncements tracked and kMaxPeerInFlight requested per peer.
//  * Answers: getdata for held transactions is answered with `tx` (one frame per transaction,
//    cached for kFrameCacheSize transactions, however many peers ask), the rest with one
//    `notfound`. At most kMaxGetDataTx tx entries of one getdata are answered; beyond, the rest
//    are ignored and the peer is scored kScoreOversizedGetData.
//  * Validation: a `tx` body goes through TxPool::precheck (cheap rules) on this thread, then
//    its signature through a VerifyAction (net/'s worker threads), then admission in a batch
//    (TxPool::admit_verified) in on_verified. Accepted → announced. An invalid signature is a
//    forgery: the sender is banned (PeerManager::ban: identity and IP, --ban-time). A `tx` we
//    did not request from a peer that did not set kServicePushTx is dropped and scored
//    kScoreUnrequestedTx. Policy refusals (fee, nonce, conflict, full) never score: an honest
//    peer may relay a transaction that our mempool refuses.
//  * Local transactions (RPC) enter through submit(): same rules, admitted at once, announced.
//  * Expiry: every kPoolExpireInterval (on_tick) the pool drops what expired.
//  * Blocks are not ours: with a block relay registered (PeerManager::set_block_relay) the
//    PeerManager hands us only kTx inventory entries; without one, block entries of inv and
//    notfound are ignored and those of getdata answered with notfound. Verdicts for
//    transactions we did not send for verification (the block relay's) are ignored.
//  * Anti-entropy: when a peer becomes ready, up to kAntiEntropyMax of our newest held
//    transactions are queued for it, so a node that was away catches up at once.
//
// Adversary: any ready peer sending any sequence of inv / getdata / notfound / tx at any time.
// Bounds: the seen-set (seen_max_entries); per peer the known set (known_per_peer), the
// announcement queue (kMaxAnnounceQueue), the outstanding-request memory
// (kMaxRequestedPerPeer) and the tracker's caps; transactions under verification
// (kMaxVerifying: beyond it new bodies are dropped unscored and fetched again later from
// another announcer); the frame cache (kFrameCacheSize). Every message costs O(its entries).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

#include "p2p/peer_manager.h"
#include "p2p/seen_set.h"
#include "p2p/tx_pool.h"
#include "p2p/txrequest.h"

namespace hearsay {

// Entries per inv we send (Bitcoin's INVENTORY_BROADCAST_MAX per trickle is 1,000).
inline constexpr size_t kMaxInvPerMessage = 1'000;
// Ids queued for announcement to one peer; beyond, new ones are dropped for that peer (counted;
// the peer still learns them from its other peers). 50,000 × 32 B = 1.6 MB worst case per peer.
inline constexpr size_t kMaxAnnounceQueue = 50'000;
// Ids remembered per peer as known to it. Only needs to outlive the propagation of an id
// (milliseconds to seconds); a forgotten one costs one 36-byte inv entry the peer ignores.
inline constexpr size_t kKnownPerPeer = 16'384;
inline constexpr Duration kKnownExpiry = std::chrono::minutes(2);
// Our own getdata entries we remember per peer (to tell a late answer from unrequested data).
inline constexpr size_t kMaxRequestedPerPeer = 1'000;
inline constexpr Duration kRequestedMemory = 2 * kRequestTimeout;
// Transactions whose signatures are being verified.
inline constexpr size_t kMaxVerifying = 100'000;
// Pre-serialised tx frames kept for answering getdata and pushing (recent transactions).
inline constexpr size_t kFrameCacheSize = 8'192;
// Transactions announced to a new peer (anti-entropy), newest first: the receiver's per-peer
// announcement cap.
inline constexpr size_t kAntiEntropyMax = kMaxPeerAnnouncements;
// tx entries of one getdata we answer (Bitcoin answers MAX_INV_SZ but lazily). We answer at
// once: every frame of the answer is queued in the same event, so what one getdata can cost us
// is bounded by this count times kMaxTxSize, and beyond that by net/'s send-queue cap
// (kSendQueueCap in net/connection.h), which disconnects a peer whose answers pile up.
inline constexpr size_t kMaxGetDataTx = 1'000;
// How often the pool drops expired transactions (--mempool-expiry has hour granularity; a
// transaction's own expiry time is honoured within this).
inline constexpr Duration kPoolExpireInterval = std::chrono::minutes(1);
// Misbehaviour points.
inline constexpr int kScoreUnrequestedTx = 10;
inline constexpr int kScoreOversizedGetData = 20;

struct TxRelayConfig {
  Duration inv_interval{0};  // --inv-interval-ms (mean); 0: announce at once
  size_t push_peers = 0;     // --push-peers
  Duration non_preferred_delay = kNonPreferredDelay;
  Duration request_timeout = kRequestTimeout;
  Duration seen_expiry = kDefaultSeenExpiry;
  size_t seen_max_entries = kDefaultSeenMaxEntries;
  uint64_t rng_seed = 0;  // salts the seen-set, the tracker and the trickle timers
  // Per-peer bounds: the node uses these defaults; tests and fuzz targets shrink them so that a
  // few messages reach a known set's rotation and the tracker's caps (and sanity_check(),
  // O(these bounds), stays cheap enough to run after every step).
  size_t known_per_peer = kKnownPerPeer;
  TxRequestOptions tracker{};
};

// Counters for metrics and tests. Entry counts are transaction entries.
struct TxRelayStats {
  uint64_t inv_received = 0;       // entries
  uint64_t inv_sent = 0;           // entries
  uint64_t inv_messages_sent = 0;  // messages
  uint64_t getdata_sent = 0;       // entries
  uint64_t getdata_received = 0;   // entries
  uint64_t notfound_sent = 0;      // entries
  uint64_t notfound_received = 0;  // entries
  uint64_t bodies_received = 0;    // tx messages from peers
  uint64_t duplicate_bodies = 0;   // of which already seen
  uint64_t unrequested = 0;        // dropped: not requested, no push service bit
  uint64_t pushed = 0;             // tx messages pushed unannounced
  uint64_t served = 0;             // tx messages sent in answer to getdata
  uint64_t request_timeouts = 0;
  uint64_t announce_dropped = 0;  // queue full
  uint64_t verify_dropped = 0;    // kMaxVerifying reached
  uint64_t accepted = 0;          // from peers and local
  uint64_t rejected = 0;          // by precheck or admission
  uint64_t bad_signatures = 0;    // forgeries (each banned its sender)
  uint64_t expired = 0;           // dropped from the pool by expiry
  uint64_t local_submitted = 0;
  size_t verifying = 0;  // now under verification (the verify queue depth)
  size_t seen_size = 0;
  size_t seen_memory_bytes = 0;
  size_t tracked_announcements = 0;
};

// Where the relay latency of each transaction from a peer goes, as it is measured: its body first
// seen → signature verified, admitted and queued for announcement (with inv_interval 0, when the
// inv goes out). Local submissions are not reported: their wait is the submitter's to measure
// (node/ times the RPC path from hand-over). Called on the relay thread, once per admission;
// must be cheap and never block.
class RelayLatencySink {
 public:
  virtual ~RelayLatencySink() = default;
  virtual void tx_relay_latency(Duration latency) = 0;
};

class TxRelay : public RelayHandler {
 public:
  // Registers itself with `pm` (set_relay) and unregisters in the destructor. `pool`,
  // `observer` and `latency` (both may be null) must outlive it.
  TxRelay(PeerManager& pm, TxPool& pool, TxRelayConfig cfg, RelayObserver* observer = nullptr,
          RelayLatencySink* latency = nullptr);
  ~TxRelay() override;
  TxRelay(const TxRelay&) = delete;
  TxRelay& operator=(const TxRelay&) = delete;

  // RelayHandler
  void on_peer_ready(PeerId peer, Time now) override;
  void on_message(PeerId peer, Message&& msg, Time now) override;
  void on_peer_gone(PeerId peer, Time now) override;
  void on_tick(Time now) override;
  void on_verified(std::span<const TxRef> txs, std::span<const uint8_t> valid, Time now) override;

  // A local transaction (RPC). `signature_verified`: the caller verified it (on its own
  // thread); otherwise it is verified here. Answers as TxPool does; kAccepted means held
  // durably and announced.
  PoolResult submit(const TxRef& tx, bool signature_verified, Time now);

  const TxRelayStats& stats() const;

  void sanity_check() const;

  // Inspection (tests, the fuzz oracle): whether `peer` is known to have `id` (it announced or
  // was sent it), and the request scheduler.
  bool known_to_peer(PeerId peer, const TxId& id, Time now) const;
  const TxRequestTracker& tracker() const { return m_tracker; }

 private:
  // SipHash under the relay's secret salt: peers choose ids (by grinding transactions) but
  // cannot aim them at one bucket.
  struct IdHash {
    explicit IdHash(const SipKey& key) : hasher(key) {}
    size_t operator()(const TxId& id) const { return static_cast<size_t>(hasher(id)); }
    SipIdHasher hasher;
  };
  using IdSet = std::unordered_map<TxId, Time, IdHash>;
  struct PeerState {
    PeerState(const SipKey& salt, size_t known_max);
    PublicKey identity{};
    NetAddress address;  // the connection's remote address
    bool preferred = false;
    bool pushes = false;  // set kServicePushTx: may send us unrequested transactions
    SeenSet known;
    std::vector<TxId> queue;  // to announce
    Time next_inv{};
    IdSet requested;  // getdata sent, at
    // An answer freed one of its in-flight slots: ask it for more at the end of the event
    // (else the next getdata waits for the tick, capping a peer at kMaxPeerInFlight per tick).
    bool request_due = false;
  };
  struct Verifying {
    TxRef tx;
    std::optional<PeerId> from;  // nullopt: local, or the sender has disconnected
    Time first_seen{};
    PublicKey sender_identity{};  // the peer that sent it (kept after it disconnects)
    NetAddress sender_address;
  };

  PeerState* find(PeerId peer);
  void handle_inv(PeerId peer, PeerState& ps, const InvMsg& m, Time now);
  void handle_getdata(PeerId peer, PeerState& ps, const GetDataMsg& m, Time now);
  void handle_notfound(PeerId peer, PeerState& ps, const NotFoundMsg& m, Time now);
  void handle_tx(PeerId peer, PeerState& ps, TxRef tx, Time now);
  void request_from(PeerId peer, PeerState& ps, Time now);
  void request_all(Time now);
  void admitted(const TxRef& tx, std::optional<PeerId> from, Time now);
  void start_trickle(PeerState& ps, Time now);
  void flush(Time now);
  void remember_frame(const TxId& id, SharedBytes frame);
  SharedBytes frame_of(const TxId& id);
  Time next_trickle(Time now);

  PeerManager& m_pm;
  TxPool& m_pool;
  TxRelayConfig m_cfg;
  RelayObserver* m_observer;
  RelayLatencySink* m_latency;
  std::mt19937_64 m_rng;
  SipKey m_salt{};
  SeenSet m_seen;
  TxRequestTracker m_tracker;
  std::map<PeerId, PeerState> m_peers;
  std::unordered_map<TxId, Verifying, IdHash> m_verifying;
  std::vector<TxRef> m_to_verify;  // collected during an event, sent as one VerifyAction
  std::unordered_map<TxId, SharedBytes, IdHash> m_frames;
  std::vector<TxId> m_frame_order;  // FIFO ring of m_frames' keys
  size_t m_frame_next = 0;
  bool m_dirty = false;           // some queue got entries during this event
  bool m_request_due = false;     // some peer's request_due is set
  Time m_next_pool_expire{};      // when on_tick next drops expired transactions from the pool
  std::vector<TxId> m_last_sent;  // flush(): the queue last serialised
  mutable TxRelayStats m_stats;
};

}  // namespace hearsay
