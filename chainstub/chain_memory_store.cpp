// MemoryChainStore: the chain store of chains without a path. See chain_store.h.
#include "chainstub/chain_store.h"

namespace hearsay {

Status MemoryChainStore::apply(std::span<const ChainStoreOp> ops) {
  for (const ChainStoreOp& op : ops) {
    switch (op.kind) {
      case ChainStoreOp::Kind::kInit:
        m_genesis = op.id;
        break;
      case ChainStoreOp::Kind::kPutHeader:
        m_headers[op.id] = op.header;
        break;
      case ChainStoreOp::Kind::kPutBody:
        HEARSAY_CHECK(op.body != nullptr);
        m_bodies[op.id] = op.body;
        break;
      case ChainStoreOp::Kind::kPutNonce:
        HEARSAY_CHECK(op.nonce != 0);
        m_nonces[op.sender] = op.nonce;
        break;
      case ChainStoreOp::Kind::kEraseNonce:
        m_nonces.erase(op.sender);
        break;
      case ChainStoreOp::Kind::kPutTip:
        m_tip = op.id;
        break;
    }
  }
  return {};
}

Result<StoredChain, ChainStoreError> MemoryChainStore::load() {
  if (!m_tip) return fail(chain_store_corrupt(describe(), "no tip record"));
  StoredChain out;
  out.headers.assign(m_headers.begin(), m_headers.end());
  out.nonces = m_nonces;
  out.tip = *m_tip;
  return out;
}

Result<BlockRef, ChainStoreError> MemoryChainStore::read_body(const BlockId& id) {
  auto it = m_bodies.find(id);
  return it == m_bodies.end() ? BlockRef() : it->second;
}

}  // namespace hearsay
