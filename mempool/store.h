// MempoolStore: durable storage of the mempool's transactions.
//
// Contract
//  - The store holds, for each held transaction, its encoding and its admission time, keyed by
//    its id. apply() takes an ordered list of puts and deletes and applies them atomically, as
//    one batch (LevelDB: one WriteBatch, one write to the log). When apply() returns ok, the
//    batch has reached the operating system (survives kill -9 of the process); with
//    StoreOptions::sync it has also been fsynced (survives power loss).
//  - load() returns every stored entry, decoded without verifying signatures (the store is the
//    node's own, written only after admission). A record that does not decode, or whose id
//    does not match its key, is corruption: load() fails, it never skips silently.
//  - Errors name the path and the fix: --mempool-repair salvages a damaged store (see
//    StoreOptions::repair), --mempool-reset discards it.
//
// Format (LevelDbStore), all integers little-endian:
//   key "v"            value: u32 format version (kStoreFormatVersion)
//   key "t" | id(32)   value: i64 admission time (µs since the unix epoch) | tx encoding
//
// LevelDB is included by store.cpp only; no third-party type crosses this header.
#pragma once

#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "crypto/result.h"
#include "p2p/transaction.h"
#include "p2p/types.h"

namespace hearsay {

inline constexpr uint32_t kStoreFormatVersion = 1;

struct StoredTx {
  TxRef tx;
  Time admitted{0};
};

struct StoreOp {
  enum class Kind : uint8_t { kPut, kDelete };
  Kind kind;
  TxRef tx;  // for kDelete, the transaction whose id is deleted
  Time admitted{0};
};

// Why a store could not be opened or read; `message` is for a person and names path and fix.
struct StoreError {
  enum class Kind : uint8_t { kUnwritable, kLocked, kCorrupt, kIo };
  Kind kind;
  std::string message;
};

class MempoolStore {
 public:
  virtual ~MempoolStore() = default;
  // Applies every op in order, atomically. On failure nothing was applied.
  virtual Status apply(std::span<const StoreOp> ops) = 0;
  // Every stored entry, in key (id) order.
  virtual Result<std::vector<StoredTx>, StoreError> load() = 0;
  // Where the store lives ("memory" for MemoryStore), for messages.
  virtual std::string describe() const = 0;
};

struct StoreOptions {
  std::string path;    // the store's directory, e.g. <datadir>/mempool
  bool sync = false;   // --mempool-sync: fsync every batch (power-loss durability)
  bool reset = false;  // --mempool-reset: destroy the store before opening it
  // --mempool-repair: salvage the store before opening it. Whenever a store exists, healthy
  // or not, its files are kept as they were in <path>.damaged-<UTC time> and LevelDB's repair
  // runs on a copy in <path>; then every entry that does not decode is deleted, so the store
  // opens and loads. A healthy store loses nothing. No store at <path>: nothing to repair.
  bool repair = false;
};

// What StoreOptions::repair did.
struct RepairReport {
  bool repaired = false;   // false: there was no store to repair
  std::string kept;        // where the original files are, <path>.damaged-<UTC time>
  size_t read_back = 0;    // stored entries read back after the repair
  size_t undecodable = 0;  // of those, entries that did not decode: deleted
};

// Opens (creating if missing) the LevelDB store at options.path, repairing it first when
// options.repair says so (what it did goes to *repair when given). Fails, naming the path and
// the fix, when the directory is unwritable, locked by another process (or another open in
// this one), corrupt, or of an unknown format, or when the repair fails.
Result<std::unique_ptr<MempoolStore>, StoreError> open_leveldb_store(
    const StoreOptions& options, RepairReport* repair = nullptr);

// An in-memory store for tests and the fuzz target (testing/failing_store.h wraps it to fail
// writes on demand). Thread-compatible.
class MemoryStore : public MempoolStore {
 public:
  Status apply(std::span<const StoreOp> ops) override;
  Result<std::vector<StoredTx>, StoreError> load() override;
  std::string describe() const override { return "memory"; }

  size_t size() const { return m_entries.size(); }
  bool contains(const TxId& id) const { return m_entries.count(id) != 0; }
  uint64_t batches() const { return m_batches; }

 private:
  std::map<TxId, StoredTx> m_entries;
  uint64_t m_batches = 0;
};

}  // namespace hearsay
