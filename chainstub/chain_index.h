// BlockIndex: the tree of every indexed block header, the tip candidates, the best header and
// the active (best) chain along the tree. ChainState (chainstub/chain.h) decides what enters
// the index and which chain is active; the index keeps the derived data consistent.
//
// Entries: one BlockNode per header that passed the header rules, linked to its parent (every
// entry but genesis sits at its parent's height + 1) and its children. Derived, per entry:
// `complete` (its body and every ancestor's body are stored) and `failed` inherited by every
// descendant. Tip candidates are the complete, non-failed entries, best first (BestFirst: most
// blocks, then first seen); the best header is the best non-failed entry, complete or not.
// An entry changed since the last take_dirty() is dirty: its record must be written.
//
// Costs (n entries): find O(1); add O(1); fail O(descendants), O(n) if it held the best header;
// propagate_complete O(descendants waiting for the body); locator O(log n) on the active chain
// (+ O(depth) off it); load and sanity_check O(n log n). Memory ≈ 300 bytes per entry.
// Threading: none (its ChainState's).
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chainstub/chain_store.h"
#include "crypto/hash.h"

namespace hearsay {

// Hashes 32-byte ids and keys with a per-process random key (peers choose them).
struct IdHash {
  SipKey key;
  size_t operator()(const Hash256& h) const { return siphash24(key, h); }
};

// One index entry: its stored record plus the in-memory links and derived flags.
struct BlockNode : StoredHeader {
  BlockId id{};
  BlockNode* parent = nullptr;
  std::vector<BlockNode*> children;
  bool complete = false;  // derived: its body and every ancestor's are stored
  bool dirty = false;     // changed since the last take_dirty()
  uint64_t height() const { return header.height; }
};

// Best first: most blocks, then first seen.
struct BestFirst {
  bool operator()(const BlockNode* a, const BlockNode* b) const {
    if (a->height() != b->height()) return a->height() > b->height();
    return a->seq < b->seq;
  }
};

class BlockIndex {
 public:
  explicit BlockIndex(const SipKey& key) : m_nodes(64, IdHash{key}) {}
  BlockIndex(const BlockIndex&) = delete;
  BlockIndex& operator=(const BlockIndex&) = delete;

  // Replaces the whole index by the stored records, with `tip` as the active chain's tip.
  // Fails, with what is wrong (for ChainStoreError's "is corrupt: <what>"), when they do not
  // form one tree from `genesis_id`, or the tip is not the best stored, valid block.
  Status load(const std::vector<std::pair<BlockId, StoredHeader>>& headers,
              const BlockId& genesis_id, const BlockId& tip);

  BlockNode* find(const BlockId& id) const;
  size_t size() const { return m_nodes.size(); }

  // A new entry for `h` (id `id`) under `parent`: failed with `reason` unless kOk, failed with
  // kInvalidParent when the parent failed. Marked dirty.
  BlockNode* add(const BlockHeader& h, const BlockId& id, BlockNode* parent, BlockError reason);
  // Marks n failed with `reason` and every descendant failed with kInvalidParent.
  void fail(BlockNode* n, BlockError reason);
  // n's body was just stored: n, and stored descendants waiting for it, become complete.
  void propagate_complete(BlockNode* n);
  void mark_dirty(BlockNode* n);
  // The entries changed since the last call, in the order they changed; clears their marks.
  std::vector<BlockNode*> take_dirty();

  BlockNode* genesis() const { return m_genesis; }
  BlockNode* best_header() const { return m_best_header; }
  BlockNode* best_candidate() const { return *m_candidates.begin(); }

  // --- the active chain, genesis to tip, one entry per height ---
  BlockNode* tip() const { return m_active.back(); }
  uint64_t tip_height() const { return m_active.size() - 1; }
  BlockNode* at(uint64_t height) const { return m_active[height]; }  // height ≤ tip_height()
  bool in_active(const BlockNode* n) const {
    return n->height() < m_active.size() && m_active[n->height()] == n;
  }
  void push_active(BlockNode* n);  // n's parent is the tip
  void pop_active();               // the tip is not genesis
  // n's ancestor at `height` (≤ n's height).
  BlockNode* ancestor(BlockNode* n, uint64_t height) const;
  // The last block n shares with the active chain.
  BlockNode* fork_of(BlockNode* n) const;
  // Locator from n: n, then going back 1, 1, ... (10 steps), then doubling, then genesis; at
  // most kMaxLocatorHashes ids.
  std::vector<BlockId> locator_of(BlockNode* n) const;

  // Aborts on a broken invariant: links, heights, derived flags, failure inheritance,
  // candidates, best header, no dirty entry; the active chain linked, complete and valid, and
  // no candidate higher than its tip.
  void sanity_check() const;

 private:
  void clear();
  Status link(const std::vector<BlockNode*>& by_height, const BlockId& genesis_id);

  std::unordered_map<BlockId, std::unique_ptr<BlockNode>, IdHash> m_nodes;
  BlockNode* m_genesis = nullptr;
  std::vector<BlockNode*> m_active;              // the best chain, by height
  std::set<BlockNode*, BestFirst> m_candidates;  // complete, valid blocks: tip candidates
  BlockNode* m_best_header = nullptr;            // best valid header
  std::vector<BlockNode*> m_dirty;
  uint64_t m_next_seq = 1;
};

}  // namespace hearsay
