// BlockRelay header sync: getheaders answered from the best chain, headers accepted one by
// one (a punishable one bans its sender), inv of unknown blocks, our own getheaders.
#include "chainstub/block_relay.h"

#include <optional>

namespace hearsay {

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
    m_pm.send(peer, GetDataMsg{{InvEntry{InvType::kCmpctBlock, *last_id}}});
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

void BlockRelay::send_getheaders(PeerId peer, PeerState& ps, const BlockId& from, Time now) {
  if (ps.getheaders_sent && now - *ps.getheaders_sent < kGetHeadersTimeout) return;
  ps.getheaders_sent = now;
  m_pm.send(peer, GetHeadersMsg{m_chain.locator_from(from), BlockId{}});
}

}  // namespace hearsay
