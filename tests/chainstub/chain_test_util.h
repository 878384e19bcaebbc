// Shared by the ChainState tests (tests/chainstub/chain*_test.cpp): devnet blocks and
// transactions, a network with small limits, chains in memory or at a path, and the ChainTest
// fixture (a devnet chain in memory, sanity-checked after every accept).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chainstub/chain.h"
#include "chainstub/chain_store.h"
#include "chainstub/params.h"
#include "testing/test_util.h"

namespace hearsay::chain_test {

using test::forged;
using test::test_key;

inline constexpr uint32_t kMagic = kDevnetMagic;
inline const Time kNow = Time(std::chrono::seconds(kDevnetGenesisTime + 86'400));

inline TxRef tx(uint8_t key, uint64_t nonce, uint64_t fee = 1000, size_t payload = 100,
                uint64_t expiry = 0, uint32_t network = kMagic) {
  return test::make_tx(key, nonce, fee, payload, expiry, network);
}

// An unsigned child of `prev` holding `txs`, its Merkle root set.
inline Block child_of(const BlockHeader& prev, std::vector<TxRef> txs = {}, uint64_t dt = 10) {
  return child_block(prev, std::move(txs), prev.time + dt);
}

inline BlockRef signed_ref(Block b, const KeyPair& key = devnet_producer_key(0)) {
  b.header.sign(key);
  return std::make_shared<const Block>(std::move(b));
}

inline BlockRef make_block(const BlockHeader& prev, std::vector<TxRef> txs = {}, uint64_t dt = 10,
                           size_t producer = 0) {
  return signed_ref(child_of(prev, std::move(txs), dt), devnet_producer_key(producer));
}

// A devnet-like network with small limits (to reach kTooLarge and kTxTooLarge cheaply).
inline NetworkParams small_params() {
  NetworkParams p = devnet_params();
  p.name = "small";
  p.magic = kMagic + 1;
  p.max_block_size = kMinMaxBlockSize;
  p.max_tx_size = 1'000;
  return p;
}

inline std::unique_ptr<ChainState> open_chain(const NetworkParams& p = devnet_params(),
                                              const std::string& path = "") {
  auto c = ChainState::open(p, ChainOptions{path, false});
  EXPECT_TRUE(c.ok()) << c.error();
  return c.ok() ? std::move(*c) : nullptr;
}

// A chain over a store the test opened (a failing fake, a store it inspects).
inline std::unique_ptr<ChainState> open_chain_over(std::unique_ptr<ChainStore> store,
                                                   const NetworkParams& p = devnet_params()) {
  auto c = ChainState::open(p, std::move(store));
  EXPECT_TRUE(c.ok()) << c.error();
  return c.ok() ? std::move(*c) : nullptr;
}

class ChainTest : public ::testing::Test {
 protected:
  ChainTest() : chain(open_chain()) {}

  AcceptResult accept(const BlockRef& b, bool verified = false) {
    AcceptResult r = chain->accept_block(b, kNow, verified);
    chain->sanity_check();
    return r;
  }
  BlockHeader genesis() const { return devnet_params().genesis(); }
  // Builds and accepts `n` empty blocks on `prev`; returns them.
  std::vector<BlockRef> extend(BlockHeader prev, size_t n, uint64_t dt = 10) {
    std::vector<BlockRef> out;
    for (size_t i = 0; i < n; ++i) {
      out.push_back(make_block(prev, {}, dt));
      EXPECT_EQ(accept(out.back()).error, BlockError::kOk);
      prev = out.back()->header;
    }
    return out;
  }

  std::unique_ptr<ChainState> chain;
};

inline std::vector<TxId> ids_of(const std::vector<BlockRef>& blocks) {
  std::vector<TxId> out;
  for (const auto& b : blocks)
    out.push_back(b->header.id());
  return out;
}

}  // namespace hearsay::chain_test
