// ChainState: best-tip choice and reorganisation, with a real mempool following the chain
// (update_mempool), failures on a new branch, and block production (build_block).
#include "chainstub/chain.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "mempool/mempool.h"
#include "mempool/store.h"
#include "testing/test_util.h"
#include "tests/chainstub/chain_test_util.h"

namespace hearsay {
namespace {

using namespace chain_test;

// --- best tip and reorganisation ----------------------------------------------------------------

class ReorgTest : public ChainTest {
 protected:
  ReorgTest() {
    MempoolOptions o;
    o.network = kMagic;
    auto m = Mempool::open(o, *chain, std::make_unique<MemoryStore>(), kNow);
    EXPECT_TRUE(m.ok());
    pool = std::move(*m);
  }
  void admit(const TxRef& t) { ASSERT_EQ(pool->admit(t, kNow).code, AdmitCode::kAccepted); }
  MempoolUpdate apply(const AcceptResult& r) {
    MempoolUpdate u = update_mempool(*pool, r.update, kNow);
    pool->sanity_check();
    return u;
  }
  std::unique_ptr<Mempool> pool;
};

TEST_F(ReorgTest, TiesGoToTheFirstSeen) {
  BlockRef a1 = make_block(genesis(), {}, 10, 0);
  BlockRef b1 = make_block(genesis(), {}, 10, 1);
  EXPECT_EQ(accept(a1).update.connected.size(), 1u);
  AcceptResult r = accept(b1);
  EXPECT_EQ(r.error, BlockError::kOk);
  EXPECT_TRUE(r.update.empty());
  EXPECT_EQ(chain->tip_id(), a1->header.id());
  EXPECT_FALSE(chain->info(b1->header.id())->in_best_chain);
}

TEST_F(ReorgTest, LongerBranchTakesOverAndTheMempoolFollows) {
  TxRef a0 = tx(1, 0), b0 = tx(2, 0), c0 = tx(3, 0), d0 = tx(4, 0);
  for (const auto& t : {a0, b0, c0, d0})
    admit(t);
  BlockRef a1 = make_block(genesis(), {a0, b0}, 10, 0);
  AcceptResult r = accept(a1);
  MempoolUpdate u = apply(r);
  EXPECT_EQ(u.removed, 2u);
  EXPECT_EQ(pool->size(), 2u);

  // Side branch confirms b0 and c0 but not a0; it grows longer than a1's.
  BlockRef s1 = make_block(genesis(), {b0, c0}, 10, 1);
  BlockRef s2 = make_block(s1->header, {}, 10, 1);
  r = accept(s1);
  EXPECT_TRUE(r.update.empty());
  r = accept(s2);
  EXPECT_EQ(r.error, BlockError::kOk);
  EXPECT_EQ(ids_of(r.update.disconnected), ids_of({a1}));
  EXPECT_EQ(ids_of(r.update.connected), ids_of({s1, s2}));
  EXPECT_EQ(chain->chain_info().reorgs, 1u);
  EXPECT_EQ(chain->next_nonce(test_key(1).public_key()), 0u);  // a0 undone
  EXPECT_EQ(chain->next_nonce(test_key(3).public_key()), 1u);
  u = apply(r);
  EXPECT_EQ(u.returned, 1u);  // a0 back; b0 is confirmed again by s1
  EXPECT_EQ(u.dropped, 0u);
  EXPECT_EQ(u.removed, 1u);  // c0
  EXPECT_TRUE(pool->contains(a0->id()));
  EXPECT_FALSE(pool->contains(b0->id()));
  EXPECT_FALSE(pool->contains(c0->id()));
  EXPECT_TRUE(pool->contains(d0->id()));
  EXPECT_EQ(pool->size(), 2u);
}

TEST_F(ReorgTest, ADisconnectedTxWhoseNonceTheNewBranchUsedIsDropped) {
  TxRef a0 = tx(1, 0), a0b = tx(1, 0, 5000);  // same sender and nonce, different tx
  BlockRef a1 = make_block(genesis(), {a0}, 10, 0);
  apply(accept(a1));
  BlockRef s1 = make_block(genesis(), {a0b}, 10, 1);
  accept(s1);
  AcceptResult r = accept(make_block(s1->header, {}, 10, 1));
  MempoolUpdate u = apply(r);
  EXPECT_EQ(u.returned, 0u);
  EXPECT_EQ(u.dropped, 1u);
  EXPECT_FALSE(pool->contains(a0->id()));
}

TEST_F(ReorgTest, AFailedBlockOnTheNewBranchReturnsTheTip) {
  std::vector<BlockRef> a = extend(genesis(), 2);
  BlockRef s1 = make_block(genesis(), {tx(1, 0)}, 10, 1);
  BlockRef s2 = make_block(s1->header, {}, 10, 1);
  BlockRef s3 = make_block(s2->header, {tx(1, 0)}, 10, 1);  // nonce 0 again: fails when connected
  BlockRef s4 = make_block(s3->header, {}, 10, 1);
  EXPECT_TRUE(accept(s1).update.empty());
  EXPECT_TRUE(accept(s2).update.empty());  // tie: a stays
  EXPECT_TRUE(accept(s4).orphan);
  AcceptResult r = accept(s3);
  EXPECT_EQ(r.error, BlockError::kTxBadNonce);
  ASSERT_EQ(r.also_failed.size(), 1u);
  EXPECT_EQ(r.also_failed[0].first, s4->header.id());
  EXPECT_EQ(r.also_failed[0].second, BlockError::kInvalidParent);
  EXPECT_TRUE(r.update.empty());  // net: back where it was
  EXPECT_EQ(chain->tip_id(), a[1]->header.id());
  EXPECT_EQ(chain->next_nonce(test_key(1).public_key()), 0u);
  EXPECT_EQ(chain->chain_info().reorgs, 0u);
}

TEST_F(ReorgTest, AFailureDeeperOnALongerBranchStopsAtItsBestValidBlock) {
  BlockRef a1 = extend(genesis(), 1)[0];
  BlockRef s1 = make_block(genesis(), {}, 10, 1);
  BlockRef s2 = make_block(s1->header, {}, 10, 1);
  BlockRef s3 = make_block(s2->header, {tx(1, 3)}, 10, 1);
  accept(s1);
  EXPECT_EQ(chain->accept_header(s2->header, kNow).error, BlockError::kOk);
  EXPECT_EQ(chain->accept_header(s3->header, kNow).error, BlockError::kOk);
  EXPECT_TRUE(accept(s3).update.empty());  // s2's body is missing
  AcceptResult r = accept(s2);
  EXPECT_EQ(r.error, BlockError::kOk);
  ASSERT_EQ(r.also_failed.size(), 1u);
  EXPECT_EQ(r.also_failed[0].second, BlockError::kTxBadNonce);
  EXPECT_EQ(ids_of(r.update.disconnected), ids_of({a1}));
  EXPECT_EQ(ids_of(r.update.connected), ids_of({s1, s2}));
  EXPECT_EQ(chain->tip_id(), s2->header.id());
}

// --- production -----------------------------------------------------------------------------

class BuildTest : public ReorgTest {};

TEST_F(BuildTest, RefusesAKeyTheNetworkDoesNotAuthorise) {
  auto b = build_block(*chain, *pool, test_key(1), kNow);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().find("not a block producer"), std::string::npos);
}

TEST_F(BuildTest, BestPayingFirstInNonceOrderAndAcceptable) {
  TxRef a0 = tx(1, 0, 500), a1 = tx(1, 1, 50'000), b0 = tx(2, 0, 10'000), c0 = tx(3, 0, 2'000);
  for (const auto& t : {a1, a0, b0, c0})
    admit(t);
  auto b = build_block(*chain, *pool, devnet_producer_key(2), kNow);
  ASSERT_TRUE(b.ok()) << b.error();
  const Block& blk = **b;
  EXPECT_EQ(blk.header.height, 1u);
  EXPECT_EQ(blk.header.prev, chain->tip_id());
  EXPECT_EQ(blk.header.time, kDevnetGenesisTime + 86'400);
  ASSERT_EQ(blk.txs.size(), 4u);
  EXPECT_EQ(blk.txs[0], b0);  // best-paying head first
  EXPECT_EQ(blk.txs[1], c0);
  EXPECT_EQ(blk.txs[2], a0);  // a1 pays most but must follow a0
  EXPECT_EQ(blk.txs[3], a1);
  AcceptResult r = accept(*b, true);
  EXPECT_EQ(r.error, BlockError::kOk);
  MempoolUpdate u = apply(r);
  EXPECT_EQ(u.removed, 4u);
  EXPECT_EQ(pool->size(), 0u);
}

TEST_F(BuildTest, SkipsExpiredTransactionsAndTheirSuccessors) {
  uint64_t t_exp = kDevnetGenesisTime + 86'400 + 30;
  TxRef a0 = tx(1, 0, 9000, 100, t_exp), a1 = tx(1, 1), b0 = tx(2, 0);
  for (const auto& t : {a0, a1, b0})
    admit(t);
  auto b = build_block(*chain, *pool, devnet_producer_key(0), kNow + 60s);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ((*b)->txs.size(), 1u);
  EXPECT_EQ((*b)->txs[0], b0);
  EXPECT_EQ(chain->accept_block(*b, kNow + 60s, true).error, BlockError::kOk);
}

TEST(BuildSmallTest, RespectsTheBlockSizeLimit) {
  NetworkParams p = small_params();
  auto chain = open_chain(p);
  MempoolOptions o;
  o.network = p.magic;
  o.max_tx_size = p.max_tx_size;
  auto pool = Mempool::open(o, *chain, std::make_unique<MemoryStore>(), kNow);
  ASSERT_TRUE(pool.ok());
  for (uint8_t i = 1; i <= 30; ++i)
    ASSERT_TRUE((*pool)->admit(tx(i, 0, 1000 + i, 800, 0, p.magic), kNow).ok());
  auto b = build_block(*chain, **pool, devnet_producer_key(0), kNow);
  ASSERT_TRUE(b.ok());
  EXPECT_LE((*b)->encoded_size(), p.max_block_size);
  EXPECT_GT((*b)->txs.size(), 5u);
  EXPECT_LT((*b)->txs.size(), 30u);
  EXPECT_EQ(chain->accept_block(*b, kNow, false).error, BlockError::kOk);
  chain->sanity_check();
}

}  // namespace
}  // namespace hearsay
