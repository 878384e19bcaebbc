// BlockRelay validation: a complete block is checked, its unknown signatures verified through
// the PeerManager, then accepted by the chain; whoever relayed an invalid block is blamed. Also
// the blocks from local sources (submit_block, generate) and what follows a tip change.
#include "chainstub/block_relay.h"

#include "crypto/result.h"

namespace hearsay {

namespace {

// Failures found only when a block is connected to its parent's state.
bool is_connect_error(BlockError e) {
  return e == BlockError::kTxBadNonce || e == BlockError::kTxExpired;
}

}  // namespace

void BlockRelay::reconstructed(const BlockId& id, const PartialBlock& pb, size_t missing,
                               const BlockRef& block, PeerId peer, Time now) {
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
    finish_block(block, from, lacked, now);
    return;
  }
  if (m_awaiting.size() >= kMaxAwaitingVerdicts) return;  // unscored; fetched again later
  remember_sender(id, from);
  Awaiting a;
  a.block = block;
  a.from = from;
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
      finish_block(a.block, a.from, a.lacked, now);
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
                              const std::vector<uint32_t>& lacked, Time now) {
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
  reject_also_failed(r, now);
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

void BlockRelay::reject_also_failed(const AcceptResult& r, Time now) {
  for (const auto& [failed, error] : r.also_failed) {
    auto s = m_senders.find(failed);
    reject(failed, error, to_string(error), s != m_senders.end() ? s->second : Origin{}, now);
  }
}

void BlockRelay::blame(const Origin& from, const std::string& reason, Time now) {
  if (from.local) return;
  m_pm.ban_identity(from.identity, from.address, reason, now);
}

void BlockRelay::remember_sender(const BlockId& id, const Origin& from) {
  if (from.local || m_senders.count(id)) return;
  m_senders.emplace(id, from);
  if (auto evicted = m_sender_order.insert(id).evicted) m_senders.erase(*evicted);
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
    if (joined && from && from->peer) {
      promote_hb(*from->peer);
      m_pm.note_novel_block(*from->peer, now);
    }
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
  reject_also_failed(r, now);
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

}  // namespace hearsay
