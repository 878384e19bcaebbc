// Compact blocks (BIP152-style): building a cmpctblock and rebuilding a block from one.
//
// Sender: make_compact(block, nonce, prefill) lists every transaction as its 6-byte short id
// (p2p/messages.h: SipHash-2-4 of the tx id under short_id_key(header, nonce), low 48 bits)
// except the prefilled ones, which are sent whole at their absolute index. The nonce is drawn
// at random per block by the sender, so nobody can grind transactions whose short ids collide
// in everyone's blocks. The caller's prefill indexes are local data: a bad one is a bug
// (HEARSAY_CHECK).
//
// Receiver (PartialBlock), BIP152's PartiallyDownloadedBlock:
//  1. init(msg, candidates): the message's structure is checked again (the decoder already
//     did: counts ≤ kMaxBlockTxs, prefilled indexes increasing, in range, transactions present)
//     → kInvalid. The slots are laid out: prefilled transactions at their indexes, the short ids
//     in order in the remaining ones. Every slot's short id (a prefilled transaction's computed
//     from its id) goes into one hash table; a short id twice → kCollision (two block
//     transactions share a short id, or the sender lies: the caller falls back to the full
//     block). Then each of `candidates` (mempool transactions, plus any extra the caller keeps)
//     fills the empty slot whose short id matches its own; a candidate matching a prefilled
//     slot is ignored; a slot matched by two candidates with different ids is emptied and
//     asked for like a missing one (the same candidate twice is not ambiguous).
//  2. missing(): the indexes still empty, increasing; the caller asks with getblocktxn for
//     exactly these.
//  3. fill(txs): the blocktxn answer, one transaction per missing index in that order. A
//     different count, or a transaction whose short id is not its slot's, is kInvalid (an
//     honest sender answers with the very transactions it announced) and changes nothing.
//  4. finish(out): the block, once every slot is filled, if its Merkle root matches the
//     header's (kOk); a mismatch means a candidate matched a short id by accident, or the sender
//     announced short ids that are not its block's (kCollision → full block, nobody blamed);
//     kInvalid when called with slots still missing or before a successful init.
//
// Adversary: the sender picks the header, nonce, short ids and prefilled set freely. Short ids
// are peer-chosen values, so the slot table cannot rely on them being spread: it is an open-
// addressing table at load ≤ 1/4 whose longest run of occupied cells is bounded
// (kMaxShortIdRun); short ids laid out to form a longer run — which random ones do with
// probability < 2^-40 even at kMaxBlockTxs — get kCollision like duplicates, so a lookup
// costs at most kMaxShortIdRun probes. A sender that makes its own short ids collide only
// forces the receiver to fetch that block whole from it.
//
// Bounds: every allocation is sized by the message's own counts (≤ kMaxBlockTxs, checked
// again): slots and their short ids 24 bytes each, the transient table 32 to 64 bytes per slot.
// init is O(candidates + slots) SipHash computations and probes; fill O(slots + answer);
// finish O(slots) hashing for the Merkle root. A PartialBlock holds the references it was
// given (TxRef: shared, never copied). Not thread-safe; one per block being reconstructed.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <utility>
#include <vector>

#include "crypto/hash.h"
#include "p2p/block.h"
#include "p2p/messages.h"

namespace hearsay {

// Longest run of occupied cells the slot table accepts (see above): cells probed per lookup.
inline constexpr size_t kMaxShortIdRun = 64;

enum class ReadStatus : uint8_t {
  kOk,
  kInvalid,    // the peer sent something no honest peer sends (score it)
  kCollision,  // short ids are ambiguous: fetch the full block instead (nobody to blame)
};
const char* to_string(ReadStatus s);

// `prefill`: absolute indexes of the transactions sent whole, strictly increasing, < txs.
CmpctBlockMsg make_compact(const Block& block, uint64_t nonce, std::span<const uint32_t> prefill);

class PartialBlock {
 public:
  // How this side computes the short id of a transaction it holds (a candidate, a prefilled or
  // an answered one), from its id; the result is masked to 48 bits.
  using ShortIdFn = std::function<uint64_t(const TxId&)>;

  // Short ids are SipHash-2-4 under the message's key (p2p/messages.h), as every peer computes
  // them. A `short_id_fn` replaces that: tests and fuzz targets use one to make distinct
  // transactions share a short id, which with SipHash would take a 48-bit collision search.
  PartialBlock() = default;
  explicit PartialBlock(ShortIdFn short_id_fn) : m_short_id_fn(std::move(short_id_fn)) {}

  // Starts over: any earlier state is dropped, also when the answer is not kOk (the
  // PartialBlock is then empty and fill/finish answer kInvalid).
  ReadStatus init(const CmpctBlockMsg& msg, std::span<const TxRef> candidates);
  std::vector<uint32_t> missing() const;
  // Counts for the trace and metrics, valid after init().
  size_t tx_count() const { return m_slots.size(); }
  size_t prefilled_count() const { return m_prefilled; }
  size_t from_candidates() const { return m_from_candidates; }
  size_t missing_count() const { return m_missing; }
  ReadStatus fill(std::span<const TxRef> txs);  // in the order of missing()
  // kOk and the block when complete and its Merkle root matches; kCollision on a mismatch;
  // kInvalid when called with slots still missing.
  ReadStatus finish(BlockRef& out) const;
  const BlockHeader& header() const { return m_header; }
  // Aborts if the counts disagree with the slots.
  void sanity_check() const;

 private:
  void reset();
  uint64_t short_id_of(const TxId& id) const;

  BlockHeader m_header;
  SipKey m_key{};                     // short_id_key(header, nonce)
  std::vector<TxRef> m_slots;         // null: missing
  std::vector<uint64_t> m_short_ids;  // each slot's short id (fill() checks answers against it)
  bool m_ready = false;               // init() answered kOk
  size_t m_prefilled = 0;
  size_t m_from_candidates = 0;
  size_t m_missing = 0;
  ShortIdFn m_short_id_fn;  // null: SipHash
};

}  // namespace hearsay
