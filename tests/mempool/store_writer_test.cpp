// Pipelined writes: the StoreWriter thread (mempool/store_writer.h) group-commits what queued
// while it wrote, refuses everything after a refused write until resume(), and writes what is
// queued when it stops; a pipelined Mempool answers at once, says when each batch is durable,
// and undoes every unwritten admission when a write is refused. The store's gate
// (testing/gated_store.h) holds the writer inside a write, so each test decides what queues.
#include "mempool/store_writer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

#include "mempool/mempool.h"
#include "testing/gated_store.h"
#include "testing/mempool_fakes.h"
#include "testing/test_util.h"

namespace hearsay {
namespace {

using test::make_tx;

constexpr Time kT0 = Time(1'700'000'000LL * 1'000'000);

std::vector<StoreOp> put(const TxRef& tx) {
  return {StoreOp{StoreOp::Kind::kPut, tx, kT0}};
}

TEST(StoreWriter, GroupsWhatQueuedWhileItWroteInOneWrite) {
  MemoryStore store;
  test::GatedStore gate(store);
  std::atomic<int> notified{0};
  StoreWriter w(gate, [&] { ++notified; });
  gate.shut();
  const uint64_t t1 = w.submit(put(make_tx(1, 0)));
  ASSERT_TRUE(gate.wait_entered(1));
  // The writer is inside the first write: these three queue behind it.
  w.submit(put(make_tx(2, 0)));
  w.submit(put(make_tx(3, 0)));
  const uint64_t t4 = w.submit(put(make_tx(4, 0)));
  EXPECT_EQ(w.stats().queued, 3u);
  gate.open();
  w.wait_settled(t4);
  EXPECT_EQ(gate.writes(), (std::vector<size_t>{1, 3})) << "one write for the three queued";
  EXPECT_EQ(store.size(), 4u);
  std::vector<WriteReport> r = w.take_reports();
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r.back().upto, t4);
  EXPECT_TRUE(std::all_of(r.begin(), r.end(), [](const WriteReport& x) { return x.ok; }));
  EXPECT_GE(r.front().upto, t1);
  EXPECT_GE(notified.load(), 1);
  const StoreWriterStats s = w.stats();
  EXPECT_EQ(s.batches, 4u);
  EXPECT_EQ(s.writes, 2u);
  EXPECT_EQ(s.largest_group, 3u);
  EXPECT_EQ(s.queued, 0u);
}

TEST(StoreWriter, ARefusalRefusesEverythingQueuedUntilResume) {
  MemoryStore store;
  test::GatedStore gate(store);
  StoreWriter w(gate, nullptr);
  gate.shut();
  gate.fail_next_writes(1);
  const TxRef a = make_tx(1, 0), b = make_tx(2, 0), c = make_tx(3, 0);
  w.submit(put(a));
  ASSERT_TRUE(gate.wait_entered(1));
  const uint64_t tb = w.submit(put(b));  // built on a: must not reach the store without it
  gate.open();
  w.wait_settled(tb);
  EXPECT_EQ(gate.writes().size(), 1u) << "b was refused without being tried";
  w.resume();
  const uint64_t tc = w.submit(put(c));
  w.wait_settled(tc);
  std::vector<WriteReport> r = w.take_reports();
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r.back().upto, tc);
  EXPECT_TRUE(r.back().ok);
  for (size_t i = 0; i + 1 < r.size(); ++i)
    EXPECT_FALSE(r[i].ok) << "report " << i;
  EXPECT_FALSE(store.contains(a->id()));
  EXPECT_FALSE(store.contains(b->id()));
  EXPECT_TRUE(store.contains(c->id()));
}

TEST(StoreWriter, StoppingWritesWhatIsQueued) {
  MemoryStore store;
  test::GatedStore gate(store);
  {
    StoreWriter w(gate, nullptr);
    gate.shut();
    w.submit(put(make_tx(1, 0)));
    ASSERT_TRUE(gate.wait_entered(1));
    w.submit(put(make_tx(2, 0)));
    gate.open();
  }
  EXPECT_EQ(store.size(), 2u);
}

class PipelinedMempool : public ::testing::Test {
 protected:
  PipelinedMempool() {
    opts.network = test::kTestNetwork;
    opts.min_fee_rate = 100;
    reopen();
  }
  void reopen() {
    pool.reset();
    auto m = Mempool::open(opts, chain, std::make_unique<StoreRef>(gate), kT0);
    ASSERT_TRUE(m.ok()) << m.error().message;
    pool = std::move(*m);
    // Every batch through the writer thread, so the gate decides what queues (small batches
    // written inline while it is idle have a test of their own).
    pool->pipeline_writes([this] { ++notified; }, /*inline_max_ops=*/0);
  }
  AdmitResult admit(const TxRef& tx) {
    Candidate c{tx, true};
    AdmitResult r = std::move(pool->admit_batch(std::span(&c, 1), kT0).front());
    pool->sanity_check();
    return r;
  }

  MempoolOptions opts;
  FakeChainView chain;
  MemoryStore store;
  test::GatedStore gate{store};
  std::atomic<int> notified{0};
  std::unique_ptr<Mempool> pool;
};

TEST_F(PipelinedMempool, AnswersAtOnceAndSaysWhenEachBatchIsWritten) {
  gate.shut();
  const TxRef a = make_tx(1, 0), b = make_tx(2, 0);
  const AdmitResult ra = admit(a);
  ASSERT_TRUE(ra.ok());
  ASSERT_TRUE(gate.wait_entered(1));
  const AdmitResult rb = admit(b);
  ASSERT_TRUE(rb.ok());
  EXPECT_GT(rb.ticket, ra.ticket);
  // Held at once, written only once the writer says so.
  EXPECT_TRUE(pool->contains(a->id()) && pool->contains(b->id()));
  EXPECT_LT(pool->take_write_progress().settled, ra.ticket);
  EXPECT_EQ(pool->info(kT0).store_queued, 1u);
  gate.open();
  pool->wait_written(rb.ticket);
  const WriteProgress p = pool->take_write_progress();
  EXPECT_GE(p.settled, rb.ticket);
  EXPECT_TRUE(p.undone.empty());
  EXPECT_TRUE(store.contains(a->id()) && store.contains(b->id()));
  EXPECT_GE(notified.load(), 1);
  const MempoolInfo i = pool->info(kT0);
  EXPECT_EQ(i.store_batches, 2u);
  EXPECT_EQ(i.store_writes, 2u);
  EXPECT_EQ(i.admits[size_t(AdmitCode::kAccepted)], 2u);
  // Refusals by rule are answered as before, and write nothing.
  EXPECT_EQ(admit(a).code, AdmitCode::kDuplicate);
  EXPECT_EQ(admit(a).ticket, 0u);
}

TEST_F(PipelinedMempool, ARefusedWriteUndoesEveryAdmissionNotYetWritten) {
  const TxRef c = make_tx(3, 0, 1000);
  const AdmitResult rc = admit(c);
  pool->wait_written(rc.ticket);
  ASSERT_TRUE(pool->take_write_progress().undone.empty());
  ASSERT_TRUE(store.contains(c->id()));

  gate.shut();
  gate.fail_next_writes(1);
  const TxRef a = make_tx(1, 0), c2 = make_tx(3, 0, 5000);
  const AdmitResult ra = admit(a);
  ASSERT_TRUE(gate.wait_entered(2));
  const AdmitResult rc2 = admit(c2);  // replaces c, in a batch queued behind a's
  ASSERT_TRUE(ra.ok() && rc2.ok());
  ASSERT_EQ(rc2.removed.size(), 1u);
  gate.open();
  pool->wait_written(rc2.ticket);
  WriteProgress p = pool->take_write_progress();
  EXPECT_GE(p.settled, rc2.ticket);
  std::sort(p.undone.begin(), p.undone.end());
  std::vector<TxId> want{a->id(), c2->id()};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(p.undone, want);
  pool->sanity_check();
  EXPECT_FALSE(pool->contains(a->id()));
  EXPECT_FALSE(pool->contains(c2->id()));
  // The replaced one stays removed from memory; the store still has it, and a reload decides.
  EXPECT_FALSE(pool->contains(c->id()));
  EXPECT_TRUE(store.contains(c->id()));
  EXPECT_FALSE(store.contains(c2->id()));
  MempoolInfo i = pool->info(kT0);
  EXPECT_EQ(i.admits[size_t(AdmitCode::kStoreFailed)], 2u);
  EXPECT_EQ(i.admits[size_t(AdmitCode::kAccepted)], 1u);
  EXPECT_EQ(i.store_failures, 2u);

  // The writer resumed: the next admission is written.
  const TxRef d = make_tx(4, 0);
  const AdmitResult rd = admit(d);
  pool->wait_written(rd.ticket);
  p = pool->take_write_progress();
  EXPECT_TRUE(p.undone.empty());
  EXPECT_GE(p.settled, rd.ticket);
  EXPECT_TRUE(store.contains(d->id()));

  // Memory and store agree on everything acknowledged; the reload brings c back.
  pool->stop_pipelining();
  reopen();
  EXPECT_TRUE(pool->contains(c->id()));
  EXPECT_TRUE(pool->contains(d->id()));
  EXPECT_FALSE(pool->contains(a->id()));
}

TEST_F(PipelinedMempool, SmallBatchesAreWrittenInlineOnlyWhileTheWriterIsIdle) {
  pool->stop_pipelining();
  pool->pipeline_writes(nullptr, /*inline_max_ops=*/2);
  // Idle writer, one put: written here, durable on return.
  const TxRef a = make_tx(1, 0);
  const AdmitResult ra = admit(a);
  ASSERT_TRUE(ra.ok());
  EXPECT_EQ(ra.ticket, 0u);
  EXPECT_TRUE(store.contains(a->id()));
  // Three puts: more than inline_max_ops, so the writer takes them.
  gate.shut();
  std::vector<Candidate> cs{{make_tx(2, 0), true}, {make_tx(3, 0), true}, {make_tx(4, 0), true}};
  const std::vector<AdmitResult> big = pool->admit_batch(cs, kT0);
  ASSERT_TRUE(big[2].ok());
  EXPECT_GT(big[2].ticket, 0u);
  ASSERT_TRUE(gate.wait_entered(2));
  // The writer is busy: a small batch now queues behind it instead of overtaking it.
  const TxRef e = make_tx(5, 0);
  const AdmitResult re = admit(e);
  EXPECT_GT(re.ticket, big[2].ticket);
  gate.open();
  pool->wait_written(re.ticket);
  EXPECT_TRUE(pool->take_write_progress().undone.empty());
  EXPECT_EQ(gate.writes(), (std::vector<size_t>{1, 3, 1}));
  const MempoolInfo i = pool->info(kT0);
  EXPECT_EQ(i.store_inline_writes, 1u);
  EXPECT_EQ(i.store_writes, 2u);
}

TEST_F(PipelinedMempool, NothingIsWrittenInlineWhileARefusalWaitsToBeSettled) {
  pool->stop_pipelining();
  pool->pipeline_writes(nullptr, /*inline_max_ops=*/2);
  gate.fail_next_writes(1);
  std::vector<Candidate> cs{{make_tx(1, 0), true}, {make_tx(2, 0), true}, {make_tx(3, 0), true}};
  const std::vector<AdmitResult> big = pool->admit_batch(cs, kT0);
  ASSERT_GT(big[0].ticket, 0u);
  pool->wait_written(big[0].ticket);  // refused; not yet settled by the mempool
  // One write would be small enough to go inline, but it might build on the refused batch.
  const TxRef d = make_tx(1, 1);
  const AdmitResult rd = admit(d);
  ASSERT_TRUE(rd.ok());
  EXPECT_GT(rd.ticket, big[0].ticket) << "queued behind the refusal";
  pool->wait_written(rd.ticket);
  const WriteProgress p = pool->take_write_progress();
  EXPECT_EQ(p.undone.size(), 4u);
  EXPECT_EQ(pool->size(), 0u);
  EXPECT_EQ(store.size(), 0u);
  pool->sanity_check();
  // Settled and resumed: small batches go inline again.
  const TxRef e = make_tx(4, 0);
  EXPECT_EQ(admit(e).ticket, 0u);
  EXPECT_TRUE(store.contains(e->id()));
}

TEST_F(PipelinedMempool, RemovalsKeepTheirOrderBehindTheAdmissions) {
  const TxRef a = make_tx(1, 0, 1000, 100, 1);  // valid in the next block only
  gate.shut();
  const AdmitResult ra = admit(a);
  ASSERT_TRUE(gate.wait_entered(1));
  chain.set_height(1);
  ASSERT_EQ(pool->expire(kT0).size(), 1u);  // its delete queues behind its put
  gate.open();
  pool->stop_pipelining();
  EXPECT_GE(ra.ticket, 1u);
  EXPECT_FALSE(store.contains(a->id()));
  EXPECT_EQ(store.size(), 0u);
}

}  // namespace
}  // namespace hearsay
