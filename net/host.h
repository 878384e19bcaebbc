// Host: the node's network event loop — one io thread that owns the listener, every
// Connection, the dialler, the timers and the PeerManager, and carries out its actions.
//
// Threading: one io_context run by one thread (the network thread). Every handler, every
// Connection and every PeerManager call runs on it, so the io_context's implicit strand is the
// only synchronisation and the PeerManager is never called from two threads. Other threads
// (tests, the RPC server) use the thread-safe accessors, which post to the io thread and wait
// for the answer. Host's own handlers capture `this`: the Host outlives its io thread (stop()
// joins it, and the destructor calls stop()).
//
// Events: after each event (TLS established, message, close, dial failure, tick) the
// PeerManager runs at once and its actions are drained and carried out in order:
// SendAction → Connection::send; DisconnectAction → flush-then-close; BanAction → remembered
// here (in memory; identity and non-loopback IP) and enforced at accept, dial and
// authentication; DialAction → TCP connect with a timeout, then TLS pinned to the identity if
// given; a failure at either step is reported as on_dial_failed.
//
// Inbound caps: at most max_inbound inbound connections (including those still in TLS) and
// max_inbound_per_ip from one IP address; loopback is exempt from the per-IP cap by default so
// a testnet of many nodes on one machine works. A refused socket is closed at once and logged.
//
// The address book is loaded from the data directory at start (a corrupt one is moved aside
// with a warning, never fatal), saved every kAddrBookSaveInterval and at stop.
//
// stop() is graceful: stop accepting and dialling, ask the PeerManager to disconnect everyone
// (flush-then-close), wait up to the shutdown timeout, abort what is left, join the thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "net/address.h"
#include "net/connection.h"
#include "net/tls.h"
#include "p2p/peer_manager.h"

namespace hearsay {

// Bitcoin's 125 connections minus its 8 outbound full-relay slots (the default).
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
struct NetAddressLess {
  bool operator()(const NetAddress& a, const NetAddress& b) const {
    return a.ip != b.ip ? a.ip < b.ip : a.port < b.port;
  }
};

// Refusal reasons kept for introspection (the log has all of them).
inline constexpr size_t kMaxRecentRefusals = 32;
// Bans kept in memory; beyond it the ban expiring first is dropped.
inline constexpr size_t kMaxBans = 10'000;

struct HostConfig {
  std::optional<std::string> listen;  // "HOST:PORT" (port 0: ephemeral); nullopt: no listener
  std::string datadir;                // address book location; empty: not persisted
  std::shared_ptr<const AllowList> allow_list;  // null: any identity may connect
  std::vector<DialTarget> connect;              // --connect, redialled forever by p2p
  size_t max_inbound = kDefaultMaxInbound;
  size_t max_inbound_per_ip = kDefaultMaxInboundPerIp;
  bool loopback_exempt_per_ip = true;
  ConnectionLimits limits;
  LinkEmulation link;
  std::chrono::milliseconds connect_timeout = kDefaultConnectTimeout;
  std::chrono::milliseconds tick_interval = kDefaultTickInterval;
  std::string keylog_path;  // SSLKEYLOGFILE (the daemon passes keylog_path_from_env())
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
};

class Host : private ConnectionObserver {
 public:
  Host(KeyPair identity, HostConfig config);
  ~Host() override;
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
  size_t connection_count();
  // Runs f(PeerManager&) on the io thread, then carries out the actions it produced.
  // Only between start() and stop().
  template <class F>
  auto with_peer_manager(F f) -> decltype(f(std::declval<PeerManager&>())) {
    return run_on_io([&]() -> decltype(f(std::declval<PeerManager&>())) {
      struct After {
        Host* host;
        ~After() { host->run_actions(); }
      } after{this};
      return f(*m_pm);
    });
  }
  // Queues a frame on a connection, bypassing the PeerManager (tests of the write path).
  bool send_ForTest(PeerId peer, SharedBytes frame, MsgType type);

 private:
  struct Slot {
    std::shared_ptr<Connection> conn;
    std::optional<NetAddress> dialled;  // outbound: the address of the DialAction
    bool reported = false;              // on_connected was called
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

  // ConnectionObserver
  void on_established(const std::shared_ptr<Connection>& c) override;
  void on_message(const std::shared_ptr<Connection>& c, Message&& m) override;
  void on_closed(const std::shared_ptr<Connection>& c, const std::string& reason,
                 bool established) override;

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
  bool is_banned(const PublicKey& id) const;
  bool is_banned_ip(const NetAddress& addr) const;
  void note_refusal(std::string what);
  void note_disconnect(std::string what);
  void begin_stop();
  void maybe_stopped();
  void save_addr_book();
  Time now() const;

  KeyPair m_identity;
  HostConfig m_cfg;
  boost::asio::io_context m_ioc;
  std::unique_ptr<TlsContext> m_tls;
  std::unique_ptr<PeerManager> m_pm;
  boost::asio::ip::tcp::acceptor m_acceptor;
  boost::asio::steady_timer m_tick_timer;
  boost::asio::steady_timer m_accept_retry;
  std::optional<NetAddress> m_listen;
  std::map<PeerId, Slot> m_slots;
  std::set<std::shared_ptr<boost::asio::ip::tcp::socket>> m_dialling;
  PeerId m_next_id = 1;
  std::map<PublicKey, Time> m_banned_ids;
  std::map<NetAddress, Time, NetAddressLess> m_banned_ips;  // keyed by ip_only()
  NetStats m_stats;
  Time m_next_addr_save{};
  bool m_started = false;
  bool m_stopping = false;
  std::promise<void> m_drained;
  bool m_drained_set = false;
  std::thread m_thread;
};

}  // namespace hearsay
