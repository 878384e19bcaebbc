#include "net/host.h"

#include <pthread.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <latch>
#include <random>

#include "crypto/hex.h"
#include "net/addr_store.h"
#include "net/ban_store.h"
#include "net/rate_limited_log.h"

namespace hearsay {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {
// Pause before accepting again after an accept error (e.g. out of file descriptors).
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
// Extra time stop() grants beyond the connections' shutdown timeout before it aborts.
constexpr std::chrono::milliseconds kStopGrace{1'000};

std::string short_id(const PublicKey& k) {
  return to_hex(k).substr(0, 8);
}

int64_t whole_seconds(Duration d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}
}  // namespace

Host::Host(const KeyPair& identity, HostConfig config)
    : m_identity(identity),
      m_cfg(std::move(config)),
      m_frames(m_cfg.max_partial_frame_bytes),
      m_acceptor(m_ioc),
      m_tick_timer(m_ioc),
      m_accept_retry(m_ioc) {}

// stop() throws only when a thread cannot be joined, after which nothing is consistent.
Host::~Host() {  // NOLINT(bugprone-exception-escape)
  stop();
}

Time Host::now() const {
  return std::chrono::duration_cast<Time>(std::chrono::system_clock::now().time_since_epoch());
}

Status Host::start() {
  HEARSAY_CHECK(!m_started);
  crypto_init();
  auto tls = TlsContext::create(m_identity, m_cfg.keylog_path);
  if (!tls) return fail(tls.error());
  m_tls = std::move(*tls);

  PeerManagerConfig pmc = m_cfg.peer_manager;
  if (m_cfg.listen) {
    auto ep = parse_endpoint(*m_cfg.listen);
    if (!ep) return fail("--listen: " + ep.error());
    error_code ec;
    m_acceptor.open(ep->protocol(), ec);
    if (!ec) m_acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) m_acceptor.bind(*ep, ec);
    if (!ec) m_acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return fail("cannot listen on " + *m_cfg.listen + ": " + ec.message() +
                  (ec == asio::error::address_in_use ? " (another process uses this port)" : ""));
    m_listen = to_net_address(m_acceptor.local_endpoint());
    pmc.listen_address = *m_listen;
  }
  pmc.connect.clear();
  for (const DialTarget& t : m_cfg.connect)
    pmc.connect.emplace_back(t.address, t.identity);
  if (pmc.rng_seed == 0)
    pmc.rng_seed = (uint64_t(std::random_device{}()) << 32) | std::random_device{}();
  m_pm = std::make_unique<PeerManager>(pmc, m_identity);
  if (m_cfg.make_relay) m_relay = m_cfg.make_relay(*m_pm);
  if (m_cfg.make_block_relay) m_block_relay = m_cfg.make_block_relay(*m_pm);

  if (!m_cfg.datadir.empty()) {
    AddrBookLoad load = load_addr_book(m_cfg.datadir, m_pm->addrman(), now());
    if (!load.warning.empty())
      spdlog::warn("{}", load.warning);
    else if (load.found)
      spdlog::info("address book: {} entries loaded", load.entries);
    m_next_addr_save = now() + kAddrBookSaveInterval;

    BanListLoad bans = load_ban_list(m_cfg.datadir, now());
    if (!bans.warning.empty()) spdlog::warn("{}", bans.warning);
    for (BanEntry& e : bans.entries)
      m_bans.add(std::move(e));
    if (bans.found)
      spdlog::info("ban list: {} bans loaded, {} ended and dropped", m_bans.size(), bans.expired);
  }
  m_verify = std::make_unique<VerifyPool>(m_cfg.verify_threads);
  for (size_t i = 0; i < m_cfg.io_threads; ++i) {
    auto& io = *m_io.emplace_back(std::make_unique<IoThread>());
    io.thread = std::thread([&io] {
      pthread_setname_np(pthread_self(), "hs-io");
      io.ctx.run();
    });
  }

  spdlog::info("node {} {}", to_hex(identity()),
               m_listen ? "listening on " + to_string(*m_listen) : std::string("not listening"));
  m_started = true;
  if (m_listen) do_accept();
  asio::post(m_ioc, [this] {
    m_pm->on_tick(now());
    run_actions();
  });
  schedule_tick();
  m_thread = std::thread([this] {
    pthread_setname_np(pthread_self(), "hs-net");  // top -H, perf and testnet.py see it
    m_ioc.run();
  });
  return {};
}

// --- accepting ----------------------------------------------------------------------------

void Host::do_accept() {
  m_acceptor.async_accept(
      [this](const error_code& ec, tcp::socket socket) { on_accept(ec, std::move(socket)); });
}

std::optional<std::string> Host::inbound_refusal(const NetAddress& remote) {
  if (!m_network_active) return "network activity is off (setnetworkactive false)";
  if (is_banned_ip(remote)) {
    ++m_stats.refused_banned;
    return "address is banned";
  }
  if (auto why = discouraged_refusal(remote)) return why;
  // Connections on their way out (an evicted peer flushing) no longer hold a slot.
  size_t inbound = 0, same_ip = 0;
  for (const auto& [id, slot] : m_slots) {
    const Connection& c = *slot.conn;
    if (!c.inbound() || c.state() == Connection::State::kClosing ||
        c.state() == Connection::State::kClosed)
      continue;
    ++inbound;
    if (ip_only(c.remote()) == ip_only(remote)) ++same_ip;
  }
  bool exempt = m_cfg.loopback_exempt_per_ip && is_loopback(remote);
  if (!exempt && same_ip >= m_cfg.max_inbound_per_ip) {
    ++m_stats.refused_per_ip;
    return "inbound connections from this IP at their cap (" +
           std::to_string(m_cfg.max_inbound_per_ip) + ")";
  }
  if (inbound >= m_cfg.max_inbound) {
    // Full: the newcomer may take the slot of an unprotected inbound peer (p2p/eviction.h).
    if (auto victim = m_pm->evict_inbound()) {
      auto it = m_slots.find(*victim);
      spdlog::info("inbound slots full ({}): evicting {} for {}", m_cfg.max_inbound,
                   it != m_slots.end() ? it->second.conn->log_prefix() : std::to_string(*victim),
                   to_string(remote));
      run_actions();
      return std::nullopt;
    }
    ++m_stats.refused_inbound_cap;
    return "inbound connections at their cap (" + std::to_string(m_cfg.max_inbound) +
           ") and every inbound peer is protected from eviction";
  }
  return std::nullopt;
}

void Host::on_accept(const error_code& ec, tcp::socket socket) {
  if (m_stopping || !m_acceptor.is_open()) return;
  if (ec) {
    spdlog::warn("accept failed: {}", ec.message());
    m_accept_retry.expires_after(kAcceptRetryDelay);
    m_accept_retry.async_wait([this](const error_code& e) {
      if (!e && !m_stopping) do_accept();
    });
    return;
  }
  error_code rec;
  tcp::endpoint ep = socket.remote_endpoint(rec);
  if (rec) {
    do_accept();
    return;
  }
  NetAddress remote = to_net_address(ep);
  if (auto why = inbound_refusal(remote)) {
    note_refusal(to_string(remote) + " in: " + *why);
    peer_log().info(ip_to_string(remote),
                    fmt::format("{} in refused: {}", to_string(remote), *why));
    socket.close(rec);
  } else {
    ++m_stats.accepted;
    add_connection(std::move(socket), true, std::nullopt, std::nullopt);
  }
  do_accept();
}

// Moves an accepted or connected socket to the I/O thread with the fewest connections (its
// index in `io`). Without I/O threads, or should the move fail, it stays on the network thread,
// where a Connection works just as well.
tcp::socket Host::to_io_thread(tcp::socket socket, size_t& io) {
  if (m_io.empty()) return socket;
  size_t least = 0;
  for (size_t i = 1; i < m_io.size(); ++i)
    if (m_io[i]->connections < m_io[least]->connections) least = i;
  error_code ec;
  const tcp::endpoint local = socket.local_endpoint(ec);
  if (ec) return socket;
  tcp::socket moved(m_io[least]->ctx);
  const auto fd = socket.release(ec);
  if (ec) return socket;
  moved.assign(local.protocol(), fd, ec);
  if (ec) {
    ::close(fd);
    spdlog::warn("cannot hand a socket to an I/O thread: {}", ec.message());
    return tcp::socket(m_ioc);  // closed: the handshake fails at once and is reported
  }
  ++m_io[least]->connections;
  io = least;
  return moved;
}

void Host::add_connection(tcp::socket socket, bool inbound, std::optional<NetAddress> dialled,
                          std::optional<PublicKey> pinned) {
  // Nagle's algorithm would hold a small inv or getdata back for up to an ACK delay (40 ms on
  // Linux) while the previous segment is unacknowledged: relay latency is made of such
  // messages, and the send queue already coalesces what is written together.
  error_code nodelay_ec;
  socket.set_option(tcp::no_delay(true), nodelay_ec);
  Connection::Options o;
  o.id = m_next_id++;
  o.inbound = inbound;
  o.magic = m_cfg.peer_manager.network_magic;
  o.pinned = pinned;
  o.allow = m_cfg.allow_list;
  o.limits = m_cfg.limits;
  o.link = m_cfg.link;
  o.frame_budget = &m_frames;
  o.read_held = m_stats.reads_held;  // hold_reads() reaches it from now on, in order
  size_t io = m_io.size();           // none: the network thread
  socket = to_io_thread(std::move(socket), io);
  auto conn = Connection::create(std::move(socket), *m_tls, *this, std::move(o));
  Slot& slot = m_slots[conn->id()];
  slot.conn = conn;
  slot.dialled = dialled;
  slot.io = io;
  conn->start();
}

// --- dialling -----------------------------------------------------------------------------

void Host::dial(const DialAction& d) {
  ++m_stats.dials;
  auto fail_now = [&](const std::string& why) {
    ++m_stats.dial_failures;
    note_refusal(to_string(d.address) + " out: " + why);
    spdlog::info("dial {} failed: {}", to_string(d.address), why);
    m_pm->on_dial_failed(d.address, now());
  };
  if (m_stopping) return fail_now("shutting down");
  if (!m_network_active) return fail_now("network activity is off (setnetworkactive false)");
  if ((d.identity && is_banned(*d.identity)) || is_banned_ip(d.address)) return fail_now("banned");
  auto socket = std::make_shared<tcp::socket>(m_ioc);
  auto timer = std::make_shared<asio::steady_timer>(m_ioc, m_cfg.connect_timeout);
  auto timed_out = std::make_shared<bool>(false);
  m_dialling.insert(socket);
  timer->async_wait([socket, timed_out](const error_code& ec) {
    if (ec) return;
    *timed_out = true;
    error_code ignored;
    socket->close(ignored);
  });
  socket->async_connect(to_endpoint(d.address),
                        [this, socket, timer, timed_out, d](const error_code& ec) {
                          timer->cancel();
                          m_dialling.erase(socket);
                          if (m_stopping) return;
                          if (ec) {
                            ++m_stats.dial_failures;
                            std::string why = *timed_out ? "connect timeout" : ec.message();
                            note_refusal(to_string(d.address) + " out: " + why);
                            spdlog::info("dial {} failed: {}", to_string(d.address), why);
                            m_pm->on_dial_failed(d.address, now());
                            run_actions();
                            return;
                          }
                          add_connection(std::move(*socket), false, d.address, d.identity);
                        });
}

// --- connection events --------------------------------------------------------------------

void Host::on_established(const std::shared_ptr<Connection>& c) {
  asio::dispatch(m_ioc, [this, c] { established(c); });
}

void Host::on_input(const std::shared_ptr<Connection>& c, std::vector<Inbound>&& input) {
  asio::dispatch(m_ioc, [this, c, input = std::move(input)]() mutable {
    deliver(c, input);
    c->input_delivered();
  });
}

void Host::on_closed(const std::shared_ptr<Connection>& c, const std::string& reason,
                     bool established) {
  asio::dispatch(m_ioc, [this, c, reason, established] { closed(c, reason, established); });
}

void Host::close(Slot& slot, CloseMode mode, std::string reason) {
  slot.closing = true;
  slot.conn->close(mode, std::move(reason));
}

void Host::established(const std::shared_ptr<Connection>& c) {
  auto it = m_slots.find(c->id());
  if (it == m_slots.end() || it->second.closing) return;
  const PublicKey& who = *c->identity();
  it->second.identity = who;
  if (is_banned(who)) {
    close(it->second, CloseMode::kAbort, "identity " + short_id(who) + " is banned");
    return;
  }
  if (auto until = m_stall_guard.discouraged(who, now())) {
    ++m_stats.refused_discouraged;
    close(it->second, CloseMode::kAbort,
          "identity " + short_id(who) + " is discouraged until unix time " +
              std::to_string(whole_seconds(*until)) + " s: it stalled frames repeatedly");
    return;
  }
  PeerConnected pc;
  pc.id = c->id();
  pc.identity = who;
  pc.inbound = c->inbound();
  pc.remote = it->second.dialled ? *it->second.dialled : c->remote();
  pc.trusted = (m_cfg.allow_list && m_cfg.allow_list->count(who) != 0) ||
               (m_cfg.trusted && m_cfg.trusted->count(who) != 0);
  it->second.reported = true;
  m_pm->on_connected(pc, now());
  run_actions();
}

// Each message goes to the PeerManager, and its actions are carried out before the next: once
// they close the peer, what it sent after is not read. What does not decode is scored by the
// PeerManager too (on_bad_message); net/ carries out its decision.
void Host::deliver(const std::shared_ptr<Connection>& c, std::vector<Inbound>& input) {
  auto it = m_slots.find(c->id());
  if (it == m_slots.end() || !it->second.reported) return;
  const Time t = now();
  m_holding_sends = true;  // the whole read's answers leave together
  for (Inbound& in : input) {
    if (it->second.closing) break;  // m_slots' entries stay put until closed() erases them
    if (auto* m = std::get_if<Message>(&in)) {
      m_pm->on_message(c->id(), std::move(*m), t);
    } else {
      const BadInput& bad = std::get<BadInput>(in);
      m_pm->on_bad_message(c->id(), bad.error, t, bad.command);
    }
    run_actions();
  }
  m_holding_sends = false;
  flush_sends();
}

void Host::closed(const std::shared_ptr<Connection>& c, const std::string& reason,
                  bool established) {
  auto it = m_slots.find(c->id());
  if (it == m_slots.end()) return;
  Slot slot = std::move(it->second);
  m_slots.erase(it);
  if (slot.io < m_io.size()) --m_io[slot.io]->connections;
  m_closed_traffic += c->counters();
  note_frame_cut(*c);
  if (!established) {
    ++m_stats.tls_refused;
    note_refusal(c->log_prefix() + ": " + reason);
  } else {
    note_disconnect(c->log_prefix() + ": " + reason);
  }
  if (slot.reported) {
    m_pm->on_disconnected(c->id(), now());
  } else if (slot.dialled) {
    ++m_stats.dial_failures;
    m_pm->on_dial_failed(*slot.dialled, now());
  }
  run_actions();
  maybe_stopped();
}

// --- the PeerManager's actions ------------------------------------------------------------

void Host::run_actions() {
  if (!m_pm) return;
  for (;;) {
    std::vector<Action> actions = m_pm->take_actions();
    if (actions.empty()) break;
    for (Action& a : actions)
      execute(a);
  }
  if (!m_holding_sends) flush_sends();
}

// A peer's frames of one round of actions leave together: one hand-over to its thread, and
// one gathered write.
void Host::flush_sends() {
  for (PeerId id : m_outbox_peers) {
    auto it = m_slots.find(id);
    if (it == m_slots.end() || it->second.outbox.empty()) continue;
    it->second.conn->send(std::move(it->second.outbox));
    it->second.outbox.clear();
  }
  m_outbox_peers.clear();
}

void Host::execute(Action& a) {
  if (auto* s = std::get_if<SendAction>(&a)) {
    auto it = m_slots.find(s->peer);
    if (it == m_slots.end()) return;
    if (it->second.outbox.empty()) m_outbox_peers.push_back(s->peer);
    it->second.outbox.push_back({std::move(s->frame), s->type});
    return;
  }
  flush_sends();  // what was sent before a close or a ban goes out before it
  if (auto* d = std::get_if<DisconnectAction>(&a)) {
    auto it = m_slots.find(d->peer);
    if (it != m_slots.end()) close(it->second, CloseMode::kFlush, d->reason);
  } else if (auto* b = std::get_if<BanAction>(&a)) {
    ban(*b);
  } else if (auto* dial_action = std::get_if<DialAction>(&a)) {
    dial(*dial_action);
  } else if (auto* v = std::get_if<VerifyAction>(&a)) {
    queue_verify(std::move(v->txs));
  } else if (auto* h = std::get_if<ReadHoldAction>(&a)) {
    hold_reads(h->hold);
  }
}

void Host::hold_reads(bool hold) {
  if (hold == m_stats.reads_held) return;
  m_stats.reads_held = hold;
  if (hold) ++m_stats.read_holds;
  spdlog::debug("reading from peers {}", hold ? "held: verification is behind" : "resumed");
  for (auto& [id, slot] : m_slots)
    slot.conn->hold_reading(hold);
}

// --- signature verification ---------------------------------------------------------------

void Host::queue_verify(std::vector<TxRef>&& txs) {
  if (txs.empty() || m_stopping) return;
  if (m_verify_pending.empty())
    m_verify_pending = std::move(txs);
  else
    m_verify_pending.insert(m_verify_pending.end(), std::make_move_iterator(txs.begin()),
                            std::make_move_iterator(txs.end()));
  if (m_verify_scheduled) return;
  m_verify_scheduled = true;
  // Runs after the handlers already queued: every VerifyAction of this burst joins the batch.
  asio::post(m_ioc, [this] { dispatch_verify(); });
}

void Host::dispatch_verify() {
  m_verify_scheduled = false;
  std::vector<TxRef> batch = std::move(m_verify_pending);
  m_verify_pending.clear();
  if (batch.empty() || m_stopping || !m_verify) return;
  if (batch.size() <= m_cfg.verify_inline_max && m_verify->idle()) {
    std::vector<uint8_t> valid(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      valid[i] = batch[i]->verify_signature() ? 1 : 0;
      m_invalid_inline += valid[i] ? 0 : 1;
    }
    m_verified_inline += batch.size();
    on_verdicts(batch, valid);
    return;
  }
  ++m_stats.verify_batches;
  m_verify->submit(std::move(batch), [this](std::vector<TxRef> txs, std::vector<uint8_t> valid) {
    // On a worker thread: hand the verdicts to the io thread (dropped there once stopping; the
    // io_context drops them unrun once it has stopped).
    asio::post(m_ioc,
               [this, txs = std::move(txs), valid = std::move(valid)] { on_verdicts(txs, valid); });
  });
}

void Host::on_verdicts(std::span<const TxRef> txs, std::span<const uint8_t> valid) {
  if (m_stopping || !m_pm) {
    m_stats.verdicts_dropped += txs.size();
    return;
  }
  m_pm->on_verified(txs, valid, now());
  run_actions();
}

void Host::ban(const BanAction& b) {
  peer_log().warn(
      to_hex(b.identity),
      fmt::format("banning {} {} until {} s: {}", short_id(b.identity),
                  to_string(ip_only(b.address)),
                  std::chrono::duration_cast<std::chrono::seconds>(b.until).count(), b.reason));
  const Time t = now();
  m_bans.add(BanEntry{b.identity, t, b.until, b.reason});
  // Loopback is never banned by address (BanList refuses it): a local testnet shares it.
  m_bans.add(BanEntry{ip_only(b.address), t, b.until, b.reason});
  save_bans();
  disconnect_banned("banned: " + b.reason);
}

// A connection still in its handshake is checked again once its identity is proven.
void Host::disconnect_banned(const std::string& reason) {
  for (auto& [id, slot] : m_slots) {
    if ((slot.identity && is_banned(*slot.identity)) || is_banned_ip(slot.conn->remote()))
      close(slot, CloseMode::kAbort, reason);
  }
}

void Host::save_bans() {
  if (m_cfg.datadir.empty()) return;
  const Time t = now();
  m_bans.expire(t);
  std::vector<BanEntry> entries = m_bans.entries(t);
  Status s = save_ban_list(m_cfg.datadir, entries);
  if (!s) {
    ++m_stats.ban_saves_failed;
    spdlog::warn("{}", s.message());
  }
}

bool Host::is_banned(const PublicKey& id) const {
  return m_bans.is_banned(id, now());
}

bool Host::is_banned_ip(const NetAddress& addr) const {
  return m_bans.is_banned_ip(addr, now());
}

// --- stalls -------------------------------------------------------------------------------

// Why `remote` is refused at accept while its address is discouraged; nullopt when it is not.
std::optional<std::string> Host::discouraged_refusal(const NetAddress& remote) {
  auto until = m_stall_guard.discouraged_ip(remote, now());
  if (!until) return std::nullopt;
  ++m_stats.refused_discouraged;
  return "address is discouraged until unix time " + std::to_string(whole_seconds(*until)) +
         " s: it stalled frames repeatedly";
}

// Counts a connection cut over a partial frame, and remembers the stalls the peer is to blame
// for; a discouragement that starts is logged here, once.
void Host::note_frame_cut(const Connection& c) {
  switch (c.frame_cut()) {
    case FrameCut::kNone:
      return;
    case FrameCut::kDeadline:
      ++m_stats.stalls_frame_deadline;
      break;
    case FrameCut::kStalledAtMemoryCap:
      ++m_stats.stalls_memory_cap;
      break;
    case FrameCut::kAtMemoryCap:  // progressing, merely the largest: not held against it
      ++m_stats.stalls_memory_cap;
      return;
  }
  const Time t = now();
  for (const StallGuard::Started& d : m_stall_guard.record(c.identity(), c.remote(), t)) {
    ++m_stats.discouragements;
    const std::string target = ban_target_string(d.target);
    peer_log().warn(
        target, fmt::format("discouraging {} for {} s (until unix time {} s): {} stalled "
                            "frames within {} s, the last by {}",
                            target, whole_seconds(d.until - t), whole_seconds(d.until), d.stalls,
                            whole_seconds(m_stall_guard.config().window), c.log_prefix()));
  }
}

void Host::note_refusal(std::string what) {
  m_stats.recent_refusals.push_back(std::move(what));
  while (m_stats.recent_refusals.size() > kMaxRecentRefusals)
    m_stats.recent_refusals.pop_front();
}

void Host::note_disconnect(std::string what) {
  m_stats.recent_disconnects.push_back(std::move(what));
  while (m_stats.recent_disconnects.size() > kMaxRecentRefusals)
    m_stats.recent_disconnects.pop_front();
}

// --- ticking ------------------------------------------------------------------------------

void Host::schedule_tick() {
  m_tick_timer.expires_after(m_cfg.tick_interval);
  m_tick_timer.async_wait([this](const error_code& ec) {
    if (ec) return;
    on_tick();
    schedule_tick();
  });
}

void Host::on_tick() {
  SteadyTime steady = SteadyClock::now();
  for (auto& [id, slot] : m_slots)
    slot.conn->check_timeouts(steady);
  if (m_stopping) return;  // only the connections' shutdown deadlines matter now
  Time t = now();
  m_pm->on_tick(t);
  run_actions();
  if (!m_cfg.datadir.empty() && t >= m_next_addr_save) {
    m_next_addr_save = t + kAddrBookSaveInterval;
    save_addr_book();
  }
}

void Host::save_addr_book() {
  if (m_cfg.datadir.empty() || !m_pm) return;
  Status s = save_addr_book_to(m_cfg.datadir, m_pm->addrman());
  if (!s) spdlog::warn("address book not saved: {}", s.message());
}

// --- stopping -----------------------------------------------------------------------------

void Host::begin_stop() {
  m_stopping = true;
  error_code ec;
  m_acceptor.close(ec);
  m_accept_retry.cancel();
  for (const auto& s : m_dialling)
    s->close(ec);
  m_pm->disconnect_all("shutting down");
  run_actions();
  // Connections still in TLS have nothing to flush; the PeerManager does not know them.
  for (auto& [id, slot] : m_slots)
    if (!slot.reported) close(slot, CloseMode::kAbort, "shutting down");
  save_addr_book();
  save_bans();
  maybe_stopped();
}

void Host::maybe_stopped() {
  if (m_stopping && m_slots.empty() && !m_drained_set) {
    m_drained_set = true;
    m_drained.set_value();
  }
}

void Host::stop() {
  if (!m_started || !m_thread.joinable()) return;
  HEARSAY_CHECK(std::this_thread::get_id() != m_thread.get_id());  // it waits for that thread
  auto drained = m_drained.get_future();
  asio::post(m_ioc, [this] { begin_stop(); });
  // Queued verification is dropped; verdicts still in flight are dropped on the io thread.
  if (m_verify) m_verify->stop();
  auto grace = m_cfg.limits.shutdown_timeout + m_cfg.tick_interval + kStopGrace;
  if (drained.wait_for(grace) != std::future_status::ready) {
    // Force what is left: abort every connection, then let their handlers finish.
    asio::post(m_ioc, [this] {
      for (auto& [id, slot] : m_slots)
        close(slot, CloseMode::kAbort, "shutdown timed out");
    });
    drained.wait_for(kStopGrace);
  }
  asio::post(m_ioc, [this] {
    m_tick_timer.cancel();
    m_ioc.stop();
  });
  m_thread.join();
  // The connections are closed (or aborted): their threads have nothing left that matters.
  for (auto& io : m_io) {
    io->work.reset();
    io->ctx.stop();
    io->thread.join();
  }
  m_slots.clear();
}

// --- accessors ----------------------------------------------------------------------------

// Every connection's live state, read on its own thread (the I/O threads never wait for the
// network thread, so this wait ends). In m_slots' order.
std::vector<Connection::Snapshot> Host::snapshots() {
  std::vector<Connection::Snapshot> out(m_slots.size());
  std::latch pending(static_cast<std::ptrdiff_t>(m_slots.size()));
  size_t i = 0;
  for (const auto& [id, slot] : m_slots) {
    slot.conn->on_own_thread([c = slot.conn, &out, &pending, i] {
      out[i] = c->snapshot();
      pending.count_down();
    });
    ++i;
  }
  pending.wait();
  return out;
}

std::vector<PeerStats> Host::peer_stats() {
  return run_on_io([this] {
    std::vector<PeerStats> out;
    std::vector<Connection::Snapshot> live = snapshots();
    size_t i = 0;
    for (const auto& [id, slot] : m_slots) {
      const Connection& c = *slot.conn;
      const Connection::Snapshot& snap = live[i++];
      PeerStats s;
      s.id = id;
      s.identity = slot.identity;
      s.inbound = c.inbound();
      s.remote = c.remote();
      s.state = to_string(c.state());
      s.traffic = snap.traffic;
      s.queued_bytes = snap.queued_bytes;
      s.read_paused = snap.read_paused;
      s.link = c.link();
      if (m_pm && slot.reported) s.protocol = m_pm->peer_info(id);
      out.push_back(std::move(s));
    }
    return out;
  });
}

TrafficCounters Host::total_traffic() {
  return run_on_io([this] {
    TrafficCounters t = m_closed_traffic;
    for (const Connection::Snapshot& snap : snapshots())
      t += snap.traffic;
    return t;
  });
}

NetStats Host::net_stats() {
  return run_on_io([this] {
    NetStats s = m_stats;
    if (m_verify) {
      s.verify_threads = m_verify->threads();
      s.verify_queue_depth = m_verify->depth() + m_verify_pending.size();
      s.verified = m_verify->verified() + m_verified_inline;
      s.verify_invalid = m_verify->invalid() + m_invalid_inline;
    }
    s.verified_inline = m_verified_inline;
    s.io_threads = m_io.size();
    s.network_active = m_network_active;
    s.bans = m_bans.entries(now()).size();
    s.partial_frame_bytes = m_frames.used();
    s.partial_frame_bytes_peak = m_frames.peak();
    s.partial_frame_cap = m_frames.cap();
    return s;
  });
}

std::vector<BanEntry> Host::list_bans() {
  return run_on_io([this] { return m_bans.entries(now()); });
}

Status Host::set_ban(std::string_view target, Duration duration, std::string reason) {
  auto parsed = parse_ban_target(target);
  if (!parsed) return fail(parsed.error());
  if (duration <= Duration::zero() || duration > kMaxBanDuration)
    return fail(
        "bad ban duration " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(duration).count()) +
        " s: it must be more than 0 and at most " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kMaxBanDuration).count()) +
        " s");
  if (const auto* ip = std::get_if<NetAddress>(&*parsed); ip && is_loopback(*ip))
    return fail("refusing to ban loopback address " + ip_to_string(*ip) +
                " by IP: every node of a local testnet connects from it; ban the peer's "
                "identity (64 hex digits) instead");
  if (reason.empty()) reason = "manually banned";
  return run_on_io([&]() -> Status {
    const Time t = now();
    BanEntry e{*parsed, t, t + duration, reason};
    spdlog::warn("banning {} for {} s: {}", ban_target_string(e.target),
                 std::chrono::duration_cast<std::chrono::seconds>(duration).count(), reason);
    m_bans.add(std::move(e));
    save_bans();
    disconnect_banned("banned: " + reason);
    return {};
  });
}

bool Host::remove_ban(std::string_view target) {
  auto parsed = parse_ban_target(target);
  if (!parsed) return false;
  return run_on_io([&] {
    bool removed = m_bans.remove(*parsed);
    if (const PublicKey* id = std::get_if<PublicKey>(&*parsed); id && m_pm) m_pm->unban(*id);
    if (removed) {
      spdlog::info("ban of {} lifted", ban_target_string(*parsed));
      save_bans();
      redial();
    }
    return removed;
  });
}

void Host::clear_bans() {
  run_on_io([this] {
    spdlog::info("every ban lifted ({} bans)", m_bans.size());
    m_bans.clear();
    if (m_pm) m_pm->clear_bans();
    save_bans();
    redial();
  });
}

// A refusal lifted: the --connect peers it kept away are dialled now, not after their back-off.
void Host::redial() {
  if (!m_pm || m_stopping || !m_network_active) return;
  m_pm->redial_now(now());
  run_actions();
}

bool Host::set_network_active(bool active) {
  return run_on_io([&] {
    if (active == m_network_active || !m_pm) return m_network_active;
    m_network_active = active;
    if (!active) {
      spdlog::warn(
          "network activity off (setnetworkactive): every connection closed, every "
          "connection and dial refused until it is on again");
      m_pm->disconnect_all("network activity off (setnetworkactive)");
      run_actions();
      for (auto& [id, slot] : m_slots)
        if (!slot.closing) close(slot, CloseMode::kAbort, "network activity off");
    } else {
      spdlog::info("network activity on again (setnetworkactive)");
      redial();
    }
    return m_network_active;
  });
}

size_t Host::connection_count() {
  return run_on_io([this] { return m_slots.size(); });
}

}  // namespace hearsay
