// OrphanPool: see chain_orphans.h.
#include "chainstub/chain_orphans.h"

#include <algorithm>
#include <utility>

namespace hearsay {

void OrphanPool::add(const BlockRef& block, const BlockId& id) {
  Orphan o;
  o.block = block;
  o.prev = block->header.prev;
  o.seq = m_next_seq++;
  o.bytes = block->encoded_size();
  m_bytes += o.bytes;
  m_by_prev.emplace(o.prev, id);
  m_by_age.emplace(o.seq, id);
  m_orphans.emplace(id, std::move(o));
  while (m_orphans.size() > kMaxOrphanBlocks || m_bytes > kMaxOrphanBytes)
    remove(m_by_age.begin()->second);
}

BlockRef OrphanPool::remove(BlockId id) {  // by value: callers pass ids held by the pool
  auto it = m_orphans.find(id);
  HEARSAY_CHECK(it != m_orphans.end());
  Orphan o = std::move(it->second);
  m_orphans.erase(it);
  m_bytes -= o.bytes;
  m_by_age.erase(o.seq);
  auto range = m_by_prev.equal_range(o.prev);
  for (auto p = range.first; p != range.second; ++p)
    if (p->second == id) {
      m_by_prev.erase(p);
      break;
    }
  return o.block;
}

std::vector<BlockId> OrphanPool::waiting_for(const BlockId& prev) const {
  std::vector<std::pair<uint64_t, BlockId>> waiting;
  auto range = m_by_prev.equal_range(prev);
  for (auto it = range.first; it != range.second; ++it)
    waiting.emplace_back(m_orphans.at(it->second).seq, it->second);
  std::sort(waiting.begin(), waiting.end());
  std::vector<BlockId> out;
  out.reserve(waiting.size());
  for (const auto& [seq, id] : waiting)
    out.push_back(id);
  return out;
}

std::vector<BlockId> OrphanPool::ids() const {
  std::vector<BlockId> out;
  out.reserve(m_orphans.size());
  for (const auto& [id, o] : m_orphans)
    out.push_back(id);
  return out;
}

void OrphanPool::sanity_check() const {
  HEARSAY_CHECK(m_orphans.size() <= kMaxOrphanBlocks && m_bytes <= kMaxOrphanBytes);
  HEARSAY_CHECK(m_by_age.size() == m_orphans.size());
  HEARSAY_CHECK(m_by_prev.size() == m_orphans.size());
  size_t bytes = 0;
  for (const auto& [id, o] : m_orphans) {
    bytes += o.bytes;
    HEARSAY_CHECK(o.block && o.block->header.id() == id && o.prev == o.block->header.prev);
    HEARSAY_CHECK(m_by_age.at(o.seq) == id);
  }
  HEARSAY_CHECK(bytes == m_bytes);
}

}  // namespace hearsay
