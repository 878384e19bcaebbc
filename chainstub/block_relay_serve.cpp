// BlockRelay serving: getdata for blocks and cmpctblocks, getblocktxn, and the small caches of
// serialised frames shared by peers asking for the same new block.
#include "chainstub/block_relay.h"

#include "p2p/transport.h"

namespace hearsay {

namespace {

template <class T>
void push_bounded(std::deque<T>& q, T value, size_t max) {
  q.push_back(std::move(value));
  while (q.size() > max)
    q.pop_front();
}

}  // namespace

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
  for (const BlockRef& b : m_extra_served)
    if (b->header.id() == id) return b;
  return nullptr;
}

}  // namespace hearsay
