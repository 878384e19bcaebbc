// PeerManager: the protocol logic of one node — sans-IO, single-threaded.
//
// net/ owns sockets, TLS and timers; it tells the PeerManager what happened (a connection was
// authenticated, a message arrived, a frame or payload did not decode, a connection closed,
// time passed, a dial failed) and carries out what the PeerManager answers with (send a frame,
// disconnect, ban, dial). The PeerManager never touches a socket, a thread or a clock, so tests
// drive it with fake peers and a fake clock, fuzz targets feed it arbitrary message sequences,
// and many instances can run in one process.
//
// This header is the contract between p2p/ and net/. Concerns live in their own files:
// handshake (handshake.h), liveness (phi_accrual.h), the address book (addrman.h), address
// gossip and outbound slot filling (peer_manager_addr.cpp), and — through RelayHandler —
// transaction and block relay.
//
// Calling contract (net/): after every on_* call, drain take_actions() and carry the actions
// out in order. Call on_tick at least once a second (timers resolve to tick granularity).
// A DisconnectAction is a request: the peer stays known (its messages are ignored) until net/
// reports on_disconnected. Every on_connected is matched by exactly one on_disconnected; every
// DialAction by exactly one on_connected (outbound, remote == the dialled address) or
// on_dial_failed(address).
//
// Rules:
//  * Handshake: on connect we send `version`; the peer's first message must be `version`
//    (same magic, same protocol version), then `verack`, all within handshake_timeout.
//    Anything else, or a connection to ourselves (the TLS identity is ours), disconnects with
//    a reason. After it: outbound peers get `getaddr`, everyone gets our signed PeerRecord
//    (when we listen) and a first `ping`.
//  * Liveness: a `ping` every ping_interval while none is outstanding; the matching `pong`
//    gives the RTT. Every message feeds a phi-accrual detector (phi_accrual.h, mean never
//    below ping_interval): phi ≥ phi_suspect marks the peer suspected (is_suspected; relay
//    asks others first), phi ≥ phi_disconnect or a silence of idle_timeout disconnects. With
//    the defaults a silent peer is suspected after 92 s and dropped after 184 s.
//  * Duplicate connections (same identity twice): keep the one dialled by the side whose
//    identity key is smaller — both sides decide alike without talking. Two connections
//    dialled by the same side: the dialler closes the newer one, the other side waits.
//  * Outbound: --connect peers are dialled at start and redialled forever (unless connected to
//    that identity in either direction); other slots up to max_outbound are filled from the
//    address book, skipping identities already connected or being dialled. Failed dials back
//    off exponentially with jitter (dial_backoff_min..max).
//  * Gossip: addr carries signed PeerRecords. Records are checked cheaply first (own identity,
//    future time beyond kMaxRecordFutureSkew, stale, unusable address, already known — none of
//    these is misbehaviour), then verified at most at kAddrRatePerSecond per peer (token
//    bucket, burst kMaxAddrRecords; an answer to our getaddr earns kMaxAddrRecords tokens);
//    records over the budget are dropped uncounted. A forged signature disconnects and bans
//    the sender. New, fresh (≤ kFreshRecordAge) records from small unsolicited addr messages
//    are forwarded to kAddrForwardFanout random ready peers, never to the source nor to a peer
//    known to have the record. getaddr is answered once per connection. Our own record is
//    re-signed and sent to every ready peer every self_advertise_interval (jittered).
//  * Misbehaviour: a per-peer score; at kMisbehaviourThreshold the peer is disconnected (never
//    banned for its score alone). Input net/ could not decode (on_bad_message) scores
//    kScoreMalformed and disconnects whatever the score.
//
// Adversary: any peer, before or after the handshake, sending any sequence of decoded
// messages at any time. Bounds per peer: one Handshake, one phi window (constant), a bounded
// set of records it knows (kMaxKnownRecordsPerPeer fingerprints); globally the
// address book (AddrMan capacity), pending dials ≤ max_outbound + connect.size(), local bans ≤
// kMaxLocalBans. Every message costs O(its size) plus at most its token budget of signature
// checks; on_tick costs O(peers + address book).
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "crypto/ed25519.h"
#include "p2p/addrman.h"
#include "p2p/backoff.h"
#include "p2p/bounded_set.h"
#include "p2p/eviction.h"
#include "p2p/handshake.h"
#include "p2p/messages.h"
#include "p2p/phi_accrual.h"
#include "p2p/transaction.h"
#include "p2p/transport.h"
#include "p2p/types.h"

namespace hearsay {

// What net/ knows of a connection once TLS authenticated it.
struct PeerConnected {
  PeerId id = 0;
  PublicKey identity{};  // the Ed25519 key proven by the peer's TLS certificate
  bool inbound = false;
  NetAddress remote;  // the socket's remote address
  // The identity is in --allow-peers (like Bitcoin's noban peers): its announcements are
  // preferred as an outbound peer's are.
  bool trusted = false;
};

// --- actions: what the PeerManager asks net/ to do -------------------------------------------
struct SendAction {
  PeerId peer = 0;
  SharedBytes frame;  // one serialisation, shared by every peer it is sent to
  MsgType type = MsgType::kPing;
};
struct DisconnectAction {
  PeerId peer = 0;
  std::string reason;  // logged by net/
};
struct BanAction {
  PublicKey identity{};
  NetAddress address;  // ip is banned too (port ignored)
  Time until{};
  std::string reason;
};
struct DialAction {
  NetAddress address;
  std::optional<PublicKey> identity;  // pinned: the dial fails unless the remote proves it
};
// Verify these transactions' signatures off the protocol thread and report each verdict with
// PeerManager::on_verified, in any grouping and order. net/ may merge the VerifyActions of one
// burst of events and spread them over its worker threads (--verify-threads).
struct VerifyAction {
  std::vector<TxRef> txs;
};
// Flow control: stop (hold) or resume reading from every connection, so that what peers send
// waits in TCP (their send buffers, then their own queues) instead of in our memory. The
// relay holds while its verification backlog is over a high watermark and resumes below a low
// one (p2p/tx_relay.h); what is already read is still handled. Connections made while held
// start held. Pings go unanswered meanwhile, which is why a hold lasts seconds, not minutes.
struct ReadHoldAction {
  bool hold = false;
};
using Action =
    std::variant<SendAction, DisconnectAction, BanAction, DialAction, VerifyAction, ReadHoldAction>;

// --- limits and defaults ---------------------------------------------------------------------
inline constexpr uint32_t kProtocolVersion = 1;
// Score at which a peer is disconnected (Bitcoin's historical DISCOURAGEMENT_THRESHOLD).
inline constexpr int kMisbehaviourThreshold = 100;
// How long a peer that forged a record stays banned (Bitcoin's DEFAULT_MISBEHAVING_BANTIME).
inline constexpr Duration kMisbehaviourBanTime = std::chrono::hours(24);
// Identities banned locally (so we neither dial nor store them), entries; the oldest ban is
// forgotten first beyond it (net/ keeps the authoritative ban list).
inline constexpr size_t kMaxLocalBans = 1'000;
// Records verified per peer per second, and the burst (Bitcoin's MAX_ADDR_RATE_PER_SECOND and
// MAX_ADDR_PROCESSING_TOKEN_BUCKET); a new peer starts with kAddrInitialTokens (its own record
// plus a few forwarded ones).
inline constexpr double kAddrRatePerSecond = 0.1;
inline constexpr double kAddrInitialTokens = 10;
// A record signed more than this in the future is refused (clock skew allowance).
inline constexpr Duration kMaxRecordFutureSkew = std::chrono::minutes(10);
// Records signed within this are "fresh" and forwarded when new to us.
inline constexpr Duration kFreshRecordAge = std::chrono::minutes(10);
// Our own record is re-signed when older than this, so what we send is always fresh.
inline constexpr Duration kOwnRecordRefresh = std::chrono::minutes(1);
// Only addr messages with at most this many records are forwarded (Bitcoin: 10); larger ones
// are getaddr answers or dumps.
inline constexpr size_t kMaxForwardBatch = 10;
// Peers each fresh record is forwarded to (Bitcoin relays to 2).
inline constexpr size_t kAddrForwardFanout = 2;
// Identities remembered per peer as "it knows this record" (echo suppression), entries.
inline constexpr size_t kMaxKnownRecordsPerPeer = kMaxAddrRecords;
// A getaddr is answered with this share of the address book (Bitcoin's MAX_PCT_ADDR_TO_SEND),
// but at least kMinGetAddrAnswer records (small books) and at most kMaxAddrRecords.
inline constexpr size_t kGetAddrPercent = 23;
inline constexpr size_t kMinGetAddrAnswer = 100;
// How often stale records are expired from the address book.
inline constexpr Duration kAddrExpireInterval = std::chrono::hours(1);
// --connect targets plus addpeer additions (each is redialled forever).
inline constexpr size_t kMaxConnectTargets = 256;
// Misbehaviour points (the threshold disconnects).
inline constexpr int kScoreHandshakeViolation = 100;  // message out of handshake order
inline constexpr int kScoreForgedRecord = 100;        // also banned
inline constexpr int kScoreBadPong = 10;              // pong nonce we did not send
inline constexpr int kScoreMalformed = 100;           // undecodable frame or payload
// The service bit a node sets in its version when it may push whole transactions to us
// unannounced (--push-peers > 0). Unrequested transactions from a peer without it are
// misbehaviour; from a peer with it they are handled like requested ones.
inline constexpr uint64_t kServicePushTx = uint64_t{1} << 0;
// The service bit of a node that announces and requests transactions by short id with peers that
// set it too (sendshortids; p2p/tx_relay.h).
inline constexpr uint64_t kServiceShortIds = uint64_t{1} << 1;
// The service bit of a node in tree relay mode: with a peer that sets it too, transactions are
// pushed eagerly down per-origin trees (treetx), pruned and grafted (p2p/tx_relay.h).
inline constexpr uint64_t kServiceTree = uint64_t{1} << 2;
// The service bit of a node that reconciles its mempool with peers that set it too, on links whose
// short ids are on (reqrecon / recondiff; p2p/tx_relay.h).
inline constexpr uint64_t kServiceRecon = uint64_t{1} << 3;

struct PeerManagerConfig {
  uint32_t network_magic = 0;
  uint32_t protocol_version = kProtocolVersion;
  uint64_t services = 0;
  std::string user_agent = "/hearsay:0.1/";
  // Advertised in version and in our signed PeerRecord. Port 0: we do not listen, no record.
  NetAddress listen_address;
  // version + verack must complete within it after TLS.
  Duration handshake_timeout = std::chrono::seconds(10);
  // A ping every 5 s (while none is outstanding): cheap (32-byte frames), and it sets how
  // fast silence is noticed — phi grows by log10(e) per ping interval of silence.
  Duration ping_interval = std::chrono::seconds(5);
  // Hard limit on silence whatever phi says (a peer can stretch its mean by sending rarely).
  Duration idle_timeout = std::chrono::minutes(5);
  // Cassandra's default conviction threshold is 8; we only suspect at 8 (prefer others for
  // requests) and disconnect at 16 (twice the silence), because a disconnect costs more.
  double phi_suspect = 8.0;
  double phi_disconnect = 16.0;
  // Intervals longer than this are not learned by the detector (see phi_accrual.h).
  Duration phi_max_interval = std::chrono::minutes(1);
  size_t max_outbound = 8;  // --max-outbound (Bitcoin's 8 full-relay outbound peers)
  // --connect peers (repeatable), optionally pinned to an identity: always redialled.
  std::vector<std::pair<NetAddress, std::optional<PublicKey>>> connect;
  // Back-off between dials of one address: 1 s doubling up to 10 min, with jitter.
  Duration dial_backoff_min = std::chrono::seconds(1);
  Duration dial_backoff_max = std::chrono::minutes(10);
  // Our record is re-signed and sent to every ready peer about this often (uniformly jittered
  // ±50%), so nodes that missed it at connect time still learn of us. Bitcoin re-advertises
  // daily; a testnet wants discovery within minutes.
  Duration self_advertise_interval = std::chrono::minutes(10);
  // A DialAction net/ never answered is forgotten after this (net/'s own connect + TLS
  // timeouts are shorter; this only keeps a slot from leaking).
  Duration dial_timeout = std::chrono::minutes(2);
  size_t addrman_capacity = kAddrManCapacity;
  // --ban-time: how long a forger (identity and IP) stays banned.
  Duration ban_time = kMisbehaviourBanTime;
  // Test switch for inbound eviction (p2p/eviction.h): a loopback peer's port stands in for its
  // network group, so tests on one machine can exercise the grouping.
  bool eviction_ports_as_groups = false;
  uint64_t rng_seed = 0;
};

// What RPC and metrics show of a peer.
struct PeerInfo {
  PeerId id = 0;
  PublicKey identity{};
  bool inbound = false;
  bool trusted = false;
  NetAddress remote;
  Time connected_at{};
  bool handshake_done = false;
  bool disconnecting = false;
  // From the peer's version (zero/empty before it).
  uint32_t version = 0;
  uint64_t services = 0;
  std::string user_agent;
  uint64_t best_height = 0;
  NetAddress listen_address;  // the peer's addr_from
  // Liveness.
  std::optional<Duration> last_rtt;
  std::optional<Duration> min_rtt;
  Time last_message{};
  double phi = 0;  // as of the last on_tick / message
  bool suspected = false;
  int misbehaviour = 0;
  // When it last sent a transaction new to our mempool / a new block that joined our chain
  // (zero: never); these protect it from inbound eviction.
  Time last_novel_tx{};
  Time last_novel_block{};
};

// The hook for the relay logic (transaction and block relay). PeerManager owns the handshake,
// liveness and gossip messages; every other message from a ready peer goes to a handler. The
// handler emits actions through the PeerManager it was built with (send, broadcast,
// misbehaving, disconnect, ban) — the same action queue net/ drains. The PeerManager does not
// own the handlers; each must outlive its registration (set_relay, set_block_relay). Without a
// handler, its messages are ignored.
//
// Two handlers: the transaction relay (set_relay) and the block relay (set_block_relay).
// Without a block relay every message goes to the transaction relay. With one: getheaders,
// headers, block, sendcmpct, cmpctblock, getblocktxn, blocktxn and sendheaders go to the block
// relay; inv / getdata / notfound go whole to the transaction relay when every entry is kTx (the
// common case: no copy), whole to the block relay when none is, and are split by entry type
// otherwise (kTx entries to the transaction relay, kBlock / kCmpctBlock entries to the block
// relay, each keeping the message's order). on_peer_ready, on_peer_gone, on_tick and
// on_verified go to both, transaction relay first; a handler ignores verdicts for transactions
// it did not ask about.
class RelayHandler {
 public:
  virtual ~RelayHandler() = default;
  // The handshake with `peer` completed.
  virtual void on_peer_ready(PeerId peer, Time now) = 0;
  // A non-handshake, non-liveness, non-gossip message from a ready peer.
  virtual void on_message(PeerId peer, Message&& msg, Time now) = 0;
  // A peer that was ready is gone (called from on_disconnected).
  virtual void on_peer_gone(PeerId peer, Time now) = 0;
  // Called at the end of every PeerManager::on_tick.
  virtual void on_tick(Time now) = 0;
  // Verdicts for transactions of earlier VerifyActions: valid[i] is txs[i]'s (1 = valid).
  virtual void on_verified(std::span<const TxRef> txs, std::span<const uint8_t> valid,
                           Time now) = 0;
};

class PeerManager {
 public:
  PeerManager(PeerManagerConfig cfg, const KeyPair& identity);
  PeerManager(const PeerManager&) = delete;
  PeerManager& operator=(const PeerManager&) = delete;

  // --- events from net/ ---
  void on_connected(const PeerConnected& p, Time now);  // after TLS; sends our version
  void on_message(PeerId peer, Message&& msg, Time now);
  void on_disconnected(PeerId peer, Time now);
  void on_dial_failed(const NetAddress& addr, Time now);
  // net/ could not decode what the peer sent. `command`: the message's type when its frame was
  // intact and only the payload did not decode; nullopt when the framing itself failed (magic,
  // command, length or checksum), after which net/ reads nothing more from the stream. A
  // conforming peer never sends either, so the peer is scored kScoreMalformed and disconnected
  // whatever its score, with the cause as reason (no ban).
  void on_bad_message(PeerId peer, DecodeError err, Time now,
                      std::optional<MsgType> command = std::nullopt);
  void on_tick(Time now);  // handshake timeouts, pings, phi, dials, expiry
  // Verdicts for the transactions of earlier VerifyActions (forwarded to the relay handler).
  void on_verified(std::span<const TxRef> txs, std::span<const uint8_t> valid, Time now);
  std::vector<Action> take_actions();

  // --- for the relay logic and the daemon ---
  void set_relay(RelayHandler* relay) { m_relay = relay; }
  void set_block_relay(RelayHandler* relay) { m_block_relay = relay; }
  void set_best_height(uint64_t h) { m_best_height = h; }
  // Queue a message for one peer (ignored for unknown or disconnecting peers).
  void send(PeerId peer, const Message& m);
  void send_frame(PeerId peer, SharedBytes frame, MsgType type);
  // One serialisation for every ready peer except `except`.
  void broadcast(const Message& m, std::optional<PeerId> except = std::nullopt);
  void misbehaving(PeerId peer, int points, const std::string& reason);
  void disconnect(PeerId peer, const std::string& reason);
  // Disconnects and bans the peer's identity and address for config().ban_time.
  void ban(PeerId peer, const std::string& reason, Time now);
  // Bans an identity (and the address's IP) that may have disconnected already: a forger
  // that closes its connection before its forgery is found out is banned all the same.
  void ban_identity(const PublicKey& identity, const NetAddress& address, const std::string& reason,
                    Time now);
  // Lifts our own memory of a ban (RPC setban remove / clearbanned; net/ owns the list).
  void unban(const PublicKey& identity) { m_banned.erase(identity); }
  void clear_bans() { m_banned.clear(); }
  // The relays report a peer's useful deliveries: a transaction new to our mempool, a block that
  // joined our chain. The most recent ones protect a peer from inbound eviction.
  void note_novel_tx(PeerId peer, Time now);
  void note_novel_block(PeerId peer, Time now);
  // Every inbound slot is taken and a newcomer knocks: picks an inbound peer to make room
  // (p2p/eviction.h), disconnects it and returns it; nullopt when every one is protected (net/
  // then refuses the newcomer).
  std::optional<PeerId> evict_inbound();
  // Asks net/ to verify these signatures (see VerifyAction).
  void verify(std::vector<TxRef> txs);
  // Asks net/ to stop or resume reading from every peer (ReadHoldAction); repeats are ignored.
  void hold_reads(bool hold);
  bool reads_held() const { return m_reads_held; }
  // Asks every peer to close (graceful shutdown; net/ flushes then closes).
  void disconnect_all(const std::string& reason);
  // Forgets the back-off of every --connect target that is not connected and dials them now
  // (their dials failed while something refused them: a ban since lifted, network activity
  // switched off and on again).
  void redial_now(Time now);
  // Adds a peer to keep connected, like --connect (RPC addpeer): dialled at the next tick and
  // redialled forever. False if that address is already a connect target or kMaxConnectTargets
  // are set.
  bool add_connect(const NetAddress& address, std::optional<PublicKey> identity);

  // --- introspection for RPC/metrics ---
  std::vector<PeerInfo> peers() const;
  std::optional<PeerInfo> peer_info(PeerId peer) const;
  bool is_suspected(PeerId peer) const;
  bool is_ready(PeerId peer) const;
  std::vector<PeerId> ready_peers() const;
  size_t peer_count() const { return m_peers.size(); }
  size_t outbound_count() const;  // live outbound connections (handshaking or ready)
  size_t pending_dials() const { return m_pending.size(); }
  // Inbound peers evicted for a newcomer since start (net/ counts the newcomers it refused
  // because every inbound peer was protected: NetStats::refused_inbound_cap).
  uint64_t evictions() const { return m_evictions; }
  const PublicKey& identity() const { return m_identity.public_key(); }
  const PeerManagerConfig& config() const { return m_cfg; }
  uint32_t magic() const { return m_cfg.network_magic; }

  // The address book, for persistence by net/ (serialize()/deserialize()).
  AddrMan& addrman() { return m_addrman; }
  const AddrMan& addrman() const { return m_addrman; }

  void sanity_check() const;

 private:
  enum class Origin : uint8_t { kInbound, kConnect, kAddrMan, kOther };

  // A bounded FIFO set of record fingerprints (identity and time, SipHash under a per-manager
  // secret key, so a peer cannot aim two records at one fingerprint: a plain hash set is safe).
  using KnownSet = BoundedOrderedSet<uint64_t, std::unordered_set<uint64_t>>;

  struct Peer {
    Peer(const PeerConnected& c, Time now, const PeerManagerConfig& cfg);
    PeerConnected conn;
    Origin origin = Origin::kInbound;
    size_t connect_index = 0;  // for Origin::kConnect
    Time connected_at;
    Handshake handshake;
    PhiAccrualDetector detector;
    double phi = 0;
    bool suspected = false;
    bool disconnecting = false;
    int misbehaviour = 0;
    Time last_message{};
    // Ping state: at most one outstanding.
    std::optional<uint64_t> ping_nonce;
    Time ping_sent{};
    Time next_ping{};
    std::optional<Duration> last_rtt;
    std::optional<Duration> min_rtt;
    // Eviction protection (p2p/eviction.h).
    uint64_t net_group = 0;
    Time last_novel_tx{};
    Time last_novel_block{};
    // Gossip state.
    TokenBucket addr_tokens;
    bool getaddr_answered = false;
    KnownSet known_records{kMaxKnownRecordsPerPeer};
  };

  struct PendingDial {
    NetAddress address;
    std::optional<PublicKey> identity;
    Origin origin = Origin::kOther;
    size_t connect_index = 0;
    Time started{};
  };

  struct ConnectSlot {
    NetAddress address;
    std::optional<PublicKey> pinned;   // from the config
    std::optional<PublicKey> learned;  // identity seen on the last connection
    uint32_t failures = 0;
    Time next_dial{};
    bool pending = false;
    std::optional<PeerId> peer;
    bool is_self = false;  // it turned out to be our own address: never redialled
  };

  // peer_manager.cpp
  Peer* find(PeerId id);
  const Peer* find(PeerId id) const;
  template <class A>
  void push(A&& a) {
    m_actions.emplace_back(std::forward<A>(a));  // in place: no intermediate Action
  }
  void send_version(Peer& p, Time now);
  void handshake_complete(Peer& p, Time now);
  void handle_ready_message(Peer& p, Message&& msg, Time now);
  // Hands a relay message to the transaction or block relay (see RelayHandler).
  void route_to_relays(PeerId peer, Message&& msg, Time now);
  void handle_pong(Peer& p, const PongMsg& m, Time now);
  void tick_peer(Peer& p, Time now);
  void resolve_duplicates(Peer& fresh);
  PeerInfo info_of(const Peer& p) const;
  bool is_banned(const PublicKey& id, Time now) const;

  // peer_manager_addr.cpp: gossip and outbound slots.
  uint64_t fingerprint(const PeerRecord& r) const;
  std::optional<PeerRecord> own_record(Time now);
  void handle_addr(Peer& p, AddrMsg&& m, Time now);
  void handle_getaddr(Peer& p, Time now);
  void forward_records(const Peer& source, const std::vector<PeerRecord>& records);
  void send_records(Peer& p, std::vector<PeerRecord> records);
  void advertise_self(Time now);
  void fill_outbound(Time now);
  void dial(const NetAddress& addr, std::optional<PublicKey> identity, Origin origin,
            size_t connect_index, Time now);
  void match_dial(Peer& p, Time now);
  void pending_failed(size_t index, Time now);
  void connect_slot_closed(size_t index, bool handshake_done, Time now);
  std::set<PublicKey> busy_identities() const;

  PeerManagerConfig m_cfg;
  KeyPair m_identity;
  HandshakeParams m_hs_params;
  std::mt19937_64 m_rng;
  SipKey m_known_key{};
  SipKey m_group_key{};  // keys network groups for eviction
  AddrMan m_addrman;
  RelayHandler* m_relay = nullptr;        // transactions (and everything, without a block relay)
  RelayHandler* m_block_relay = nullptr;  // blocks
  uint64_t m_best_height = 0;

  std::map<PeerId, Peer> m_peers;
  std::vector<PendingDial> m_pending;
  std::vector<ConnectSlot> m_connect;
  std::map<PublicKey, Time> m_banned;  // identity → until
  std::optional<PeerRecord> m_own_record;
  Time m_next_expire{};
  Time m_next_advertise{};
  uint64_t m_evictions = 0;
  bool m_reads_held = false;
  std::vector<Action> m_actions;
};

}  // namespace hearsay
