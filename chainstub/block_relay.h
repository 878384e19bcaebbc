// BlockRelay: block relay — headers-first announcement, compact blocks (BIP152), header sync
// and block download. Sans-IO.
//
// BlockRelay is the PeerManager's block RelayHandler (PeerManager::set_block_relay). It runs on
// the protocol thread, owns no socket, thread or clock, and speaks through the PeerManager it
// is built with (send, send_frame, verify, misbehaving, ban). It owns no chain: ChainState
// validates and stores, the Mempool supplies the transactions compact blocks are rebuilt from.
//
// Why it lives in chainstub/ and not beside TxRelay in p2p/: TxRelay reaches its pool only
// through the narrow TxPool interface (p2p/tx_pool.h), so p2p/ stays free of the mempool.
// BlockRelay works on the concrete ChainState (headers, locators, missing blocks, accept and
// check) and the concrete Mempool (candidates for compact blocks, update_mempool on a tip
// change, build_block), both of which sit above p2p/; the protocol rules are still sans-IO.
//
// Source files, one concern each: block_relay.cpp (peers, dispatch, timers, sanity_check),
// block_relay_headers.cpp (header sync), block_relay_download.cpp (full-block fetch and
// requests in flight), block_relay_compact.cpp (compact-block reconstruction),
// block_relay_validate.cpp (validation, blame, local blocks), block_relay_announce.cpp
// (announcement and high-bandwidth peers), block_relay_serve.cpp (answering getdata and
// getblocktxn).
//
// Rules:
//  * Negotiation. When a peer becomes ready we send `sendheaders` (BIP130), `sendcmpct` version
//    1 and `getheaders` with our locator. high_bandwidth in that sendcmpct asks the peer to push
//    new blocks to us as `cmpctblock` at once (BIP152 high-bandwidth mode). We ask at most
//    cfg.high_bandwidth_peers peers: first the first peers to become ready (an outbound or
//    allow-listed one takes the place of the oldest inbound one when all places are taken),
//    later the peers that most recently delivered a new valid block first (as Bitcoin's
//    MaybeSetPeerAsAnnouncingHeaderAndIDs: the newest takes the place of the oldest); a peer
//    pushed out gets `sendcmpct` with high_bandwidth = 0; when one leaves, the first ready
//    peer (preferred first) takes its place. Only `sendcmpct` version 1 is understood; others are
//    ignored.
//  * Announcement. A block is announced only once it is fully validated and connected to our
//    best chain: when the tip moves, every ready peer not known to have the new tip gets, if it
//    asked for high-bandwidth mode (sendcmpct 1) and the tip is the only new block, the
//    `cmpctblock` (one serialisation shared by all of them); else, if it sent `sendheaders`, the
//    `headers` of the newly connected blocks it is not known to have (at most
//    kMaxHeadersToAnnounce, else only the tip: it asks for the rest with getheaders); else
//    `inv` of the tip. The cmpctblock prefills the transactions we lacked ourselves when the
//    block reached us (the peer likely lacks them too), at most kMaxPrefillBytes of them; a
//    block we produced prefills none.
//    Our reading of BIP152's "before validation of the body completes where safe": it is never
//    safe here. A relayer of an invalid block is banned (below), so an honest node must never
//    relay one; and unlike Bitcoin there is no proof of work making an invalid block costly to
//    make, so a pushed header proves nothing about the body.
//  * Header sync. getheaders is answered with ChainState::headers_after (best chain, at most
//    kMaxHeadersResults). A `headers` message is accepted header by header
//    (ChainState::accept_header); a header breaking a rule only a misbehaving peer breaks
//    (is_punishable) bans the sender; a first header whose parent we lack sends getheaders to
//    that peer (one outstanding per peer, for kGetHeadersTimeout); headers that do not link up
//    score kScoreNonContinuousHeaders; a full message (kMaxHeadersResults) asks for more from
//    its last header. An `inv` of an unknown block id sends getheaders to its sender.
//  * Download. A new header that is our tip's child, from a peer that speaks compact blocks,
//    is fetched with getdata(kCmpctBlock); every other block on the best header chain that we
//    lack (ChainState::missing_blocks) with getdata(kBlock) from a peer that announced it (or
//    whose best known height reaches it): one request per block, at most
//    kMaxBlocksInFlightPerPeer per peer; after kBlockDownloadTimeout, a notfound or the peer's
//    disconnection the block is asked of another peer (the first is avoided for kAvoidTime).
//  * Compact blocks. A `cmpctblock` (pushed, or asked for) is accepted as a header first (same
//    rules), then rebuilt (PartialBlock) from the mempool's transactions: complete → processed
//    like a block; transactions missing → `getblocktxn` to the sender for exactly those, then
//    `blocktxn` completes it; at most kMaxPartialBlocks rebuilds in progress, one per block.
//    A short-id collision (duplicate short ids, or a Merkle mismatch after filling) falls back
//    to getdata(kBlock) from the same peer — nobody's fault; a malformed rebuild (wrong
//    blocktxn count) scores kScoreBadCompact. getdata(kCmpctBlock) is answered with a
//    cmpctblock unless the block is deeper than kMaxCmpctDepth below the tip (then `block`);
//    getblocktxn with a `blocktxn` from the stored block (an index out of range scores
//    kScoreBadCompact; an unknown block is ignored); getdata(kBlock) with `block`; anything
//    we do not store with `notfound`. At most kMaxGetDataBlocks block entries of one getdata
//    are answered; beyond, kScoreOversizedGetData.
//  * Validation. A complete block from a peer: ChainState::check_block without signatures
//    (punishable → ban); then the signatures of its transactions the mempool does not hold go
//    through PeerManager::verify (the mempool's were verified on admission and are never
//    verified again); any invalid → the block is rejected ("tx-bad-signature"), marked failed
//    in the chain, and its sender banned (by identity if it left meanwhile). Then
//    ChainState::accept_block: a punishable error bans the sender, and so does a block the
//    call found invalid on another's behalf (also_failed: an orphan whose turn came, a
//    descendant), whoever sent it; an orphan sends getheaders to its sender. A failure found
//    only when connecting (kTxBadNonce, kTxExpired) is blamed only on a peer that vouched for
//    the block (announced it, or pushed it unasked): a block fetched from a peer on a guess may
//    sit on its side branch, stored but never connected by it.
//  * The chain moved: the mempool follows (update_mempool), the PeerManager learns the height,
//    the observer hears block_disconnected / block_connected, and the new tip is announced.
//  * Production (cfg.producer_key authorised by the network): generate() builds a block on the
//    tip from the mempool (build_block), accepts it (its transactions come from the mempool:
//    verified) and announces it; with cfg.block_interval > 0, on_tick does so every interval.
//
// Adversary: any ready peer sending any sequence of block messages at any time, and a peer
// holding a producer key signing anything. Every header costs one signature check, so
// growing the index needs a producer key; an invalid block costs its relayer a ban.
// Bounds: per peer the known-block set (kKnownBlocksPerPeer), requests in flight
// (kMaxBlocksInFlightPerPeer), the avoid set (kMaxAvoidPerPeer); globally rebuilds in progress
// (kMaxPartialBlocks), blocks awaiting signature verdicts (kMaxAwaitingVerdicts, the rest are
// dropped unscored and fetched again later), rejected block ids (kMaxRejectedBlocks), block
// senders remembered for blame (kMaxSenderMemory), cached frames (kFrameCacheBlocks). The chain
// bounds its orphans. Each message costs O(its size) plus at most its header signatures; a
// cmpctblock with a new valid header costs O(mempool size) to rebuild.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "chainstub/chain.h"
#include "chainstub/compact.h"
#include "mempool/mempool.h"
#include "p2p/bounded_set.h"
#include "p2p/peer_manager.h"
#include "p2p/tx_pool.h"

namespace hearsay {

namespace test {
class BlockRelayTestAccess;
}

// Blocks requested from one peer at a time (Bitcoin's MAX_BLOCKS_IN_TRANSIT_PER_PEER).
inline constexpr size_t kMaxBlocksInFlightPerPeer = 16;
// A block request unanswered for this long is asked of another peer (a 4 MB block at 4 Mbit/s
// takes 8 s).
inline constexpr Duration kBlockDownloadTimeout = std::chrono::seconds(10);
// A peer that timed out or answered notfound for a block is not asked for it again for this
// long (unless nobody else can serve it: then it is asked anyway after the time); entries.
inline constexpr Duration kAvoidTime = std::chrono::minutes(1);
inline constexpr size_t kMaxAvoidPerPeer = 64;
// Compact-block rebuilds waiting for a blocktxn (Bitcoin allows 1 per peer, 3 in total; ours
// are bounded globally since several producers may publish at once).
inline constexpr size_t kMaxPartialBlocks = 16;
// Blocks whose transaction signatures are being verified.
inline constexpr size_t kMaxAwaitingVerdicts = 16;
// Verdicts lost (a worker died) must not pin a block forever: it is dropped after this, and
// fetched again.
inline constexpr Duration kVerifyTimeout = std::chrono::minutes(1);
// A getheaders to one peer is not repeated while an answer is due within this.
inline constexpr Duration kGetHeadersTimeout = std::chrono::seconds(10);
// Block ids remembered per peer as known to it (only announcements need it: a forgotten one
// costs one redundant announcement).
inline constexpr size_t kKnownBlocksPerPeer = 1'024;
// Headers sent in one announcement (Bitcoin's MAX_BLOCKS_TO_ANNOUNCE); more: only the tip.
inline constexpr size_t kMaxHeadersToAnnounce = 8;
// getdata(kCmpctBlock) for a block this deep below the tip gets the full block (the peer is
// syncing; its mempool will not help). As Bitcoin's MAX_BLOCKTXN_DEPTH.
inline constexpr uint64_t kMaxCmpctDepth = 10;
// Transactions prefilled in a cmpctblock we relay, bytes of their encodings: about a TCP
// initial window (10 segments); what does not fit is asked for with getblocktxn.
inline constexpr size_t kMaxPrefillBytes = 10'000;
// Block entries of one getdata we answer (an honest peer has at most
// kMaxBlocksInFlightPerPeer requests in flight).
inline constexpr size_t kMaxGetDataBlocks = kMaxBlocksInFlightPerPeer;
// Ids of blocks we rejected whose rejection the chain may not record (lost verdict races).
inline constexpr size_t kMaxRejectedBlocks = 1'024;
// Senders of blocks remembered (id → who sent it), to blame them when the chain finds the
// block invalid later (an orphan whose parent came, a descendant): orphans plus in flight.
inline constexpr size_t kMaxSenderMemory = 256;
// Serialised block and cmpctblock frames kept for peers asking for the same new block.
inline constexpr size_t kFrameCacheBlocks = 4;
// Blocks missing_blocks() is asked for per download round, at most.
inline constexpr size_t kMaxDownloadScan = 1'024;
// Configurable range of high-bandwidth peers (--cmpct-hb-peers).
inline constexpr size_t kMaxHighBandwidthPeers = 8;
// Misbehaviour points.
inline constexpr int kScoreBadCompact = 100;            // wrong blocktxn, index out of range
inline constexpr int kScoreNonContinuousHeaders = 20;   // headers that do not link up
inline constexpr int kScoreOversizedBlockGetData = 20;  // more than kMaxGetDataBlocks blocks

struct BlockRelayConfig {
  size_t high_bandwidth_peers = 3;      // --cmpct-hb-peers (0..kMaxHighBandwidthPeers)
  std::optional<KeyPair> producer_key;  // --producer-key FILE (must be authorised)
  Duration block_interval{0};           // --block-interval S; 0: only on generate()
  uint64_t rng_seed = 0;                // compact-block nonces
};

// Trace hooks (node/trace writes them as JSON lines). Called on the relay thread.
class BlockObserver {
 public:
  virtual ~BlockObserver() = default;
  // First time this node learns the block exists with a valid header (headers, cmpctblock,
  // block, or produced). An inv names an id nobody vouched for yet: not reported.
  virtual void block_first_seen(const BlockId& id, uint64_t height, const TxSource& from,
                                Time now) = 0;
  // A cmpctblock was turned into a block (after any getblocktxn round trip).
  virtual void block_reconstructed(const BlockId& id, size_t txs, size_t prefilled,
                                   size_t from_mempool, size_t missing, Time now) = 0;
  virtual void block_connected(const BlockId& id, uint64_t height, size_t txs, size_t size,
                               Time now) = 0;
  virtual void block_disconnected(const BlockId& id, uint64_t height, Time now) = 0;
  virtual void block_rejected(const BlockId& id, const char* reason, Time now) = 0;
};

struct BlockRelayStats {
  uint64_t headers_received = 0, headers_sent = 0;   // header entries
  uint64_t cmpct_received = 0, cmpct_sent = 0;       // cmpctblock messages
  uint64_t getblocktxn_sent = 0, txs_requested = 0;  // messages, transactions asked for
  uint64_t blocks_received = 0, blocks_sent = 0;     // full `block` messages
  uint64_t reconstructed = 0, collisions = 0;        // cmpctblocks rebuilt, fallbacks to full
  uint64_t connected = 0, rejected = 0, reorgs = 0, produced = 0;
};

class BlockRelay : public RelayHandler {
 public:
  // Registers with pm.set_block_relay(this); unregisters in the destructor. `chain`,
  // `mempool` (whose ChainView is `chain`) and `observer` (may be null) must outlive it.
  BlockRelay(PeerManager& pm, ChainState& chain, Mempool& mempool, BlockRelayConfig cfg,
             BlockObserver* observer = nullptr);
  ~BlockRelay() override;
  BlockRelay(const BlockRelay&) = delete;
  BlockRelay& operator=(const BlockRelay&) = delete;

  // RelayHandler
  void on_peer_ready(PeerId peer, Time now) override;
  void on_message(PeerId peer, Message&& msg, Time now) override;
  void on_peer_gone(PeerId peer, Time now) override;
  void on_tick(Time now) override;
  void on_verified(std::span<const TxRef> txs, std::span<const uint8_t> valid, Time now) override;

  // Producer only: builds a block on the tip (build_block), accepts it, announces it.
  Result<BlockRef, std::string> generate(Time now);
  // A complete block from a local source, validated like a peer's and announced if it moves
  // the tip. Unlike a peer's block, the signatures of its transactions the mempool does not
  // hold are verified synchronously inside this call, not handed to net/'s verify workers
  // (PeerManager::verify): the call runs on the protocol thread like every other method
  // (Node::submit_block hands it to the network thread and waits), so a large block stalls relay
  // while it is checked.
  AcceptResult submit_block(const BlockRef& block, Time now);

  const BlockRelayStats& stats() const { return m_stats; }
  bool is_producer() const;
  // Peers we asked for high-bandwidth mode, oldest first (the next to make room), the most
  // recent deliverer of a new block last.
  const std::vector<PeerId>& high_bandwidth_peers() const { return m_hb; }
  void sanity_check() const;

 private:
  // Relays blocks without validating them, for tests that need a lying node.
  friend class test::BlockRelayTestAccess;

  // A bounded FIFO set of block ids.
  using KnownBlocks = BoundedOrderedSet<BlockId>;
  struct PeerState {
    PublicKey identity{};
    NetAddress address;
    bool preferred = false;    // outbound or allow-listed
    uint64_t ready_seq = 0;    // order of becoming ready
    bool sendheaders = false;  // it sent sendheaders: announce with headers
    bool cmpct = false;        // it sent sendcmpct version 1
    bool wants_hb = false;     // ... with high_bandwidth: push cmpctblock to it
    bool we_hb = false;        // we asked it for high-bandwidth mode
    uint64_t best_height = 0;  // highest block it is known to have
    KnownBlocks known{kKnownBlocksPerPeer};
    size_t in_flight = 0;                 // entries of m_in_flight naming it
    std::map<BlockId, Time> avoid;        // it failed to deliver these, at
    std::optional<Time> getheaders_sent;  // an answer is due
  };
  // Who sent a block: blamed if the block turns out invalid.
  struct Origin {
    bool local = true;
    std::optional<PeerId> peer;  // reset when it disconnects
    PublicKey identity{};
    NetAddress address;
    bool vouched = false;  // announced or pushed it (see Validation)
  };
  struct InFlight {
    PeerId peer = 0;
    Time since{};
    bool compact = false;  // getdata(kCmpctBlock), a pushed cmpctblock or a getblocktxn
  };
  struct Partial {
    PartialBlock block;
    PeerId peer = 0;
    std::vector<uint32_t> missing;
  };
  struct Awaiting {
    BlockRef block;
    Origin from;
    std::set<TxId> pending;  // verdicts still due
    bool bad = false;        // an invalid verdict came
    std::vector<uint32_t> lacked;
    Time since{};
  };
  struct CachedFrame {
    BlockId id{};
    SharedBytes frame;
  };
  // Blocks outside the chain that getdata / getblocktxn are answered from. Only
  // test::BlockRelayTestAccess adds any (blocks it relayed unvalidated); in a node it stays
  // empty.
  static constexpr size_t kMaxExtraServed = 4;

  // peers, dispatch, timers (block_relay.cpp)
  PeerState* find(PeerId peer);
  Origin origin_of(PeerId peer, const PeerState& ps, bool vouched) const;
  void see(PeerState& ps, const BlockId& id, uint64_t height);
  void handle_sendcmpct(PeerState& ps, const SendCmpctMsg& m);

  // header sync (block_relay_headers.cpp)
  void handle_getheaders(PeerId peer, PeerState& ps, const GetHeadersMsg& m, Time now);
  void handle_headers(PeerId peer, PeerState& ps, const HeadersMsg& m, Time now);
  void handle_inv(PeerId peer, PeerState& ps, const InvMsg& m, Time now);
  void send_getheaders(PeerId peer, PeerState& ps, const BlockId& from, Time now);

  // full-block download and requests in flight (block_relay_download.cpp)
  void handle_notfound(PeerId peer, PeerState& ps, const NotFoundMsg& m, Time now);
  void handle_block(PeerId peer, PeerState& ps, const BlockRef& block, Time now);
  void request_blocks(Time now);
  void mark_in_flight(const BlockId& id, PeerId peer, bool compact, Time now);
  // Forgets the request of `id` and any rebuild waiting on it (a partial block exists only while
  // its compact request is in flight: sanity_check()).
  void clear_in_flight(const BlockId& id);
  void fetch_full(PeerId peer, const BlockId& id, Time now);
  // Requests unanswered for kBlockDownloadTimeout: forgotten, their peer avoided for the block.
  void expire_requests(Time now);

  // compact-block reconstruction (block_relay_compact.cpp)
  void handle_cmpct(PeerId peer, PeerState& ps, const CmpctBlockMsg& m, Time now);
  void handle_blocktxn(PeerId peer, PeerState& ps, const BlockTxnMsg& m, Time now);

  // validation, blame, local blocks (block_relay_validate.cpp)
  void reconstructed(const BlockId& id, const PartialBlock& pb, size_t missing,
                     const BlockRef& block, PeerId peer, Time now);
  void process_block(const BlockRef& block, Origin from, Time now);
  void finish_block(const BlockRef& block, const Origin& from, const std::vector<uint32_t>& lacked,
                    Time now);
  void reject(const BlockId& id, BlockError error, const char* reason, const Origin& from,
              Time now);
  // Rejects each block accept_block found invalid on another's behalf, blaming its sender.
  void reject_also_failed(const AcceptResult& r, Time now);
  void blame(const Origin& from, const std::string& reason, Time now);
  void remember_sender(const BlockId& id, const Origin& from);
  void remember_rejected(const BlockId& id) { m_rejected.insert(id); }
  bool is_rejected(const BlockId& id) const { return m_rejected.contains(id); }
  void chain_moved(const ChainUpdate& update, const BlockId* delivered, const Origin* from,
                   const std::vector<uint32_t>& lacked, Time now);

  // announcement and high-bandwidth peers (block_relay_announce.cpp)
  void announce(const ChainUpdate& update, const std::vector<uint32_t>& prefill, Time now);
  void choose_hb_on_ready(PeerId peer, PeerState& ps);
  void promote_hb(PeerId peer);
  // Sends sendcmpct(on) and updates m_hb (a new one goes last: the most recent).
  void set_hb(PeerId peer, PeerState& ps, bool on);
  void top_up_hb();

  // serving (block_relay_serve.cpp)
  void handle_getdata(PeerId peer, PeerState& ps, const GetDataMsg& m, Time now);
  void handle_getblocktxn(PeerId peer, PeerState& ps, const GetBlockTxnMsg& m, Time now);
  SharedBytes cmpct_frame(const BlockRef& block, std::span<const uint32_t> prefill);
  SharedBytes block_frame(const BlockRef& block);
  BlockRef stored_block(const BlockId& id) const;

  PeerManager& m_pm;
  ChainState& m_chain;
  Mempool& m_mempool;
  BlockRelayConfig m_cfg;
  BlockObserver* m_observer;
  std::mt19937_64 m_rng;
  uint64_t m_ready_seq = 0;
  std::map<PeerId, PeerState> m_peers;
  std::vector<PeerId> m_hb;  // we asked them for high-bandwidth mode, oldest first
  std::map<BlockId, InFlight> m_in_flight;
  std::map<BlockId, Partial> m_partials;
  std::map<BlockId, Awaiting> m_awaiting;
  std::map<BlockId, Origin> m_senders;  // its keys are m_sender_order's
  BoundedOrderedSet<BlockId> m_sender_order{kMaxSenderMemory};
  BoundedOrderedSet<BlockId> m_rejected{kMaxRejectedBlocks};
  std::deque<CachedFrame> m_block_frames;
  std::deque<CachedFrame> m_cmpct_frames;
  std::deque<BlockRef> m_extra_served;  // see kMaxExtraServed
  Time m_next_block{};                  // production timer
  BlockRelayStats m_stats;
};

}  // namespace hearsay
