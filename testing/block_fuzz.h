// The fixed setting of fuzz/block.cpp, shared with the test that writes its seed corpus
// (tests/chainstub/chain_test.cpp, FuzzSeeds): a devnet chain of kBaseBlocks valid blocks, the
// senders of their transactions, the clock, and the input layout.
//
// Input: byte 0 mode (mod 3), byte 1 flags, then
//   kOneBlock   the rest is a block encoding: check_block, (accept_header), accept_block
//   kHeaders    the rest is a headers payload (CompactSize count, headers): accept_header each
//   kSequence   repeated [u16 little-endian length][that many bytes: a block], each as kOneBlock
// flags: bit 0 signatures_verified, bit 1 accept_header before accept_block, bits 2..7 minutes
// added to the clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "chainstub/chain.h"
#include "chainstub/params.h"
#include "p2p/transaction.h"
#include "testing/tx_factory.h"

namespace hearsay::fuzz {

enum class BlockMode : uint8_t { kOneBlock = 0, kHeaders = 1, kSequence = 2 };
inline constexpr uint8_t kBlockModes = 3;
inline constexpr uint8_t kFlagSignaturesVerified = 1;
inline constexpr uint8_t kFlagHeaderFirst = 2;
inline constexpr size_t kBaseBlocks = 3;
inline constexpr size_t kBlockSenders = 3;

inline Time block_fuzz_now() {
  return std::chrono::duration_cast<Time>(std::chrono::seconds(kDevnetGenesisTime + 3'600));
}

inline KeyPair block_sender(size_t i) {
  return test::test_key(static_cast<uint8_t>(0x60 + i));
}

inline TxRef block_tx(size_t sender, uint64_t nonce, uint64_t fee = 1'000, uint64_t expiry = 0) {
  return test::filled_tx(block_sender(sender), kDevnetMagic, nonce, fee, 40 + nonce % 7,
                         static_cast<uint8_t>(sender * 16 + nonce), expiry);
}

// A signed child of `prev` (devnet producer `producer`), `dt` seconds later.
inline BlockRef block_on(const BlockHeader& prev, std::vector<TxRef> txs, size_t producer = 0,
                         uint64_t dt = 10) {
  return signed_child(prev, std::move(txs), prev.time + dt, devnet_producer_key(producer));
}

// Block i (1-based) confirms sender (i-1) % kBlockSenders's nonces, two per block.
inline const std::vector<BlockRef>& block_fuzz_base() {
  static const std::vector<BlockRef> base = [] {
    std::vector<BlockRef> out;
    BlockHeader prev = devnet_params().genesis();
    std::vector<uint64_t> next(kBlockSenders, 0);
    for (size_t i = 0; i < kBaseBlocks; ++i) {
      size_t s = i % kBlockSenders;
      std::vector<TxRef> txs{block_tx(s, next[s]), block_tx(s, next[s] + 1)};
      next[s] += 2;
      out.push_back(block_on(prev, std::move(txs)));
      prev = out.back()->header;
    }
    return out;
  }();
  return base;
}

}  // namespace hearsay::fuzz
