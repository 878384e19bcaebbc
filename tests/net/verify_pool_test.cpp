// VerifyPool: verdicts match each transaction whatever the chunking and the completion order,
// many workers share one batch, and stop() drops pending work without losing a thread.
#include "net/verify_pool.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>

#include "testing/net_util.h"

namespace hearsay::test {
namespace {

// Collects verdicts from any worker.
struct Verdicts {
  std::mutex mutex;
  std::map<TxId, uint8_t> by_id;
  size_t calls = 0;
  size_t delivered = 0;
  bool order_kept = true;  // every chunk's verdicts matched its own transactions

  VerifyPool::Done callback() {
    return [this](std::vector<TxRef> txs, std::vector<uint8_t> valid) {
      std::lock_guard lock(mutex);
      ++calls;
      if (txs.size() != valid.size()) order_kept = false;
      for (size_t i = 0; i < txs.size() && i < valid.size(); ++i) {
        by_id[txs[i]->id()] = valid[i];
        // Recompute: the verdict at i must be txs[i]'s own.
        if ((valid[i] != 0) != txs[i]->verify_signature()) order_kept = false;
      }
      delivered += txs.size();
    };
  }
  size_t count() {
    std::lock_guard lock(mutex);
    return delivered;
  }
};

// n transactions, every third one tampered; the set of ids expected valid.
std::vector<TxRef> mixed_batch(size_t n, uint8_t key, std::map<TxId, uint8_t>& expected) {
  std::vector<TxRef> txs;
  for (size_t i = 0; i < n; ++i) {
    TxRef tx = make_tx(key, i, 1000, 40);
    bool bad = i % 3 == 2;
    if (bad) tx = forged(tx);
    expected[tx->id()] = bad ? 0 : 1;
    txs.push_back(tx);
  }
  return txs;
}

TEST(VerifyPool, ValidAndInvalidVerdicts) {
  crypto_init();
  VerifyPool pool(2);
  EXPECT_EQ(pool.threads(), 2u);
  Verdicts v;
  TxRef good = make_tx(1, 1);
  TxRef bad = forged(make_tx(1, 2));
  ASSERT_TRUE(pool.submit({good, bad}, v.callback()));
  ASSERT_TRUE(wait_until([&] { return v.count() == 2; }));
  ASSERT_TRUE(wait_until([&] { return pool.idle(); }));
  std::lock_guard lock(v.mutex);
  EXPECT_EQ(v.by_id.at(good->id()), 1);
  EXPECT_EQ(v.by_id.at(bad->id()), 0);
  EXPECT_TRUE(v.order_kept);
  EXPECT_EQ(pool.verified(), 2u);
  EXPECT_EQ(pool.invalid(), 1u);
  pool.sanity_check();
}

TEST(VerifyPool, VerdictsFollowTheirTransactionsWhateverTheChunking) {
  crypto_init();
  // One worker (one chunk per batch up to kMaxVerifyChunk), two, and many: same verdicts.
  for (size_t threads : {size_t{1}, size_t{2}, size_t{7}}) {
    VerifyPool pool(threads);
    std::map<TxId, uint8_t> expected;
    Verdicts v;
    const size_t n = 3 * kMaxVerifyChunk + 5;  // several full chunks and a ragged one
    ASSERT_TRUE(pool.submit(mixed_batch(n, 3, expected), v.callback()));
    ASSERT_TRUE(wait_until([&] { return v.count() == n; }, std::chrono::seconds(60)))
        << threads << " threads";
    ASSERT_TRUE(wait_until([&] { return pool.idle(); }));
    std::lock_guard lock(v.mutex);
    EXPECT_EQ(v.by_id, expected) << threads << " threads";
    EXPECT_TRUE(v.order_kept);
    EXPECT_GE(v.calls, (n + kMaxVerifyChunk - 1) / kMaxVerifyChunk);
    EXPECT_EQ(pool.verified(), n);
    EXPECT_EQ(pool.chunks(), v.calls);
    pool.sanity_check();
  }
}

TEST(VerifyPool, ManyThreadsManySubmitters) {
  crypto_init();
  VerifyPool pool(16);
  EXPECT_EQ(pool.threads(), 16u);
  constexpr size_t kSubmitters = 4, kBatches = 10, kPerBatch = 9;
  std::vector<std::vector<TxRef>> batches;
  std::map<TxId, uint8_t> expected;
  for (size_t s = 0; s < kSubmitters * kBatches; ++s) {
    std::vector<TxRef> b;
    for (size_t i = 0; i < kPerBatch; ++i) {
      TxRef tx = make_tx(uint8_t(10 + s % 8), s * 100 + i, 1000, 20);
      if ((s + i) % 4 == 0) tx = forged(tx);
      expected[tx->id()] = (s + i) % 4 == 0 ? 0 : 1;
      b.push_back(tx);
    }
    batches.push_back(std::move(b));
  }
  Verdicts v;
  std::vector<std::thread> submitters;
  for (size_t s = 0; s < kSubmitters; ++s)
    submitters.emplace_back([&, s] {
      for (size_t b = 0; b < kBatches; ++b)
        EXPECT_TRUE(pool.submit(batches[s * kBatches + b], v.callback()));
    });
  for (auto& t : submitters)
    t.join();
  const size_t total = kSubmitters * kBatches * kPerBatch;
  ASSERT_TRUE(wait_until([&] { return v.count() == total; }, std::chrono::seconds(60)));
  ASSERT_TRUE(wait_until([&] { return pool.idle(); }));
  std::lock_guard lock(v.mutex);
  EXPECT_EQ(v.by_id, expected);
  EXPECT_TRUE(v.order_kept);
  EXPECT_EQ(pool.depth(), 0u);
  pool.sanity_check();
}

TEST(VerifyPool, StopDropsPendingWorkAndRefusesMore) {
  crypto_init();
  Verdicts v;
  auto inner = v.callback();
  // The first chunk's callback waits at a gate, so stop() finds every other chunk queued.
  std::mutex gate_mutex;
  std::condition_variable gate_cv;
  bool entered = false, open = false;
  VerifyPool::Done gated = [&](std::vector<TxRef> txs, std::vector<uint8_t> valid) {
    {
      std::unique_lock lock(gate_mutex);
      entered = true;
      gate_cv.notify_all();
      gate_cv.wait(lock, [&] { return open; });
    }
    inner(std::move(txs), std::move(valid));
  };
  auto pool = std::make_unique<VerifyPool>(1);
  std::map<TxId, uint8_t> expected;
  const size_t n = 4 * kMaxVerifyChunk;  // one worker: four full chunks
  ASSERT_TRUE(pool->submit(mixed_batch(n, 5, expected), gated));
  {
    std::unique_lock lock(gate_mutex);
    ASSERT_TRUE(gate_cv.wait_for(lock, std::chrono::seconds(30), [&] { return entered; }));
  }
  std::thread stopper([&] { pool->stop(); });
  // stop() dropped the three queued chunks; the one in its callback is still counted.
  EXPECT_TRUE(wait_until([&] { return pool->depth() == kMaxVerifyChunk; }));
  EXPECT_FALSE(pool->submit({make_tx(1, 1)}, v.callback()));
  {
    std::lock_guard lock(gate_mutex);
    open = true;
  }
  gate_cv.notify_all();
  stopper.join();
  EXPECT_EQ(v.count(), kMaxVerifyChunk);  // the chunk in progress was delivered, whole
  EXPECT_EQ(pool->depth(), 0u);
  EXPECT_EQ(pool->verified(), kMaxVerifyChunk);
  pool->stop();  // idempotent
  pool->sanity_check();
  pool.reset();  // the destructor after stop() joins nothing twice
  std::lock_guard lock(v.mutex);
  EXPECT_TRUE(v.order_kept);
  for (const auto& [id, verdict] : v.by_id)
    EXPECT_EQ(verdict, expected.at(id));
}

TEST(VerifyPool, DestructorStopsWithWorkQueued) {
  crypto_init();
  Verdicts v;
  std::map<TxId, uint8_t> expected;
  {
    VerifyPool pool(2);
    ASSERT_TRUE(pool.submit(mixed_batch(10 * kMaxVerifyChunk, 6, expected), v.callback()));
  }
  std::lock_guard lock(v.mutex);
  EXPECT_TRUE(v.order_kept);
}

TEST(VerifyPool, ZeroThreadsMeansOnePerCore) {
  EXPECT_EQ(VerifyPool::resolve_threads(0),
            std::max<size_t>(1, std::thread::hardware_concurrency()));
  EXPECT_EQ(VerifyPool::resolve_threads(3), 3u);
  EXPECT_EQ(VerifyPool::resolve_threads(100'000), kMaxVerifyThreads);
  VerifyPool pool(0);
  EXPECT_EQ(pool.threads(), VerifyPool::resolve_threads(0));
  Verdicts v;
  EXPECT_TRUE(pool.submit({}, v.callback()));  // empty batch: nothing to do
  EXPECT_EQ(pool.depth(), 0u);
}

}  // namespace
}  // namespace hearsay::test
