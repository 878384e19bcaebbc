// Host: the node's network event loop — one io thread (the network thread, "hs-net") that owns
// the listener, the dialler, the timers and the PeerManager, and carries out its actions; the
// Connections run on I/O threads beside it.
//
// Threading: the network thread runs one io_context. Every Host handler and every PeerManager
// call runs on it, so that io_context's implicit strand is the only synchronisation the
// protocol needs and the PeerManager is never called from two threads. Other threads (tests,
// the RPC server) use the thread-safe accessors, which post to the network thread and wait for
// the answer. Host's own handlers capture `this`: the Host outlives its threads (stop() joins
// them, and the destructor calls stop()).
//
// I/O threads (io_threads, "hs-io"): each runs its own io_context, and each Connection lives on
// one of them (the one with the fewest connections when it was accepted or dialled). What a
// connection costs per message — TLS, framing, the checksum, decoding and transaction ids —
// is spent there, in parallel; what one socket read decoded reaches the network thread in one
// hand-over (ConnectionObserver::on_input), and the frames that one round of actions sends to
// a peer leave it in one (Connection::send of a batch). With io_threads 0 the Connections run
// on the network thread itself (one thread does everything, as a simulator would want). The
// Host reads a Connection's live state (traffic, queues) on the Connection's own thread, and
// waits for it (peer_stats, total_traffic).
//
// Events: after each event (TLS established, message, undecodable input, close, dial failure,
// tick) the PeerManager runs at once and its actions are drained and carried out in order:
// SendAction → Connection::send; DisconnectAction → flush-then-close; BanAction → added to the
// ban list (identity, and the IP unless loopback), saved, and enforced at accept, dial and
// authentication; DialAction → TCP connect with a timeout, then TLS pinned to the identity if
// given; a failure at either step is reported as on_dial_failed; VerifyAction → see below.
//
// Signature verification: the VerifyActions of one burst of io events (every message of one
// socket read, and whatever else completed in the same round) are appended to one pending
// batch; a single posted handler hands the batch to the VerifyPool (verify_threads workers),
// whose per-chunk verdicts are posted back to the io thread and given to
// PeerManager::on_verified. A batch of at most verify_inline_max transactions is verified on
// the io thread itself when the pool is idle (it would otherwise pay two thread hand-offs for
// one ≈50 µs check; see kDefaultVerifyInlineMax). Verdicts arriving after stop began are
// dropped; the pool is stopped (pending work dropped) at stop().
//
// Relay: HostConfig::make_relay builds the RelayHandler (TxRelay) right after the PeerManager,
// then make_block_relay builds the block relay (BlockRelay); each registers itself with the
// PeerManager. Host owns both and destroys them in reverse order (block relay, then the
// transaction relay, then the PeerManager). Callers reach them on the io thread through run().
//
// Bans: one BanList (net/ban_list.h) of identities and IPs, loaded from datadir/banlist.dat at
// start (ended bans dropped; a corrupt file moved aside, never fatal: ban_store.h), saved
// whenever it changes and at stop. RPC changes it through set_ban / remove_ban / clear_bans.
// IP bans never apply to loopback (a local testnet shares it); identity bans do.
//
// Inbound caps: at most max_inbound inbound connections (including those still in TLS, not
// those closing) and max_inbound_per_ip from one IP address; loopback is exempt from the per-IP
// cap by default so a testnet of many nodes on one machine works. When the slots are full the
// PeerManager may evict an unprotected inbound peer to make room (p2p/eviction.h); otherwise,
// and over the per-IP cap, the socket is closed at once and logged.
//
// Stalls: a frame that misses its deadline, or that gives way when partial frames reach their
// memory cap (one FrameBudget, given to every Connection), cuts its connection. Each cut is
// counted by cause; the stalled ones are recorded in a StallGuard, and an identity or IP that
// stalls too often is discouraged for a while — refused at authentication (identity) and at
// accept (IP), logged once when it starts, kept in memory only (never in banlist.dat).
//
// The address book is loaded from the data directory at start (a corrupt one is moved aside
// with a warning, never fatal), saved every kAddrBookSaveInterval and at stop.
//
// stop() is graceful: stop accepting and dialling, ask the PeerManager to disconnect everyone
// (flush-then-close), wait up to the shutdown timeout, abort what is left, join the thread.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "net/address.h"
#include "net/ban_list.h"
#include "net/connection.h"
#include "net/frame_budget.h"
#include "net/stall_guard.h"
#include "net/tls.h"
#include "net/verify_pool.h"
#include "p2p/peer_manager.h"

namespace hearsay::test {
class HostTestAccess;
}

namespace hearsay {

// Bitcoin's 125 connections minus its 8 outbound full-relay slots: hearsayd's default.
inline constexpr size_t kDefaultMaxInbound = 117;
// Inbound connections from one IP address: enough for a few nodes behind one NAT, few enough
// that one host cannot fill the inbound slots (an eclipse attempt needs many addresses).
inline constexpr size_t kDefaultMaxInboundPerIp = 4;
// The PeerManager's timers resolve to this; Connection timeouts are checked at this rate.
inline constexpr std::chrono::milliseconds kDefaultTickInterval{100};
// TCP connect of a dial (geth's defaultDialTimeout is 15 s; loopback and LANs need far less).
inline constexpr std::chrono::milliseconds kDefaultConnectTimeout{5'000};
// How often the address book is written (Bitcoin's DUMP_PEERS_INTERVAL is 15 min).
inline constexpr std::chrono::minutes kAddrBookSaveInterval{15};

// Refusal reasons kept for introspection (the log has all of them).
inline constexpr size_t kMaxRecentRefusals = 32;
// Batches of at most this many transactions are verified on the io thread when the pool is
// idle. Measured on the 2-core dev VM (other builds running; -O2; 1,500 samples each), time
// from handing a batch over on the io thread to its verdicts back on the io thread, p50:
//   1 tx: inline 43 µs, pool 110 µs;   2 txs: inline 83 µs, pool 170 µs;
//   3 txs: inline 124 µs, pool 177 µs; 4 txs: inline 164 µs, pool 233 µs.
// The two thread wake-ups (io → worker, worker → io) cost ≈ 65 µs, more than a signature
// check. Inline stops at 2 so the io thread is never blocked for more than ≈ 0.1 ms; under load
// the pool is busy and everything goes to it.
inline constexpr size_t kDefaultVerifyInlineMax = 2;

// Connections run on the network thread unless asked otherwise. Measured on the 2-core dev VM
// (2026-12-06, release): an I/O thread takes 1.6-2.0 µs of a pushed 250-byte transaction's
// 9-14 µs off the network thread, but two thread hand-offs per message add ≈ 0.25 ms to a hop
// (5 nodes, pull: p50 0.6 against 0.3-0.4 ms), and with every core verifying, relay is no
// faster. Where the network thread is the limit (many cores: testnet.py throughput shows it
// by thread), --io-threads 1 or more moves that work off it.
inline constexpr size_t kDefaultIoThreads = 0;

struct HostConfig {
  std::optional<std::string> listen;  // "HOST:PORT" (port 0: ephemeral); nullopt: no listener
  std::string datadir;                // address book location; empty: not persisted
  std::shared_ptr<const AllowList> allow_list;  // null: any identity may connect
  // --trusted-peers: identities treated as allow-listed (never evicted, announcements preferred)
  // without shutting anyone else out. null: none.
  std::shared_ptr<const AllowList> trusted;
  std::vector<DialTarget> connect;  // --connect, redialled forever by p2p
  size_t max_inbound = kDefaultMaxInbound;
  size_t max_inbound_per_ip = kDefaultMaxInboundPerIp;
  bool loopback_exempt_per_ip = true;
  ConnectionLimits limits;
  // --max-partial-frame-memory: what all connections together may hold in partial frames
  // (net/frame_budget.h); at least one maximal frame, or no block could ever arrive.
  size_t max_partial_frame_bytes = kDefaultMaxPartialFrameBytes;
  LinkEmulation link;
  std::chrono::milliseconds connect_timeout = kDefaultConnectTimeout;
  std::chrono::milliseconds tick_interval = kDefaultTickInterval;
  std::string keylog_path;    // SSLKEYLOGFILE (the daemon passes keylog_path_from_env())
  size_t verify_threads = 0;  // --verify-threads: signature workers; 0 = one per core
  // --io-threads: threads that run the Connections (TLS, framing, decoding); 0: the network
  // thread runs them itself (kDefaultIoThreads says why that is the default).
  size_t io_threads = kDefaultIoThreads;
  // Batches this small are verified on the io thread when no worker is busy; 0: never.
  size_t verify_inline_max = kDefaultVerifyInlineMax;
  // Builds the relay logic once the PeerManager exists (start()); the handler registers
  // itself with the PeerManager (set_relay). Host owns the result. Empty: no relay.
  std::function<std::unique_ptr<RelayHandler>(PeerManager&)> make_relay;
  // Builds the block relay right after make_relay (it registers itself with the PeerManager:
  // set_block_relay). Host owns the result and destroys it first. Empty: no block relay.
  std::function<std::unique_ptr<RelayHandler>(PeerManager&)> make_block_relay;
  // network_magic and the protocol's knobs; Host fills listen_address and connect.
  PeerManagerConfig peer_manager;
};

// What getpeerinfo shows of one connection (net's view; `protocol` is the PeerManager's).
struct PeerStats {
  PeerId id = 0;
  std::optional<PublicKey> identity;
  bool inbound = false;
  NetAddress remote;
  std::string state;
  TrafficCounters traffic;
  size_t queued_bytes = 0;
  bool read_paused = false;
  LinkEmulation link;
  std::optional<PeerInfo> protocol;
};

struct NetStats {
  uint64_t accepted = 0;
  uint64_t refused_inbound_cap = 0;
  uint64_t refused_per_ip = 0;
  uint64_t refused_banned = 0;
  uint64_t tls_refused = 0;  // TLS handshakes that failed or were refused (both directions)
  uint64_t dials = 0;
  uint64_t dial_failures = 0;
  std::deque<std::string> recent_refusals;     // newest last, ≤ kMaxRecentRefusals
  std::deque<std::string> recent_disconnects;  // established connections that closed, same bound
  // Signature verification.
  size_t verify_threads = 0;
  size_t io_threads = 0;
  size_t verify_queue_depth = 0;  // transactions waiting for or under verification
  uint64_t verified = 0;          // transactions whose verdict was delivered
  uint64_t verify_invalid = 0;    // of which bad signatures
  uint64_t verified_inline = 0;   // of which verified on the io thread
  uint64_t verify_batches = 0;    // batches handed to the pool
  uint64_t verdicts_dropped = 0;  // verdicts that arrived after stop began
  // Bans in force.
  size_t bans = 0;
  uint64_t ban_saves_failed = 0;
  // Stalls (net/connection.h's frame deadline, net/frame_budget.h, net/stall_guard.h).
  uint64_t stalls_frame_deadline = 0;  // connections cut: a frame missed its deadline
  uint64_t stalls_memory_cap = 0;      // connections cut: partial frames at their memory cap
  uint64_t discouragements = 0;        // discouragements started (identities and IPs)
  uint64_t refused_discouraged = 0;    // connections refused while discouraged
  size_t partial_frame_bytes = 0;      // held in partial frames now (the budget's accounting)
  size_t partial_frame_bytes_peak = 0;
  size_t partial_frame_cap = 0;
  // Flow control (ReadHoldAction): reading from every peer is held now; holds since start.
  bool reads_held = false;
  uint64_t read_holds = 0;
  // setnetworkactive: false while every connection and dial is refused.
  bool network_active = true;
};

class Host : private ConnectionObserver {
 public:
  Host(const KeyPair& identity, HostConfig config);
  ~Host() override;  // NOLINT(bugprone-exception-escape): see host.cpp
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  // Binds the listener, loads the address book, starts the io thread. Errors name the cause
  // (address in use, bad listen address, TLS setup).
  Status start();
  // Idempotent. Never call it from the io thread (it waits for that thread).
  void stop();

  const PublicKey& identity() const { return m_identity.public_key(); }
  // The bound listening address (the real port when configured with port 0).
  std::optional<NetAddress> listen_address() const { return m_listen; }

  // --- thread-safe accessors (run on the io thread, wait for the answer) ---
  std::vector<PeerStats> peer_stats();
  NetStats net_stats();
  // Messages and bytes by type and direction since start, closed connections included (the
  // counters /metrics exports; peer_stats() only shows live connections).
  TrafficCounters total_traffic();
  size_t connection_count();
  // Runs f(PeerManager&) on the io thread, then carries out the actions it produced.
  // Only between start() and stop().
  template <class F>
  auto with_peer_manager(F f) -> decltype(f(std::declval<PeerManager&>())) {
    return run_on_io([&]() -> decltype(f(std::declval<PeerManager&>())) {
      struct After {
        Host* host;
        // An action that throws leaves the peers inconsistent: terminating is the answer.
        ~After() { host->run_actions(); }  // NOLINT(bugprone-exception-escape)
      } after{this};
      return f(*m_pm);
    });
  }
  // Runs f() on the io thread, then carries out the actions it produced (e.g. node/ calling
  // its TxRelay, whose pointer it kept from make_relay). Before start() or after stop() it runs
  // on the calling thread.
  template <class F>
  auto run(F f) -> decltype(f()) {
    return run_on_io([&]() -> decltype(f()) {
      struct After {
        Host* host;
        // An action that throws leaves the peers inconsistent: terminating is the answer.
        ~After() { host->run_actions(); }  // NOLINT(bugprone-exception-escape)
      } after{this};
      return f();
    });
  }

  // Queues f() to run on the io thread, then carries out the actions it produced; returns at
  // once (any thread). Never runs once the io thread has stopped.
  template <class F>
  void post(F f) {
    boost::asio::post(m_ioc, [this, f = std::move(f)]() mutable {
      f();
      run_actions();
    });
  }

  // --- bans (thread-safe; for RPC) ---
  // Bans in force now: identities first, then IPs.
  std::vector<BanEntry> list_bans();
  // Bans `target` — an identity (64 hex digits) or an IP address — for `duration` (> 0, at
  // most kMaxBanDuration), disconnects matching connected peers and saves the list. Refuses a
  // loopback IP (a local testnet shares it: ban the identity) and malformed targets.
  Status set_ban(std::string_view target, Duration duration, std::string reason);
  // Lifts the ban of exactly `target` (same forms), in the PeerManager's memory too; false when
  // there was none or the target does not parse.
  bool remove_ban(std::string_view target);
  void clear_bans();

  // --- network activity (thread-safe; RPC setnetworkactive, Bitcoin Core's semantics) ---
  // false: closes every connection, refuses every inbound connection and dial until set true
  // again, which redials the --connect peers at once. Returns the state now in effect.
  bool set_network_active(bool active);

 private:
  friend class test::HostTestAccess;
  struct Slot {
    std::shared_ptr<Connection> conn;
    std::optional<NetAddress> dialled;  // outbound: the address of the DialAction
    size_t io = 0;                      // its I/O thread (an index of m_io; unused without)
    bool reported = false;              // on_connected was called
    bool closing = false;               // the Host closed it: nothing more it sent is read
    std::optional<PublicKey> identity;  // once established
    std::vector<OutFrame> outbox;       // this round's frames, sent together (flush_sends)
  };
  // One I/O thread: its io_context, kept running until stop() by the work guard.
  struct IoThread {
    boost::asio::io_context ctx{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{
        ctx.get_executor()};
    std::thread thread;
    size_t connections = 0;
  };

  template <class F>
  auto run_on_io(F f) -> decltype(f()) {
    using R = decltype(f());
    if (!m_thread.joinable() || std::this_thread::get_id() == m_thread.get_id()) return f();
    std::packaged_task<R()> task(std::move(f));
    auto fut = task.get_future();
    boost::asio::post(m_ioc, [&task] { task(); });
    return fut.get();
  }

  // ConnectionObserver: on a Connection's thread; each hands over to the network thread.
  void on_established(const std::shared_ptr<Connection>& c) override;
  void on_input(const std::shared_ptr<Connection>& c, std::vector<Inbound>&& input) override;
  void on_closed(const std::shared_ptr<Connection>& c, const std::string& reason,
                 bool established) override;
  // The same events, on the network thread.
  void established(const std::shared_ptr<Connection>& c);
  void deliver(const std::shared_ptr<Connection>& c, std::vector<Inbound>& input);
  void closed(const std::shared_ptr<Connection>& c, const std::string& reason, bool established);
  void close(Slot& slot, CloseMode mode, std::string reason);
  void flush_sends();
  boost::asio::ip::tcp::socket to_io_thread(boost::asio::ip::tcp::socket socket, size_t& io);
  std::vector<Connection::Snapshot> snapshots();

  void do_accept();
  void on_accept(const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket);
  std::optional<std::string> inbound_refusal(const NetAddress& remote);
  void dial(const DialAction& d);
  void add_connection(boost::asio::ip::tcp::socket socket, bool inbound,
                      std::optional<NetAddress> dialled, std::optional<PublicKey> pinned);
  void schedule_tick();
  void on_tick();
  void run_actions();
  void execute(Action& a);
  void ban(const BanAction& b);
  void disconnect_banned(const std::string& reason);
  void save_bans();
  void redial();
  bool is_banned(const PublicKey& id) const;
  bool is_banned_ip(const NetAddress& addr) const;
  void queue_verify(std::vector<TxRef>&& txs);
  void hold_reads(bool hold);
  void dispatch_verify();
  void on_verdicts(std::span<const TxRef> txs, std::span<const uint8_t> valid);
  std::optional<std::string> discouraged_refusal(const NetAddress& remote);
  void note_frame_cut(const Connection& c);
  void note_refusal(std::string what);
  void note_disconnect(std::string what);
  void begin_stop();
  void maybe_stopped();
  void save_addr_book();
  Time now() const;

  KeyPair m_identity;
  HostConfig m_cfg;
  FrameBudget m_frames;  // before m_io and m_ioc: outlives the Connections their handlers hold
  // Before m_ioc: the sockets of Connections that m_ioc's handlers hold are on these contexts.
  std::vector<std::unique_ptr<IoThread>> m_io;
  boost::asio::io_context m_ioc;
  std::unique_ptr<TlsContext> m_tls;
  std::unique_ptr<PeerManager> m_pm;
  std::unique_ptr<RelayHandler> m_relay;        // after m_pm: destroyed before it
  std::unique_ptr<RelayHandler> m_block_relay;  // after m_relay: destroyed before it
  std::unique_ptr<VerifyPool> m_verify;         // after m_ioc: joined before it goes
  std::vector<TxRef> m_verify_pending;          // this burst's VerifyActions
  bool m_verify_scheduled = false;              // a dispatch_verify is posted
  uint64_t m_verified_inline = 0;
  uint64_t m_invalid_inline = 0;
  boost::asio::ip::tcp::acceptor m_acceptor;
  boost::asio::steady_timer m_tick_timer;
  boost::asio::steady_timer m_accept_retry;
  std::optional<NetAddress> m_listen;
  std::map<PeerId, Slot> m_slots;
  std::vector<PeerId> m_outbox_peers;  // slots with frames in their outbox
  bool m_holding_sends = false;        // deliver() flushes once, after the whole read
  std::set<std::shared_ptr<boost::asio::ip::tcp::socket>> m_dialling;
  PeerId m_next_id = 1;
  BanList m_bans;
  StallGuard m_stall_guard;
  NetStats m_stats;
  TrafficCounters m_closed_traffic;  // of connections that closed
  Time m_next_addr_save{};
  bool m_started = false;
  bool m_stopping = false;
  bool m_network_active = true;
  std::promise<void> m_drained;
  bool m_drained_set = false;
  std::thread m_thread;
};

}  // namespace hearsay
