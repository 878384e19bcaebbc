#include "chainstub/block_relay.h"

#include <algorithm>

#include "crypto/result.h"
#include "p2p/transport.h"

namespace hearsay {

namespace {

// Failures found only when a block is connected to its parent's state.
bool is_connect_error(BlockError e) {
  return e == BlockError::kTxBadNonce || e == BlockError::kTxExpired;
}

InvEntry block_entry(InvType type, const BlockId& id) {
  return InvEntry{type, id};
}

template <class T>
void push_bounded(std::deque<T>& q, T value, size_t max) {
  q.push_back(std::move(value));
  while (q.size() > max)
    q.pop_front();
}

// Relayed unchecked blocks kept for serving (relay_unchecked_ForTest).
constexpr size_t kMaxUncheckedBlocks = 4;

}  // namespace

// --- KnownBlocks ----------------------------------------------------------------------------

void BlockRelay::KnownBlocks::insert(const BlockId& id) {
  if (!m_set.insert(id).second) return;
  m_order.push_back(id);
  if (m_order.size() > kKnownBlocksPerPeer) {
    m_set.erase(m_order.front());
    m_order.pop_front();
  }
}

void BlockRelay::KnownBlocks::sanity_check() const {
  HEARSAY_CHECK(m_set.size() == m_order.size());
  HEARSAY_CHECK(m_order.size() <= kKnownBlocksPerPeer);
}

// --- construction -----------------------------------------------------------------------------

BlockRelay::BlockRelay(PeerManager& pm, ChainState& chain, Mempool& mempool, BlockRelayConfig cfg,
                       BlockObserver* observer)
    : m_pm(pm),
      m_chain(chain),
      m_mempool(mempool),
      m_cfg(std::move(cfg)),
      m_observer(observer),
      m_rng(m_cfg.rng_seed) {
  m_cfg.high_bandwidth_peers = std::min(m_cfg.high_bandwidth_peers, kMaxHighBandwidthPeers);
  m_pm.set_block_relay(this);
}

BlockRelay::~BlockRelay() {
  m_pm.set_block_relay(nullptr);
}

bool BlockRelay::is_producer() const {
  return m_cfg.producer_key && m_chain.params().is_producer(m_cfg.producer_key->public_key());
}

BlockRelay::PeerState* BlockRelay::find(PeerId peer) {
  auto it = m_peers.find(peer);
  return it == m_peers.end() ? nullptr : &it->second;
}

BlockRelay::Origin BlockRelay::origin_of(PeerId peer, const PeerState& ps, bool vouched) const {
  Origin o;
  o.local = false;
  o.peer = peer;
  o.identity = ps.identity;
  o.address = ps.address;
  o.vouched = vouched;
  return o;
}

void BlockRelay::see(PeerState& ps, const BlockId& id, uint64_t height) {
  ps.known.insert(id);
  ps.best_height = std::max(ps.best_height, height);
}

// --- peers ------------------------------------------------------------------------------------

void BlockRelay::on_peer_ready(PeerId peer, Time now) {
  auto info = m_pm.peer_info(peer);
  if (!info) return;
  auto [it, fresh] = m_peers.try_emplace(peer);
  if (!fresh) return;
  PeerState& ps = it->second;
  ps.identity = info->identity;
  ps.address = info->remote;
  ps.preferred = !info->inbound || info->trusted;
  ps.ready_seq = m_ready_seq++;
  ps.best_height = info->best_height;  // its claim; a wrong one costs a notfound
  m_pm.send(peer, SendHeadersMsg{});
  choose_hb_on_ready(peer, ps);
  send_getheaders(peer, ps, m_chain.tip_id(), now);
}

void BlockRelay::on_peer_gone(PeerId peer, Time now) {
  auto it = m_peers.find(peer);
  if (it == m_peers.end()) return;
  for (auto f = m_in_flight.begin(); f != m_in_flight.end();) {
    if (f->second.peer != peer) {
      ++f;
      continue;
    }
    m_partials.erase(f->first);
    f = m_in_flight.erase(f);
  }
  for (auto& [id, a] : m_awaiting)
    if (a.from.peer == peer) a.from.peer.reset();  // gone: a forgery still bans its identity
  for (auto& [id, o] : m_senders)
    if (o.peer == peer) o.peer.reset();
  if (it->second.we_hb) m_hb.erase(std::find(m_hb.begin(), m_hb.end(), peer));
  m_peers.erase(it);
  top_up_hb();
  request_blocks(now);
}

void BlockRelay::on_tick(Time now) {
  if (is_producer() && m_cfg.block_interval > Duration::zero()) {
    if (m_next_block == Time{}) {
      m_next_block = now + m_cfg.block_interval;
    } else if (now >= m_next_block) {
      (void)generate(now);  // a failure (e.g. the store) is reported to the observer
      m_next_block = now + m_cfg.block_interval;
    }
  }
  // Requests that took too long go to another peer.
  std::vector<BlockId> expired;
  for (const auto& [id, f] : m_in_flight)
    if (now - f.since >= kBlockDownloadTimeout) expired.push_back(id);
  for (const BlockId& id : expired) {
    const PeerId peer = m_in_flight.at(id).peer;
    clear_in_flight(id);
    if (PeerState* ps = find(peer)) {
      if (ps->avoid.size() >= kMaxAvoidPerPeer) {
        auto oldest =
            std::min_element(ps->avoid.begin(), ps->avoid.end(),
                             [](const auto& a, const auto& b) { return a.second < b.second; });
        ps->avoid.erase(oldest);
      }
      ps->avoid[id] = now;
    }
  }
  // Verdicts that never came: forget the block (fetched again if still wanted).
  for (auto it = m_awaiting.begin(); it != m_awaiting.end();)
    it = now - it->second.since >= kVerifyTimeout ? m_awaiting.erase(it) : std::next(it);
  for (auto& [peer, ps] : m_peers) {
    for (auto it = ps.avoid.begin(); it != ps.avoid.end();)
      it = now - it->second >= kAvoidTime ? ps.avoid.erase(it) : std::next(it);
    if (ps.getheaders_sent && now - *ps.getheaders_sent >= kGetHeadersTimeout)
      ps.getheaders_sent.reset();
  }
  request_blocks(now);
}

// --- messages ---------------------------------------------------------------------------------

void BlockRelay::on_message(PeerId peer, Message&& msg, Time now) {
  PeerState* ps = find(peer);
  if (!ps) return;
  switch (type_of(msg)) {
    case MsgType::kSendHeaders:
      ps->sendheaders = true;
      break;
    case MsgType::kSendCmpct:
      handle_sendcmpct(*ps, std::get<SendCmpctMsg>(msg));
      break;
    case MsgType::kGetHeaders:
      handle_getheaders(peer, *ps, std::get<GetHeadersMsg>(msg), now);
      break;
    case MsgType::kHeaders:
      handle_headers(peer, *ps, std::get<HeadersMsg>(msg), now);
      break;
    case MsgType::kInv:
      handle_inv(peer, *ps, std::get<InvMsg>(msg), now);
      break;
    case MsgType::kGetData:
      handle_getdata(peer, *ps, std::get<GetDataMsg>(msg), now);
      break;
    case MsgType::kNotFound:
      handle_notfound(peer, *ps, std::get<NotFoundMsg>(msg), now);
      break;
    case MsgType::kBlock:
      handle_block(peer, *ps, std::move(std::get<BlockMsg>(msg).block), now);
      break;
    case MsgType::kCmpctBlock:
      handle_cmpct(peer, *ps, std::get<CmpctBlockMsg>(msg), now);
      break;
    case MsgType::kGetBlockTxn:
      handle_getblocktxn(peer, *ps, std::get<GetBlockTxnMsg>(msg), now);
      break;
    case MsgType::kBlockTxn:
      handle_blocktxn(peer, *ps, std::get<BlockTxnMsg>(msg), now);
      break;
    default:
      break;  // transactions: the transaction relay's
  }
}

void BlockRelay::handle_sendcmpct(PeerState& ps, const SendCmpctMsg& m) {
  if (m.version != 1) return;  // BIP152: unknown versions are ignored
  ps.cmpct = true;
  ps.wants_hb = m.high_bandwidth;
}

void BlockRelay::handle_getheaders(PeerId peer, PeerState& ps, const GetHeadersMsg& m, Time now) {
  (void)now;
  std::vector<BlockHeader> headers = m_chain.headers_after(m.locator, m.stop, kMaxHeadersResults);
  if (!headers.empty()) see(ps, headers.back().id(), headers.back().height);
  m_stats.headers_sent += headers.size();
  m_pm.send(peer, HeadersMsg{std::move(headers)});
}

void BlockRelay::handle_headers(PeerId peer, PeerState& ps, const HeadersMsg& m, Time now) {
  ps.getheaders_sent.reset();
  m_stats.headers_received += m.headers.size();
  if (m.headers.empty()) return;
  std::optional<BlockId> last_id;
  const BlockHeader* last = nullptr;
  for (const BlockHeader& h : m.headers) {
    const BlockId id = h.id();
    if (last && h.prev != *last_id) {
      m_pm.misbehaving(peer, kScoreNonContinuousHeaders, "non-continuous headers");
      return;
    }
    const HeaderResult r = m_chain.accept_header(h, now);
    if (r.error == BlockError::kUnknownParent) {
      // Only the first can lack its parent (the rest link up): we are missing a stretch.
      send_getheaders(peer, ps, m_chain.best_header(), now);
      return;
    }
    if (r.error != BlockError::kOk) {
      if (is_punishable(r.error)) {
        reject(id, r.error, to_string(r.error), origin_of(peer, ps, true), now);
        return;
      }
      break;  // too far in the future: so are the rest
    }
    if (r.is_new && m_observer)
      m_observer->block_first_seen(id, h.height, TxSource{false, ps.identity}, now);
    see(ps, id, h.height);
    last_id = id;
    last = &h;
  }
  if (!last) return;
  if (m.headers.size() == kMaxHeadersResults) send_getheaders(peer, ps, *last_id, now);
  // The peer's new tip extends ours: fetch it as a compact block (BIP152 low-bandwidth mode).
  if (last->prev == m_chain.tip_id() && ps.cmpct && !m_chain.have_body(*last_id) &&
      !m_in_flight.count(*last_id) && !m_awaiting.count(*last_id) && !m_chain.is_orphan(*last_id) &&
      ps.in_flight < kMaxBlocksInFlightPerPeer) {
    mark_in_flight(*last_id, peer, true, now);
    m_pm.send(peer, GetDataMsg{{block_entry(InvType::kCmpctBlock, *last_id)}});
  }
  request_blocks(now);
}

void BlockRelay::handle_inv(PeerId peer, PeerState& ps, const InvMsg& m, Time now) {
  bool unknown = false;
  for (const InvEntry& e : m.entries) {
    if (e.type != InvType::kBlock) continue;
    if (auto h = m_chain.header(e.hash)) {
      see(ps, e.hash, h->height);
    } else {
      unknown = true;
    }
  }
  if (unknown) send_getheaders(peer, ps, m_chain.best_header(), now);
}

void BlockRelay::handle_getdata(PeerId peer, PeerState& ps, const GetDataMsg& m, Time now) {
  (void)now;
  NotFoundMsg missing;
  size_t answered = 0;
  for (const InvEntry& e : m.entries) {
    if (e.type == InvType::kTx) continue;  // the transaction relay's
    if (answered == kMaxGetDataBlocks) {
      m_pm.misbehaving(peer, kScoreOversizedBlockGetData, "getdata for more than 16 blocks");
      break;
    }
    ++answered;
    BlockRef block = stored_block(e.hash);
    if (!block) {
      missing.entries.push_back(e);
      continue;
    }
    see(ps, e.hash, block->header.height);
    const uint64_t tip = m_chain.height();
    const uint64_t depth = tip > block->header.height ? tip - block->header.height : 0;
    if (e.type == InvType::kCmpctBlock && depth <= kMaxCmpctDepth) {
      m_pm.send_frame(peer, cmpct_frame(block, {}), MsgType::kCmpctBlock);
      ++m_stats.cmpct_sent;
    } else {
      m_pm.send_frame(peer, block_frame(block), MsgType::kBlock);
      ++m_stats.blocks_sent;
    }
  }
  if (!missing.entries.empty()) m_pm.send(peer, missing);
}

void BlockRelay::handle_notfound(PeerId peer, PeerState& ps, const NotFoundMsg& m, Time now) {
  bool any = false;
  for (const InvEntry& e : m.entries) {
    if (e.type == InvType::kTx) continue;
    auto it = m_in_flight.find(e.hash);
    if (it == m_in_flight.end() || it->second.peer != peer) continue;
    clear_in_flight(e.hash);
    if (ps.avoid.size() < kMaxAvoidPerPeer) ps.avoid[e.hash] = now;
    any = true;
  }
  if (any) request_blocks(now);
}

void BlockRelay::handle_block(PeerId peer, PeerState& ps, BlockRef block, Time now) {
  ++m_stats.blocks_received;
  const BlockId id = block->header.id();
  auto it = m_in_flight.find(id);
  const bool requested = it != m_in_flight.end() && it->second.peer == peer;
  // It announced the block before, or pushed it unasked: either way it claims it valid.
  const bool vouched = ps.known.contains(id) || !requested;
  if (requested) {
    clear_in_flight(id);
  }
  see(ps, id, block->header.height);
  process_block(block, origin_of(peer, ps, vouched), now);
  request_blocks(now);
}

void BlockRelay::handle_cmpct(PeerId peer, PeerState& ps, const CmpctBlockMsg& m, Time now) {
  ++m_stats.cmpct_received;
  const BlockId id = m.header.id();
  const HeaderResult r = m_chain.accept_header(m.header, now);
  if (r.error == BlockError::kUnknownParent) {
    send_getheaders(peer, ps, m_chain.best_header(), now);
    return;
  }
  if (r.error != BlockError::kOk) {
    if (is_punishable(r.error))
      reject(id, r.error, to_string(r.error), origin_of(peer, ps, true), now);
    return;
  }
  if (r.is_new && m_observer)
    m_observer->block_first_seen(id, m.header.height, TxSource{false, ps.identity}, now);
  see(ps, id, m.header.height);
  auto flight = m_in_flight.find(id);
  const bool asked = flight != m_in_flight.end() && flight->second.peer == peer;
  if (m_chain.have_body(id) || m_chain.is_orphan(id) || m_awaiting.count(id) || is_rejected(id) ||
      m_chain.is_failed(id)) {
    if (asked) clear_in_flight(id);
    return;
  }
  if (m_partials.count(id)) return;  // one rebuild per block: the first sender's
  PartialBlock pb;
  const std::vector<TxRef> candidates = m_mempool.newest(m_mempool.size());
  const ReadStatus s = pb.init(m, candidates);
  if (s == ReadStatus::kInvalid) {
    if (asked) clear_in_flight(id);
    m_pm.misbehaving(peer, kScoreBadCompact, "invalid cmpctblock");
    return;
  }
  if (s == ReadStatus::kCollision) {
    ++m_stats.collisions;
    fetch_full(peer, id, now);
    return;
  }
  std::vector<uint32_t> missing = pb.missing();
  if (missing.empty()) {
    BlockRef block;
    const ReadStatus f = pb.finish(block);
    if (f == ReadStatus::kCollision) {
      ++m_stats.collisions;
      fetch_full(peer, id, now);
      return;
    }
    if (asked) clear_in_flight(id);
    if (f != ReadStatus::kOk) return;  // not reached: no slot is missing
    reconstructed(id, pb, 0, block, peer, now);
    return;
  }
  if (!asked) {
    // Requested from someone else, or no room: the download logic fetches it (its header is
    // indexed now).
    if (flight != m_in_flight.end() || m_partials.size() >= kMaxPartialBlocks ||
        ps.in_flight >= kMaxBlocksInFlightPerPeer)
      return;
    mark_in_flight(id, peer, true, now);
  } else if (m_partials.size() >= kMaxPartialBlocks) {
    fetch_full(peer, id, now);
    return;
  } else {
    flight->second.compact = true;
  }
  ++m_stats.getblocktxn_sent;
  m_stats.txs_requested += missing.size();
  m_pm.send(peer, GetBlockTxnMsg{id, missing});
  m_partials.emplace(id, Partial{std::move(pb), peer, std::move(missing)});
}

void BlockRelay::handle_blocktxn(PeerId peer, PeerState& ps, const BlockTxnMsg& m, Time now) {
  (void)ps;
  auto it = m_partials.find(m.block_id);
  if (it == m_partials.end() || it->second.peer != peer) return;  // not asked of it: ignored
  Partial p = std::move(it->second);
  m_partials.erase(it);
  const BlockId id = m.block_id;
  ReadStatus s = p.block.fill(m.txs);
  if (s == ReadStatus::kInvalid) {
    clear_in_flight(id);
    m_pm.misbehaving(peer, kScoreBadCompact, "blocktxn does not answer our getblocktxn");
    request_blocks(now);
    return;
  }
  BlockRef block;
  if (s == ReadStatus::kOk) s = p.block.finish(block);
  if (s == ReadStatus::kCollision) {
    ++m_stats.collisions;
    fetch_full(peer, id, now);
    return;
  }
  clear_in_flight(id);
  if (s != ReadStatus::kOk) {
    m_pm.misbehaving(peer, kScoreBadCompact, "blocktxn left the block incomplete");
    request_blocks(now);
    return;
  }
  reconstructed(id, p.block, p.missing.size(), block, peer, now);
}

void BlockRelay::handle_getblocktxn(PeerId peer, PeerState& ps, const GetBlockTxnMsg& m, Time now) {
  (void)now;
  BlockRef block = stored_block(m.block_id);
  if (!block) return;  // BIP152: a request for a block we do not have is ignored
  BlockTxnMsg out;
  out.block_id = m.block_id;
  out.txs.reserve(m.indexes.size());
  for (uint32_t i : m.indexes) {
    if (i >= block->txs.size()) {
      m_pm.misbehaving(peer, kScoreBadCompact, "getblocktxn index out of range");
      return;
    }
    out.txs.push_back(block->txs[i]);
  }
  see(ps, m.block_id, block->header.height);
  m_pm.send(peer, out);
}

// --- header sync and download -----------------------------------------------------------------

void BlockRelay::send_getheaders(PeerId peer, PeerState& ps, const BlockId& from, Time now) {
  if (ps.getheaders_sent && now - *ps.getheaders_sent < kGetHeadersTimeout) return;
  ps.getheaders_sent = now;
  m_pm.send(peer, GetHeadersMsg{m_chain.locator_from(from), BlockId{}});
}

void BlockRelay::mark_in_flight(const BlockId& id, PeerId peer, bool compact, Time now) {
  HEARSAY_CHECK(!m_in_flight.count(id));
  m_in_flight.emplace(id, InFlight{peer, now, compact});
  ++m_peers.at(peer).in_flight;
}

void BlockRelay::clear_in_flight(const BlockId& id) {
  m_partials.erase(id);  // a rebuild lives only as long as its request
  auto it = m_in_flight.find(id);
  if (it == m_in_flight.end()) return;
  if (PeerState* ps = find(it->second.peer)) --ps->in_flight;
  m_in_flight.erase(it);
}

void BlockRelay::fetch_full(PeerId peer, const BlockId& id, Time now) {
  auto it = m_in_flight.find(id);
  if (it != m_in_flight.end()) {
    if (it->second.peer != peer) return;  // another peer is sending it
    clear_in_flight(id);
  }
  PeerState* ps = find(peer);
  if (!ps || ps->in_flight >= kMaxBlocksInFlightPerPeer) {
    request_blocks(now);
    return;
  }
  mark_in_flight(id, peer, false, now);
  m_pm.send(peer, GetDataMsg{{block_entry(InvType::kBlock, id)}});
}

void BlockRelay::request_blocks(Time now) {
  if (m_peers.empty() || m_chain.best_header() == m_chain.tip_id()) return;
  // Verification is backlogged: a body fetched now would be dropped (see process_block).
  if (m_awaiting.size() >= kMaxAwaitingVerdicts) return;
  std::map<PeerId, GetDataMsg> batches;
  for (const BlockId& id : m_chain.missing_blocks(kMaxDownloadScan)) {
    if (m_in_flight.count(id) || m_partials.count(id) || m_awaiting.count(id) ||
        m_chain.is_orphan(id) || is_rejected(id))
      continue;
    const std::optional<BlockHeader> h = m_chain.header(id);
    if (!h) continue;
    PeerId best = 0;
    PeerState* best_ps = nullptr;
    int best_rank = -1;
    for (auto& [peer, ps] : m_peers) {
      if (ps.in_flight >= kMaxBlocksInFlightPerPeer || !m_pm.is_ready(peer)) continue;
      const bool announced = ps.known.contains(id);
      if (!announced && ps.best_height < h->height) continue;
      if (ps.avoid.count(id)) continue;
      const int rank = (announced ? 2 : 0) + (ps.preferred ? 1 : 0);
      if (rank > best_rank || (rank == best_rank && ps.in_flight < best_ps->in_flight)) {
        best = peer;
        best_ps = &ps;
        best_rank = rank;
      }
    }
    if (!best_ps) continue;
    mark_in_flight(id, best, false, now);
    batches[best].entries.push_back(block_entry(InvType::kBlock, id));
  }
  for (const auto& [peer, gd] : batches)
    m_pm.send(peer, gd);
}

// --- validation -------------------------------------------------------------------------------

void BlockRelay::reconstructed(const BlockId& id, const PartialBlock& pb, size_t missing,
                               BlockRef block, PeerId peer, Time now) {
  ++m_stats.reconstructed;
  if (m_observer)
    m_observer->block_reconstructed(id, pb.tx_count(), pb.prefilled_count(), pb.from_candidates(),
                                    missing, now);
  PeerState* ps = find(peer);
  if (!ps) return;
  // A cmpctblock is pushed, or asked for after its sender announced the header: vouched.
  process_block(block, origin_of(peer, *ps, true), now);
  request_blocks(now);
}

void BlockRelay::process_block(const BlockRef& block, Origin from, Time now) {
  const BlockId id = block->header.id();
  if (m_chain.have_body(id) || m_chain.is_orphan(id) || m_awaiting.count(id)) return;
  if (is_rejected(id) || m_chain.is_failed(id)) {
    if (from.vouched) blame(from, "relayed a block known to be invalid", now);
    return;
  }
  if (!m_chain.contains(id) && m_observer)
    m_observer->block_first_seen(id, block->header.height,
                                 from.local ? TxSource{} : TxSource{false, from.identity}, now);
  const BlockError e = m_chain.check_block(*block, /*signatures_verified=*/true);
  if (e != BlockError::kOk) {
    reject(id, e, to_string(e), from, now);
    return;
  }
  // Signatures of transactions the mempool holds were verified on admission.
  std::vector<uint32_t> lacked;
  std::vector<TxRef> need;
  for (size_t i = 0; i < block->txs.size(); ++i) {
    if (m_mempool.contains(block->txs[i]->id())) continue;
    lacked.push_back(static_cast<uint32_t>(i));
    need.push_back(block->txs[i]);
  }
  if (need.empty()) {
    finish_block(block, from, std::move(lacked), now);
    return;
  }
  if (m_awaiting.size() >= kMaxAwaitingVerdicts) return;  // unscored; fetched again later
  remember_sender(id, from);
  Awaiting a;
  a.block = block;
  a.from = std::move(from);
  for (const TxRef& tx : need)
    a.pending.insert(tx->id());
  a.lacked = std::move(lacked);
  a.since = now;
  m_awaiting.emplace(id, std::move(a));
  m_pm.verify(std::move(need));
}

void BlockRelay::on_verified(std::span<const TxRef> txs, std::span<const uint8_t> valid, Time now) {
  if (m_awaiting.empty()) return;
  for (size_t i = 0; i < txs.size(); ++i) {
    const TxId& tid = txs[i]->id();
    for (auto& [id, a] : m_awaiting)
      if (a.pending.erase(tid) && !valid[i]) a.bad = true;
  }
  std::vector<BlockId> done;
  for (const auto& [id, a] : m_awaiting)
    if (a.bad || a.pending.empty()) done.push_back(id);
  for (const BlockId& id : done) {
    Awaiting a = std::move(m_awaiting.at(id));
    m_awaiting.erase(id);
    if (!a.bad) {
      finish_block(a.block, a.from, std::move(a.lacked), now);
      continue;
    }
    remember_rejected(id);
    // Let the chain record the failure, so headers building on the block are refused too. It
    // verifies the signatures again: rare, since the block carries an authorised producer's
    // signature over a forgery (and its relayer is banned for it).
    if (m_chain.contains(a.block->header.prev)) {
      AcceptResult r = m_chain.accept_block(a.block, now, /*signatures_verified=*/false);
      if (!r.update.empty()) chain_moved(r.update, nullptr, nullptr, {}, now);
    }
    reject(id, BlockError::kTxBadSignature, "tx-bad-signature", a.from, now);
  }
  request_blocks(now);
}

void BlockRelay::finish_block(const BlockRef& block, const Origin& from,
                              std::vector<uint32_t> lacked, Time now) {
  const BlockId id = block->header.id();
  remember_sender(id, from);
  AcceptResult r = m_chain.accept_block(block, now, /*signatures_verified=*/true);
  if (r.orphan) {  // kept until its parent comes: ask its sender for the way there
    if (from.peer)
      if (PeerState* ps = find(*from.peer))
        send_getheaders(*from.peer, *ps, m_chain.best_header(), now);
  } else if (r.error != BlockError::kOk) {
    reject(id, r.error, to_string(r.error), from, now);
  } else {
    clear_in_flight(id);
  }
  for (const auto& [failed, error] : r.also_failed) {
    auto s = m_senders.find(failed);
    reject(failed, error, to_string(error), s != m_senders.end() ? s->second : Origin{}, now);
  }
  if (!r.update.empty()) chain_moved(r.update, &id, &from, lacked, now);
}

void BlockRelay::reject(const BlockId& id, BlockError error, const char* reason, const Origin& from,
                        Time now) {
  ++m_stats.rejected;
  if (m_observer) m_observer->block_rejected(id, reason, now);
  if (from.local || !is_punishable(error)) return;
  if (is_connect_error(error) && !from.vouched) return;
  blame(from, std::string("invalid block (") + reason + ")", now);
}

void BlockRelay::blame(const Origin& from, const std::string& reason, Time now) {
  if (from.local) return;
  m_pm.ban_identity(from.identity, from.address, reason, now);
}

void BlockRelay::remember_sender(const BlockId& id, const Origin& from) {
  if (from.local || m_senders.count(id)) return;
  m_senders.emplace(id, from);
  m_sender_order.push_back(id);
  if (m_sender_order.size() > kMaxSenderMemory) {
    m_senders.erase(m_sender_order.front());
    m_sender_order.pop_front();
  }
}

void BlockRelay::remember_rejected(const BlockId& id) {
  if (!m_rejected_set.insert(id).second) return;
  m_rejected_order.push_back(id);
  if (m_rejected_order.size() > kMaxRejectedBlocks) {
    m_rejected_set.erase(m_rejected_order.front());
    m_rejected_order.pop_front();
  }
}

void BlockRelay::chain_moved(const ChainUpdate& update, const BlockId* delivered,
                             const Origin* from, const std::vector<uint32_t>& lacked, Time now) {
  update_mempool(m_mempool, update, now);
  m_pm.set_best_height(m_chain.height());
  if (!update.disconnected.empty()) ++m_stats.reorgs;
  for (const BlockRef& b : update.disconnected)
    if (m_observer) m_observer->block_disconnected(b->header.id(), b->header.height, now);
  for (const BlockRef& b : update.connected) {
    ++m_stats.connected;
    if (m_observer)
      m_observer->block_connected(b->header.id(), b->header.height, b->txs.size(),
                                  b->encoded_size(), now);
  }
  std::vector<uint32_t> prefill;
  if (delivered && !update.connected.empty()) {
    bool joined = false;
    for (const BlockRef& b : update.connected)
      joined |= b->header.id() == *delivered;
    // The peer that delivered a new valid block first joins the high-bandwidth peers.
    if (joined && from && from->peer) promote_hb(*from->peer);
    if (update.connected.back()->header.id() == *delivered) prefill = lacked;
  }
  announce(update, prefill, now);
}

AcceptResult BlockRelay::submit_block(const BlockRef& block, Time now) {
  const BlockId id = block->header.id();
  if (!m_chain.contains(id) && m_observer)
    m_observer->block_first_seen(id, block->header.height, TxSource{}, now);
  bool verified = true;
  for (const TxRef& tx : block->txs)
    if (!m_mempool.contains(tx->id()) && !tx->verify_signature()) verified = false;
  // A forgery: the chain verifies again, finds it and records the failure.
  AcceptResult r = m_chain.accept_block(block, now, verified);
  if (r.error != BlockError::kOk && !r.orphan)
    reject(id, r.error, to_string(r.error), Origin{}, now);
  for (const auto& [failed, error] : r.also_failed) {
    auto s = m_senders.find(failed);
    reject(failed, error, to_string(error), s != m_senders.end() ? s->second : Origin{}, now);
  }
  if (!r.update.empty()) chain_moved(r.update, nullptr, nullptr, {}, now);
  request_blocks(now);
  return r;
}

Result<BlockRef, std::string> BlockRelay::generate(Time now) {
  if (!m_cfg.producer_key)
    return fail(std::string("not a block producer: start hearsayd with --producer-key FILE"));
  auto built = build_block(m_chain, m_mempool, *m_cfg.producer_key, now);
  if (!built) return fail(built.error());
  BlockRef block = *built;
  const BlockId id = block->header.id();
  if (m_observer) m_observer->block_first_seen(id, block->header.height, TxSource{}, now);
  AcceptResult r = m_chain.accept_block(block, now, /*signatures_verified=*/true);
  if (r.error != BlockError::kOk) {
    reject(id, r.error, to_string(r.error), Origin{}, now);
    return fail(std::string("the block we built was refused: ") + to_string(r.error));
  }
  ++m_stats.produced;
  if (!r.update.empty()) chain_moved(r.update, nullptr, nullptr, {}, now);
  return block;
}

// --- announcement -----------------------------------------------------------------------------

void BlockRelay::announce(const ChainUpdate& update, const std::vector<uint32_t>& prefill,
                          Time now) {
  (void)now;
  if (update.connected.empty()) return;
  const std::vector<BlockRef>& blocks = update.connected;
  const BlockRef& tip = blocks.back();
  std::vector<BlockId> ids;
  ids.reserve(blocks.size());
  for (const BlockRef& b : blocks)
    ids.push_back(b->header.id());
  const BlockId& tip_id = ids.back();
  const bool one_step = blocks.size() == 1 && update.disconnected.empty();
  SharedBytes cmpct, inv;
  std::map<size_t, SharedBytes> headers;  // first index sent → frame
  for (auto& [peer, ps] : m_peers) {
    if (ps.known.contains(tip_id) || !m_pm.is_ready(peer)) continue;
    if (ps.wants_hb && (one_step || ps.known.contains(tip->header.prev))) {
      if (!cmpct) cmpct = cmpct_frame(tip, prefill);
      m_pm.send_frame(peer, cmpct, MsgType::kCmpctBlock);
      ++m_stats.cmpct_sent;
    } else if (ps.sendheaders) {
      size_t start = blocks.size() - 1;
      while (start > 0 && !ps.known.contains(ids[start - 1]))
        --start;
      if (blocks.size() - start > kMaxHeadersToAnnounce) start = blocks.size() - 1;
      SharedBytes& frame = headers[start];
      if (!frame) {
        HeadersMsg m;
        for (size_t i = start; i < blocks.size(); ++i)
          m.headers.push_back(blocks[i]->header);
        frame = encode_frame(m_pm.magic(), m);
      }
      m_pm.send_frame(peer, frame, MsgType::kHeaders);
      m_stats.headers_sent += blocks.size() - start;
      for (size_t i = start; i < blocks.size(); ++i)
        ps.known.insert(ids[i]);
    } else {
      if (!inv) inv = encode_frame(m_pm.magic(), InvMsg{{block_entry(InvType::kBlock, tip_id)}});
      m_pm.send_frame(peer, inv, MsgType::kInv);
    }
    see(ps, tip_id, tip->header.height);
  }
}

SharedBytes BlockRelay::cmpct_frame(const BlockRef& block, std::span<const uint32_t> prefill) {
  const BlockId id = block->header.id();
  for (const CachedFrame& c : m_cmpct_frames)
    if (c.id == id) return c.frame;
  std::vector<uint32_t> chosen;
  size_t bytes = 0;
  for (uint32_t i : prefill) {
    const size_t size = block->txs[i]->encoding().size();
    if (bytes + size > kMaxPrefillBytes) continue;
    bytes += size;
    chosen.push_back(i);
  }
  SharedBytes frame = encode_frame(m_pm.magic(), make_compact(*block, m_rng(), chosen));
  push_bounded(m_cmpct_frames, CachedFrame{id, frame}, kFrameCacheBlocks);
  return frame;
}

SharedBytes BlockRelay::block_frame(const BlockRef& block) {
  const BlockId id = block->header.id();
  for (const CachedFrame& c : m_block_frames)
    if (c.id == id) return c.frame;
  SharedBytes frame = encode_frame(m_pm.magic(), BlockMsg{block});
  push_bounded(m_block_frames, CachedFrame{id, frame}, kFrameCacheBlocks);
  return frame;
}

BlockRef BlockRelay::stored_block(const BlockId& id) const {
  if (m_chain.have_body(id)) return m_chain.block(id);
  for (const BlockRef& b : m_unchecked)
    if (b->header.id() == id) return b;
  return nullptr;
}

void BlockRelay::relay_unchecked_ForTest(const BlockRef& block, Time now) {
  (void)now;
  push_bounded(m_unchecked, block, kMaxUncheckedBlocks);
  const BlockId id = block->header.id();
  SharedBytes cmpct, full;
  for (auto& [peer, ps] : m_peers) {
    if (!m_pm.is_ready(peer)) continue;
    if (ps.wants_hb) {
      if (!cmpct) cmpct = encode_frame(m_pm.magic(), make_compact(*block, m_rng(), {}));
      m_pm.send_frame(peer, cmpct, MsgType::kCmpctBlock);
      ++m_stats.cmpct_sent;
    } else {
      if (!full) full = encode_frame(m_pm.magic(), BlockMsg{block});
      m_pm.send_frame(peer, full, MsgType::kBlock);
      ++m_stats.blocks_sent;
    }
    see(ps, id, block->header.height);
  }
}

// --- high-bandwidth peers ---------------------------------------------------------------------

void BlockRelay::set_hb(PeerId peer, PeerState& ps, bool on) {
  if (ps.we_hb == on) return;
  ps.we_hb = on;
  if (on) {
    m_hb.push_back(peer);
  } else {
    m_hb.erase(std::find(m_hb.begin(), m_hb.end(), peer));
  }
  m_pm.send(peer, SendCmpctMsg{on, 1});
}

void BlockRelay::choose_hb_on_ready(PeerId peer, PeerState& ps) {
  const size_t max = m_cfg.high_bandwidth_peers;
  bool hb = max > 0 && m_hb.size() < max;
  if (!hb && max > 0 && ps.preferred) {
    // A preferred peer takes the place of the oldest inbound one.
    for (PeerId other : m_hb) {
      PeerState& os = m_peers.at(other);
      if (os.preferred) continue;
      set_hb(other, os, false);
      hb = true;
      break;
    }
  }
  if (hb) {
    ps.we_hb = true;
    m_hb.push_back(peer);
  }
  m_pm.send(peer, SendCmpctMsg{hb, 1});
}

void BlockRelay::promote_hb(PeerId peer) {
  if (m_cfg.high_bandwidth_peers == 0) return;
  PeerState* ps = find(peer);
  if (!ps) return;
  if (ps->we_hb) {  // already one: now the most recent
    m_hb.erase(std::find(m_hb.begin(), m_hb.end(), peer));
    m_hb.push_back(peer);
    return;
  }
  set_hb(peer, *ps, true);
  while (m_hb.size() > m_cfg.high_bandwidth_peers) {
    const PeerId oldest = m_hb.front();
    set_hb(oldest, m_peers.at(oldest), false);
  }
}

void BlockRelay::top_up_hb() {
  while (m_hb.size() < m_cfg.high_bandwidth_peers) {
    PeerId best = 0;
    PeerState* best_ps = nullptr;
    for (auto& [peer, ps] : m_peers) {
      if (ps.we_hb || !m_pm.is_ready(peer)) continue;
      if (!best_ps || (ps.preferred && !best_ps->preferred) ||
          (ps.preferred == best_ps->preferred && ps.ready_seq < best_ps->ready_seq)) {
        best = peer;
        best_ps = &ps;
      }
    }
    if (!best_ps) return;
    set_hb(best, *best_ps, true);
  }
}

// --- introspection ----------------------------------------------------------------------------

void BlockRelay::sanity_check() const {
  std::map<PeerId, size_t> in_flight;
  for (const auto& [id, f] : m_in_flight) {
    HEARSAY_CHECK(m_peers.count(f.peer) != 0);
    ++in_flight[f.peer];
  }
  size_t hb = 0;
  for (const auto& [peer, ps] : m_peers) {
    HEARSAY_CHECK(m_pm.peer_info(peer).has_value());
    HEARSAY_CHECK(ps.in_flight == in_flight[peer]);
    HEARSAY_CHECK(ps.in_flight <= kMaxBlocksInFlightPerPeer);
    HEARSAY_CHECK(ps.avoid.size() <= kMaxAvoidPerPeer);
    ps.known.sanity_check();
    hb += ps.we_hb;
  }
  HEARSAY_CHECK(hb == m_hb.size());
  HEARSAY_CHECK(m_hb.size() <= m_cfg.high_bandwidth_peers);
  for (size_t i = 0; i < m_hb.size(); ++i) {
    HEARSAY_CHECK(m_peers.count(m_hb[i]) && m_peers.at(m_hb[i]).we_hb);
    HEARSAY_CHECK(std::count(m_hb.begin(), m_hb.end(), m_hb[i]) == 1);
  }
  HEARSAY_CHECK(m_partials.size() <= kMaxPartialBlocks);
  for (const auto& [id, p] : m_partials) {
    auto f = m_in_flight.find(id);
    HEARSAY_CHECK(f != m_in_flight.end() && f->second.peer == p.peer && f->second.compact);
    HEARSAY_CHECK(p.block.header().id() == id);
  }
  HEARSAY_CHECK(m_awaiting.size() <= kMaxAwaitingVerdicts);
  for (const auto& [id, a] : m_awaiting) {
    HEARSAY_CHECK(a.block && a.block->header.id() == id);
    HEARSAY_CHECK(!a.pending.empty() && !a.bad);  // settled ones leave at once
    if (a.from.peer) HEARSAY_CHECK(m_peers.count(*a.from.peer) != 0);
  }
  HEARSAY_CHECK(m_senders.size() == m_sender_order.size());
  HEARSAY_CHECK(m_senders.size() <= kMaxSenderMemory);
  for (const auto& [id, o] : m_senders)
    if (o.peer) HEARSAY_CHECK(m_peers.count(*o.peer) != 0);
  HEARSAY_CHECK(m_rejected_set.size() == m_rejected_order.size());
  HEARSAY_CHECK(m_rejected_set.size() <= kMaxRejectedBlocks);
  HEARSAY_CHECK(m_block_frames.size() <= kFrameCacheBlocks);
  HEARSAY_CHECK(m_cmpct_frames.size() <= kFrameCacheBlocks);
  HEARSAY_CHECK(m_unchecked.size() <= kMaxUncheckedBlocks);
}

}  // namespace hearsay
