// Mempool rules against an in-memory store: every admission answer, replacement, eviction
// order, expiry, per-sender cap, removals, block selection order, batching, rollback, reload.
#include "mempool/mempool.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "testing/failing_store.h"
#include "testing/mempool_fakes.h"
#include "testing/test_util.h"

namespace hearsay {
namespace {

using test::make_tx;
using test::test_key;

constexpr Time kT0 = Time(1'700'000'000LL * 1'000'000);

class MempoolTest : public ::testing::Test {
 protected:
  MempoolTest() {
    opts.network = test::kTestNetwork;
    opts.min_fee_rate = 100;
    reopen();
  }

  void reopen(Time now = kT0) {
    pool.reset();
    auto m = Mempool::open(opts, chain, std::make_unique<StoreRef>(failing), now);
    ASSERT_TRUE(m.ok()) << m.error().message;
    pool = std::move(*m);
    pool->sanity_check();
  }

  AdmitCode admit(const TxRef& tx, Time now = kT0, bool verified = false) {
    AdmitResult r = pool->admit(tx, now, verified);
    pool->sanity_check();
    EXPECT_EQ(store.size(), pool->size());
    return r.code;
  }

  static PublicKey key(uint8_t i) { return test_key(i).public_key(); }

  MempoolOptions opts;
  FakeChainView chain;
  MemoryStore store;
  test::FailingMempoolStore failing{store};  // what the pool writes through
  std::unique_ptr<Mempool> pool;
};

TEST_F(MempoolTest, AcceptsAndIndexes) {
  TxRef tx = make_tx(1, 0);
  EXPECT_EQ(admit(tx), AdmitCode::kAccepted);
  EXPECT_TRUE(pool->contains(tx->id()));
  EXPECT_EQ(pool->get(tx->id()), tx);
  EXPECT_TRUE(store.contains(tx->id()));
  EXPECT_EQ(pool->get(make_tx(1, 1)->id()), nullptr);
  MempoolInfo i = pool->info(kT0 + 5s);
  EXPECT_EQ(i.count, 1u);
  EXPECT_EQ(i.bytes, tx->size());
  EXPECT_EQ(i.memory_usage, Mempool::entry_usage(tx->size()));
  EXPECT_EQ(i.senders, 1u);
  EXPECT_EQ(i.oldest_age, 5s);
  EXPECT_EQ(i.lowest_fee_rate, tx->fee_rate());
  EXPECT_EQ(i.admits[size_t(AdmitCode::kAccepted)], 1u);
}

TEST_F(MempoolTest, RejectsMalformedAndDuplicate) {
  EXPECT_EQ(admit(nullptr), AdmitCode::kMalformed);
  TxRef tx = make_tx(1, 0);
  EXPECT_EQ(admit(tx), AdmitCode::kAccepted);
  EXPECT_EQ(admit(tx), AdmitCode::kDuplicate);
  MempoolInfo i = pool->info(kT0);
  EXPECT_EQ(i.admits[size_t(AdmitCode::kMalformed)], 1u);
  EXPECT_EQ(i.admits[size_t(AdmitCode::kDuplicate)], 1u);
}

TEST_F(MempoolTest, RejectsWrongNetwork) {
  EXPECT_EQ(admit(make_tx(1, 0, 1000, 100, 0, test::kTestNetwork + 1)), AdmitCode::kWrongNetwork);
}

TEST_F(MempoolTest, RejectsOversize) {
  opts.max_tx_size = 300;
  reopen();
  EXPECT_EQ(admit(make_tx(1, 0, 100000, 400)), AdmitCode::kTooLarge);
  EXPECT_EQ(admit(make_tx(1, 0, 100000, 100)), AdmitCode::kAccepted);
}

TEST_F(MempoolTest, ExpiryByHeight) {
  chain.set_height(10);
  EXPECT_EQ(admit(make_tx(1, 0, 1000, 100, 10)), AdmitCode::kExpired);
  TxRef tx = make_tx(1, 0, 1000, 100, 11);  // valid in the next block (height 11)
  EXPECT_EQ(admit(tx), AdmitCode::kAccepted);
  TxRef never = make_tx(2, 0, 1000, 100, 0);
  EXPECT_EQ(admit(never), AdmitCode::kAccepted);
  EXPECT_TRUE(pool->expire(kT0).empty());
  chain.set_height(11);
  auto removed = pool->expire(kT0);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].tx, tx);
  EXPECT_EQ(removed[0].reason, RemovalReason::kExpired);
  EXPECT_TRUE(pool->contains(never->id()));
  EXPECT_FALSE(store.contains(tx->id()));
  pool->sanity_check();
}

TEST_F(MempoolTest, ExpiryByTime) {
  const uint64_t t = 1'700'000'100;  // unix seconds
  const Time at_t = Time(int64_t(t) * 1'000'000);
  EXPECT_EQ(admit(make_tx(1, 0, 1000, 100, t), at_t + 1s), AdmitCode::kExpired);
  TxRef tx = make_tx(1, 0, 1000, 100, t);
  EXPECT_EQ(admit(tx, at_t), AdmitCode::kAccepted);
  EXPECT_TRUE(pool->expire(at_t + 999ms).empty());
  auto removed = pool->expire(at_t + 1s);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].reason, RemovalReason::kExpired);
}

TEST_F(MempoolTest, RejectsLowFeeRate) {
  TxRef cheap = make_tx(1, 0, 10, 100);  // 10 per ~225 bytes: rate 44 < 100
  ASSERT_LT(cheap->fee_rate(), opts.min_fee_rate);
  EXPECT_EQ(admit(cheap), AdmitCode::kFeeRateTooLow);
  opts.min_fee_rate = 0;
  reopen();
  EXPECT_EQ(admit(cheap), AdmitCode::kAccepted);
}

TEST_F(MempoolTest, SignatureCheckedUnlessVerified) {
  TxRef good = make_tx(1, 0);
  std::vector<uint8_t> bytes(good->encoding().begin(), good->encoding().end());
  bytes.back() ^= 1;
  auto forged = Transaction::decode(std::move(bytes));
  ASSERT_TRUE(forged.ok());
  EXPECT_EQ(admit(*forged), AdmitCode::kBadSignature);
  EXPECT_EQ(pool->size(), 0u);
  // The caller's flag is trusted: the mempool never verifies twice.
  EXPECT_EQ(admit(*forged, kT0, true), AdmitCode::kAccepted);
}

TEST_F(MempoolTest, RejectsConfirmedNonce) {
  chain.set_next_nonce(key(1), 5);
  EXPECT_EQ(admit(make_tx(1, 4)), AdmitCode::kNonceTooLow);
  EXPECT_EQ(admit(make_tx(1, 5)), AdmitCode::kAccepted);
  EXPECT_EQ(admit(make_tx(1, 9)), AdmitCode::kAccepted);  // gaps are held
}

TEST_F(MempoolTest, ReplacementNeedsTheFeeStep) {
  TxRef old_tx = make_tx(1, 0, 10000, 100);
  EXPECT_EQ(admit(old_tx), AdmitCode::kAccepted);
  EXPECT_EQ(admit(make_tx(1, 0, 10500, 100)), AdmitCode::kConflict);  // +5 %
  EXPECT_EQ(admit(make_tx(1, 0, 9000, 100)), AdmitCode::kConflict);
  TxRef better = make_tx(1, 0, 11100, 100);  // +11 %
  AdmitResult r = pool->admit(better, kT0);
  ASSERT_EQ(r.code, AdmitCode::kAccepted);
  ASSERT_EQ(r.removed.size(), 1u);
  EXPECT_EQ(r.removed[0].tx, old_tx);
  EXPECT_EQ(r.removed[0].reason, RemovalReason::kReplaced);
  EXPECT_FALSE(pool->contains(old_tx->id()));
  EXPECT_FALSE(store.contains(old_tx->id()));
  EXPECT_TRUE(store.contains(better->id()));
  EXPECT_EQ(pool->info(kT0).removals[size_t(RemovalReason::kReplaced)], 1u);
  pool->sanity_check();
}

TEST_F(MempoolTest, ReplacementStepIsConfigurable) {
  opts.replace_step_percent = 50;
  reopen();
  EXPECT_EQ(admit(make_tx(1, 0, 10000, 100)), AdmitCode::kAccepted);
  EXPECT_EQ(admit(make_tx(1, 0, 14000, 100)), AdmitCode::kConflict);
  EXPECT_EQ(admit(make_tx(1, 0, 15100, 100)), AdmitCode::kAccepted);
}

TEST_F(MempoolTest, PerSenderCap) {
  opts.max_per_sender = 3;
  reopen();
  for (uint64_t n = 0; n < 3; ++n)
    EXPECT_EQ(admit(make_tx(1, n)), AdmitCode::kAccepted);
  EXPECT_EQ(admit(make_tx(1, 3)), AdmitCode::kSenderLimit);
  EXPECT_EQ(admit(make_tx(2, 0)), AdmitCode::kAccepted);        // other senders unaffected
  EXPECT_EQ(admit(make_tx(1, 1, 2000)), AdmitCode::kAccepted);  // a replacement is not counted
  EXPECT_EQ(pool->by_sender(key(1)).size(), 3u);
}

TEST_F(MempoolTest, EvictsLowestFeeRateAndRefusesTheLowest) {
  const size_t usage = Mempool::entry_usage(make_tx(1, 0)->size());
  opts.max_bytes = 3 * usage;
  reopen();
  TxRef a = make_tx(1, 0, 1000), b = make_tx(2, 0, 3000), c = make_tx(3, 0, 2000);
  for (const TxRef& t : {a, b, c})
    ASSERT_EQ(admit(t), AdmitCode::kAccepted);
  EXPECT_EQ(admit(make_tx(4, 0, 500)), AdmitCode::kMempoolFull);
  EXPECT_EQ(admit(make_tx(4, 0, 1000)), AdmitCode::kMempoolFull);  // equal to the lowest
  EXPECT_EQ(pool->size(), 3u);

  AdmitResult r = pool->admit(make_tx(4, 0, 4000), kT0);
  ASSERT_EQ(r.code, AdmitCode::kAccepted);
  ASSERT_EQ(r.removed.size(), 1u);
  EXPECT_EQ(r.removed[0].tx, a);
  EXPECT_EQ(r.removed[0].reason, RemovalReason::kEvicted);
  r = pool->admit(make_tx(5, 0, 5000), kT0);
  ASSERT_EQ(r.removed.size(), 1u);
  EXPECT_EQ(r.removed[0].tx, c);
  EXPECT_FALSE(store.contains(c->id()));
  EXPECT_EQ(pool->info(kT0).removals[size_t(RemovalReason::kEvicted)], 2u);
  EXPECT_LE(pool->memory_usage(), opts.max_bytes);
  pool->sanity_check();
}

TEST_F(MempoolTest, EvictsSeveralForALargeTransaction) {
  const size_t small = Mempool::entry_usage(make_tx(1, 0)->size());
  opts.max_bytes = 4 * small;
  reopen();
  for (uint8_t k = 1; k <= 4; ++k)
    ASSERT_EQ(admit(make_tx(k, 0, 1000 * k)), AdmitCode::kAccepted);
  // About three small entries' worth: evicts the cheapest ones that make room, no more.
  TxRef big = make_tx(9, 0, 1'000'000, 1000);
  AdmitResult r = pool->admit(big, kT0);
  ASSERT_EQ(r.code, AdmitCode::kAccepted);
  EXPECT_GE(r.removed.size(), 2u);
  for (size_t i = 1; i < r.removed.size(); ++i)
    EXPECT_LE(r.removed[i - 1].tx->fee_rate(), r.removed[i].tx->fee_rate());
  EXPECT_TRUE(pool->contains(make_tx(4, 0, 4000)->id()));
  pool->sanity_check();
}

TEST_F(MempoolTest, AgesOutAfterExpiry) {
  opts.expiry = std::chrono::hours(1);
  reopen();
  TxRef a = make_tx(1, 0), b = make_tx(2, 0);
  ASSERT_EQ(admit(a, kT0), AdmitCode::kAccepted);
  ASSERT_EQ(admit(b, kT0 + 30min), AdmitCode::kAccepted);
  EXPECT_TRUE(pool->expire(kT0 + 59min).empty());
  auto removed = pool->expire(kT0 + 60min);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].tx, a);
  EXPECT_EQ(removed[0].reason, RemovalReason::kAged);
  EXPECT_EQ(pool->info(kT0 + 60min).oldest_age, 30min);
}

TEST_F(MempoolTest, RemovesConfirmedAndUsedNonces) {
  TxRef a0 = make_tx(1, 0), a1 = make_tx(1, 1), a2 = make_tx(1, 2), b0 = make_tx(2, 0);
  for (const TxRef& t : {a0, a1, a2, b0})
    ASSERT_EQ(admit(t), AdmitCode::kAccepted);
  TxRef other_b0 = make_tx(2, 0, 5000);  // a conflicting b0 that a block confirmed instead
  std::vector<TxRef> block{a1, other_b0};
  auto removed = pool->remove_confirmed(block);
  pool->sanity_check();
  ASSERT_EQ(removed.size(), 3u);
  auto reason_of = [&](const TxRef& t) {
    for (const Removed& r : removed)
      if (r.tx == t) return r.reason;
    ADD_FAILURE() << "not removed";
    return RemovalReason::kReloadDropped;
  };
  EXPECT_EQ(reason_of(a1), RemovalReason::kConfirmed);
  EXPECT_EQ(reason_of(a0), RemovalReason::kNonceUsed);
  EXPECT_EQ(reason_of(b0), RemovalReason::kNonceUsed);
  EXPECT_TRUE(pool->contains(a2->id()));
  EXPECT_EQ(store.size(), 1u);
}

TEST_F(MempoolTest, RemovesStaleNonces) {
  for (uint64_t n = 0; n < 4; ++n)
    ASSERT_EQ(admit(make_tx(1, n)), AdmitCode::kAccepted);
  auto removed = pool->remove_stale_nonces(key(1), 3);
  EXPECT_EQ(removed.size(), 3u);
  EXPECT_EQ(pool->size(), 1u);
  EXPECT_EQ(pool->by_sender(key(1)).front()->nonce(), 3u);
  EXPECT_TRUE(pool->remove_stale_nonces(key(1), 0).empty());
}

TEST_F(MempoolTest, SelectsBestPayingInNonceOrder) {
  TxRef a0 = make_tx(1, 0, 1000), a1 = make_tx(1, 1, 9000), b0 = make_tx(2, 0, 5000);
  TxRef c1 = make_tx(3, 1, 50000);  // gap: c0 is missing, so c1 cannot be mined
  TxRef d5 = make_tx(4, 5, 3000);   // d's next confirmed nonce is 5
  chain.set_next_nonce(key(4), 5);
  for (const TxRef& t : {a0, a1, b0, c1, d5})
    ASSERT_EQ(admit(t), AdmitCode::kAccepted);
  std::vector<TxRef> want{b0, d5, a0, a1};
  EXPECT_EQ(pool->select_for_block(1'000'000), want);
  // A budget for two: the two best heads.
  EXPECT_EQ(pool->select_for_block(2 * a0->size()), (std::vector<TxRef>{b0, d5}));
  EXPECT_TRUE(pool->select_for_block(a0->size() - 1).empty());
}

TEST_F(MempoolTest, SelectionSkipsWhatDoesNotFit) {
  TxRef big = make_tx(1, 0, 100000, 2000), small = make_tx(2, 0, 1000, 100);
  ASSERT_GT(big->fee_rate(), small->fee_rate());
  for (const TxRef& t : {big, small})
    ASSERT_EQ(admit(t), AdmitCode::kAccepted);
  EXPECT_EQ(pool->select_for_block(big->size() - 1), std::vector<TxRef>{small});
}

TEST_F(MempoolTest, NewestFirst) {
  TxRef a = make_tx(1, 0), b = make_tx(2, 0), c = make_tx(3, 0);
  ASSERT_EQ(admit(a, kT0), AdmitCode::kAccepted);
  ASSERT_EQ(admit(b, kT0 + 1s), AdmitCode::kAccepted);
  ASSERT_EQ(admit(c, kT0 + 2s), AdmitCode::kAccepted);
  EXPECT_EQ(pool->newest(2), (std::vector<TxRef>{c, b}));
  EXPECT_EQ(pool->newest(10).size(), 3u);
}

TEST_F(MempoolTest, BatchIsOneWriteAndSeesItself) {
  TxRef a0 = make_tx(1, 0), a1 = make_tx(1, 1), bad = make_tx(2, 0, 1000, 100, 0, 7);
  TxRef a1_better = make_tx(1, 1, 5000);
  uint64_t batches = store.batches();
  std::vector<Candidate> cs{{a0, true}, {a1, true}, {a0, true}, {bad, true}, {a1_better, true}};
  auto rs = pool->admit_batch(cs, kT0);
  pool->sanity_check();
  ASSERT_EQ(rs.size(), 5u);
  EXPECT_EQ(rs[0].code, AdmitCode::kAccepted);
  EXPECT_EQ(rs[1].code, AdmitCode::kAccepted);
  EXPECT_EQ(rs[2].code, AdmitCode::kDuplicate);
  EXPECT_EQ(rs[3].code, AdmitCode::kWrongNetwork);
  EXPECT_EQ(rs[4].code, AdmitCode::kAccepted);
  ASSERT_EQ(rs[4].removed.size(), 1u);
  EXPECT_EQ(rs[4].removed[0].tx, a1);
  EXPECT_EQ(store.batches(), batches + 1);
  EXPECT_EQ(store.size(), 2u);
  EXPECT_FALSE(store.contains(a1->id()));
}

TEST_F(MempoolTest, StoreFailureChangesNothing) {
  const size_t usage = Mempool::entry_usage(make_tx(1, 0)->size());
  opts.max_bytes = 2 * usage;
  reopen();
  TxRef a = make_tx(1, 0, 1000), b = make_tx(2, 0, 2000);
  ASSERT_EQ(admit(a), AdmitCode::kAccepted);
  ASSERT_EQ(admit(b), AdmitCode::kAccepted);
  failing.fail_next_writes(1);
  // Would replace a (kReplaced) and evict... and add c: all undone.
  std::vector<Candidate> cs{
      {make_tx(1, 0, 5000), true}, {make_tx(3, 0, 9000), true}, {make_tx(4, 0, 1), true}};
  auto rs = pool->admit_batch(cs, kT0);
  EXPECT_EQ(rs[0].code, AdmitCode::kStoreFailed);
  EXPECT_EQ(rs[1].code, AdmitCode::kStoreFailed);
  EXPECT_TRUE(rs[1].removed.empty());
  EXPECT_EQ(rs[2].code, AdmitCode::kFeeRateTooLow);  // refusals by rule stand
  pool->sanity_check();
  EXPECT_EQ(pool->size(), 2u);
  EXPECT_TRUE(pool->contains(a->id()));
  EXPECT_TRUE(pool->contains(b->id()));
  MempoolInfo i = pool->info(kT0);
  EXPECT_EQ(i.store_failures, 1u);
  EXPECT_EQ(i.admits[size_t(AdmitCode::kStoreFailed)], 2u);
  EXPECT_EQ(i.removals[size_t(RemovalReason::kEvicted)], 0u);
  // The next write works again.
  EXPECT_EQ(admit(make_tx(3, 0, 9000)), AdmitCode::kAccepted);
}

TEST_F(MempoolTest, ReloadKeepsWhatIsStillValid) {
  TxRef keep = make_tx(1, 0), confirmed = make_tx(2, 0), expiring = make_tx(3, 0, 1000, 100, 5);
  TxRef keep2 = make_tx(1, 1, 3000);
  for (const TxRef& t : {keep, confirmed, expiring, keep2})
    ASSERT_EQ(admit(t), AdmitCode::kAccepted);
  pool.reset();
  chain.set_next_nonce(key(2), 1);
  chain.set_height(5);
  reopen(kT0 + 1h);
  EXPECT_EQ(pool->size(), 2u);
  EXPECT_TRUE(pool->contains(keep->id()));
  EXPECT_TRUE(pool->contains(keep2->id()));
  EXPECT_EQ(store.size(), 2u);  // the dropped ones are deleted from the store
  const ReloadReport& r = pool->reload_report();
  EXPECT_EQ(r.stored, 4u);
  EXPECT_EQ(r.reloaded, 2u);
  EXPECT_EQ(r.dropped[size_t(AdmitCode::kNonceTooLow)], 1u);
  EXPECT_EQ(r.dropped[size_t(AdmitCode::kExpired)], 1u);
  // Admission times survive: the oldest entry is an hour old.
  EXPECT_EQ(pool->info(kT0 + 1h).oldest_age, 1h);
}

TEST_F(MempoolTest, ReloadDropsAgedAndEnforcesNewLimits) {
  opts.expiry = 2h;
  reopen();
  TxRef old_tx = make_tx(1, 0, 1000);
  ASSERT_EQ(admit(old_tx, kT0), AdmitCode::kAccepted);
  for (uint8_t k = 2; k <= 4; ++k)
    ASSERT_EQ(admit(make_tx(k, 0, 1000 * k), kT0 + 2h), AdmitCode::kAccepted);
  pool.reset();
  opts.max_bytes = 2 * Mempool::entry_usage(old_tx->size());
  reopen(kT0 + 2h);
  EXPECT_EQ(pool->reload_report().aged, 1u);
  EXPECT_EQ(pool->size(), 2u);
  EXPECT_FALSE(pool->contains(make_tx(2, 0, 2000)->id()));  // the cheapest was evicted
  EXPECT_EQ(store.size(), 2u);
}

TEST_F(MempoolTest, ReloadDoesNotVerifySignatures) {
  TxRef good = make_tx(1, 0);
  std::vector<uint8_t> bytes(good->encoding().begin(), good->encoding().end());
  bytes.back() ^= 1;
  TxRef forged = *Transaction::decode(std::move(bytes));
  StoreOp put{StoreOp::Kind::kPut, forged, kT0};
  ASSERT_TRUE(store.apply(std::span(&put, 1)).ok());
  reopen();
  EXPECT_TRUE(pool->contains(forged->id()));
}

}  // namespace
}  // namespace hearsay
