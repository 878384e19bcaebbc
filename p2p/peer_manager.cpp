// PeerManager core: connections, the handshake, liveness (ping/pong, phi), misbehaviour,
// duplicate connections. Gossip and outbound slots are in peer_manager_addr.cpp.
#include "p2p/peer_manager.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace hearsay {

namespace {

std::string seconds_str(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", static_cast<double>(d.count()) / 1e6);
  return buf;
}

}  // namespace

// --- construction --------------------------------------------------------------------------

PeerManager::Peer::Peer(const PeerConnected& c, Time now, const PeerManagerConfig& cfg)
    : conn(c),
      origin(c.inbound ? Origin::kInbound : Origin::kOther),
      connected_at(now),
      handshake(HandshakeParams{cfg.network_magic, cfg.protocol_version},
                now + cfg.handshake_timeout),
      detector(cfg.ping_interval, cfg.phi_max_interval),
      last_message(now),
      addr_tokens(kAddrRatePerSecond, static_cast<double>(kMaxAddrRecords), kAddrInitialTokens,
                  now) {}

PeerManager::PeerManager(PeerManagerConfig cfg, const KeyPair& identity)
    : m_cfg(std::move(cfg)),
      m_identity(identity),
      m_hs_params{m_cfg.network_magic, m_cfg.protocol_version},
      m_rng(m_cfg.rng_seed),
      m_addrman(m_cfg.addrman_capacity, m_cfg.rng_seed) {
  for (uint8_t& b : m_known_key)
    b = static_cast<uint8_t>(m_rng());
  for (uint8_t& b : m_group_key)
    b = static_cast<uint8_t>(m_rng());
  for (const auto& [addr, id] : m_cfg.connect) {
    ConnectSlot s;
    s.address = addr;
    s.pinned = id;
    if (id && *id == m_identity.public_key()) s.is_self = true;
    m_connect.push_back(s);
  }
}

std::vector<Action> PeerManager::take_actions() {
  std::vector<Action> out;
  out.swap(m_actions);
  return out;
}

PeerManager::Peer* PeerManager::find(PeerId id) {
  auto it = m_peers.find(id);
  return it == m_peers.end() ? nullptr : &it->second;
}
const PeerManager::Peer* PeerManager::find(PeerId id) const {
  auto it = m_peers.find(id);
  return it == m_peers.end() ? nullptr : &it->second;
}

// --- sending, misbehaviour, disconnects ----------------------------------------------------

void PeerManager::send_frame(PeerId peer, SharedBytes frame, MsgType type) {
  const Peer* p = find(peer);
  if (!p || p->disconnecting) return;
  push(SendAction{peer, std::move(frame), type});
}

void PeerManager::send(PeerId peer, const Message& m) {
  const Peer* p = find(peer);
  if (!p || p->disconnecting) return;
  push(SendAction{peer, encode_frame(m_cfg.network_magic, m), type_of(m)});
}

void PeerManager::broadcast(const Message& m, std::optional<PeerId> except) {
  SharedBytes frame;
  for (const auto& [id, p] : m_peers) {
    if (p.disconnecting || !p.handshake.done() || (except && *except == id)) continue;
    if (!frame) frame = encode_frame(m_cfg.network_magic, m);
    push(SendAction{id, frame, type_of(m)});
  }
}

void PeerManager::disconnect(PeerId peer, const std::string& reason) {
  Peer* p = find(peer);
  if (!p || p->disconnecting) return;
  p->disconnecting = true;
  push(DisconnectAction{peer, reason});
}

void PeerManager::disconnect_all(const std::string& reason) {
  for (auto& [id, p] : m_peers)
    disconnect(id, reason);
}

void PeerManager::misbehaving(PeerId peer, int points, const std::string& reason) {
  Peer* p = find(peer);
  if (!p || p->disconnecting) return;
  p->misbehaviour = std::min(p->misbehaviour + std::max(points, 0), kMisbehaviourThreshold);
  if (p->misbehaviour >= kMisbehaviourThreshold) disconnect(peer, "misbehaviour: " + reason);
}

void PeerManager::ban(PeerId peer, const std::string& reason, Time now) {
  Peer* p = find(peer);
  if (!p) return;
  ban_identity(p->conn.identity, p->conn.remote, reason, now);
}

void PeerManager::ban_identity(const PublicKey& id, const NetAddress& address,
                               const std::string& reason, Time now) {
  push(BanAction{id, address, now + m_cfg.ban_time, reason});
  if (m_banned.size() >= kMaxLocalBans && !m_banned.count(id)) {
    // Forget the ban that ends first.
    auto first = std::min_element(m_banned.begin(), m_banned.end(),
                                  [](const auto& a, const auto& b) { return a.second < b.second; });
    m_banned.erase(first);
  }
  m_banned[id] = now + m_cfg.ban_time;
  m_addrman.remove(id);
  for (auto& [pid, p] : m_peers)
    if (p.conn.identity == id) disconnect(pid, "banned: " + reason);
}

bool PeerManager::add_connect(const NetAddress& address, std::optional<PublicKey> identity) {
  if (m_connect.size() >= kMaxConnectTargets) return false;
  for (const ConnectSlot& s : m_connect)
    if (s.address == address) return false;
  ConnectSlot s;
  s.address = address;
  s.pinned = identity;
  s.is_self = identity && *identity == m_identity.public_key();
  m_connect.push_back(s);
  return true;
}

void PeerManager::verify(std::vector<TxRef> txs) {
  if (!txs.empty()) push(VerifyAction{std::move(txs)});
}

void PeerManager::hold_reads(bool hold) {
  if (hold == m_reads_held) return;
  m_reads_held = hold;
  push(ReadHoldAction{hold});
}

void PeerManager::on_verified(std::span<const TxRef> txs, std::span<const uint8_t> valid,
                              Time now) {
  HEARSAY_CHECK(txs.size() == valid.size());
  if (m_relay) m_relay->on_verified(txs, valid, now);
  if (m_block_relay) m_block_relay->on_verified(txs, valid, now);
}

bool PeerManager::is_banned(const PublicKey& id, Time now) const {
  auto it = m_banned.find(id);
  return it != m_banned.end() && it->second > now;
}

// --- inbound eviction ----------------------------------------------------------------------

void PeerManager::note_novel_tx(PeerId peer, Time now) {
  if (Peer* p = find(peer)) p->last_novel_tx = std::max(p->last_novel_tx, now);
}

void PeerManager::note_novel_block(PeerId peer, Time now) {
  if (Peer* p = find(peer)) p->last_novel_block = std::max(p->last_novel_block, now);
}

std::optional<PeerId> PeerManager::evict_inbound() {
  std::vector<EvictionCandidate> candidates;
  for (const auto& [id, p] : m_peers) {
    if (!p.conn.inbound || p.conn.trusted || p.disconnecting) continue;
    candidates.push_back(EvictionCandidate{id, p.connected_at, p.min_rtt, p.last_novel_tx,
                                           p.last_novel_block, p.net_group});
  }
  const std::optional<PeerId> victim = select_peer_to_evict(std::move(candidates));
  if (!victim) return std::nullopt;
  ++m_evictions;
  disconnect(*victim, "evicted: inbound slots full, a newcomer takes this unprotected slot");
  return victim;
}

// --- connections ---------------------------------------------------------------------------

void PeerManager::on_connected(const PeerConnected& c, Time now) {
  HEARSAY_CHECK(!m_peers.count(c.id));  // net/ never reuses a connection id
  Peer& p = m_peers.try_emplace(c.id, c, now, m_cfg).first->second;
  p.net_group = keyed_network_group(m_group_key, c.remote, m_cfg.eviction_ports_as_groups);
  if (!c.inbound) match_dial(p, now);
  if (c.identity == m_identity.public_key()) {
    if (p.origin == Origin::kConnect) m_connect[p.connect_index].is_self = true;
    disconnect(c.id, "connected to self");
    return;
  }
  if (is_banned(c.identity, now)) {
    disconnect(c.id, "identity is banned");
    return;
  }
  resolve_duplicates(p);
  if (p.disconnecting) return;
  send_version(p, now);
}

// Two live connections to one identity: keep the one dialled by the side with the smaller
// identity key (both sides compute the same answer). Two dialled by us: close the newer.
// Two dialled by the peer: the peer resolves them, we wait.
void PeerManager::resolve_duplicates(Peer& fresh) {
  const PublicKey& us = m_identity.public_key();
  const PublicKey& them = fresh.conn.identity;
  const PublicKey& keep_dialler = std::min(us, them);
  for (auto& [id, q] : m_peers) {
    if (id == fresh.conn.id || q.disconnecting || q.conn.identity != them) continue;
    const PublicKey& fresh_dialler = fresh.conn.inbound ? them : us;
    const PublicKey& q_dialler = q.conn.inbound ? them : us;
    if (fresh_dialler != q_dialler) {
      if (fresh_dialler == keep_dialler) {
        disconnect(id, "duplicate connection (keeping the one dialled by the smaller key)");
      } else {
        disconnect(fresh.conn.id,
                   "duplicate connection (keeping the one dialled by the smaller key)");
        return;
      }
    } else if (!fresh.conn.inbound) {
      disconnect(fresh.conn.id, "duplicate connection (already connected to this identity)");
      return;
    }
  }
}

void PeerManager::send_version(Peer& p, Time now) {
  VersionMsg v;
  v.protocol_version = m_cfg.protocol_version;
  v.network_magic = m_cfg.network_magic;
  v.services = m_cfg.services;
  v.time = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  v.addr_from = m_cfg.listen_address;
  v.best_height = m_best_height;
  v.user_agent = m_cfg.user_agent;
  send(p.conn.id, v);
}

void PeerManager::on_message(PeerId peer, Message&& msg, Time now) {
  Peer* p = find(peer);
  if (!p || p->disconnecting) return;
  p->last_message = std::max(p->last_message, now);
  if (p->handshake.done()) {
    p->detector.heartbeat(now);
    p->phi = 0;  // it spoke: no longer suspected
    p->suspected = false;
  }
  switch (p->handshake.on_message(msg)) {
    case HandshakeStep::kReject:
      misbehaving(peer, kScoreHandshakeViolation, "handshake: " + p->handshake.reason());
      return;
    case HandshakeStep::kSendVerack:
      send(peer, VerackMsg{});
      return;
    case HandshakeStep::kComplete:
      handshake_complete(*p, now);
      return;
    case HandshakeStep::kPassOn:
      handle_ready_message(*p, std::move(msg), now);
      return;
  }
}

void PeerManager::on_bad_message(PeerId peer, DecodeError err, Time now,
                                 std::optional<MsgType> command) {
  (void)now;
  const std::string cause =
      command ? std::string("undecodable ") + command_name(*command) + " payload: " + to_string(err)
              : std::string("bad frame: ") + to_string(err);
  const std::string reason = "malformed message (" + cause + ")";
  misbehaving(peer, kScoreMalformed, reason);
  // Whatever the score: after a bad frame net/ reads nothing more from this peer.
  disconnect(peer, "misbehaviour: " + reason);
}

void PeerManager::handshake_complete(Peer& p, Time now) {
  p.detector.heartbeat(now);
  if (p.origin == Origin::kConnect) m_connect[p.connect_index].failures = 0;
  if (p.origin == Origin::kAddrMan) m_addrman.mark_good(p.conn.identity, now);
  if (auto rec = own_record(now)) send_records(p, {*rec});
  if (!p.conn.inbound) {
    send(p.conn.id, GetAddrMsg{});
    p.addr_tokens.add(static_cast<double>(kMaxAddrRecords));
  }
  p.next_ping = now;  // the first ping goes out at once: RTT is known early
  tick_peer(p, now);
  const PeerId id = p.conn.id;
  if (m_relay) m_relay->on_peer_ready(id, now);
  if (m_block_relay) m_block_relay->on_peer_ready(id, now);
}

void PeerManager::handle_ready_message(Peer& p, Message&& msg, Time now) {
  switch (type_of(msg)) {
    case MsgType::kPing:
      send(p.conn.id, PongMsg{std::get<PingMsg>(msg).nonce});
      return;
    case MsgType::kPong:
      handle_pong(p, std::get<PongMsg>(msg), now);
      return;
    case MsgType::kAddr:
      handle_addr(p, std::move(std::get<AddrMsg>(msg)), now);
      return;
    case MsgType::kGetAddr:
      handle_getaddr(p, now);
      return;
    default:
      route_to_relays(p.conn.id, std::move(msg), now);
      return;
  }
}

namespace {

bool is_block_message(MsgType t) {
  switch (t) {
    case MsgType::kGetHeaders:
    case MsgType::kHeaders:
    case MsgType::kBlock:
    case MsgType::kSendCmpct:
    case MsgType::kCmpctBlock:
    case MsgType::kGetBlockTxn:
    case MsgType::kBlockTxn:
    case MsgType::kSendHeaders:
      return true;
    default:
      return false;
  }
}

std::vector<InvEntry>* inventory_of(Message& m) {
  if (auto* inv = std::get_if<InvMsg>(&m)) return &inv->entries;
  if (auto* gd = std::get_if<GetDataMsg>(&m)) return &gd->entries;
  if (auto* nf = std::get_if<NotFoundMsg>(&m)) return &nf->entries;
  return nullptr;
}

}  // namespace

void PeerManager::route_to_relays(PeerId peer, Message&& msg, Time now) {
  if (!m_block_relay) {
    if (m_relay) m_relay->on_message(peer, std::move(msg), now);
    return;
  }
  if (is_block_message(type_of(msg))) {
    m_block_relay->on_message(peer, std::move(msg), now);
    return;
  }
  std::vector<InvEntry>* entries = inventory_of(msg);
  if (!entries) {
    if (m_relay) m_relay->on_message(peer, std::move(msg), now);
    return;
  }
  const size_t txs = static_cast<size_t>(std::count_if(
      entries->begin(), entries->end(), [](const InvEntry& e) { return e.type == InvType::kTx; }));
  if (txs == entries->size()) {  // the hot path: transactions only, no copy
    if (m_relay) m_relay->on_message(peer, std::move(msg), now);
    return;
  }
  if (txs == 0) {
    m_block_relay->on_message(peer, std::move(msg), now);
    return;
  }
  // Mixed: the block entries move into a message of the same type, the rest stay.
  Message blocks = type_of(msg) == MsgType::kInv       ? Message(InvMsg{})
                   : type_of(msg) == MsgType::kGetData ? Message(GetDataMsg{})
                                                       : Message(NotFoundMsg{});
  std::vector<InvEntry>* block_entries = inventory_of(blocks);
  block_entries->reserve(entries->size() - txs);
  std::erase_if(*entries, [&](const InvEntry& e) {
    if (e.type == InvType::kTx) return false;
    block_entries->push_back(e);
    return true;
  });
  if (m_relay) m_relay->on_message(peer, std::move(msg), now);
  // The transaction relay may have disconnected the peer meanwhile.
  if (is_ready(peer)) m_block_relay->on_message(peer, std::move(blocks), now);
}

void PeerManager::handle_pong(Peer& p, const PongMsg& m, Time now) {
  if (!p.ping_nonce || *p.ping_nonce != m.nonce) {
    misbehaving(p.conn.id, kScoreBadPong, "pong with a nonce we did not send");
    return;
  }
  const Duration rtt = std::max(Duration(0), now - p.ping_sent);
  p.last_rtt = rtt;
  p.min_rtt = p.min_rtt ? std::min(*p.min_rtt, rtt) : rtt;
  p.ping_nonce.reset();
}

void PeerManager::on_disconnected(PeerId peer, Time now) {
  auto it = m_peers.find(peer);
  if (it == m_peers.end()) return;
  const Peer& p = it->second;
  const bool was_ready = p.handshake.done();
  if (p.origin == Origin::kConnect) connect_slot_closed(p.connect_index, was_ready, now);
  if (p.origin == Origin::kAddrMan && !was_ready)
    m_addrman.mark_failed(p.conn.identity, now, m_cfg.dial_backoff_min, m_cfg.dial_backoff_max);
  m_peers.erase(it);
  if (was_ready && m_relay) m_relay->on_peer_gone(peer, now);
  if (was_ready && m_block_relay) m_block_relay->on_peer_gone(peer, now);
}

// --- timers --------------------------------------------------------------------------------

void PeerManager::tick_peer(Peer& p, Time now) {
  if (p.disconnecting) return;
  if (!p.handshake.done()) {
    if (p.handshake.timed_out(now))
      disconnect(p.conn.id, "handshake timeout (" + seconds_str(m_cfg.handshake_timeout) + ")");
    return;
  }
  p.phi = p.detector.phi(now);
  p.suspected = p.phi >= m_cfg.phi_suspect;
  const Duration silence = now - p.detector.last_arrival();
  if (p.phi >= m_cfg.phi_disconnect) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.1f ≥ %.1f", p.phi, m_cfg.phi_disconnect);
    disconnect(p.conn.id, std::string("unresponsive: phi ") + buf + " after " +
                              seconds_str(silence) + " of silence");
    return;
  }
  if (silence >= m_cfg.idle_timeout) {
    disconnect(p.conn.id, "idle timeout: silent for " + seconds_str(silence));
    return;
  }
  if (!p.ping_nonce && now >= p.next_ping) {
    uint64_t nonce = 0;
    while (nonce == 0)
      nonce = m_rng();
    p.ping_nonce = nonce;
    p.ping_sent = now;
    p.next_ping = now + m_cfg.ping_interval;
    send(p.conn.id, PingMsg{nonce});
  }
}

void PeerManager::on_tick(Time now) {
  for (auto& [id, p] : m_peers)
    tick_peer(p, now);
  // Dials net/ never answered free their slot.
  for (size_t i = m_pending.size(); i-- > 0;) {
    if (m_pending[i].started + m_cfg.dial_timeout <= now) pending_failed(i, now);
  }
  if (now >= m_next_expire) {
    m_addrman.expire(now);
    for (auto it = m_banned.begin(); it != m_banned.end();)
      it = it->second <= now ? m_banned.erase(it) : std::next(it);
    m_next_expire = now + kAddrExpireInterval;
  }
  const Duration half = m_cfg.self_advertise_interval / 2;
  auto jittered = [&] {
    return half + Duration(std::uniform_int_distribution<int64_t>(0, 2 * half.count())(m_rng));
  };
  if (m_next_advertise == Time{}) {
    m_next_advertise = now + jittered();
  } else if (now >= m_next_advertise) {
    advertise_self(now);
    m_next_advertise = now + jittered();
  }
  fill_outbound(now);
  if (m_relay) m_relay->on_tick(now);
  if (m_block_relay) m_block_relay->on_tick(now);
}

// --- introspection -------------------------------------------------------------------------

PeerInfo PeerManager::info_of(const Peer& p) const {
  PeerInfo i;
  i.id = p.conn.id;
  i.identity = p.conn.identity;
  i.inbound = p.conn.inbound;
  i.trusted = p.conn.trusted;
  i.remote = p.conn.remote;
  i.connected_at = p.connected_at;
  i.handshake_done = p.handshake.done();
  i.disconnecting = p.disconnecting;
  if (const auto& v = p.handshake.their_version()) {
    i.version = v->protocol_version;
    i.services = v->services;
    i.user_agent = v->user_agent;
    i.best_height = v->best_height;
    i.listen_address = v->addr_from;
  }
  i.last_rtt = p.last_rtt;
  i.min_rtt = p.min_rtt;
  i.last_message = p.last_message;
  i.phi = p.phi;
  i.suspected = p.suspected;
  i.misbehaviour = p.misbehaviour;
  i.last_novel_tx = p.last_novel_tx;
  i.last_novel_block = p.last_novel_block;
  return i;
}

std::vector<PeerInfo> PeerManager::peers() const {
  std::vector<PeerInfo> out;
  out.reserve(m_peers.size());
  for (const auto& [id, p] : m_peers)
    out.push_back(info_of(p));
  return out;
}

std::optional<PeerInfo> PeerManager::peer_info(PeerId peer) const {
  const Peer* p = find(peer);
  if (!p) return std::nullopt;
  return info_of(*p);
}

bool PeerManager::is_suspected(PeerId peer) const {
  const Peer* p = find(peer);
  return p && p->suspected;
}

bool PeerManager::is_ready(PeerId peer) const {
  const Peer* p = find(peer);
  return p && !p->disconnecting && p->handshake.done();
}

std::vector<PeerId> PeerManager::ready_peers() const {
  std::vector<PeerId> out;
  for (const auto& [id, p] : m_peers)
    if (!p.disconnecting && p.handshake.done()) out.push_back(id);
  return out;
}

size_t PeerManager::outbound_count() const {
  size_t n = 0;
  for (const auto& [id, p] : m_peers)
    n += !p.conn.inbound && !p.disconnecting;
  return n;
}

void PeerManager::sanity_check() const {
  std::map<PublicKey, std::pair<int, int>> live;  // identity → (inbound, outbound)
  for (const auto& [id, p] : m_peers) {
    HEARSAY_CHECK(id == p.conn.id);
    p.handshake.sanity_check();
    p.detector.sanity_check();
    p.known_records.sanity_check();
    HEARSAY_CHECK(p.detector.started() == p.handshake.done());
    HEARSAY_CHECK(p.misbehaviour >= 0 && p.misbehaviour <= kMisbehaviourThreshold);
    HEARSAY_CHECK(p.misbehaviour < kMisbehaviourThreshold || p.disconnecting);
    HEARSAY_CHECK(p.conn.inbound == (p.origin == Origin::kInbound));
    if (p.origin == Origin::kConnect) {
      HEARSAY_CHECK(p.connect_index < m_connect.size());
      HEARSAY_CHECK(m_connect[p.connect_index].peer == id);
    }
    if (!p.disconnecting) {
      HEARSAY_CHECK(p.conn.identity != m_identity.public_key());
      auto& [in, out] = live[p.conn.identity];
      (p.conn.inbound ? in : out)++;
    }
  }
  // Duplicate resolution: per identity either inbound connections only, or one outbound.
  for (const auto& [key, counts] : live) {
    HEARSAY_CHECK(counts.second <= 1);
    HEARSAY_CHECK(counts.second == 0 || counts.first == 0);
  }
  size_t pending_connect = 0;
  for (const PendingDial& d : m_pending) {
    if (d.origin == Origin::kConnect) {
      HEARSAY_CHECK(d.connect_index < m_connect.size() && m_connect[d.connect_index].pending);
      ++pending_connect;
    }
  }
  size_t slots_pending = 0;
  for (const ConnectSlot& s : m_connect) {
    slots_pending += s.pending;
    HEARSAY_CHECK(!(s.pending && s.peer));
    if (s.peer) HEARSAY_CHECK(m_peers.count(*s.peer));
  }
  HEARSAY_CHECK(slots_pending == pending_connect);
  HEARSAY_CHECK(m_pending.size() <= m_cfg.max_outbound + m_connect.size());
  HEARSAY_CHECK(m_banned.size() <= kMaxLocalBans);
  m_addrman.sanity_check();
}

}  // namespace hearsay
