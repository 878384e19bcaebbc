// LevelDbStore: the only LevelDB user of the mempool. See store.h for the contract and format.
#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <cstring>
#include <filesystem>
#include <system_error>

#include "mempool/leveldb_open.h"
#include "mempool/store.h"

namespace hearsay {

namespace {

constexpr char kVersionKey[] = "v";
constexpr char kTxPrefix = 't';
constexpr size_t kTxKeySize = 1 + 32;
constexpr size_t kTimeSize = 8;
// LevelDB's in-memory write buffer, bytes: large enough that a burst of admissions does not
// stall on memtable switches; the default (4 MB) is sized for a general-purpose store.
constexpr size_t kWriteBufferSize = 16 * 1024 * 1024;

constexpr std::string_view kResetHint =
    "restart with --mempool-reset to discard the stored mempool (its transactions are lost "
    "until peers relay them again)";

std::array<char, kTxKeySize> tx_key(const TxId& id) {
  std::array<char, kTxKeySize> k;
  k[0] = kTxPrefix;
  std::memcpy(k.data() + 1, id.data(), id.size());
  return k;
}

void put_le64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t get_le64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}

StoreError classify_open_error(const std::string& path, const leveldb::Status& s) {
  return leveldb_open_error("mempool store", path, s, kResetHint);
}

class LevelDbStore final : public MempoolStore {
 public:
  LevelDbStore(std::unique_ptr<leveldb::DB> db, std::string path, bool sync)
      : m_db(std::move(db)), m_path(std::move(path)) {
    m_write.sync = sync;
  }

  Status apply(std::span<const StoreOp> ops) override {
    leveldb::WriteBatch batch;
    std::string value;
    for (const StoreOp& op : ops) {
      HEARSAY_CHECK(op.tx != nullptr);
      auto key = tx_key(op.tx->id());
      leveldb::Slice k(key.data(), key.size());
      if (op.kind == StoreOp::Kind::kPut) {
        value.clear();
        put_le64(value, static_cast<uint64_t>(op.admitted.count()));
        auto enc = op.tx->encoding();
        value.append(reinterpret_cast<const char*>(enc.data()), enc.size());
        batch.Put(k, value);
      } else {
        batch.Delete(k);
      }
    }
    leveldb::Status s = m_db->Write(m_write, &batch);
    if (!s.ok())
      return Status::error("cannot write mempool store " + m_path + ": " + s.ToString() +
                           " (is the disk full or failing?)");
    return {};
  }

  Result<std::vector<StoredTx>, StoreError> load() override {
    std::vector<StoredTx> out;
    leveldb::ReadOptions ro;
    ro.verify_checksums = true;
    ro.fill_cache = false;
    std::unique_ptr<leveldb::Iterator> it(m_db->NewIterator(ro));
    std::string prefix(1, kTxPrefix);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      leveldb::Slice k = it->key(), v = it->value();
      if (k.size() != kTxKeySize || v.size() < kTimeSize) return corrupt("a record of wrong size");
      int64_t admitted = static_cast<int64_t>(get_le64(v.data()));
      std::vector<uint8_t> enc(v.data() + kTimeSize, v.data() + v.size());
      auto tx = Transaction::decode(std::move(enc));
      if (!tx)
        return corrupt(std::string("a transaction that does not decode: ") + to_string(tx.error()));
      if (std::memcmp((*tx)->id().data(), k.data() + 1, 32) != 0)
        return corrupt("a transaction stored under another id");
      out.push_back(StoredTx{std::move(*tx), Time(admitted)});
    }
    if (!it->status().ok()) {
      leveldb::Status s = it->status();
      if (s.IsCorruption()) return corrupt(s.ToString());
      return fail(StoreError{StoreError::Kind::kIo, "cannot read mempool store " + m_path + " (" +
                                                        s.ToString() + "); check the disk, or " +
                                                        std::string(kResetHint)});
    }
    return out;
  }

  std::string describe() const override { return m_path; }

 private:
  Unexpected<StoreError> corrupt(const std::string& what) const {
    return fail(StoreError{StoreError::Kind::kCorrupt, "mempool store " + m_path + " holds " +
                                                           what + "; " + std::string(kResetHint)});
  }

  std::unique_ptr<leveldb::DB> m_db;
  std::string m_path;
  leveldb::WriteOptions m_write;
};

}  // namespace

Result<std::unique_ptr<MempoolStore>, StoreError> open_leveldb_store(const StoreOptions& o) {
  const std::string& path = o.path;
  leveldb::Options opts;
  opts.create_if_missing = true;
  opts.paranoid_checks = true;
  opts.write_buffer_size = kWriteBufferSize;

  if (o.reset) {
    leveldb::Status s = leveldb::DestroyDB(path, opts);
    std::error_code ec;
    // DestroyDB leaves files it does not know (and fails on a locked store): remove the rest.
    StoreError e = classify_open_error(path, s);
    if (!s.ok() && e.kind == StoreError::Kind::kLocked) return fail(std::move(e));
    std::filesystem::remove_all(path, ec);
  }

  auto opened = open_leveldb("mempool store", path, opts, kResetHint);
  if (!opened) return fail(opened.error());
  std::unique_ptr<leveldb::DB> db = std::move(*opened);

  std::string version;
  leveldb::Status s = db->Get(leveldb::ReadOptions(), kVersionKey, &version);
  if (s.IsNotFound()) {
    std::string v;
    for (int i = 0; i < 4; ++i)
      v.push_back(static_cast<char>(kStoreFormatVersion >> (8 * i)));
    leveldb::WriteOptions wo;
    wo.sync = true;
    s = db->Put(wo, kVersionKey, v);
    if (!s.ok()) return fail(classify_open_error(path, s));
  } else if (!s.ok()) {
    return fail(classify_open_error(path, s));
  } else {
    uint32_t got = 0;
    for (size_t i = 0; i < version.size() && i < 4; ++i)
      got |= static_cast<uint32_t>(static_cast<uint8_t>(version[i])) << (8 * i);
    if (version.size() != 4 || got != kStoreFormatVersion)
      return fail(StoreError{StoreError::Kind::kCorrupt,
                             "mempool store " + path + " has unknown format version " +
                                 std::to_string(got) + " (this hearsayd writes " +
                                 std::to_string(kStoreFormatVersion) + "); " +
                                 std::string(kResetHint)});
  }
  return std::unique_ptr<MempoolStore>(new LevelDbStore(std::move(db), path, o.sync));
}

}  // namespace hearsay
