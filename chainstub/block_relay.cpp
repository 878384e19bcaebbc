// BlockRelay core: construction, peers arriving and leaving, message dispatch, timers and
// sanity_check. The other concerns are in block_relay_*.cpp (see block_relay.h).
#include "chainstub/block_relay.h"

#include <algorithm>

namespace hearsay {

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
  expire_requests(now);  // they go to another peer
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
      handle_block(peer, *ps, std::get<BlockMsg>(msg).block, now);
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
  m_sender_order.sanity_check();
  HEARSAY_CHECK(m_senders.size() == m_sender_order.size());
  HEARSAY_CHECK(m_senders.size() <= kMaxSenderMemory);
  for (const auto& [id, o] : m_senders) {
    HEARSAY_CHECK(m_sender_order.contains(id));
    if (o.peer) HEARSAY_CHECK(m_peers.count(*o.peer) != 0);
  }
  m_rejected.sanity_check();
  HEARSAY_CHECK(m_rejected.size() <= kMaxRejectedBlocks);
  HEARSAY_CHECK(m_block_frames.size() <= kFrameCacheBlocks);
  HEARSAY_CHECK(m_cmpct_frames.size() <= kFrameCacheBlocks);
  HEARSAY_CHECK(m_extra_served.size() <= kMaxExtraServed);
}

}  // namespace hearsay
