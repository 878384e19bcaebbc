// Block headers, blocks, Merkle roots and inventory entries.
//
// BlockHeader encoding (kBlockHeaderSize = 180 bytes, little-endian integers):
//   network u32 | prev 32 | height u64 | time u64 | merkle_root 32 | producer 32 | sig 64
// The signature is Ed25519 by `producer` over TaggedHash("hearsay/block", the first 116
// bytes). The block id is SHA-256d of all 180 bytes.
//
// Block encoding: header | CompactSize count (≤ kMaxBlockTxs) | count transaction encodings,
// the whole at most kMaxBlockSize bytes.
//
// Merkle root over transaction ids: zero for no transactions; otherwise pairs are hashed with
// SHA-256d(left || right) level by level and an odd last node is carried up unchanged (never
// duplicated, so Bitcoin's CVE-2012-2459 mutation cannot occur).
#pragma once

#include <memory>
#include <vector>

#include "crypto/ed25519.h"
#include "p2p/transaction.h"

namespace hearsay {

using BlockId = Hash256;

struct BlockHeader {
  uint32_t network = 0;
  BlockId prev{};
  uint64_t height = 0;
  uint64_t time = 0;  // unix seconds
  Hash256 merkle_root{};
  PublicKey producer{};
  Signature signature{};

  void encode(std::vector<uint8_t>& out) const;
  static Result<BlockHeader, DecodeError> decode_from(Reader& r);

  BlockId id() const;
  Hash256 sighash() const;
  void sign(const KeyPair& key);  // sets producer and signature
  bool verify_signature() const;

  bool operator==(const BlockHeader&) const = default;
};

struct Block {
  BlockHeader header;
  std::vector<TxRef> txs;

  void encode(std::vector<uint8_t>& out) const;
  static Result<Block, DecodeError> decode_from(Reader& r);
  size_t encoded_size() const;
};
using BlockRef = std::shared_ptr<const Block>;

Hash256 merkle_root(std::span<const TxId> ids);
Hash256 merkle_root(const std::vector<TxRef>& txs);

// The block after `prev` holding `txs` in order: prev's network, prev's id, height + 1, `time`
// and the Merkle root set; unsigned. signed_child signs it with `key` as well.
Block child_block(const BlockHeader& prev, std::vector<TxRef> txs, uint64_t time);
BlockRef signed_child(const BlockHeader& prev, std::vector<TxRef> txs, uint64_t time,
                      const KeyPair& key);

// Inventory entry: what `inv`, `getdata` and `notfound` list.
enum class InvType : uint32_t { kTx = 1, kBlock = 2, kCmpctBlock = 4 };
struct InvEntry {
  InvType type = InvType::kTx;
  Hash256 hash{};
  bool operator==(const InvEntry&) const = default;
};

}  // namespace hearsay
