// ChainStore: durable storage of the stub chain (chainstub/chain.h): the block index's header
// records, block bodies, the confirmed nonces and the tip.
//
// Contract
//  - A store belongs to one network, named by its genesis id: genesis() is nullopt for a new,
//    empty store until a batch holding kInit is applied.
//  - apply() takes an ordered list of operations and applies them atomically, as one batch
//    (LevelDB: one WriteBatch, one write to the log), so a crash leaves either the old or the
//    new state. When apply() returns ok the batch has reached the operating system (survives
//    kill -9); with ChainStoreOptions::sync it has also been fsynced (survives power loss). A
//    batch holding kInit is always fsynced. On failure nothing was applied.
//  - load() returns every header record, every nonce and the tip, each decoded and checked for
//    its own consistency only (a record's size, its key matching its content); how they fit
//    together (links, the tip being the best chain, nonces replaying the chain) is for
//    ChainState to check. A record that does not decode is corruption: load() fails, it never
//    skips silently. Bodies are read one at a time (read_body), as they are large.
//  - Errors are typed by cause (ChainStoreError::Kind): corruption (the data is wrong) apart
//    from I/O failure (the disk or the file system failed), a locked store and an unwritable
//    directory. Every message is for a person and names the path and the fix.
//
// Format (LevelDB), all integers little-endian:
//   key "v"            value: u32 format version (kChainFormatVersion)
//   key "g"            value: genesis id (32)
//   key "h" | id(32)   value: header (kBlockHeaderSize) | seq u64 | flags u8 (1 body, 2 failed) |
//                             reason u8 (a BlockError) | tx count u32 | size u32
//   key "b" | id(32)   value: block encoding
//   key "n" | key(32)  value: the sender's next nonce u64, never 0 (absent: 0)
//   key "t"            value: tip id (32)
//
// LevelDB is included by chain_store.cpp only; no third-party type crosses this header.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "chainstub/chain_error.h"
#include "crypto/ed25519.h"
#include "crypto/result.h"
#include "mempool/store.h"
#include "p2p/block.h"

namespace hearsay {

inline constexpr uint32_t kChainFormatVersion = 1;

// One index entry as stored (ChainState's BlockNode adds the in-memory links).
struct StoredHeader {
  BlockHeader header;
  uint64_t seq = 0;  // first-seen order
  bool have_body = false;
  bool failed = false;
  BlockError reason = BlockError::kOk;  // why it failed (kOk when it did not)
  uint32_t tx_count = 0;                // when have_body
  uint32_t size = 0;                    // encoded bytes, when have_body
};

struct ChainStoreOp {
  enum class Kind : uint8_t {
    kInit,        // makes a new store this network's: format version and genesis id (`id`)
    kPutHeader,   // `header` under `id` (its header's id)
    kPutBody,     // `body` under `id` (its header's id)
    kPutNonce,    // the next nonce of `sender` is `nonce` (never 0: erase instead)
    kEraseNonce,  // `sender`'s next nonce is 0
    kPutTip,      // the tip is `id`
  };
  Kind kind = Kind::kPutTip;
  BlockId id{};
  StoredHeader header;
  BlockRef body;
  PublicKey sender{};
  uint64_t nonce = 0;

  static ChainStoreOp init(const BlockId& genesis) { return with_id(Kind::kInit, genesis); }
  static ChainStoreOp put_header(const BlockId& id, const StoredHeader& h) {
    ChainStoreOp op = with_id(Kind::kPutHeader, id);
    op.header = h;
    return op;
  }
  static ChainStoreOp put_body(const BlockId& id, BlockRef b) {
    ChainStoreOp op = with_id(Kind::kPutBody, id);
    op.body = std::move(b);
    return op;
  }
  static ChainStoreOp put_nonce(const PublicKey& sender, uint64_t next) {
    ChainStoreOp op = with_sender(Kind::kPutNonce, sender);
    op.nonce = next;
    return op;
  }
  static ChainStoreOp erase_nonce(const PublicKey& sender) {
    return with_sender(Kind::kEraseNonce, sender);
  }
  static ChainStoreOp put_tip(const BlockId& id) { return with_id(Kind::kPutTip, id); }

 private:
  static ChainStoreOp with_id(Kind k, const BlockId& id) {
    ChainStoreOp op;
    op.kind = k;
    op.id = id;
    return op;
  }
  static ChainStoreOp with_sender(Kind k, const PublicKey& sender) {
    ChainStoreOp op;
    op.kind = k;
    op.sender = sender;
    return op;
  }
};

// Everything but the bodies, as load() returns it.
struct StoredChain {
  std::vector<std::pair<BlockId, StoredHeader>> headers;  // in id order
  std::map<PublicKey, uint64_t> nonces;                   // no zeros
  BlockId tip{};
};

// Why a store could not be opened or read; `message` is for a person and names path and fix.
using ChainStoreError = StoreError;  // the same kinds as the mempool's store

class ChainStore {
 public:
  virtual ~ChainStore() = default;
  // The network the store belongs to; nullopt for a new store (no kInit applied yet).
  virtual std::optional<BlockId> genesis() const = 0;
  // Applies every op in order, atomically. On failure nothing was applied; the message names
  // the path.
  virtual Status apply(std::span<const ChainStoreOp> ops) = 0;
  // The header records, the nonces and the tip (a store without a tip is corrupt).
  virtual Result<StoredChain, ChainStoreError> load() = 0;
  // The stored body of `id`, nullptr when none is stored; an error when it cannot be read or
  // does not decode to a block with that id.
  virtual Result<BlockRef, ChainStoreError> read_body(const BlockId& id) = 0;
  // Where the store lives ("memory" for MemoryChainStore), for messages.
  virtual std::string describe() const = 0;
};

// What to tell an operator whose chain store at `path` cannot be used: start from scratch.
std::string chain_resync_hint(const std::string& path);
// "chain store <path> is corrupt: <what>; <chain_resync_hint>", as a kCorrupt error.
ChainStoreError chain_store_corrupt(const std::string& path, const std::string& what);

struct ChainStoreOptions {
  std::string path;   // the store's directory, e.g. <datadir>/chain
  bool sync = false;  // fsync every batch (power-loss durability)
};

// Opens (creating if missing) the LevelDB store at options.path. Fails, naming the path and
// the fix, when the directory is unwritable, locked by another process (or another open in
// this one), corrupt (no genesis record), or of an unknown format version.
Result<std::unique_ptr<ChainStore>, ChainStoreError> open_leveldb_chain_store(
    const ChainStoreOptions& options);

// An in-memory store: chains without a path (unit tests, fuzz targets). Bodies are kept as the
// blocks handed in, not re-encoded. Thread-compatible.
class MemoryChainStore final : public ChainStore {
 public:
  std::optional<BlockId> genesis() const override { return m_genesis; }
  Status apply(std::span<const ChainStoreOp> ops) override;
  Result<StoredChain, ChainStoreError> load() override;
  Result<BlockRef, ChainStoreError> read_body(const BlockId& id) override;
  std::string describe() const override { return "memory"; }

 private:
  std::optional<BlockId> m_genesis;
  std::map<BlockId, StoredHeader> m_headers;
  std::map<BlockId, BlockRef> m_bodies;
  std::map<PublicKey, uint64_t> m_nonces;
  std::optional<BlockId> m_tip;
};

}  // namespace hearsay
