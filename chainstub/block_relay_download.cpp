// BlockRelay full-block download: which peer is asked for which missing block, requests in
// flight (at most kMaxBlocksInFlightPerPeer per peer), their timeouts and notfound answers,
// and the `block` messages that answer them.
#include "chainstub/block_relay.h"

#include <algorithm>

namespace hearsay {

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

void BlockRelay::handle_block(PeerId peer, PeerState& ps, const BlockRef& block, Time now) {
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
  m_pm.send(peer, GetDataMsg{{InvEntry{InvType::kBlock, id}}});
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
    batches[best].entries.push_back(InvEntry{InvType::kBlock, id});
  }
  for (const auto& [peer, gd] : batches)
    m_pm.send(peer, gd);
}

void BlockRelay::expire_requests(Time now) {
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
}

}  // namespace hearsay
