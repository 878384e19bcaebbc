// ChainState: rules, best-tip choice, reorganisation, nonces. See chain.h for the rules; the
// index is chain_index.h, the orphan pool chain_orphans.h, storage chain_store.h.
#include "chainstub/chain.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <unordered_set>

#include "crypto/hex.h"
#include "mempool/mempool.h"
#include "mempool/policy.h"

namespace hearsay {

namespace {

// Decoded blocks kept for block(id): the newest few, which is what peers ask for (new tips)
// and what a reorganisation touches first. Bounds the cache to 16 × max_block_size bytes.
constexpr size_t kBlockCacheSize = 16;

uint64_t seconds_of(Time t) {
  return t.count() < 0 ? 0 : static_cast<uint64_t>(t.count()) / 1'000'000;
}

Time time_of(uint64_t seconds) {
  return std::chrono::duration_cast<Time>(std::chrono::seconds(static_cast<int64_t>(seconds)));
}

SipKey random_key() {
  std::random_device rd;
  SipKey k;
  for (auto& b : k)
    b = static_cast<uint8_t>(rd());
  return k;
}

// Whether a header that broke a context rule is remembered as failed: not when it is too
// new (it may become valid), nor when its height does not follow its parent's (the index
// keeps every entry at its parent's height + 1).
bool rememberable(BlockError e, const BlockHeader& h, const BlockNode* prev) {
  return e != BlockError::kTimeTooNew && h.height == prev->height() + 1;
}

// Writes genesis (header, body, tip) to a new store, making it this network's.
Status initialise_store(ChainStore& store, const NetworkParams& params) {
  Block genesis;
  genesis.header = params.genesis();
  BlockId id = genesis.header.id();
  StoredHeader record;
  record.header = genesis.header;
  record.seq = 0;
  record.have_body = true;
  record.size = static_cast<uint32_t>(genesis.encoded_size());
  const ChainStoreOp ops[] = {
      ChainStoreOp::init(id),
      ChainStoreOp::put_header(id, record),
      ChainStoreOp::put_body(id, std::make_shared<const Block>(std::move(genesis))),
      ChainStoreOp::put_tip(id),
  };
  return store.apply(ops);
}

}  // namespace

// --- opening and reloading ---------------------------------------------------------------------

ChainState::ChainState(const NetworkParams& params, std::unique_ptr<ChainStore> store)
    : m_params(params),
      m_store(std::move(store)),
      m_path(m_store->describe()),
      m_key(random_key()),
      m_index(m_key),
      m_nonces(64, IdHash{m_key}),
      m_orphans(m_key) {}

ChainState::~ChainState() = default;

Result<std::unique_ptr<ChainState>, std::string> ChainState::open(const NetworkParams& params,
                                                                  const ChainOptions& options) {
  Status valid = params.validate();
  if (!valid) return fail("network " + params.name + " is invalid: " + valid.message());
  if (options.path.empty()) return open_store(params, std::make_unique<MemoryChainStore>());
  auto store = open_leveldb_chain_store(ChainStoreOptions{options.path, options.sync});
  if (!store) return fail(store.error().message);
  return open_store(params, std::move(*store));
}

Result<std::unique_ptr<ChainState>, std::string> ChainState::open(
    const NetworkParams& params, std::unique_ptr<ChainStore> store) {
  Status valid = params.validate();
  if (!valid) return fail("network " + params.name + " is invalid: " + valid.message());
  return open_store(params, std::move(store));
}

Result<std::unique_ptr<ChainState>, std::string> ChainState::open_store(
    const NetworkParams& params, std::unique_ptr<ChainStore> store) {
  HEARSAY_CHECK(store != nullptr);
  const std::string path = store->describe();
  const BlockId want = params.genesis_id();
  if (std::optional<BlockId> got = store->genesis(); !got) {
    Status s = initialise_store(*store, params);
    if (!s) return fail(s.message());
  } else if (*got != want) {
    return fail("chain store " + path + " belongs to another network (its genesis " + to_hex(*got) +
                ", network " + params.name + "'s is " + to_hex(want) +
                "): start with that network's --network file, or " + chain_resync_hint(path));
  }
  std::unique_ptr<ChainState> chain(new ChainState(params, std::move(store)));
  Status s = chain->load();
  if (!s) return fail(s.message());
  return chain;
}

Status ChainState::corrupt(const std::string& what) const {
  return Status::error(chain_store_corrupt(m_path, what).message);
}

Status ChainState::load() {
  m_nonces.clear();
  m_dirty_senders.clear();
  m_pending_body.reset();
  m_tip_dirty = false;
  m_txs_confirmed = 0;
  auto stored = m_store->load();
  if (!stored) return Status::error(stored.error().message);
  Status s = m_index.load(stored->headers, m_params.genesis_id(), stored->tip);
  if (!s) return corrupt(s.message());
  m_nonces.insert(stored->nonces.begin(), stored->nonces.end());
  return replay_active_chain();
}

// The nonces must equal a replay of the active chain (which also counts its transactions).
Status ChainState::replay_active_chain() {
  std::unordered_map<PublicKey, uint64_t, IdHash> replay(64, IdHash{m_key});
  for (uint64_t h = 1; h <= m_index.tip_height(); ++h) {
    const BlockNode* n = m_index.at(h);
    auto read = m_store->read_body(n->id);
    if (!read && read.error().kind == ChainStoreError::Kind::kIo)
      return Status::error(read.error().message);
    BlockRef b = read ? *read : nullptr;
    if (!b || b->txs.size() != n->tx_count)
      return corrupt("the body of block " + to_hex(n->id) + " is missing or damaged");
    for (const TxRef& tx : b->txs) {
      uint64_t& next = replay[tx->sender()];
      if (tx->nonce() != next) return corrupt("the active chain's nonces do not replay");
      next = tx->nonce() + 1;
    }
    m_txs_confirmed += b->txs.size();
  }
  if (replay != m_nonces) return corrupt("the stored nonces disagree with the active chain");
  return {};
}

// --- writing -----------------------------------------------------------------------------------

bool ChainState::commit() {
  std::vector<ChainStoreOp> ops;
  for (const BlockNode* n : m_index.take_dirty())
    ops.push_back(ChainStoreOp::put_header(n->id, *n));
  auto pending = std::move(m_pending_body);
  m_pending_body.reset();
  if (pending) ops.push_back(ChainStoreOp::put_body(pending->first, pending->second));
  for (const PublicKey& k : m_dirty_senders) {
    uint64_t v = nonce_of(k);
    ops.push_back(v == 0 ? ChainStoreOp::erase_nonce(k) : ChainStoreOp::put_nonce(k, v));
  }
  m_dirty_senders.clear();
  if (m_tip_dirty) {
    ops.push_back(ChainStoreOp::put_tip(m_index.tip()->id));
    m_tip_dirty = false;
  }
  Status s = m_store->apply(ops);
  if (s) {
    if (pending) remember(pending->first, pending->second);
    return true;
  }
  reload_or_abort(s.message());
  return false;
}

// After a failed write or read: memory goes back to what the store holds; if even that cannot
// be read, the process aborts (it cannot go on with a state it cannot persist).
void ChainState::reload_or_abort(const std::string& why) {
  Status reloaded = load();
  if (!reloaded) {
    std::fprintf(stderr, "hearsay: %s; then: %s\n", why.c_str(), reloaded.message().c_str());
    std::abort();
  }
}

BlockRef ChainState::body(const BlockId& id) const {
  if (m_pending_body && m_pending_body->first == id) return m_pending_body->second;
  for (const auto& [cid, b] : m_cache)
    if (cid == id) return b;
  const BlockNode* n = m_index.find(id);
  if (!n || !n->have_body) return nullptr;
  auto read = m_store->read_body(id);
  if (!read || !*read) return nullptr;
  remember(id, *read);
  return *read;
}

void ChainState::remember(const BlockId& id, const BlockRef& b) const {
  for (const auto& [cid, cb] : m_cache)
    if (cid == id) return;
  m_cache.emplace_back(id, b);
  if (m_cache.size() > kBlockCacheSize) m_cache.pop_front();
}

uint64_t ChainState::nonce_of(const PublicKey& k) const {
  auto it = m_nonces.find(k);
  return it == m_nonces.end() ? 0 : it->second;
}

void ChainState::set_nonce(const PublicKey& k, uint64_t v) {
  if (v == 0)
    m_nonces.erase(k);
  else
    m_nonces[k] = v;
  m_dirty_senders.insert(k);
}

// --- rules -------------------------------------------------------------------------------------

BlockError ChainState::header_rules(const BlockHeader& h) const {
  if (h.network != m_params.magic) return BlockError::kBadNetwork;
  if (!m_params.is_producer(h.producer)) return BlockError::kBadProducer;
  if (!h.verify_signature()) return BlockError::kBadSignature;
  return BlockError::kOk;
}

BlockError ChainState::context_rules(const BlockHeader& h, const BlockNode* prev, Time now) const {
  if (prev->failed) return BlockError::kInvalidParent;
  if (h.height != prev->height() + 1) return BlockError::kBadHeight;
  if (h.time < prev->header.time) return BlockError::kTimeTooOld;
  uint64_t limit =
      seconds_of(now) +
      static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::seconds>(kMaxFutureBlockTime).count());
  if (h.time > limit) return BlockError::kTimeTooNew;
  return BlockError::kOk;
}

// The context-free body rules. *root_ok: the Merkle root matches (the body is the one the
// header commits to, so a failure is the block's own and may be remembered).
BlockError ChainState::body_rules(const Block& b, bool signatures_verified, bool* root_ok) const {
  *root_ok = merkle_root(b.txs) == b.header.merkle_root;
  if (b.encoded_size() > m_params.max_block_size) return BlockError::kTooLarge;
  if (!*root_ok) return BlockError::kBadMerkleRoot;
  std::unordered_set<TxId, IdHash> ids(b.txs.size() * 2 + 1, IdHash{m_key});
  for (const TxRef& tx : b.txs)
    if (!ids.insert(tx->id()).second) return BlockError::kDuplicateTx;
  // Cheap checks of every transaction first, signatures last.
  for (const TxRef& tx : b.txs) {
    if (tx->network() != m_params.magic) return BlockError::kTxBadNetwork;
    if (tx->size() > m_params.max_tx_size) return BlockError::kTxTooLarge;
  }
  if (!signatures_verified)
    for (const TxRef& tx : b.txs)
      if (!tx->verify_signature()) return BlockError::kTxBadSignature;
  return BlockError::kOk;
}

// --- connecting --------------------------------------------------------------------------------

// Connects n (whose parent is the tip): kOk, a rule it breaks (nothing changed), or
// kStoreFailed when its body cannot be read.
BlockError ChainState::connect(BlockNode* n) {
  BlockRef b = body(n->id);
  if (!b) return BlockError::kStoreFailed;
  std::unordered_map<PublicKey, uint64_t, IdHash> next(b->txs.size() * 2 + 1, IdHash{m_key});
  Time block_time = time_of(b->header.time);
  for (const TxRef& tx : b->txs) {
    PublicKey s = tx->sender();
    auto it = next.find(s);
    uint64_t cur = it != next.end() ? it->second : nonce_of(s);
    if (tx->nonce() != cur || cur == UINT64_MAX) return BlockError::kTxBadNonce;
    if (tx_expired(*tx, block_time, n->height() - 1)) return BlockError::kTxExpired;
    next[s] = cur + 1;
  }
  for (const auto& [s, v] : next)
    set_nonce(s, v);
  m_index.push_active(n);
  m_txs_confirmed += b->txs.size();
  return BlockError::kOk;
}

// Disconnects the tip. Undo data comes from the block itself: connecting checked that each
// sender's nonces in it run consecutively from its next nonce, so the first nonce of a sender
// in the block is that sender's next nonce before the block.
bool ChainState::disconnect_tip() {
  BlockNode* n = m_index.tip();
  HEARSAY_CHECK(n != m_index.genesis());
  BlockRef b = body(n->id);
  if (!b) return false;
  for (auto it = b->txs.rbegin(); it != b->txs.rend(); ++it)
    set_nonce((*it)->sender(), (*it)->nonce());
  m_index.pop_active();
  m_txs_confirmed -= b->txs.size();
  return true;
}

// Moves the tip to the best candidate (see chain.h). Returns the error of `self` if it failed
// when connected; other failures go to m_also_failed. Sets m_store_trouble if a body could
// not be read (the caller then reloads).
BlockError ChainState::activate(BlockNode* self) {
  BlockNode* old_tip = m_index.tip();
  BlockError self_error = BlockError::kOk;
  bool lost = false;  // a failure after the old tip was disconnected: take the best of all
  for (;;) {
    BlockNode* best = m_index.best_candidate();
    BlockNode* tip = m_index.tip();
    if (best == tip) break;
    if (!lost && best->height() <= tip->height()) break;
    BlockNode* fork = m_index.fork_of(best);
    while (m_index.tip() != fork)
      if (!disconnect_tip()) {
        m_store_trouble = true;
        return self_error;
      }
    std::vector<BlockNode*> path;
    for (BlockNode* x = best; x != fork; x = x->parent)
      path.push_back(x);
    for (auto it = path.rbegin(); it != path.rend(); ++it) {
      BlockError e = connect(*it);
      if (e == BlockError::kStoreFailed) {
        m_store_trouble = true;
        return self_error;
      }
      if (e != BlockError::kOk) {
        m_index.fail(*it, e);
        if (*it == self)
          self_error = e;
        else
          m_also_failed.emplace_back((*it)->id, e);
        lost = !m_index.in_active(old_tip);
        break;
      }
    }
  }
  if (m_index.tip() != old_tip) m_tip_dirty = true;
  return self_error;
}

// --- accepting ---------------------------------------------------------------------------------

ChainState::OneResult ChainState::accept_one(const BlockRef& block, Time now,
                                             bool signatures_verified) {
  const BlockHeader& h = block->header;
  BlockId id = h.id();
  BlockNode* n = m_index.find(id);
  if (n && n->failed) return {n->reason, true, false};
  if (n && n->have_body) return {BlockError::kOk, true, false};
  if (!n && m_orphans.contains(id)) return {BlockError::kUnknownParent, true, true};
  BlockNode* prev = n ? n->parent : nullptr;
  if (!n) {
    BlockError e = header_rules(h);
    if (e != BlockError::kOk) return {e};
    prev = m_index.find(h.prev);
    if (!prev) {
      bool root_ok = false;
      e = body_rules(*block, signatures_verified, &root_ok);
      if (e != BlockError::kOk) return {e};
      m_orphans.add(block, id);
      return {BlockError::kUnknownParent, false, true};
    }
    e = context_rules(h, prev, now);
    if (!rememberable(e, h, prev)) return {e};
    if (e != BlockError::kOk) {
      m_index.add(h, id, prev, e);
      return {commit_or(e)};
    }
  }
  bool root_ok = false;
  BlockError e = body_rules(*block, signatures_verified, &root_ok);
  if (e != BlockError::kOk) {
    if (root_ok) {
      if (n)
        m_index.fail(n, e);
      else
        m_index.add(h, id, prev, e);
      return {commit_or(e)};
    }
    return {e};
  }
  if (!n) n = m_index.add(h, id, prev, BlockError::kOk);
  return store_and_activate(n, block);
}

// n's body (`block`) passed every rule that needs no chain state: it is stored, and the tip
// moves if n (or a stored descendant waiting for it) now leads.
ChainState::OneResult ChainState::store_and_activate(BlockNode* n, const BlockRef& block) {
  n->have_body = true;
  n->tx_count = static_cast<uint32_t>(block->txs.size());
  n->size = static_cast<uint32_t>(block->encoded_size());
  m_index.mark_dirty(n);
  m_pending_body.emplace(n->id, block);
  if (m_orphans.contains(n->id)) m_orphans.remove(n->id);  // its header was indexed since
  m_index.propagate_complete(n);
  size_t failed_before = m_also_failed.size();
  BlockError own = activate(n);
  if (m_store_trouble) {
    m_store_trouble = false;
    m_also_failed.resize(failed_before);
    reload_or_abort("cannot read a block body from chain store " + m_path);
    return {BlockError::kStoreFailed};
  }
  if (!commit()) {
    m_also_failed.resize(failed_before);
    return {BlockError::kStoreFailed};
  }
  return {own};
}

AcceptResult ChainState::accept_block(const BlockRef& block, Time now, bool signatures_verified) {
  HEARSAY_CHECK(block != nullptr);
  AcceptResult res;
  BlockId old_tip = m_index.tip()->id;
  BlockId id = block->header.id();
  OneResult one = accept_one(block, now, signatures_verified);
  res.error = one.error;
  res.duplicate = one.duplicate;
  res.orphan = one.orphan;
  if (!one.duplicate && !one.orphan && m_index.find(id)) accept_waiting_orphans(id, now);
  res.also_failed = std::move(m_also_failed);
  m_also_failed.clear();
  res.update = update_since(old_tip);
  if (!res.update.disconnected.empty()) ++m_reorgs;
  return res;
}

// Orphans waiting for `parent`, now indexed: their turn (oldest first), then those waiting for
// them, and so on. Their failures go to m_also_failed.
void ChainState::accept_waiting_orphans(const BlockId& parent, Time now) {
  std::deque<BlockId> parents{parent};
  while (!parents.empty()) {
    BlockId p = parents.front();
    parents.pop_front();
    for (const BlockId& oid : m_orphans.waiting_for(p)) {
      if (!m_orphans.contains(oid)) continue;
      BlockRef orphan = m_orphans.remove(oid);
      OneResult r = accept_one(orphan, now, true);
      if (r.error != BlockError::kOk) m_also_failed.emplace_back(oid, r.error);
      if (m_index.find(oid)) parents.push_back(oid);
    }
  }
}

HeaderResult ChainState::accept_header(const BlockHeader& h, Time now) {
  BlockId id = h.id();
  if (BlockNode* n = m_index.find(id)) return {n->failed ? n->reason : BlockError::kOk, false};
  BlockError e = header_rules(h);
  if (e != BlockError::kOk) return {e, false};
  BlockNode* prev = m_index.find(h.prev);
  if (!prev) return {BlockError::kUnknownParent, false};
  e = context_rules(h, prev, now);
  if (!rememberable(e, h, prev)) return {e, false};
  m_index.add(h, id, prev, e);
  if (!commit()) return {BlockError::kStoreFailed, false};
  return {e, true};
}

// The net change of the best chain from `old_tip_id` to the current tip.
ChainUpdate ChainState::update_since(const BlockId& old_tip_id) const {
  ChainUpdate u;
  BlockNode* old = m_index.find(old_tip_id);
  HEARSAY_CHECK(old != nullptr);
  BlockNode* fork = m_index.fork_of(old);
  for (BlockNode* x = old; x != fork; x = x->parent)
    if (BlockRef b = body(x->id)) u.disconnected.push_back(b);
  for (uint64_t h = fork->height() + 1; h <= m_index.tip_height(); ++h)
    if (BlockRef b = body(m_index.at(h)->id)) u.connected.push_back(b);
  return u;
}

// --- reading -----------------------------------------------------------------------------------

BlockInfo ChainState::info_of(const BlockNode* n) const {
  BlockInfo i;
  i.header = n->header;
  i.id = n->id;
  i.seq = n->seq;
  i.have_body = n->have_body;
  i.failed = n->failed;
  i.in_best_chain = m_index.in_active(n);
  if (i.in_best_chain) {
    i.confirmations = m_index.tip_height() + 1 - n->height();
    if (n->height() < m_index.tip_height()) i.next = m_index.at(n->height() + 1)->id;
  }
  if (n->have_body) {
    i.tx_count = n->tx_count;
    i.size = n->size;
  }
  return i;
}

uint64_t ChainState::next_nonce(const PublicKey& sender) const {
  return nonce_of(sender);
}
uint64_t ChainState::height() const {
  return m_index.tip_height();
}

BlockError ChainState::check_block(const Block& block, bool signatures_verified) const {
  // An indexed header passed the header rules already (its id commits to every byte of it,
  // signature included): a compact block's header is checked when it arrives, not again here.
  if (!m_index.find(block.header.id())) {
    BlockError e = header_rules(block.header);
    if (e != BlockError::kOk) return e;
  }
  bool root_ok = false;
  return body_rules(block, signatures_verified, &root_ok);
}

const NetworkParams& ChainState::params() const {
  return m_params;
}
BlockId ChainState::tip_id() const {
  return m_index.tip()->id;
}
const BlockHeader& ChainState::tip() const {
  return m_index.tip()->header;
}
bool ChainState::contains(const BlockId& id) const {
  return m_index.find(id) != nullptr;
}
bool ChainState::have_body(const BlockId& id) const {
  const BlockNode* n = m_index.find(id);
  return n && n->have_body;
}
bool ChainState::is_failed(const BlockId& id) const {
  const BlockNode* n = m_index.find(id);
  return n && n->failed;
}
bool ChainState::is_orphan(const BlockId& id) const {
  return m_orphans.contains(id);
}
std::optional<BlockHeader> ChainState::header(const BlockId& id) const {
  const BlockNode* n = m_index.find(id);
  if (!n) return std::nullopt;
  return n->header;
}
std::optional<BlockInfo> ChainState::info(const BlockId& id) const {
  const BlockNode* n = m_index.find(id);
  if (!n) return std::nullopt;
  return info_of(n);
}
BlockRef ChainState::block(const BlockId& id) const {
  return body(id);
}
std::optional<BlockId> ChainState::id_at(uint64_t height) const {
  if (height > m_index.tip_height()) return std::nullopt;
  return m_index.at(height)->id;
}

ChainInfo ChainState::chain_info() const {
  ChainInfo i;
  i.network = m_params.name;
  i.height = m_index.tip_height();
  i.tip = m_index.tip()->id;
  i.tip_time = m_index.tip()->header.time;
  i.headers = m_index.best_header()->height();
  i.index_size = m_index.size();
  i.orphans = m_orphans.size();
  i.orphan_bytes = m_orphans.bytes();
  i.txs_confirmed = m_txs_confirmed;
  i.reorgs = m_reorgs;
  i.senders = m_nonces.size();
  return i;
}

std::vector<BlockId> ChainState::locator() const {
  return m_index.locator_of(m_index.tip());
}

std::vector<BlockId> ChainState::locator_from(const BlockId& id) const {
  BlockNode* n = m_index.find(id);
  if (!n) return locator();
  return m_index.locator_of(n);
}

std::vector<BlockHeader> ChainState::headers_after(std::span<const BlockId> locator,
                                                   const BlockId& stop, size_t max) const {
  uint64_t start = 0;
  for (const BlockId& id : locator) {
    const BlockNode* n = m_index.find(id);
    if (n && m_index.in_active(n)) {
      start = n->height();
      break;
    }
  }
  std::vector<BlockHeader> out;
  for (uint64_t h = start + 1; h <= m_index.tip_height() && out.size() < max; ++h) {
    out.push_back(m_index.at(h)->header);
    if (m_index.at(h)->id == stop) break;
  }
  return out;
}

BlockId ChainState::best_header() const {
  return m_index.best_header()->id;
}

std::vector<BlockId> ChainState::missing_blocks(size_t max) const {
  std::vector<BlockId> path;
  for (const BlockNode* n = m_index.best_header(); !m_index.in_active(n); n = n->parent)
    if (!n->have_body && !m_orphans.contains(n->id)) path.push_back(n->id);
  std::reverse(path.begin(), path.end());
  if (path.size() > max) path.resize(max);
  return path;
}

void ChainState::sanity_check() const {
  HEARSAY_CHECK(m_index.genesis() && m_index.genesis()->id == m_params.genesis_id());
  HEARSAY_CHECK(m_dirty_senders.empty() && !m_pending_body);
  HEARSAY_CHECK(m_also_failed.empty());
  m_index.sanity_check();
  // Nonces: a replay of the active chain.
  std::unordered_map<PublicKey, uint64_t, IdHash> replay(64, IdHash{m_key});
  uint64_t txs = 0;
  for (uint64_t h = 1; h <= m_index.tip_height(); ++h) {
    BlockRef b = body(m_index.at(h)->id);
    HEARSAY_CHECK(b != nullptr && b->txs.size() == m_index.at(h)->tx_count);
    for (const TxRef& tx : b->txs) {
      uint64_t& next = replay[tx->sender()];
      HEARSAY_CHECK(tx->nonce() == next);
      next = tx->nonce() + 1;
    }
    txs += b->txs.size();
  }
  HEARSAY_CHECK(replay == m_nonces);
  HEARSAY_CHECK(txs == m_txs_confirmed);
  // Orphans: the pool's own invariants; an orphan's header may have been indexed since it
  // arrived (accept_header), never its body.
  m_orphans.sanity_check();
  for (const BlockId& id : m_orphans.ids()) {
    const BlockNode* n = m_index.find(id);
    HEARSAY_CHECK(!n || !n->have_body);
  }
  HEARSAY_CHECK(m_cache.size() <= kBlockCacheSize);
}

// --- the mempool and block production ----------------------------------------------------------

MempoolUpdate update_mempool(Mempool& mempool, const ChainUpdate& update, Time now) {
  MempoolUpdate out;
  std::set<TxId> confirmed;
  for (const BlockRef& b : update.connected)
    for (const TxRef& tx : b->txs)
      confirmed.insert(tx->id());
  std::vector<Candidate> back;
  for (auto it = update.disconnected.rbegin(); it != update.disconnected.rend(); ++it)
    for (const TxRef& tx : (*it)->txs)
      if (!confirmed.count(tx->id())) back.push_back(Candidate{tx, true});
  if (!back.empty()) {
    for (const AdmitResult& r : mempool.admit_batch(back, now))
      (r.ok() ? out.returned : out.dropped) += 1;
  }
  for (const BlockRef& b : update.connected)
    out.removed += mempool.remove_confirmed(b->txs).size();
  out.expired = mempool.expire(now).size();
  return out;
}

Result<BlockRef, std::string> build_block(const ChainState& chain, const Mempool& mempool,
                                          const KeyPair& key, Time now) {
  const NetworkParams& p = chain.params();
  if (!p.is_producer(key.public_key()))
    return fail("key " + to_hex(key.public_key()) + " is not a block producer of network " +
                p.name + ": use one of the producer keys its network file lists");
  const BlockHeader& tip = chain.tip();
  const uint64_t time = std::max(seconds_of(now), tip.time);
  size_t budget = p.max_block_size - kBlockHeaderSize - compact_size_len(kMaxBlockTxs);
  Time block_time = time_of(time);
  std::map<PublicKey, uint64_t> next;
  std::vector<TxRef> txs;
  for (const TxRef& tx : mempool.select_for_block(budget)) {
    if (tx->network() != p.magic || tx->size() > p.max_tx_size) continue;
    PublicKey s = tx->sender();
    auto it = next.find(s);
    uint64_t want = it != next.end() ? it->second : chain.next_nonce(s);
    if (tx->nonce() != want || want == UINT64_MAX) continue;
    if (tx_expired(*tx, block_time, tip.height)) continue;
    next[s] = want + 1;
    txs.push_back(tx);
  }
  return signed_child(tip, std::move(txs), time, key);
}

}  // namespace hearsay
