// ChainState: every block rejection reason (and a store that refuses the write), orphans and
// their bound, out-of-order bodies, headers sync; the fuzz seed writer for fuzz/block.cpp.
// Reorganisation and block production: chain_reorg_test.cpp; storage: chain_store_test.cpp.
#include "chainstub/chain.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "chainstub/chain_store.h"
#include "testing/block_fuzz.h"
#include "testing/failing_store.h"
#include "testing/test_util.h"
#include "tests/chainstub/chain_test_util.h"

namespace hearsay {
namespace {

using namespace chain_test;

// --- names -------------------------------------------------------------------------------------

TEST(BlockErrorTest, NamesAreStableAndPunishmentIsRight) {
  std::set<std::string> names;
  for (size_t i = 0; i < kBlockErrorCount; ++i)
    names.insert(to_string(static_cast<BlockError>(i)));
  EXPECT_EQ(names.size(), kBlockErrorCount);
  EXPECT_STREQ(to_string(BlockError::kBadProducer), "bad-producer");
  EXPECT_STREQ(to_string(BlockError::kTxBadSignature), "tx-bad-signature");
  EXPECT_STREQ(to_string(BlockError::kStoreFailed), "store-failed");
  EXPECT_FALSE(is_punishable(BlockError::kOk));
  EXPECT_FALSE(is_punishable(BlockError::kUnknownParent));
  EXPECT_FALSE(is_punishable(BlockError::kTimeTooNew));
  EXPECT_FALSE(is_punishable(BlockError::kStoreFailed));
  EXPECT_TRUE(is_punishable(BlockError::kBadMerkleRoot));
  EXPECT_TRUE(is_punishable(BlockError::kTxExpired));
}

// --- basics ------------------------------------------------------------------------------------

TEST_F(ChainTest, OpensAtGenesis) {
  EXPECT_EQ(chain->tip_id(), devnet_params().genesis_id());
  EXPECT_EQ(chain->height(), 0u);
  EXPECT_TRUE(chain->have_body(chain->tip_id()));
  ASSERT_NE(chain->block(chain->tip_id()), nullptr);
  EXPECT_TRUE(chain->block(chain->tip_id())->txs.empty());
  ChainInfo i = chain->chain_info();
  EXPECT_EQ(i.network, "devnet");
  EXPECT_EQ(i.index_size, 1u);
  chain->sanity_check();
}

TEST_F(ChainTest, ConnectsBlocksAndTracksNonces) {
  TxRef a0 = tx(1, 0), a1 = tx(1, 1), b0 = tx(2, 0);
  BlockRef b1 = make_block(genesis(), {a0, a1, b0});
  AcceptResult r = accept(b1);
  EXPECT_EQ(r.error, BlockError::kOk);
  EXPECT_FALSE(r.duplicate);
  ASSERT_EQ(r.update.connected.size(), 1u);
  EXPECT_EQ(r.update.connected[0], b1);
  EXPECT_TRUE(r.update.disconnected.empty());
  EXPECT_EQ(chain->height(), 1u);
  EXPECT_EQ(chain->next_nonce(test_key(1).public_key()), 2u);
  EXPECT_EQ(chain->next_nonce(test_key(2).public_key()), 1u);
  EXPECT_EQ(chain->next_nonce(test_key(3).public_key()), 0u);
  EXPECT_EQ(chain->id_at(1), b1->header.id());
  EXPECT_EQ(chain->id_at(2), std::nullopt);
  auto info = chain->info(b1->header.id());
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->in_best_chain);
  EXPECT_EQ(info->confirmations, 1u);
  EXPECT_EQ(info->tx_count, 3u);
  EXPECT_EQ(info->size, b1->encoded_size());
  auto g = chain->info(chain->id_at(0).value());
  EXPECT_EQ(g->next, b1->header.id());
  EXPECT_EQ(chain->chain_info().txs_confirmed, 3u);
  EXPECT_EQ(chain->chain_info().senders, 2u);
  // Again: a duplicate, nothing changes.
  r = accept(b1);
  EXPECT_TRUE(r.duplicate);
  EXPECT_EQ(r.error, BlockError::kOk);
  EXPECT_TRUE(r.update.empty());
}

// --- every rejection reason ------------------------------------------------------------------

TEST_F(ChainTest, BadNetwork) {
  Block b = child_of(genesis());
  b.header.network = kMagic + 7;
  BlockRef r = signed_ref(b);
  EXPECT_EQ(chain->check_block(*r, false), BlockError::kBadNetwork);
  EXPECT_EQ(chain->accept_header(r->header, kNow).error, BlockError::kBadNetwork);
  EXPECT_EQ(accept(r).error, BlockError::kBadNetwork);
  EXPECT_FALSE(chain->contains(r->header.id()));  // not remembered: anyone can make these
}

TEST_F(ChainTest, BadProducer) {
  BlockRef r = signed_ref(child_of(genesis()), test_key(9));
  EXPECT_EQ(chain->check_block(*r, false), BlockError::kBadProducer);
  EXPECT_EQ(accept(r).error, BlockError::kBadProducer);
  EXPECT_FALSE(chain->contains(r->header.id()));
}

TEST_F(ChainTest, BadSignature) {
  Block b = child_of(genesis());
  b.header.sign(devnet_producer_key(1));
  b.header.signature[5] ^= 1;
  BlockRef r = std::make_shared<const Block>(b);
  EXPECT_EQ(chain->check_block(*r, false), BlockError::kBadSignature);
  EXPECT_EQ(chain->accept_header(r->header, kNow).error, BlockError::kBadSignature);
  EXPECT_EQ(accept(r).error, BlockError::kBadSignature);
  EXPECT_FALSE(chain->contains(r->header.id()));
}

TEST_F(ChainTest, UnknownParent) {
  BlockRef b1 = make_block(genesis());
  BlockRef b2 = make_block(b1->header);
  EXPECT_EQ(chain->check_block(*b2, false), BlockError::kOk);
  EXPECT_EQ(chain->accept_header(b2->header, kNow).error, BlockError::kUnknownParent);
  EXPECT_FALSE(chain->contains(b2->header.id()));
  AcceptResult r = accept(b2);
  EXPECT_EQ(r.error, BlockError::kUnknownParent);
  EXPECT_TRUE(r.orphan);
  EXPECT_TRUE(chain->is_orphan(b2->header.id()));
}

TEST_F(ChainTest, InvalidParent) {
  BlockRef bad = make_block(genesis(), {tx(1, 5)});  // nonce 5 for a new sender
  EXPECT_EQ(accept(bad).error, BlockError::kTxBadNonce);
  EXPECT_TRUE(chain->is_failed(bad->header.id()));
  BlockRef child = make_block(bad->header);
  EXPECT_EQ(chain->accept_header(child->header, kNow).error, BlockError::kInvalidParent);
  EXPECT_TRUE(chain->is_failed(child->header.id()));
  AcceptResult r = accept(child);
  EXPECT_EQ(r.error, BlockError::kInvalidParent);
  EXPECT_TRUE(r.duplicate);  // the header was remembered as failed
  BlockRef grandchild = make_block(child->header);
  EXPECT_EQ(accept(grandchild).error, BlockError::kInvalidParent);
}

TEST_F(ChainTest, BadHeight) {
  Block b = child_of(genesis());
  b.header.height = 2;
  BlockRef r = signed_ref(b);
  EXPECT_EQ(chain->check_block(*r, false), BlockError::kOk);  // needs the parent
  EXPECT_EQ(chain->accept_header(r->header, kNow).error, BlockError::kBadHeight);
  EXPECT_EQ(accept(r).error, BlockError::kBadHeight);
  EXPECT_FALSE(chain->contains(r->header.id()));  // the index keeps heights consistent
}

TEST_F(ChainTest, TimeTooOld) {
  BlockRef b1 = extend(genesis(), 1)[0];
  Block b = child_of(b1->header, {}, 0);
  b.header.time = b1->header.time - 1;
  BlockRef r = signed_ref(b);
  EXPECT_EQ(chain->accept_header(r->header, kNow).error, BlockError::kTimeTooOld);
  EXPECT_EQ(accept(r).error, BlockError::kTimeTooOld);
  // Equal time is fine.
  EXPECT_EQ(accept(make_block(b1->header, {}, 0)).error, BlockError::kOk);
}

TEST_F(ChainTest, TimeTooNewIsNotRemembered) {
  uint64_t limit = kDevnetGenesisTime + 86'400 + 7'200;
  Block b = child_of(genesis());
  b.header.time = limit + 1;
  BlockRef r = signed_ref(b);
  EXPECT_EQ(chain->accept_header(r->header, kNow).error, BlockError::kTimeTooNew);
  EXPECT_EQ(accept(r).error, BlockError::kTimeTooNew);
  EXPECT_FALSE(chain->contains(r->header.id()));
  // Later, the same block is fine.
  EXPECT_EQ(chain->accept_block(r, kNow + 10s, false).error, BlockError::kOk);
  EXPECT_EQ(chain->tip_id(), r->header.id());
  chain->sanity_check();
}

TEST(ChainSmallTest, TooLargeAndTxTooLarge) {
  NetworkParams p = small_params();
  auto chain = open_chain(p);
  ASSERT_TRUE(chain);
  std::vector<TxRef> txs;
  for (uint8_t i = 0; i < 12; ++i)
    txs.push_back(tx(i + 1, 0, 1000, 800, 0, p.magic));
  Block big = child_of(p.genesis(), txs);
  ASSERT_GT(big.encoded_size(), p.max_block_size);
  BlockRef r = signed_ref(big);
  EXPECT_EQ(chain->check_block(*r, false), BlockError::kTooLarge);
  EXPECT_EQ(chain->accept_block(r, kNow, false).error, BlockError::kTooLarge);
  EXPECT_TRUE(chain->is_failed(r->header.id()));  // its own body: the root matches
  // A mangled body of a valid header is refused, but the block is not marked failed.
  Block fine = child_of(p.genesis(), {tx(1, 0, 1000, 100, 0, p.magic)});
  BlockRef good = signed_ref(fine);
  Block mangled = *good;
  mangled.txs = txs;
  EXPECT_EQ(chain->accept_block(std::make_shared<const Block>(mangled), kNow, false).error,
            BlockError::kTooLarge);
  EXPECT_FALSE(chain->is_failed(good->header.id()));
  EXPECT_EQ(chain->accept_block(good, kNow, false).error, BlockError::kOk);

  BlockRef fat = signed_ref(child_of(good->header, {tx(2, 0, 10'000, 1'000, 0, p.magic)}));
  EXPECT_EQ(chain->check_block(*fat, false), BlockError::kTxTooLarge);
  EXPECT_EQ(chain->accept_block(fat, kNow, false).error, BlockError::kTxTooLarge);
  chain->sanity_check();
}

TEST_F(ChainTest, BadMerkleRootIsNotRemembered) {
  BlockRef good = make_block(genesis(), {tx(1, 0)});
  Block b = *good;
  b.txs.push_back(tx(2, 0));  // same header, another body
  BlockRef mangled = std::make_shared<const Block>(b);
  EXPECT_EQ(chain->check_block(*mangled, false), BlockError::kBadMerkleRoot);
  EXPECT_EQ(accept(mangled).error, BlockError::kBadMerkleRoot);
  EXPECT_FALSE(chain->is_failed(good->header.id()));
  EXPECT_EQ(accept(good).error, BlockError::kOk);
}

TEST_F(ChainTest, DuplicateTx) {
  TxRef t = tx(1, 0);
  BlockRef r = make_block(genesis(), {t, tx(2, 0), t});
  EXPECT_EQ(chain->check_block(*r, false), BlockError::kDuplicateTx);
  EXPECT_EQ(accept(r).error, BlockError::kDuplicateTx);
  EXPECT_TRUE(chain->is_failed(r->header.id()));
}

TEST_F(ChainTest, TxBadNetwork) {
  BlockRef r = make_block(genesis(), {tx(1, 0), tx(2, 0, 1000, 100, 0, test::kTestNetwork)});
  EXPECT_EQ(chain->check_block(*r, true), BlockError::kTxBadNetwork);
  EXPECT_EQ(accept(r).error, BlockError::kTxBadNetwork);
}

TEST_F(ChainTest, TxBadSignature) {
  BlockRef r = make_block(genesis(), {tx(1, 0), forged(tx(2, 0))});
  EXPECT_EQ(chain->check_block(*r, false), BlockError::kTxBadSignature);
  EXPECT_EQ(chain->check_block(*r, true), BlockError::kOk);  // the caller vouched
  AcceptResult res = accept(r);
  EXPECT_EQ(res.error, BlockError::kTxBadSignature);
  EXPECT_TRUE(is_punishable(res.error));
  EXPECT_TRUE(chain->is_failed(r->header.id()));
  EXPECT_EQ(chain->height(), 0u);
}

TEST_F(ChainTest, TxBadNonce) {
  BlockRef r = make_block(genesis(), {tx(1, 0), tx(1, 2)});  // gap
  EXPECT_EQ(chain->check_block(*r, false), BlockError::kOk);
  EXPECT_EQ(accept(r).error, BlockError::kTxBadNonce);
  EXPECT_EQ(chain->height(), 0u);
  EXPECT_EQ(chain->next_nonce(test_key(1).public_key()), 0u);
  // Replaying a confirmed nonce fails too.
  BlockRef b1 = extend(genesis(), 1)[0];
  BlockRef b2 = make_block(b1->header, {tx(1, 0)});
  EXPECT_EQ(accept(b2).error, BlockError::kOk);
  EXPECT_EQ(accept(make_block(b2->header, {tx(1, 0, 2000)})).error, BlockError::kTxBadNonce);
}

TEST_F(ChainTest, TxExpiredByHeightAndTime) {
  // Expiry height 1: valid in block 1 (tip height 0), expired in block 2.
  BlockRef b1 = make_block(genesis(), {tx(1, 0, 1000, 100, 1)});
  EXPECT_EQ(accept(b1).error, BlockError::kOk);
  BlockRef late = make_block(b1->header, {tx(2, 0, 1000, 100, 1)});
  EXPECT_EQ(accept(late).error, BlockError::kTxExpired);
  // Expiry time: the block's time counts, not our clock.
  uint64_t t = b1->header.time + 5;
  EXPECT_EQ(accept(make_block(b1->header, {tx(3, 0, 1000, 100, t)}, 6)).error,
            BlockError::kTxExpired);
  EXPECT_EQ(accept(make_block(b1->header, {tx(3, 0, 1000, 100, t)}, 5)).error, BlockError::kOk);
}

TEST_F(ChainTest, StoreFailedChangesNothing) {
  auto failing = std::make_unique<test::FailingChainStore>(std::make_unique<MemoryChainStore>());
  test::FailingChainStore& store = *failing;
  chain = open_chain_over(std::move(failing));
  BlockRef b1 = make_block(genesis(), {tx(1, 0)});
  store.fail_next_writes(1);
  AcceptResult r = accept(b1);
  EXPECT_EQ(r.error, BlockError::kStoreFailed);
  EXPECT_FALSE(is_punishable(r.error));
  EXPECT_TRUE(r.update.empty());
  EXPECT_FALSE(chain->contains(b1->header.id()));
  EXPECT_EQ(chain->height(), 0u);
  EXPECT_EQ(chain->next_nonce(test_key(1).public_key()), 0u);
  store.fail_next_writes(1);
  EXPECT_EQ(chain->accept_header(b1->header, kNow).error, BlockError::kStoreFailed);
  EXPECT_FALSE(chain->contains(b1->header.id()));
  r = accept(b1);
  EXPECT_EQ(r.error, BlockError::kOk);
  EXPECT_EQ(chain->height(), 1u);
}

// --- orphans -----------------------------------------------------------------------------------

TEST_F(ChainTest, OrphansConnectWhenTheirParentArrives) {
  BlockRef b1 = make_block(genesis(), {tx(1, 0)});
  BlockRef b2 = make_block(b1->header, {tx(1, 1)});
  BlockRef b3 = make_block(b2->header, {tx(1, 2)});
  EXPECT_TRUE(accept(b3).orphan);
  EXPECT_TRUE(accept(b2).orphan);
  AcceptResult again = accept(b2);
  EXPECT_TRUE(again.orphan && again.duplicate);
  EXPECT_EQ(chain->chain_info().orphans, 2u);
  AcceptResult r = accept(b1);
  EXPECT_EQ(r.error, BlockError::kOk);
  EXPECT_TRUE(r.also_failed.empty());
  EXPECT_EQ(ids_of(r.update.connected), ids_of({b1, b2, b3}));
  EXPECT_EQ(chain->tip_id(), b3->header.id());
  EXPECT_EQ(chain->chain_info().orphans, 0u);
  EXPECT_EQ(chain->next_nonce(test_key(1).public_key()), 3u);
}

TEST_F(ChainTest, AnOrphanWhoseHeaderArrivesIsNotDownloadedAgain) {
  BlockRef b1 = make_block(genesis(), {tx(1, 0)});
  BlockRef b2 = make_block(b1->header, {tx(1, 1)});
  EXPECT_TRUE(accept(b2).orphan);
  EXPECT_EQ(chain->accept_header(b1->header, kNow).error, BlockError::kOk);
  EXPECT_EQ(chain->accept_header(b2->header, kNow).error, BlockError::kOk);
  chain->sanity_check();
  EXPECT_TRUE(chain->is_orphan(b2->header.id()));
  EXPECT_EQ(chain->missing_blocks(10), ids_of({b1}));  // b2's body is in the orphan pool
  AcceptResult r = accept(b1);
  EXPECT_EQ(ids_of(r.update.connected), ids_of({b1, b2}));
  EXPECT_FALSE(chain->is_orphan(b2->header.id()));
  EXPECT_EQ(chain->chain_info().orphans, 0u);
}

TEST_F(ChainTest, AnOrphanThatFailsIsReported) {
  BlockRef b1 = make_block(genesis());
  BlockRef b2 = make_block(b1->header, {tx(1, 7)});
  BlockRef b3 = make_block(b2->header);
  EXPECT_TRUE(accept(b3).orphan);
  EXPECT_TRUE(accept(b2).orphan);
  AcceptResult r = accept(b1);
  EXPECT_EQ(r.error, BlockError::kOk);
  std::map<BlockId, BlockError> failed(r.also_failed.begin(), r.also_failed.end());
  EXPECT_EQ(failed[b2->header.id()], BlockError::kTxBadNonce);
  EXPECT_EQ(failed[b3->header.id()], BlockError::kInvalidParent);
  EXPECT_EQ(chain->tip_id(), b1->header.id());
  EXPECT_EQ(chain->chain_info().orphans, 0u);
}

TEST_F(ChainTest, OrphanPoolDropsTheOldest) {
  std::vector<BlockRef> line;
  BlockHeader prev = genesis();
  for (size_t i = 0; i < kMaxOrphanBlocks + 2; ++i) {
    line.push_back(make_block(prev));
    prev = line.back()->header;
  }
  // line[1..kMax+1] are orphans (line[0] unknown): one too many, line[1] is dropped.
  for (size_t i = 1; i < line.size(); ++i)
    EXPECT_TRUE(accept(line[i]).orphan);
  EXPECT_EQ(chain->chain_info().orphans, kMaxOrphanBlocks);
  EXPECT_FALSE(chain->is_orphan(line[1]->header.id()));
  EXPECT_TRUE(chain->is_orphan(line[2]->header.id()));
  EXPECT_EQ(accept(line[0]).error, BlockError::kOk);
  EXPECT_EQ(chain->height(), 1u);  // line[1] was dropped: the rest wait
  AcceptResult r = accept(line[1]);
  EXPECT_EQ(r.error, BlockError::kOk);
  EXPECT_EQ(chain->height(), line.size());
  EXPECT_EQ(r.update.connected.size(), line.size() - 1);
  EXPECT_EQ(chain->chain_info().orphans, 0u);
}

TEST_F(ChainTest, OutOfOrderBodiesAlongAHeaderChain) {
  BlockRef b1 = make_block(genesis(), {tx(1, 0)});
  BlockRef b2 = make_block(b1->header, {tx(1, 1)});
  BlockRef b3 = make_block(b2->header, {tx(1, 2)});
  for (const auto& b : {b1, b2, b3}) {
    HeaderResult h = chain->accept_header(b->header, kNow);
    EXPECT_EQ(h.error, BlockError::kOk);
    EXPECT_TRUE(h.is_new);
  }
  EXPECT_FALSE(chain->accept_header(b3->header, kNow).is_new);
  EXPECT_EQ(chain->best_header(), b3->header.id());
  EXPECT_EQ(chain->chain_info().headers, 3u);
  EXPECT_EQ(chain->missing_blocks(10), ids_of({b1, b2, b3}));
  EXPECT_EQ(chain->missing_blocks(2), ids_of({b1, b2}));
  AcceptResult r = accept(b3);
  EXPECT_EQ(r.error, BlockError::kOk);
  EXPECT_FALSE(r.orphan);
  EXPECT_TRUE(r.update.empty());
  EXPECT_TRUE(chain->have_body(b3->header.id()));
  EXPECT_EQ(chain->missing_blocks(10), ids_of({b1, b2}));
  EXPECT_TRUE(accept(b2).update.empty());
  r = accept(b1);
  EXPECT_EQ(ids_of(r.update.connected), ids_of({b1, b2, b3}));
  EXPECT_EQ(chain->tip_id(), b3->header.id());
  EXPECT_TRUE(chain->missing_blocks(10).empty());
}

// --- headers sync ------------------------------------------------------------------------------

TEST_F(ChainTest, LocatorAndHeadersAfter) {
  std::vector<BlockRef> blocks = extend(genesis(), 30);
  std::vector<BlockId> loc = chain->locator();
  ASSERT_GE(loc.size(), 12u);
  EXPECT_EQ(loc.front(), chain->tip_id());
  EXPECT_EQ(loc.back(), devnet_params().genesis_id());
  for (size_t i = 0; i < 10; ++i)
    EXPECT_EQ(loc[i], chain->id_at(30 - i));
  EXPECT_EQ(loc[10], chain->id_at(20));
  EXPECT_EQ(loc[11], chain->id_at(19));
  EXPECT_EQ(loc[12], chain->id_at(17));  // then the step doubles
  // A node at height 12 asks.
  std::vector<BlockId> their{blocks[11]->header.id(), devnet_params().genesis_id()};
  auto hs = chain->headers_after(their, BlockId{}, 2000);
  ASSERT_EQ(hs.size(), 18u);
  EXPECT_EQ(hs.front(), blocks[12]->header);
  EXPECT_EQ(chain->headers_after(their, blocks[14]->header.id(), 2000).size(), 3u);
  EXPECT_EQ(chain->headers_after(their, BlockId{}, 5).size(), 5u);
  std::vector<BlockId> unknown{test::numbered_id(1, 9)};
  EXPECT_EQ(chain->headers_after(unknown, BlockId{}, 2000).size(), 30u);
  // A side branch: locator_from walks it, then the shared chain.
  BlockRef side = make_block(blocks[19]->header, {}, 11);
  EXPECT_EQ(chain->accept_header(side->header, kNow).error, BlockError::kOk);
  auto sl = chain->locator_from(side->header.id());
  EXPECT_EQ(sl[0], side->header.id());
  EXPECT_EQ(sl[1], blocks[19]->header.id());
  EXPECT_EQ(sl.back(), devnet_params().genesis_id());
}

// --- fuzz seeds --------------------------------------------------------------------------------

// Writes fuzz/corpus/block/seed-* (run with --gtest_also_run_disabled_tests after changing
// fuzz/block_fuzz.h); the seeds start from the fuzz target's base chain, so valid ones reach
// connection, orphans, headers and a reorganisation.
TEST(FuzzSeeds, DISABLED_WriteBlockCorpus) {
  using namespace hearsay::fuzz;
  const auto& base = block_fuzz_base();
  BlockRef b4 = block_on(base[2]->header, {block_tx(0, 2), block_tx(1, 2)});
  BlockRef b5 = block_on(b4->header, {block_tx(0, 3)});
  BlockRef s3 = block_on(base[1]->header, {block_tx(2, 0)}, 1);
  BlockRef s4 = block_on(s3->header, {block_tx(0, 2)}, 1);
  BlockRef s5 = block_on(s4->header, {}, 1);
  BlockRef bad_nonce = block_on(base[2]->header, {block_tx(0, 5)});
  BlockRef expired = block_on(base[2]->header, {block_tx(1, 2, 1000, 3)});
  BlockRef forgery = block_on(base[2]->header, {block_tx(1, 2), forged(block_tx(2, 2))});
  auto enc = [](const BlockRef& b) {
    std::vector<uint8_t> out;
    b->encode(out);
    return out;
  };
  auto one = [&](uint8_t flags, const BlockRef& b) {
    std::vector<uint8_t> out{static_cast<uint8_t>(BlockMode::kOneBlock), flags};
    auto e = enc(b);
    out.insert(out.end(), e.begin(), e.end());
    return out;
  };
  auto seq = [&](uint8_t flags, std::vector<BlockRef> blocks) {
    std::vector<uint8_t> out{static_cast<uint8_t>(BlockMode::kSequence), flags};
    for (const auto& b : blocks) {
      auto e = enc(b);
      out.push_back(static_cast<uint8_t>(e.size()));
      out.push_back(static_cast<uint8_t>(e.size() >> 8));
      out.insert(out.end(), e.begin(), e.end());
    }
    return out;
  };
  std::vector<uint8_t> headers{static_cast<uint8_t>(BlockMode::kHeaders), 0, 2};
  b4->header.encode(headers);
  b5->header.encode(headers);
  std::map<std::string, std::vector<uint8_t>> seeds = {
      {"seed-next", one(0, b4)},
      {"seed-next-vouched-header-first", one(kFlagSignaturesVerified | kFlagHeaderFirst, b4)},
      {"seed-orphan", one(0, b5)},
      {"seed-headers", headers},
      {"seed-out-of-order", seq(0, {b5, b4})},
      {"seed-reorg", seq(kFlagSignaturesVerified, {s3, s4, s5, b4})},
      {"seed-bad-nonce", one(0, bad_nonce)},
      {"seed-expired", one(0, expired)},
      {"seed-forged-tx", one(0, forgery)},
      {"seed-garbage", {2, 0, 0xff, 0xff, 1, 2, 3}},
  };
  // Each seed does what its name says, against the same base chain as the target.
  auto chain = open_chain();
  for (const auto& b : base)
    ASSERT_EQ(chain->accept_block(b, block_fuzz_now(), true).error, BlockError::kOk);
  EXPECT_EQ(chain->check_block(*forgery, false), BlockError::kTxBadSignature);
  EXPECT_EQ(chain->accept_block(expired, block_fuzz_now(), true).error, BlockError::kTxExpired);
  EXPECT_EQ(chain->accept_block(bad_nonce, block_fuzz_now(), true).error, BlockError::kTxBadNonce);
  EXPECT_TRUE(chain->accept_block(b5, block_fuzz_now(), false).orphan);
  for (const auto& b : {s3, s4, s5})
    EXPECT_EQ(chain->accept_block(b, block_fuzz_now(), false).error, BlockError::kOk);
  EXPECT_EQ(chain->height(), 5u);
  EXPECT_EQ(chain->tip_id(), s5->header.id());
  chain->sanity_check();

  std::filesystem::path dir = std::filesystem::path(HEARSAY_SOURCE_DIR) / "fuzz/corpus/block";
  std::filesystem::create_directories(dir);
  for (const auto& [name, bytes] : seeds) {
    std::ofstream out(dir / name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << name;
  }
}

}  // namespace
}  // namespace hearsay
