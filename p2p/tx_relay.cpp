#include "p2p/tx_relay.h"

#include <algorithm>
#include <cmath>

#include "crypto/result.h"

namespace hearsay {

namespace {

SipKey draw_key(std::mt19937_64& rng) {
  SipKey k{};
  for (uint8_t& b : k)
    b = static_cast<uint8_t>(rng());
  return k;
}

SeenSetOptions known_options(size_t max_entries) {
  SeenSetOptions o;
  o.expiry = kKnownExpiry;
  o.max_entries = max_entries;
  return o;
}

InvEntry tx_entry(const TxId& id) {
  return InvEntry{InvType::kTx, id};
}

}  // namespace

TxRelay::PeerState::PeerState(const SipKey& salt, size_t known_max)
    : known(salt, known_options(known_max)), requested(0, IdHash(salt)) {}

TxRelay::TxRelay(PeerManager& pm, TxPool& pool, TxRelayConfig cfg, RelayObserver* observer,
                 RelayLatencySink* latency)
    : m_pm(pm),
      m_pool(pool),
      m_cfg(cfg),
      m_observer(observer),
      m_latency(latency),
      m_rng(cfg.rng_seed),
      m_salt(draw_key(m_rng)),
      m_seen(m_salt,
             SeenSetOptions{cfg.seen_expiry, cfg.seen_max_entries, kDefaultSeenGenerations}),
      m_tracker(draw_key(m_rng), cfg.tracker),
      m_verifying(0, IdHash(m_salt)),
      m_frames(0, IdHash(m_salt)) {
  m_pm.set_relay(this);
}

TxRelay::~TxRelay() {
  m_pm.set_relay(nullptr);
}

TxRelay::PeerState* TxRelay::find(PeerId peer) {
  auto it = m_peers.find(peer);
  return it == m_peers.end() ? nullptr : &it->second;
}

// --- peers ------------------------------------------------------------------------------------

void TxRelay::on_peer_ready(PeerId peer, Time now) {
  auto info = m_pm.peer_info(peer);
  if (!info) return;
  auto [it, fresh] = m_peers.try_emplace(peer, m_salt, m_cfg.known_per_peer);
  if (!fresh) return;
  PeerState& ps = it->second;
  ps.identity = info->identity;
  ps.address = info->remote;
  ps.preferred = !info->inbound || info->trusted;
  ps.pushes = (info->services & kServicePushTx) != 0;
  ps.next_inv = next_trickle(now);
  // Anti-entropy: what we hold, newest first, as announcements (the known filter is empty).
  for (const TxRef& tx : m_pool.newest(kAntiEntropyMax)) {
    if (ps.queue.size() >= kMaxAnnounceQueue) break;
    ps.known.insert(tx->id(), now);
    ps.queue.push_back(tx->id());
  }
  // Newest first was the selection order; announce oldest first so nonce chains arrive in order.
  std::reverse(ps.queue.begin(), ps.queue.end());
  if (!ps.queue.empty()) m_dirty = true;
  flush(now);
}

void TxRelay::on_peer_gone(PeerId peer, Time now) {
  m_peers.erase(peer);
  m_tracker.disconnected_peer(peer);
  for (auto& [id, v] : m_verifying)
    if (v.from == peer) v.from.reset();  // gone: a forgery still bans its identity
  request_all(now);
  flush(now);
}

void TxRelay::on_tick(Time now) {
  request_all(now);
  for (auto& [id, ps] : m_peers) {
    for (auto it = ps.requested.begin(); it != ps.requested.end();)
      it = now - it->second > kRequestedMemory ? ps.requested.erase(it) : std::next(it);
    if (m_cfg.inv_interval > Duration::zero() && now >= ps.next_inv && !ps.queue.empty())
      m_dirty = true;
  }
  m_seen.expire(now);
  if (now >= m_next_pool_expire) {
    if (m_next_pool_expire != Time{}) m_stats.expired += m_pool.expire(now);
    m_next_pool_expire = now + kPoolExpireInterval;
  }
  flush(now);
}

// --- messages ---------------------------------------------------------------------------------

void TxRelay::on_message(PeerId peer, Message&& msg, Time now) {
  PeerState* ps = find(peer);
  if (!ps) return;
  switch (type_of(msg)) {
    case MsgType::kInv:
      handle_inv(peer, *ps, std::get<InvMsg>(msg), now);
      break;
    case MsgType::kGetData:
      handle_getdata(peer, *ps, std::get<GetDataMsg>(msg), now);
      break;
    case MsgType::kNotFound:
      handle_notfound(peer, *ps, std::get<NotFoundMsg>(msg), now);
      break;
    case MsgType::kTx:
      handle_tx(peer, *ps, std::move(std::get<TxMsg>(msg).tx), now);
      break;
    default:
      break;  // block messages: the block relay's (PeerManager::set_block_relay)
  }
  flush(now);
}

void TxRelay::handle_inv(PeerId peer, PeerState& ps, const InvMsg& m, Time now) {
  bool added = false;
  for (const InvEntry& e : m.entries) {
    if (e.type != InvType::kTx) continue;
    ++m_stats.inv_received;
    ps.known.insert(e.hash, now);
    if (m_seen.contains(e.hash, now) || m_pool.contains(e.hash)) continue;
    Time reqtime = now;
    if (!ps.preferred) reqtime += m_cfg.non_preferred_delay;
    if (m_tracker.count_in_flight(peer) >= m_cfg.tracker.max_in_flight)
      reqtime += kOverloadedPeerDelay;
    added |= m_tracker.received_inv(peer, e.hash, ps.preferred, reqtime) ==
             TxRequestTracker::InvResult::kAdded;
  }
  if (added) request_from(peer, ps, now);
}

void TxRelay::handle_getdata(PeerId peer, PeerState& ps, const GetDataMsg& m, Time now) {
  NotFoundMsg missing;
  size_t answered = 0;
  for (const InvEntry& e : m.entries) {
    if (e.type != InvType::kTx) {
      // Block entries reach us only when no block relay is registered: nothing serves them.
      missing.entries.push_back(e);
      continue;
    }
    if (answered == kMaxGetDataTx) {
      m_pm.misbehaving(peer, kScoreOversizedGetData, "getdata for more than 1000 transactions");
      break;
    }
    ++answered;
    ++m_stats.getdata_received;
    if (SharedBytes frame = frame_of(e.hash)) {
      ps.known.insert(e.hash, now);
      m_pm.send_frame(peer, std::move(frame), MsgType::kTx);
      ++m_stats.served;
    } else {
      missing.entries.push_back(e);
    }
  }
  if (!missing.entries.empty()) {
    m_stats.notfound_sent += missing.entries.size();
    m_pm.send(peer, missing);
  }
}

void TxRelay::handle_notfound(PeerId peer, PeerState& ps, const NotFoundMsg& m, Time now) {
  bool any = false;
  for (const InvEntry& e : m.entries) {
    if (e.type != InvType::kTx) continue;
    ++m_stats.notfound_received;
    if (ps.requested.erase(e.hash) == 0) continue;  // not ours to care about
    m_tracker.received_response(peer, e.hash);
    any = true;
  }
  if (any) request_all(now);
}

void TxRelay::handle_tx(PeerId peer, PeerState& ps, TxRef tx, Time now) {
  ++m_stats.bodies_received;
  const TxId& id = tx->id();
  const bool requested = ps.requested.erase(id) != 0;
  if (!requested && !ps.pushes) {
    ++m_stats.unrequested;
    m_pm.misbehaving(peer, kScoreUnrequestedTx, "unrequested transaction");
    return;
  }
  ps.known.insert(id, now);
  m_tracker.received_response(peer, id);
  if (requested) {
    ps.request_due = true;
    m_request_due = true;
  }
  if (m_seen.contains(id, now) || m_pool.contains(id)) {
    ++m_stats.duplicate_bodies;
    return;
  }
  if (m_verifying.size() >= kMaxVerifying) {
    // Not the peer's fault, and not remembered as seen: another announcement fetches it again.
    ++m_stats.verify_dropped;
    return;
  }
  if (m_observer) m_observer->tx_first_seen(id, TxSource{false, ps.identity}, now);
  m_seen.insert(id, now);
  m_tracker.forget_txid(id);
  const PoolResult r = m_pool.precheck(*tx, now);
  if (r.answer == PoolAnswer::kAlreadyHave) return;
  if (r.answer == PoolAnswer::kRejected) {
    ++m_stats.rejected;
    if (m_observer) m_observer->tx_rejected(id, r.reason, now);
    return;
  }
  m_verifying.emplace(id, Verifying{tx, peer, now, ps.identity, ps.address});
  m_to_verify.push_back(std::move(tx));
}

void TxRelay::on_verified(std::span<const TxRef> txs, std::span<const uint8_t> valid, Time now) {
  std::vector<TxRef> good;
  std::vector<Verifying> origin;
  good.reserve(txs.size());
  origin.reserve(txs.size());
  for (size_t i = 0; i < txs.size(); ++i) {
    auto it = m_verifying.find(txs[i]->id());
    // Not ours: a local submit admitted it meanwhile, or the block relay asked for it.
    if (it == m_verifying.end()) continue;
    Verifying v = std::move(it->second);
    m_verifying.erase(it);
    if (!valid[i]) {
      ++m_stats.bad_signatures;
      ++m_stats.rejected;
      if (m_observer) m_observer->tx_rejected(v.tx->id(), "bad-signature", now);
      if (v.sender_identity != PublicKey{})
        m_pm.ban_identity(v.sender_identity, v.sender_address,
                          "relayed a transaction with a forged signature", now);
      continue;
    }
    good.push_back(v.tx);
    origin.push_back(std::move(v));
  }
  if (!good.empty()) {
    std::vector<PoolResult> results = m_pool.admit_verified(good, now);
    HEARSAY_CHECK(results.size() == good.size());
    for (size_t i = 0; i < good.size(); ++i) {
      if (results[i].ok()) {
        admitted(good[i], origin[i].from, now);
        if (m_latency) m_latency->tx_relay_latency(now - origin[i].first_seen);
      } else if (results[i].answer == PoolAnswer::kRejected) {
        ++m_stats.rejected;
        if (m_observer) m_observer->tx_rejected(good[i]->id(), results[i].reason, now);
      }
    }
  }
  flush(now);
}

PoolResult TxRelay::submit(const TxRef& tx, bool signature_verified, Time now) {
  ++m_stats.local_submitted;
  const TxId& id = tx->id();
  if (m_pool.contains(id)) return {PoolAnswer::kAlreadyHave, "txn-already-in-mempool"};
  if (!m_seen.contains(id, now) && m_observer) m_observer->tx_first_seen(id, TxSource{}, now);
  m_seen.insert(id, now);
  m_tracker.forget_txid(id);
  PoolResult r = m_pool.precheck(*tx, now);
  if (r.ok() && !signature_verified && !tx->verify_signature())
    r = {PoolAnswer::kRejected, "bad-signature"};
  if (r.ok()) {
    const TxRef batch[] = {tx};
    r = m_pool.admit_verified(batch, now).at(0);
  }
  if (r.ok()) {
    m_verifying.erase(id);  // a peer's copy under verification needs no admission any more
    admitted(tx, std::nullopt, now);
    flush(now);
  } else if (r.answer == PoolAnswer::kRejected) {
    ++m_stats.rejected;
    if (m_observer) m_observer->tx_rejected(id, r.reason, now);
  }
  return r;
}

// --- announcing and requesting ----------------------------------------------------------------

void TxRelay::admitted(const TxRef& tx, std::optional<PeerId> from, Time now) {
  ++m_stats.accepted;
  const TxId& id = tx->id();
  if (m_observer) m_observer->tx_accepted(id, now);

  // A later transaction of the same admission batch replaced it: nothing to relay.
  if (!m_pool.contains(id)) return;
  // Push to a few random peers that lack it, when configured.
  if (m_cfg.push_peers > 0) {
    std::vector<PeerId> candidates;
    for (auto& [peer, ps] : m_peers)
      if (peer != from && !ps.known.contains(id, now)) candidates.push_back(peer);
    std::shuffle(candidates.begin(), candidates.end(), m_rng);
    if (candidates.size() > m_cfg.push_peers) candidates.resize(m_cfg.push_peers);
    if (!candidates.empty()) {
      SharedBytes frame = frame_of(id);
      for (PeerId peer : candidates) {
        m_peers.at(peer).known.insert(id, now);
        m_pm.send_frame(peer, frame, MsgType::kTx);
        ++m_stats.pushed;
      }
    }
  }
  for (auto& [peer, ps] : m_peers) {
    if (peer == from || !ps.known.insert(id, now)) continue;
    if (ps.queue.size() >= kMaxAnnounceQueue) {
      ++m_stats.announce_dropped;
      continue;
    }
    if (ps.queue.empty()) start_trickle(ps, now);
    ps.queue.push_back(id);
    m_dirty = true;
  }
}

void TxRelay::start_trickle(PeerState& ps, Time now) {
  // The peer's timer ran out while its queue was empty: draw afresh from now. (The exponential
  // is memoryless, so this is the Poisson timer Bitcoin runs all the time; keeping the stale
  // time instead would announce at once, telling a spy who heard the transaction first.)
  if (m_cfg.inv_interval > Duration::zero() && now >= ps.next_inv) ps.next_inv = next_trickle(now);
}

void TxRelay::flush(Time now) {
  if (m_request_due) {
    m_request_due = false;
    for (auto& [peer, ps] : m_peers) {
      if (!ps.request_due) continue;
      ps.request_due = false;
      request_from(peer, ps, now);
    }
  }
  if (!m_to_verify.empty()) {
    std::vector<TxRef> batch;
    batch.swap(m_to_verify);
    m_pm.verify(std::move(batch));
  }
  if (!m_dirty) return;
  m_dirty = false;
  // Peers whose queues are due get their inv; equal queues share one serialisation.
  const std::vector<TxId>* last = nullptr;
  std::vector<SharedBytes> last_frames;
  for (auto& [peer, ps] : m_peers) {
    if (ps.queue.empty()) continue;
    if (m_cfg.inv_interval > Duration::zero()) {
      if (now < ps.next_inv) {
        m_dirty = true;  // still waiting
        continue;
      }
      ps.next_inv = next_trickle(now);
    }
    if (!last || *last != ps.queue) {
      last_frames.clear();
      for (size_t at = 0; at < ps.queue.size(); at += kMaxInvPerMessage) {
        InvMsg inv;
        const size_t end = std::min(ps.queue.size(), at + kMaxInvPerMessage);
        inv.entries.reserve(end - at);
        for (size_t i = at; i < end; ++i)
          inv.entries.push_back(tx_entry(ps.queue[i]));
        last_frames.push_back(encode_frame(m_pm.magic(), inv));
      }
      last = &ps.queue;
    }
    for (size_t i = 0; i < last_frames.size(); ++i) {
      m_pm.send_frame(peer, last_frames[i], MsgType::kInv);
      const size_t n = std::min(kMaxInvPerMessage, ps.queue.size() - i * kMaxInvPerMessage);
      if (m_observer) m_observer->inv_sent(ps.identity, n, now);
    }
    m_stats.inv_sent += ps.queue.size();
    m_stats.inv_messages_sent += last_frames.size();
    // Keep `last` comparable: move the queue aside instead of clearing it in place.
    if (last == &ps.queue) {
      m_last_sent.swap(ps.queue);
      last = &m_last_sent;
    }
    ps.queue.clear();
  }
  m_last_sent.clear();
}

void TxRelay::request_from(PeerId peer, PeerState& ps, Time now) {
  std::vector<std::pair<PeerId, Hash256>> expired;
  std::vector<Hash256> ids = m_tracker.get_requestable(peer, now, &expired);
  m_stats.request_timeouts += expired.size();
  if (ids.empty()) return;
  GetDataMsg gd;
  gd.entries.reserve(ids.size());
  for (const Hash256& id : ids) {
    if (!m_tracker.requested_tx(peer, id, now + m_cfg.request_timeout)) continue;
    if (ps.requested.size() >= kMaxRequestedPerPeer) {
      // Forget the oldest outstanding request (its answer, if it comes, is then unrequested
      // only if the peer cannot push; a request older than kRequestedMemory is long timed out).
      auto oldest =
          std::min_element(ps.requested.begin(), ps.requested.end(),
                           [](const auto& a, const auto& b) { return a.second < b.second; });
      ps.requested.erase(oldest);
    }
    ps.requested[id] = now;
    gd.entries.push_back(tx_entry(id));
  }
  if (gd.entries.empty()) return;
  m_stats.getdata_sent += gd.entries.size();
  if (m_observer) m_observer->getdata_sent(ps.identity, gd.entries.size(), now);
  m_pm.send(peer, gd);
}

void TxRelay::request_all(Time now) {
  for (auto& [peer, ps] : m_peers)
    request_from(peer, ps, now);
}

Time TxRelay::next_trickle(Time now) {
  if (m_cfg.inv_interval <= Duration::zero()) return now;
  std::exponential_distribution<double> exp(1.0);
  const double f = std::min(exp(m_rng), 20.0);  // cap the tail at 20 means
  return now +
         Duration(static_cast<Duration::rep>(f * static_cast<double>(m_cfg.inv_interval.count())));
}

// --- frames -------------------------------------------------------------------------------------

void TxRelay::remember_frame(const TxId& id, SharedBytes frame) {
  if (m_frame_order.size() < kFrameCacheSize) {  // the ring grows as it fills
    m_frame_order.push_back(id);
  } else {
    TxId& slot = m_frame_order[m_frame_next];
    if (m_frames.size() >= kFrameCacheSize) m_frames.erase(slot);
    slot = id;
    m_frame_next = (m_frame_next + 1) % kFrameCacheSize;
  }
  m_frames.emplace(id, std::move(frame));
}

SharedBytes TxRelay::frame_of(const TxId& id) {
  // Only what we hold now: a cached frame may outlive its transaction (evicted, replaced).
  if (!m_pool.contains(id)) return nullptr;
  auto it = m_frames.find(id);
  if (it != m_frames.end()) return it->second;
  TxRef tx = m_pool.get(id);
  if (!tx) return nullptr;
  SharedBytes frame = encode_frame(m_pm.magic(), TxMsg{tx});
  remember_frame(id, frame);
  return frame;
}

// --- introspection ------------------------------------------------------------------------------

const TxRelayStats& TxRelay::stats() const {
  m_stats.verifying = m_verifying.size();
  m_stats.seen_size = m_seen.size();
  m_stats.seen_memory_bytes = m_seen.memory_bytes();
  m_stats.tracked_announcements = m_tracker.size();
  return m_stats;
}

bool TxRelay::known_to_peer(PeerId peer, const TxId& id, Time now) const {
  auto it = m_peers.find(peer);
  return it != m_peers.end() && it->second.known.contains(id, now);
}

void TxRelay::sanity_check() const {
  m_tracker.sanity_check();
  m_seen.sanity_check();
  HEARSAY_CHECK(m_verifying.size() <= kMaxVerifying);
  HEARSAY_CHECK(m_frames.size() <= kFrameCacheSize);
  for (const auto& [peer, ps] : m_peers) {
    HEARSAY_CHECK(m_pm.peer_info(peer).has_value());
    HEARSAY_CHECK(ps.queue.size() <= kMaxAnnounceQueue);
    HEARSAY_CHECK(ps.requested.size() <= kMaxRequestedPerPeer);
    HEARSAY_CHECK(m_tracker.count(peer) <= m_cfg.tracker.max_announcements);
    HEARSAY_CHECK(m_tracker.count_in_flight(peer) <= m_cfg.tracker.max_in_flight);
    ps.known.sanity_check();
  }
  for (const auto& [id, v] : m_verifying) {
    HEARSAY_CHECK(v.tx && v.tx->id() == id);
    if (v.from) HEARSAY_CHECK(m_peers.count(*v.from) != 0);
  }
}

}  // namespace hearsay
