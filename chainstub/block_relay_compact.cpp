// BlockRelay compact-block reconstruction: a cmpctblock is accepted as a header, rebuilt from
// the mempool (PartialBlock), completed by getblocktxn / blocktxn, or fetched whole on a
// short-id collision.
#include "chainstub/block_relay.h"

namespace hearsay {

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

}  // namespace hearsay
