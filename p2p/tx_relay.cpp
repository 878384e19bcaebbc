#include "p2p/tx_relay.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "crypto/result.h"

namespace hearsay {

namespace {

// The window's ceiling is never below its floor (the tracker's cap): one bound for every check.
TxRelayConfig with_window_bounds(TxRelayConfig cfg) {
  cfg.max_in_flight_ceiling = std::max(cfg.max_in_flight_ceiling, cfg.tracker.max_in_flight);
  return cfg;
}

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

// Drops the entry with the oldest time of a map of outstanding requests (O(size), at its bound).
template <class Map>
void forget_oldest(Map& m) {
  auto time_of = [](const auto& v) {
    if constexpr (requires { v.at; })
      return v.at;
    else
      return v;
  };
  auto oldest = std::min_element(m.begin(), m.end(), [&](const auto& a, const auto& b) {
    return time_of(a.second) < time_of(b.second);
  });
  if (oldest != m.end()) m.erase(oldest);
}

}  // namespace

TxRelay::PeerState::PeerState(const SipKey& salt, size_t known_max)
    : known(salt, known_options(known_max)),
      requested(0, IdHash(salt)),
      entry_of(0, IdHash(salt)),
      owed(0, IdHash(salt)),
      recon_offered(0, IdHash(salt)) {}

// --- recent ids -------------------------------------------------------------------------------

TxRelay::RecentIds::RecentIds() : m_head(size_t{1} << 16, kNone) {}

void TxRelay::RecentIds::insert(const TxId& id, uint16_t bucket) {
  bool present = false;
  for_bucket(bucket, [&](const TxId& known) { present |= known == id; });
  if (present) return;
  uint32_t at;
  if (m_slots.size() < kRecentIds) {
    at = static_cast<uint32_t>(m_slots.size());
    m_slots.emplace_back();
  } else {
    at = static_cast<uint32_t>(m_next);
    m_next = (m_next + 1) % kRecentIds;
    // The oldest slot is the last of its chain (chains run newest first): cut it off in O(1),
    // however long a peer made that chain.
    const Slot& old = m_slots[at];
    if (old.prev == kNone)
      m_head[old.bucket] = kNone;
    else
      m_slots[old.prev].next = kNone;
  }
  const uint32_t head = m_head[bucket];
  m_slots[at] = Slot{id, head, kNone, bucket};
  if (head != kNone) m_slots[head].prev = at;
  m_head[bucket] = at;
}

// O(slots): every slot is linked both ways within its own bucket's chain.
void TxRelay::RecentIds::sanity_check() const {
  HEARSAY_CHECK(m_slots.size() <= kRecentIds && m_next < kRecentIds);
  for (uint32_t i = 0; i < m_slots.size(); ++i) {
    const Slot& s = m_slots[i];
    if (s.prev == kNone) {
      HEARSAY_CHECK(m_head[s.bucket] == i);
    } else {
      HEARSAY_CHECK(s.prev < m_slots.size() && m_slots[s.prev].next == i);
      HEARSAY_CHECK(m_slots[s.prev].bucket == s.bucket);
    }
    if (s.next != kNone) HEARSAY_CHECK(s.next < m_slots.size() && m_slots[s.next].prev == i);
  }
}

TxRelay::TxRelay(PeerManager& pm, TxPool& pool, TxRelayConfig cfg, RelayObserver* observer,
                 RelayLatencySink* latency)
    : m_pm(pm),
      m_pool(pool),
      m_cfg(with_window_bounds(std::move(cfg))),
      m_observer(observer),
      m_latency(latency),
      m_rng(m_cfg.rng_seed),
      m_salt(draw_key(m_rng)),
      m_seen(m_salt,
             SeenSetOptions{m_cfg.seen_expiry, m_cfg.seen_max_entries, kDefaultSeenGenerations}),
      m_tracker(draw_key(m_rng),
                TxRequestOptions{m_cfg.tracker.max_announcements, m_cfg.max_in_flight_ceiling}),
      m_verifying(0, IdHash(m_salt)),
      m_frames(0, IdHash(m_salt)),
      m_short_ids((pm.config().services & kServiceShortIds) != 0),
      m_bucket_salt(m_rng()),
      m_bucket_key(short_id_bucket_key(m_bucket_salt)),
      m_recon((pm.config().services & kServiceRecon) != 0),
      m_tree((pm.config().services & kServiceTree) != 0),
      m_origin_tag(static_cast<uint32_t>(m_rng())) {
  for (uint8_t& b : m_unknown_tag)
    b = static_cast<uint8_t>(m_rng());
  HEARSAY_CHECK(m_cfg.max_in_flight_ceiling <= kMaxRequestedPerPeer);
  HEARSAY_CHECK(m_cfg.verify_hold_low < m_cfg.verify_hold_high &&
                m_cfg.verify_hold_high < kMaxVerifying);
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
  ps.outbound = !info->inbound;
  ps.pushes = (info->services & kServicePushTx) != 0;
  ps.window = m_cfg.tracker.max_in_flight;
  ps.tree = m_tree && (info->services & kServiceTree) != 0;
  if (ps.tree) ++m_stats.tree_peers;
  ps.next_inv = next_trickle(ps, now);
  if (m_short_ids && (info->services & kServiceShortIds) != 0) {
    ps.nonce = m_rng();
    ps.offered = true;
    const auto& only = m_cfg.short_id_mask_peers;
    if (only.empty() || std::find(only.begin(), only.end(), ps.identity) != only.end())
      ps.mask = m_cfg.short_id_mask;
    ps.short_ids = ShortIds::kPending;
    ps.short_deadline = now + kShortIdNegotiationTimeout;
    m_pm.send(peer, SendShortIdsMsg{kShortIdsVersion, ps.nonce, m_bucket_salt});
    // Reconciliation waits for the short ids it is made of (recon_ready).
    ps.recon = m_recon && (info->services & kServiceRecon) != 0;
  }
  if (ps.recon)
    choose_flood_peers();
  else
    announce_newest(ps);
  flush(now);
}

// Anti-entropy without reconciliation: what we hold, newest first, as announcements (the known
// filter is empty).
void TxRelay::announce_newest(PeerState& ps) {
  for (const TxRef& tx : m_pool.newest(kAntiEntropyMax)) {
    if (ps.queue.size() >= kMaxAnnounceQueue) break;
    ps.queue.push_back(tx->id());
  }
  // Newest first was the selection order; announce oldest first so nonce chains arrive in order.
  std::reverse(ps.queue.begin(), ps.queue.end());
  if (!ps.queue.empty()) m_dirty = true;
}

void TxRelay::on_peer_gone(PeerId peer, Time now) {
  auto gone = m_peers.find(peer);
  bool recon = false;
  if (gone != m_peers.end()) {
    recon = gone->second.recon;
    m_peers.erase(gone);
  }
  if (recon) choose_flood_peers();
  if (m_tree) tree_parent_gone(peer);
  m_tracker.disconnected_peer(peer);
  for (auto& [id, v] : m_verifying)
    if (v.from == peer) v.from.reset();  // gone: a forgery still bans its identity
  request_all(now);
  flush(now);
}

void TxRelay::on_tick(Time now) {
  if (!m_unwritten.empty()) settle_writes(now);  // the node reports writes too; this is the net
  // A sample whose answers stopped (everything else was delayed) closes on the clock.
  for (auto& [id, ps] : m_peers)
    if (ps.link.close_sample(now)) adapt(id, ps, now);
  request_all(now);
  for (auto& [id, ps] : m_peers) {
    for (auto it = ps.requested.begin(); it != ps.requested.end();)
      it = now - it->second > kRequestedMemory ? ps.requested.erase(it) : std::next(it);
    expire_short_ids(id, ps, now);
    check_owed(id, ps, now);
    if (ps.short_ids == ShortIds::kPending && now >= ps.short_deadline) {
      ps.short_ids = ShortIds::kOff;  // it never sent sendshortids: full ids from now on
      if (ps.recon) recon_off(id, ps, now);
      if (!ps.queue.empty()) m_dirty = true;
    }
    if (ps.recon) recon_tick(id, ps, now);
    if (trickle_interval(ps) > Duration::zero() && now >= ps.next_inv && !ps.queue.empty())
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
      handle_tx(peer, *ps, std::move(std::get<TxMsg>(msg).tx), std::nullopt, now);
      break;
    case MsgType::kTreeTx: {
      if (!ps->tree) {
        m_pm.misbehaving(peer, kScoreUnexpectedTree, "treetx without tree relay negotiated");
        break;
      }
      auto& m = std::get<TreeTxMsg>(msg);
      handle_tx(peer, *ps, std::move(m.tx), m.origin, now);
      break;
    }
    case MsgType::kPrune:
      handle_prune(peer, *ps, std::get<PruneMsg>(msg));
      break;
    case MsgType::kGraft:
      handle_graft(peer, *ps, std::get<GraftMsg>(msg));
      break;
    case MsgType::kSendShortIds:
      handle_sendshortids(peer, *ps, std::get<SendShortIdsMsg>(msg), now);
      break;
    case MsgType::kTxInv:
      handle_txinv(peer, *ps, std::get<TxInvMsg>(msg), now);
      break;
    case MsgType::kGetTx:
      handle_gettx(peer, *ps, std::get<GetTxMsg>(msg), now);
      break;
    case MsgType::kTxNotFound:
      handle_txnotfound(peer, *ps, std::get<TxNotFoundMsg>(msg), now);
      break;
    case MsgType::kReqRecon:
      handle_reqrecon(peer, *ps, std::get<ReqReconMsg>(msg), now);
      break;
    case MsgType::kReconDiff:
      handle_recondiff(peer, *ps, std::get<ReconDiffMsg>(msg), now);
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
    settle_offer(ps, e.hash);
    ps.owed.erase(e.hash);  // it has it, and treats us as lazy: not withholding
    if (m_seen.contains(e.hash, now) || m_pool.contains(e.hash)) continue;
    switch (m_tracker.received_inv(peer, e.hash, ps.preferred, request_time(peer, ps, now))) {
      case TxRequestTracker::InvResult::kAdded:
        added = true;
        remember_id(e.hash);  // a short id for it from another peer now finds it
        break;
      case TxRequestTracker::InvResult::kPeerFull:
        defer(ps, e.hash);
        break;
      case TxRequestTracker::InvResult::kDuplicate:
        break;
    }
  }
  if (added) request_from(peer, ps, now);
}

// The tracker holds as many of the peer's announcements as it may: keep the id for later.
void TxRelay::defer(PeerState& ps, const TxId& id) {
  if (ps.deferred.size() >= m_cfg.max_deferred_per_peer) {
    ++m_stats.deferred_dropped;
    return;
  }
  ps.deferred.push_back(id);
  ++m_stats.deferred;
}

// Moves deferred announcements into the tracker while the peer is below its cap there (those
// we have meanwhile seen or hold are done with). They were announced a while ago: no overload
// delay (the peer has room now; that delay is for announcements arriving while it has none).
void TxRelay::track_deferred(PeerId peer, PeerState& ps, Time now) {
  while (!ps.deferred.empty() && m_tracker.count(peer) < m_cfg.tracker.max_announcements) {
    const TxId id = ps.deferred.front();
    ps.deferred.pop_front();
    if (m_seen.contains(id, now) || m_pool.contains(id)) continue;
    if (m_tracker.received_inv(peer, id, ps.preferred, first_request_time(ps, now)) ==
        TxRequestTracker::InvResult::kAdded)
      remember_id(id);
  }
}

// A request to `peer` sent at `asked` was answered now: the meter learns from it, the window
// follows, and announcements delayed because the peer looked overloaded are brought forward
// once it shows it answers them within that delay anyway (only those of a preferred peer off
// the tree: that delay was their only one).
void TxRelay::answered(PeerId peer, PeerState& ps, Time asked, Time now) {
  if (ps.link.delivered(asked, now)) adapt(peer, ps, now);
}

// A rate sample closed: the window follows the link, and the overload delay may be lifted.
void TxRelay::adapt(PeerId peer, PeerState& ps, Time now) {
  ps.window = ps.link.window(m_cfg.tracker.max_in_flight, m_cfg.max_in_flight_ceiling);
  if (!ps.overload_delayed || !ps.preferred || ps.tree) return;
  const size_t backlog = m_tracker.count_candidates(peer) + m_tracker.count_in_flight(peer);
  if (!ps.link.drains_within(backlog, kOverloadedPeerDelay)) return;
  ps.overload_delayed = false;
  m_stats.expedited += m_tracker.expedite(peer, now);
}

// When an announcement from this peer may first be requested: outbound (and allow-listed) peers
// at once, others after non_preferred_delay, a peer at its in-flight cap a while later still.
Time TxRelay::first_request_time(const PeerState& ps, Time now) const {
  if (ps.tree) return now + m_cfg.graft_timeout;  // the eager path's time to deliver; asking grafts
  return ps.preferred ? now : now + m_cfg.non_preferred_delay;
}

Time TxRelay::request_time(PeerId peer, PeerState& ps, Time now) {
  Time reqtime = first_request_time(ps, now);
  // At its window, and (as far as its link has been measured) not answering what it was asked
  // within the delay: Bitcoin's OVERLOADED_PEER_TX_DELAY, so that other announcers win.
  const size_t in_flight = m_tracker.count_in_flight(peer);
  if (in_flight >= ps.window &&
      !ps.link.drains_within(m_tracker.count_candidates(peer) + in_flight, kOverloadedPeerDelay)) {
    reqtime += kOverloadedPeerDelay;
    ps.overload_delayed = true;
  }
  return reqtime;
}

// Sends the body of `id` (one shared frame) if we hold it; false if we do not. On a tree link
// the request grafts: the origin of `id` is pushed to the peer again from now on.
bool TxRelay::serve(PeerId peer, PeerState& ps, const TxId& id, Time now) {
  ps.owed.erase(id);  // it asks: it lacked it too
  SharedBytes frame = frame_of(id, ps.tree);
  if (!frame) return false;
  ps.known.insert(id, now);
  settle_offer(ps, id);
  m_pm.send_frame(peer, std::move(frame), ps.tree ? MsgType::kTreeTx : MsgType::kTx);
  ++m_stats.served;
  if (ps.tree) {
    const uint32_t origin = origin_of(id);
    if (ps.lazy_out.contains(origin)) ++m_stats.grafts_received;
    grafted_by(peer, ps, origin);
  }
  return true;
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
    if (!serve(peer, ps, e.hash, now)) missing.entries.push_back(e);
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

void TxRelay::handle_tx(PeerId peer, PeerState& ps, TxRef tx, std::optional<uint32_t> origin,
                        Time now) {
  ++m_stats.bodies_received;
  const TxId& id = tx->id();
  bool requested = false;
  Time asked{};
  if (auto req = ps.requested.find(id); req != ps.requested.end()) {
    requested = true;
    asked = req->second;
    ps.requested.erase(req);
  }
  if (ps.short_ids == ShortIds::kOn) {
    auto it = ps.short_requested.find(short_from(ps, id));
    if (it != ps.short_requested.end()) {
      requested = true;
      asked = it->second.at;
      if (it->second.key) {
        m_tracker.received_response(peer, *it->second.key);
        auto entry = ps.entry_of.find(*it->second.key);
        if (entry != ps.entry_of.end() && entry->second == it->first) ps.entry_of.erase(entry);
      }
      ps.short_requested.erase(it);
    }
  }
  if (!requested && !ps.pushes && !(origin && ps.tree)) {
    ++m_stats.unrequested;
    m_pm.misbehaving(peer, kScoreUnrequestedTx, "unrequested transaction");
    return;
  }
  ps.known.insert(id, now);
  settle_offer(ps, id);
  m_tracker.received_response(peer, id);
  if (requested) {
    ps.request_due = true;
    m_request_due = true;
    answered(peer, ps, asked, now);
  }
  ps.owed.erase(id);  // late, but sent
  if (m_seen.contains(id, now) || m_pool.contains(id)) {
    ++m_stats.duplicate_bodies;
    // Pushed to us over a second path: prune it for this origin (not the parent's: it lost a
    // race to a push sent before our prune reached its sender).
    const OriginState* os = origin ? m_origins.find(*origin) : nullptr;
    if (origin && !requested && !(os && os->parent == peer) && !ps.pruned_in.contains(*origin))
      prune(ps, *origin);
    return;
  }
  if (m_verifying.size() >= kMaxVerifying) {
    // Not the peer's fault, and not remembered as seen: it has the body, so the id waits as its
    // announcement and is fetched again (as are other peers' announcements of it).
    ++m_stats.verify_dropped;
    defer(ps, id);
    return;
  }
  if (m_observer) m_observer->tx_first_seen(id, TxSource{false, ps.identity}, now);
  m_seen.insert(id, now);
  if (origin) {
    // Who announced it before its body came: lazy peers faster than this path.
    std::vector<PeerId> announced_first;
    for (const auto& [other, os] : m_peers)
      if (other != peer && os.tree && m_tracker.state(other, id)) announced_first.push_back(other);
    m_tracker.forget_txid(id);
    resolve_short_ids(id, now, &announced_first);
    tree_first_copy(peer, ps, requested, *origin, announced_first, id, now);
  } else {
    m_tracker.forget_txid(id);
    resolve_short_ids(id, now);
  }
  const PoolResult r = m_pool.precheck(*tx, now);
  if (r.answer == PoolAnswer::kAlreadyHave) return;
  if (r.answer == PoolAnswer::kRejected) {
    ++m_stats.rejected;
    if (m_observer) m_observer->tx_rejected(id, r.reason, now);
    return;
  }
  m_verifying.emplace(id, Verifying{tx, peer, now, ps.identity, ps.address, origin});
  m_stats.verifying_peak = std::max(m_stats.verifying_peak, m_verifying.size());
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
        Unwritten u{results[i].ticket, good[i], origin[i].from, origin[i].origin,
                    origin[i].first_seen};
        if (u.ticket != 0)
          m_unwritten.push_back(std::move(u));
        else
          accepted(u, now);
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
  if (m_pool.contains(id)) {
    // Held, maybe not yet written: "already have" is an acknowledgement too.
    m_pool.wait_written(kAllWrites);
    settle_writes(now);  // a refused write undoes it here
    flush(now);
  }
  if (m_pool.contains(id)) return {PoolAnswer::kAlreadyHave, "txn-already-in-mempool"};
  if (!m_seen.contains(id, now) && m_observer) m_observer->tx_first_seen(id, TxSource{}, now);
  m_seen.insert(id, now);
  m_tracker.forget_txid(id);
  resolve_short_ids(id, now);
  PoolResult r = m_pool.precheck(*tx, now);
  if (r.ok() && !signature_verified && !tx->verify_signature())
    r = {PoolAnswer::kRejected, "bad-signature"};
  if (r.ok()) {
    const TxRef batch[] = {tx};
    r = m_pool.admit_verified(batch, now).at(0);
  }
  if (r.ok() && r.ticket != 0) {
    // Acknowledged only once written: wait for it (the writes queued before it go first).
    m_unwritten.push_back(Unwritten{r.ticket, tx, std::nullopt, std::nullopt, now, true});
    m_pool.wait_written(r.ticket);
    m_verifying.erase(id);
    const std::vector<TxId> undone = settle_writes(now);
    if (std::find(undone.begin(), undone.end(), id) != undone.end())
      return {PoolAnswer::kRejected, kStoreFailedReason};
    flush(now);
    return r;
  }
  if (r.ok()) {
    m_verifying.erase(id);  // a peer's copy under verification needs no admission any more
    admitted(tx, std::nullopt, std::nullopt, now);
    flush(now);
  } else if (r.answer == PoolAnswer::kRejected) {
    ++m_stats.rejected;
    if (m_observer) m_observer->tx_rejected(id, r.reason, now);
  }
  return r;
}

void TxRelay::accepted(const Unwritten& u, Time now) {
  admitted(u.tx, u.from, u.origin, now);
  if (!u.local && m_latency) m_latency->tx_relay_latency(now - u.first_seen);
}

std::vector<TxId> TxRelay::settle_writes(Time now) {
  WriteProgress p = m_pool.take_write_progress();
  std::sort(p.undone.begin(), p.undone.end());
  while (!m_unwritten.empty() && m_unwritten.front().ticket <= p.settled) {
    Unwritten u = std::move(m_unwritten.front());
    m_unwritten.pop_front();
    if (std::binary_search(p.undone.begin(), p.undone.end(), u.tx->id())) {
      ++m_stats.rejected;
      ++m_stats.store_failed;
      if (m_observer) m_observer->tx_rejected(u.tx->id(), kStoreFailedReason, now);
      continue;
    }
    if (u.from && !m_peers.count(*u.from)) u.from.reset();  // it disconnected meanwhile
    accepted(u, now);
  }
  return std::move(p.undone);
}

void TxRelay::on_written(Time now) {
  settle_writes(now);  // with nothing waiting, it still drains the pool's list of undone ids
  flow_control();
  flush(now);
}

// --- short ids --------------------------------------------------------------------------------

uint64_t TxRelay::short_to(const PeerState& ps, const TxId& id) const {
  return tx_short_id(ps.their_bucket_key, ps.link_key, id) & ps.mask;
}

uint64_t TxRelay::short_from(const PeerState& ps, const TxId& id) const {
  return tx_short_id(m_bucket_key, ps.link_key, id) & ps.mask;
}

TxId TxRelay::unknown_key(uint16_t bucket) const {
  TxId key = m_unknown_tag;
  key[30] = static_cast<uint8_t>(bucket);
  key[31] = static_cast<uint8_t>(bucket >> 8);
  return key;
}

bool TxRelay::is_unknown_key(const TxId& id) const {
  return std::equal(id.begin(), id.begin() + 30, m_unknown_tag.begin());
}

void TxRelay::remember_id(const TxId& id) {
  if (m_short_ids) m_recent.insert(id, short_id_bucket(m_bucket_key, id));
}

void TxRelay::resolve_short_ids(const TxId& id, Time now, std::vector<PeerId>* announcers) {
  if (!m_short_ids) return;
  remember_id(id);
  for (auto& [peer, ps] : m_peers) {
    if (ps.short_ids != ShortIds::kOn) continue;
    const uint64_t e = short_from(ps, id);
    const TxId key = unknown_key(static_cast<uint16_t>(e >> 32));
    auto it = ps.entry_of.find(key);
    if (it == ps.entry_of.end()) continue;
    if (it->second != e) {
      // Another transaction of the same bucket: its turn may have come (the tracker moves on).
      ps.request_due = true;
      m_request_due = true;
      continue;
    }
    // This peer's pending announcement was this transaction: it has it, and need not be asked.
    if (announcers && ps.tree && m_tracker.state(peer, key)) announcers->push_back(peer);
    ps.known.insert(id, now);
    settle_offer(ps, id);
    ps.entry_of.erase(it);
    m_tracker.received_response(peer, key);
  }
}

void TxRelay::handle_sendshortids(PeerId peer, PeerState& ps, const SendShortIdsMsg& m, Time now) {
  if (!ps.offered) return;  // we did not offer short ids to this peer: nothing to negotiate
  if (ps.got_sendshortids) {
    m_pm.misbehaving(peer, kScoreUnexpectedShortIds, "second sendshortids");
    return;
  }
  ps.got_sendshortids = true;
  if (m.version != kShortIdsVersion) {
    ps.short_ids = ShortIds::kOff;  // a version we do not speak: full ids
    if (ps.recon) recon_off(peer, ps, now);
  } else {
    ps.link_key = short_id_link_key(ps.nonce, m.nonce);
    ps.their_bucket_key = short_id_bucket_key(m.bucket_salt);
    ps.short_ids = ShortIds::kOn;
    ++m_stats.short_id_peers;
    if (ps.recon) recon_ready(peer, ps, now);
  }
  if (!ps.queue.empty()) m_dirty = true;  // what waited for it goes out now
}

void TxRelay::handle_txinv(PeerId peer, PeerState& ps, const TxInvMsg& m, Time now) {
  if (ps.short_ids != ShortIds::kOn) {
    m_pm.misbehaving(peer, kScoreUnexpectedShortIds, "txinv without short ids negotiated");
    return;
  }
  bool added = false;
  GetTxMsg at_once;
  for (const uint64_t e : m.ids) {
    ++m_stats.inv_received;
    const auto bucket = static_cast<uint16_t>(e >> 32);
    std::optional<TxId> match;
    size_t matches = 0;
    auto consider = [&](const TxId& id) {
      if (short_from(ps, id) == e && match != id) {
        match = id;
        ++matches;
      }
    };
    if (ps.mask == kShortIdMask)
      m_recent.for_bucket(bucket, consider);
    else
      m_recent.for_newest(consider);
    TxId key;
    if (matches == 1) {
      ps.known.insert(*match, now);
      settle_offer(ps, *match);
      ps.owed.erase(*match);
      if (m_seen.contains(*match, now) || m_pool.contains(*match)) continue;
      key = *match;
    } else {
      ++m_stats.short_id_unknown;
      key = unknown_key(bucket);
    }
    auto [slot, fresh] = ps.entry_of.try_emplace(key, e);
    if (!fresh && slot->second != e) {
      // Two unknown ids of one bucket from one peer: the tracker holds one per key, so ask for
      // this one at once (a rare case that at worst costs a duplicate body).
      if (ps.short_requested.size() < kMaxRequestedPerPeer &&
          ps.short_requested.try_emplace(e, ShortRequest{std::nullopt, now}).second)
        at_once.ids.push_back(e);
      continue;
    }
    if (fresh && ps.entry_of.size() > m_cfg.tracker.max_announcements * 2) {
      ps.entry_of.erase(slot);  // over the bound: the peer announces more than it can have asked
      continue;
    }
    // What a reconciliation found we lack and asked for, we request at once.
    const bool asked = !ps.recon_asked.empty() &&
                       ps.recon_asked.erase(recon_element(static_cast<uint32_t>(e))) != 0;
    const auto result = m_tracker.received_inv(peer, key, ps.preferred || asked,
                                               asked ? now : request_time(peer, ps, now));
    added |= result == TxRequestTracker::InvResult::kAdded;
    if (result == TxRequestTracker::InvResult::kPeerFull) {
      // Over the cap: a known id waits (and is asked for by full id later, when its short id
      // may be forgotten at the sender); an unknown short id cannot be asked for later at all.
      if (fresh) ps.entry_of.erase(key);
      if (matches == 1) defer(ps, key);
    }
  }
  if (!at_once.ids.empty()) {
    m_stats.getdata_sent += at_once.ids.size();
    if (m_observer) m_observer->getdata_sent(ps.identity, at_once.ids.size(), now);
    m_pm.send(peer, at_once);
  }
  if (added) request_from(peer, ps, now);
}

void TxRelay::handle_gettx(PeerId peer, PeerState& ps, const GetTxMsg& m, Time now) {
  if (ps.short_ids != ShortIds::kOn) {
    m_pm.misbehaving(peer, kScoreUnexpectedShortIds, "gettx without short ids negotiated");
    return;
  }
  TxNotFoundMsg missing;
  size_t answered = 0;
  for (const uint64_t e : m.ids) {
    if (answered == kMaxGetDataTx) {
      m_pm.misbehaving(peer, kScoreOversizedGetData, "gettx for more than 1000 transactions");
      break;
    }
    ++answered;
    ++m_stats.getdata_received;
    auto it = ps.announced.find(e);
    if (it == ps.announced.end() || !serve(peer, ps, it->second.id, now)) missing.ids.push_back(e);
  }
  if (!missing.ids.empty()) {
    m_stats.notfound_sent += missing.ids.size();
    m_pm.send(peer, missing);
  }
}

void TxRelay::handle_txnotfound(PeerId peer, PeerState& ps, const TxNotFoundMsg& m, Time now) {
  if (ps.short_ids != ShortIds::kOn) {
    m_pm.misbehaving(peer, kScoreUnexpectedShortIds, "txnotfound without short ids negotiated");
    return;
  }
  bool any = false;
  for (const uint64_t e : m.ids) {
    ++m_stats.notfound_received;
    auto it = ps.short_requested.find(e);
    if (it == ps.short_requested.end()) continue;  // not ours to care about
    if (it->second.key) {
      m_tracker.received_response(peer, *it->second.key);
      auto entry = ps.entry_of.find(*it->second.key);
      if (entry != ps.entry_of.end() && entry->second == e) ps.entry_of.erase(entry);
      any = true;
    }
    ps.short_requested.erase(it);
  }
  if (any) request_all(now);
}

void TxRelay::send_short_announcements(PeerId peer, PeerState& ps, std::span<const TxId> ids,
                                       Time now) {
  std::vector<uint64_t> shorts;
  std::vector<InvEntry> full;
  shorts.reserve(ids.size());
  for (const TxId& id : ids) {
    if (shorts.size() >= kAnnouncedShortIdsPerPeer) {
      // The map would forget short ids of this very announcement before the peer can ask for
      // them (a reconciliation or catch-up of thousands): the rest go by full id.
      full.push_back(tx_entry(id));
      continue;
    }
    const uint64_t e = short_to(ps, id);
    auto [it, fresh] = ps.announced.try_emplace(e, Announced{id, now, false});
    if (fresh) {
      ps.announced_order.emplace_back(e, now);
      shorts.push_back(e);
    } else if (it->second.id == id) {
      shorts.push_back(e);
    } else {
      // The short id is taken on this link: this one goes by full id, and so does the one that
      // holds it, once (the peer may have taken either for the other).
      ++m_stats.short_id_collisions;
      full.push_back(tx_entry(id));
      if (!it->second.resent) {
        it->second.resent = true;
        full.push_back(tx_entry(it->second.id));
      }
    }
  }
  while (ps.announced_order.size() > kAnnouncedShortIdsPerPeer) {
    auto [e, at] = ps.announced_order.front();
    ps.announced_order.pop_front();
    auto it = ps.announced.find(e);
    if (it != ps.announced.end() && it->second.at == at) ps.announced.erase(it);
  }
  // One message per kMaxInvPerMessage entries; Msg's one member is the list (TxInvMsg, InvMsg).
  auto send_chunks = [&](const auto& list, auto message, MsgType type) {
    using Msg = decltype(message);
    for (auto at = list.begin(); at != list.end();) {
      const auto end = at + std::min<ptrdiff_t>(list.end() - at, kMaxInvPerMessage);
      const auto n = static_cast<size_t>(end - at);
      m_pm.send_frame(peer, encode_frame(m_pm.magic(), Msg{{at, end}}), type);
      if (m_observer) m_observer->inv_sent(ps.identity, n, now);
      m_stats.inv_sent += n;
      ++m_stats.inv_messages_sent;
      at = end;
    }
  };
  send_chunks(shorts, TxInvMsg{}, MsgType::kTxInv);
  send_chunks(full, InvMsg{}, MsgType::kInv);
}

void TxRelay::expire_short_ids(PeerId peer, PeerState& ps, Time now) {
  while (!ps.announced_order.empty() &&
         now - ps.announced_order.front().second > kAnnouncedShortIdMemory) {
    auto [e, at] = ps.announced_order.front();
    ps.announced_order.pop_front();
    auto it = ps.announced.find(e);
    if (it != ps.announced.end() && it->second.at == at) ps.announced.erase(it);
  }
  for (auto it = ps.short_requested.begin(); it != ps.short_requested.end();)
    it = now - it->second.at > kRequestedMemory ? ps.short_requested.erase(it) : std::next(it);
  // Keys the tracker let go of (answered elsewhere, timed out, forgotten) need no short id.
  for (auto it = ps.entry_of.begin(); it != ps.entry_of.end();)
    it = m_tracker.state(peer, it->first) ? std::next(it) : ps.entry_of.erase(it);
}

// --- tree relay ---------------------------------------------------------------------------------

void TxRelay::handle_prune(PeerId peer, PeerState& ps, const PruneMsg& m) {
  if (!ps.tree) {
    m_pm.misbehaving(peer, kScoreUnexpectedTree, "prune without tree relay negotiated");
    return;
  }
  m_stats.prunes_received += m.origins.size();
  for (uint32_t o : m.origins)
    ps.lazy_out.set(o);
}

void TxRelay::handle_graft(PeerId peer, PeerState& ps, const GraftMsg& m) {
  if (!ps.tree) {
    m_pm.misbehaving(peer, kScoreUnexpectedTree, "graft without tree relay negotiated");
    return;
  }
  m_stats.grafts_received += m.origins.size();
  for (uint32_t o : m.origins)
    grafted_by(peer, ps, o);
}

// The peer wants `origin` pushed to it. If it was that origin's parent here, the two would wait
// on each other: it is a parent no more (the lazy links find the next one).
void TxRelay::grafted_by(PeerId peer, PeerState& ps, uint32_t origin) {
  ps.lazy_out.erase(origin);
  OriginState* os = m_origins.find(origin);
  if (os && os->parent == peer) os->parent.reset();
}

void TxRelay::prune(PeerState& ps, uint32_t origin) {
  ps.prune_out.push_back(origin);
  ps.pruned_in.set(origin);
  m_dirty = true;
}

void TxRelay::graft(PeerState& ps, uint32_t origin) {
  ps.graft_out.push_back(origin);
  ps.pruned_in.erase(origin);
  m_dirty = true;
}

void TxRelay::tree_first_copy(PeerId peer, PeerState& ps, bool requested, uint32_t origin,
                              const std::vector<PeerId>& announced_first, const TxId& id,
                              Time now) {
  OriginState& os = m_origins.set(origin);
  if (requested) {
    // The eager path did not deliver within graft_timeout, and our request grafted this peer.
    // The parent still connected owes the body (an honest one delivers it late, a duplicate).
    os.rival.reset();
    os.streak = 0;
    PeerState* parent = os.parent && *os.parent != peer ? find(*os.parent) : nullptr;
    if (parent && parent->owed.size() < kMaxOwedPerPeer &&
        !parent->known.contains(id, now))  // it announced it: it treats us as lazy
      parent->owed.try_emplace(id, Owed{origin, now + kWithholdWindow});
    ps.pruned_in.erase(origin);
    os.parent = peer;
    return;
  }
  if (ps.pruned_in.contains(origin)) {
    // We pruned it, and it pushed before our prune arrived: the parent stays, if there is one.
    if (os.parent && find(*os.parent)) return;
    graft(ps, origin);
  }
  os.parent = peer;
  // Optimisation: a lazy peer that announced it before this body came, time after time.
  auto faster = std::find_if(announced_first.begin(), announced_first.end(),
                             [&](PeerId p) { return p != peer; });
  if (faster == announced_first.end()) {
    os.rival.reset();
    os.streak = 0;
    return;
  }
  if (os.rival == *faster) {
    ++os.streak;
  } else {
    os.rival = *faster;
    os.streak = 1;
  }
  if (os.streak < kTreeSwapStreak) return;
  PeerState* rival = find(*faster);
  if (!rival) return;
  graft(*rival, origin);
  prune(ps, origin);
  os.parent = *faster;
  os.rival.reset();
  os.streak = 0;
  ++m_stats.tree_swaps;
}

// The peer is gone: the origins it pushed to us are grafted at once, each at a peer that gets
// them from elsewhere, never at one that gets them from us (a child: the two would wait on each
// other). Best the lazy peer that announced the origin first lately; then one that pushed it to
// us over a second path (we pruned it); then one that pruned it (it has a parent of its own);
// else any tree peer, drawn at random.
void TxRelay::tree_parent_gone(PeerId peer) {
  std::vector<PeerId> tree_peers;
  for (const auto& [id, ps] : m_peers)
    if (ps.tree) tree_peers.push_back(id);
  m_origins.for_each([&](uint32_t origin, OriginState& os) {
    if (os.rival == peer) {
      os.rival.reset();
      os.streak = 0;
    }
    if (os.parent != peer) return;
    os.parent.reset();
    if (tree_peers.empty()) return;
    std::optional<PeerId> to = os.rival;
    for (const auto has : {&PeerState::pruned_in, &PeerState::lazy_out})
      for (size_t i = 0; i < tree_peers.size() && !to; ++i)
        if ((m_peers.at(tree_peers[i]).*has).contains(origin)) to = tree_peers[i];
    if (!to)
      to = tree_peers[std::uniform_int_distribution<size_t>(0, tree_peers.size() - 1)(m_rng)];
    graft(m_peers.at(*to), origin);
    os.parent = *to;
    os.rival.reset();
    os.streak = 0;
  });
}

// Bodies the peer, as parent, still owes after kWithholdWindow: it withheld them.
void TxRelay::check_owed(PeerId peer, PeerState& ps, Time now) {
  size_t withheld = 0;
  for (auto it = ps.owed.begin(); it != ps.owed.end();) {
    if (now < it->second.deadline) {
      ++it;
      continue;
    }
    prune(ps, it->second.origin);
    OriginState* os = m_origins.find(it->second.origin);
    if (os && os->parent == peer) os->parent.reset();
    // If it lacked it after all (cut off but for us), it can ask for it now.
    if (ps.queue.size() < kMaxAnnounceQueue && !ps.known.contains(it->first, now)) {
      if (ps.queue.empty()) start_trickle(ps, now);
      ps.queue.push_back(it->first);
    }
    ++withheld;
    it = ps.owed.erase(it);
  }
  if (withheld == 0) return;
  m_stats.withheld += withheld;
  m_dirty = true;
  m_pm.misbehaving(peer, kScoreWithheldBody, "withheld transactions it was to push as parent");
}

// One message per kMaxTreeOriginEntries origins; Msg's one member is the list.
template <class Msg>
void TxRelay::send_origins(PeerId peer, std::vector<uint32_t>& origins, Msg message) {
  std::sort(origins.begin(), origins.end());
  origins.erase(std::unique(origins.begin(), origins.end()), origins.end());
  for (auto at = origins.begin(); at != origins.end();) {
    const auto end =
        at + std::min<ptrdiff_t>(origins.end() - at, static_cast<ptrdiff_t>(kMaxTreeOriginEntries));
    message.origins.assign(at, end);
    m_pm.send(peer, message);
    at = end;
  }
  origins.clear();
}

std::optional<TxRelay::TreeLink> TxRelay::tree_link(PeerId peer) const {
  auto it = m_peers.find(peer);
  if (it == m_peers.end()) return std::nullopt;
  TreeLink t;
  t.tree = it->second.tree;
  t.pruned_by_peer = it->second.lazy_out.size();
  m_origins.for_each(
      [&](uint32_t, const OriginState& os) { t.parent_of += os.parent == peer ? 1 : 0; });
  return t;
}

// --- announcing and requesting ----------------------------------------------------------------

void TxRelay::admitted(const TxRef& tx, std::optional<PeerId> from, std::optional<uint32_t> origin,
                       Time now) {
  ++m_stats.accepted;
  const TxId& id = tx->id();
  if (m_observer) m_observer->tx_accepted(id, now);
  if (from) m_pm.note_novel_tx(*from, now);

  // A later transaction of the same admission batch replaced it: nothing to relay.
  if (!m_pool.contains(id)) return;
  if (m_tree) {
    // It enters the tree here unless it came down one; push it to the peers that want it.
    const uint32_t o = origin.value_or(m_origin_tag);
    cached(id).origin = o;
    SharedBytes frame;
    for (auto& [peer, ps] : m_peers) {
      // A parent that owes it gets nothing from us: if honest, it pushes it once it has it.
      if (!ps.tree || peer == from || ps.lazy_out.contains(o) || ps.owed.count(id) ||
          !ps.known.insert(id, now))
        continue;
      if (!frame) frame = frame_of(id, true);
      m_pm.send_frame(peer, frame, MsgType::kTreeTx);
      ++m_stats.tree_pushed;
    }
  }
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
  // Announced to the rest; flush() drops it for a peer that announced or sent it meanwhile. Low
  // fanout: reconciliation brings it to the peers it does not flood to.
  for (auto& [peer, ps] : m_peers) {
    if (peer == from || !ps.flood || ps.known.contains(id, now) || ps.owed.count(id)) continue;
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
  if (trickle_interval(ps) > Duration::zero() && now >= ps.next_inv)
    ps.next_inv = next_trickle(ps, now);
}

// Announcements on a tree link only repair the tree: they wait longer, and travel in batches.
Duration TxRelay::trickle_interval(const PeerState& ps) const {
  return ps.tree ? std::max(m_cfg.lazy_interval, m_cfg.inv_interval) : m_cfg.inv_interval;
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
  flow_control();
  if (!m_dirty) return;
  m_dirty = false;
  // Peers whose queues are due get their inv; equal queues share one serialisation.
  const std::vector<TxId>* last = nullptr;
  std::vector<SharedBytes> last_frames;
  for (auto& [peer, ps] : m_peers) {
    if (!ps.prune_out.empty()) {
      m_stats.prunes_sent += ps.prune_out.size();
      send_origins(peer, ps.prune_out, PruneMsg{});
    }
    if (!ps.graft_out.empty()) {
      m_stats.grafts_sent += ps.graft_out.size();
      send_origins(peer, ps.graft_out, GraftMsg{});
    }
    if (ps.queue.empty()) continue;
    if (ps.short_ids == ShortIds::kPending) {
      m_dirty = true;  // waiting for its sendshortids (on_tick gives up after a while)
      continue;
    }
    if (trickle_interval(ps) > Duration::zero()) {
      if (now < ps.next_inv) {
        m_dirty = true;  // still waiting
        continue;
      }
      ps.next_inv = next_trickle(ps, now);
    }
    if (loses_announcements(ps)) {
      m_stats.announce_dropped += std::exchange(ps.queue, {}).size();  // lost, as at a cap
      continue;
    }
    // What the peer announced or was sent since it was queued, it has.
    SeenSet& known = ps.known;
    std::erase_if(ps.queue, [&](const TxId& id) { return !known.insert(id, now); });
    if (ps.queue.empty()) continue;
    if (ps.short_ids == ShortIds::kOn) {
      send_short_announcements(peer, ps, ps.queue, now);
      ps.queue.clear();
      continue;
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

// Hands this event's bodies to verification; then holds reading from every peer while
// verification is behind (the backlog at or over its high watermark), and resumes at the low one.
void TxRelay::flow_control() {
  if (!m_to_verify.empty()) {
    std::vector<TxRef> batch;
    batch.swap(m_to_verify);
    m_pm.verify(std::move(batch));
  }
  const size_t backlog = m_verifying.size() + m_unwritten.size();
  if (!m_pm.reads_held() && backlog >= m_cfg.verify_hold_high) {
    m_pm.hold_reads(true);
  } else if (m_pm.reads_held() && backlog <= m_cfg.verify_hold_low) {
    m_pm.hold_reads(false);
  }
}

bool TxRelay::loses_announcements(const PeerState& ps) const {
  const auto& lose = m_lose_announcements_to;
  return !lose.empty() && std::find(lose.begin(), lose.end(), ps.identity) != lose.end();
}

void TxRelay::request_from(PeerId peer, PeerState& ps, Time now) {
  track_deferred(peer, ps, now);
  std::vector<std::pair<PeerId, Hash256>> expired;
  const size_t in_flight = m_tracker.count_in_flight(peer);
  const size_t room = ps.window > in_flight ? ps.window - in_flight : 0;
  std::vector<Hash256> ids = m_tracker.get_requestable(peer, now, &expired, room);
  m_stats.request_timeouts += expired.size();
  if (ids.empty()) return;
  GetDataMsg gd;
  GetTxMsg gt;
  gd.entries.reserve(ids.size());
  for (const Hash256& id : ids) {
    auto entry = ps.entry_of.find(id);
    if (entry != ps.entry_of.end() && ps.short_ids == ShortIds::kOn) {
      if (!m_tracker.requested_tx(peer, id, now + m_cfg.request_timeout)) continue;
      auto [asked, fresh] = ps.short_requested.try_emplace(entry->second, ShortRequest{id, now});
      if (!fresh) {
        asked->second.key = id;  // already asked for by this short id: that answer serves
        continue;
      }
      if (ps.short_requested.size() > kMaxRequestedPerPeer) forget_oldest(ps.short_requested);
      gt.ids.push_back(entry->second);
      continue;
    }
    if (is_unknown_key(id)) {
      m_tracker.received_response(peer, id);  // its short id is gone: nothing to ask by
      continue;
    }
    if (!m_tracker.requested_tx(peer, id, now + m_cfg.request_timeout)) continue;
    // At the bound, forget the oldest outstanding request (its answer, if it comes, is then
    // unrequested only if the peer cannot push; a request older than kRequestedMemory is long
    // timed out).
    if (ps.requested.size() >= kMaxRequestedPerPeer) forget_oldest(ps.requested);
    ps.requested[id] = now;
    gd.entries.push_back(tx_entry(id));
  }
  if (!gt.ids.empty()) {
    m_stats.getdata_sent += gt.ids.size();
    if (m_observer) m_observer->getdata_sent(ps.identity, gt.ids.size(), now);
    m_pm.send(peer, gt);
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

Time TxRelay::next_trickle(const PeerState& ps, Time now) {
  const Duration mean = trickle_interval(ps);
  if (mean <= Duration::zero()) return now;
  std::exponential_distribution<double> exp(1.0);
  const double f = std::min(exp(m_rng), 20.0);  // cap the tail at 20 means
  return now + Duration(static_cast<Duration::rep>(f * static_cast<double>(mean.count())));
}

// --- frames -------------------------------------------------------------------------------------

TxRelay::Cached& TxRelay::cached(const TxId& id) {
  auto it = m_frames.find(id);
  if (it != m_frames.end()) return it->second;
  if (m_frame_order.size() < kFrameCacheSize) {  // the ring grows as it fills
    m_frame_order.push_back(id);
  } else {
    TxId& slot = m_frame_order[m_frame_next];
    if (m_frames.size() >= kFrameCacheSize) m_frames.erase(slot);
    slot = id;
    m_frame_next = (m_frame_next + 1) % kFrameCacheSize;
  }
  return m_frames[id];
}

SharedBytes TxRelay::frame_of(const TxId& id, bool tree) {
  // Only what we hold now: a cached frame may outlive its transaction (evicted, replaced).
  if (!m_pool.contains(id)) return nullptr;
  Cached& c = cached(id);
  SharedBytes& frame = tree ? c.tree : c.tx;
  if (frame) return frame;
  TxRef tx = m_pool.get(id);
  if (!tx) return nullptr;
  if (!tree) return frame = encode_frame(m_pm.magic(), TxMsg{tx});
  if (!c.origin) c.origin = m_origin_tag;  // its origin is forgotten: it enters the tree here
  return frame = encode_frame(m_pm.magic(), TreeTxMsg{tx, *c.origin});
}

uint32_t TxRelay::origin_of(const TxId& id) const {
  auto it = m_frames.find(id);
  return it != m_frames.end() && it->second.origin ? *it->second.origin : m_origin_tag;
}

// --- introspection ------------------------------------------------------------------------------

const TxRelayStats& TxRelay::stats() const {
  m_stats.verifying = m_verifying.size();
  m_stats.unwritten = m_unwritten.size();
  m_stats.deferred_now = 0;
  for (const auto& [peer, ps] : m_peers)
    m_stats.deferred_now += ps.deferred.size();
  m_stats.seen_size = m_seen.size();
  m_stats.seen_memory_bytes = m_seen.memory_bytes();
  m_stats.tracked_announcements = m_tracker.size();
  return m_stats;
}

std::optional<TxRelay::PeerFlow> TxRelay::peer_flow(PeerId peer) const {
  auto it = m_peers.find(peer);
  if (it == m_peers.end()) return std::nullopt;
  const PeerState& ps = it->second;
  return PeerFlow{ps.window, ps.link.rate(), ps.link.min_rtt(), ps.deferred.size()};
}

bool TxRelay::known_to_peer(PeerId peer, const TxId& id, Time now) const {
  auto it = m_peers.find(peer);
  return it != m_peers.end() && it->second.known.contains(id, now);
}

void TxRelay::sanity_check() const {
  m_tracker.sanity_check();
  m_seen.sanity_check();
  m_recent.sanity_check();
  HEARSAY_CHECK(m_verifying.size() <= kMaxVerifying);
  HEARSAY_CHECK(m_frames.size() <= kFrameCacheSize);
  // Settled, and so relayed, in ticket order.
  for (size_t i = 1; i < m_unwritten.size(); ++i)
    HEARSAY_CHECK(m_unwritten[i - 1].ticket <= m_unwritten[i].ticket);
  for (const auto& [peer, ps] : m_peers) {
    HEARSAY_CHECK(m_pm.peer_info(peer).has_value());
    HEARSAY_CHECK(ps.queue.size() <= kMaxAnnounceQueue);
    HEARSAY_CHECK(ps.requested.size() <= kMaxRequestedPerPeer);
    HEARSAY_CHECK(m_tracker.count(peer) <= m_cfg.tracker.max_announcements);
    HEARSAY_CHECK(m_tracker.count_in_flight(peer) <= m_cfg.max_in_flight_ceiling);
    HEARSAY_CHECK(ps.window >= m_cfg.tracker.max_in_flight &&
                  ps.window <= m_cfg.max_in_flight_ceiling);
    HEARSAY_CHECK(ps.deferred.size() <= m_cfg.max_deferred_per_peer);
    ps.known.sanity_check();
    HEARSAY_CHECK(ps.announced.size() <= ps.announced_order.size());
    HEARSAY_CHECK(ps.announced_order.size() <= kAnnouncedShortIdsPerPeer);
    HEARSAY_CHECK(ps.short_requested.size() <= kMaxRequestedPerPeer);
    HEARSAY_CHECK(ps.entry_of.size() <= m_cfg.tracker.max_announcements * 2);
    if (ps.short_ids != ShortIds::kOn) HEARSAY_CHECK(ps.announced.empty());
    if (ps.short_ids == ShortIds::kOn) HEARSAY_CHECK(ps.offered && ps.got_sendshortids);
    ps.lazy_out.sanity_check();
    ps.pruned_in.sanity_check();
    HEARSAY_CHECK(ps.owed.size() <= kMaxOwedPerPeer);
    if (!ps.tree) HEARSAY_CHECK(ps.lazy_out.size() == 0 && ps.pruned_in.size() == 0);
    if (!ps.tree) HEARSAY_CHECK(ps.owed.empty());
  }
  size_t snapshots = 0;
  for (const auto& [peer, ps] : m_peers) {
    HEARSAY_CHECK(ps.recon_offered.size() <= ps.recon_offered_order.size());
    HEARSAY_CHECK(ps.recon_offered_order.size() <= kReconOfferedPerPeer);
    HEARSAY_CHECK(ps.set.size() <= kMaxReconSet);
    HEARSAY_CHECK(ps.parts.size() <= size_t{1} << kMaxReconBits);
    if (!ps.recon) HEARSAY_CHECK(!ps.in_round && !ps.set_held && ps.set.empty());
    if (!ps.in_round) HEARSAY_CHECK(ps.parts.empty());
    if (ps.in_round) HEARSAY_CHECK(ps.outbound && !ps.parts.empty());
    if (ps.outbound) HEARSAY_CHECK(!ps.set_held);
    if (!ps.outbound && !ps.set_held) HEARSAY_CHECK(ps.set.empty());
    if (!ps.flood) HEARSAY_CHECK(ps.recon && m_cfg.flood_peers > 0);
    for (const auto& [part, p] : ps.parts)
      HEARSAY_CHECK(part.first <= kMaxReconBits && uint64_t{part.second} >> part.first == 0 &&
                    p.capacity >= 1 && p.capacity <= kMaxReconCapacity);
    snapshots += ps.set_held ? 1 : 0;
  }
  HEARSAY_CHECK(snapshots <= kMaxReconSnapshots);
  m_origins.sanity_check();
  m_origins.for_each([&](uint32_t origin, const OriginState& os) {
    if (os.parent) HEARSAY_CHECK(m_peers.count(*os.parent) != 0);
    if (os.parent) HEARSAY_CHECK(!m_peers.at(*os.parent).pruned_in.contains(origin));
    if (os.rival) HEARSAY_CHECK(m_peers.count(*os.rival) != 0);
  });
  for (const auto& [id, v] : m_verifying) {
    HEARSAY_CHECK(v.tx && v.tx->id() == id);
    if (v.from) HEARSAY_CHECK(m_peers.count(*v.from) != 0);
  }
}

}  // namespace hearsay
