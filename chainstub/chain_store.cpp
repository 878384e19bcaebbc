// LevelDbChainStore: the only LevelDB user of chainstub. See chain_store.h for the contract and
// the format.
#include "chainstub/chain_store.h"

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <cstring>
#include <filesystem>
#include <system_error>

#include "crypto/hex.h"
#include "mempool/leveldb_open.h"
#include "p2p/serialize.h"

namespace hearsay {

namespace {

// LevelDB's write buffer, bytes: a few full blocks.
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

leveldb::Slice slice_of(const Hash256& id) {
  return leveldb::Slice(reinterpret_cast<const char*>(id.data()), id.size());
}

leveldb::Slice slice_of(const std::vector<uint8_t>& v) {
  return leveldb::Slice(reinterpret_cast<const char*>(v.data()), v.size());
}

std::span<const uint8_t> bytes_of(const leveldb::Slice& s) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

ChainStoreError classify_open_error(const std::string& path, const leveldb::Status& s) {
  return leveldb_open_error("chain store", path, s, chain_resync_hint(path));
}

std::string encode_header_record(const StoredHeader& h) {
  std::vector<uint8_t> buf;
  buf.reserve(kHeaderRecordSize);
  h.header.encode(buf);
  uint8_t flags = (h.have_body ? kFlagBody : 0) | (h.failed ? kFlagFailed : 0);
  Writer(buf).u64(h.seq).u8(flags).u8(static_cast<uint8_t>(h.reason)).u32(h.tx_count).u32(h.size);
  return std::string(buf.begin(), buf.end());
}

// The record stored under `key`, or what is wrong with it.
Result<StoredHeader, std::string> decode_header_record(const leveldb::Slice& key,
                                                       const leveldb::Slice& value) {
  if (key.size() != kPrefixedKeySize || value.size() != kHeaderRecordSize)
    return fail(std::string("a header record of the wrong size"));
  StoredHeader out;
  Reader r(bytes_of(value));
  auto h = BlockHeader::decode_from(r);
  uint8_t flags = 0, reason = 0;
  r.u64(out.seq);
  r.u8(flags);
  r.u8(reason);
  r.u32(out.tx_count);
  r.u32(out.size);
  if (!h || !r.ok() || !r.expect_end() || reason >= kBlockErrorCount)
    return fail(std::string("a header record that does not decode"));
  out.header = *h;
  BlockId id = h->id();
  if (std::memcmp(id.data(), key.data() + 1, 32) != 0)
    return fail(std::string("a header stored under another id"));
  out.have_body = flags & kFlagBody;
  out.failed = flags & kFlagFailed;
  out.reason = static_cast<BlockError>(reason);
  return out;
}

class LevelDbChainStore final : public ChainStore {
 public:
  LevelDbChainStore(std::unique_ptr<leveldb::DB> db, std::string path, bool sync,
                    std::optional<BlockId> genesis)
      : m_db(std::move(db)), m_path(std::move(path)), m_genesis(genesis) {
    m_write.sync = sync;
    m_read.verify_checksums = true;
    m_read.fill_cache = false;
  }

  std::optional<BlockId> genesis() const override { return m_genesis; }

  Status apply(std::span<const ChainStoreOp> ops) override {
    leveldb::WriteBatch batch;
    std::optional<BlockId> init;
    std::vector<uint8_t> buf;
    for (const ChainStoreOp& op : ops) {
      buf.clear();
      switch (op.kind) {
        case ChainStoreOp::Kind::kInit:
          Writer(buf).u32(kChainFormatVersion);
          batch.Put(kVersionKey, slice_of(buf));
          batch.Put(kGenesisKey, slice_of(op.id));
          init = op.id;
          break;
        case ChainStoreOp::Kind::kPutHeader:
          batch.Put(key_of(kHeaderPrefix, op.id), encode_header_record(op.header));
          break;
        case ChainStoreOp::Kind::kPutBody:
          HEARSAY_CHECK(op.body != nullptr);
          op.body->encode(buf);
          batch.Put(key_of(kBodyPrefix, op.id), slice_of(buf));
          break;
        case ChainStoreOp::Kind::kPutNonce:
          HEARSAY_CHECK(op.nonce != 0);
          Writer(buf).u64(op.nonce);
          batch.Put(key_of(kNoncePrefix, op.sender), slice_of(buf));
          break;
        case ChainStoreOp::Kind::kEraseNonce:
          batch.Delete(key_of(kNoncePrefix, op.sender));
          break;
        case ChainStoreOp::Kind::kPutTip:
          batch.Put(kTipKey, slice_of(op.id));
          break;
      }
    }
    leveldb::WriteOptions wo = m_write;
    if (init) wo.sync = true;  // a new store is written once, and must survive power loss
    leveldb::Status s = m_db->Write(wo, &batch);
    if (!s.ok()) {
      if (init) return Status::error(classify_open_error(m_path, s).message);
      return Status::error("cannot write chain store " + m_path + ": " + s.ToString() +
                           " (is the disk full or failing?)");
    }
    if (init) m_genesis = init;
    return {};
  }

  Result<StoredChain, ChainStoreError> load() override {
    StoredChain out;
    {
      std::unique_ptr<leveldb::Iterator> it(m_db->NewIterator(m_read));
      std::string prefix(1, kHeaderPrefix);
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        auto h = decode_header_record(it->key(), it->value());
        if (!h) return fail(chain_store_corrupt(m_path, h.error()));
        BlockId id;  // the key's, which decode_header_record checked
        std::memcpy(id.data(), it->key().data() + 1, 32);
        out.headers.emplace_back(id, *h);
      }
      if (!it->status().ok()) return fail(read_error(it->status()));
    }
    std::string t;
    leveldb::Status s = m_db->Get(m_read, kTipKey, &t);
    if (!s.ok() && !s.IsNotFound()) return fail(read_error(s));
    if (!s.ok() || t.size() != 32) return fail(chain_store_corrupt(m_path, "no tip record"));
    std::memcpy(out.tip.data(), t.data(), 32);
    {
      std::unique_ptr<leveldb::Iterator> it(m_db->NewIterator(m_read));
      std::string prefix(1, kNoncePrefix);
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        leveldb::Slice k = it->key(), v = it->value();
        if (k.size() != kPrefixedKeySize || v.size() != 8)
          return fail(chain_store_corrupt(m_path, "a nonce record of the wrong size"));
        PublicKey sender;
        std::memcpy(sender.data(), k.data() + 1, 32);
        Reader r(bytes_of(v));
        uint64_t next = 0;
        r.u64(next);
        if (next == 0) return fail(chain_store_corrupt(m_path, "a zero nonce record"));
        out.nonces.emplace(sender, next);
      }
      if (!it->status().ok()) return fail(read_error(it->status()));
    }
    return out;
  }

  Result<BlockRef, ChainStoreError> read_body(const BlockId& id) override {
    std::string v;
    leveldb::ReadOptions ro;
    ro.verify_checksums = true;
    leveldb::Status s = m_db->Get(ro, key_of(kBodyPrefix, id), &v);
    if (s.IsNotFound()) return BlockRef();
    if (!s.ok()) return fail(read_error(s));
    Reader r(as_bytes(v));
    auto b = Block::decode_from(r);
    if (!b || !r.expect_end() || b->header.id() != id)
      return fail(chain_store_corrupt(
          m_path, "the body of block " + to_hex(id) + " does not decode to that block"));
    return BlockRef(std::make_shared<const Block>(std::move(*b)));
  }

  std::string describe() const override { return m_path; }

 private:
  // A failed read: corruption (a table cut short included), or the disk failing.
  ChainStoreError read_error(const leveldb::Status& s) const {
    if (leveldb_is_corruption(s)) return chain_store_corrupt(m_path, s.ToString());
    return {ChainStoreError::Kind::kIo, "cannot read chain store " + m_path + " (" + s.ToString() +
                                            "); check the disk, or " + chain_resync_hint(m_path)};
  }

  std::unique_ptr<leveldb::DB> m_db;
  std::string m_path;
  std::optional<BlockId> m_genesis;
  leveldb::WriteOptions m_write;
  leveldb::ReadOptions m_read;
};

// The genesis id of an existing store (its "v" record is present and of this format).
Result<BlockId, ChainStoreError> read_identity(leveldb::DB& db, const std::string& path,
                                               const std::string& version) {
  Reader r(as_bytes(version));
  uint32_t got = 0;
  r.u32(got);
  if (!r.ok() || !r.expect_end() || got != kChainFormatVersion)
    return fail(ChainStoreError{ChainStoreError::Kind::kCorrupt,
                                "chain store " + path + " has unknown format version " +
                                    std::to_string(got) + " (this hearsayd writes " +
                                    std::to_string(kChainFormatVersion) + "); " +
                                    chain_resync_hint(path)});
  std::string g;
  leveldb::Status s = db.Get(leveldb::ReadOptions(), kGenesisKey, &g);
  if (!s.ok() && !s.IsNotFound()) return fail(classify_open_error(path, s));
  if (!s.ok() || g.size() != 32) return fail(chain_store_corrupt(path, "no genesis record"));
  BlockId id;
  std::memcpy(id.data(), g.data(), 32);
  return id;
}

}  // namespace

std::string chain_resync_hint(const std::string& path) {
  return "stop hearsayd and delete " + path + " to resync the chain from peers";
}

ChainStoreError chain_store_corrupt(const std::string& path, const std::string& what) {
  return {ChainStoreError::Kind::kCorrupt,
          "chain store " + path + " is corrupt: " + what + "; " + chain_resync_hint(path)};
}

Result<std::unique_ptr<ChainStore>, ChainStoreError> open_leveldb_chain_store(
    const ChainStoreOptions& o) {
  const std::string& path = o.path;
  leveldb::Options opts;
  opts.create_if_missing = true;
  opts.paranoid_checks = true;
  opts.write_buffer_size = kWriteBufferSize;
  auto opened = open_leveldb("chain store", path, opts, chain_resync_hint(path));
  if (!opened) return fail(opened.error());
  std::unique_ptr<leveldb::DB> db = std::move(*opened);

  std::string version;
  leveldb::Status s = db->Get(leveldb::ReadOptions(), kVersionKey, &version);
  std::optional<BlockId> genesis;
  if (s.ok()) {
    auto id = read_identity(*db, path, version);
    if (!id) return fail(id.error());
    genesis = *id;
  } else if (!s.IsNotFound()) {
    return fail(classify_open_error(path, s));
  }
  return std::unique_ptr<ChainStore>(new LevelDbChainStore(std::move(db), path, o.sync, genesis));
}

}  // namespace hearsay
