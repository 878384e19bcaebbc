// LevelDbStore: the only LevelDB user of the mempool. See store.h for the contract and format.
#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <cstring>
#include <filesystem>
#include <optional>
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

// The ways out of a damaged store at `path`.
std::string damaged_hint(const std::string& path) {
  return "restart with --mempool-repair to salvage what can be read (the damaged files are "
         "kept in " +
         path +
         ".damaged-<time>), or with --mempool-reset to discard the stored mempool (its "
         "transactions are lost until peers relay them again)";
}

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
  return leveldb_open_error("mempool store", path, s, damaged_hint(path));
}

// The transaction stored under key `k` as value `v`, or what is wrong with the record.
Result<StoredTx, std::string> decode_record(const leveldb::Slice& k, const leveldb::Slice& v) {
  if (k.size() != kTxKeySize || v.size() < kTimeSize)
    return fail(std::string("a record of wrong size"));
  const auto admitted = static_cast<int64_t>(get_le64(v.data()));
  std::vector<uint8_t> enc(v.data() + kTimeSize, v.data() + v.size());
  auto tx = Transaction::decode(std::move(enc));
  if (!tx) return fail("a transaction that does not decode: " + std::string(to_string(tx.error())));
  if (std::memcmp((*tx)->id().data(), k.data() + 1, 32) != 0)
    return fail(std::string("a transaction stored under another id"));
  return StoredTx{std::move(*tx), Time(admitted)};
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
    const std::string prefix(1, kTxPrefix);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      auto st = decode_record(it->key(), it->value());
      if (!st) return fail(corrupt(st.error()));
      out.push_back(std::move(*st));
    }
    if (!it->status().ok()) return fail(read_error(it->status()));
    return out;
  }

  // After a repair: deletes every record that does not decode, so that load() succeeds.
  // Fills read_back and undecodable.
  Result<RepairReport, StoreError> drop_undecodable() {
    RepairReport r;
    leveldb::ReadOptions ro;
    ro.verify_checksums = true;
    ro.fill_cache = false;
    leveldb::WriteBatch batch;
    std::unique_ptr<leveldb::Iterator> it(m_db->NewIterator(ro));
    const std::string prefix(1, kTxPrefix);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      ++r.read_back;
      if (decode_record(it->key(), it->value())) continue;
      ++r.undecodable;
      batch.Delete(it->key());
    }
    if (!it->status().ok()) return fail(read_error(it->status()));
    leveldb::WriteOptions wo;
    wo.sync = true;
    leveldb::Status s = m_db->Write(wo, &batch);
    if (!s.ok())
      return fail(StoreError{StoreError::Kind::kIo, "cannot write mempool store " + m_path + ": " +
                                                        s.ToString() +
                                                        " (is the disk full or failing?)"});
    return r;
  }

  std::string describe() const override { return m_path; }

 private:
  StoreError corrupt(const std::string& what) const {
    return {StoreError::Kind::kCorrupt,
            "mempool store " + m_path + " holds " + what + "; " + damaged_hint(m_path)};
  }

  StoreError read_error(const leveldb::Status& s) const {
    if (leveldb_is_corruption(s)) return classify_open_error(m_path, s);
    return {StoreError::Kind::kIo, "cannot read mempool store " + m_path + " (" + s.ToString() +
                                       "); check the disk, or " + damaged_hint(m_path)};
  }

  std::unique_ptr<leveldb::DB> m_db;
  std::string m_path;
  leveldb::WriteOptions m_write;
};

// Writes the format version into a new store, or checks the one a store holds.
std::optional<StoreError> check_version(leveldb::DB& db, const std::string& path) {
  std::string version;
  leveldb::Status s = db.Get(leveldb::ReadOptions(), kVersionKey, &version);
  if (s.IsNotFound()) {
    std::string v;
    for (int i = 0; i < 4; ++i)
      v.push_back(static_cast<char>(kStoreFormatVersion >> (8 * i)));
    leveldb::WriteOptions wo;
    wo.sync = true;
    s = db.Put(wo, kVersionKey, v);
    if (!s.ok()) return classify_open_error(path, s);
    return std::nullopt;
  }
  if (!s.ok()) return classify_open_error(path, s);
  uint32_t got = 0;
  for (size_t i = 0; i < version.size() && i < 4; ++i)
    got |= static_cast<uint32_t>(static_cast<uint8_t>(version[i])) << (8 * i);
  if (version.size() != 4 || got != kStoreFormatVersion)
    return StoreError{StoreError::Kind::kCorrupt,
                      "mempool store " + path + " has unknown format version " +
                          std::to_string(got) + " (this hearsayd writes " +
                          std::to_string(kStoreFormatVersion) + "); " + std::string(kResetHint)};
  return std::nullopt;
}

// --mempool-reset: destroys the store at `path` unless another process holds it.
std::optional<StoreError> destroy_store(const std::string& path, const leveldb::Options& opts) {
  leveldb::Status s = leveldb::DestroyDB(path, opts);
  // DestroyDB leaves files it does not know (and fails on a locked store): remove the rest.
  StoreError e = classify_open_error(path, s);
  if (!s.ok() && e.kind == StoreError::Kind::kLocked) return e;
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  return std::nullopt;
}

// A failure after the repair ran says where the original files are.
StoreError after_repair(StoreError e, const std::string& kept) {
  e.message = "after repair (the original files are kept in " + kept + "): " + e.message;
  return e;
}

}  // namespace

Result<std::unique_ptr<MempoolStore>, StoreError> open_leveldb_store(const StoreOptions& o,
                                                                     RepairReport* repair) {
  const std::string& path = o.path;
  leveldb::Options opts;
  opts.create_if_missing = true;
  opts.paranoid_checks = true;
  opts.write_buffer_size = kWriteBufferSize;

  if (o.reset) {
    if (auto e = destroy_store(path, opts)) return fail(std::move(*e));
  }
  std::string kept;
  if (o.repair) {
    auto aside = repair_leveldb("mempool store", path, opts, kResetHint);
    if (!aside) return fail(aside.error());
    kept = std::move(*aside);
  }

  auto opened = open_leveldb("mempool store", path, opts, damaged_hint(path));
  if (!opened) return fail(kept.empty() ? opened.error() : after_repair(opened.error(), kept));
  std::unique_ptr<leveldb::DB> db = std::move(*opened);
  if (auto e = check_version(*db, path))
    return fail(kept.empty() ? std::move(*e) : after_repair(std::move(*e), kept));
  auto store = std::make_unique<LevelDbStore>(std::move(db), path, o.sync);
  if (!kept.empty()) {
    auto report = store->drop_undecodable();
    if (!report) return fail(after_repair(report.error(), kept));
    report->repaired = true;
    report->kept = kept;
    if (repair) *repair = std::move(*report);
  }
  return std::unique_ptr<MempoolStore>(std::move(store));
}

}  // namespace hearsay
