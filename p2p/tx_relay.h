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
//    kMaxPeerAnnouncements tracked per peer; announcements beyond wait in the peer's deferred
//    queue (kMaxDeferredPerPeer) and are tracked as its count falls: fetched later, not lost.
//  * Flow control. Each peer's request window (requests in flight) follows its link: twice the
//    bandwidth-delay product its answers show (p2p/link_meter.h), between kMaxPeerInFlight and
//    kMaxPeerInFlightCeiling. "At its in-flight cap" above means at its window, and only while
//    the measured rate would not clear what it has in flight and waiting within
//    kOverloadedPeerDelay; once a preferred peer's rate shows it would, the announcements that
//    delay held back are brought forward (TxRequestTracker::expedite). While kVerifyHoldHigh or
//    more transactions wait for verification the relay asks net/ to stop reading from every
//    peer (PeerManager::hold_reads), and to resume at kVerifyHoldLow (admissions waiting for
//    their write count as waiting for verification): overload waits in TCP,
//    not in our memory, and nothing offered is dropped.
//  * Answers: getdata for held transactions is answered with `tx` (one frame per transaction,
//    cached for kFrameCacheSize transactions, however many peers ask), the rest with one
//    `notfound`. At most kMaxGetDataTx tx entries of one getdata are answered; beyond, the rest
//    are ignored and the peer is scored kScoreOversizedGetData.
//  * Validation: a `tx` body goes through TxPool::precheck (cheap rules) on this thread, then
//    its signature through a VerifyAction (net/'s worker threads), then admission in a batch
//    (TxPool::admit_verified) in on_verified. Accepted → announced, by a pool that writes behind
//    (a pipelined mempool: PoolResult::ticket) only once its write settled (on_written). An invalid
//    signature is a forgery: the sender is banned (PeerManager::ban: identity and IP, --ban-time).
//    A `tx` we did not request from a peer that did not set kServicePushTx is dropped and scored
//    kScoreUnrequestedTx. Policy refusals (fee, nonce, conflict, full) never score: an honest
//    peer may relay a transaction that our mempool refuses.
//  * Local transactions (RPC) enter through submit(): same rules, admitted at once (waiting for
//    the write, when the pool writes behind), announced.
//  * Expiry: every kPoolExpireInterval (on_tick) the pool drops what expired.
//  * Blocks are not ours: with a block relay registered (PeerManager::set_block_relay) the
//    PeerManager hands us only kTx inventory entries; without one, block entries of inv and
//    notfound are ignored and those of getdata answered with notfound. Verdicts for
//    transactions we did not send for verification (the block relay's) are ignored.
//  * Anti-entropy: when a peer becomes ready, up to kAntiEntropyMax of our newest held
//    transactions are queued for it, so a node that was away catches up at once, unless the link
//    reconciles (below): then the sets are compared instead.
//  * Short ids (docs/protocol.md, "Short transaction ids"): with a peer that set
//    kServiceShortIds as we do (our PeerManager's services), both sides send `sendshortids` when
//    the handshake completes, and transactions are then announced, requested and missed by 6-byte
//    short ids (txinv / gettx / txnotfound) instead of 36-byte entries. Announcements to such a
//    peer wait (at most kShortIdNegotiationTimeout) for its sendshortids. The id sent to a peer is
//    16 bits under the peer's bucket key and 32 under the link's key:
//    - Sender: every short id announced to a peer maps back to its full id for
//      kAnnouncedShortIdMemory (at most kAnnouncedShortIdsPerPeer). A transaction whose short id
//      the map holds for another one goes out by full id in `inv`, with that other one again by
//      full id (the receiver may have taken one for the other). gettx is answered from the map.
//    - Receiver: a short id is matched against the ids we saw recently (RecentIds: the last
//      kRecentIds bodies and full-id announcements, chained by bucket, at most kMaxCandidates
//      examined). One match: the peer announced that transaction (known to it; requested from
//      it like a full-id announcement if we lack it). None or several: unknown, tracked under
//      a key of its bucket alone, so announcements of one transaction by several peers (same
//      bucket: our bucket key) are requested from one of them at a time. A body (from anyone)
//      satisfies every pending entry whose short id on that peer's link is its own; the others
//      stay and are requested in turn. txnotfound and timeouts pass to the next announcer.
//    A collision can hide a transaction on one link only (the link part is independent per
//    link): it still arrives over the others, and its sender resends it by full id when it
//    meets the other transaction. With kRecentIds ids the chance per transaction and link is at
//    most kRecentIds / 2^48 (5.8e-11).
//  * Tree relay (--relay-mode tree; docs/protocol.md, "Tree relay"): on a link whose both ends
//    set kServiceTree, transactions travel as Plumtree (Leitão, Pereira, Rodrigues 2007) has
//    them, one tree per origin. The origin of a transaction is the 4-byte tag of the tree node
//    where it entered (its submitter's, or the first that got it over a non-tree link); every
//    body on a tree link is a `treetx` carrying it.
//    - Eager and lazy: an admitted transaction is pushed whole at once to every tree peer that
//      has not pruned its origin (lazy_out) and is not known to have it; the other peers get it
//      announced, on tree links after a trickle of mean lazy_interval. Announcements are dropped
//      at send time for peers that announced or sent the id meanwhile, so a link mostly carries
//      one announcement, in one direction.
//    - Prune: a treetx we already have (not one we asked for) prunes its origin at its sender
//      (`prune`; trees are directed, so we may still push that origin to it), unless it is
//      the origin's parent: the first copy's sender, when that is not a peer we pruned already
//      (its push crossed our prune). Each node's parents thus converge on the first-arrival
//      (lowest-delay) tree of every origin, and bodies travel about once per node.
//    - Graft: an announcement of an id we lack is requested only after graft_timeout (the eager
//      path gets that long to deliver). A request on a tree link grafts: the server pushes that
//      transaction's origin to us again from then on. A parent that disconnects is replaced at
//      once: its origins are grafted (`graft`) at a peer that gets them from elsewhere (the
//      lazy peer that announced them first lately, one we pruned, one that pruned us), else at
//      any tree peer. A parent that grafts its own origin at us (by `graft` or a request) is a
//      parent no more: two nodes never wait on each other.
//    - Optimisation: a lazy peer whose announcement beats the parent's body for kTreeSwapStreak
//      consecutive bodies of one origin (beating it despite its trickle delay: much faster) is
//      grafted, and the parent pruned.
//    - Withholding: a body we had to request while the origin's parent was still connected is
//      owed by that parent, unless it announced it. The debt is settled when the parent sends,
//      announces or requests the id. We neither push nor announce an owed id to the parent: an
//      honest parent whose own upstream broke grafts too, then pushes it to us late, a
//      duplicate, well within kWithholdWindow. A body still owed after kWithholdWindow prunes
//      the origin at the parent and scores it kScoreWithheldBody, and the id is announced to it
//      (if it lacked it after all, it asks). A parent cut off from every other path for longer
//      is scored too: five such windows disconnect it (no ban).
//    - Bodies pushed over a link without kServiceTree on both ends, and prune / graft there, are
//      misbehaviour. A pushed forgery bans its sender as any other.
//    Measured (README, "Relay modes"): one tree per origin, not one shared by all origins.
//  * Set reconciliation (docs/protocol.md, "Set reconciliation"): on a link whose both ends set
//    kServiceRecon and whose short ids are on, the two mempools are compared by sketch
//    (p2p/sketch.h, PinSketch), on connect (instead of announcing the newest) and every
//    reconcile_interval (drawn ±25 %). Each side's set is its newest kMaxReconSet held
//    transactions, each as the 32-bit link part of its short id (never 0: 0 counts as 1), less
//    those it offered the peer by reconciliation within kReconOfferMemory that the peer has not
//    asked for or announced since (a transaction the peer refuses is not offered every round).
//    - The side that dialled asks: a round is one reqrecon for the whole set (bits 0), with a
//      capacity from the previous round (BIP330: the set-size difference plus q times the smaller
//      set, q the share of it that differed last time; kReconInitialDifferences on a new link). The
//      answerer merges its own sketch of the part and decodes. Decoded: it answers recondiff
//      with the elements it lacks and announces at once the ones the asker lacks; the asker
//      announces the asked ones; both go by txinv outside the trickle and the known filter (the
//      decode says the peer lacks them), then the usual requests follow. Failed: the asker splits
//      the part (bisection: the top bits of the elements pick the part) into 2 or more parts,
//      each with at least the failed capacity, more parts when the set sizes say the difference
//      is large; down to kMaxReconBits, where a part is given up until the next round. A side
//      whose part is empty needs no sketch: the other announces its whole part.
//    - Bounds: the answerer charges each request, before doing it, kReconUnitsPerElement per
//      held transaction when it takes its set for a new round, |its part| × capacity for the
//      sketch and 64 × capacity² for the decode, against a per-peer budget (kReconBudget,
//      refilled at kReconRefillPerSecond), and refuses requests beyond it (recondiff kRefused:
//      the asker waits for its next round). It keeps each round's set of at most
//      kMaxReconSnapshots peers. A round unanswered for kReconTimeout is abandoned.
//    - Low fanout (flood_peers > 0, Erlay's): announcements are queued only for peers that do not
//      reconcile and for flood_peers reconciling ones (outbound first, then in connection order);
//      the others learn new transactions by reconciliation.
//
// Adversary: any ready peer sending any sequence of inv / getdata / notfound / tx (and, on a
// short-id link, sendshortids / txinv / gettx / txnotfound; on a tree link, treetx / prune /
// graft with any origins; on a reconciling link, reqrecon / recondiff with any sketch) at any time.
// Bounds: the seen-set (seen_max_entries), the recent ids (kRecentIds) and the origins'
// parents (kMaxTreeOrigins); per peer the pruned origins both ways (kMaxTreeOrigins each), the
// owed bodies (kMaxOwedPerPeer), the offered reconciliation elements (kReconOfferedPerPeer), a
// round's parts in flight (2^kMaxReconBits at most, one per part), the known set (known_per_peer),
// the announcement queue (kMaxAnnounceQueue), the outstanding-request memory (kMaxRequestedPerPeer,
// full and short ids each), the announced short ids (kAnnouncedShortIdsPerPeer), the short ids of
// tracked announcements (twice the tracker's announcement cap) and the tracker's caps; transactions
// under verification (kMaxVerifying, a bound the read hold keeps far off: beyond it new bodies
// are not verified, their ids deferred to be fetched again); the deferred queues
// (kMaxDeferredPerPeer); the frame cache (kFrameCacheSize). Every message costs
// O(its entries), a short id at most kMaxCandidates SipHash pairs; a disconnect costs
// O(kMaxTreeOrigins × tree peers).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "p2p/link_meter.h"
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
// Transactions whose signatures are being verified: the hard bound. Bodies beyond it are not
// verified; their ids wait with the sender's deferred announcements (fetched again later).
inline constexpr size_t kMaxVerifying = 100'000;
// Flow control: at this verification backlog the node stops reading from its peers
// (PeerManager::hold_reads), and resumes at the low one. What peers send meanwhile waits in TCP
// and in their own queues, not in our memory, and nothing is dropped. 20,000 transactions keep
// 16 cores busy for about 60 ms; a read under way when the hold starts adds at most one TLS
// record per connection (net/'s kReadBufferBytes) beyond it.
inline constexpr size_t kVerifyHoldHigh = 20'000;
inline constexpr size_t kVerifyHoldLow = kVerifyHoldHigh / 2;
static_assert(kVerifyHoldLow < kVerifyHoldHigh && kVerifyHoldHigh < kMaxVerifying);
// Requests in flight per peer adapt to its link (p2p/link_meter.h): twice the measured
// bandwidth-delay product, never below the tracker's cap (Bitcoin's kMaxPeerInFlight, the floor
// for every peer) and never above this ceiling (one getdata's worth: kMaxGetDataTx).
inline constexpr size_t kMaxPeerInFlightCeiling = 1'000;
// Announcements the tracker refused at its per-peer cap wait here (per peer, oldest first) and
// are tracked as the peer's count falls: an announcement dropped at a cap is fetched later, not
// lost. The bound is a sender's own announcement queue (kMaxAnnounceQueue): 1.6 MB per peer.
inline constexpr size_t kMaxDeferredPerPeer = 50'000;
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
// Short ids: how long and how many announced short ids a peer may still request. A peer asks at
// once, or after kNonPreferredDelay; a later request (after an announcer timed out) that finds
// nothing is answered txnotfound and passes on. The cap bounds memory per peer (4,096 × ~60 B).
inline constexpr Duration kAnnouncedShortIdMemory = std::chrono::minutes(1);
inline constexpr size_t kAnnouncedShortIdsPerPeer = 4'096;
// Recent ids a received short id is matched against (bodies and full-id announcements), and how
// many of one bucket's are examined (a peer that floods one bucket costs only requests). An id
// is announced to a node within seconds of its first sighting; 16,384 cover 2.7 s at 6,000 tx/s
// and 160 s at 100 tx/s, and an older id announced again costs one body. Per-node state is not
// free: 65,536 here (3 MB) made t100 measurably worse on a testnet of 50 nodes on 2 cores.
inline constexpr size_t kRecentIds = 16'384;
inline constexpr size_t kMaxCandidates = 8;
// How long announcements to a peer that set kServiceShortIds wait for its sendshortids before
// going out by full id.
inline constexpr Duration kShortIdNegotiationTimeout = std::chrono::seconds(5);
// Tree relay. How long the eager path gets to deliver an announced transaction before it is
// requested (grafting); the mean trickle of announcements on tree links (they only repair: at
// 500 ms a frame carries ~5 of them at 10 tx/s, and 50 ms cost 0.5 × the transaction size on
// the wire there, measured; a repair waits that long); origins remembered
// (as parents, and per peer as pruned), the oldest forgotten first (a forgotten prune costs one
// duplicate body, which prunes again); bodies owed per peer; how long a body may stay owed.
inline constexpr Duration kGraftTimeout = std::chrono::milliseconds(100);
inline constexpr Duration kLazyInterval = std::chrono::milliseconds(500);
// Push mode's peers when --relay-mode push is given without --push-peers (hearsayd, hearsay-sim).
inline constexpr uint32_t kDefaultPushPeers = 2;
inline constexpr size_t kMaxTreeOrigins = 4'096;
inline constexpr size_t kMaxOwedPerPeer = 1'000;
inline constexpr Duration kWithholdWindow = std::chrono::seconds(5);
inline constexpr int kTreeSwapStreak = 3;
// Set reconciliation. The interval: measured (README, "Set reconciliation"). The set: the newest
// held transactions (65,536 × 40 B = 2.6 MB for one round's copy; kMaxReconSnapshots answerer
// copies at most). A new link's first sketch, and the capacity a split aims a part at (decoding
// costs capacity² per part, so a large difference is decoded faster in many small parts). The
// answerer's budget per peer, in units of one field multiplication (about 3 ns with PCLMUL):
// a reconnect that repairs 400 differences of 20,000 costs about 5 M; 8 M a second is 25 ms of
// CPU a second at most per peer.
inline constexpr Duration kReconcileInterval = std::chrono::seconds(2);
inline constexpr size_t kMaxReconSet = 65'536;
inline constexpr size_t kMaxReconSnapshots = 8;
inline constexpr double kReconInitialDifferences = 48;  // a capacity of 68
inline constexpr size_t kReconMinCapacity = 8;
inline constexpr size_t kReconSplitCapacity = 64;
inline constexpr Duration kReconTimeout = std::chrono::seconds(30);
inline constexpr size_t kReconOfferedPerPeer = 16'384;
inline constexpr Duration kReconOfferMemory = std::chrono::minutes(1);
inline constexpr double kReconBudget = 64e6;
inline constexpr double kReconRefillPerSecond = 8e6;
inline constexpr double kReconUnitsPerElement = 16;
// A failed part whose two sides hold at most this many times its capacity together is
// exchanged whole (both sides announce it: 6 bytes an element, 12 × capacity at most) rather
// than split again (two sketches of its capacity, 8 × capacity, and likely another round trip).
inline constexpr size_t kReconExchangeFactor = 2;
// Sketch bytes one round may send: a large difference is repaired over several rounds rather
// than by one burst (and a peer claiming a huge set cannot make us send more). A round that
// repairs 400 differences of 20,000 sends about 4 KiB.
inline constexpr size_t kMaxReconRoundBytes = 64 * 1024;
// Elements an answerer remembers having asked for (their announcements skip the request delay).
inline constexpr size_t kMaxReconAsked = 4'096;
// The 48 bits of a short id (TxRelayConfig::short_id_mask).
inline constexpr uint64_t kShortIdMask = 0xffff'ffff'ffffULL;
// Misbehaviour points.
inline constexpr int kScoreUnrequestedTx = 10;
inline constexpr int kScoreUnexpectedShortIds = 10;  // txinv/gettx/txnotfound off short-id mode
inline constexpr int kScoreOversizedGetData = 20;
inline constexpr int kScoreUnexpectedTree = 10;   // treetx / prune / graft off a tree link
inline constexpr int kScoreWithheldBody = 20;     // an eager parent that never sent a body
inline constexpr int kScoreUnexpectedRecon = 10;  // reqrecon / recondiff off a reconciling link

struct TxRelayConfig {
  Duration inv_interval{0};  // --inv-interval-ms (mean); 0: announce at once
  size_t push_peers = 0;     // --push-peers
  // Tree relay (on when our PeerManager's services set kServiceTree).
  Duration graft_timeout = kGraftTimeout;  // --graft-timeout-ms
  Duration lazy_interval = kLazyInterval;  // --lazy-interval-ms
  // Set reconciliation (on when our PeerManager's services set kServiceRecon).
  Duration reconcile_interval = kReconcileInterval;  // --reconcile-interval-ms; 0: on connect only
  size_t flood_peers = 0;                            // --flood-peers; 0: announce to every peer
  Duration non_preferred_delay = kNonPreferredDelay;
  Duration request_timeout = kRequestTimeout;
  Duration seen_expiry = kDefaultSeenExpiry;
  size_t seen_max_entries = kDefaultSeenMaxEntries;
  uint64_t rng_seed = 0;  // salts the seen-set, the tracker and the trickle timers
  // Per-peer bounds: the node uses these defaults; tests and fuzz targets shrink them so that a
  // few messages reach a known set's rotation and the tracker's caps (and sanity_check(),
  // O(these bounds), stays cheap enough to run after every step).
  size_t known_per_peer = kKnownPerPeer;
  // tracker.max_in_flight is the floor of each peer's request window; the window grows with the
  // link up to max_in_flight_ceiling (kMaxPeerInFlightCeiling; at most kMaxRequestedPerPeer; a
  // ceiling below the floor is the floor).
  TxRequestOptions tracker{};
  size_t max_in_flight_ceiling = kMaxPeerInFlightCeiling;
  size_t max_deferred_per_peer = kMaxDeferredPerPeer;
  // Verification backlog at which reading from peers is held, and resumed (low < high).
  size_t verify_hold_high = kVerifyHoldHigh;
  size_t verify_hold_low = kVerifyHoldLow;
  // The bits of the short ids we send and match on the links to `short_id_mask_peers` (all
  // links when empty). Always kShortIdMask in a node; collision tests narrow it on both ends of
  // a link so that ids collide at will there (0: every id collides).
  uint64_t short_id_mask = kShortIdMask;
  std::vector<PublicKey> short_id_mask_peers;
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
  uint64_t verify_dropped = 0;    // kMaxVerifying reached (the id is deferred, not lost)
  uint64_t deferred = 0;          // announcements deferred at the tracker's per-peer cap
  uint64_t deferred_dropped = 0;  // of which lost: the peer's deferred queue was full too
  uint64_t expedited = 0;         // announcements brought forward: the peer was not overloaded
  uint64_t accepted = 0;          // from peers and local
  uint64_t rejected = 0;          // by precheck or admission
  uint64_t bad_signatures = 0;    // forgeries (each banned its sender)
  uint64_t expired = 0;           // dropped from the pool by expiry
  uint64_t local_submitted = 0;
  uint64_t short_id_peers = 0;       // peers that switched to short ids
  uint64_t short_id_collisions = 0;  // ids sent by full id because their short id was taken
  uint64_t short_id_unknown = 0;     // received short ids that matched no single recent id
  uint64_t tree_peers = 0;           // peers that speak tree relay with us (ever)
  uint64_t tree_pushed = 0;          // treetx messages pushed down a tree
  uint64_t prunes_sent = 0;          // origins
  uint64_t prunes_received = 0;      // origins
  uint64_t grafts_sent = 0;          // origins, by graft message (requests graft too)
  uint64_t grafts_received = 0;      // origins, by graft message and by requests
  uint64_t tree_swaps = 0;           // parents replaced by a faster lazy peer
  uint64_t withheld = 0;             // bodies an eager parent never sent (scored)
  uint64_t recon_peers = 0;          // peers we reconciled with (ever)
  uint64_t recon_rounds = 0;         // rounds we asked for
  uint64_t recon_requests_sent = 0;  // reqrecon (one per part)
  uint64_t recon_requests_received = 0;
  uint64_t recon_sketch_bytes_sent = 0;
  uint64_t recon_sketch_bytes_received = 0;
  uint64_t recon_differences = 0;  // elements that differed (counted at both ends of a link)
  uint64_t recon_failures = 0;     // sketches we could not decode (too many differences)
  uint64_t recon_bisections = 0;   // parts we split after a failure
  uint64_t recon_exchanges = 0;    // failed parts small enough to announce whole instead
  uint64_t recon_refused = 0;      // requests over a peer's budget (answered kRefused)
  uint64_t recon_timeouts = 0;     // rounds abandoned unanswered
  uint64_t recon_announced = 0;    // ids announced because a peer lacked them
  size_t verifying = 0;            // now under verification (the verify queue depth)
  size_t verifying_peak = 0;       // the most ever under verification at once
  size_t deferred_now = 0;         // deferred announcements waiting, all peers
  size_t unwritten = 0;            // accepted, waiting for the pool's write (not yet relayed)
  uint64_t store_failed = 0;       // accepted, then undone: the pool's write was refused
  size_t seen_size = 0;
  size_t seen_memory_bytes = 0;
  size_t tracked_announcements = 0;
};

// Calls f(name, value) for every counter of `s`, in declaration order, under the names the node's
// getinfo "relay" object and the simulator's counters use (one list of names for both).
template <class F>
void for_each_relay_stat(const TxRelayStats& s, F&& f) {
  f("inv_received", s.inv_received);
  f("inv_sent", s.inv_sent);
  f("inv_messages_sent", s.inv_messages_sent);
  f("getdata_sent", s.getdata_sent);
  f("getdata_received", s.getdata_received);
  f("notfound_sent", s.notfound_sent);
  f("notfound_received", s.notfound_received);
  f("bodies_received", s.bodies_received);
  f("duplicate_bodies", s.duplicate_bodies);
  f("unrequested", s.unrequested);
  f("pushed", s.pushed);
  f("served", s.served);
  f("request_timeouts", s.request_timeouts);
  f("announce_dropped", s.announce_dropped);
  f("verify_dropped", s.verify_dropped);
  f("deferred", s.deferred);
  f("deferred_dropped", s.deferred_dropped);
  f("expedited", s.expedited);
  f("accepted", s.accepted);
  f("rejected", s.rejected);
  f("bad_signatures", s.bad_signatures);
  f("expired", s.expired);
  f("local_submitted", s.local_submitted);
  f("short_id_peers", s.short_id_peers);
  f("short_id_collisions", s.short_id_collisions);
  f("short_id_unknown", s.short_id_unknown);
  f("tree_peers", s.tree_peers);
  f("tree_pushed", s.tree_pushed);
  f("prunes_sent", s.prunes_sent);
  f("prunes_received", s.prunes_received);
  f("grafts_sent", s.grafts_sent);
  f("grafts_received", s.grafts_received);
  f("tree_swaps", s.tree_swaps);
  f("withheld", s.withheld);
  f("recon_peers", s.recon_peers);
  f("recon_rounds", s.recon_rounds);
  f("recon_requests_sent", s.recon_requests_sent);
  f("recon_requests_received", s.recon_requests_received);
  f("recon_sketch_bytes_sent", s.recon_sketch_bytes_sent);
  f("recon_sketch_bytes_received", s.recon_sketch_bytes_received);
  f("recon_differences", s.recon_differences);
  f("recon_failures", s.recon_failures);
  f("recon_bisections", s.recon_bisections);
  f("recon_exchanges", s.recon_exchanges);
  f("recon_refused", s.recon_refused);
  f("recon_timeouts", s.recon_timeouts);
  f("recon_announced", s.recon_announced);
  f("verifying", s.verifying);
  f("unwritten", s.unwritten);
  f("store_failed", s.store_failed);
  f("seen_entries", s.seen_size);
  f("seen_memory_bytes", s.seen_memory_bytes);
  f("tracked_announcements", s.tracked_announcements);
}

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

namespace test {
class TxRelayTestAccess;
}

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
  // The pool's writes progressed (TxPool::take_write_progress): admissions whose write settled
  // are announced, or reported rejected ("store-failed") when it was refused. The node calls it
  // when the pool's writer reports; on_tick calls it too.
  void on_written(Time now);

  const TxRelayStats& stats() const;
  // One peer's flow control (getpeerinfo): its request window, what its link was measured to
  // deliver, and its deferred announcements. nullopt for a peer the relay does not know.
  struct PeerFlow {
    size_t window = 0;
    double rate = 0;  // answers per second (0: not measured yet)
    std::optional<Duration> min_rtt;
    size_t deferred = 0;
  };
  std::optional<PeerFlow> peer_flow(PeerId peer) const;

  void sanity_check() const;

  // Inspection (tests, the fuzz oracle): whether `peer` is known to have `id` (it announced or
  // was sent it), and the request scheduler.
  bool known_to_peer(PeerId peer, const TxId& id, Time now) const;
  const TxRequestTracker& tracker() const { return m_tracker; }
  // Tree relay, per peer: whether the link is a tree link, the origins it pruned (we announce
  // them to it) and those it is our parent for (it pushes them to us); nullopt for no such peer.
  struct TreeLink {
    bool tree = false;
    size_t pruned_by_peer = 0;
    size_t parent_of = 0;
  };
  std::optional<TreeLink> tree_link(PeerId peer) const;
  // Set reconciliation, per peer: whether the link reconciles, whether we ask, whether a round
  // is under way, whether announcements flood to it; nullopt for no such peer.
  struct ReconLink {
    bool reconciles = false;
    bool asker = false;
    bool in_round = false;
    bool flood = true;
  };
  std::optional<ReconLink> recon_link(PeerId peer) const;
  // Our origin tag: the tree of the transactions that enter the network here.
  uint32_t origin_tag() const { return m_origin_tag; }

 private:
  // SipHash under the relay's secret salt: peers choose ids (by grinding transactions) but
  // cannot aim them at one bucket.
  struct IdHash {
    explicit IdHash(const SipKey& key) : hasher(key) {}
    size_t operator()(const TxId& id) const { return static_cast<size_t>(hasher(id)); }
    SipIdHasher hasher;
  };
  using IdSet = std::unordered_map<TxId, Time, IdHash>;
  enum class ShortIds : uint8_t {
    kOff,      // full ids: the peer or we did not set kServiceShortIds, or it never answered
    kPending,  // our sendshortids went out; announcements wait for the peer's
    kOn,
  };
  struct Announced {
    TxId id{};
    Time at{};
    bool resent = false;  // already sent again by full id after a collision
  };
  struct ShortRequest {
    std::optional<TxId> key;  // the tracker's key for it (none: sent outside the tracker)
    Time at{};
  };
  // Origins, each with a value, at most kMaxTreeOrigins: the least recently set is forgotten.
  template <class V>
  class OriginMap {
   public:
    V* find(uint32_t origin) {
      auto it = m_map.find(origin);
      return it == m_map.end() ? nullptr : &it->second.value;
    }
    bool contains(uint32_t origin) const { return m_map.count(origin) != 0; }
    // The origin's value (default-constructed if new), now the most recently set.
    V& set(uint32_t origin) {
      auto [it, fresh] = m_map.try_emplace(origin);
      it->second.seq = ++m_seq;
      m_order.emplace_back(origin, m_seq);
      while (m_map.size() > kMaxTreeOrigins) {  // forget the least recently set
        auto [o, seq] = m_order.front();
        m_order.pop_front();
        auto old = m_map.find(o);
        if (old != m_map.end() && old->second.seq == seq) m_map.erase(old);
      }
      if (m_order.size() > 2 * kMaxTreeOrigins) {  // drop the stale entries: O(1) amortised
        std::erase_if(m_order, [&](const std::pair<uint32_t, uint64_t>& e) {
          auto live = m_map.find(e.first);
          return live == m_map.end() || live->second.seq != e.second;
        });
      }
      return m_map.at(origin).value;
    }
    void erase(uint32_t origin) { m_map.erase(origin); }
    size_t size() const { return m_map.size(); }
    template <class F>
    void for_each(F&& f) {
      for (auto& [o, e] : m_map)
        f(o, e.value);
    }
    template <class F>
    void for_each(F&& f) const {
      for (const auto& [o, e] : m_map)
        f(o, e.value);
    }
    void sanity_check() const {
      HEARSAY_CHECK(m_map.size() <= kMaxTreeOrigins && m_order.size() <= 2 * kMaxTreeOrigins);
    }

   private:
    struct Entry {
      V value{};
      uint64_t seq = 0;
    };
    std::unordered_map<uint32_t, Entry> m_map;
    std::deque<std::pair<uint32_t, uint64_t>> m_order;  // (origin, seq) in order of setting
    uint64_t m_seq = 0;
  };
  struct Owed {
    uint32_t origin = 0;
    Time deadline{};
  };
  // One held transaction as a reconciliation element of a link, and its age rank (0: newest).
  struct ReconElem {
    uint32_t element = 0;
    uint32_t rank = 0;
    TxId id{};
    bool operator<(const ReconElem& o) const { return element < o.element; }
  };
  // A round's set, sorted by element; parts are contiguous ranges of it.
  using ReconSet = std::vector<ReconElem>;
  struct ReconPart {
    size_t capacity = 0;
    size_t size = 0;     // our elements in it
    bool whole = false;  // exchanged whole: we announced ours, it announces its
  };
  struct PeerState {
    PeerState(const SipKey& salt, size_t known_max);
    PublicKey identity{};
    NetAddress address;  // the connection's remote address
    bool preferred = false;
    bool pushes = false;  // set kServicePushTx: may send us unrequested transactions
    SeenSet known;
    std::vector<TxId> queue;  // to announce
    Time next_inv{};
    IdSet requested;    // getdata sent, at
    LinkMeter link;     // what its answers show of the link
    size_t window = 0;  // requests it may have in flight (the tracker's cap at first)
    // Announcements got kOverloadedPeerDelay since the meter last showed the peer keeps up.
    bool overload_delayed = false;
    std::deque<TxId> deferred;  // refused at the tracker's cap, oldest first
    // An answer freed one of its in-flight slots: ask it for more at the end of the event
    // (else the next getdata waits for the tick, capping a peer at kMaxPeerInFlight per tick).
    bool request_due = false;
    // Short ids.
    ShortIds short_ids = ShortIds::kOff;
    bool offered = false;  // our sendshortids went out
    bool got_sendshortids = false;
    Time short_deadline{};
    uint64_t nonce = 0;            // ours for this link
    uint64_t mask = kShortIdMask;  // TxRelayConfig::short_id_mask on this link
    SipKey link_key{};
    SipKey their_bucket_key{};
    std::unordered_map<uint64_t, Announced> announced;  // short id we sent → full id
    std::deque<std::pair<uint64_t, Time>> announced_order;
    std::unordered_map<TxId, uint64_t, IdHash> entry_of;  // tracker key → its short id
    std::unordered_map<uint64_t, ShortRequest> short_requested;
    // Tree relay.
    bool tree = false;                            // both ends set kServiceTree
    OriginMap<bool> lazy_out;                     // origins it pruned: announced to it, not pushed
    OriginMap<bool> pruned_in;                    // origins we pruned at it: it announces them
    std::vector<uint32_t> prune_out;              // to send at the end of the event
    std::vector<uint32_t> graft_out;              // likewise
    std::unordered_map<TxId, Owed, IdHash> owed;  // bodies it should have pushed us
    // Set reconciliation.
    bool recon = false;     // both ends set kServiceRecon (reconciles once short ids are on)
    bool outbound = false;  // we dialled: we ask
    bool flood = true;      // announcements are queued for it (low fanout: a few peers only)
    uint32_t round = 0;     // ours (asker) or its latest (answerer)
    bool in_round = false;
    Time next_round{};
    Time round_deadline{};
    ReconSet set;           // this round's (asker), or its latest round's (answerer)
    bool set_held = false;  // answerer: `set` is its round's
    Time set_built{};
    std::map<std::pair<uint8_t, uint32_t>, ReconPart> parts;  // (bits, index) asked, unanswered
    ReconReport report;                                       // of our round under way
    uint8_t round_bits = 0;  // the parts this round started with (finer after a split)
    double last_delta = 0;   // |our size − its size| at the last complete round
    bool have_q = false;
    double q = 0;  // the share of the smaller set that differed last round
    double tokens = kReconBudget;
    Time refilled{};
    std::unordered_map<TxId, Time, IdHash> recon_offered;  // by reconciliation, at
    std::deque<std::pair<TxId, Time>> recon_offered_order;
    std::unordered_set<uint32_t> recon_asked;  // answerer: elements we asked it for
  };
  // Per origin: the peer that pushes its transactions to us (the first copy's sender), and the
  // lazy peer whose announcements have beaten it `streak` times in a row.
  struct OriginState {
    std::optional<PeerId> parent;
    std::optional<PeerId> rival;
    int streak = 0;
  };
  // The ids we saw lately, chained by their bucket under our bucket key: what a received short id
  // is matched against. A ring of kRecentIds slots; the oldest is overwritten.
  class RecentIds {
   public:
    RecentIds();
    void insert(const TxId& id, uint16_t bucket);
    // Up to kMaxCandidates ids, newest first (a link whose ids are narrowed to fewer bits than
    // the bucket's has no usable bucket).
    template <class F>
    void for_newest(F&& f) const {
      for (size_t k = 1; k <= std::min(kMaxCandidates, m_slots.size()); ++k)
        f(m_slots[(m_next + m_slots.size() - k) % m_slots.size()].id);
    }
    // Up to kMaxCandidates ids of `bucket`, newest first.
    template <class F>
    void for_bucket(uint16_t bucket, F&& f) const {
      size_t seen = 0;
      for (uint32_t i = m_head[bucket]; i != kNone && seen < kMaxCandidates;
           i = m_slots[i].next, ++seen)
        f(m_slots[i].id);
    }
    void sanity_check() const;

   private:
    static constexpr uint32_t kNone = UINT32_MAX;
    struct Slot {
      TxId id{};
      uint32_t next = kNone;
      uint32_t prev = kNone;
      uint16_t bucket = 0;
    };
    std::vector<Slot> m_slots;
    std::vector<uint32_t> m_head;
    size_t m_next = 0;
  };
  struct Verifying {
    TxRef tx;
    std::optional<PeerId> from;  // nullopt: local, or the sender has disconnected
    Time first_seen{};
    PublicKey sender_identity{};  // the peer that sent it (kept after it disconnects)
    NetAddress sender_address;
    std::optional<uint32_t> origin;  // its tree, when it came by treetx
  };

  // Accepted by a pool that writes behind, announced once the write settles.
  struct Unwritten {
    uint64_t ticket;
    TxRef tx;
    std::optional<PeerId> from;
    std::optional<uint32_t> origin;
    Time first_seen{};
    bool local = false;  // submit(): no relay latency to report
  };

  PeerState* find(PeerId peer);
  void accepted(const Unwritten& u, Time now);
  // Settles the admissions whose writes did; returns the ids undone among them.
  std::vector<TxId> settle_writes(Time now);
  void handle_inv(PeerId peer, PeerState& ps, const InvMsg& m, Time now);
  void handle_getdata(PeerId peer, PeerState& ps, const GetDataMsg& m, Time now);
  void handle_notfound(PeerId peer, PeerState& ps, const NotFoundMsg& m, Time now);
  void handle_tx(PeerId peer, PeerState& ps, TxRef tx, std::optional<uint32_t> origin, Time now);
  void handle_prune(PeerId peer, PeerState& ps, const PruneMsg& m);
  void handle_graft(PeerId peer, PeerState& ps, const GraftMsg& m);
  // A tree body arrived first (pushed, or asked for): the origin's parent, grafts, swaps.
  void tree_first_copy(PeerId peer, PeerState& ps, bool requested, uint32_t origin,
                       const std::vector<PeerId>& announced_first, const TxId& id, Time now);
  // Sends prune / graft of `origin` to the peer at the end of the event, and notes it.
  void prune(PeerState& ps, uint32_t origin);
  void graft(PeerState& ps, uint32_t origin);
  void tree_parent_gone(PeerId peer);
  void grafted_by(PeerId peer, PeerState& ps, uint32_t origin);
  void check_owed(PeerId peer, PeerState& ps, Time now);
  uint32_t origin_of(const TxId& id) const;
  Time request_time(PeerId peer, PeerState& ps, Time now);
  Time first_request_time(const PeerState& ps, Time now) const;
  void defer(PeerState& ps, const TxId& id);
  void track_deferred(PeerId peer, PeerState& ps, Time now);
  void answered(PeerId peer, PeerState& ps, Time asked, Time now);
  void adapt(PeerId peer, PeerState& ps, Time now);
  void flow_control();
  bool serve(PeerId peer, PeerState& ps, const TxId& id, Time now);
  void handle_sendshortids(PeerId peer, PeerState& ps, const SendShortIdsMsg& m, Time now);
  void handle_txinv(PeerId peer, PeerState& ps, const TxInvMsg& m, Time now);
  void handle_gettx(PeerId peer, PeerState& ps, const GetTxMsg& m, Time now);
  void handle_txnotfound(PeerId peer, PeerState& ps, const TxNotFoundMsg& m, Time now);
  // Short ids of `id`: the one we send `ps` (its bucket key) and the one it sends us (ours).
  uint64_t short_to(const PeerState& ps, const TxId& id) const;
  uint64_t short_from(const PeerState& ps, const TxId& id) const;
  TxId unknown_key(uint16_t bucket) const;
  bool is_unknown_key(const TxId& id) const;
  // A transaction's id became known (body first seen, or an announcement by full id).
  void remember_id(const TxId& id);
  // Its body is here: pending short-id announcements that name it are satisfied (their peers
  // are added to `announcers`, when given).
  void resolve_short_ids(const TxId& id, Time now, std::vector<PeerId>* announcers = nullptr);
  void send_short_announcements(PeerId peer, PeerState& ps, std::span<const TxId> ids, Time now);
  // Set reconciliation (tx_relay_recon.cpp).
  void recon_ready(PeerId peer, PeerState& ps, Time now);
  void recon_off(PeerId peer, PeerState& ps, Time now);
  void recon_tick(PeerId peer, PeerState& ps, Time now);
  ReconSet recon_set(const PeerState& ps, Time now) const;
  void start_round(PeerId peer, PeerState& ps, Time now);
  void split(PeerId peer, PeerState& ps, uint8_t bits, uint32_t index, uint8_t step,
             double expected, size_t at_least);
  void ask_part(PeerId peer, PeerState& ps, uint8_t bits, uint32_t index, size_t capacity,
                bool whole = false);
  void refill_recon_budget(PeerState& ps, Time now);
  void take_their_round(PeerState& ps, uint32_t round, Time now);
  void make_room_for_snapshot();
  // Whether announcements queued for the peer are lost (m_lose_announcements_to).
  bool loses_announcements(const PeerState& ps) const;
  void end_round(PeerState& ps, Time now);
  void handle_reqrecon(PeerId peer, PeerState& ps, const ReqReconMsg& m, Time now);
  void handle_recondiff(PeerId peer, PeerState& ps, const ReconDiffMsg& m, Time now);
  // Announces `elems` to the peer now, oldest first, whatever it is known to have: a
  // reconciliation found that it lacks them.
  void offer(PeerId peer, PeerState& ps, std::vector<ReconElem> elems, Time now);
  // It announced, sent or asked for `id`: an offer of it is settled.
  void settle_offer(PeerState& ps, const TxId& id);
  void forget_oldest_offer(PeerState& ps);
  void choose_flood_peers();
  void announce_newest(PeerState& ps);
  void expire_short_ids(PeerId peer, PeerState& ps, Time now);
  void request_from(PeerId peer, PeerState& ps, Time now);
  void request_all(Time now);
  void admitted(const TxRef& tx, std::optional<PeerId> from, std::optional<uint32_t> origin,
                Time now);
  template <class Msg>
  void send_origins(PeerId peer, std::vector<uint32_t>& origins, Msg message);
  void start_trickle(PeerState& ps, Time now);
  Duration trickle_interval(const PeerState& ps) const;
  void flush(Time now);
  struct Cached {
    SharedBytes tx;    // its `tx` frame
    SharedBytes tree;  // its `treetx` frame
    std::optional<uint32_t> origin;
  };
  Cached& cached(const TxId& id);
  // The `tx` frame of a transaction we hold, or (tree) its `treetx` frame; null if we do not.
  SharedBytes frame_of(const TxId& id, bool tree = false);
  Time next_trickle(const PeerState& ps, Time now);

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
  std::vector<TxRef> m_to_verify;     // collected during an event, sent as one VerifyAction
  std::deque<Unwritten> m_unwritten;  // ticket order
  std::unordered_map<TxId, Cached, IdHash> m_frames;
  std::vector<TxId> m_frame_order;  // FIFO ring of m_frames' keys
  size_t m_frame_next = 0;
  bool m_dirty = false;           // some queue got entries during this event
  bool m_request_due = false;     // some peer's request_due is set
  Time m_next_pool_expire{};      // when on_tick next drops expired transactions from the pool
  std::vector<TxId> m_last_sent;  // flush(): the queue last serialised
  bool m_short_ids = false;       // we set kServiceShortIds
  uint64_t m_bucket_salt = 0;     // sent in every sendshortids
  SipKey m_bucket_key{};
  TxId m_unknown_tag{};  // secret: keys of unknown short ids are it plus a bucket
  RecentIds m_recent;
  // Peers (by identity) whose queued announcements are lost, as a cap would lose them: only
  // test::TxRelayTestAccess sets it (a test of what reconciliation repairs).
  std::vector<PublicKey> m_lose_announcements_to;
  bool m_recon = false;  // we set kServiceRecon
  bool m_tree = false;   // we set kServiceTree
  uint32_t m_origin_tag = 0;
  OriginMap<OriginState> m_origins;
  mutable TxRelayStats m_stats;

  friend class test::TxRelayTestAccess;
};

}  // namespace hearsay
