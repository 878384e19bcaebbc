// BlockIndex: see chain_index.h.
#include "chainstub/chain_index.h"

#include <algorithm>

#include "p2p/limits.h"

namespace hearsay {

void BlockIndex::clear() {
  m_nodes.clear();
  m_active.clear();
  m_candidates.clear();
  m_genesis = nullptr;
  m_best_header = nullptr;
  m_dirty.clear();
  m_next_seq = 1;
}

Status BlockIndex::load(const std::vector<std::pair<BlockId, StoredHeader>>& headers,
                        const BlockId& genesis_id, const BlockId& tip_id) {
  clear();
  std::vector<BlockNode*> nodes;
  nodes.reserve(headers.size());
  for (const auto& [id, record] : headers) {
    auto node = std::make_unique<BlockNode>();
    static_cast<StoredHeader&>(*node) = record;
    node->id = id;
    m_next_seq = std::max(m_next_seq, node->seq + 1);
    nodes.push_back(node.get());
    m_nodes.emplace(id, std::move(node));
  }
  std::sort(nodes.begin(), nodes.end(),
            [](const BlockNode* a, const BlockNode* b) { return a->height() < b->height(); });
  if (Status s = link(nodes, genesis_id); !s) return s;
  for (BlockNode* n : nodes) {
    if (n->complete && !n->failed) m_candidates.insert(n);
    if (!n->failed && (!m_best_header || BestFirst()(n, m_best_header))) m_best_header = n;
  }

  BlockNode* tip = find(tip_id);
  if (!tip || !tip->complete || tip->failed)
    return Status::error("the tip is not a stored, valid block");
  m_active.resize(tip->height() + 1);
  for (BlockNode* n = tip; n; n = n->parent)
    m_active[n->height()] = n;
  if (best_candidate()->height() > tip->height())
    return Status::error("the tip is not the best stored chain");
  return {};
}

// Links every entry (lowest first) to its parent and derives `complete`.
Status BlockIndex::link(const std::vector<BlockNode*>& by_height, const BlockId& genesis_id) {
  for (BlockNode* n : by_height) {
    if (n->height() == 0) {
      if (n->id != genesis_id) return Status::error("a second block at height 0");
      m_genesis = n;
      n->complete = n->have_body;
      continue;
    }
    BlockNode* p = find(n->header.prev);
    if (!p || p->height() + 1 != n->height())
      return Status::error("a header whose parent is missing");
    n->parent = p;
    p->children.push_back(n);
    if (p->failed && !n->failed) return Status::error("a valid block whose parent failed");
    n->complete = n->have_body && p->complete;
  }
  if (!m_genesis || !m_genesis->have_body || m_genesis->failed)
    return Status::error("the genesis block is missing");
  return {};
}

BlockNode* BlockIndex::find(const BlockId& id) const {
  auto it = m_nodes.find(id);
  return it == m_nodes.end() ? nullptr : it->second.get();
}

BlockNode* BlockIndex::add(const BlockHeader& h, const BlockId& id, BlockNode* parent,
                           BlockError reason) {
  auto owned = std::make_unique<BlockNode>();
  BlockNode* n = owned.get();
  n->header = h;
  n->id = id;
  n->parent = parent;
  n->seq = m_next_seq++;
  n->failed = reason != BlockError::kOk || parent->failed;
  n->reason = reason != BlockError::kOk ? reason
              : parent->failed          ? BlockError::kInvalidParent
                                        : BlockError::kOk;
  parent->children.push_back(n);
  m_nodes.emplace(id, std::move(owned));
  mark_dirty(n);
  if (!n->failed && BestFirst()(n, m_best_header)) m_best_header = n;
  return n;
}

void BlockIndex::fail(BlockNode* n, BlockError reason) {
  std::vector<BlockNode*> stack{n};
  bool first = true;
  while (!stack.empty()) {
    BlockNode* x = stack.back();
    stack.pop_back();
    if (x->failed && !first) continue;
    x->failed = true;
    x->reason = first ? reason : BlockError::kInvalidParent;
    first = false;
    m_candidates.erase(x);
    mark_dirty(x);
    for (BlockNode* c : x->children)
      stack.push_back(c);
  }
  if (m_best_header->failed) {
    m_best_header = m_genesis;
    for (const auto& [id, node] : m_nodes)
      if (!node->failed && BestFirst()(node.get(), m_best_header)) m_best_header = node.get();
  }
}

void BlockIndex::propagate_complete(BlockNode* n) {
  if (!n->parent->complete) return;
  std::vector<BlockNode*> stack{n};
  while (!stack.empty()) {
    BlockNode* x = stack.back();
    stack.pop_back();
    x->complete = true;
    if (!x->failed) m_candidates.insert(x);
    for (BlockNode* c : x->children)
      if (c->have_body && !c->complete) stack.push_back(c);
  }
}

void BlockIndex::mark_dirty(BlockNode* n) {
  if (n->dirty) return;
  n->dirty = true;
  m_dirty.push_back(n);
}

std::vector<BlockNode*> BlockIndex::take_dirty() {
  std::vector<BlockNode*> out;
  out.swap(m_dirty);
  for (BlockNode* n : out)
    n->dirty = false;
  return out;
}

void BlockIndex::push_active(BlockNode* n) {
  HEARSAY_CHECK(n->parent == tip());
  m_active.push_back(n);
}

void BlockIndex::pop_active() {
  HEARSAY_CHECK(tip() != m_genesis);
  m_active.pop_back();
}

BlockNode* BlockIndex::ancestor(BlockNode* n, uint64_t height) const {
  while (n->height() > height && !in_active(n))
    n = n->parent;
  if (n->height() == height) return n;
  return m_active[height];  // n is in the active chain, above `height`
}

BlockNode* BlockIndex::fork_of(BlockNode* n) const {
  while (!in_active(n))
    n = n->parent;
  return n;
}

std::vector<BlockId> BlockIndex::locator_of(BlockNode* n) const {
  std::vector<BlockId> out;
  uint64_t step = 1;
  for (;;) {
    out.push_back(n->id);
    if (n->height() == 0) break;
    if (out.size() + 1 >= kMaxLocatorHashes) {
      out.push_back(m_genesis->id);
      break;
    }
    uint64_t h = n->height() > step ? n->height() - step : 0;
    if (out.size() > 10) step *= 2;
    n = ancestor(n, h);
  }
  return out;
}

void BlockIndex::sanity_check() const {
  HEARSAY_CHECK(m_dirty.empty());
  // Active chain: linked from genesis, every block stored, complete and valid.
  HEARSAY_CHECK(!m_active.empty() && m_active[0] == m_genesis);
  for (size_t h = 0; h < m_active.size(); ++h) {
    const BlockNode* n = m_active[h];
    HEARSAY_CHECK(n->height() == h && n->have_body && n->complete && !n->failed);
    if (h > 0) HEARSAY_CHECK(n->parent == m_active[h - 1]);
  }
  // Entries: links, derived flags, failure inheritance, candidates, best header.
  std::set<const BlockNode*, BestFirst> candidates;
  const BlockNode* best_header = m_genesis;
  for (const auto& [id, owned] : m_nodes) {
    const BlockNode* n = owned.get();
    HEARSAY_CHECK(n->id == id && !n->dirty);
    if (n != m_genesis) {
      HEARSAY_CHECK(n->parent && n->parent->height() + 1 == n->height());
      HEARSAY_CHECK(n->header.prev == n->parent->id);
      HEARSAY_CHECK(std::count(n->parent->children.begin(), n->parent->children.end(), n) == 1);
      if (n->parent->failed) HEARSAY_CHECK(n->failed);
      HEARSAY_CHECK(n->complete == (n->have_body && n->parent->complete));
    }
    HEARSAY_CHECK(n->failed == (n->reason != BlockError::kOk));
    HEARSAY_CHECK(n->seq < m_next_seq);
    if (n->complete && !n->failed) candidates.insert(n);
    if (!n->failed && BestFirst()(n, best_header)) best_header = n;
  }
  HEARSAY_CHECK(candidates.size() == m_candidates.size());
  HEARSAY_CHECK(std::equal(candidates.begin(), candidates.end(), m_candidates.begin()));
  HEARSAY_CHECK(best_header == m_best_header);
  // Tip: no stored, valid chain is longer.
  HEARSAY_CHECK(best_candidate()->height() == tip()->height());
}

}  // namespace hearsay
