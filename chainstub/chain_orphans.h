// OrphanPool: blocks whose parent is not indexed yet, kept until it is (chainstub/chain.h,
// "Orphans").
//
// Bounds: at most kMaxOrphanBlocks blocks and kMaxOrphanBytes encoded bytes; beyond either,
// the oldest is dropped. Adversary: an orphan has passed its header's own rules (an authorised
// producer's signature) and the context-free body rules, so filling the pool takes a producer
// key, and even then costs the node only its oldest orphans, which headers sync fetches again.
// Costs: add and remove O(log n); contains O(1); waiting_for O(k log k) for k children.
// Threading: none (its ChainState's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <unordered_map>
#include <vector>

#include "chainstub/chain_index.h"
#include "p2p/block.h"

namespace hearsay {

// Orphan pool bounds: enough for a node a few blocks behind while it fetches headers.
inline constexpr size_t kMaxOrphanBlocks = 64;
inline constexpr size_t kMaxOrphanBytes = 32 * 1000 * 1000;

class OrphanPool {
 public:
  explicit OrphanPool(const SipKey& key) : m_orphans(16, IdHash{key}) {}

  bool contains(const BlockId& id) const { return m_orphans.count(id) != 0; }
  size_t size() const { return m_orphans.size(); }
  size_t bytes() const { return m_bytes; }
  // Keeps `block` (id `id`, not in the pool), dropping the oldest orphans beyond the bounds.
  void add(const BlockRef& block, const BlockId& id);
  // Takes `id` (in the pool) out of the pool.
  BlockRef remove(BlockId id);
  // The orphans whose parent is `prev`, oldest first.
  std::vector<BlockId> waiting_for(const BlockId& prev) const;
  std::vector<BlockId> ids() const;

  // Aborts on a broken invariant: bounds, byte total, the two side indexes.
  void sanity_check() const;

 private:
  struct Orphan {
    BlockRef block;
    BlockId prev{};
    uint64_t seq = 0;
    size_t bytes = 0;
  };

  std::unordered_map<BlockId, Orphan, IdHash> m_orphans;
  std::multimap<BlockId, BlockId> m_by_prev;  // prev → orphan id
  std::map<uint64_t, BlockId> m_by_age;       // orphan seq → id
  size_t m_bytes = 0;
  uint64_t m_next_seq = 0;
};

}  // namespace hearsay
