// ChainState: the stub chain — block index, best tip, confirmed nonces, block store, orphans.
//
// Index: every block header that passed the header rules, keyed by id, with its height, the
// order it was first seen (seq), whether its body is stored, and whether it (or an ancestor)
// failed. Genesis (params.genesis()) is always present, valid and stored (no transactions).
//
// Best tip: among blocks whose body and every ancestor's body are stored and none failed, the
// one with the most blocks (height); ties go to the first seen (lowest seq). The tip moves
// only when a strictly higher candidate appears, or when a block fails after the old tip was
// disconnected (then to the best of all candidates, so a tie returns to the old tip).
//
// Rules, in order; the first that fails answers (BlockError). A header (accept_header):
//   network == params.magic → producer ∈ params.producers → header signature valid →
//   prev known (else kUnknownParent: nothing stored) → prev not failed → height ==
//   prev.height + 1 → time ≥ prev.time → time ≤ now + kMaxFutureBlockTime (kTimeTooNew: not
//   remembered as failed, the caller may retry later).
// A block (accept_block): its header as above (an orphan — prev unknown — is kept in the orphan
//   pool instead, see below) → encoded size ≤ params.max_block_size → Merkle root matches →
//   no transaction id twice → each transaction: network == magic, size ≤ params.max_tx_size,
//   signature valid (skipped when the caller vouches: accept_block's `signatures_verified`).
// Connecting a block (when it joins the best chain), each transaction in block order against
//   the state at its parent: nonce == the sender's next nonce (which then increments), not
//   expired at the block's height and time (mempool/policy.h tx_expired(tx, block.time,
//   block.height - 1)). A failure marks the block and its descendants failed and returns the
//   tip to the best remaining candidate (reconnecting the old branch if a reorg was under way).
// Fees are not a block rule (the relay fee rate is mempool policy).
//
// Orphans: a block whose parent is unknown is kept (at most kMaxOrphanBlocks blocks and
// kMaxOrphanBytes bytes; beyond, the oldest is dropped) and is processed when its parent's
// body is stored. The caller asks a peer for the missing ancestors (getheaders). Its header may
// be indexed meanwhile (headers sync): missing_blocks() then skips it, as it holds the body.
//
// Reorganisation: the tip moves to another branch by disconnecting blocks back to the fork
// point (undoing their nonce changes with their undo data, see Storage) and connecting the new
// branch. ChainUpdate lists both, so the caller can return the disconnected transactions to
// the mempool (where still valid) and remove the newly confirmed ones.
//
// Storage (a ChainStore, chainstub/chain_store.h, which gives the format: LevelDB at
// ChainOptions::path, or in memory when the path is empty; one batch per accepted block or tip
// move, so a crash leaves either the old or the new state): header records, bodies, each
// sender's next nonce, the tip. Undo data is the block itself: connecting checks that each
// sender's nonces in a block run consecutively from its next nonce, so a sender's first nonce
// in the block is its next nonce before the block.
// open() reloads the index, the nonce map and the tip, and checks that they agree (tip stored
// and best, nonces = a replay of the active chain, which reads every active body: O(chain));
// a store that does not reload, or of another network, fails open() with a message naming
// the path and the fix (--reindex is not offered: delete <datadir>/chain to resync from
// peers). Orphans are memory only. If a write fails, memory is rebuilt from the store (the
// call answers kStoreFailed, nothing changed); if even that fails the process aborts.
// Header failures are remembered (index entry marked failed, children inherit it) only once
// the header is signed by a producer (so remembering costs a producer key) and its height is
// its parent's + 1 (kBadHeight is never remembered); body failures only when the Merkle root
// matches (a peer that mangles a valid block's body must not get the block marked failed).
//
// Costs (n headers, t transactions of a block): accept_header O(1) + one signature;
// accept_block O(t) + t signatures unless vouched, plus O(reorg depth × t) to move the tip;
// missing_blocks O(best header − tip); locator O(log n) (+ O(depth) off the best chain);
// failing a block O(descendants), and O(n) if it held the best header; sanity_check O(n + chain
// bytes read). Memory: ≈ 300 bytes per header, 48 per sender, orphans ≤ kMaxOrphanBytes,
// decoded-block cache ≤ 16 × max_block_size.
//
// Adversary: peers choose headers and blocks. Headers cost one signature check each and need
// an authorised producer's signature, so a peer cannot grow the index without a producer key.
// Memory: index O(headers), nonce map O(senders), orphans bounded; bodies live in the store.
// Within one body, cheap per-transaction checks (network, size) run for every transaction
// before any signature is verified: a block with two faults answers the cheaper one.
// Threading: none (the relay thread owns it).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "chainstub/chain_error.h"
#include "chainstub/chain_index.h"
#include "chainstub/chain_orphans.h"
#include "chainstub/chain_store.h"
#include "chainstub/params.h"
#include "crypto/hash.h"
#include "mempool/chain_view.h"
#include "p2p/block.h"

namespace hearsay {

class Mempool;

// A block may be at most this far ahead of our clock (Bitcoin's MAX_FUTURE_BLOCK_TIME).
inline constexpr Duration kMaxFutureBlockTime = std::chrono::hours(2);

struct ChainOptions {
  std::string path;   // LevelDB directory, e.g. <datadir>/chain; empty: in memory (tests, fuzz)
  bool sync = false;  // fsync every write
};

// How the best chain changed. `disconnected` runs from the old tip down to the fork point
// (exclusive); `connected` from just above the fork point up to the new tip.
struct ChainUpdate {
  std::vector<BlockRef> disconnected;
  std::vector<BlockRef> connected;
  bool empty() const { return disconnected.empty() && connected.empty(); }
};

struct AcceptResult {
  BlockError error = BlockError::kOk;  // for the block handed in
  bool duplicate = false;              // already stored (or already failed: then error says why)
  bool orphan = false;  // parent unknown: kept in the orphan pool (error = kUnknownParent)
  ChainUpdate update;   // may be non-empty even when error != kOk (the tip retreated)
  // Blocks other than the one handed in that were found invalid by this call (orphans whose
  // turn came, descendants that failed when connected), with the reason: the caller punishes
  // whoever sent them when is_punishable(reason) (an orphan whose time is now too new is
  // dropped and listed with kTimeTooNew).
  std::vector<std::pair<BlockId, BlockError>> also_failed;
};

struct HeaderResult {
  BlockError error = BlockError::kOk;
  bool is_new = false;  // added to the index by this call (also when remembered as failed)
};

// What getblockheader / getblock / getchaininfo show of one indexed block.
struct BlockInfo {
  BlockHeader header;
  BlockId id{};
  uint64_t seq = 0;        // first-seen order
  bool have_body = false;  // stored
  bool failed = false;
  bool in_best_chain = false;
  uint64_t confirmations = 0;   // tip.height - height + 1 when in the best chain, else 0
  std::optional<BlockId> next;  // the best chain's next block
  size_t tx_count = 0;          // when have_body
  size_t size = 0;              // encoded bytes, when have_body
};

struct ChainInfo {
  std::string network;
  uint64_t height = 0;  // tip
  BlockId tip{};
  uint64_t tip_time = 0;
  uint64_t headers = 0;   // height of the best valid header (may run ahead of the tip)
  size_t index_size = 0;  // headers known
  size_t orphans = 0;
  size_t orphan_bytes = 0;
  uint64_t txs_confirmed = 0;  // in the best chain
  uint64_t reorgs = 0;         // since open
  uint64_t senders = 0;        // in the nonce map
};

class ChainState : public ChainView {
 public:
  // Opens (creating with genesis if empty) the chain store. Errors name the path and the fix.
  static Result<std::unique_ptr<ChainState>, std::string> open(const NetworkParams& params,
                                                               const ChainOptions& options);
  // The same over a store the caller opened (a test's fake, a fuzz target's memory store).
  static Result<std::unique_ptr<ChainState>, std::string> open(const NetworkParams& params,
                                                               std::unique_ptr<ChainStore> store);
  ~ChainState() override;
  ChainState(const ChainState&) = delete;
  ChainState& operator=(const ChainState&) = delete;

  // ChainView
  uint64_t next_nonce(const PublicKey& sender) const override;
  uint64_t height() const override;

  // Header rules only; adds a valid header to the index (no body).
  HeaderResult accept_header(const BlockHeader& header, Time now);
  // Every rule above that needs no state: the header's own rules (network, producer, header
  // signature) and the context-free body rules, transaction signatures included unless
  // `signatures_verified`; the header's own rules are skipped when the header is already
  // indexed (it passed them). Changes nothing. The relay runs it before spending effort.
  BlockError check_block(const Block& block, bool signatures_verified) const;
  // Stores a block and moves the tip if it (or orphans it unlocks) now leads. With
  // `signatures_verified` the caller vouches that every transaction signature was verified
  // (by the mempool or the verify pool); otherwise they are verified here.
  AcceptResult accept_block(const BlockRef& block, Time now, bool signatures_verified);

  // --- reading ---
  const NetworkParams& params() const;
  BlockId tip_id() const;
  const BlockHeader& tip() const;           // valid until the next accept_*
  bool contains(const BlockId& id) const;   // in the index (header known)
  bool have_body(const BlockId& id) const;  // stored
  bool is_failed(const BlockId& id) const;
  bool is_orphan(const BlockId& id) const;
  std::optional<BlockHeader> header(const BlockId& id) const;
  std::optional<BlockInfo> info(const BlockId& id) const;
  // The stored block (read from the store; a small cache keeps the newest few).
  BlockRef block(const BlockId& id) const;  // nullptr when not stored
  // The best chain's block id at `height` (nullopt above the tip).
  std::optional<BlockId> id_at(uint64_t height) const;
  ChainInfo chain_info() const;

  // --- headers sync ---
  // Locator for getheaders: the tip, then going back 1, 1, ... (10 steps), then doubling, then
  // genesis (Bitcoin's CChain::GetLocator); at most kMaxLocatorHashes ids.
  std::vector<BlockId> locator() const;
  // Locator starting from an indexed block instead of the tip (to sync past the best header).
  std::vector<BlockId> locator_from(const BlockId& id) const;
  // Answer to getheaders: headers of the best chain after the first locator id found in it
  // (genesis if none), up to and including `stop` (zero: no stop), at most `max`.
  std::vector<BlockHeader> headers_after(std::span<const BlockId> locator, const BlockId& stop,
                                         size_t max) const;
  // The highest indexed, non-failed header (ties: first seen). Its chain is what to download.
  BlockId best_header() const;
  // Blocks to download: ids of indexed blocks on the best header's chain above the tip whose
  // bodies are not stored, lowest first, at most `max`.
  std::vector<BlockId> missing_blocks(size_t max) const;

  // Aborts on a broken invariant: tip is the best candidate; the active chain is linked;
  // nonces equal a replay of the active chain; orphan bounds.
  void sanity_check() const;

 private:
  struct OneResult {
    BlockError error = BlockError::kOk;
    bool duplicate = false;
    bool orphan = false;
  };

  ChainState(const NetworkParams& params, std::unique_ptr<ChainStore> store);
  static Result<std::unique_ptr<ChainState>, std::string> open_store(
      const NetworkParams& params, std::unique_ptr<ChainStore> store);

  // --- the store ---
  // Rebuilds every in-memory structure but the orphan pool and the block cache from the store.
  Status load();
  Status replay_active_chain();
  Status corrupt(const std::string& what) const;
  // Writes the pending changes as one batch. On failure, memory is rebuilt from the store (so
  // nothing changed) and false is returned.
  bool commit();
  BlockError commit_or(BlockError e) { return commit() ? e : BlockError::kStoreFailed; }
  void reload_or_abort(const std::string& why);
  BlockRef body(const BlockId& id) const;
  void remember(const BlockId& id, const BlockRef& b) const;
  uint64_t nonce_of(const PublicKey& k) const;
  void set_nonce(const PublicKey& k, uint64_t v);

  // --- rules ---
  BlockError header_rules(const BlockHeader& h) const;
  BlockError context_rules(const BlockHeader& h, const BlockNode* prev, Time now) const;
  BlockError body_rules(const Block& b, bool signatures_verified, bool* root_ok) const;

  // --- connecting and accepting ---
  BlockError connect(BlockNode* n);
  bool disconnect_tip();
  BlockError activate(BlockNode* self);
  OneResult accept_one(const BlockRef& block, Time now, bool signatures_verified);
  OneResult store_and_activate(BlockNode* n, const BlockRef& block);
  void accept_waiting_orphans(const BlockId& parent, Time now);
  ChainUpdate update_since(const BlockId& old_tip_id) const;
  BlockInfo info_of(const BlockNode* n) const;

  NetworkParams m_params;
  std::unique_ptr<ChainStore> m_store;
  std::string m_path;  // m_store->describe()
  SipKey m_key;        // for IdHash
  BlockIndex m_index;
  std::unordered_map<PublicKey, uint64_t, IdHash> m_nonces;  // next nonce, no zeros
  uint64_t m_txs_confirmed = 0;
  uint64_t m_reorgs = 0;
  OrphanPool m_orphans;

  // The batch being built (written by commit(); the index keeps its own changed entries).
  std::set<PublicKey> m_dirty_senders;
  std::optional<std::pair<BlockId, BlockRef>> m_pending_body;
  bool m_tip_dirty = false;
  bool m_store_trouble = false;  // a body could not be read while moving the tip
  std::vector<std::pair<BlockId, BlockError>> m_also_failed;

  mutable std::deque<std::pair<BlockId, BlockRef>> m_cache;  // decoded bodies, newest last
};

// What a chain update did to the mempool.
struct MempoolUpdate {
  size_t removed = 0;   // confirmed by a connected block, or their sender's nonce was used
  size_t returned = 0;  // transactions of disconnected blocks admitted back
  size_t dropped = 0;   // transactions of disconnected blocks the mempool refused (e.g. expired)
  size_t expired = 0;   // dropped by Mempool::expire at the new height
};
// Applies `update` to the mempool, whose ChainView must be the ChainState that produced it
// (already at the new tip): first the transactions of the disconnected blocks that no
// connected block confirms are admitted back (oldest block first, block order; their
// signatures were verified when their block was accepted, so they are not verified again),
// then the connected blocks' transactions are removed (Mempool::remove_confirmed), then what
// expired at the new height is dropped (Mempool::expire).
MempoolUpdate update_mempool(Mempool& mempool, const ChainUpdate& update, Time now);

// Block production: a block on the current tip from the mempool's best-paying transactions
// (Mempool::select_for_block; per-sender nonce order), skipping any the block rules would
// refuse (expired at the new height and time, nonce not next), within
// params.max_block_size. time = max(now in seconds, tip.time). Signed by `key`; fails when the
// network does not authorise `key`.
Result<BlockRef, std::string> build_block(const ChainState& chain, const Mempool& mempool,
                                          const KeyPair& key, Time now);

}  // namespace hearsay
