// ChainState: block index, best tip, nonces, block store (LevelDB), orphans. See chain.h for
// the rules; this file is the only LevelDB user of chainstub.
#include "chainstub/chain.h"

#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/helpers/memenv.h>
#include <leveldb/write_batch.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <unordered_set>

#include "crypto/hex.h"
#include "mempool/mempool.h"
#include "mempool/policy.h"

namespace hearsay {

const char* to_string(BlockError e) {
  switch (e) {
    case BlockError::kOk:
      return "ok";
    case BlockError::kBadNetwork:
      return "bad-network";
    case BlockError::kBadProducer:
      return "bad-producer";
    case BlockError::kBadSignature:
      return "bad-signature";
    case BlockError::kUnknownParent:
      return "unknown-parent";
    case BlockError::kInvalidParent:
      return "invalid-parent";
    case BlockError::kBadHeight:
      return "bad-height";
    case BlockError::kTimeTooOld:
      return "time-too-old";
    case BlockError::kTimeTooNew:
      return "time-too-new";
    case BlockError::kTooLarge:
      return "too-large";
    case BlockError::kBadMerkleRoot:
      return "bad-merkle-root";
    case BlockError::kDuplicateTx:
      return "duplicate-tx";
    case BlockError::kTxBadNetwork:
      return "tx-bad-network";
    case BlockError::kTxTooLarge:
      return "tx-too-large";
    case BlockError::kTxBadSignature:
      return "tx-bad-signature";
    case BlockError::kTxBadNonce:
      return "tx-bad-nonce";
    case BlockError::kTxExpired:
      return "tx-expired";
    case BlockError::kStoreFailed:
      return "store-failed";
  }
  return "unknown";
}

bool is_punishable(BlockError e) {
  return e != BlockError::kOk && e != BlockError::kUnknownParent && e != BlockError::kTimeTooNew &&
         e != BlockError::kStoreFailed;
}

namespace {

// Decoded blocks kept for block(id): the newest few, which is what peers ask for (new tips)
// and what a reorganisation touches first. Bounds the cache to 16 × max_block_size bytes.
constexpr size_t kBlockCacheSize = 16;
// LevelDB's write buffer: a few full blocks.
constexpr size_t kWriteBufferSize = 8 * 1024 * 1024;

constexpr char kVersionKey[] = "v";
constexpr char kGenesisKey[] = "g";
constexpr char kTipKey[] = "t";
constexpr char kHeaderPrefix = 'h';
constexpr char kBodyPrefix = 'b';
constexpr char kNoncePrefix = 'n';
constexpr size_t kPrefixedKeySize = 1 + 32;
// "h" record: header | seq u64 | flags u8 | reason u8 | tx_count u32 | size u32.
constexpr size_t kHeaderRecordSize = kBlockHeaderSize + 8 + 1 + 1 + 4 + 4;
constexpr uint8_t kFlagBody = 1;
constexpr uint8_t kFlagFailed = 2;

std::string key_of(char prefix, const Hash256& id) {
  std::string k(1, prefix);
  k.append(reinterpret_cast<const char*>(id.data()), id.size());
  return k;
}

uint64_t seconds_of(Time t) {
  return t.count() < 0 ? 0 : static_cast<uint64_t>(t.count()) / 1'000'000;
}

Time time_of(uint64_t seconds) {
  return std::chrono::duration_cast<Time>(std::chrono::seconds(static_cast<int64_t>(seconds)));
}

std::string resync_hint(const std::string& path) {
  return "stop hearsayd and delete " + path + " to resync the chain from peers";
}

bool contains_text(const std::string& s, std::string_view needle) {
  return s.find(needle) != std::string::npos;
}

std::string classify_open_error(const std::string& path, const leveldb::Status& s) {
  std::string detail = s.ToString();
  if (s.IsCorruption())
    return "chain store " + path + " is corrupt (" + detail + "); " + resync_hint(path);
  if (contains_text(detail, "already held") || contains_text(detail, "temporarily unavailable"))
    return "chain store " + path + " is locked: another hearsayd is using " + path +
           "? Stop it, or give this node its own data directory (" + detail + ")";
  if (contains_text(detail, "Permission denied") ||
      contains_text(detail, "Read-only file system") || contains_text(detail, "Not a directory"))
    return "chain store " + path + " is not writable (" + detail +
           "); fix the data directory's permissions or choose another data directory";
  return "cannot open chain store " + path + " (" + detail + "); check the data directory, or " +
         resync_hint(path);
}

struct IdHash {
  SipKey key;
  size_t operator()(const Hash256& h) const { return siphash24(key, h); }
};

}  // namespace

// ---------------------------------------------------------------------------------------------

class ChainState::Impl {
 public:
  struct Node {
    BlockHeader header;
    BlockId id{};
    Node* parent = nullptr;
    std::vector<Node*> children;
    uint64_t seq = 0;
    uint32_t tx_count = 0;
    uint32_t size = 0;
    bool have_body = false;
    bool failed = false;
    BlockError reason = BlockError::kOk;
    bool complete = false;  // derived: its body and every ancestor's are stored
    bool dirty = false;     // its "h" record is in the pending batch
    uint64_t height() const { return header.height; }
  };
  // Best first: most blocks, then first seen.
  struct BestFirst {
    bool operator()(const Node* a, const Node* b) const {
      if (a->height() != b->height()) return a->height() > b->height();
      return a->seq < b->seq;
    }
  };
  struct Orphan {
    BlockRef block;
    BlockId prev{};
    uint64_t seq = 0;
    size_t bytes = 0;
  };
  struct OneResult {
    BlockError error = BlockError::kOk;
    bool duplicate = false;
    bool orphan = false;
  };

  Impl(const NetworkParams& params, const ChainOptions& options)
      : m_params(params),
        m_options(options),
        m_path(options.path.empty() ? "memory" : options.path),
        m_key(random_key()),
        m_index(64, IdHash{m_key}),
        m_nonces(64, IdHash{m_key}),
        m_orphans(16, IdHash{m_key}) {
    m_write.sync = options.sync;
  }

  ~Impl() {
    m_db.reset();  // before the Env it may use
  }

  static SipKey random_key() {
    std::random_device rd;
    SipKey k;
    for (auto& b : k)
      b = static_cast<uint8_t>(rd());
    return k;
  }

  // --- opening and reloading ------------------------------------------------------------------

  Status open_db() {
    leveldb::Options o;
    o.create_if_missing = true;
    o.paranoid_checks = true;
    o.write_buffer_size = kWriteBufferSize;
    std::string dbpath = m_options.path;
    if (dbpath.empty()) {
      m_env.reset(leveldb::NewMemEnv(leveldb::Env::Default()));
      o.env = m_env.get();
      dbpath = "/chain";
    } else {
      std::error_code ec;
      std::filesystem::create_directories(dbpath, ec);
      if (ec)
        return Status::error("cannot create chain store directory " + dbpath + " (" + ec.message() +
                             "); fix the data directory's permissions or choose another data "
                             "directory");
    }
    leveldb::DB* raw = nullptr;
    leveldb::Status s = leveldb::DB::Open(o, dbpath, &raw);
    if (!s.ok()) return Status::error(classify_open_error(m_path, s));
    m_db.reset(raw);

    std::string version;
    s = m_db->Get(leveldb::ReadOptions(), kVersionKey, &version);
    if (s.IsNotFound()) return init_store();
    if (!s.ok()) return Status::error(classify_open_error(m_path, s));
    Reader r(as_bytes(version));
    uint32_t got = 0;
    r.u32(got);
    if (!r.ok() || !r.expect_end() || got != kChainFormatVersion)
      return Status::error("chain store " + m_path + " has unknown format version " +
                           std::to_string(got) + " (this hearsayd writes " +
                           std::to_string(kChainFormatVersion) + "); " + resync_hint(m_path));
    std::string g;
    s = m_db->Get(leveldb::ReadOptions(), kGenesisKey, &g);
    if (!s.ok() || g.size() != 32) return corrupt("no genesis record");
    BlockId want = m_params.genesis_id();
    if (std::memcmp(g.data(), want.data(), 32) != 0)
      return Status::error("chain store " + m_path + " belongs to another network (its genesis " +
                           to_hex(as_bytes(g)) + ", network " + m_params.name + "'s is " +
                           to_hex(want) + "): start with that network's --network file, or " +
                           resync_hint(m_path));
    return {};
  }

  Status init_store() {
    Block genesis;
    genesis.header = m_params.genesis();
    BlockId id = genesis.header.id();
    Node n;
    n.header = genesis.header;
    n.id = id;
    n.seq = 0;
    n.have_body = true;
    n.size = static_cast<uint32_t>(genesis.encoded_size());
    leveldb::WriteBatch b;
    std::vector<uint8_t> v;
    Writer(v).u32(kChainFormatVersion);
    b.Put(kVersionKey, slice(v));
    b.Put(kGenesisKey, leveldb::Slice(reinterpret_cast<const char*>(id.data()), 32));
    b.Put(key_of(kHeaderPrefix, id), header_record(n));
    std::vector<uint8_t> body;
    genesis.encode(body);
    b.Put(key_of(kBodyPrefix, id), slice(body));
    b.Put(kTipKey, leveldb::Slice(reinterpret_cast<const char*>(id.data()), 32));
    leveldb::WriteOptions wo;
    wo.sync = true;
    leveldb::Status s = m_db->Write(wo, &b);
    if (!s.ok()) return Status::error(classify_open_error(m_path, s));
    return {};
  }

  Status corrupt(const std::string& what) const {
    return Status::error("chain store " + m_path + " is corrupt: " + what + "; " +
                         resync_hint(m_path));
  }

  // Rebuilds every in-memory structure but the orphan pool and the block cache from the store.
  Status load() {
    m_index.clear();
    m_active.clear();
    m_candidates.clear();
    m_nonces.clear();
    m_genesis = nullptr;
    m_best_header = nullptr;
    m_dirty_nodes.clear();
    m_dirty_senders.clear();
    m_pending_body.reset();
    m_tip_dirty = false;
    m_txs_confirmed = 0;
    m_next_seq = 1;

    leveldb::ReadOptions ro;
    ro.verify_checksums = true;
    ro.fill_cache = false;
    std::vector<Node*> nodes;
    {
      std::unique_ptr<leveldb::Iterator> it(m_db->NewIterator(ro));
      std::string prefix(1, kHeaderPrefix);
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        leveldb::Slice k = it->key(), v = it->value();
        if (k.size() != kPrefixedKeySize || v.size() != kHeaderRecordSize)
          return corrupt("a header record of the wrong size");
        auto node = std::make_unique<Node>();
        Reader r(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()), v.size()));
        auto h = BlockHeader::decode_from(r);
        uint8_t flags = 0, reason = 0;
        r.u64(node->seq);
        r.u8(flags);
        r.u8(reason);
        r.u32(node->tx_count);
        r.u32(node->size);
        if (!h || !r.ok() || !r.expect_end() || reason >= kBlockErrorCount)
          return corrupt("a header record that does not decode");
        node->header = *h;
        node->id = h->id();
        if (std::memcmp(node->id.data(), k.data() + 1, 32) != 0)
          return corrupt("a header stored under another id");
        node->have_body = flags & kFlagBody;
        node->failed = flags & kFlagFailed;
        node->reason = static_cast<BlockError>(reason);
        m_next_seq = std::max(m_next_seq, node->seq + 1);
        nodes.push_back(node.get());
        m_index.emplace(node->id, std::move(node));
      }
      if (!it->status().ok()) return corrupt(it->status().ToString());
    }
    std::sort(nodes.begin(), nodes.end(),
              [](const Node* a, const Node* b) { return a->height() < b->height(); });
    BlockId gid = m_params.genesis_id();
    for (Node* n : nodes) {
      if (n->height() == 0) {
        if (n->id != gid) return corrupt("a second block at height 0");
        m_genesis = n;
        n->complete = n->have_body;
        continue;
      }
      Node* p = find(n->header.prev);
      if (!p || p->height() + 1 != n->height()) return corrupt("a header whose parent is missing");
      n->parent = p;
      p->children.push_back(n);
      if (p->failed && !n->failed) return corrupt("a valid block whose parent failed");
      n->complete = n->have_body && p->complete;
    }
    if (!m_genesis || !m_genesis->have_body || m_genesis->failed)
      return corrupt("the genesis block is missing");
    for (Node* n : nodes) {
      if (n->complete && !n->failed) m_candidates.insert(n);
      if (!n->failed && (!m_best_header || BestFirst()(n, m_best_header))) m_best_header = n;
    }

    std::string t;
    leveldb::Status s = m_db->Get(ro, kTipKey, &t);
    if (!s.ok() || t.size() != 32) return corrupt("no tip record");
    BlockId tip_id;
    std::memcpy(tip_id.data(), t.data(), 32);
    Node* tip = find(tip_id);
    if (!tip || !tip->complete || tip->failed)
      return corrupt("the tip is not a stored, valid block");
    m_active.resize(tip->height() + 1);
    for (Node* n = tip; n; n = n->parent)
      m_active[n->height()] = n;
    if ((*m_candidates.begin())->height() > tip->height())
      return corrupt("the tip is not the best stored chain");

    {
      std::unique_ptr<leveldb::Iterator> it(m_db->NewIterator(ro));
      std::string prefix(1, kNoncePrefix);
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        leveldb::Slice k = it->key(), v = it->value();
        if (k.size() != kPrefixedKeySize || v.size() != 8)
          return corrupt("a nonce record of the wrong size");
        PublicKey sender;
        std::memcpy(sender.data(), k.data() + 1, 32);
        Reader r(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()), 8));
        uint64_t next = 0;
        r.u64(next);
        if (next == 0) return corrupt("a zero nonce record");
        m_nonces[sender] = next;
      }
      if (!it->status().ok()) return corrupt(it->status().ToString());
    }
    // The nonces must equal a replay of the active chain.
    std::unordered_map<PublicKey, uint64_t, IdHash> replay(64, IdHash{m_key});
    for (size_t h = 1; h < m_active.size(); ++h) {
      BlockRef b = read_body(m_active[h]->id);
      if (!b || b->txs.size() != m_active[h]->tx_count)
        return corrupt("the body of block " + to_hex(m_active[h]->id) + " is missing or damaged");
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

  // --- store helpers --------------------------------------------------------------------------

  static leveldb::Slice slice(const std::vector<uint8_t>& v) {
    return leveldb::Slice(reinterpret_cast<const char*>(v.data()), v.size());
  }

  static std::string header_record(const Node& n) {
    std::vector<uint8_t> buf;
    buf.reserve(kHeaderRecordSize);
    n.header.encode(buf);
    uint8_t flags = (n.have_body ? kFlagBody : 0) | (n.failed ? kFlagFailed : 0);
    Writer(buf).u64(n.seq).u8(flags).u8(static_cast<uint8_t>(n.reason)).u32(n.tx_count).u32(n.size);
    return std::string(buf.begin(), buf.end());
  }

  BlockRef read_body(const BlockId& id) const {
    std::string v;
    leveldb::ReadOptions ro;
    ro.verify_checksums = true;
    if (!m_db->Get(ro, key_of(kBodyPrefix, id), &v).ok()) return nullptr;
    Reader r(as_bytes(v));
    auto b = Block::decode_from(r);
    if (!b || !r.expect_end() || b->header.id() != id) return nullptr;
    return std::make_shared<const Block>(std::move(*b));
  }

  BlockRef body(const BlockId& id) const {
    if (m_pending_body && m_pending_body->first == id) return m_pending_body->second;
    for (const auto& [cid, b] : m_cache)
      if (cid == id) return b;
    const Node* n = find(id);
    if (!n || !n->have_body) return nullptr;
    BlockRef b = read_body(id);
    if (b) remember(id, b);
    return b;
  }

  void remember(const BlockId& id, const BlockRef& b) const {
    for (const auto& [cid, cb] : m_cache)
      if (cid == id) return;
    m_cache.emplace_back(id, b);
    if (m_cache.size() > kBlockCacheSize) m_cache.pop_front();
  }

  void mark_dirty(Node* n) {
    if (n->dirty) return;
    n->dirty = true;
    m_dirty_nodes.push_back(n);
  }

  uint64_t nonce_of(const PublicKey& k) const {
    auto it = m_nonces.find(k);
    return it == m_nonces.end() ? 0 : it->second;
  }

  void set_nonce(const PublicKey& k, uint64_t v) {
    if (v == 0)
      m_nonces.erase(k);
    else
      m_nonces[k] = v;
    m_dirty_senders.insert(k);
  }

  // Writes the pending changes as one batch. On failure, memory is rebuilt from the store (so
  // nothing changed) and false is returned.
  bool commit() {
    leveldb::WriteBatch b;
    for (Node* n : m_dirty_nodes) {
      b.Put(key_of(kHeaderPrefix, n->id), header_record(*n));
      n->dirty = false;
    }
    m_dirty_nodes.clear();
    std::vector<uint8_t> enc;
    if (m_pending_body) {
      m_pending_body->second->encode(enc);
      b.Put(key_of(kBodyPrefix, m_pending_body->first), slice(enc));
    }
    for (const PublicKey& k : m_dirty_senders) {
      uint64_t v = nonce_of(k);
      if (v == 0) {
        b.Delete(key_of(kNoncePrefix, k));
      } else {
        std::vector<uint8_t> val;
        Writer(val).u64(v);
        b.Put(key_of(kNoncePrefix, k), slice(val));
      }
    }
    m_dirty_senders.clear();
    if (m_tip_dirty) {
      const BlockId& t = m_active.back()->id;
      b.Put(kTipKey, leveldb::Slice(reinterpret_cast<const char*>(t.data()), 32));
      m_tip_dirty = false;
    }
    leveldb::Status s;
    if (m_fail_writes > 0) {
      --m_fail_writes;
      s = leveldb::Status::IOError("write refused (fail_next_writes_ForTest)");
    } else {
      s = m_db->Write(m_write, &b);
    }
    auto pending = std::move(m_pending_body);
    m_pending_body.reset();
    if (s.ok()) {
      if (pending) remember(pending->first, pending->second);
      return true;
    }
    m_last_store_error = "cannot write chain store " + m_path + ": " + s.ToString() +
                         " (is the disk full or failing?)";
    Status reloaded = load();
    if (!reloaded) {
      std::fprintf(stderr, "hearsay: %s; then: %s\n", m_last_store_error.c_str(),
                   reloaded.message().c_str());
      std::abort();
    }
    return false;
  }

  // --- index ----------------------------------------------------------------------------------

  Node* find(const BlockId& id) const {
    auto it = m_index.find(id);
    return it == m_index.end() ? nullptr : it->second.get();
  }

  bool in_active(const Node* n) const {
    return n->height() < m_active.size() && m_active[n->height()] == n;
  }

  Node* add_node(const BlockHeader& h, const BlockId& id, Node* parent, BlockError reason) {
    auto owned = std::make_unique<Node>();
    Node* n = owned.get();
    n->header = h;
    n->id = id;
    n->parent = parent;
    n->seq = m_next_seq++;
    n->failed = reason != BlockError::kOk || parent->failed;
    n->reason = reason != BlockError::kOk ? reason
                : parent->failed          ? BlockError::kInvalidParent
                                          : BlockError::kOk;
    parent->children.push_back(n);
    m_index.emplace(id, std::move(owned));
    mark_dirty(n);
    if (!n->failed && BestFirst()(n, m_best_header)) m_best_header = n;
    return n;
  }

  // Marks n failed with `reason` and every descendant failed with kInvalidParent.
  void fail_node(Node* n, BlockError reason) {
    std::vector<Node*> stack{n};
    bool first = true;
    while (!stack.empty()) {
      Node* x = stack.back();
      stack.pop_back();
      if (x->failed && !first) continue;
      x->failed = true;
      x->reason = first ? reason : BlockError::kInvalidParent;
      first = false;
      m_candidates.erase(x);
      mark_dirty(x);
      for (Node* c : x->children)
        stack.push_back(c);
    }
    if (m_best_header->failed) {
      m_best_header = m_genesis;
      for (const auto& [id, node] : m_index)
        if (!node->failed && BestFirst()(node.get(), m_best_header)) m_best_header = node.get();
    }
  }

  // n's body was just stored: n, and stored descendants waiting for it, become complete.
  void propagate_complete(Node* n) {
    if (!n->parent->complete) return;
    std::vector<Node*> stack{n};
    while (!stack.empty()) {
      Node* x = stack.back();
      stack.pop_back();
      x->complete = true;
      if (!x->failed) m_candidates.insert(x);
      for (Node* c : x->children)
        if (c->have_body && !c->complete) stack.push_back(c);
    }
  }

  Node* ancestor(Node* n, uint64_t height) const {
    while (n->height() > height && !in_active(n))
      n = n->parent;
    if (n->height() == height) return n;
    return m_active[height];  // n is in the active chain, above `height`
  }

  Node* fork_of(Node* n) const {
    while (!in_active(n))
      n = n->parent;
    return n;
  }

  // --- rules ----------------------------------------------------------------------------------

  BlockError header_rules(const BlockHeader& h) const {
    if (h.network != m_params.magic) return BlockError::kBadNetwork;
    if (!m_params.is_producer(h.producer)) return BlockError::kBadProducer;
    if (!h.verify_signature()) return BlockError::kBadSignature;
    return BlockError::kOk;
  }

  BlockError context_rules(const BlockHeader& h, const Node* prev, Time now) const {
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

  // Whether a header that broke a context rule is remembered as failed: not when it is too
  // new (it may become valid), nor when its height does not follow its parent's (the index
  // keeps every entry at its parent's height + 1).
  static bool rememberable(BlockError e, const BlockHeader& h, const Node* prev) {
    return e != BlockError::kTimeTooNew && h.height == prev->height() + 1;
  }

  // The context-free body rules. *root_ok: the Merkle root matches (the body is the one the
  // header commits to, so a failure is the block's own and may be remembered).
  BlockError body_rules(const Block& b, bool signatures_verified, bool* root_ok) const {
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

  // --- connecting -----------------------------------------------------------------------------

  // Connects n (whose parent is the tip): kOk, a rule it breaks (nothing changed), or
  // kStoreFailed when its body cannot be read.
  BlockError connect(Node* n) {
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
    m_active.push_back(n);
    m_txs_confirmed += b->txs.size();
    return BlockError::kOk;
  }

  // Disconnects the tip. Undo data comes from the block itself: connecting checked that each
  // sender's nonces in it run consecutively from its next nonce, so the first nonce of a sender
  // in the block is that sender's next nonce before the block.
  bool disconnect_tip() {
    Node* n = m_active.back();
    HEARSAY_CHECK(n != m_genesis);
    BlockRef b = body(n->id);
    if (!b) return false;
    for (auto it = b->txs.rbegin(); it != b->txs.rend(); ++it)
      set_nonce((*it)->sender(), (*it)->nonce());
    m_active.pop_back();
    m_txs_confirmed -= b->txs.size();
    return true;
  }

  // Moves the tip to the best candidate (see chain.h). Returns the error of `self` if it failed
  // when connected; other failures go to m_also_failed. Sets m_store_trouble if a body could
  // not be read (the caller then reloads).
  BlockError activate(Node* self) {
    Node* old_tip = m_active.back();
    BlockError self_error = BlockError::kOk;
    bool lost = false;  // a failure after the old tip was disconnected: take the best of all
    for (;;) {
      Node* best = *m_candidates.begin();
      Node* tip = m_active.back();
      if (best == tip) break;
      if (!lost && best->height() <= tip->height()) break;
      Node* fork = fork_of(best);
      while (m_active.back() != fork)
        if (!disconnect_tip()) {
          m_store_trouble = true;
          return self_error;
        }
      std::vector<Node*> path;
      for (Node* x = best; x != fork; x = x->parent)
        path.push_back(x);
      for (auto it = path.rbegin(); it != path.rend(); ++it) {
        BlockError e = connect(*it);
        if (e == BlockError::kStoreFailed) {
          m_store_trouble = true;
          return self_error;
        }
        if (e != BlockError::kOk) {
          fail_node(*it, e);
          if (*it == self)
            self_error = e;
          else
            m_also_failed.emplace_back((*it)->id, e);
          lost = !in_active(old_tip);
          break;
        }
      }
    }
    if (m_active.back() != old_tip) m_tip_dirty = true;
    return self_error;
  }

  // --- accepting ------------------------------------------------------------------------------

  BlockError commit_or(BlockError e) { return commit() ? e : BlockError::kStoreFailed; }

  OneResult accept_one(const BlockRef& block, Time now, bool signatures_verified) {
    const BlockHeader& h = block->header;
    BlockId id = h.id();
    Node* n = find(id);
    if (n && n->failed) return {n->reason, true, false};
    if (n && n->have_body) return {BlockError::kOk, true, false};
    if (!n && m_orphans.count(id)) return {BlockError::kUnknownParent, true, true};
    Node* prev = n ? n->parent : nullptr;
    if (!n) {
      BlockError e = header_rules(h);
      if (e != BlockError::kOk) return {e};
      prev = find(h.prev);
      if (!prev) {
        bool root_ok = false;
        e = body_rules(*block, signatures_verified, &root_ok);
        if (e != BlockError::kOk) return {e};
        add_orphan(block, id);
        return {BlockError::kUnknownParent, false, true};
      }
      e = context_rules(h, prev, now);
      if (!rememberable(e, h, prev)) return {e};
      if (e != BlockError::kOk) {
        add_node(h, id, prev, e);
        return {commit_or(e)};
      }
    }
    bool root_ok = false;
    BlockError e = body_rules(*block, signatures_verified, &root_ok);
    if (e != BlockError::kOk) {
      if (root_ok) {
        if (n)
          fail_node(n, e);
        else
          add_node(h, id, prev, e);
        return {commit_or(e)};
      }
      return {e};
    }
    if (!n) n = add_node(h, id, prev, BlockError::kOk);
    n->have_body = true;
    n->tx_count = static_cast<uint32_t>(block->txs.size());
    n->size = static_cast<uint32_t>(block->encoded_size());
    mark_dirty(n);
    m_pending_body.emplace(id, block);
    if (m_orphans.count(id)) remove_orphan(id);  // its header was indexed since it arrived
    propagate_complete(n);
    size_t failed_before = m_also_failed.size();
    BlockError own = activate(n);
    if (m_store_trouble) {
      m_store_trouble = false;
      m_last_store_error = "cannot read a block body from chain store " + m_path;
      m_also_failed.resize(failed_before);
      Status reloaded = load();
      if (!reloaded) {
        std::fprintf(stderr, "hearsay: %s\n", reloaded.message().c_str());
        std::abort();
      }
      return {BlockError::kStoreFailed};
    }
    if (!commit()) {
      m_also_failed.resize(failed_before);
      return {BlockError::kStoreFailed};
    }
    return {own};
  }

  void add_orphan(const BlockRef& block, const BlockId& id) {
    Orphan o;
    o.block = block;
    o.prev = block->header.prev;
    o.seq = m_next_orphan_seq++;
    o.bytes = block->encoded_size();
    m_orphan_bytes += o.bytes;
    m_orphans_by_prev.emplace(o.prev, id);
    m_orphans_by_age.emplace(o.seq, id);
    m_orphans.emplace(id, std::move(o));
    while (m_orphans.size() > kMaxOrphanBlocks || m_orphan_bytes > kMaxOrphanBytes)
      remove_orphan(m_orphans_by_age.begin()->second);
  }

  Orphan remove_orphan(BlockId id) {  // by value: callers pass ids held by the pool
    auto it = m_orphans.find(id);
    HEARSAY_CHECK(it != m_orphans.end());
    Orphan o = std::move(it->second);
    m_orphans.erase(it);
    m_orphan_bytes -= o.bytes;
    m_orphans_by_age.erase(o.seq);
    auto range = m_orphans_by_prev.equal_range(o.prev);
    for (auto p = range.first; p != range.second; ++p)
      if (p->second == id) {
        m_orphans_by_prev.erase(p);
        break;
      }
    return o;
  }

  AcceptResult accept_block(const BlockRef& block, Time now, bool signatures_verified) {
    HEARSAY_CHECK(block != nullptr);
    AcceptResult res;
    BlockId old_tip = m_active.back()->id;
    BlockId id = block->header.id();
    OneResult one = accept_one(block, now, signatures_verified);
    res.error = one.error;
    res.duplicate = one.duplicate;
    res.orphan = one.orphan;
    // Orphans waiting for a block that is now indexed: their turn (oldest first), recursively.
    std::deque<BlockId> parents;
    if (!one.duplicate && !one.orphan && find(id)) parents.push_back(id);
    while (!parents.empty()) {
      BlockId p = parents.front();
      parents.pop_front();
      std::vector<std::pair<uint64_t, BlockId>> waiting;
      auto range = m_orphans_by_prev.equal_range(p);
      for (auto it = range.first; it != range.second; ++it)
        waiting.emplace_back(m_orphans.at(it->second).seq, it->second);
      std::sort(waiting.begin(), waiting.end());
      for (const auto& [seq, oid] : waiting) {
        if (!m_orphans.count(oid)) continue;
        Orphan o = remove_orphan(oid);
        OneResult r = accept_one(o.block, now, true);
        if (r.error != BlockError::kOk) m_also_failed.emplace_back(oid, r.error);
        if (find(oid)) parents.push_back(oid);
      }
    }
    res.also_failed = std::move(m_also_failed);
    m_also_failed.clear();
    res.update = update_since(old_tip);
    if (!res.update.disconnected.empty()) ++m_reorgs;
    return res;
  }

  HeaderResult accept_header(const BlockHeader& h, Time now) {
    BlockId id = h.id();
    if (Node* n = find(id)) return {n->failed ? n->reason : BlockError::kOk, false};
    BlockError e = header_rules(h);
    if (e != BlockError::kOk) return {e, false};
    Node* prev = find(h.prev);
    if (!prev) return {BlockError::kUnknownParent, false};
    e = context_rules(h, prev, now);
    if (!rememberable(e, h, prev)) return {e, false};
    add_node(h, id, prev, e);
    if (!commit()) return {BlockError::kStoreFailed, false};
    return {e, true};
  }

  // The net change of the best chain from `old_tip_id` to the current tip.
  ChainUpdate update_since(const BlockId& old_tip_id) const {
    ChainUpdate u;
    Node* old = find(old_tip_id);
    HEARSAY_CHECK(old != nullptr);
    Node* fork = fork_of(old);
    for (Node* x = old; x != fork; x = x->parent)
      if (BlockRef b = body(x->id)) u.disconnected.push_back(b);
    for (size_t h = fork->height() + 1; h < m_active.size(); ++h)
      if (BlockRef b = body(m_active[h]->id)) u.connected.push_back(b);
    return u;
  }

  // --- reading --------------------------------------------------------------------------------

  std::vector<BlockId> locator_of(Node* n) const {
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

  BlockInfo info_of(const Node* n) const {
    BlockInfo i;
    i.header = n->header;
    i.id = n->id;
    i.seq = n->seq;
    i.have_body = n->have_body;
    i.failed = n->failed;
    i.in_best_chain = in_active(n);
    if (i.in_best_chain) {
      i.confirmations = m_active.size() - n->height();
      if (n->height() + 1 < m_active.size()) i.next = m_active[n->height() + 1]->id;
    }
    if (n->have_body) {
      i.tx_count = n->tx_count;
      i.size = n->size;
    }
    return i;
  }

  void sanity_check() const {
    HEARSAY_CHECK(m_genesis && m_genesis->id == m_params.genesis_id());
    HEARSAY_CHECK(m_dirty_nodes.empty() && m_dirty_senders.empty() && !m_pending_body);
    HEARSAY_CHECK(m_also_failed.empty());
    // Active chain: linked from genesis, every block stored, complete and valid.
    HEARSAY_CHECK(!m_active.empty() && m_active[0] == m_genesis);
    for (size_t h = 0; h < m_active.size(); ++h) {
      const Node* n = m_active[h];
      HEARSAY_CHECK(n->height() == h && n->have_body && n->complete && !n->failed);
      if (h > 0) HEARSAY_CHECK(n->parent == m_active[h - 1]);
    }
    // Index: links, derived flags, failure inheritance, candidates, best header.
    std::set<const Node*, BestFirst> candidates;
    const Node* best_header = m_genesis;
    for (const auto& [id, owned] : m_index) {
      const Node* n = owned.get();
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
    HEARSAY_CHECK((*m_candidates.begin())->height() == m_active.back()->height());
    // Nonces: a replay of the active chain.
    std::unordered_map<PublicKey, uint64_t, IdHash> replay(64, IdHash{m_key});
    uint64_t txs = 0;
    for (size_t h = 1; h < m_active.size(); ++h) {
      BlockRef b = body(m_active[h]->id);
      HEARSAY_CHECK(b != nullptr && b->txs.size() == m_active[h]->tx_count);
      for (const TxRef& tx : b->txs) {
        uint64_t& next = replay[tx->sender()];
        HEARSAY_CHECK(tx->nonce() == next);
        next = tx->nonce() + 1;
      }
      txs += b->txs.size();
    }
    HEARSAY_CHECK(replay == m_nonces);
    HEARSAY_CHECK(txs == m_txs_confirmed);
    // Orphans: bounds and the two side indexes.
    HEARSAY_CHECK(m_orphans.size() <= kMaxOrphanBlocks && m_orphan_bytes <= kMaxOrphanBytes);
    HEARSAY_CHECK(m_orphans_by_age.size() == m_orphans.size());
    HEARSAY_CHECK(m_orphans_by_prev.size() == m_orphans.size());
    size_t bytes = 0;
    for (const auto& [id, o] : m_orphans) {
      bytes += o.bytes;
      HEARSAY_CHECK(o.block && o.block->header.id() == id && o.prev == o.block->header.prev);
      HEARSAY_CHECK(m_orphans_by_age.at(o.seq) == id);
      const Node* n = find(id);  // accept_header may have indexed it since: never its body
      HEARSAY_CHECK(!n || !n->have_body);
    }
    HEARSAY_CHECK(bytes == m_orphan_bytes);
    HEARSAY_CHECK(m_cache.size() <= kBlockCacheSize);
  }

  // --- state ----------------------------------------------------------------------------------

  NetworkParams m_params;
  ChainOptions m_options;
  std::string m_path;  // for messages: the directory, or "memory"
  SipKey m_key;
  std::unique_ptr<leveldb::Env> m_env;  // the in-memory Env when m_options.path is empty
  std::unique_ptr<leveldb::DB> m_db;
  leveldb::WriteOptions m_write;

  std::unordered_map<BlockId, std::unique_ptr<Node>, IdHash> m_index;
  Node* m_genesis = nullptr;
  std::vector<Node*> m_active;              // the best chain, by height
  std::set<Node*, BestFirst> m_candidates;  // complete, valid blocks: tip candidates
  Node* m_best_header = nullptr;            // best valid header
  std::unordered_map<PublicKey, uint64_t, IdHash> m_nonces;  // next nonce, no zeros
  uint64_t m_next_seq = 1;
  uint64_t m_txs_confirmed = 0;
  uint64_t m_reorgs = 0;

  std::unordered_map<BlockId, Orphan, IdHash> m_orphans;
  std::multimap<BlockId, BlockId> m_orphans_by_prev;  // prev → orphan id
  std::map<uint64_t, BlockId> m_orphans_by_age;       // orphan seq → id
  size_t m_orphan_bytes = 0;
  uint64_t m_next_orphan_seq = 0;

  // The batch being built (written by commit()).
  std::vector<Node*> m_dirty_nodes;
  std::set<PublicKey> m_dirty_senders;
  std::optional<std::pair<BlockId, BlockRef>> m_pending_body;
  bool m_tip_dirty = false;
  bool m_store_trouble = false;
  std::vector<std::pair<BlockId, BlockError>> m_also_failed;
  std::string m_last_store_error;
  size_t m_fail_writes = 0;

  mutable std::deque<std::pair<BlockId, BlockRef>> m_cache;  // newest last
};

// ---------------------------------------------------------------------------------------------

ChainState::ChainState(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
ChainState::~ChainState() = default;

Result<std::unique_ptr<ChainState>, std::string> ChainState::open(const NetworkParams& params,
                                                                  const ChainOptions& options) {
  Status valid = params.validate();
  if (!valid) return fail("network " + params.name + " is invalid: " + valid.message());
  auto impl = std::make_unique<Impl>(params, options);
  Status s = impl->open_db();
  if (!s) return fail(s.message());
  s = impl->load();
  if (!s) return fail(s.message());
  return std::unique_ptr<ChainState>(new ChainState(std::move(impl)));
}

uint64_t ChainState::next_nonce(const PublicKey& sender) const {
  return m_impl->nonce_of(sender);
}
uint64_t ChainState::height() const {
  return m_impl->m_active.back()->height();
}

HeaderResult ChainState::accept_header(const BlockHeader& header, Time now) {
  return m_impl->accept_header(header, now);
}

BlockError ChainState::check_block(const Block& block, bool signatures_verified) const {
  // An indexed header passed the header rules already (its id commits to every byte of it,
  // signature included): a compact block's header is checked when it arrives, not again here.
  if (!m_impl->find(block.header.id())) {
    BlockError e = m_impl->header_rules(block.header);
    if (e != BlockError::kOk) return e;
  }
  bool root_ok = false;
  return m_impl->body_rules(block, signatures_verified, &root_ok);
}

AcceptResult ChainState::accept_block(const BlockRef& block, Time now, bool signatures_verified) {
  return m_impl->accept_block(block, now, signatures_verified);
}

const NetworkParams& ChainState::params() const {
  return m_impl->m_params;
}
BlockId ChainState::tip_id() const {
  return m_impl->m_active.back()->id;
}
const BlockHeader& ChainState::tip() const {
  return m_impl->m_active.back()->header;
}
bool ChainState::contains(const BlockId& id) const {
  return m_impl->find(id) != nullptr;
}
bool ChainState::have_body(const BlockId& id) const {
  auto* n = m_impl->find(id);
  return n && n->have_body;
}
bool ChainState::is_failed(const BlockId& id) const {
  auto* n = m_impl->find(id);
  return n && n->failed;
}
bool ChainState::is_orphan(const BlockId& id) const {
  return m_impl->m_orphans.count(id) != 0;
}
std::optional<BlockHeader> ChainState::header(const BlockId& id) const {
  auto* n = m_impl->find(id);
  if (!n) return std::nullopt;
  return n->header;
}
std::optional<BlockInfo> ChainState::info(const BlockId& id) const {
  auto* n = m_impl->find(id);
  if (!n) return std::nullopt;
  return m_impl->info_of(n);
}
BlockRef ChainState::block(const BlockId& id) const {
  return m_impl->body(id);
}
std::optional<BlockId> ChainState::id_at(uint64_t height) const {
  if (height >= m_impl->m_active.size()) return std::nullopt;
  return m_impl->m_active[height]->id;
}

ChainInfo ChainState::chain_info() const {
  const Impl& m = *m_impl;
  ChainInfo i;
  i.network = m.m_params.name;
  i.height = m.m_active.back()->height();
  i.tip = m.m_active.back()->id;
  i.tip_time = m.m_active.back()->header.time;
  i.headers = m.m_best_header->height();
  i.index_size = m.m_index.size();
  i.orphans = m.m_orphans.size();
  i.orphan_bytes = m.m_orphan_bytes;
  i.txs_confirmed = m.m_txs_confirmed;
  i.reorgs = m.m_reorgs;
  i.senders = m.m_nonces.size();
  return i;
}

std::vector<BlockId> ChainState::locator() const {
  return m_impl->locator_of(m_impl->m_active.back());
}

std::vector<BlockId> ChainState::locator_from(const BlockId& id) const {
  auto* n = m_impl->find(id);
  if (!n) return locator();
  return m_impl->locator_of(n);
}

std::vector<BlockHeader> ChainState::headers_after(std::span<const BlockId> locator,
                                                   const BlockId& stop, size_t max) const {
  const Impl& m = *m_impl;
  uint64_t start = 0;
  for (const BlockId& id : locator) {
    auto* n = m.find(id);
    if (n && m.in_active(n)) {
      start = n->height();
      break;
    }
  }
  std::vector<BlockHeader> out;
  for (uint64_t h = start + 1; h < m.m_active.size() && out.size() < max; ++h) {
    out.push_back(m.m_active[h]->header);
    if (m.m_active[h]->id == stop) break;
  }
  return out;
}

BlockId ChainState::best_header() const {
  return m_impl->m_best_header->id;
}

std::vector<BlockId> ChainState::missing_blocks(size_t max) const {
  const Impl& m = *m_impl;
  std::vector<BlockId> path;
  for (auto* n = m.m_best_header; !m.in_active(n); n = n->parent)
    if (!n->have_body && !m.m_orphans.count(n->id)) path.push_back(n->id);
  std::reverse(path.begin(), path.end());
  if (path.size() > max) path.resize(max);
  return path;
}

void ChainState::sanity_check() const {
  m_impl->sanity_check();
}

void ChainState::fail_next_writes_ForTest(size_t n) {
  m_impl->m_fail_writes = n;
}

// ---------------------------------------------------------------------------------------------

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
