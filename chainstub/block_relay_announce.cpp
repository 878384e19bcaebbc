// BlockRelay announcement of new tips (cmpctblock, headers or inv, per peer) and the choice of
// high-bandwidth peers.
#include "chainstub/block_relay.h"

#include <algorithm>
#include <map>

#include "p2p/transport.h"

namespace hearsay {

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
      if (!inv) inv = encode_frame(m_pm.magic(), InvMsg{{InvEntry{InvType::kBlock, tip_id}}});
      m_pm.send_frame(peer, inv, MsgType::kInv);
    }
    see(ps, tip_id, tip->header.height);
  }
}

// --- high-bandwidth peers --------------------------------------------------------------------

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

}  // namespace hearsay
